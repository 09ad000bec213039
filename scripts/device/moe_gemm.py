"""Expert GEMMs on one GPU, Qwen3-30B-A3B layer shape (128 experts, top 8, hidden 2048, expert intermediate 768): forward +
backward of one MoE experts module, NF4 experts with an ExpertLoRA (rank 16) on each stack, for each --experts_kernel row
(loop: one expert at a time through bitsandbytes' matmul_4bit; grouped: one grouped GEMM per projection over the stack
dequantized in one call; grouped_gather: rows put back by gathers, not index_add; *_keep: the dequantized stack saved
for backward inside a checkpoint), each run plain and inside a non-reentrant checkpoint as checkpoint_layers runs a layer
(forward, recompute, backward: where the _keep rows differ), beside transformers' own eager loop and grouped_mm on plain
bf16 experts (no dequantization: a floor). Prints one JSON line per row: ms per forward+backward and peak GPU memory
above the weights; ours carry `kernel` and `checkpointed`.
Usage: python3 scripts/device/moe_gemm.py [tokens=4096] [reps=10]  (without a GPU: a small smoke-test shape on the CPU)"""
import sys, json, time, statistics, torch
from transformers import Qwen3MoeConfig, AutoModelForCausalLM
from torch.utils.checkpoint import checkpoint
from fsdp_qlora.moe import QuantExperts, ExpertLoRA, quantize_stack, EXPERT_KERNELS
from fsdp_qlora.fsdp import checkpointed

tokens, reps = (int(a) for a in (sys.argv[1:] + ['4096', '10'][len(sys.argv) - 1:])[:2])
cuda = torch.cuda.is_available()
H, I, E = (2048, 768, 128) if cuda else (256, 128, 16)
cfg = Qwen3MoeConfig(hidden_size=H, moe_intermediate_size=I, num_experts=E, num_experts_per_tok=8, num_hidden_layers=1,
                     num_attention_heads=32, num_key_value_heads=4, head_dim=128, vocab_size=256)
dev, dt = torch.device('cuda' if cuda else 'cpu'), torch.bfloat16 if cuda else torch.float32
with torch.device(dev): hf = AutoModelForCausalLM.from_config(cfg, dtype=dt).model.layers[0].mlp
torch.manual_seed(0)
with torch.no_grad():
    for p in (hf.experts.gate_up_proj, hf.experts.down_proj): p.normal_(std=0.02)
x = torch.randn(tokens, H, device=dev, dtype=dt)
logits = torch.randn(tokens, E, device=dev).softmax(-1)
w, idx = logits.topk(8, dim=-1); w = (w/w.sum(-1, keepdim=True)).to(dt)

def timed(fn, params):
    "median ms of forward+backward, and peak memory above the start"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(2): fn().float().sum().backward()
    sync()
    if cuda: torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn().float().sum().backward(); sync(); ts.append(1e3*(time.perf_counter() - t))
        for p in params: p.grad = None
    return statistics.median(ts), (torch.cuda.max_memory_allocated() - base)/2**30 if cuda else float('nan')

class Rows(list):
    "Rows printed as JSON lines as soon as measured (a run cut short by `timeout` keeps the rows it has)"
    def append(self, r):
        super().append(r)
        print(json.dumps(dict(tokens=tokens, device=torch.cuda.get_device_name() if cuda else 'cpu (smoke test shape)', **r)), flush=True)

rows = Rows()
qe = QuantExperts(hf.experts, 'bnb', dt).to(dev)
for n in qe.weight_names:
    st = getattr(qe, n)
    for k, t in quantize_stack(st, getattr(hf.experts, n).detach()).items(): getattr(st, k).data = t.to(dev)
    setattr(qe, n, ExpertLoRA(st, r=16, dropout=0., dtype=dt).to(dev))
adapters = [p for p in qe.parameters() if p.requires_grad]
ckpt = checkpointed(qe)
for ck in (False, True):
    for kernel in EXPERT_KERNELS:
        qe.kernel = kernel
        xx = x.clone().requires_grad_()
        fn = (lambda: checkpoint(ckpt, xx, idx, w, use_reentrant=False)) if ck else (lambda: qe(xx, idx, w))
        ms, gib = timed(fn, adapters + [xx])
        rows.append(dict(row=f'ours NF4 + ExpertLoRA r16, {kernel}' + ', checkpointed'*ck, kernel=kernel, checkpointed=ck,
                         ms=round(ms, 2), peak_gib=round(gib, 2)))
hf.experts.requires_grad_(False)
for impl in ('eager', 'grouped_mm', 'batched_mm'):
    xx = x.clone().requires_grad_()
    try:
        hf.experts.config._experts_implementation = impl
        ms, gib = timed(lambda: hf.experts(xx, idx, w), [xx])
    except Exception as e:
        rows.append(dict(row=f'transformers bf16 {impl}', error=str(e)[:200]))
        if cuda: torch.cuda.empty_cache()
        continue
    rows.append(dict(row=f'transformers bf16 experts (no LoRA, no dequantization), {impl}', ms=round(ms, 2), peak_gib=round(gib, 2)))
