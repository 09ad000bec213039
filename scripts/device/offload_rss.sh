#!/usr/bin/env bash
# Where rank 0's host memory goes with --use_cpu_offload: Llama-2-70B shape in NF4 on one GPU capped at 24 GiB,
# as shipped (shards page-locked in place by materialize, FSDP2 offload with pinned host memory); VARIANTS="pinned nopin"
# adds a run with FSDP2's pin_memory=False (an experiment patched in by a driver, not a flag); "smaps" the shipped run, printing
# where rank 0's resident memory lies (by mapping) when training ends. The log lines give host
# RSS after loading, after sharding, and the peak.
source scripts/multigpu/common.sh
llama /tmp/l70b-nf4 70b bnb
[ -f /tmp/long.json ] || long_data /tmp/long.json
cat > /tmp/train_nopin.py <<'PY'
from functools import partial
import fsdp_qlora.fsdp as f
f.CPUOffloadPolicy = partial(f.CPUOffloadPolicy, pin_memory=False)
from fsdp_qlora.cli import train_cli; train_cli()
PY
cat > /tmp/train_smaps.py <<'PY'
# the run, and where rank 0's resident memory lies when training ends (before the model is freed): /proc/self/smaps by mapping
import re
import fsdp_qlora.train as t
_report = t.report_memory
def report_memory(run):
    agg, name = {}, None
    for line in open('/proc/self/smaps'):
        if re.match(r'^[0-9a-f]+-[0-9a-f]+ ', line):
            f = line.split(None, 5); name = f[5].strip() if len(f) > 5 and f[5].strip() else '[anonymous]'
        elif line.startswith('Rss:'): agg[name] = agg.get(name, 0) + int(line.split()[1])
    for n, kb in sorted(agg.items(), key=lambda x: -x[1])[:12]: print(f"smaps {kb/2**20:7.2f} GiB  {n}", flush=True)
    _report(run)
t.report_memory = report_memory
from fsdp_qlora.cli import train_cli; train_cli()
PY
ARGS="--model_name /tmp/l70b-nf4 --train_type custom_qlora --batch_size 2 --context_length 2048 --use_cpu_offload true --max_gpu_memory 24
      --max_steps ${STEPS:-3} --dataset /tmp/long.json --lora_rank 64 --lora_alpha 16 --lr 1e-4 --precision bf16 --log_to stdout --world_size 1"
for v in ${VARIANTS:-pinned}; do
  py=/tmp/train.py; [ $v = nopin ] && py=/tmp/train_nopin.py; [ $v = smaps ] && py=/tmp/train_smaps.py
  python3 $py $ARGS > $OUT/rss_$v.log 2>&1
  echo "== $v"; grep -h "Loaded\|Sharded\|^step \|rank 0\|^smaps" $OUT/rss_$v.log | cut -c1-240
done
