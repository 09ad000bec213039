#!/usr/bin/env bash
# MoE QLoRA on one GPU (run from the repo root; carry .whl as for foundation.sh):
# 1. scripts/device/moe_gemm.py: the expert GEMMs of one Qwen3-30B-A3B layer, loop vs grouped (vs transformers' bf16 kernels);
# 2. writes a Qwen3-30B-A3B-shaped checkpoint (LAYERS decoder layers, default all 48; 128 experts, top 8) with random weights
#    directly in NF4 (write_random_quantized: never a bf16 copy, ~17 GB for 48 layers), then trains custom_qlora on it for
#    MAX_STEPS steps with each --experts_kernel: tokens/s, peak GPU memory and host RSS per step (stdout lines).
# Results: $OUT/moe_gemm.jsonl, $OUT/moe_train_<kernel>.log. Env: LAYERS, MAX_STEPS, CTX, FLAGS (extra train flags; default
# --compile false: the expert loop syncs on the hit experts, untried under torch.compile).
set -o pipefail
source scripts/device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 scripts/device/moe_gemm.py 4096 10 2>&1 | grep -v Warning | tee $OUT/moe_gemm.jsonl
CK=/tmp/qwen3_30b_a3b_nf4
python3 - <<PY || exit 1
import time, torch
from transformers import Qwen3MoeConfig
from fsdp_qlora.load import write_random_quantized
cfg = Qwen3MoeConfig(hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768, num_experts=128, num_experts_per_tok=8,
                     num_hidden_layers=${LAYERS:-48}, num_attention_heads=32, num_key_value_heads=4, head_dim=128, vocab_size=151936,
                     max_position_embeddings=40960, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
t = time.perf_counter()
write_random_quantized("$CK", cfg, backend='bnb', shard_bytes=4*2**30, device='cuda')
print(f"wrote {cfg.num_hidden_layers}-layer Qwen3-30B-A3B-shaped NF4 checkpoint in {time.perf_counter() - t:.0f}s")
PY
du -sh $CK
for K in loop grouped; do
  echo "== --experts_kernel $K"
  python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name $CK --train_type custom_qlora --world_size 1 --batch_size 1 \
    --context_length ${CTX:-2048} --dataset random_tokens --dataset_samples 16 --max_steps ${MAX_STEPS:-6} --lora_rank 16 --lora_alpha 32 \
    --lora_dropout 0 --lora_target_modules all --log_to stdout --experts_kernel $K ${FLAGS:---compile false} 2>&1 \
    | grep -E "^step|peak|Loaded|Sharded|trainable|Error|error" | tee $OUT/moe_train_$K.log
done
