#!/usr/bin/env bash
# --base_matmul on one GPU (speed notebook): library, dequant and fp8 side by side, and the FP8 acceptance check. Run from the repo root;
# carry .whl and .whl-bench (as bench.sh). The parts do not all fit one call of 9 minutes: make two calls,
#   PARTS=a WHEELS=".whl .whl-bench" bash scripts/device/fp8.sh       (about 7-8 minutes)
#   PARTS=bc WHEELS=".whl .whl-bench" bash scripts/device/fp8.sh      (about 7-8 minutes: c's graph breaks, b, then c's timings within BUDGET)
# (a) fsdp_qlora_bench on SHAPE (llama2_7b; or llama3_8b), context 2048 x batch 4, LoRA r64 alpha 16 on all 7 projections, dropout
#     DROPOUT (0), bf16, 2 warm-up + STEPS (5) measured steps: STACKS (default: ours with the defaults, with --base_matmul library,
#     dequant and fp8, and Unsloth) -> $OUT/fp8_bench.json/.log (logs in $OUT/fp8_bench_logs.tgz), then per stack the median tok/s,
#     peak allocated and reserved GiB and their ratios to unsloth_qlora.
# (b) the FP8 acceptance check: a LAYERS-layer (4) Llama-2-7B-shaped model with random weights, trained B_STEPS (120) steps on
#     alpaca-format rows whose responses fill the 2048-token context (long_data, scripts/multigpu/common.sh), batch B_BATCH (4),
#     lr 1e-4, seed 0, custom_qlora r64, once per row of B_ROWS ("dequant fp8 fp8_forward": bf16 GEMMs, FP8, FP8 forward only), FLAGS
#     added to each; then `curves_agree` (speed notebook) of each later row's loss curve against the first's: PASS/FAIL with the
#     numbers -> $OUT/fp8_train_<row>.log, $OUT/fp8_curves.txt. B_FLAG (default base_matmul) names the flag the rows set: for a MoE shape
#     B_SHAPE=olmoe_1b_7b B_FLAG=experts_kernel B_ROWS="grouped_gather_keep grouped_gather_fp8" FLAGS="--lora_target_modules all".
# (c) scripts/device/fp8_check.py: graph breaks per row on this torch (-> $OUT/fp8_breaks.jsonl), and one QuantLinear's forward +
#     backward at the 7B projection shapes, M = GEMM_M (8192) rows, per row, eager and compiled (-> $OUT/fp8_gemm.jsonl).
# The parts run in the order c (graph breaks), b, v, k, c (timings), a, each under `timeout`: (c) and (a) get at most what is left of BUDGET (520 s from the start),
# each stack of (a) BENCH_STACK_S (150). GEMM_HOW="eager compiled" (default) and GEMM_ROWS pick the timings of (c); GEMM_M=0 skips them,
# BREAKS_S=0 the graph breaks.
# (k) scripts/device/fp8_check.py kernels: the three projection layers compiled once and run in turn, as a model meets them (GEMM_ROWS,
#     M = GEMM_M): ms per layer, graph breaks, and each row's top kernels -> $OUT/fp8_kernels.jsonl, within KERNELS_S (150).
# (v) scripts/device/fp8_check.py convert: the NF4 -> FP8 conversion alone per form (CONVERT_FORMS: static, dynamic, select) and
#     shape (CONVERT_SHAPES: down_7b olmoe_gate_up), and the MoE FP8 row's whole compiled function -> $OUT/fp8_convert.jsonl, the
#     generated code in $OUT/convert/, within CONVERT_S (120).
# Smoke test without a GPU (fp8 and Unsloth are refused or skipped there):
#   PARTS=abc SHAPE=tiny CTX=64 PREC=fp32 STEPS=1 STACKS=ours_custom_qlora+base_matmul=library,ours_custom_qlora+base_matmul=dequant \
#     B_ROWS="library dequant" B_SHAPE=tiny B_CTX=256 B_STEPS=30 B_BATCH=2 FLAGS="--precision fp32" GEMM_M=0 bash scripts/device/fp8.sh
set -o pipefail
T0=$SECONDS
export WHEELS=${WHEELS:-".whl .whl-bench"}
_OMP=${OMP_NUM_THREADS:-4}
source scripts/multigpu/common.sh        # env.sh (wheels, PYTHONPATH, $OUT) and long_data
export OMP_NUM_THREADS=$_OMP TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
       UNSLOTH_DISABLE_LLM_COMPRESSOR_AUTOINSTALL=1 WANDB_MODE=offline
left() { local l=$(( ${BUDGET:-520} - (SECONDS - T0) )); echo $(( l > 30 ? l : 30 )); }
stamp() { echo "== [$((SECONDS - T0))s] $*"; }
cap() { local l=$(left); echo $(( $1 < l ? $1 : l )); }   # a part's timeout, within what is left of BUDGET
nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv 2>/dev/null
python3 -c "import torch, transformers, bitsandbytes; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__)"
PARTS=${PARTS:-a}

if [[ $PARTS == *c* && "${BREAKS_S:-150}" != 0 ]]; then
  stamp "(c) graph breaks per --base_matmul row"
  timeout $(cap ${BREAKS_S:-150}) python3 scripts/device/fp8_check.py breaks 2> $OUT/fp8_breaks.err | tee $OUT/fp8_breaks.jsonl; grep -E "Error|error" $OUT/fp8_breaks.err | tail -3
fi

if [[ $PARTS == *b* ]]; then
  D=/tmp/long.json; [ -f $D ] || long_data $D
  CK=/tmp/fp8_llama_${B_SHAPE:-llama2_7b}_${LAYERS:-4}l
  stamp "(b) ${LAYERS:-4}-layer ${B_SHAPE:-llama2_7b}-shaped random model -> $CK"
  [ -f $CK/.complete ] || timeout 120 python3 - $CK ${B_SHAPE:-llama2_7b} ${LAYERS:-4} <<'PY' && touch $CK/.complete
import sys, shutil, torch
from fsdp_qlora.benchmark import SHAPES
from fsdp_qlora.load import write_random_checkpoint
from fsdp_qlora.testing import tokenizer_path
path, shape, layers = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = SHAPES[shape].config(); cfg.num_hidden_layers = layers
write_random_checkpoint(path, cfg, device='cuda' if torch.cuda.is_available() else 'cpu')
for f in tokenizer_path().iterdir(): shutil.copy(f, f"{path}/{f.name}")
PY
  for ROW in ${B_ROWS:-dequant fp8 fp8_forward}; do
    stamp "(b) training, --${B_FLAG:-base_matmul} $ROW"
    timeout $(cap ${TRAIN_S:-150}) python3 /tmp/train.py --model_name $CK --train_type custom_qlora --world_size 1 --dataset $D \
      --context_length ${B_CTX:-2048} --batch_size ${B_BATCH:-4} --max_steps ${B_STEPS:-120} --dataset_samples 512 --lora_rank 64 \
      --lora_alpha 16 --lora_dropout 0 --lr 1e-4 --seed 0 --precision bf16 --use_cpu_offload false --log_to stdout --${B_FLAG:-base_matmul} $ROW ${FLAGS} 2>&1 \
      | grep -E "^step|peak|Speed defaults|Loaded|trainable|Error|error|Killed" > $OUT/fp8_train_$ROW.log
    echo "rc=$?"; grep -E "^step" $OUT/fp8_train_$ROW.log | sed -n '1p;$p'; grep -E "Speed defaults|peak|Error" $OUT/fp8_train_$ROW.log | tail -3
  done
  set -- ${B_ROWS:-dequant fp8 fp8_forward}; REF=$1; shift; : > $OUT/fp8_curves.txt
  for ROW in "$@"; do
    echo "-- --${B_FLAG:-base_matmul} $ROW against $REF:" | tee -a $OUT/fp8_curves.txt
    python3 scripts/device/fp8_check.py curves $OUT/fp8_train_$REF.log $OUT/fp8_train_$ROW.log | tee -a $OUT/fp8_curves.txt
  done
fi

if [[ $PARTS == *v* ]]; then
  stamp "(v) the NF4 -> FP8 conversion alone, per form and shape"
  timeout $(cap ${CONVERT_S:-120}) python3 scripts/device/fp8_check.py convert 2> $OUT/fp8_convert.err | tee $OUT/fp8_convert.jsonl; grep -E "Error|error" $OUT/fp8_convert.err | tail -3
fi

if [[ $PARTS == *k* ]]; then
  stamp "(k) the three projection layers in turn, compiled once, per row: ms, graph breaks and top kernels"
  timeout $(cap ${KERNELS_S:-150}) python3 scripts/device/fp8_check.py kernels ${GEMM_M:-8192} 2> $OUT/fp8_kernels.err | tee $OUT/fp8_kernels.jsonl; grep -E "Error|error" $OUT/fp8_kernels.err | tail -3
fi

if [[ $PARTS == *c* && "${GEMM_M:-8192}" != 0 ]]; then
  stamp "(c) one QuantLinear forward + backward per row, M=${GEMM_M:-8192}"
  timeout $(cap ${GEMM_S:-200}) python3 scripts/device/fp8_check.py gemm ${GEMM_M:-8192} 2> $OUT/fp8_gemm.err | tee $OUT/fp8_gemm.jsonl; grep -E "Error|error" $OUT/fp8_gemm.err | tail -3
fi

[[ $PARTS == *a* ]] || exit 0
SHAPE=${SHAPE:-llama2_7b}
STACKS=${STACKS:-ours_custom_qlora,ours_custom_qlora+base_matmul=library,ours_custom_qlora+base_matmul=dequant,ours_custom_qlora+base_matmul=fp8,unsloth_qlora}
stamp "(a) side by side on $SHAPE: $STACKS ($(left)s left)"
timeout -k 15 $(left) python3 -m fsdp_qlora.benchmark --shape $SHAPE --stacks $STACKS --baseline unsloth_qlora --context_length ${CTX:-2048} \
  --batch_size ${BATCH:-4} --lora_rank 64 --lora_alpha 16 --lora_dropout ${DROPOUT:-0} --steps ${STEPS:-5} --warmup_steps 2 --precision ${PREC:-bf16} \
  --work_dir /tmp/bench --output $OUT/fp8_bench.json --timeout ${BENCH_STACK_S:-150} 2>&1 | grep -vE "Warning|warn\(" | tee $OUT/fp8_bench.log
echo "rc=$?"
tar czf $OUT/fp8_bench_logs.tgz -C /tmp/bench/logs . 2>/dev/null; rm -rf /tmp/bench/logs/*
python3 - $OUT/fp8_bench.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); st = r['stacks']; u = st.get('unsloth_qlora', {})
ok = lambda s: s.get('status') == 'ok'
ratio = lambda s, k: f"{s[k]/u[k]:.2f}" if ok(u) and ok(s) and s.get(k) and u.get(k) else ''
print(f"{r['device']}, torch {r['torch']}; median of the measured steps; ratios to unsloth_qlora")
print('| stack | tok/s | peak alloc GiB | peak reserved GiB | tok/s ÷ U | alloc ÷ U | reserved ÷ U | loss first / last |')
print('|---|---|---|---|---|---|---|---|')
for n, s in st.items():
    if not ok(s): print(f"| {n} | {s.get('note')} |||||||"); continue
    f = lambda k, spec='.2f': '' if s.get(k) is None else format(s[k], spec)
    print(f"| {n} | {f('tok_s', ',.0f')} | {f('peak_alloc_gib')} | {f('peak_reserved_gib')} | {ratio(s, 'tok_s')} | {ratio(s, 'peak_alloc_gib')} | "
          f"{ratio(s, 'peak_reserved_gib')} | {s['losses'][0]:.4f} / {s['losses'][-1]:.4f} |")
PY
