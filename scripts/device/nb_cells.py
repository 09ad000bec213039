"""Run notebooks' code cells in order on a GPU machine, GPU-flagged cells (`#| cuda`, `#| multigpu`) included,
for machines without nbdev/Jupyter. Cells flagged `#| notest` or `#| eval: false` are skipped, as nbdev-test does.

Usage (repo root): python3 scripts/device/nb_cells.py [--only-flags cuda[,multigpu]] [--match REGEX] [--list] nbs/04_precision.ipynb [more.ipynb ...]
`--only-flags F`: run only the cells flagged F, with what they need: the `#| export` cells, the cells that only
import, and (transitively) each earlier cell that last defined a name a chosen cell uses (found by `ast`), so a
notebook's CPU-only tests (2-process runs, slow matrices) are skipped. `--match REGEX` (with --only-flags): only the flagged
cells whose source matches REGEX (and what they need). `--list`: print the chosen cells, run nothing.
Prints one line per notebook: ok, or the failing cell and its traceback; exits 1 if any failed."""
import ast, builtins, json, sys, os, time, traceback, re, linecache, types
from pathlib import Path

def flags(src: str) -> set:
    return {f for l in src.splitlines() if l.startswith('#|') for f in re.split(r'[\s,]+', l[2:].strip()) if f}

def skipped(src: str) -> bool:
    f = flags(src)
    return 'notest' in f or 'eval:' in f and 'false' in f

def names(src: str) -> tuple[set, set]:
    "(names a cell binds at top level or anywhere by assignment, names it reads that it does not bind)"
    try: tree = ast.parse(src)
    except SyntaxError: return set(), set()
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)): bound |= {(a.asname or a.name).split('.')[0] for a in node.names if a.name != '*'}
        elif isinstance(node, ast.Name): (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.arg): bound.add(node.arg)
    return bound, used - bound - set(dir(builtins))

def setup_cell(src: str) -> bool:
    "An `#| export` cell, or one whose statements are all imports"
    if flags(src) & {'export', 'exports', 'exporti'}: return True
    try: body = ast.parse(src).body
    except SyntaxError: return False
    return bool(body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body)

def chosen(cells: list, only: set, match: str | None = None) -> list:
    "Indices of the cells to run for `--only-flags only` (`--match`): flagged ones, setup cells, and the earlier cells defining what they use"
    wanted = lambda s: flags(s) & only and (match is None or re.search(match, s))
    pick = {i for i, s in enumerate(cells) if not skipped(s) and (wanted(s) or setup_cell(s))}
    info = [names(s) for s in cells]
    todo = sorted(pick)
    while todo:
        i = todo.pop()
        for name in info[i][1]:
            src = next((j for j in range(i - 1, -1, -1) if name in info[j][0] and not skipped(cells[j])), None)
            if src is not None and src not in pick: pick.add(src); todo.append(src)
    return sorted(pick)

def args(argv):
    only, match, listing, nbs, it = None, None, False, [], iter(argv)
    for a in it:
        if a == '--match': match = next(it)
        elif a == '--only-flags': only = set(next(it).split(','))
        elif a.startswith('--only-flags='): only = set(a.split('=', 1)[1].split(','))
        elif a == '--list': listing = True
        else: nbs.append(a)
    return only, match, listing, nbs

only, match, listing, notebooks = args(sys.argv[1:])
failed = 0
for nb in notebooks:
    cells = [''.join(c['source']) for c in json.load(open(nb))['cells'] if c['cell_type'] == 'code']
    run = chosen(cells, only, match) if only else [i for i, s in enumerate(cells) if not skipped(s)]
    if listing:
        print(f'{nb}: cells {run}')
        for i in run: print(f'  [{i}] {cells[i].splitlines()[0][:100] if cells[i] else ""}')
        continue
    main = types.ModuleType('__main__'); sys.modules['__main__'] = main   # a module of its own, as Jupyter's: dynamo looks names up in it
    ns, t0, gpu = main.__dict__, time.perf_counter(), 0
    os.chdir(Path(nb).resolve().parent)
    for i in run:
        src = cells[i]
        gpu += bool(flags(src) & {'cuda', 'multigpu'})
        fname = f'{nb}#cell{i}'
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)   # source for inspect (Triton's @jit reads it), as Jupyter does
        try: exec(compile(src, fname, 'exec'), ns)
        except Exception:
            failed += 1; print(f'FAILED {nb} cell {i}:\n{src[:400]}\n{traceback.format_exc()[-3000:]}', flush=True); break
    else: print(f'ok {nb}: {len(run)} of {len(cells)} cells, {gpu} GPU-flagged, {time.perf_counter() - t0:.0f}s', flush=True)
    os.chdir(Path(__file__).resolve().parents[2])
sys.exit(1 if failed else 0)
