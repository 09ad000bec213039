"""Which attention kernel PyTorch's SDPA runs on this GPU, and how fast each would be (issue 23; the speed notebook's
*Attention: cuDNN's kernel already*). One causal attention call forward + backward at the benchmark's shapes, in
transformers' layout (q, k, v made as (batch, seq, heads, dim) and transposed; GQA through `enable_gqa`, as transformers
calls it): with PyTorch's own choice (the ATen ops it ran, from a profile) and with each fused kernel forced alone
(cuDNN, FlashAttention-2, memory-efficient), median ms; and at 4k the errors of the default and of flash against float32
plain ops. Run on a GPU from the repo root: `python3 scripts/device/sdpa_check.py [OUT.jsonl]` (default $OUT/sdpa.jsonl)."""
import json, os, sys, statistics
import torch, torch.nn.functional as F
from contextlib import nullcontext
from torch.nn.attention import sdpa_kernel, SDPBackend as B

# name: (batch, query heads, key-value heads, context, head size)
SHAPES = dict(llama2_2k=(4, 32, 32, 2048, 128), llama3_2k=(4, 32, 8, 2048, 128), llama2_16k=(1, 32, 32, 16384, 128),
              llama3_16k=(1, 32, 8, 16384, 128), llama2_32k=(1, 32, 32, 32768, 128))
ROWS = dict(default=None, cudnn=B.CUDNN_ATTENTION, flash=B.FLASH_ATTENTION, efficient=B.EFFICIENT_ATTENTION)

def ctx(row): return nullcontext() if ROWS[row] is None else sdpa_kernel([ROWS[row]])

def inputs(b, hq, hkv, s, d, dtype=torch.bfloat16, seed=0):
    "Leaf q, k, v as transformers makes them (batch, seq, heads, dim), and a gradient for the output"
    g = torch.Generator(device='cuda').manual_seed(seed)
    mk = lambda h: torch.randn(b, s, h, d, device='cuda', dtype=dtype, generator=g).requires_grad_()
    return mk(hq), mk(hkv), mk(hkv), torch.randn(b, hq, s, d, device='cuda', dtype=dtype, generator=g)

def forward(q, k, v):
    kw = dict(enable_gqa=True) if q.shape[2] != k.shape[2] else {}
    return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, **kw)

def timed(row, args, reps=10, warm=3):
    "Median ms of the forward and of forward + backward under `row`, and the ATen attention ops it ran"
    q, k, v, go = args
    ev = lambda: torch.cuda.Event(enable_timing=True)
    with ctx(row):
        for _ in range(warm): forward(q, k, v).backward(go)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof: forward(q, k, v).backward(go)
        ops = sorted({e.name for e in prof.events() if e.name.startswith(('aten::_scaled_dot_product', 'aten::_efficient', 'aten::_flash'))})
        fwd, both = [], []
        for _ in range(reps):
            a, b, c = ev(), ev(), ev()
            a.record(); o = forward(q, k, v); b.record(); o.backward(go); c.record(); torch.cuda.synchronize()
            fwd.append(a.elapsed_time(b)); both.append(a.elapsed_time(c))
    return statistics.median(fwd), statistics.median(both), ops

def errors(shape, rows=('default', 'flash')):
    "Max abs error of the output and the three input gradients per row against float32 plain ops, and the reference's largest values"
    q, k, v, go = inputs(*shape)
    def run(row, dtype):
        t = [x.detach().to(dtype).requires_grad_() for x in (q, k, v)]
        with (sdpa_kernel([B.MATH]) if row == 'math' else ctx(row)): o = forward(*t); o.backward(go.to(dtype))
        return [o.float(), *(x.grad.float() for x in t)]
    want = run('math', torch.float32)
    return {r: [round((a - w).abs().max().item(), 5) for a, w in zip(run(r, torch.bfloat16), want)] for r in rows}, [round(w.abs().max().item(), 3) for w in want]

if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get('OUT', '.'), 'sdpa.jsonl')
    print(torch.cuda.get_device_name(), 'torch', torch.__version__, 'cudnn', torch.backends.cudnn.version(), flush=True)
    with open(out, 'w') as f:
        def emit(rec): print(json.dumps(rec), flush=True); f.write(json.dumps(rec) + '\n')
        for name, shape in SHAPES.items():
            args = inputs(*shape)
            for row in ROWS:
                try: fwd, both, ops = timed(row, args); emit(dict(shape=name, row=row, fwd_ms=round(fwd, 3), fwd_bwd_ms=round(both, 3), ops=ops))
                except RuntimeError as e: emit(dict(shape=name, row=row, error=str(e).splitlines()[0][:200]))
            del args; torch.cuda.empty_cache()
        for name, shape in (('llama2_4k', (1, 32, 32, 4096, 128)), ('llama3_4k', (1, 32, 8, 4096, 128))):
            err, ref = errors(shape); emit(dict(shape=name, errors=err, ref_max=ref))
