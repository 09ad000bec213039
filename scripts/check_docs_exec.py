"""Cells the docs build would run that it should not.

Usage, from the repo root:  python scripts/check_docs_exec.py   (exit status 1 and one line per cell)

To render `show_doc`, nbdev's docs build (`nbdev-docs`, `nbdev-proc-nbs`) runs, in a fresh kernel, every
exported cell and every cell that contains an `import` anywhere (even inside a function), and nothing else.
A test cell that also imports is therefore run without the test cells before it: it fails on a name they
defined (the docs build then stops), or it trains a model while the docs build. Keep such imports in a cell
of their own (imports only), or at the top level of an earlier import cell.
"""
import ast, sys
from pathlib import Path
from nbdev.process import NBProcessor
from nbdev.processors import _do_eval

def docs_exec_cells(nbs='nbs') -> list:
    "(notebook, cell index, first line) of cells the docs build runs that are neither exported nor imports only"
    out = []
    for nb in sorted(Path(nbs).glob('*.ipynb')):
        if nb.name.startswith(('.', '_')): continue
        for c in NBProcessor(nb, rm_directives=False).nb.cells:
            if c.cell_type != 'code' or not _do_eval(c): continue
            if c.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: continue
            if all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in c.parsed_()): continue
            out.append((nb.name, c.idx_, next((l for l in c.source.splitlines() if not l.startswith('#|')), '')))
    return out

if __name__ == '__main__':
    bad = docs_exec_cells()
    for nb, i, line in bad: print(f"{nb} cell {i}: {line[:90]}")
    print(f"{len(bad)} cells the docs build would run besides exports and imports")
    sys.exit(1 if bad else 0)
