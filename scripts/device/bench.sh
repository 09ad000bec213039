#!/usr/bin/env bash
# Side-by-side benchmark on one GPU (run from the repo root): Llama-2-7B shape, random weights written here, context 2048,
# batch 4, LoRA r=64 alpha=16 on all 7 projections, 2 warm-up + 6 measured steps, for every stack of fsdp_qlora.benchmark.STACKS
# (ours: custom_qlora, qlora, custom_lora; transformers+PEFT QLoRA and LoRA; + Liger; Unsloth).
# Carry .whl (peft, bitsandbytes, fastcore) and .whl-bench (unsloth, liger-kernel, trl, ...: scripts/device/bench_wheels.sh).
# Env: DROPOUTS="0.0 0.1" for a second run with LoRA dropout (the checkpoint in /tmp/bench is reused on a warm machine);
#      STACKS=name,name to choose stacks; STEPS (default 6) measured steps; SHAPE=llama3_8b etc.; PROFILE_STEP=4 writes each stack's kernel table of step 4 (in the logs). Results: $OUT/bench_dropout*.json, logs in $OUT/logs_dropout*.tgz.
set -o pipefail
WHEELS=".whl .whl-bench" source scripts/device/env.sh
export TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_DISABLE_LLM_COMPRESSOR_AUTOINSTALL=1 WANDB_MODE=offline
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__, 'peft', peft.__version__)"
SHAPE=${SHAPE:-llama2_7b}; STACKS=${STACKS:-ours_custom_qlora,ours_custom_qlora_fast,hf_qlora,unsloth_qlora,hf_liger_qlora,ours_qlora,hf_lora,ours_custom_lora}
for d in ${DROPOUTS:-0.0}; do
  echo "== $SHAPE, lora_dropout $d"
  timeout ${BENCH_TIMEOUT:-470} python3 -m fsdp_qlora.benchmark --shape $SHAPE --stacks $STACKS --baseline unsloth_qlora --context_length 2048 \
    --batch_size 4 --lora_rank 64 --lora_alpha 16 --lora_dropout $d --steps ${STEPS:-6} --warmup_steps 2 --work_dir /tmp/bench \
    --output $OUT/bench_dropout$d.json --timeout 200 --profile_step ${PROFILE_STEP:-0} 2>&1 | grep -vE "Warning|warn\(" | tee $OUT/bench_dropout$d.log
  echo "rc=$?"
  tar czf $OUT/logs_dropout$d.tgz -C /tmp/bench/logs . 2>/dev/null; rm -rf /tmp/bench/logs/*   # one file: the device returns few
  # the table again from the JSON (also when the run above was cut short: the JSON is rewritten after each stack), with ratios
  # against unsloth_qlora and against hf_qlora
  python3 -c "import json, sys; from fsdp_qlora.benchmark import markdown_table; r = json.load(open(sys.argv[1]))
for b in ('unsloth_qlora', 'hf_qlora'): r['baseline'] = b; print(markdown_table(r), end='\n\n')" $OUT/bench_dropout$d.json
done
