#!/usr/bin/env bash
# Two GPUs over NCCL (run from the repo root on a 2-GPU machine): a small Llama-shaped custom_qlora run, one GPU with batch 4
# against two GPUs with batch 2 each (the same global batch), with the default flags (CPU offload: adapters in their own
# FSDP group on the GPU), with --checkpoint_halves and activation offload, and the same compiled. Prints each run's losses.
source scripts/multigpu/common.sh
python3 -c "from fsdp_qlora.testing import make_tiny_checkpoint as m; m('/tmp/small', n_layers=4, hidden_size=512, intermediate_size=1024, num_attention_heads=8, num_key_value_heads=8)" || exit 1
common="--model_name /tmp/small --train_type custom_qlora --context_length 256 --dataset_samples 96 --max_steps 10 --lora_rank 8 --lr 1e-3 --lora_dropout 0 --log_to stdout"
run() { name=$1; shift; fsdp_qlora_train $common "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(grep -oE 'loss [0-9.]+' $OUT/$name.log | cut -d' ' -f2 | tr '\n' ' ')"; }
run one --world_size 1 --batch_size 4
run two --world_size 2 --batch_size 2
run two_halves --world_size 2 --batch_size 2 --checkpoint_halves true --use_activation_cpu_offload true
run two_halves_compiled --world_size 2 --batch_size 2 --checkpoint_halves true --use_activation_cpu_offload true --compile true --loss chunked
