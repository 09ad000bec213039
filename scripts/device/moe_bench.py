"""Helpers of scripts/device/moe_bench.sh (each a subcommand, so a typo fails in the CPU smoke test, not on the device):
  write PATH LAYERS      a Qwen3-30B-A3B-shaped checkpoint (LAYERS of its 48 decoder layers; 128 experts, top 8) with random weights
                         written directly in NF4 by write_random_quantized (never a bf16 copy); without a GPU a tiny shape (smoke test)
  pick GEMM_JSONL        the --experts_kernel whose forward+backward was fastest in moe_gemm.py's plain rows (grouped if none ran)
  summary LOG OUT_JSON   the training log's step lines -> median tokens/s after the first 2 steps, peak GPU memory, host RSS"""
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
    dict(write=write, pick=pick, summary=summary)[cmd](*args)
