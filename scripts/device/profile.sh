#!/usr/bin/env bash
# Where one step of ours spends its GPU time (run from the repo root, after or without bench.sh): the Llama-2-7B
# benchmark setting (fsdp_qlora.benchmark's flags for STACK, default ours_custom_qlora_lean), step 4 profiled with a
# Chrome trace, then scripts/device/gaps.py prints GPU busy time and the longest idle gaps, and the kernel table
# goes to $OUT/kernels.txt. Carry .whl. Env: STACK (a benchmark row, or ROW+flag=value), SHAPE (default llama2_7b), DROPOUT (default 0.0).
set -o pipefail
source scripts/device/env.sh
STACK=${STACK:-ours_custom_qlora_lean}
python3 - "$STACK" "${SHAPE:-llama2_7b}" "${DROPOUT:-0.0}" <<'PY'
import sys
from pathlib import Path
from fsdp_qlora.benchmark import stack_of, SHAPES, BenchSettings, bench_checkpoint, ours_flags
from fsdp_qlora.cli import TrainConfig, train, free_port
stack, shape, dropout = sys.argv[1], sys.argv[2], float(sys.argv[3])
path = bench_checkpoint(SHAPES[shape], Path('/tmp/bench'))
s = BenchSettings(lora_dropout=dropout, profile_step=4, profile_dir='/tmp/prof_stack')
flags = ours_flags(stack_of(stack), s, path, int(free_port()), Path('/tmp/out_prof')) | dict(export_trace=True)
print(flags)
train(TrainConfig(**flags))
PY
echo "rc=$?"
cp /tmp/prof_stack/kernels_rank0_step4.txt $OUT/kernels.txt; rm -rf /tmp/prof_stack.last; mv /tmp/prof_stack /tmp/prof_stack.last
python3 scripts/device/gaps.py /tmp/prof_stack.last/trace_rank0_step4.json 25 | tee $OUT/gaps.txt
