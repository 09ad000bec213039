#!/usr/bin/env bash
# Foundation checks on a GPU machine (run from the repo root; wheels carried in .whl/ when packages are missing).
# 1. FSDP2 bit-exact self-check over NCCL on every GPU; 2. qlora and custom_qlora, 20 steps each, on a tiny model.
set -o pipefail
source scripts/device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__, 'peft', peft.__version__)"
N=$(nvidia-smi -L | wc -l)
echo "== bit-exact check, $N GPUs"
FSDP_QLORA_CHECK_OUT=$OUT/bitexact.json python3 -m torch.distributed.run --standalone --nproc-per-node=$N -m fsdp_qlora.fsdp 2>&1 | grep -v Warning | tee $OUT/bitexact.log
python3 -m fsdp_qlora.testing /tmp/tiny-llama > /dev/null
train() { python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name /tmp/tiny-llama --batch_size 2 --context_length 512 \
  --lora_rank 8 --lr 1e-3 --log_to stdout --max_steps 20 "$@"; }
for ws in 1 $N; do
  for tt in qlora custom_qlora; do
    for off in true false; do
      echo "== $tt world_size=$ws use_cpu_offload=$off"
      train --train_type $tt --world_size $ws --use_cpu_offload $off --save_model true --output_dir /tmp/o_${tt}_$ws 2>&1 | grep -vE "Warning|warn" | tail -8 | tee -a $OUT/train.log
    done
  done
  [ "$N" = 1 ] && break
done
