#!/usr/bin/env bash
# Shared by the multi-GPU device scripts (source it from the repo root): environment, wheels, checkpoint and data
# writers, and a GPU job queue. Wheels in .whl/ (bitsandbytes, peft, fastcore, hqq, termcolor, einops) are installed
# into /tmp/site on a GPU machine. Logs go to $OUT/<job>.log; each finished job appends one JSON line to $OUT/results.jsonl.
set -o pipefail
source scripts/device/env.sh
export OMP_NUM_THREADS=4
printf 'from fsdp_qlora.cli import train_cli\nif __name__ == "__main__": train_cli()\n' > /tmp/train.py   # guarded: --world_size spawns
mkdir -p /tmp/bin; printf '#!/bin/sh\nexec python3 /tmp/train.py "$@"\n' > /tmp/bin/fsdp_qlora_train; chmod +x /tmp/bin/fsdp_qlora_train; export PATH=$PATH:/tmp/bin  # no pip install on the device

llama() {  # $1 dir, $2 7b|70b, $3 plain|bnb|hqq4, [$4 device]: a Llama-2-shaped random checkpoint, written on the GPU
  [ -f $1/.complete ] && return 0
  python3 - "$@" <<'PY'
import sys, time
from fsdp_qlora.benchmark import SHAPES
from fsdp_qlora.load import write_random_checkpoint, write_random_quantized
path, size, kind = sys.argv[1:4]; dev = sys.argv[4] if len(sys.argv) > 4 else 'cuda'
cfg = SHAPES[f'llama2_{size}'].config()
t = time.perf_counter()
if kind == 'plain': write_random_checkpoint(path, cfg, shard_bytes=4*2**30, device=dev)
else: write_random_quantized(path, cfg, kind[:3], shard_bytes=4*2**30, device=dev, **(dict(nbits=4) if kind == 'hqq4' else {}))
print(f"wrote {path} ({size}, {kind}) in {time.perf_counter() - t:.0f}s", flush=True)
PY
  [ -f $1/tokenizer.model ] || cp fsdp_qlora/assets/tokenizer-llama2/* $1/
  touch $1/.complete; du -sh $1
}

long_data() {  # $1 file: alpaca-format records whose responses fill a 2048-token context (every row full, so tokens/s compare)
  python3 - "$1" <<'PY'
import json, random, sys
rng = random.Random(0)
recs = [dict(instruction=f"Count on from {a} in steps of {s}.", input="",
             output=", ".join(str(a + s*j) for j in range(1, 900))) for a, s in ((rng.randint(0, 9999), rng.randint(1, 9)) for _ in range(512))]
json.dump(recs, open(sys.argv[1], "w"))
PY
}

trun() {  # $1 job name, $2 processes, rest: fsdp_qlora_train flags. One torchrun on the GPUs in CUDA_VISIBLE_DEVICES
  local name=$1 n=$2; shift 2
  timeout ${JOB_TIMEOUT:-900} python3 -m torch.distributed.run --standalone --nproc-per-node=$n /tmp/train.py --log_to stdout "$@" > $OUT/$name.log 2>&1
  local rc=$?; result $name $rc $n "$*"
}

agents() {  # $1 job name, $2 nodes, $3 GPUs per node, rest: flags. $2 torchrun agents on this host meet via c10d (one per "node")
  local name=$1 nn=$2 per=$3; shift 3
  local gpus=(${CUDA_VISIBLE_DEVICES//,/ }) port=$((29600 + RANDOM % 300)) pids=()
  for r in $(seq 0 $((nn-1))); do
    CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${gpus[*]:$((r*per)):$per}") timeout ${JOB_TIMEOUT:-900} python3 -m torch.distributed.run \
      --nnodes $nn --nproc-per-node $per --rdzv-backend c10d --rdzv-endpoint localhost:$port --rdzv-id $name \
      /tmp/train.py --log_to stdout "$@" > $OUT/${name}_node$r.log 2>&1 & pids+=($!)
  done
  local rc=0; for p in ${pids[@]}; do wait $p || rc=$?; done
  cat $OUT/${name}_node*.log > $OUT/$name.log; result $name $rc $((nn*per)) "nodes=$nn $*"
}

result() {  # $1 name, $2 rc, $3 GPUs, $4 flags: one JSON line (steps, losses, median tok/s per GPU, s/step, per-rank peaks)
  python3 - "$@" <<'PY' | tee -a $OUT/results.jsonl
import sys, re, json
from fsdp_qlora.benchmark import step_lines
name, rc, n, flags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
txt = open(f"{__import__('os').environ['OUT']}/{name}.log", errors='replace').read()
steps = [m for _, m in step_lines((0, l) for l in txt.splitlines())]
med = lambda xs: sorted(xs)[len(xs)//2] if xs else None
meas = steps[2:] or steps
ranks = {int(r): dict(alloc=float(a), reserved=float(b), rss=float(c)) for r, a, b, c in
         re.findall(r'rank (\d+) peak GPU memory: allocated ([\d.]+) GiB, reserved ([\d.]+) GiB; peak host RSS ([\d.]+) GiB', txt)} or \
        {int(r): dict(rss=float(c)) for r, c in re.findall(r'rank (\d+) peak host RSS: ([\d.]+) GiB', txt)}
get = lambda pat: (lambda m: float(m.group(1)) if m else None)(re.search(pat, txt))
print(json.dumps(dict(name=name, rc=rc, gpus=n, steps=len(steps), losses=[float(s['loss']) for s in steps],
    tok_s_per_gpu=(med([float(s['tok_s']) for s in meas]) or 0)/n, s_per_step=med([float(s['step_s']) for s in meas]),
    load_s=get(r'Loaded \S+ in ([\d.]+)s'), shard_s=get(r'Sharded and filled the model in ([\d.]+)s'), peaks=ranks,
    error=None if rc == 0 else txt.strip().splitlines()[-1:] , flags=flags)), flush=True)
PY
}
export -f trun agents result

queue() {  # run the jobs on stdin ("gpus<TAB>command", one per line) on the GPU ids in $GPUS, each when enough are free
  python3 -c '
import os, subprocess, sys, time
free, jobs, running = os.environ.get("GPUS", "0 1").split(), [l.rstrip("\n").split("\t", 1) for l in sys.stdin if l.strip()], []
while jobs or running:
    for j in list(jobs):
        if int(j[0]) <= len(free):
            ids = [free.pop(0) for _ in range(int(j[0]))]; jobs.remove(j)
            print(time.strftime("%H:%M:%S"), "start", ids, j[1][:150], flush=True)
            running.append((subprocess.Popen(["bash", "-c", j[1]], env={**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(ids)}), ids))
        else: break   # in order: a big job is not overtaken forever
    for p, ids in list(running):
        if p.poll() is not None: running.remove((p, ids)); free += ids
    time.sleep(1)
'
}
