"""SDPA's kernels on one GPU (issue 23, the speed notebook's `--sdpa_backend`): forward + backward time of one causal attention
call per `SDPA_BACKENDS` row at the benchmark's shapes (transformers' layout: q, k, v made as (batch, seq, heads, dim) and
transposed), which ATen kernel each row ran, and each row's error against float32 plain ops at a 4k context.
Run from the repo root on a GPU: `python3 scripts/device/sdpa_check.py [OUT.jsonl]` (default $OUT/sdpa.jsonl); prints one line a row."""
import json, os, sys, statistics
import torch, torch.nn.functional as F
from fsdp_qlora.speed import SDPA_BACKENDS, sdpa_kernels

# name: (batch, query heads, key-value heads, context, head size)
SHAPES = dict(llama2_2k=(4, 32, 32, 2048, 128), llama3_2k=(4, 32, 8, 2048, 128), llama2_16k=(1, 32, 32, 16384, 128),
              llama3_16k=(1, 32, 8, 16384, 128), llama2_32k=(1, 32, 32, 32768, 128))

def inputs(b, hq, hkv, s, d, dtype=torch.bfloat16, seed=0):
    "Leaf q, k, v as transformers makes them (batch, seq, heads, dim), and a gradient for the output"
    g = torch.Generator(device='cuda').manual_seed(seed)
    mk = lambda h: torch.randn(b, s, h, d, device='cuda', dtype=dtype, generator=g).requires_grad_()
    return mk(hq), mk(hkv), mk(hkv), torch.randn(b, hq, s, d, device='cuda', dtype=dtype, generator=g)

def step(q, k, v, go):
    "One causal SDPA call forward and backward; GQA as transformers calls it (enable_gqa when heads differ)"
    kw = dict(enable_gqa=True) if q.shape[2] != k.shape[2] else {}
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, **kw)
    o.backward(go)
    return o

def timed(name, args, reps=10, warm=3):
    "Median ms of forward, and of forward + backward, under the row `name`; the ATen ops it ran"
    ev = lambda: torch.cuda.Event(enable_timing=True)
    with sdpa_kernels(name):
        for _ in range(warm): step(*args)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof: step(*args)
        ops = sorted({e.name for e in prof.events() if e.name.startswith('aten::_scaled_dot_product') or e.name.startswith('aten::_efficient') or e.name.startswith('aten::_flash')})
        fwd, both = [], []
        q, k, v, go = args
        for _ in range(reps):
            a, b, c = ev(), ev(), ev()
            a.record()
            kw = dict(enable_gqa=True) if q.shape[2] != k.shape[2] else {}
            o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, **kw)
            b.record(); o.backward(go); c.record(); torch.cuda.synchronize()
            fwd.append(a.elapsed_time(b)); both.append(a.elapsed_time(c))
    return statistics.median(fwd), statistics.median(both), ops

def errors(shape, rows):
    "Max abs error of the output and the three gradients per row against float32 plain ops, and the reference's max"
    q, k, v, go = inputs(*shape)
    def run(name, t):
        t = [x.detach().to(t).requires_grad_() for x in (q, k, v)]
        with sdpa_kernels(name): o = step(*t, go.to(t[0].dtype))
        return [o.float(), *(x.grad.float() for x in t)]
    want = run('math', torch.float32)
    got = {r: run(r, torch.bfloat16) for r in rows}
    return {r: [round((a - w).abs().max().item(), 5) for a, w in zip(g, want)] for r, g in got.items()}, [round(w.abs().max().item(), 3) for w in want]

if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get('OUT', '.'), 'sdpa.jsonl')
    print(torch.cuda.get_device_name(), 'torch', torch.__version__, 'cudnn', torch.backends.cudnn.version(), flush=True)
    rows = [r for r in SDPA_BACKENDS if r != 'math']
    with open(out, 'w') as f:
        for name, shape in SHAPES.items():
            args = inputs(*shape)
            for r in rows:
                try: fwd, both, ops = timed(r, args); rec = dict(shape=name, row=r, fwd_ms=round(fwd, 3), fwd_bwd_ms=round(both, 3), ops=ops)
                except Exception as e: rec = dict(shape=name, row=r, error=f'{type(e).__name__}: {str(e)[:200]}')
                print(json.dumps(rec), flush=True); f.write(json.dumps(rec) + '\n')
            del args; torch.cuda.empty_cache()
        for name, shape in (('llama2_4k', (1, 32, 32, 4096, 128)), ('llama3_4k', (1, 32, 8, 4096, 128))):
            err, ref = errors(shape, rows)
            rec = dict(shape=name, errors=err, ref_max=ref); print(json.dumps(rec), flush=True); f.write(json.dumps(rec) + '\n')
