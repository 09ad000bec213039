#!/usr/bin/env bash
# MoE QLoRA on one GPU, every number in one call of <= 9 minutes (run from the repo root; carry .whl and .whl-bench, as bench.sh):
# (a) scripts/device/moe_gemm.py: the expert GEMMs of one Qwen3-30B-A3B layer, every --experts_kernel row, plain and checkpointed
#     (vs transformers' bf16 kernels) -> $OUT/moe_gemm.jsonl; the fastest plain row is used below (KERNEL=loop|grouped|... forces one);
# (b) a Qwen3-30B-A3B-shaped checkpoint (LAYERS of 48; 128 experts, top 8) with random weights written directly in NF4
#     (scripts/device/moe_bench.py write: never a bf16 copy, ~17 GB, write time measured), then custom_qlora training on it,
#     --lora_target_modules all (attention + every expert), r16, context CTX, MAX_STEPS steps, --experts_kernel of (a)
#     (KERNELS="loop grouped" for both), FLAGS (default --compile false): tokens/s, peak GPU memory, host RSS
#     -> $OUT/moe_write.json, $OUT/moe_train_<kernel>.log and .json; the checkpoint is deleted afterwards (disk);
# (c) fsdp_qlora_bench on SHAPE (default olmoe_1b_7b: bf16 checkpoint 13 GB, written per expert), context 2048, batch BATCH (2),
#     LoRA r16 alpha 32, 2 warm-up + STEPS (3) measured steps, STACKS (default: ours with (a)'s kernel and auto speed flags (compile off for MoE),
#     hf_qlora, unsloth_qlora, ours with --compile true) -> $OUT/moe_bench.json, .log, logs in $OUT/moe_bench_logs.tgz.
#     PROFILE_STEP (e.g. 4, of the 2 + STEPS steps): each stack's kernel table of that step, in moe_bench_logs.tgz (STACK_profile/).
# (s) scripts/device/moe_bench.py sync: each grouped EXPERT_KERNELS row on one OLMoE-1B-7B-shaped decoder layer: graph breaks
#     (torch._dynamo.explain), a forward + backward under torch.cuda.set_sync_debug_mode('error'), eager ms (compiled ms for the
#     rows in SYNC_COMPILE) -> $OUT/moe_sync.jsonl.
# BASELINE (default hf_qlora) is the stack the table divides by; BREAKS=1 (default) sets TORCH_LOGS=graph_breaks,recompiles for (c),
# so each stack's log in moe_bench_logs.tgz names any graph break or recompile of the real run.
# (n) the MoE chapter's GPU cells (scripts/device/nb_cells.py --only-flags cuda nbs/19_moe.ipynb: every exact row agrees with the
#     loop in bf16; the FP8 GEMM against a float64 product of its own codes, the FP8 row against the bf16 row) -> $OUT/moe_nb_cuda.log.
# The A/B of the expert kernels and the offload default (one call, <= 9 minutes; MoE and speed chapters): (n), (s) on every grouped
# row, then (c) on OLMoE: ours with auto flags (grouped, compiled, activation offload auto: off at this size), Unsloth, other
# grouped rows, offload forced on, the last of 2 + STEPS steps profiled (STACK_profile/ in moe_bench_logs.tgz):
#   PARTS=nsc BUDGET=530 NB_S=60 STEPS=4 PROFILE_STEP=6 BASELINE=unsloth_qlora SYNC_COMPILE=grouped_gather \
#     STACKS=ours_custom_qlora,unsloth_qlora,ours_custom_qlora+experts_kernel=grouped_gather,ours_custom_qlora+experts_kernel=grouped_gather_fp8,\
#ours_custom_qlora+use_activation_cpu_offload=true,ours_custom_qlora+experts_kernel=grouped_gather_keep WHEELS=".whl .whl-bench" bash scripts/device/moe_bench.sh
# PARTS (default abc; n and s on request) picks the parts. Each part runs under `timeout`; (c) gets what is left of BUDGET (default 520 s from the start) and each stack BENCH_STACK_S.
# Smoke test without a GPU: tiny shapes on the CPU (CTX=64 FLAGS="--compile false --precision fp32" SHAPE=tiny_moe PREC=fp32 ...).
set -o pipefail
T0=$SECONDS
WHEELS=${WHEELS:-".whl .whl-bench"} source scripts/device/env.sh
export TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_DISABLE_LLM_COMPRESSOR_AUTOINSTALL=1 WANDB_MODE=offline
left() { local l=$(( ${BUDGET:-520} - (SECONDS - T0) )); echo $(( l > 30 ? l : 30 )); }
stamp() { echo "== [$((SECONDS - T0))s] $*"; }
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null; df -h /tmp | tail -1; nproc; free -g | head -2
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__, 'peft', peft.__version__)"

PARTS=${PARTS:-abc}
if [[ $PARTS == *a* ]]; then
  stamp "(a) expert GEMMs"
  timeout ${GEMM_S:-75} python3 scripts/device/moe_gemm.py ${GEMM_TOKENS:-4096} ${GEMM_REPS:-10} 2> $OUT/moe_gemm.err | tee $OUT/moe_gemm.jsonl; grep -vE "Warning|Configuration class" $OUT/moe_gemm.err | tail -3
fi
if [[ $PARTS == *n* ]]; then
  stamp "(n) the MoE chapter's GPU cells"
  timeout ${NB_S:-60} python3 scripts/device/nb_cells.py --only-flags cuda nbs/19_moe.ipynb 2>&1 | grep -vE "Warning|warn\(" | tail -30 | tee $OUT/moe_nb_cuda.log
fi
if [[ $PARTS == *s* ]]; then
  stamp "(s) graph breaks, host syncs, layer ms per grouped row"
  timeout ${SYNC_S:-75} python3 scripts/device/moe_bench.py sync 2> $OUT/moe_sync.err | tee $OUT/moe_sync.jsonl; grep -vE "Warning|warn\(" $OUT/moe_sync.err | tail -3
fi
K=${KERNEL:-$(python3 scripts/device/moe_bench.py pick $OUT/moe_gemm.jsonl)}
stamp "experts kernel: $K"

if [[ $PARTS == *b* ]]; then
stamp "(b) ${LAYERS:-48}-layer Qwen3-30B-A3B shape in NF4"
CK=/tmp/qwen3_30b_a3b_nf4; rm -rf $CK
timeout ${WRITE_S:-120} python3 scripts/device/moe_bench.py write $CK ${LAYERS:-48} 2>&1 | grep -vE "Warning|warn\(" | tee $OUT/moe_write.log
tail -1 $OUT/moe_write.log > $OUT/moe_write.json; du -sh $CK
for KK in ${KERNELS:-$K}; do
  stamp "training, --experts_kernel $KK"
  timeout ${TRAIN_S:-150} python3 -c "from fsdp_qlora.cli import train_cli; train_cli()" --model_name $CK --train_type custom_qlora --world_size 1 \
    --batch_size 1 --context_length ${CTX:-2048} --dataset random_tokens --dataset_samples 16 --max_steps ${MAX_STEPS:-5} --lora_rank 16 \
    --lora_alpha 32 --lora_dropout 0 --lora_target_modules all --use_cpu_offload false --log_to stdout --experts_kernel $KK ${FLAGS:---compile false} 2>&1 \
    | grep -E "^step|peak|Loaded|Sharded|trainable|Error|error|Killed" | tee $OUT/moe_train_$KK.log
  python3 scripts/device/moe_bench.py summary $OUT/moe_train_$KK.log $OUT/moe_train_$KK.json
done
rm -rf $CK
fi

[[ $PARTS == *c* ]] || exit 0
SHAPE=${SHAPE:-olmoe_1b_7b}
STACKS=${STACKS:-ours_custom_qlora+experts_kernel=$K,hf_qlora,unsloth_qlora,ours_custom_qlora+experts_kernel=$K+compile=true}
stamp "(c) side by side on $SHAPE: $STACKS ($(left)s left)"
[[ ${BREAKS:-1} == 1 ]] && export TORCH_LOGS=${TORCH_LOGS:-graph_breaks,recompiles}
timeout -k 15 $(left) python3 -m fsdp_qlora.benchmark --shape $SHAPE --stacks $STACKS --baseline ${BASELINE:-hf_qlora} --context_length ${CTX:-2048} \
  --batch_size ${BATCH:-2} --lora_rank 16 --lora_alpha 32 --lora_dropout 0 --steps ${STEPS:-3} --warmup_steps 2 --precision ${PREC:-bf16} \
  --work_dir /tmp/moe_bench --output $OUT/moe_bench.json --timeout ${BENCH_STACK_S:-110} ${PROFILE_STEP:+--profile_step $PROFILE_STEP} 2>&1 | grep -vE "Warning|warn\(" | tee $OUT/moe_bench.log
echo "rc=$?"
tar czf $OUT/moe_bench_logs.tgz -C /tmp/moe_bench/logs . 2>/dev/null
# the table again from the JSON (also when the run above was cut short: it is rewritten after each stack), against both peers
python3 -c "import json, sys; from fsdp_qlora.benchmark import markdown_table; r = json.load(open(sys.argv[1]))
for b in ('hf_qlora', 'unsloth_qlora'):
    if b in r['stacks']: r['baseline'] = b; print(markdown_table(r), end='\n\n')" $OUT/moe_bench.json
stamp "done"
