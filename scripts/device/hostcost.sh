#!/usr/bin/env bash
# Host cost of the MoE QLoRA step on one GPU (issue 24), every number in one call of <= 9 minutes (repo root; carry .whl and .whl-bench):
# the OLMoE-1B-7B-shaped random checkpoint (fsdp_qlora.benchmark's olmoe_1b_7b, bf16, ~13 GB) is written to /tmp, then
# scripts/hostcost.py run trains on it in-process (fsdp_qlora_train, world size 1, context CTX (2048) x batch 2, LoRA r16 on attention
# and every expert, the GPU defaults: --experts_kernel/--compile/--loss/--use_activation_cpu_offload auto), STEPS (16) steps, for each
# row of RUNS (default "old new": OLD_SYNCS=1 puts back the host waits this branch removed; new is the branch as it is), then each of
# EXTRA (e.g. "--experts_kernel=grouped_gather") with the new code. Each run prints one JSON line -> $OUT/hostcost.jsonl:
#   step_s            median wall time of the steps after WARM (3), the sync-debug step and the PSTEPS (3) traced ones (no profiler on)
#   syncs_per_step    host waits for the GPU in step WARM (torch.cuda.set_sync_debug_mode('warn')), syncs: where
#   gpu_busy_s        the GPU's busy time a step (union of kernel intervals; CUDA-only tracing over PSTEPS steps) vs traced_wall_s
# Host-bound when gpu_busy_s << step_s. PYSPY=1 samples the "new" row with py-spy (non-blocking, 100 Hz; from .whl-bench) into
# $OUT/pyspy_new.txt (collapsed stacks: `python3 scripts/device/pyspy_top.py FILE` ranks the functions by own and total samples). Logs in $OUT/hostcost_<row>.log. The checkpoint is deleted at the end (disk).
#   WHEELS=".whl .whl-bench" bash scripts/device/hostcost.sh
# Smoke test without a GPU (the proxy, tiny): python scripts/hostcost.py write /tmp/hc 64 8 && python scripts/hostcost.py run /tmp/hc
set -o pipefail
T0=$SECONDS
WHEELS=${WHEELS:-".whl .whl-bench"} source scripts/device/env.sh
export TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=offline
left() { local l=$(( ${BUDGET:-520} - (SECONDS - T0) )); echo $(( l > 20 ? l : 20 )); }
stamp() { echo "== [$((SECONDS - T0))s] $*"; }
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null; nproc
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
CK=/tmp/hostcost_ck
stamp "writing the OLMoE-1B-7B-shaped checkpoint"
timeout ${WRITE_S:-200} python3 scripts/hostcost.py olmoe $CK 2>&1 | grep -vE "Warning|warn\(" | tail -2
GPU_FLAGS="--context_length=${CTX:-2048} --experts_kernel=auto --compile=auto --loss=auto --use_activation_cpu_offload=auto"
run_row() {   # name, OLD_SYNCS, extra flags...
  local name=$1 old=$2; shift 2
  stamp "run $name ($(left)s left)"
  OLD_SYNCS=$old STEPS=${STEPS:-16} WARM=${WARM:-3} PSTEPS=${PSTEPS:-3} timeout -k 10 $(( $(left) < ${RUN_S:-150} ? $(left) : ${RUN_S:-150} )) \
    $( [[ ${PYSPY:-0} == 1 && $name == new ]] && echo "/tmp/site/bin/py-spy record -r 100 --nonblocking -f raw -o $OUT/pyspy_new.txt --" ) python3 scripts/hostcost.py run $CK/olmoe_1b_7b $GPU_FLAGS "$@" > $OUT/hostcost_$name.log 2>&1
  echo "rc=$?"; grep -E "^step [0-9]+:|Error|error" $OUT/hostcost_$name.log | tail -4
  tail -1 $OUT/hostcost_$name.log | grep '^{' | python3 -c "import json, sys; r = json.load(sys.stdin); r['row'] = '$name'; print(json.dumps(r))" | tee -a $OUT/hostcost.jsonl
}
for r in ${RUNS:-old new}; do run_row $r $([[ $r == old ]] && echo 1 || echo 0); done
i=0; for e in $EXTRA; do i=$((i+1)); run_row "new_extra$i" 0 $e; done
rm -rf $CK
stamp "done"
