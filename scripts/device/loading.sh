#!/usr/bin/env bash
# Loading at real size, and the bit-exact check over every backend and HQQ width (run from the repo root on a GPU machine).
# Needs in .whl/: bitsandbytes, peft, fastcore (as foundation.sh) + hqq (pure-Python wheel) + termcolor (hqq imports it).
# 1. writes a Llama-2-7B-shaped checkpoint with random bf16 weights (4 GB shards) to /tmp/llama7b;
# 2. loads it, each in a fresh process, with our loader (bnb NF4 with auto and 1 worker, HQQ 4-bit) and with
#    transformers' from_pretrained + BitsAndBytesConfig(load_in_4bit, nf4): load time, peak GPU memory, peak host RSS;
#    then saves our bnb-quantized base once and times loading it back (no quantization);
# 3. FSDP2 bit-exact check on all GPUs for bnb and HQQ at 1, 2, 3, 4, 8 bits. Results: $OUT/loading.json, $OUT/bitexact.json.
set -o pipefail
source scripts/device/env.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers, bitsandbytes; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__)"
HQQ=1; python3 -c "import hqq.core.quantize as q, hqq; print('hqq', hqq.__version__, 'aten kernels:', q.hqq_aten_is_available)" || { echo "WARNING: hqq not importable: add the hqq and termcolor wheels to .whl/"; HQQ=0; }
CK=/tmp/llama7b
echo "== writing a Llama-2-7B-shaped random checkpoint to $CK"
python3 - <<EOF || exit 1
import time, torch
from fsdp_qlora.benchmark import SHAPES
from fsdp_qlora.load import write_random_checkpoint
t = time.perf_counter()
cfg = SHAPES['llama2_7b'].config()
write_random_checkpoint("$CK", cfg, shard_bytes=4*2**30, device='cuda')
print(f"written in {time.perf_counter() - t:.1f}s")
EOF
du -sh $CK
# one measured load in a fresh process: prints one JSON line
measure() { python3 - "$@" <<'EOF'
import sys, json, time, resource, torch
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
def rss(): return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])*1024
import transformers, bitsandbytes
from fsdp_qlora.load import empty_model, load_weights, loading_workers, save_quantized
base = rss(); torch.cuda.init(); torch.cuda.reset_peak_memory_stats()
t = time.perf_counter(); res = dict(run=kind)
if kind == 'hf_bnb4':
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=q, dtype=torch.bfloat16, device_map='cuda:0')
    torch.cuda.synchronize()
    res['gpu_bytes_held'] = torch.cuda.memory_allocated()
else:
    backend, workers, keep = sys.argv[3], int(sys.argv[4]), sys.argv[5]
    opts = dict(nbits=4) if backend == 'hqq' else {}
    model = empty_model(path, quant=backend, **opts)
    res['workers'] = loading_workers(workers, model, 'cuda')
    sd = load_weights(path, model, device='cuda', keep_on=keep, workers=workers, progress=False)
    torch.cuda.synchronize()
    res.update(keep_on=keep, state_bytes=sum(v.numel()*v.element_size() for v in sd.values()), gpu_bytes_held=torch.cuda.memory_allocated())
    if len(sys.argv) > 6:
        t_save = time.perf_counter(); save_quantized(sd, path, sys.argv[6], model); res['save_s'] = time.perf_counter() - t_save
res.update(load_s=time.perf_counter() - t - res.get('save_s', 0), peak_gpu_bytes=torch.cuda.max_memory_allocated(),
           peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss*1024, rss_before_bytes=base)
print(json.dumps(res))
EOF
}
: > $OUT/loading.jsonl
echo "== our loader, bnb NF4, auto workers, kept on the GPU; saves the quantized base to /tmp/llama7b-nf4"
measure ours_bnb $CK bnb -1 cuda /tmp/llama7b-nf4 | tail -1 | tee -a $OUT/loading.jsonl
echo "== our loader, bnb NF4, 1 worker"
measure ours_bnb_1worker $CK bnb 1 cuda | tail -1 | tee -a $OUT/loading.jsonl
echo "== our loader, bnb NF4, kept on the CPU (rank 0 of --low_memory true)"
measure ours_bnb_lowmem $CK bnb -1 cpu | tail -1 | tee -a $OUT/loading.jsonl
echo "== our loader, the saved NF4 base (no quantization)"
measure ours_bnb_saved /tmp/llama7b-nf4 bnb -1 cuda | tail -1 | tee -a $OUT/loading.jsonl
if [ $HQQ = 1 ]; then
  echo "== our loader, HQQ 4-bit, auto workers"
  measure ours_hqq4 $CK hqq -1 cuda | tail -1 | tee -a $OUT/loading.jsonl
fi
echo "== transformers from_pretrained + BitsAndBytesConfig(load_in_4bit, nf4)"
measure hf_bnb4 $CK | tail -1 | tee -a $OUT/loading.jsonl
python3 -c "
import json; rows = [json.loads(l) for l in open('$OUT/loading.jsonl') if l.startswith('{')]
json.dump(rows, open('$OUT/loading.json', 'w'), indent=1)
G = 2**30
print(f\"{'run':18s} {'load s':>7s} {'peak GPU GiB':>12s} {'peak RSS GiB':>12s} {'workers':>7s}\")
for r in rows: print(f\"{r['run']:18s} {r['load_s']:7.1f} {r['peak_gpu_bytes']/G:12.2f} {r['peak_rss_bytes']/G:12.2f} {str(r.get('workers', '-')):>7s}\")
"
[ "${SKIP_BITEXACT:-0}" = 1 ] && { rm -rf $CK /tmp/llama7b-nf4; exit 0; }
N=$(nvidia-smi -L | wc -l)
BACKENDS=bnb; [ $HQQ = 1 ] && BACKENDS=bnb,hqq
echo "== bit-exact check, $N GPUs, backends $BACKENDS, HQQ bits 1,2,3,4,8"
FSDP_QLORA_CHECK_OUT=$OUT/bitexact.json python3 -m torch.distributed.run --standalone --nproc-per-node=$N -m fsdp_qlora.fsdp \
  --backends $BACKENDS --bits 1,2,3,4,8 2>&1 | grep -v Warning | tee $OUT/bitexact.log
grep -q CORRUPTED $OUT/bitexact.log && echo "BIT-EXACT CHECK FAILED"
rm -rf $CK /tmp/llama7b-nf4
