"""Where the GPU waits: read a Chrome trace written by `--profile true` (torch.profiler) and print the GPU's busy
time (the union of all kernels and copies over all streams), the step's span, and the longest idle gaps with the
kernel before each and the CPU-side operators running through it (innermost last).
Usage: python3 scripts/device/gaps.py TRACE.json [N gaps]"""
import json, sys
from bisect import bisect_right

ev = json.load(open(sys.argv[1]))['traceEvents']
n = int(sys.argv[2]) if len(sys.argv) > 2 else 15
gpu = sorted((e['ts'], e['ts'] + e['dur'], e['name']) for e in ev if e.get('ph') == 'X' and e.get('cat') in ('kernel', 'gpu_memcpy', 'gpu_memset'))
cpu = [e for e in ev if e.get('ph') == 'X' and e.get('cat') in ('cpu_op', 'user_annotation', 'python_function') and e.get('dur', 0) > 0]
steps = [e for e in ev if e.get('ph') == 'X' and str(e.get('name', '')).startswith('ProfilerStep')]
if not gpu: sys.exit('no GPU events in the trace')
merged = []
for s, e, name in gpu:
    if merged and s <= merged[-1][1]: merged[-1][1] = max(merged[-1][1], e); merged[-1][3] = name
    else: merged.append([s, e, name, name])
busy = sum(e - s for s, e, *_ in merged)
span = merged[-1][1] - merged[0][0]
print(f"GPU busy {busy/1e3:.1f} ms of a {span/1e3:.1f} ms span ({100*busy/span:.1f}%); steps: " +
      ', '.join(f"{s['name']} {s['dur']/1e3:.1f} ms" for s in steps))
gaps = sorted(((merged[i+1][0] - merged[i][1], merged[i][1], merged[i][3]) for i in range(len(merged) - 1)), reverse=True)
print(f"idle: {sum(g for g, *_ in gaps)/1e3:.1f} ms in {len(gaps)} gaps; {sum(g for g, *_ in gaps if g > 100)/1e3:.1f} ms in gaps over 0.1 ms")
for g, t, before in gaps[:n]:
    mid = t + g/2
    around = sorted((e for e in cpu if e['ts'] <= mid <= e['ts'] + e['dur']), key=lambda e: -e['dur'])
    print(f"{g/1e3:7.2f} ms after {before[:60]!r}: " + ' > '.join(e['name'][:50] for e in around[:6]))
