"""How fast is LoRA dropout? Times one dropout (output and keep mask) of a [tokens, features] bf16 activation, p=0.1, on the GPU:
eager ATen, inductor's lowering (one Philox call per element), inductor with fallback_random (ATen's kernel), and a Triton kernel
that draws four 32-bit randoms per Philox call (tl.randint4x). Usage: python3 scripts/device/dropout_bench.py"""
import torch, torch.nn.functional as F, triton, triton.language as tl, statistics
import torch._inductor.config as icfg

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
