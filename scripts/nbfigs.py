"""Store the figures of notebooks as cell outputs, leaving every other cell's outputs as they are.

Usage, from the repo root, after `nbbuild NAME`:  python scripts/nbfigs.py nbs/02_quantize.ipynb [more...]

The notebooks are built from jupytext sources that carry no outputs, and `nbbuild` keeps the outputs of
cells whose ids survive (`jupytext --update`), so a figure only has to be stored once per change of its cell.
This runs a copy of each notebook top to bottom the way `nbdev-test` does (cells flagged `notest`, `cuda`
or `multigpu` skipped), then copies into the notebook the outputs of exactly the cells that drew a figure
(an `image/png` output), and runs `nbdev-clean` on it. It fails, writing nothing, if the notebook fails.
"""
import json, shutil, subprocess, sys
from pathlib import Path
from nbdev.test import test_nb

def has_image(cell): return any('image/png' in o.get('data', {}) for o in cell.get('outputs', []))

def store_figures(fn: Path) -> int:
    "Run a copy of notebook `fn`; copy the outputs of its figure cells into `fn`. Returns how many"
    fn = fn.resolve()
    tmp = fn.parent/f'.{fn.stem}.figs.ipynb'   # beside it, so relative paths in the notebook still resolve
    shutil.copy(fn, tmp)
    try:
        ok, secs = test_nb(tmp, skip_flags=['notest', 'cuda', 'multigpu'], save=True, do_print=False)
        if not ok: sys.exit(f"{fn} failed; nothing written")
        ran = json.loads(tmp.read_text())
    finally: tmp.unlink(missing_ok=True)
    figs = {c.get('id'): c['outputs'] for c in ran['cells'] if c['cell_type'] == 'code' and has_image(c)}
    nb = json.loads(fn.read_text())
    n = 0
    for c in nb['cells']:
        if c.get('id') in figs: c['outputs'], n = figs[c['id']], n + 1
    need = len(figs)
    if n != need: sys.exit(f"{fn}: {need} figure cells ran, {n} matched by cell id; nothing written")
    fn.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    subprocess.run(['nbdev-clean', '--fname', str(fn)], check=True)
    print(f"{fn}: stored {n} figure(s) ({secs:.0f}s to run)")
    return n

if __name__ == '__main__':
    for f in sys.argv[1:]: store_figures(Path(f))
