#!/usr/bin/env bash
# Issue 5 runs on one host with 2 GPUs (run from the repo root; wheels in .whl/: bitsandbytes, peft, fastcore, hqq, termcolor, einops).
# PART selects a group, so each device call stays under 10 minutes:
#   PART=strategies  custom_qlora, qlora, hqq_lora, bnb_dora on a Llama-2-7B shape: 2 GPUs x {full_shard, shard_grad_op, ddp}
#                    and 1 GPU at the same global batch; tokens/s, peak memory, losses (20 steps)
#   PART=loading     --low_memory true/false on 2 GPUs: load time and peak host RSS per rank
#   PART=multinode   hybrid_full_shard on a 2x1 mesh via two torchrun agents (--nnodes 2, c10d rendezvous); SLURM dry run
#   PART=headline    Llama-2-70B shape written directly in NF4, custom_qlora (and hqq_lora 4-bit), batch 2, ctx 2048,
#                    CPU offload, each GPU capped at 24 GiB (--max_gpu_memory 24): s/step, peak GPU memory, peak host RSS
# Logs and a summary under $OUT; the lines "RESULT ..." are what the closing note quotes.
set -o pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if [ -d .whl ]; then python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1; export PYTHONPATH=/tmp/site:$PWD; else export PYTHONPATH=$PWD; fi
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
nvidia-smi --query-gpu=name,memory.total --format=csv
echo 'from fsdp_qlora.cli import train_cli; train_cli()' > /tmp/train.py
llama() {  # $1 dir, $2 7b|70b, $3 plain|bnb|hqq4
python3 - "$@" <<'PY'
import sys, time
from transformers import LlamaConfig
from fsdp_qlora.load import write_random_checkpoint, write_random_quantized
path, size, kind = sys.argv[1:4]
shape = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32) if size == '7b' else \
        dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8)
cfg = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False, **shape)
t = time.perf_counter()
if kind == 'plain': write_random_checkpoint(path, cfg, shard_bytes=4*2**30, device='cuda')
else: write_random_quantized(path, cfg, kind[:3], shard_bytes=4*2**30, device='cuda', **(dict(nbits=4) if kind == 'hqq4' else {}))
print(f"wrote {path} in {time.perf_counter() - t:.0f}s")
PY
[ -f $1/tokenizer.model ] || cp fsdp_qlora/assets/tokenizer-llama2/* $1/
}
summary() {  # $1 name, $2 log: one RESULT line
python3 - "$@" <<'PY'
import sys, re
name, log = sys.argv[1:3]; txt = open(log).read()
steps = [dict(re.findall(r'(\w+) ([-\d.e]+)', l)) for l in txt.splitlines() if l.startswith('step ')]
losses = [float(s['loss']) for s in steps]; tok = sorted(float(s['tok_s']) for s in steps[2:]) or [0]; dt = sorted(float(s['step_s']) for s in steps[2:]) or [0]
peak = re.findall(r'peak GPU memory: allocated ([\d.]+) GiB, reserved ([\d.]+) GiB; peak host RSS ([\d.]+) GiB', txt)
print(f"RESULT {name}: steps {len(losses)} median tok/s {tok[len(tok)//2]:.0f} median s/step {dt[len(dt)//2]:.2f} peak {peak[-1] if peak else 'n/a'} losses {[round(l, 4) for l in losses]}")
PY
}
run() {  # $1 name, $2 nproc, rest: flags
  name=$1 n=$2; shift 2
  timeout 900 python3 -m torch.distributed.run --standalone --nproc-per-node=$n /tmp/train.py --log_to stdout "$@" > $OUT/$name.log 2>&1
  echo "rc=$? $name"; summary $name $OUT/$name.log | tee -a $OUT/summary.txt
}
COMMON="--dataset alpaca_sample --context_length 2048 --lora_rank 64 --lora_alpha 16 --lr 1e-4 --precision bf16 --max_steps 20 --seed 0 --lora_dropout 0"
case ${PART:-strategies} in
strategies)
  llama /tmp/l7b 7b plain
  for tt in custom_qlora qlora hqq_lora bnb_dora; do
    run ${tt}_1gpu 1 --model_name /tmp/l7b --train_type $tt --batch_size 4 --use_cpu_offload false $COMMON
    for s in full_shard shard_grad_op ddp; do
      run ${tt}_2gpu_$s 2 --model_name /tmp/l7b --train_type $tt --batch_size 2 --sharding_strategy $s --use_cpu_offload false $COMMON
    done
  done ;;
loading)
  llama /tmp/l7b 7b plain
  for lm in true false; do run lowmem_$lm 2 --model_name /tmp/l7b --train_type custom_qlora --batch_size 2 --low_memory $lm --max_steps 2 --use_cpu_offload false; 
    grep -h "Loaded\|peak" $OUT/lowmem_$lm.log; done ;;
multinode)
  llama /tmp/l7b 7b plain
  PORT=29611
  for r in 0 1; do
    python3 -m torch.distributed.run --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d --rdzv-endpoint localhost:$PORT --rdzv-id mn \
      /tmp/train.py --log_to stdout --model_name /tmp/l7b --train_type custom_qlora --batch_size 2 --sharding_strategy hybrid_full_shard \
      --use_cpu_offload false $COMMON > $OUT/multinode_$r.log 2>&1 &
  done; wait; summary hybrid_2x1 $OUT/multinode_0.log | tee -a $OUT/summary.txt
  DRY_RUN=1 NODES=2 GPUS_PER_NODE=1 bash scripts/slurm/multinode.sbatch --model_name /tmp/l7b --train_type custom_qlora | tee $OUT/slurm_dry.txt ;;
headline)
  llama /tmp/l70b-nf4 70b bnb; du -sh /tmp/l70b-nf4
  run headline_custom_qlora 2 --model_name /tmp/l70b-nf4 --train_type custom_qlora --batch_size 2 --context_length 2048 --use_cpu_offload true \
    --use_gradient_checkpointing true --max_gpu_memory 24 --max_steps 3 --lr 1e-4 --dataset alpaca_sample ;;
esac
