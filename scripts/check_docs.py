"""The docs as a reader meets them, checked without Quarto (not installable here): render each notebook that
`nbdev-proc-nbs` processed (`_proc/`) to HTML with pandoc (Quarto's own renderer) and fail on

- a chapter whose `>` description is more than one line (nbdev's front matter keeps only the first);
- a broken internal link: to a page that is not in the site, to an anchor (a pandoc heading id) that the
  page does not have, or to a file of the repository that does not exist;
- a leftover `#|` directive or a `show_doc(` call in the code a reader sees;
- raw TeX: a `$` or a `\\command` in the text outside math and code (math pandoc did not recognise);
- a plot that does not appear: a code cell that draws with matplotlib but has no stored figure, or a
  figure that the rendered page does not show.

Usage, from the repo root, after `nbdev-proc-nbs`:  python scripts/check_docs.py [--html DIR]
Exit status 1 and one line per problem. `--html DIR` keeps the rendered pages (to look at them in a browser).
"""
import json, re, shutil, subprocess, sys, tempfile
from html.parser import HTMLParser
from pathlib import Path

PAGE = ('.ipynb', '.qmd', '.md')
DRAWS = re.compile(r'^(?!\s*(import|from)\b).*\b(plt\.|\.plot\(|\.imshow\(|\.bar\(|\.scatter\()', re.M)

class Page(HTMLParser):
    "Ids, links, code text and prose text of one rendered HTML page"
    def __init__(self, html: str):
        super().__init__(); self.ids, self.links, self.imgs, self.code, self.text = set(), [], [], [], []
        self._code = self._math = 0
        self.feed(html)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag == 'img': self.imgs.append(a.get('src', ''))
        if tag in ('code', 'pre'): self._code += 1
        if tag == 'span' and 'math' in (a.get('class') or '').split(): self._math += 1
        elif tag == 'span' and self._math: self._math += 1
    def handle_endtag(self, tag):
        if tag in ('code', 'pre'): self._code -= 1; self.code.append('\n')
        if tag == 'span' and self._math: self._math -= 1
    def handle_data(self, data):
        if self._code: self.code.append(data)
        elif not self._math: self.text.append(data)

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

def render(nb_path: Path, out: Path) -> Page:
    "Render one processed notebook to `out/<name>.html` with pandoc; its parsed page"
    html, nb = out/f'{nb_path.stem}.html', json.loads(nb_path.read_text())
    for c in nb['cells']:   # Debian's pandoc (2.17) rejects the null execution counts nbdev-clean leaves; Quarto's does not
        for o in c.get('outputs', []):
            if 'execution_count' in o and o['execution_count'] is None: o['execution_count'] = 0
    src = out/f'{nb_path.stem}.ipynb'; src.write_text(json.dumps(nb))
    r = subprocess.run(['pandoc', '-f', 'ipynb', '-t', 'html5', '--standalone', '--mathjax', f'--metadata=title:{nb_path.stem}',
                        f'--extract-media={out/nb_path.stem}', str(src), '-o', str(html)], capture_output=True, text=True)
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

if __name__ == '__main__':
    keep = sys.argv[sys.argv.index('--html') + 1] if '--html' in sys.argv else None
    if not shutil.which('pandoc'): sys.exit("pandoc is not installed (Debian: apt-get install pandoc): the docs check cannot run")
    bad = check(keep=keep)
    print('\n'.join(bad) or 'docs ok: descriptions, internal links, code shown, math and figures')
    sys.exit(1 if bad else 0)
