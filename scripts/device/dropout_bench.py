"""LoRA dropout micro-benchmarks on one GPU, behind numbers of the speed chapter (nbs/16_speed.ipynb). Parts:

  aten   How fast is one dropout? One bf16 dropout (output and keep mask) of a [tokens, features] activation, p=0.1:
         eager ATen, inductor's lowering (one Philox call per element), inductor with fallback_random (ATen's kernel),
         and a Triton kernel that draws four 32-bit randoms per Philox call (tl.randint4x); median of 30.
  hash   Is a counter-hash dropout cheaper than ATen's Philox dropout inside a compiled LoRA branch? Forward + backward
         of the LoRA A products of a layer, `dropout_i(x) @ A_i.T` (q/k/v/gate/up share x [8192, 4096]; down has its
         own x [8192, 11008]), r=64, bf16, p=0.1, compiled with ATen's random ops (`fallback_random`, as
         `compile_layers` does), for three dropouts: none (p=0, the floor), ATen's, and a mask from an integer hash of
         (seed, row, column) in int64. Measured (H100): 0.986 ms none, 1.510 ms ATen, 1.373 ms hash per layer: the
         hash saves ~9 ms a step, as it still writes the dropped copies.
  fused  The fused LoRA dropout (`--lora_dropout_kernel fused`): its Triton kernels against `dropout_keep`'s mask
         (exact in float32 with an identity weight), and the GPU time of one LoRA-A product with dropout, forward and
         backward, fused against `nn.Dropout` + `nn.Linear` (both compiled as `compile_layers` compiles, bf16, p=0.1),
         at the 7B shapes: x [8192, 4096] and [8192, 11008], r=64. Exits 1 if a check fails.

Usage (repo root, on a GPU machine): python3 scripts/device/dropout_bench.py [aten] [hash] [fused]   (default: all)
(It folds the former dropout_bench.py, hash_dropout_bench.py, fused_dropout_check.py and gputime.py.)"""
import sys, time, statistics, torch, torch.nn as nn, torch.nn.functional as F
import triton, triton.language as tl
import torch._inductor.config as icfg

def gpu_and_wall_ms(f, reps=20):
    "Kernels' GPU time per call, and wall time per call when calls run back to back (CPU launch overhead shows here)"
    for _ in range(3): f()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(reps): f()
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps): f()
    torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()) / reps / 1e3, (time.perf_counter() - t0) / reps * 1e3

# ---- aten: one dropout, four ways

@triton.jit
def _drop4(x_ptr, y_ptr, keep_ptr, n, p, scale, seed, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    r0, r1, r2, r3 = tl.randint4x(seed, pid*(BLOCK//4) + tl.arange(0, BLOCK//4))
    r = tl.reshape(tl.join(tl.join(r0, r1), tl.join(r2, r3)), (BLOCK,))
    offs = pid*BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    keep = tl.uint_to_uniform_float(r) >= p
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(y_ptr + offs, tl.where(keep, x.to(tl.float32)*scale, 0.).to(x.dtype), mask=m)
    tl.store(keep_ptr + offs, keep.to(tl.int8), mask=m)

def drop4(x, p, seed=1234, BLOCK=4096):
    y, keep = torch.empty_like(x), torch.empty(x.shape, dtype=torch.int8, device=x.device)
    n = x.numel()
    _drop4[(triton.cdiv(n, BLOCK),)](x, y, keep, n, p, 1/(1-p), seed, BLOCK=BLOCK)
    return y, keep

def eager(x): return torch.native_dropout(x, 0.1, True)
def timeit(f, x, reps=30):
    for _ in range(3): f(x)
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); f(x); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return statistics.median(ts)

def part_aten():
    comp = torch.compile(lambda x: torch.native_dropout(x, 0.1, True))
    for shape in ((8192, 4096), (8192, 11008)):
        x = torch.randn(shape, device='cuda', dtype=torch.bfloat16)
        gb = x.numel()*(2+2+1)/1e9
        res = {'eager ATen': timeit(eager, x), 'inductor': timeit(comp, x), 'triton randint4x': timeit(lambda x: drop4(x, 0.1), x)}
        icfg.fallback_random = True; torch._dynamo.reset()
        _fb = torch.compile(lambda x: torch.native_dropout(x, 0.1, True))
        res['inductor fallback_random'] = timeit(_fb, x)
        icfg.fallback_random = False; torch._dynamo.reset(); comp = torch.compile(lambda x: torch.native_dropout(x, 0.1, True))
        y, k = drop4(x, 0.1)
        keep_rate = k.float().mean().item()
        ok = torch.equal(y, torch.where(k.bool(), (x.float()*(1/0.9)).to(x.dtype), torch.zeros_like(x)))
        print(shape, ' '.join(f"{n}: {t*1e3:.0f} us ({gb/t*1e3:.0f} GB/s)" for n, t in res.items()), f"| triton keep rate {keep_rate:.5f}, values ok {ok}")
    return True

# ---- hash: a counter-hash dropout in a compiled LoRA branch

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

def part_hash():
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
    return True

# ---- fused: the fused LoRA dropout's kernels, checked and timed

def part_fused():
    from fsdp_qlora.speed import dropout_linear, dropout_linear_backward, dropout_keep, DropoutLinear
    ok = True
    for M, K in ((100, 48), (1000, 77), (8192, 4096)):
        x = torch.randn(M, K, device='cuda'); s = torch.tensor([31337], device='cuda')
        keep = dropout_keep(s, M, K, 0.25).float() / 0.75
        I = torch.eye(K, device='cuda')[:64] if K > 64 else torch.eye(K, device='cuda')
        fwd_ok = torch.equal(dropout_linear(x, I, s, 0.25), (x * keep)[:, :I.shape[0]])
        gx, _ = dropout_linear_backward(x[:, :I.shape[0]].contiguous(), x, I, s, 0.25)
        want_gx = torch.zeros_like(x); want_gx[:, :I.shape[0]] = x[:, :I.shape[0]]
        bwd_ok = torch.equal(gx, want_gx * keep)
        print(f"float32 identity {M}x{K}: forward exact {fwd_ok}, input gradient exact {bwd_ok}")
        ok &= fwd_ok and bwd_ok
    for M, K, N in ((8192, 4096, 64), (8192, 11008, 64), (300, 4096, 8)):
        x = torch.randn(M, K, device='cuda', dtype=torch.bfloat16); w = torch.randn(N, K, device='cuda', dtype=torch.bfloat16) / K**0.5
        g = torch.randn(M, N, device='cuda', dtype=torch.bfloat16); s = torch.tensor([4242], device='cuda')
        keep = dropout_keep(s, M, K, 0.1).double() / 0.9
        xm = x.double() * keep
        out = dropout_linear(x, w, s, 0.1); gx, gw = dropout_linear_backward(g, x, w, s, 0.1)
        errs = [((got.double() - want).abs().max() / want.abs().max()).item()
                for got, want in ((out, xm @ w.double().t()), (gx, (g.double() @ w.double()) * keep), (gw, g.double().t() @ xm))]
        print(f"bf16 {M}x{K} r{N}: relative errors forward {errs[0]:.2e}, input grad {errs[1]:.2e}, weight grad {errs[2]:.2e}")
        ok &= max(errs) < 1e-2
    for K in (4096, 11008):
        x = torch.randn(8192, K, device='cuda', dtype=torch.bfloat16, requires_grad=True)
        g = torch.randn(8192, 64, device='cuda', dtype=torch.bfloat16)
        res = {}
        for name, mod in (('nn.Dropout + nn.Linear', nn.Sequential(nn.Dropout(0.1), nn.Linear(K, 64, bias=False))),
                          ('DropoutLinear', DropoutLinear(K, 64, 0.1)), ('nn.Linear, no dropout', nn.Linear(K, 64, bias=False))):
            mod = mod.cuda().bfloat16().train()
            f = torch.compile(mod, options={'fallback_random': True})
            def step():
                x.grad = None; mod.zero_grad(set_to_none=True)
                f(x).backward(g)
            res[name] = gpu_and_wall_ms(step)
        print(f"x [8192, {K}], r=64, forward + backward, compiled (GPU time / wall time per call): " +
              ', '.join(f"{k} {a*1e3:.0f} / {b*1e3:.0f} us" for k, (a, b) in res.items()))
    print('fused: ok' if ok else 'fused: FAILED')
    return ok

PARTS = {'aten': part_aten, 'hash': part_hash, 'fused': part_fused}

if __name__ == '__main__':
    names = sys.argv[1:] or list(PARTS)
    bad = [n for n in names if n not in PARTS]
    if bad: sys.exit(f"unknown part(s) {bad}: choose from {list(PARTS)}")
    results = [PARTS[n]() for n in names]
    sys.exit(0 if all(results) else 1)
