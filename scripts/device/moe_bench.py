"""Helpers of scripts/device/moe_bench.sh (each a subcommand, so a typo fails in the CPU smoke test, not on the device):
  write PATH LAYERS      a Qwen3-30B-A3B-shaped checkpoint (LAYERS of its 48 decoder layers; 128 experts, top 8) with random weights
                         written directly in NF4 by write_random_quantized (never a bf16 copy); without a GPU a tiny shape (smoke test)
  pick GEMM_JSONL        the --experts_kernel whose forward+backward was fastest in moe_gemm.py's plain rows (grouped if none ran)
  summary LOG OUT_JSON   the training log's step lines -> median tokens/s after the first 2 steps, peak GPU memory, host RSS
  sync [ROWS]            each grouped EXPERT_KERNELS row (or ROWS, comma-separated) on one OLMoE-1B-7B-shaped decoder layer (NF4 experts,
                         LoRA r16 on every expert, bf16, 4,096 tokens, checkpointed as checkpoint_layers runs it; the FP8 row where it runs): graph breaks and their
                         reasons (torch._dynamo.explain), a forward + backward under torch.cuda.set_sync_debug_mode('error') (the first
                         synchronizing call, or none), eager ms a step, and compiled ms (inductor) for the rows in $SYNC_COMPILE; one JSON
                         line a row; without a GPU a tiny Qwen3-MoE layer (smoke test)"""
import sys, json, re, time, statistics
from pathlib import Path


def write(path, layers):
    import torch
    from transformers import Qwen3MoeConfig
    from fsdp_qlora.load import write_random_quantized
    cuda = torch.cuda.is_available()
    sizes = (dict(hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768, num_experts=128, num_attention_heads=32,
                  num_key_value_heads=4, head_dim=128, vocab_size=151936) if cuda else
             dict(hidden_size=128, intermediate_size=256, moe_intermediate_size=64, num_experts=8, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=32, vocab_size=32000))
    cfg = Qwen3MoeConfig(num_experts_per_tok=8 if cuda else 2, num_hidden_layers=int(layers), max_position_embeddings=40960, rope_theta=1e6,
                         rms_norm_eps=1e-6, norm_topk_prob=True, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, **sizes)
    t = time.perf_counter()
    write_random_quantized(path, cfg, backend='bnb', shard_bytes=4*2**30, device='cuda' if cuda else 'cpu')
    dt, size = time.perf_counter() - t, sum(f.stat().st_size for f in Path(path).glob('*.safetensors'))
    print(json.dumps(dict(layers=int(layers), write_s=round(dt, 1), bytes=size, gib=round(size/2**30, 2), smoke=not cuda)), flush=True)


def pick(jsonl):
    rows = [json.loads(l) for l in Path(jsonl).read_text().splitlines() if l.startswith('{')] if Path(jsonl).exists() else []
    ms = {r.get('kernel', r['row'].rsplit(', ', 1)[1]): r['ms'] for r in rows if r['row'].startswith('ours') and 'ms' in r and not r.get('checkpointed')}
    print(min(ms, key=ms.get) if ms else 'grouped')


def _moe_layer(cuda):
    "One decoder layer of OLMoE-1B-7B's shape (tiny_moe without a GPU) with NF4 experts and LoRA r16 on each stack, and its inputs"
    import torch
    from transformers import AutoModelForCausalLM
    from fsdp_qlora.benchmark import SHAPES
    from fsdp_qlora.moe import quantize_experts, quantize_stack, ExpertLoRA, keep_router_logits
    dev, T = ('cuda', 4096) if cuda else ('cpu', 64)
    cfg = SHAPES['olmoe_1b_7b' if cuda else 'tiny_moe'].config(); cfg.num_hidden_layers = 1
    torch.manual_seed(0)
    with torch.device(dev): m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    quantize_experts(m, 'bnb', torch.bfloat16)
    qe = m.model.layers[0].mlp.experts
    for n in qe.weight_names:
        st = getattr(qe, n)
        for k, t in quantize_stack(st, torch.randn(st.source_shape, device=dev, dtype=torch.bfloat16)*0.02).items(): getattr(st, k).data = t
        lora = ExpertLoRA(st, r=16, alpha=32, dropout=0., dtype=torch.bfloat16).to(dev)
        with torch.no_grad(): lora.lora_B.normal_(std=0.01)
        setattr(qe, n, lora)
    keep_router_logits(m)                                # the router loss as the train step takes it (MoE chapter)
    x = torch.randn(1, T, cfg.hidden_size, device=dev, dtype=torch.bfloat16)
    return m.model.layers[0], qe, x, dict(position_embeddings=m.model.rotary_emb(x, torch.arange(T, device=dev)[None]), attention_mask=None)


def sync(rows=''):
    import os, torch
    from torch.utils.checkpoint import checkpoint
    from fsdp_qlora.moe import EXPERT_KERNELS, fp8_ready, _Routers
    from fsdp_qlora.fsdp import checkpointed
    cuda = torch.cuda.is_available()
    layer, qe, x, kw = _moe_layer(cuda)
    def step(fn):
        xx = x.detach().requires_grad_()
        _Routers.on = True                                   # the forward keeps the router logits, the recompute does not (as moe_forward)
        try: y = checkpoint(checkpointed(fn), xx, use_reentrant=False, **kw)
        finally: _Routers.on = False
        (y[0] if isinstance(y, tuple) else y).float().square().mean().backward()
    def ms(fn, n=5):
        for _ in range(2): step(fn)
        if cuda: torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n): step(fn)
        if cuda: torch.cuda.synchronize()
        return round((time.perf_counter() - t)/n*1e3, 2)
    rows = rows.split(',') if rows else [k for k in EXPERT_KERNELS if k != 'loop']
    rows = [k for k in rows if fp8_ready() or not k.endswith('_fp8')]      # the FP8 row needs an H100 or later
    for kernel in rows:
        qe.kernel = kernel
        torch._dynamo.reset()
        _Routers.on = True
        try: ex = torch._dynamo.explain(checkpointed(layer))(x, **kw)
        finally: _Routers.on = False
        res = dict(kernel=kernel, graphs=ex.graph_count, breaks=ex.graph_break_count,
                   reasons=sorted({f"{b.reason.splitlines()[0][:120]} @ {b.user_stack[-1].filename.rsplit('/', 1)[-1]}:{b.user_stack[-1].lineno}"
                                   if b.user_stack else b.reason.splitlines()[0][:120] for b in ex.break_reasons}))
        step(layer)                                          # caches filled (NF4 code table, cuBLAS handles) before the check
        if cuda: torch.cuda.set_sync_debug_mode('error')
        try: step(layer); res['sync'] = 'none'
        except RuntimeError as e: res['sync'] = str(e).splitlines()[0][:300]
        finally:
            if cuda: torch.cuda.set_sync_debug_mode(0)
        res['eager_ms'], res['smoke'] = ms(layer), not cuda
        print(json.dumps(res), flush=True)
    for kernel in [k for k in os.environ.get('SYNC_COMPILE', '').replace(',', ' ').split() if k in rows]:   # last: compiling takes longest
        qe.kernel = kernel
        torch._dynamo.reset()
        print(json.dumps(dict(kernel=kernel, compiled_ms=ms(torch.compile(layer)), smoke=not cuda)), flush=True)


_STEP = re.compile(r'^step (\d+): (.*)$')

def summary(log, out):
    steps, peak = [], None
    for l in Path(log).read_text().splitlines():
        m = _STEP.match(l.strip())
        if m: steps.append({k: float(v) for k, v in (kv.rsplit(' ', 1) for kv in m.group(2).split(', ') if ' ' in kv) if re.match(r'^[-+.\de]+$', v)})
        if 'peak GPU memory' in l or 'peak host RSS' in l: peak = l.strip()
    timed = steps[2:] or steps
    res = dict(steps=len(steps), tok_s=statistics.median(s['tok_s'] for s in timed) if timed else None,
               step_s=statistics.median(s['step_s'] for s in timed) if timed else None,
               mem_peak_gib=max((s.get('mem_peak_gib', 0) for s in steps), default=None),
               mem_reserved_gib=max((s.get('mem_reserved_gib', 0) for s in steps), default=None),
               host_rss_gib=max((s.get('host_rss_gib', 0) for s in steps), default=None), final=peak,
               losses=[s.get('loss') for s in steps])
    Path(out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    dict(write=write, pick=pick, summary=summary, sync=sync)[cmd](*args)
