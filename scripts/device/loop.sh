#!/usr/bin/env bash
# Training-loop checks on a GPU machine (run from the repo root; wheels carried in .whl/).
# A small Llama (8 layers, hidden 1024) on every GPU with NCCL: CPU offload (the 2-backend process group),
# activation offload, accumulation with no_sync, packing, fused AdamW, profiling (trace + memory snapshot).
# Prints one summary line per run: first/last loss, peak GPU memory, peak host RSS; logs and traces under $OUT.
set -o pipefail
source scripts/device/env.sh
N=$(nvidia-smi -L | wc -l)
python3 -c "from fsdp_qlora.testing import make_tiny_checkpoint as m; m('/tmp/small-llama', n_layers=8, max_shard_size='200MB', hidden_size=1024, intermediate_size=2816, num_attention_heads=16, num_key_value_heads=16)" > /dev/null
train() { name=$1; shift
  python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name /tmp/small-llama --train_type custom_qlora --batch_size 4 \
    --context_length 1024 --lora_rank 16 --lr 1e-4 --log_to stdout --dataset alpaca_sample --max_steps 8 --world_size $N "$@" > $OUT/$name.log 2>&1
  rc=$?
  echo "$name rc=$rc | $(grep -h 'Finished' $OUT/$name.log | tail -1) | $(grep -h 'peak GPU' $OUT/$name.log | tail -1)"
  [ $rc = 0 ] || grep -v Warning $OUT/$name.log | tail -5
}
python3 -m fsdp_qlora.testing /tmp/tiny-llama > /dev/null
for tt in qlora custom_qlora; do   # the foundation issue's 20-step runs, on every GPU with CPU offload (needs the 2-backend group)
  echo "== tiny $tt world_size=$N use_cpu_offload=true"
  python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name /tmp/tiny-llama --batch_size 2 --context_length 512 --lora_rank 8 --lr 1e-3 \
    --log_to stdout --max_steps 20 --train_type $tt --world_size $N --use_cpu_offload true 2>&1 | grep -vE "Warning|warn" | tail -5
done
train offload_off       --use_cpu_offload false
train offload_on        --use_cpu_offload true
train act_offload       --use_cpu_offload false --use_activation_cpu_offload true
train no_ckpt           --use_cpu_offload false --use_gradient_checkpointing false
train accum_offload     --use_cpu_offload true --gradient_accumulation_steps 2 --batch_size 2
train accum_no_sync     --use_cpu_offload false --gradient_accumulation_steps 2 --batch_size 2 --no_sync true
train packing           --use_cpu_offload false --packing true
train fused_adamw       --use_cpu_offload false --optimizer fused_adamw
train shard_grad_op     --use_cpu_offload false --sharding_strategy shard_grad_op
train ddp               --use_cpu_offload false --sharding_strategy ddp
train qlora_offload     --use_cpu_offload true --train_type qlora
train profile           --use_cpu_offload false --profile true --profiling_output $OUT/profile --warmup_steps 1 --active_steps 2 --profiling_frequency 5 --export_memory_timeline true --profile_memory true --max_steps 6
ls -la $OUT/profile | head -20
grep -h "step 8" $OUT/offload_off.log | head -2
