"""The fused LoRA dropout (`--lora_dropout_kernel fused`, speed notebook) on a GPU: its Triton kernels against
`dropout_keep`'s mask (exact in float32 with an identity weight), and the GPU time of one LoRA-A product with dropout,
forward and backward, fused against `nn.Dropout` + `nn.Linear` (both compiled as `compile_layers` compiles, bf16, p=0.1),
at the 7B shapes: x [8192, 4096] and [8192, 11008], r=64. Exits 1 if a check fails.
Usage: python3 scripts/device/fused_dropout_check.py"""
import sys, torch, torch.nn as nn
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from gputime import gpu_and_wall_ms
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
print('ok' if ok else 'FAILED')
sys.exit(0 if ok else 1)
