#!/usr/bin/env bash
# Issue 8 (speed) on one GPU: Llama-2-7B shape (random weights), custom_qlora, ctx 2048, batch 4, rank 64 (alpha 16) on all
# seven projections, bf16, lr 1e-4, 8 steps, packed rows (every step 4 x 2048 tokens), no CPU offload. One run per row:
#   baseline   --loss standard
#   compile    --compile true
#   chunked    --loss chunked
#   both       --compile true --loss chunked
#   liger      --loss liger (only when liger_kernel imports)
# Median tokens/s over steps 3-8 (the first steps compile), peak GPU memory and the losses go to $OUT/speed.txt
# (one "RESULT" line per run); full logs in $OUT/<run>.log. Run from the repo root; wheels in .whl/ (bitsandbytes, peft, fastcore).
# RUNS="baseline compile" picks runs; STEPS, PACKING override the defaults.
set -o pipefail
source scripts/device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv | tee $OUT/speed.txt
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__)" | tee -a $OUT/speed.txt
echo 'from fsdp_qlora.cli import train_cli; train_cli()' > /tmp/train.py
M=/tmp/l7b
if [ ! -f $M/config.json ]; then
python3 - $M <<'PY'
import sys, time
from fsdp_qlora.benchmark import SHAPES
from fsdp_qlora.load import write_random_checkpoint
cfg = SHAPES['llama2_7b'].config()
t = time.perf_counter(); write_random_checkpoint(sys.argv[1], cfg, shard_bytes=4*2**30, device='cuda')
print(f"wrote {sys.argv[1]} in {time.perf_counter() - t:.0f}s")
PY
cp fsdp_qlora/assets/tokenizer-llama2/* $M/
fi
summary() {  # $1 name, $2 log: one RESULT line
python3 - "$@" <<'PY'
import sys, re
name, log = sys.argv[1:3]; txt = open(log).read()
steps = [dict(re.findall(r'(\w+) ([-\d.e]+)', l)) for l in txt.splitlines() if l.startswith('step ')]
losses = [float(s['loss']) for s in steps]; tok = sorted(float(s['tok_s']) for s in steps[2:]) or [0]
first = [round(float(s['step_s']), 1) for s in steps[:2]]
peak = re.findall(r'peak GPU memory: allocated ([\d.]+ \w+), reserved ([\d.]+ \w+)', txt)
print(f"RESULT {name}: steps {len(losses)} median tok/s (steps 3+) {tok[len(tok)//2]:.0f}  peak allocated/reserved {peak[-1] if peak else 'n/a'}"
      f"  first steps s {first}  losses {[round(l, 4) for l in losses]}")
PY
}
COMMON="--model_name $M --train_type custom_qlora --world_size 1 --batch_size 4 --context_length 2048 --lora_rank 64 --lora_alpha 16 --lora_dropout 0
 --precision bf16 --lr 1e-4 --max_steps ${STEPS:-8} --num_epochs 4 --packing ${PACKING:-true} --use_cpu_offload false --seed 0 --log_to stdout"
declare -A FLAGS=([baseline]="--loss standard" [compile]="--compile true" [chunked]="--loss chunked" [both]="--compile true --loss chunked" [liger]="--loss liger")
RUNS=${RUNS:-"baseline chunked compile both liger"}
for r in $RUNS; do
  if [ $r = liger ] && ! python3 -c "import liger_kernel" 2>/dev/null; then echo "RESULT liger: skipped (liger_kernel not installed)" | tee -a $OUT/speed.txt; continue; fi
  timeout 300 python3 /tmp/train.py $COMMON ${FLAGS[$r]} > $OUT/$r.log 2>&1
  echo "rc=$? $r"; summary $r $OUT/$r.log | tee -a $OUT/speed.txt
done
