"""Does Python's garbage collector stall our steps? Runs the benchmark's setting of one of our stacks in this process
(Llama-2-7B shape, 12 steps) with `gc.callbacks` timing every collection, and prints the collections per generation
(count, total and longest pause) beside the step times. With `--no-gc`, automatic collection is off from the start
(`gc.freeze()` + `gc.disable()`), for comparison.
Usage: python3 scripts/device/gc_check.py STACK DROPOUT [--no-gc]"""
import sys, gc, time, statistics
from pathlib import Path
from fsdp_qlora.benchmark import stack_of, SHAPES, BenchSettings, bench_checkpoint, ours_flags
from fsdp_qlora.cli import TrainConfig, train, free_port

stack, dropout, off = sys.argv[1], float(sys.argv[2]), '--no-gc' in sys.argv
pauses, t = {0: [], 1: [], 2: []}, {}
def timer(phase, info):
    if phase == 'start': t['s'] = time.perf_counter()
    else: pauses[info['generation']].append(time.perf_counter() - t['s'])
path = bench_checkpoint(SHAPES['llama2_7b'], Path('/tmp/bench'))
s = BenchSettings(lora_dropout=dropout, steps=10, warmup_steps=2)
flags = ours_flags(stack_of(stack), s, path, int(free_port()), Path('/tmp/out_gc'))
if off: gc.freeze(); gc.disable()
gc.callbacks.append(timer)
losses = train(TrainConfig(**flags))
print(f"{stack}, dropout {dropout}, automatic gc {'off' if off else 'on'}: " +
      '; '.join(f"gen {g}: {len(p)} collections, {1e3*sum(p):.1f} ms total, longest {1e3*max(p, default=0):.1f} ms" for g, p in pauses.items()))
