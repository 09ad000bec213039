"""Is a counter-hash dropout cheaper than ATen's Philox dropout inside a compiled LoRA branch? Times forward + backward of the
LoRA A products of a layer, `dropout_i(x) @ A_i.T` (q/k/v/gate/up share x [8192, 4096]; down has its own x [8192, 11008]),
r=64, bf16, p=0.1, compiled with ATen's random ops (`fallback_random`, as `compile_layers` does), for three dropouts:
none (p=0, the floor), ATen's, and a mask from an integer hash of (seed, row, column) computed in int64.
Measured (H100): 0.986 ms none, 1.510 ms ATen, 1.373 ms hash per layer: the hash saves ~9 ms a step, as it still writes the dropped copies.
Usage: python3 scripts/device/hash_dropout_bench.py"""
import sys, torch, torch.nn.functional as F
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from gputime import gpu_and_wall_ms

M32 = 0xFFFFFFFF
def mix(h):
    "A 32-bit integer finaliser (xor-shift-multiply) in int64; multipliers below 2**31 so products stay below 2**63"
    h = h ^ (h >> 16); h = (h * 0x21F0AAAD) & M32
    h = h ^ (h >> 15); h = (h * 0x735A2D97) & M32
    return h ^ (h >> 15)

def hash_dropout(x, p):
    seed = torch.randint(0, 2**31, (), device=x.device)
    K = x.shape[-1]
    r = torch.arange(x.numel() // K, device=x.device).view(*x.shape[:-1], 1)
    c = torch.arange(K, device=x.device)
    keep = mix(mix(mix(seed) ^ r) ^ c) >= int(p * 2**32)
    return torch.where(keep, x * (1/(1-p)), 0.)

DROPS = {'none': lambda x, p: x, 'aten': lambda x, p: F.dropout(x, p, True), 'hash64': hash_dropout}

def branch(drop, xs, As, gs, p=0.1):
    "Sum of <dropout(x) @ A.T, g> over the projections (q/k/v/gate/up read xs[0], down reads xs[1])"
    return sum(((drop(xs[0 if i < 5 else 1], p) @ A.T) * g).sum() for i, (A, g) in enumerate(zip(As, gs)))


torch.manual_seed(0)
dev, dt, M, r = 'cuda', torch.bfloat16, 8192, 64
xs = [torch.randn(M, 4096, device=dev, dtype=dt, requires_grad=True), torch.randn(M, 11008, device=dev, dtype=dt, requires_grad=True)]
As = [torch.randn(r, 4096 if i < 5 else 11008, device=dev, dtype=dt, requires_grad=True) for i in range(6)]
gs = [torch.randn(M, r, device=dev, dtype=dt) for _ in range(6)]
res = {}
for name, drop in DROPS.items():
    f = torch.compile(lambda: branch(drop, xs, As, gs), options={'fallback_random': True})
    def step():
        for t in xs + As: t.grad = None
        f().backward()
    res[name] = gpu_and_wall_ms(step)[0]
print('fwd+bwd of 6 LoRA-A products per layer, ms:', ' '.join(f"{k} {v:.3f}" for k, v in res.items()))
print(f"32 layers, one forward and backward each (training also recomputes the forward): aten {32*(res['aten']-res['none']):.1f} ms over none, "
      f"hash64 {32*(res['hash64']-res['none']):.1f} ms over none")
x = xs[0].detach()
y = torch.compile(hash_dropout)(x, 0.1)
keep = (y != 0)
print(f"hash keep rate {keep.float().mean().item():.5f} (want 0.9), row-neighbour agreement "
      f"{(keep[1:] == keep[:-1]).float().mean().item():.5f}, column-neighbour {(keep[:, 1:] == keep[:, :-1]).float().mean().item():.5f} (want 0.82)")
