"""Checks and timings of the `--base_matmul` rows (speed notebook) on one GPU, and the FP8 loss-curve verdict.

Usage (repo root): python3 scripts/device/fp8_check.py breaks|gemm|kernels|curves [args]
  breaks            graph breaks of a LoRA(QuantLinear) and of a tiny Llama (torch._dynamo.explain), and of the tiny Llama under compile_layers
                    (dynamo's counters, two steps), per row; prints one JSON line per case (works on the CPU too, in float32)
  gemm [M]          one QuantLinear's forward + backward (input gradient) at the Llama-2-7B projection shapes, M rows (default 8192),
                    per row (GEMM_ROWS; 'fp8/dequant': the FP8 row with its weight dequantized first), eager and compiled (GEMM_HOW), shapes GEMM_SHAPES,
                    and on a GPU the bare bf16 and FP8 GEMMs of the same products: median ms of 10 after 3 warm-up calls; one JSON line per case
  kernels [M]       per row (GEMM_ROWS): the three projection layers compiled once and run in turn, as a model's layers are (no dynamo reset
                    between shapes: what a per-shape timing cannot see, e.g. a graph break at the second shape), median ms per layer, then one
                    profiled round: graph breaks, graphs, and the TOP (12) kernels by GPU time (CPU time on the CPU) with their calls
  convert           `nf4_fp8` alone (NF4 codes to FP8 codes) compiled, per form (CONVERT_FORMS: 'kernel', a hand-written Triton
                    kernel (`nf4_fp8_triton`, tried and not kept) per tile shape (TILES); 'kernel_compiled', the same from compiled code; 'static', inductor's kernel of `nf4_fp8`, sizes constant; 'dynamic', as it did before, `dynamic=True`; 'select', the first form, levels by a tree of
                    selects, `dynamic=True`), weight shape (CONVERT_SHAPES: a 7B down_proj, an OLMoE gate_up stack) and direction:
                    median ms a call (20 queued back to back), GB/s at the 1.5 bytes a value it must move, against a plain byte copy; for a stack also the MoE FP8
                    row's whole compiled function (`fused_on_gpu(_grouped_q)`: conversion, activation rows, grouped GEMM);
                    the generated code of each case in $OUT/convert/ (OUT default /tmp/out)
  curves REF TEST   the `step k: loss ...` lines of two training logs through `curves_agree`: PASS or FAIL with the numbers"""
import os, sys, json, time, statistics
from collections import Counter
import torch, torch.nn as nn
from fsdp_qlora.quantize import QuantLinear, quantize_weight, load_quantized, nf4_code
from fsdp_qlora.adapters import LoRA, add_lora
from fsdp_qlora.speed import BASE_MATMULS, use_base_matmul, compile_layers, curves_agree

DEV = 'cuda' if torch.cuda.is_available() else 'cpu'
DT = torch.bfloat16 if DEV == 'cuda' else torch.float32
SHAPES = dict(qkvo=(4096, 4096), gate_up=(4096, 11008), down=(11008, 4096))   # Llama-2-7B's projections, (in, out)
ROWS = [r for r, row in BASE_MATMULS.items() if row.capability is None or (DEV == 'cuda' and torch.cuda.get_device_capability() >= row.capability)]

def layer(in_f, out_f, row):
    q = QuantLinear(in_f, out_f, compute_dtype=DT, device=DEV)
    load_quantized(q, quantize_weight(q, torch.randn(out_f, in_f, device=DEV, dtype=DT)*0.02))
    return use_base_matmul(nn.Sequential(q), row)[0]

def tiny(row, checkpointed=True):
    from transformers import AutoModelForCausalLM
    from fsdp_qlora.testing import TINY_FAMILIES
    from fsdp_qlora.quantize import quantize_linears
    from fsdp_qlora.fsdp import checkpoint_layers
    torch.manual_seed(0)
    fam, sizes = TINY_FAMILIES['llama']
    m = AutoModelForCausalLM.from_config(fam(vocab_size=300, num_hidden_layers=3, **sizes)).train(); m.config.use_cache = False
    ws = {n: l.weight.detach() for n, l in m.named_modules() if isinstance(l, nn.Linear)}
    quantize_linears(m, 'bnb', compute_dtype=DT)
    for n, q in m.named_modules():
        if isinstance(q, QuantLinear): load_quantized(q, quantize_weight(q, ws[n]))
    add_lora(m, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], r=16, alpha=16, dropout=0., dtype=DT)
    for n, p in m.named_parameters(): p.requires_grad_('lora_' in n)
    return use_base_matmul(checkpoint_layers(m.to(DEV), halves=True) if checkpointed else m.to(DEV), row)

def breaks():
    for row in ROWS:
        torch._dynamo.reset()
        lora = LoRA(layer(256, 256, row), r=16, dropout=0., dtype=DT).to(DEV)
        x = torch.randn(4, 64, 256, device=DEV, dtype=DT, requires_grad=True)
        ex = torch._dynamo.explain(lora)(x)
        print(json.dumps(dict(case='LoRA(QuantLinear) explain', row=row, device=DEV, graph_breaks=ex.graph_break_count, graphs=ex.graph_count,
                              reasons=sorted({str(b.reason).splitlines()[0][:120] for b in ex.break_reasons}))), flush=True)
        ids = torch.randint(0, 300, (2, 64), device=DEV)
        torch._dynamo.reset()
        ex = torch._dynamo.explain(tiny(row, checkpointed=False))(input_ids=ids)
        print(json.dumps(dict(case='tiny Llama explain (not checkpointed)', row=row, device=DEV, graph_breaks=ex.graph_break_count, graphs=ex.graph_count,
                              reasons=sorted({str(b.reason).splitlines()[0][:120] for b in ex.break_reasons}))), flush=True)
        torch._dynamo.reset(); torch._dynamo.utils.counters.clear()
        m = compile_layers(tiny(row), DEV)
        for _ in range(2): m(input_ids=ids).logits.float().pow(2).mean().backward()
        c = torch._dynamo.utils.counters
        print(json.dumps(dict(case='tiny Llama, compile_layers, halves, 2 steps', row=row, device=DEV, graph_breaks=sum(c['graph_break'].values()),
                              unique_graphs=c['stats']['unique_graphs'], reasons=dict(Counter(r.splitlines()[0][:120] for r in c['graph_break'].elements())))), flush=True)

def timed(f, reps=10, warm=3, batch=1):
    "Median ms of `f`: `reps` rounds of `batch` calls queued back to back, one wait for the GPU a round (so with `batch` > 1 a call's launch overlaps the last one's work)"
    for _ in range(warm): f()
    ts = []
    for _ in range(reps):
        if DEV == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(batch): f()
        if DEV == 'cuda': torch.cuda.synchronize()
        ts.append((time.perf_counter() - t)/batch)
    return statistics.median(ts)*1e3

def ceilings(name, M, K, N, x, g):
    "The bare GEMMs of a forward + input gradient: bf16 `x Wᵀ` and `g W`, and FP8 `_scaled_mm` on codes and scales made beforehand"
    from fsdp_qlora.quantize import fp8_rows
    W = torch.randn(N, K, device=DEV, dtype=DT)*0.02
    (x8, sx), (g8, sg), (w8, sw), (wt8, swt) = fp8_rows(x.detach()), fp8_rows(g), fp8_rows(W), fp8_rows(W.t())
    cases = dict(bf16_gemms=lambda: (x @ W.t(), g @ W),
                 fp8_gemms=lambda: (torch._scaled_mm(x8, w8.t(), scale_a=sx, scale_b=sw.t(), out_dtype=DT),
                                    torch._scaled_mm(g8, wt8.t(), scale_a=sg, scale_b=swt.t(), out_dtype=DT)))
    for row, f in cases.items():
        if row == 'fp8_gemms' and 'fp8' not in ROWS: continue
        ms = timed(f)
        print(json.dumps(dict(shape=name, M=M, K=K, N=N, row=row, how='bare', ms=round(ms, 3), tflops=round(2*2*M*K*N/ms/1e9, 1))), flush=True)

def gemm(M=8192):
    """Per shape: the bare GEMMs, then each row eager and compiled; GEMM_ROWS picks rows (default every row this GPU runs), a row
    name ending in '/dequant' runs that FP8 row with its weight dequantized first (FP8_CODES emptied: the row's first form)"""
    from fsdp_qlora.quantize import FP8_CODES
    rows = os.environ.get('GEMM_ROWS', ' '.join(ROWS)).split()
    for name in os.environ.get('GEMM_SHAPES', ' '.join(SHAPES)).split():
        K, N = SHAPES[name]
        x = torch.randn(M, K, device=DEV, dtype=DT, requires_grad=True); g = torch.randn(M, N, device=DEV, dtype=DT)
        if DEV == 'cuda': ceilings(name, M, K, N, x, g)
        for label in rows:
            row, _, how_w = label.partition('/')
            keep = dict(FP8_CODES)
            if how_w == 'dequant': FP8_CODES.clear()
            q = layer(K, N, row)
            for how in os.environ.get('GEMM_HOW', 'eager compiled').split():
                torch._dynamo.reset()
                f = q if how == 'eager' else torch.compile(q)
                def step(): x.grad = None; f(x).backward(g)
                try: ms = timed(step)
                except Exception as e: print(json.dumps(dict(shape=name, row=label, how=how, error=str(e).splitlines()[0][:200])), flush=True); continue
                print(json.dumps(dict(shape=name, M=M, K=K, N=N, row=label, how=how, ms=round(ms, 3), tflops=round(2*2*M*K*N/ms/1e9, 1))), flush=True)
            FP8_CODES.update(keep)
            del q
        torch._dynamo.reset()

def kernels(M=8192):
    "See the module's doc: the rows' layers in turn, compiled once, their ms and their top kernels"
    from torch._dynamo.utils import counters
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if DEV == 'cuda' else [])
    key = 'self_device_time_total' if DEV == 'cuda' else 'self_cpu_time_total'
    def step(q, x, g): x.grad = None; q(x).backward(g)
    for row in os.environ.get('GEMM_ROWS', ' '.join(ROWS)).split():
        torch._dynamo.reset(); counters.clear()
        cases = [(name, torch.compile(layer(K, N, row)), torch.randn(M, K, device=DEV, dtype=DT, requires_grad=True),
                  torch.randn(M, N, device=DEV, dtype=DT)) for name, (K, N) in SHAPES.items()]
        for _ in range(2):
            for _, q, x, g in cases: step(q, x, g)
        for name, q, x, g in cases:
            print(json.dumps(dict(shape=name, M=M, row=row, how='compiled, shapes in turn', ms=round(timed(lambda: step(q, x, g)), 3))), flush=True)
        with torch.profiler.profile(activities=acts) as prof:
            for _, q, x, g in cases: step(q, x, g)
            if DEV == 'cuda': torch.cuda.synchronize()
        top = sorted(prof.key_averages(), key=lambda e: -getattr(e, key))[:int(os.environ.get('TOP', 12))]
        print(json.dumps(dict(row=row, graph_breaks=sum(counters['graph_break'].values()), unique_graphs=counters['stats']['unique_graphs'],
                              top=[(e.key[:100], round(getattr(e, key)/1e3, 3), e.count) for e in top])), flush=True)

def nf4_levels(idx, levels=tuple(nf4_code('cpu').tolist())):
    "The first form's level lookup: a tree of selects on the index's bits"
    if len(levels) == 1: return levels[0]
    h = len(levels)//2
    return torch.where((idx >> (h.bit_length() - 1)) & 1 == 1, nf4_levels(idx, levels[h:]), nf4_levels(idx, levels[:h]))

def code_diff(a, b):
    "How many FP8 codes of `a` differ from `b`'s, and the largest difference in e4m3 steps (adjacent codes of one sign are one step apart)"
    d = (a.view(torch.uint8).int() - b.view(torch.uint8).int()).abs()
    return dict(codes_differ=int((d > 0).sum()), max_steps=int(d.max()))

TILES = {False: [(16, 128), (8, 256), (32, 64), (4, 512), (32, 128)], True: [(64, 32), (32, 64), (128, 16), (64, 64), (128, 32)]}

def nf4_fp8_triton(weight, absmax, shape, transposed, tiles):
    """`nf4_fp8` as one hand-written Triton kernel (tried 2026-12-07, not kept: slower than inductor's kernel of `nf4_fp8`).
    A program converts `BR` rows x `BC` bytes of W: the bytes loaded once, both nibbles' levels looked up in the 16-value table,
    times the block's absmax, divided by the scale (IEEE, `div_rn`), clamped, rounded to e4m3, interleaved back into the row's order;
    transposed, the tile is transposed in registers and stored as rows of W^T. The scales as `nf4_fp8` computes them."""
    import triton
    from torch.library import wrap_triton
    from fsdp_qlora import quantize as fq
    *lead, o, i = shape; bs = 64
    a = absmax.view(*lead, o, i//bs)
    scale = a.amax(-2 if transposed else -1, keepdim=True).clamp(min=fq.FP8_FLOOR)/fq.FP8_MAX
    out = torch.empty(*lead, *((i, o) if transposed else (o, i)), device=weight.device, dtype=fq.FP8)
    levels = torch.tensor(fq.NF4_LEVELS, device=weight.device, dtype=torch.float32)
    br, bc = tiles
    wrap_triton(_nf4_fp8_kernel())[(triton.cdiv(o, br), triton.cdiv(i//2, bc), torch.Size(lead).numel())](
        weight.view(torch.uint8), a, scale.contiguous(), levels, out, o, i, BLOCKSIZE=bs, TRANSPOSED=transposed, BR=br, BC=bc)
    return out, (scale.repeat_interleave(bs, -1).transpose(-1, -2) if transposed else scale)

_KERNEL = []
def _nf4_fp8_kernel():
    "The kernel of `nf4_fp8_triton`, defined on first use (Triton is imported only on a GPU machine)"
    if _KERNEL: return _KERNEL[0]
    import triton, triton.language as tl
    @triton.jit
    def k(w_ptr, am_ptr, s_ptr, lv_ptr, out_ptr, O, I, BLOCKSIZE: tl.constexpr, TRANSPOSED: tl.constexpr, BR: tl.constexpr, BC: tl.constexpr):
        e = tl.program_id(2).to(tl.int64)
        r = tl.program_id(0)*BR + tl.arange(0, BR)
        c = tl.program_id(1)*BC + tl.arange(0, BC)
        half, nb = I // 2, I // BLOCKSIZE
        inside = (r[:, None] < O) & (c[None, :] < half)
        b = tl.load(w_ptr + e*O*half + r[:, None]*half + c[None, :], mask=inside, other=0)
        blk = (2*c) // BLOCKSIZE
        am = tl.load(am_ptr + e*O*nb + r[:, None]*nb + blk[None, :], mask=inside, other=0.)
        if TRANSPOSED: s = tl.load(s_ptr + e*nb + blk[None, :], mask=c[None, :] < half, other=1.)
        else: s = tl.load(s_ptr + e*O + r[:, None], mask=r[:, None] < O, other=1.)
        hi = tl.clamp(tl.math.div_rn(tl.load(lv_ptr + (b >> 4).to(tl.int32))*am, s), -448., 448.)
        lo = tl.clamp(tl.math.div_rn(tl.load(lv_ptr + (b & 15).to(tl.int32))*am, s), -448., 448.)
        v = tl.interleave(hi.to(out_ptr.dtype.element_ty), lo.to(out_ptr.dtype.element_ty))
        kk = tl.program_id(1)*2*BC + tl.arange(0, 2*BC)
        if TRANSPOSED: tl.store(out_ptr + e*O*I + kk[:, None]*O + r[None, :], tl.trans(v), mask=(kk[:, None] < I) & (r[None, :] < O))
        else: tl.store(out_ptr + e*O*I + r[:, None]*I + kk[None, :], v, mask=(r[:, None] < O) & (kk[None, :] < I))
    _KERNEL.append(k); return k

def convert():
    "See the module's doc: the NF4 -> FP8 conversion alone, per form, shape and direction"
    import functools
    from torch._inductor.utils import run_and_get_code
    from fsdp_qlora import quantize as fq
    out = os.path.join(os.environ.get('OUT', '/tmp/out'), 'convert'); os.makedirs(out, exist_ok=True)
    shapes = dict(down_7b=(4096, 11008), qkvo_7b=(4096, 4096), gate_8b=(14336, 4096), olmoe_gate_up=(64, 2048, 2048),
                  olmoe_down=(64, 2048, 1024), tiny=(2, 128, 256))
    for sname in os.environ.get('CONVERT_SHAPES', 'down_7b olmoe_gate_up').split():
        shape = shapes[sname]; n = torch.Size(shape).numel()
        w = torch.randint(0, 256, (n//2,), dtype=torch.uint8, device=DEV); am = torch.rand(n//64, device=DEV)
        copy = timed(lambda: w.clone(), batch=20)          # n/2 bytes read and n/2 written
        print(json.dumps(dict(shape=sname, form='byte copy of the packed codes', ms=round(copy, 4), gbps=round(n/copy/1e6, 1))), flush=True)
        ref = {tr: fq.nf4_fp8(w, am, shape, transposed=tr) for tr in (False, True)}     # PyTorch's own kernels, one per operation
        for form in os.environ.get('CONVERT_FORMS', 'static dynamic select').split():
            for tr in (False, True):
                torch._dynamo.reset()
                if form == 'kernel':     # the Triton kernel below, eager, per tile shape
                    for t in TILES[tr]:
                        try:
                            c, s = nf4_fp8_triton(w, am, shape, tr, t)
                            same = torch.equal(c.view(torch.uint8), ref[tr][0].view(torch.uint8)) and torch.equal(s, ref[tr][1])
                            ms = timed(lambda: nf4_fp8_triton(w, am, shape, tr, t), batch=20)
                        except Exception as e: print(json.dumps(dict(shape=sname, form=form, tiles=t, transposed=tr, error=str(e).splitlines()[0][:200])), flush=True); continue
                        print(json.dumps(dict(shape=sname, form=form, tiles=t, transposed=tr, ms=round(ms, 4), gbps=round(1.5*n/ms/1e6, 1),
                                              equal_to_nf4_fp8=same, **code_diff(c, ref[tr][0]))), flush=True)
                    continue
                if form == 'select':
                    def f(weight, absmax):
                        *lead, o, i = shape; bs = 64
                        packed = weight.view(torch.uint8).reshape(*lead, o, i//2)
                        idx = torch.stack((packed >> 4, packed & 15), -1).reshape(*lead, o, i//bs, bs)
                        a = absmax.view(*lead, o, i//bs)
                        scale = a.amax(-2 if tr else -1, keepdim=True).clamp(min=fq.FP8_FLOOR)/fq.FP8_MAX
                        codes = (nf4_levels(idx)*a[..., None]/scale[..., None]).clamp(-fq.FP8_MAX, fq.FP8_MAX).to(fq.FP8).reshape(*lead, o, i)
                        if not tr: return codes, scale
                        return codes.transpose(-1, -2).contiguous(), scale.repeat_interleave(bs, -1).transpose(-1, -2)
                elif form == 'kernel_compiled':   # the Triton kernel launched from compiled code, the scales computed there
                    def f(weight, absmax, tr=tr): return nf4_fp8_triton(weight, absmax, shape, tr, TILES[tr][0])
                else: f = functools.partial(fq.nf4_fp8, shape=shape, transposed=tr)
                c = torch.compile(f, dynamic=form in ('dynamic', 'select'))
                try:
                    res, code = run_and_get_code(c, w, am)
                    open(os.path.join(out, f"{sname}_{form}_{'T' if tr else 'rows'}.py"), 'w').write('\n\n'.join(code))
                    ms = timed(lambda: c(w, am), batch=20)
                except Exception as e: print(json.dumps(dict(shape=sname, form=form, transposed=tr, error=str(e).splitlines()[0][:200])), flush=True); continue
                print(json.dumps(dict(shape=sname, form=form, transposed=tr, ms=round(ms, 4), gbps=round(1.5*n/ms/1e6, 1),
                                      equal_to_nf4_fp8=torch.equal(res[0].view(torch.uint8), ref[tr][0].view(torch.uint8)), **code_diff(res[0], ref[tr][0]), kernels=sum(x.count('@triton.jit') + x.count('extern "C"') for x in code))), flush=True)
        if len(shape) == 3 and DEV == 'cuda':    # the MoE row as it runs: conversion and grouped FP8 GEMM compiled together (fused_on_gpu)
            from fsdp_qlora.moe import _grouped_q, fp8_ready
            if not fp8_ready(): continue
            E, o, i = shape; T = int(os.environ.get('CONVERT_ROWS', 32768))
            offs = torch.arange(1, E + 1, device=DEV, dtype=torch.int32)*(T//E)
            for tr in (False, True):
                x = torch.randn(T, o if tr else i, device=DEV, dtype=DT)
                torch._dynamo.reset(); fq._FUSED.clear()
                args = (x, offs, [w, am], 'bnb', list(shape), [64], 'fp8', tr)
                _, code = run_and_get_code(lambda: fq.fused_on_gpu(_grouped_q, *args))
                open(os.path.join(out, f"{sname}_grouped_q_{'T' if tr else 'rows'}.py"), 'w').write('\n\n'.join(code))
                ms = timed(lambda: fq.fused_on_gpu(_grouped_q, *args))
                print(json.dumps(dict(shape=sname, form='_grouped_q fp8 (conversion + activation rows + grouped GEMM)', transposed=tr, rows=T,
                                      ms=round(ms, 4), gemm_tflops=round(2*T*o*i/ms/1e9, 1))), flush=True)

def curves(ref_log, test_log):
    from fsdp_qlora.benchmark import step_lines
    loss = lambda p: [m['loss'] for _, m in step_lines((0, l) for l in open(p, errors='replace')) if isinstance(m.get('loss'), float)]
    r, t = loss(ref_log), loss(test_log)
    print(f"steps: {len(r)} and {len(t)}; loss first {r[:1]} {t[:1]}, last {r[-1:]} {t[-1:]}")
    v = curves_agree(r, t)
    print(json.dumps(v))
    print(f"loss curve of {test_log} against {ref_log}: {'PASS' if v['passed'] else 'FAIL'}: worst 10-step mean gap {v['worst']:.4f} "
          f"against the limit {v['limit']:.4f} (3 x noise {v['noise']:.4f} x sqrt(2/10)); mean gap over all steps {v['mean_gap']:+.4f}")

if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    dict(breaks=breaks, gemm=lambda *a: gemm(*map(int, a)), kernels=lambda *a: kernels(*map(int, a)), convert=convert, curves=curves)[cmd](*args)
