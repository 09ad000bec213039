#!/usr/bin/env bash
# Where the GPU memory peak of a training step goes: the 7B benchmark checkpoint (random weights, written here once),
# ours with FLAGS (default: the lean stack's without --compile), 4 steps with --profile_memory true, then mem_peak.py on the snapshot.
# Carry .whl. Env: FLAGS to change the run; MAX_STEPS.
# Not with --compile: on torch 2.11 (H100, 2026-11-26) recording the allocator's history made the first compiled step
# fail ("SystemError: <built-in method apply of FunctionMeta object> returned NULL without setting an exception").
WHEELS=".whl" source scripts/device/env.sh
python3 -c "from fsdp_qlora.benchmark import SHAPES, bench_checkpoint; bench_checkpoint(SHAPES['llama2_7b'], '/tmp/bench')" 2>&1 | tail -1
CK=/tmp/bench/llama2_7b
FLAGS=${FLAGS:---loss chunked --use_activation_cpu_offload true}
python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name $CK --train_type custom_qlora --world_size 1 --batch_size 4 --context_length 2048 --dataset random_tokens \
  --dataset_samples 32 --max_steps ${MAX_STEPS:-4} --lora_rank 64 --lora_alpha 16 --lora_target_modules all --optimizer adamw --lr_scheduler constant \
  --use_cpu_offload false --low_memory false --log_to stdout --profile_memory true --profiling_output /tmp/memprof $FLAGS 2>&1 | grep -E "^step|peak|Wrote|Error|error"
python3 scripts/device/mem_peak.py /tmp/memprof/memory_snapshot_rank0.pickle ${TOP:-25}
