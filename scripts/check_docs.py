"""The docs as a reader meets them, checked without Quarto (not installable here): render each notebook that
`nbdev-proc-nbs` processed (`_proc/`) to HTML with pandoc (Quarto's own renderer) and fail on

- a chapter whose `>` description is more than one line (nbdev's front matter keeps only the first);
- a broken internal link: to a page that is not in the site, to an anchor (a pandoc heading id) that the
  page does not have, or to a file of the repository that does not exist;
- a leftover `#|` directive or a `show_doc(` call in the code a reader sees;
- raw TeX: a `$` or a `\\command` in the text outside math and code (math pandoc did not recognise, or TeX that
  Quarto would drop from the HTML page);
- a plot that does not appear: a code cell that draws with matplotlib but has no stored figure, or a
  figure that the rendered page does not show.

Usage, from the repo root, after `nbdev-proc-nbs`:  python scripts/check_docs.py [--html DIR]   (`--self-test`: on a made-up tree)
Exit status 1 and one line per problem. `--html DIR` keeps the rendered pages (to look at them in a browser).
"""
import base64, json, re, shutil, subprocess, sys, tempfile
import yaml
from html.parser import HTMLParser
from pathlib import Path

PAGE = ('.ipynb', '.qmd', '.md')
DRAWS = re.compile(r'^(?!\s*(import|from)\b).*\b(plt\.|\.plot\(|\.imshow\(|\.bar\(|\.scatter\()', re.M)

class Page(HTMLParser):
    "Ids, links, images, code blocks and prose (without inline code and math) of one rendered HTML page"
    def __init__(self, html: str):
        super().__init__(); self.ids, self.links, self.imgs, self.code, self.text = set(), [], [], [], []
        self._pre = self._code = self._math = 0
        self.feed(html)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag == 'img': self.imgs.append(a.get('src', ''))
        if tag == 'pre': self._pre += 1
        if tag == 'code': self._code += 1
        if tag == 'math': self._math += 1
    def handle_endtag(self, tag):
        if tag == 'pre': self._pre -= 1; self.code.append('\n')
        if tag == 'code': self._code -= 1
        if tag == 'math': self._math -= 1
    def handle_data(self, data):
        if self._pre: self.code.append(data)                      # code blocks: what a reader sees of the cells
        elif not (self._code or self._math): self.text.append(data)   # prose: not inline code, not math

def description_lines(nb: dict) -> int:
    "How many `>` lines follow the title of notebook `nb`'s first markdown cell"
    md = next((c for c in nb['cells'] if c['cell_type'] == 'markdown'), None)
    lines = ''.join(md['source']).splitlines()[1:] if md else []
    n = 0
    while n < len(lines) and lines[n].startswith('>'): n += 1
    return n

def figures(nb: dict) -> tuple:
    "(cells with a stored figure, indices of cells that draw but have none) of notebook `nb`"
    stored, missing = 0, []
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] != 'code': continue
        has = any('image/png' in o.get('data', {}) or 'image/svg+xml' in o.get('data', {}) for o in c.get('outputs', []))
        stored += has
        if not has and DRAWS.search(''.join(c['source'])): missing.append(i)
    return stored, missing

OPTION = re.compile(r'#\|\s*([\w-]+)\s*:\s*(.*)')

def quarto_cells(nb: dict) -> list:
    "The cells as Quarto shows them: front matter dropped; a code cell's leading `#|` options stripped and applied"
    cells = []
    for c in nb['cells']:
        if c['cell_type'] == 'raw': continue
        if c['cell_type'] != 'code': cells.append(c); continue
        lines, n, opts = ''.join(c['source']).split('\n'), 0, {}
        while n < len(lines) and lines[n].startswith('#|'):
            if m := OPTION.match(lines[n]): opts[m[1]] = m[2].strip().strip('"').lower()
            n += 1
        if opts.get('include') == 'false': continue
        outs = [] if opts.get('output') == 'false' else c.get('outputs', [])
        md = [''.join(o['data']['text/markdown']) for o in outs if 'text/markdown' in o.get('data', {})]
        cells += [{'cell_type': 'markdown', 'metadata': {}, 'source': m} for m in md]
        rest = [o for o in outs if 'text/markdown' not in o.get('data', {})]
        src = '' if opts.get('echo') == 'false' else '\n'.join(lines[n:])
        if src.strip() or rest: cells.append({**c, 'source': src, 'outputs': rest})
    return cells

def fence(text: str, lang: str = '') -> str:
    "`text` as a fenced code block, the fence longer than any backtick run inside"
    n = max([3] + [len(r) + 1 for r in re.findall(r'`{3,}', text)])
    return f"{'`'*n}{lang}\n{text.rstrip()}\n{'`'*n}"

def to_markdown(nb: dict, media: Path) -> str:
    "The notebook as Quarto hands it to pandoc: markdown cells as they are, code in fences, its outputs after it"
    parts = []
    for i, c in enumerate(quarto_cells(nb)):
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src); continue
        if src.strip(): parts.append(fence(src, 'python'))
        for j, o in enumerate(c.get('outputs', [])):
            d = o.get('data', {})
            if 'image/png' in d:
                media.mkdir(parents=True, exist_ok=True); f = media/f'{i}_{j}.png'
                f.write_bytes(base64.b64decode(''.join(d['image/png']))); parts.append(f'![]({f})')
            elif 'text/html' in d: parts.append(''.join(d['text/html']))
            elif 'text/plain' in d or 'text' in o: parts.append(fence(''.join(d.get('text/plain', o.get('text', '')))))
            elif 'traceback' in o: parts.append(fence(re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(o['traceback']))))
    return '\n\n'.join(parts)

def render(nb_path: Path, out: Path) -> Page:
    "Render one processed notebook to `out/<name>.html` with pandoc, as Quarto would show it; its parsed page"
    nb = json.loads(nb_path.read_text())
    raw = [''.join(c['source']) for c in nb['cells'][:1] if c['cell_type'] == 'raw']
    front = yaml.safe_load(raw[0].strip().strip('-')) if raw else {}
    meta = {'title': front.get('title', nb_path.stem), 'subtitle': front.get('description', '')}
    html, md = out/f'{nb_path.stem}.html', out/f'{nb_path.stem}.md'
    md.write_text(f"---\n{json.dumps(meta)}\n---\n\n" + to_markdown(nb, out/nb_path.stem))   # JSON is YAML
    css = [f'--css={(Path(nb_path).parent/"styles.css").resolve()}'] if (Path(nb_path).parent/'styles.css').exists() else []
    r = subprocess.run(['pandoc', '-f', 'markdown-raw_tex', '-t', 'html5', '--standalone', '--mathml', *css,
                        str(md), '-o', str(html)], capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"pandoc failed on {nb_path}: {r.stderr.strip()[-500:]}")
    return Page(html.read_text())

def check(proc='_proc', nbs='nbs', keep=None) -> list:
    "Every problem of the docs `nbdev-proc-nbs` wrote to `proc`, from the sources in `nbs`"
    proc, nbs, bad = Path(proc), Path(nbs), []
    if not any(proc.glob('*.ipynb')): return [f"{proc}/ has no notebooks: run nbdev-proc-nbs first"]
    out = Path(keep) if keep else Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    try:
        srcs = {p.name: json.loads(p.read_text()) for p in sorted(nbs.glob('*.ipynb')) if not p.name.startswith(('.', '_'))}
        pages = {p.name: render(p, out) for p in sorted(proc.glob('*.ipynb')) if p.name in srcs}
        bad += [f"{n}: not processed (missing from {proc}/)" for n in srcs if n not in pages]
        for name, nb in srcs.items():
            if description_lines(nb) != 1: bad.append(f"{name}: the `>` description under the title must be one line (has {description_lines(nb)})")
        for name, page in pages.items():
            bad += [f"{name}: {p}" for p in page_problems(name, page, pages, srcs[name], nbs, out)]
    finally:
        if not keep: shutil.rmtree(out, ignore_errors=True)
    return bad

def page_problems(name: str, page: Page, pages: dict, src: dict, nbs: Path, out: Path) -> list:
    "Problems of one rendered page"
    bad = []
    for href in page.links:
        if re.match(r'[a-z][a-z0-9+.-]*:', href, re.I): continue            # http:, https:, mailto:, ...
        path, _, frag = href.partition('#')
        target = Path(path).name if path else name
        if path and not path.endswith(PAGE):
            if not (nbs/path).exists(): bad.append(f"link {href}: no such file")
            continue
        if target not in pages: bad.append(f"link {href}: no such page"); continue
        if frag and frag not in pages[target].ids: bad.append(f"link {href}: no anchor #{frag} in {target}")
    code = ''.join(page.code)
    bad += [f"a leftover directive in the code shown: {l.strip()[:70]}" for l in code.splitlines() if re.match(r'\s*#\|', l)]
    bad += [f"a show_doc call in the code shown: {l.strip()[:70]}" for l in code.splitlines() if 'show_doc(' in l]
    text = ' '.join(page.text)
    for m in re.finditer(r'\$[^$\n]{1,40}\$?|\\[a-zA-Z]{2,}\b', text):
        bad.append(f"raw TeX in the text: ...{text[max(0, m.start()-30):m.end()+10]!r}")
    stored, missing = figures(src)
    bad += [f"cell {i} draws a plot but has no stored figure (store it with scripts/nbfigs.py)" for i in missing]
    shown = [s for s in page.imgs if not re.match(r'[a-z]+:', s) and (Path(s) if Path(s).is_absolute() else out/s).exists()]
    if len(shown) < stored: bad.append(f"{stored} stored figures, {len(shown)} shown on the page")
    return bad

def self_test():
    "The checker finds what it must: a docs tree with one of each problem, and nothing on the good parts"
    d = Path(tempfile.mkdtemp())
    md = lambda s: {'cell_type': 'markdown', 'metadata': {}, 'source': s}
    code = lambda s, outs=(): {'cell_type': 'code', 'metadata': {}, 'execution_count': None, 'outputs': list(outs), 'source': s}
    png = {'output_type': 'display_data', 'metadata': {}, 'data': {'image/png': 'iVBORw0KGgo='}}
    doc = {'output_type': 'display_data', 'metadata': {}, 'data': {'text/markdown': '### f\n\n> its docstring'}}
    a = [md('# A\n> one\n> two'), md('## Sec one\n\n[ok](b.ipynb#real-one) [ok](#sec-one) [ok](#f) [no](b.ipynb#nope) [no](#gone) '
            '[no](missing.txt) [no](c.ipynb) $x^2$ and $$y$$ are math; \\frac{1}{2} and $ W + B $ are not; `#| hide` and `show_doc(f)` are prose'),
         code('fig, ax = plt.subplots()\nax.plot([1, 2])'), code('#| echo: false\n#| output: asis\nshow_doc(f)', [doc]),
         code('x = 1\n#| hide\nshow_doc(g)'), code('#| include: false\nshow_doc(h)')]
    b = [md('# B\n> one line'), md('## Real one'), code('plt.plot([1])', [png])]
    for sub in ('nbs', 'proc'):
        (d/sub).mkdir()
        for name, cells in [('a', a), ('b', b)]: (d/sub/f'{name}.ipynb').write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    got = [l.split(': ', 1)[1] for l in check(d/'proc', d/'nbs')]
    want = ["the `>` description under the title must be one line (has 2)", "link b.ipynb#nope: no anchor #nope in b.ipynb",
            "link #gone: no anchor #gone in a.ipynb", "link missing.txt: no such file", "link c.ipynb: no such page",
            "a leftover directive in the code shown: #| hide", "a show_doc call in the code shown: show_doc(g)",
            "cell 2 draws a plot but has no stored figure (store it with scripts/nbfigs.py)"]
    missing = [w for w in want if w not in got] + [f"raw TeX {t!r} not found" for t in ('\\frac', '$ W + B $') if not any('raw TeX' in g and t in g for g in got)]
    extra = [g for g in got if g not in want and 'raw TeX' not in g] + [g for g in got if 'raw TeX' in g and ('x^2' in g or '$$y' in g)]
    shutil.rmtree(d, ignore_errors=True)
    return missing + [f"unexpected: {e}" for e in extra]

if __name__ == '__main__':
    keep = sys.argv[sys.argv.index('--html') + 1] if '--html' in sys.argv else None
    if not shutil.which('pandoc'): sys.exit("pandoc is not installed (Debian: apt-get install pandoc): the docs check cannot run")
    if '--self-test' in sys.argv:
        bad = self_test()
        print('\n'.join(bad) or 'check_docs finds every kind of problem it checks for'); sys.exit(1 if bad else 0)
    bad = check(keep=keep)
    print('\n'.join(bad) or 'docs ok: descriptions, internal links, code shown, math and figures')
    sys.exit(1 if bad else 0)
