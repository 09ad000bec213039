#!/usr/bin/env bash
# --sdpa_backend on one GPU (issue 23, the speed notebook's attention kernels). Run from the repo root; carry .whl and .whl-bench.
#  1. scripts/device/sdpa_check.py: one causal attention call forward + backward per SDPA_BACKENDS row at the benchmark's shapes
#     (2k x 4, 16k, 32k; Llama-2 heads and Llama-3's GQA), the ATen kernel each ran, errors against float32 plain ops -> $OUT/sdpa.jsonl
#  2. fsdp_qlora_bench on SHAPE (llama2_7b) at CTX (16384) x BATCH (1), LoRA r64 alpha 16 on all 7 projections, dropout DROPOUT (0),
#     2 warm-up + STEPS (3) measured steps, STACKS (default: ours in PyTorch's attention order, ours with the defaults (auto: cuDNN
#     first on Hopper), the defaults with --base_matmul fp8, Unsloth) -> $OUT/sdpa_bench.json/.log, ratios against Unsloth.
# Everything within BUDGET seconds (560) from the start; CHECK=0 skips part 1.
set -o pipefail
T0=$SECONDS
WHEELS=".whl .whl-bench" source scripts/device/env.sh
export TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_DISABLE_LLM_COMPRESSOR_AUTOINSTALL=1 WANDB_MODE=offline
left() { echo $(( ${BUDGET:-560} - (SECONDS - T0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
SHAPE=${SHAPE:-llama2_7b}; CTX=${CTX:-16384}
STACKS=${STACKS:-ours_custom_qlora+sdpa_backend=torch,ours_custom_qlora,ours_custom_qlora+base_matmul=fp8,unsloth_qlora}
[ "${CHECK:-1}" = 1 ] && { echo "== [$((SECONDS - T0))s] the kernels alone"; timeout 150 python3 scripts/device/sdpa_check.py $OUT/sdpa.jsonl 2>&1 | grep -vE "Warning|warn\("; }
echo "== [$((SECONDS - T0))s] $SHAPE checkpoint"
timeout 150 python3 -c "from fsdp_qlora.benchmark import SHAPES, bench_checkpoint; print(bench_checkpoint(SHAPES['$SHAPE'], '/tmp/bench'))"
echo "== [$((SECONDS - T0))s] $SHAPE, $CTX x ${BATCH:-1}, dropout ${DROPOUT:-0.0}: $STACKS ($(left)s left)"
timeout $(left) python3 -m fsdp_qlora.benchmark --shape $SHAPE --context_length $CTX --batch_size ${BATCH:-1} --lora_rank 64 --lora_alpha 16 \
  --lora_dropout ${DROPOUT:-0.0} --steps ${STEPS:-3} --warmup_steps 2 --stacks $STACKS --baseline unsloth_qlora --work_dir /tmp/bench \
  --timeout 170 --output $OUT/sdpa_bench.json 2>&1 | grep -vE "Warning|warn\(|USDT" | tee $OUT/sdpa_bench.log
echo "== [$((SECONDS - T0))s] rc=$?"
python3 -c "import json, sys; from fsdp_qlora.benchmark import markdown_table; print(markdown_table(json.load(open(sys.argv[1]))))" $OUT/sdpa_bench.json
