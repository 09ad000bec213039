#!/usr/bin/env bash
# Checkpoint/resume and conversion on GPUs (run from the repo root; wheels carried in .whl/ when packages are missing).
# 1. qlora bf16 on every GPU (NCCL), uninterrupted vs SIGKILLed after its first checkpoint and resumed with --resume_from latest,
#    with and without CPU offload: the final adapters and every step's loss must be equal.
# 2. The PEFT folder written by --save_model loads with PeftModel on a bnb 4-bit base on the GPU; the merged model loads and
#    its logits are close to the unmerged PEFT model's on the bf16 base. 3. A --lr 1e30 run stops at the first non-finite loss.
set -o pipefail
source scripts/device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
N=$(nvidia-smi -L | wc -l)
python3 -m fsdp_qlora.testing /tmp/tiny-llama > /dev/null
echo 'from fsdp_qlora.cli import train_cli; train_cli()' > /tmp/train.py
cmd() { echo python3 -m torch.distributed.run --standalone --nproc-per-node=$N /tmp/train.py --model_name /tmp/tiny-llama --train_type qlora \
  --precision bf16 --batch_size 2 --context_length 256 --lora_rank 8 --lr 1e-3 --lora_dropout 0.1 --log_to stdout --max_steps 24 --save_steps 5 \
  --keep_last 2 --save_model true "$@"; }
for off in false true; do
  echo "== uninterrupted, use_cpu_offload=$off"
  $(cmd --use_cpu_offload $off --output_dir /tmp/A_$off) > $OUT/A_$off.log 2>&1; echo "rc=$?"; grep -E "^step|Saved|Finished|Error|error" $OUT/A_$off.log | tail -4
  echo "== killed after the first checkpoint, then resumed"
  $(cmd --use_cpu_offload $off --output_dir /tmp/B_$off) > $OUT/B1_$off.log 2>&1 &
  PID=$!
  for i in $(seq 1 3000); do ls /tmp/B_$off/checkpoints/step-*/COMPLETE.json >/dev/null 2>&1 && break; sleep 0.05; done
  # torchrun starts each worker in its own session: kill the workers (the launcher's children) and the launcher by pid
  WORKERS=$(pgrep -P $PID | tr '\n' ' '); kill -9 $WORKERS $PID; wait $PID 2>/dev/null
  echo "killed launcher $PID and workers $WORKERS; checkpoints: $(ls /tmp/B_$off/checkpoints | tr '\n' ' ')"
  $(cmd --use_cpu_offload $off --output_dir /tmp/B_$off --resume_from latest) > $OUT/B2_$off.log 2>&1; echo "rc=$?"; grep -E "Resumed|Finished|Error|error" $OUT/B2_$off.log | tail -3
  python3 - $off <<'PY' 2>&1 | tee -a $OUT/results.txt
import sys, torch, json
from safetensors.torch import load_file
from fsdp_qlora.checkpoint import find_latest
off = sys.argv[1]
a, b = load_file(f'/tmp/A_{off}/model_state_dict.safetensors'), load_file(f'/tmp/B_{off}/model_state_dict.safetensors')
ha = torch.load(find_latest(f'/tmp/A_{off}/checkpoints')/'trainer_state.pt')['history']
hb = torch.load(find_latest(f'/tmp/B_{off}/checkpoints')/'trainer_state.pt')['history']
print(json.dumps(dict(offload=off, same_keys=sorted(a) == sorted(b), adapters_equal=all(torch.equal(a[k], b[k]) for k in a),
      max_adapter_diff=max((a[k].float() - b[k].float()).abs().max().item() for k in a),
      losses_equal=[h['loss'] for h in ha] == [h['loss'] for h in hb], max_loss_diff=max(abs(x['loss'] - y['loss']) for x, y in zip(ha, hb)),
      steps=len(hb))))
PY
done
echo "== convert and load"
python3 - <<'PY' 2>&1 | grep -v Warning | tee -a $OUT/results.txt
import torch, json
from transformers import AutoModelForCausalLM, BitsAndBytesConfig
from peft import PeftModel
from fsdp_qlora.convert import fsdp_qlora_convert
ids = torch.arange(1, 65, device='cuda')[None]*7
q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_compute_dtype=torch.bfloat16)
qbase = AutoModelForCausalLM.from_pretrained('/tmp/tiny-llama', quantization_config=q, dtype=torch.bfloat16, device_map='cuda')
with torch.no_grad():
    l0 = qbase(input_ids=ids).logits.float()
    l_peft_q = PeftModel.from_pretrained(qbase, '/tmp/A_false/peft_adapter')(input_ids=ids).logits.float()
fsdp_qlora_convert('/tmp/A_false/model_state_dict.safetensors', '/tmp/merged', to='merged')
base = AutoModelForCausalLM.from_pretrained('/tmp/tiny-llama', dtype=torch.bfloat16, device_map='cuda')
merged = AutoModelForCausalLM.from_pretrained('/tmp/merged', device_map='cuda')
with torch.no_grad():
    l_unmerged = PeftModel.from_pretrained(base, '/tmp/A_false/peft_adapter')(input_ids=ids).logits.float()
    l_merged = merged(input_ids=ids).logits.float()
print(json.dumps(dict(adapter_moved_logits=(l_peft_q - l0).abs().max().item(), merged_vs_unmerged=(l_merged - l_unmerged).abs().max().item(),
      logit_scale=l_unmerged.abs().max().item(), merged_vs_quantized_peft=(l_merged - l_peft_q).abs().max().item())))
PY
echo "== divergence"
$(cmd --use_cpu_offload false --output_dir /tmp/C --lr 1e30 --save_steps 1) > $OUT/C.log 2>&1; echo "rc=$? (expect non-zero)"
grep -m1 "error: loss is" $OUT/C.log; ls /tmp/C /tmp/C/checkpoints
