"""What is alive on the GPU at the peak of a CUDA memory snapshot (`fsdp_qlora_train --profile_memory true`).

Replays the allocator trace (alloc / free_completed), finds the moment the bytes allocated within the trace
peak, and prints the allocations alive then, grouped by where they were made (the innermost frames in our
code, transformers, bitsandbytes or torch's autograd/inductor), largest first.
Usage: python3 scripts/device/mem_peak.py SNAPSHOT.pickle [TOP]"""
import pickle, sys
from collections import defaultdict

KEEP = ('fsdp_qlora/', 'transformers/', 'bitsandbytes/', 'torch/utils/checkpoint', 'torch/_inductor', 'torch/autograd', 'torch/distributed/fsdp',
        'torch/_functorch', 'torch/nn/')

def where(frames, n=3):
    picked = [f"{f['filename'].split('site-packages/')[-1].split('/work/main/')[-1]}:{f['line']} {f['name']}" for f in frames
              if any(k in f['filename'] for k in KEEP)]
    return ' < '.join(picked[:n]) or (frames[0]['name'] if frames else '?')

def main(path, top=25):
    snap = pickle.load(open(path, 'rb'))
    trace = max(snap['device_traces'], key=len)
    def replay(upto):
        alive, cur, best, best_i = {}, 0, 0, -1
        for i, e in enumerate(trace[:upto]):
            if e['action'] == 'alloc': alive[e['addr']] = e; cur += e['size']
            elif e['action'] == 'free_completed' and e['addr'] in alive: cur -= alive.pop(e['addr'])['size']
            if cur > best: best, best_i = cur, i
        return alive, best, best_i
    # the last step: from the last embedding lookup (one per forward) to the end
    starts = [i for i, e in enumerate(trace) if e['action'] == 'alloc' and any(f['name'] == 'embedding' and 'functional' in f['filename'] for f in e['frames'])]
    first = starts[-1] if starts else 0
    print(f"{len(starts)} forwards in the trace; the peak is taken from event {first} on (the last one)")
    def replay_from(first):
        alive, cur, best, best_i = {}, 0, -1, -1
        for i, e in enumerate(trace):
            if e['action'] == 'alloc': alive[e['addr']] = e; cur += e['size']
            elif e['action'] == 'free_completed' and e['addr'] in alive: cur -= alive.pop(e['addr'])['size']
            if i >= first and cur > best: best, best_i = cur, i
        return best, best_i
    best, best_i = replay_from(first)
    at_peak, _, _ = replay(best_i + 1)
    print(f"{len(trace)} events; peak (in the last step) of allocations made within the trace: {best/2**30:.3f} GiB at event {best_i}")
    print(f"the allocation that made the peak: {trace[best_i]['size']/2**20:.1f} MiB at {where(trace[best_i]['frames'], 6)}")
    groups = defaultdict(lambda: [0, 0])
    for e in at_peak.values():
        g = groups[where(e['frames'])]; g[0] += e['size']; g[1] += 1
    for k, (b, n) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"{b/2**20:9.1f} MiB  {n:5d}x  {k}")
    segs = sum(b['size'] for s in snap['segments'] for b in s['blocks'] if b['state'] == 'active_allocated')
    print(f"allocated at the snapshot's end (all, including before the trace): {segs/2**30:.3f} GiB")

if __name__ == '__main__': main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
