"""Run notebooks' code cells in order on a GPU machine, GPU-flagged cells (`#| cuda`, `#| multigpu`) included,
for machines without nbdev/Jupyter. Cells flagged `#| notest` or `#| eval: false` are skipped, as nbdev-test does.

Usage (repo root): python3 scripts/device/nb_cells.py nbs/04_precision.ipynb [more.ipynb ...]
Prints one line per notebook: ok, or the failing cell and its traceback; exits 1 if any failed."""
import json, sys, os, time, traceback, re, linecache, types
from pathlib import Path

def flags(src: str) -> set:
    return {f for l in src.splitlines() if l.startswith('#|') for f in re.split(r'[\s,]+', l[2:].strip()) if f}

failed = 0
for nb in sys.argv[1:]:
    cells = [''.join(c['source']) for c in json.load(open(nb))['cells'] if c['cell_type'] == 'code']
    main = types.ModuleType('__main__'); sys.modules['__main__'] = main   # a module of its own, as Jupyter's: dynamo looks names up in it
    ns, t0, gpu = main.__dict__, time.perf_counter(), 0
    os.chdir(Path(nb).resolve().parent)
    for i, src in enumerate(cells):
        f = flags(src)
        if 'notest' in f or 'eval:' in f and 'false' in f: continue
        gpu += bool(f & {'cuda', 'multigpu'})
        fname = f'{nb}#cell{i}'
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)   # source for inspect (Triton's @jit reads it), as Jupyter does
        try: exec(compile(src, fname, 'exec'), ns)
        except Exception:
            failed += 1; print(f'FAILED {nb} cell {i}:\n{src[:400]}\n{traceback.format_exc()[-3000:]}', flush=True); break
    else: print(f'ok {nb}: {len(cells)} cells, {gpu} GPU-flagged, {time.perf_counter() - t0:.0f}s', flush=True)
    os.chdir(Path(__file__).resolve().parents[2])
sys.exit(1 if failed else 0)
