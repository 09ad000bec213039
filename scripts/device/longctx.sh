#!/usr/bin/env bash
# Long context, one H100 call (issue 23): reserved against allocated memory at 16k and 32k tokens, batch 1, Llama-2-7B
# shape (random weights), our defaults against Unsloth; and the longest Llama-3-8B context that trains under a 24 GiB
# cap (ours --max_gpu_memory 24, Unsloth capped with set_per_process_memory_fraction) for both. Run from the repo root;
# carry .whl and .whl-bench. Parts in order, each under `timeout`, all within BUDGET seconds (default 525):
#  0. The speed notebook's GPU cell that measures the offload's CopyWindow against record_stream on 48 synthetic blocks.
#  1. 16k: ours (defaults: the offload's CopyWindow) and Unsloth, one benchmark run (ratios against Unsloth).
#  2. 16k: ours with the OLD offload (`record_stream` in ActivationOffload.pack), from a copy of the package in
#     /tmp/old with those lines put back (DETAIL=1: with --memory_detail, the allocator's history: the most bytes
#     freed but not yet reusable; it slows the row). Every row on the GPU reports the allocator's segments per stream.
#  3. (The two checkpoints are written at once before part 1.) Then AT ONCE on the one card: ours at 32k (new; 2 warm-up
#     + 1 measured step: its memory is its own process's, its speed is shared and NOT a speed number) and the two
#     context searches, ours and Unsloth, each process capped at 24 GiB (whether a try fits does not depend on the
#     others; step times do): from START (65536) tokens, growing x1.5 / bisecting to 8192, 1 warm-up + 1 measured step
#     a try, no try started with under 60 s left. (Unsloth at 32k is not run: it did not finish in time last call;
#     issue 23 gives 13.35 allocated / 15.35 reserved GiB, 6,672 tok/s for it on an H100.)
# Env: BUDGET, DETAIL, START (or START_OURS, START_UNSLOTH), PARTS (default "16k old 32k search"), STEPS16 (3), EXTRA16 (more rows for
#      part 1, e.g. ours_custom_qlora+base_matmul=fp8; each ~90 s, added to part 1's limit and taken from the searches' time).
# Results in $OUT: longctx_16384_new.json, longctx_16384_old.json, longctx_32768_new.json, search_ours.json,
# search_unsloth.json, longctx.log (everything), logs.tgz (each process's log).
set -o pipefail
T0=$SECONDS     # the budget counts from here: installing the wheels included
WHEELS=".whl .whl-bench" source scripts/device/env.sh
export TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_DISABLE_LLM_COMPRESSOR_AUTOINSTALL=1 WANDB_MODE=offline
BUDGET=${BUDGET:-525}; PARTS=${PARTS:-16k old 32k search}
left() { echo $(( BUDGET - (SECONDS - T0) )); }
has() { [[ " $PARTS " == *" $1 "* ]]; }
LOG=$OUT/longctx.log
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee $LOG
B="python3 -m fsdp_qlora.benchmark --batch_size 1 --lora_rank 64 --lora_alpha 16 --lora_dropout 0.0 --work_dir /tmp/bench --baseline unsloth_qlora"
# the old package: from /tmp (python -m puts the working directory first on the path), with /tmp/old on PYTHONPATH
OLD="env -C /tmp PYTHONPATH=/tmp/site:/tmp/old python3 ${B#python3 }"
# part NAME MAX_SECONDS COMMAND...: run under timeout (the time left, at most MAX), log everything, print the key lines
part() {
  local name=$1 max=$2; shift 2
  local t=$(left); (( t > max )) && t=$max
  if (( t < 45 )); then echo "== $name: not run ($(left)s left)" | tee -a $LOG; return; fi
  echo "== $name (limit ${t}s; $(left)s left)" | tee -a $LOG
  local n=$(wc -l < $LOG)
  timeout $t "$@" 2>&1 | grep -vE "Warning|warn\(|USDT" >> $LOG; echo "   rc=$? after $((SECONDS - T0))s" >> $LOG
  tail -n +$((n + 1)) $LOG | grep -E "^== |^   |^\||rror"
}
python3 -c "import torch, transformers, bitsandbytes, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__)" | tee -a $LOG

# the package as it was: ActivationOffload.pack with record_stream (the only lines that differ)
rm -rf /tmp/old && mkdir -p /tmp/old && cp -r fsdp_qlora /tmp/old/
python3 - <<'EOF' || echo "OLD: could not rebuild the old pack (speed.py changed?): part 2 will be skipped" | tee -a $LOG
from pathlib import Path
p = Path('/tmp/old/fsdp_qlora/speed.py'); s = p.read_text()
new = """            with torch.cuda.stream(self.stream):
                host.copy_(flat, non_blocking=True); done = torch.cuda.Event(); done.record(self.stream)
            self.window.add(t, done, host.numel())         # `t` is held (and its memory not reused) until its copy is done
"""
old = """            with torch.cuda.stream(self.stream): host.copy_(flat, non_blocking=True)
            t.record_stream(self.stream)
"""
assert new in s, 'new pack not found'
p.write_text(s.replace(new, old)); print('OLD: /tmp/old/fsdp_qlora has the record_stream pack')
EOF

# the mechanism alone, in seconds: the speed notebook's cell that measures the window against record_stream
echo "== the window against record_stream (nbs/16_speed.ipynb)" | tee -a $LOG
timeout 90 python3 - <<'EOF' 2>&1 | grep -vE "Warning|warn\(|USDT" | tee -a $LOG
import json
cells = [''.join(c['source']) for c in json.load(open('nbs/16_speed.ipynb'))['cells'] if c['cell_type'] == 'code']
i = next(i for i, s in enumerate(cells) if '# the window against record_stream' in s)
src = cells[i - 1] + '\n' + cells[i]              # its imports sit in the cell above (the docs build's rule)
exec(compile(src, 'nbs/16_speed.ipynb#window', 'exec'), {'__name__': '__main__'})
print('window cell: ok')
EOF

CK3="from fsdp_qlora.benchmark import SHAPES, bench_checkpoint; print(bench_checkpoint(SHAPES['llama3_8b'], '/tmp/bench'))"
has search && { timeout 200 python3 -c "$CK3" > /tmp/ck3.log 2>&1 & }     # both checkpoints at once: nothing is measured yet
part "Llama-2-7B checkpoint" 150 python3 -c "from fsdp_qlora.benchmark import SHAPES, bench_checkpoint; print(bench_checkpoint(SHAPES['llama2_7b'], '/tmp/bench'))"
wait; cat /tmp/ck3.log >> $LOG 2>/dev/null
N16=$(( $(echo "${EXTRA16}" | tr ',' '\n' | grep -c .) ))      # each EXTRA16 row adds ~90 s (load, compile, 5 steps at 16k)
has 16k && part "16k: ours (new) and Unsloth" $(( 220 + 90*N16 )) $B --shape llama2_7b --context_length 16384 --steps ${STEPS16:-3} --warmup_steps 2 \
  --stacks ours_custom_qlora${EXTRA16:+,$EXTRA16},unsloth_qlora --timeout 150 --output $OUT/longctx_16384_new.json
if has old && grep -q record_stream /tmp/old/fsdp_qlora/speed.py; then
  part "16k: ours (old record_stream offload)${DETAIL:+, memory detail}" 110 $OLD --shape llama2_7b --context_length 16384 \
    --steps ${STEPS16:-3} --warmup_steps 2 --stacks ours_custom_qlora ${DETAIL:+--memory_detail} --timeout 105 --output $OUT/longctx_16384_old.json
fi
has search && part "Llama-3-8B checkpoint (if not written yet)" 120 python3 -c "$CK3"

# at once on the card: ours at 32k (its memory is per process; its speed, shared, is not a speed number) and the two
# searches, each capped at 24 GiB (whether a try fits does not depend on the others; the step times do)
t=$(( $(left) - 10 )); n=$(wc -l < $LOG)
echo "== at once: 32k ours (new), the searches of ours and Unsloth (as PARTS has them: $PARTS; ${t}s; $(left)s left)" | tee -a $LOG
if (( t >= 80 )); then
  has 32k && timeout $(( t < 110 ? t : 110 )) $B --shape llama2_7b --context_length 32768 --steps 1 --warmup_steps 2 --stacks ours_custom_qlora \
    --timeout 105 --output $OUT/longctx_32768_new.json > /tmp/l32.log 2>&1 &
  S="--shape llama3_8b --max_gpu_memory 24 --search_context --search_grain 8192 --search_trials 3
     --steps 1 --warmup_steps 1 --search_budget $((t - 5)) --timeout $((t - 5))"
  has search && timeout $t $B $S --stacks ours_custom_qlora --context_length ${START_OURS:-${START:-65536}} --output $OUT/search_ours.json > /tmp/search_ours.log 2>&1 &
  has search && timeout $t $B $S --stacks unsloth_qlora --context_length ${START_UNSLOTH:-${START:-65536}} --output $OUT/search_unsloth.json > /tmp/search_unsloth.log 2>&1 &
  wait
  for f in l32 search_ours search_unsloth; do [ -f /tmp/$f.log ] && { echo "-- $f" >> $LOG; grep -vE "Warning|warn\(|USDT" /tmp/$f.log >> $LOG; }; done
  tail -n +$((n + 1)) $LOG | grep -E "^== |^-- |^   |^\|"
else echo "   not run ($(left)s left)" | tee -a $LOG
fi
tar czf $OUT/logs.tgz -C /tmp/bench/logs . 2>/dev/null

echo "== summary ($((SECONDS - T0))s)"
python3 - <<'EOF'
import json, os
from pathlib import Path
from fsdp_qlora.benchmark import memory_lines, search_table
out = Path(os.environ['OUT'])
def rows(f):
    p = out/f
    return json.loads(p.read_text())['stacks'] if p.exists() else {}
new16, old16, new32 = rows('longctx_16384_new.json'), rows('longctx_16384_old.json'), rows('longctx_32768_new.json')
u = new16.get('unsloth_qlora', {})
todo = [(16384, f'{k} (new)' if k.startswith('ours') else k, r) for k, r in new16.items()] or [(16384, 'part 1', None)]
todo += [(16384, 'ours_custom_qlora (old record_stream offload)', old16.get('ours_custom_qlora')), (32768, 'ours_custom_qlora (new)', new32.get('ours_custom_qlora'))]
for ctx, label, r in todo:
    if not r: print(f"{ctx} {label}: not run"); continue
    if r.get('status') != 'ok': print(f"{ctx} {label}: {r.get('status')} {r.get('note')}"); continue
    ratio = f", {r['tok_s']/u['tok_s']:.2f}x Unsloth speed, {r['peak_reserved_gib']/u['peak_reserved_gib']:.2f}x its reserved" if ctx == 16384 and u.get('status') == 'ok' else ''
    g = lambda k: f"{r[k]:.2f}" if r.get(k) is not None else 'n/a'
    print(f"{ctx} {label}: {r['tok_s']:,.0f} tok/s, peak allocated {g('peak_alloc_gib')} / reserved {g('peak_reserved_gib')} GiB, "
          f"reserved after each step {[round(x, 2) for x in r.get('reserved_per_step_gib') or [] if x is not None]}, host RSS {r['host_rss_gib']:.1f} GiB{ratio}")
    if r.get('memory'): print(memory_lines(r['memory']))
for k in ('ours', 'unsloth'):
    p = out/f'search_{k}.json'
    if p.exists() and 'search' in json.loads(p.read_text()): print(search_table(json.loads(p.read_text())))
    else: print(f"search {k}: no result")
EOF
