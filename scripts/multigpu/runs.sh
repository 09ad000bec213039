#!/usr/bin/env bash
# Multi-GPU runs of issues 5 (two GPUs) and 6 (four GPUs), one group per PART, run from the repo root:
#
#   PARTS="strategies loading" GPUS="0 1 2 3" bash scripts/multigpu/runs.sh
#
# Jobs go through a queue over the GPU ids in $GPUS (a 2-GPU job takes two free ids), so on a 4-GPU host two
# 2-GPU runs go side by side; on a 2-GPU host (GPUS="0 1") the same jobs run one after another.
#   strategies  custom_qlora, qlora, hqq_lora, bnb_dora, Llama-2-7B shape: 1 GPU at batch 4, and 2 GPUs at batch 2
#               under full_shard, shard_grad_op and ddp (same global batch and data order): 20 steps each
#   loading     --low_memory true / false on 2 GPUs: load time, time to shard, peak host RSS of each rank
#   multinode   hybrid_full_shard on a 2x1 mesh: two torchrun agents (--nnodes 2 --nproc-per-node 1, c10d rendezvous)
#               on this host; and the SLURM script's dry run
#   hybrid22    hybrid_full_shard and hybrid_shard_grad_op on a 2x2 mesh: two agents of 2 GPUs each (4 GPUs)
#   scaling     full_shard at batch 2 per GPU on 1, 2 (from strategies) and 4 GPUs, and 1 GPU at batch 8 (the
#               4-GPU run's global batch) for the losses
#   l70b4       Llama-2-70B shape in NF4 across 4 GPUs without CPU offload
#   headline    Llama-2-70B shape in NF4 (custom_qlora) and HQQ 4-bit (hqq_lora) on 2 GPUs, batch 2, context 2048,
#               --use_cpu_offload true, each GPU capped at 24 GiB (--max_gpu_memory 24)
# Every data row fills the 2048-token context (see long_data), so tokens/s compare across runs.
# Results: one JSON line per job in $OUT/results.jsonl, logs in $OUT/<job>.log.
# SMOKE=1 runs the same jobs on a tiny model (CPU works: gloo), to check the script itself.
source scripts/multigpu/common.sh
D=${DATA:-/tmp/long.json}; M7=${M7:-/tmp/l7b}; M70=${M70:-/tmp/l70b-nf4}; H70=${H70:-/tmp/l70b-hqq4}
CTX=${CTX:-2048}; STEPS=${STEPS:-20}; R=${RANK:-64}
if [ "${SMOKE:-0}" = 1 ]; then
  for m in $M7 $M70 $H70; do [ -f $m/.complete ] || { python3 -m fsdp_qlora.testing $m > /dev/null && touch $m/.complete; }; done
  CTX=64 STEPS=3 R=4
fi
[ -f $D ] || long_data $D
COMMON="--dataset $D --context_length $CTX --lora_rank $R --lora_alpha 16 --lr 1e-4 --precision bf16 --seed 0 --lora_dropout 0"
S7="--model_name $M7 --use_cpu_offload false --max_steps $STEPS $COMMON"
T=$'\t'
TTS=${TTS:-custom_qlora qlora hqq_lora bnb_dora}

jobs_strategies() {
  for tt in $TTS; do echo "1${T}trun ${tt}_1gpu 1 --train_type $tt --batch_size 4 $S7"; done
  for tt in $TTS; do for s in full_shard shard_grad_op ddp; do
    echo "2${T}trun ${tt}_2gpu_$s 2 --train_type $tt --batch_size 2 --sharding_strategy $s $S7"; done; done
}
jobs_loading() {
  for lm in true false; do echo "2${T}trun lowmem_$lm 2 --train_type custom_qlora --batch_size 2 --low_memory $lm --model_name $M7 --use_cpu_offload false --max_steps 2 $COMMON"; done
}
jobs_multinode() { echo "2${T}agents hybrid_2x1 2 1 --train_type custom_qlora --batch_size 2 --sharding_strategy hybrid_full_shard $S7"; }
jobs_scaling() {
  echo "1${T}trun scale_1gpu 1 --train_type custom_qlora --batch_size 2 $S7"
  echo "1${T}trun ref_1gpu_b8 1 --train_type custom_qlora --batch_size 8 $S7"
  echo "4${T}trun scale_4gpu 4 --train_type custom_qlora --batch_size 2 --sharding_strategy full_shard $S7"
}
jobs_hybrid22() { for s in hybrid_full_shard hybrid_shard_grad_op; do echo "4${T}agents ${s}_2x2 2 2 --train_type custom_qlora --batch_size 2 --sharding_strategy $s $S7"; done; }
jobs_l70b4() { echo "4${T}trun l70b_4gpu 4 --model_name $M70 --train_type custom_qlora --batch_size 2 --use_cpu_offload false --max_steps 4 $COMMON"; }
jobs_headline() {
  H="--batch_size 2 --use_cpu_offload true --max_gpu_memory 24 --max_steps 4 $COMMON"
  echo "2${T}trun headline_custom_qlora 2 --model_name $M70 --train_type custom_qlora $H"
  echo "2${T}trun headline_hqq_lora 2 --model_name $H70 --train_type hqq_lora --n_bits 4 $H"
}
if [ "${SMOKE:-0}" = 1 ]; then jobs_headline() { echo "2${T}trun headline_custom_qlora 2 --model_name $M70 --train_type custom_qlora --batch_size 2 --max_steps 2 $COMMON"; }; fi

for p in ${PARTS:-strategies}; do
  case $p in
    strategies|loading|multinode|scaling|hybrid22) [ "${SMOKE:-0}" = 1 ] || llama $M7 7b plain ;;
    l70b4) [ "${SMOKE:-0}" = 1 ] || llama $M70 70b bnb ;;
    headline) [ "${SMOKE:-0}" = 1 ] || { llama $M70 70b bnb; llama $H70 70b hqq4; } ;;
  esac
done
for p in ${PARTS:-strategies}; do jobs_$p; done | queue
if [[ " ${PARTS:-strategies} " == *" multinode "* ]]; then
  DRY_RUN=1 NODES=2 GPUS_PER_NODE=1 bash scripts/slurm/multinode.sbatch --model_name $M7 --train_type custom_qlora --sharding_strategy hybrid_full_shard | tee $OUT/slurm_dry.txt
fi
echo "== results"; cat $OUT/results.jsonl | python3 -c '
import sys, json
for l in sys.stdin:
    r = json.loads(l); pk = r["peaks"]
    print(f"{r[\"name\"]:32s} rc {r[\"rc\"]} steps {r[\"steps\"]:2d} tok/s/GPU {r[\"tok_s_per_gpu\"] or 0:8.0f} s/step {r[\"s_per_step\"] or 0:6.2f} "
          f"load {r[\"load_s\"]} shard {r[\"shard_s\"]} peak alloc {[v.get(\"alloc\") for v in pk.values()]} rss {[v[\"rss\"] for v in pk.values()]} "
          f"loss {r[\"losses\"][:1]}..{r[\"losses\"][-1:]} {r[\"error\"] or \"\"}")'
