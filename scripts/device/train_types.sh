#!/usr/bin/env bash
# Every train type x {bf16, mp_bf16_buffers_autocast}: 10 steps on a tiny Llama with NCCL, on 1 GPU and (if more) on all GPUs.
# Run from the repo root. hqq_* train types need the hqq package (carry its wheel in .whl/); without it they show as "skip".
# Results: $OUT/train_types.md (summary table), $OUT/train_types.jsonl (one JSON line per run), $OUT/train_types_ws*.log.
set -o pipefail
source scripts/device/env.sh; rm -f $OUT/train_types.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__, 'peft', peft.__version__)"
python3 -c "import hqq; print('hqq', hqq.__version__)" 2>/dev/null || echo "hqq not installed: hqq_* train types will be skipped"
N=$(nvidia-smi -L | wc -l)
rm -rf /tmp/tiny-llama /tmp/tiny-llama-pro
python3 -m fsdp_qlora.testing /tmp/tiny-llama > /dev/null || exit 1
python3 -m fsdp_qlora.expand --model_name /tmp/tiny-llama --output_dir /tmp/tiny-llama-pro --expansion_rate 0.5 || exit 1

# One torchrun launch per world size runs every (train type, precision) in turn in one process group, as
# fsdp_qlora_train would (setup -> load -> adapt -> shard -> fit), recording losses and peak GPU memory.
cat > /tmp/train_types_driver.py <<'EOF'
import os, sys, json, gc, time, traceback, torch
from fsdp_qlora.cli import TrainConfig, validate
from fsdp_qlora.adapters import TRAIN_TYPES, ADAPTERS
from fsdp_qlora.train import setup, load, adapt, shard, make_loader, fit
out, cuda = sys.argv[1], torch.cuda.is_available()
only = os.environ.get('ONLY', '').split(',') if os.environ.get('ONLY') else list(TRAIN_TYPES)   # ONLY=a,b for a subset
steps, ctx, tiny = int(os.environ.get('STEPS', 10)), int(os.environ.get('CONTEXT', 512)), os.environ.get('TINY', '/tmp/tiny-llama')
for tt, t in TRAIN_TYPES.items():
    if tt not in only: continue
    for prec in ('bf16', 'mp_bf16_buffers_autocast'):
        row = dict(train_type=tt, precision=prec, world=int(os.environ['WORLD_SIZE']))
        pro = ADAPTERS[t.adapter].checkpoint_flag == 'llama_pro_path'
        cfg = TrainConfig(model_name=tiny, llama_pro_path=tiny + '-pro' if pro else None, train_type=tt,
                          precision=prec, batch_size=2, context_length=ctx, dataset_samples=256, max_steps=steps, lora_rank=8,
                          lr=1e-3 if t.adapter in ('full', 'llama_pro') else 5e-3, use_cpu_offload=False, log_to='stdout')
        try:
            validate(cfg)
        except Exception as e:
            row.update(status='skip', error=str(e)[:200])
        else:
            try:
                if cuda: torch.cuda.reset_peak_memory_stats()
                t0 = time.time()
                run = setup(cfg, int(os.environ['LOCAL_RANK']))
                model, loaded, path = load(run); model, loaded, trainable = adapt(run, model, loaded)
                model = shard(run, model, loaded, trainable)
                losses = fit(run, model, make_loader(run, path))
                ok = all(map(lambda l: l == l and abs(l) < 1e4, losses)) and losses[-1] < losses[0]
                row.update(status='ok' if ok else 'fail', first=losses[0], last=losses[-1], steps=len(losses),
                           peak_gib=torch.cuda.max_memory_allocated()/2**30 if cuda else None, seconds=time.time() - t0)
                del model, loaded
            except Exception as e:
                traceback.print_exc(); row.update(status='fail', error=f"{type(e).__name__}: {e}"[:300])
        gc.collect()
        if cuda: torch.cuda.empty_cache()
        if int(os.environ['RANK']) == 0:
            print('RESULT', json.dumps(row), flush=True)
            with open(out, 'a') as f: f.write(json.dumps(row) + '\n')
if torch.distributed.is_initialized(): torch.distributed.destroy_process_group()
EOF

for ws in 1 $N; do
  echo "== $ws GPU(s)"
  timeout 420 python3 -m torch.distributed.run --standalone --nproc-per-node=$ws /tmp/train_types_driver.py $OUT/train_types.jsonl 2>&1 \
    | grep -vE "Warning|warn\(" > $OUT/train_types_ws$ws.log
  echo "exit status $?"; grep RESULT $OUT/train_types_ws$ws.log | cut -c1-200
  [ "$N" = 1 ] && break
done

python3 - $OUT <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/train_types.jsonl")]
f = lambda v, fmt: format(v, fmt) if isinstance(v, (int, float)) else '-'
lines = ['| train type | precision | GPUs | first loss | last loss | peak GPU memory (GiB) | status |', '| --- | --- | --- | --- | --- | --- | --- |']
lines += [f"| {r['train_type']} | {r['precision']} | {r['world']} | {f(r.get('first'), '.4f')} | {f(r.get('last'), '.4f')} | "
          f"{f(r.get('peak_gib'), '.3f')} | {r['status']}{(': ' + r['error']) if r.get('error') else ''} |" for r in rows]
open(f"{sys.argv[1]}/train_types.md", 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
print(f"{sum(r['status'] == 'ok' for r in rows)} ok, {sum(r['status'] == 'fail' for r in rows)} fail, {sum(r['status'] == 'skip' for r in rows)} skipped")
EOF
