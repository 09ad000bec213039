"""Internal links of the docs: every link in a notebook's markdown (and in README.md) to another notebook,
a section, or a file of the repository must point at something that exists.

Usage, from the repo root:  python scripts/check_links.py   (exit status 1 and one line per broken link)
The index notebook runs `broken_links` as a test, so `nbdev-test` (and CI) fails on a broken link.

Checked: `[text](target)` and `<img src=...>` targets that are not URLs (http, https, mailto); `page.ipynb`,
`page.ipynb#section` and `#section` (sections are heading anchors as Quarto/pandoc make them, or explicit
`{#id}`s); any other relative path, against the file system; and the pages listed in `nbs/sidebar.yml`.
Links inside code (fences and backticks) are not links and are skipped.
"""
import json, re, sys
from pathlib import Path

LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|<img[^>]*\bsrc="([^"]+)"')

def strip_code(md: str) -> str:
    "Markdown without fenced code blocks and inline code spans"
    md = re.sub(r'^(```|~~~).*?^\1', '', md, flags=re.M | re.S)
    return re.sub(r'`[^`\n]*`', '', md)

def slug(heading: str) -> str:
    "The anchor pandoc gives a heading: no markup or punctuation (but `_-.`), lower case, spaces to hyphens"
    h = re.sub(r'\{#([^}\s]+)[^}]*\}\s*$', '', heading).strip()
    h = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', h).replace('`', '')
    h = re.sub(r'[^\w\s.-]', '', h.lower()).strip()
    h = re.sub(r'\s+', '-', h)
    return re.sub(r'^[^a-z]+', '', h) or 'section'

def anchors(md: str) -> set:
    "Section anchors defined in markdown `md`: heading slugs and explicit `{#id}`s"
    out = set()
    for line in strip_code(md).splitlines():
        m = re.match(r'#{1,6}\s+(.*)', line)
        if m: out.add(slug(m.group(1)))
        out.update(re.findall(r'\{#([\w.-]+)', line))
    return out

def nb_markdown(path: Path) -> str:
    "The markdown cells of notebook `path`, joined"
    cells = json.loads(Path(path).read_text())['cells']
    return '\n\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')

def _check(src: str, md: str, base: Path, pages: dict, own: set) -> list:
    "Broken links of markdown `md` (from file `src`, relative to `base`)"
    bad = []
    for m in LINK.finditer(strip_code(md)):
        target = m.group(1) or m.group(2)
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I): continue          # http:, https:, mailto:, ...
        path, _, frag = target.partition('#')
        if not path:
            if frag not in own: bad.append(f"{src}: #{frag}: no such section")
            continue
        p = (base/path).resolve()
        if not p.exists(): bad.append(f"{src}: {target}: no such file"); continue
        if frag and p.suffix == '.ipynb' and frag not in pages.setdefault(p, anchors(nb_markdown(p))):
            bad.append(f"{src}: {target}: no section #{frag} in {p.name}")
    return bad

def broken_links(nbs='nbs', readme=None) -> list:
    "Every broken internal link in the notebooks of folder `nbs`, its `sidebar.yml`, and (if given) the README file"
    nbs, pages, bad = Path(nbs), {}, []
    for nb in sorted(nbs.glob('*.ipynb')):
        if nb.name.startswith(('.', '_')): continue
        md = nb_markdown(nb)
        pages[nb.resolve()] = own = anchors(md)
        bad += _check(nb.name, md, nbs, pages, own)
    sb = nbs/'sidebar.yml'
    if sb.exists():
        bad += [f"sidebar.yml: {p}: no such page" for p in re.findall(r'-\s+(\S+\.(?:ipynb|qmd|md))', sb.read_text()) if not (nbs/p).exists()]
    if readme and Path(readme).exists():
        md = Path(readme).read_text()
        bad += _check(Path(readme).name, md, Path(readme).parent, pages, anchors(md))
    return bad

if __name__ == '__main__':
    bad = broken_links('nbs', 'README.md')
    print('\n'.join(bad) or 'no broken internal links')
    sys.exit(1 if bad else 0)
