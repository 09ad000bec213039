"""Rank the functions of a py-spy collapsed-stack file (`py-spy record -f raw`): own samples (the function on top) and total (anywhere
on the stack), as % of all samples.  python3 scripts/device/pyspy_top.py FILE [TOP (30)] [FILTER: only stacks containing this]; stacks that compile (dynamo's convert_frame.py) are left out"""
import sys, re, collections

def top(path, n=30, only=None, skip='convert_frame.py'):
    own, tot, total = collections.Counter(), collections.Counter(), 0
    for line in open(path):
        stack, _, k = line.rstrip().rpartition(' ')
        if not stack or not k.isdigit() or (only and only not in stack) or (skip and skip in stack): continue   # a cut-off last line
        frames, k = [re.sub(r':\d+\)$', ')', f) for f in stack.split(';')], int(k)   # a function, not a line
        total += k; own[frames[-1]] += k
        for f in set(frames): tot[f] += k
    print(f'{total} samples' + (f' (stacks with {only!r})' if only else '') + (f' (without {skip!r}: compiling)' if skip else ''))
    for title, c in (('own', own), ('total', tot)):
        print(f'-- by {title}')
        for f, k in c.most_common(n): print(f'{100*k/max(total,1):6.1f}%  {f[:160]}')

if __name__ == '__main__': top(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30, sys.argv[3] if len(sys.argv) > 3 else None)
