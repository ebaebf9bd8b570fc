"""List (or fix with --fix) notebook cells that the docs build would execute by accident.

nbdev's docs processing (nbdev-proc-nbs) executes every exported cell and every other code cell that contains an import
anywhere in it, in a fresh kernel and in order. A test cell that both imports and uses names from earlier, non-executed
cells then fails the docs build. DESIGN.md's rule: imports alone in their cell. `--fix` moves a cell's top-level import
lines into a new cell just before it (same directives); nested imports are reported for a manual fix.
"""
import ast, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ("#| export", "#| exports", "#| exporti", "#| exec_doc", "#|export")


def directives(src):
    return [l for l in src.splitlines() if l.strip().startswith("#|")]


def check(fix=False):
    bad = []
    for nbp in sorted((ROOT / "nbs").glob("*.ipynb")):
        nb = nbformat.read(nbp, 4); changed = False; new_cells = []
        for c in nb.cells:
            if c.cell_type != "code" or any(l.strip().startswith(EXPORT) for l in directives(c.source)) or "eval: false" in c.source:
                new_cells.append(c); continue
            src = "\n".join(l for l in c.source.splitlines() if not l.lstrip().startswith(("%", "!")))
            try: tree = ast.parse(src)
            except SyntaxError: new_cells.append(c); continue
            imps = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
            top_imps = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            others = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
            if not imps or not others: new_cells.append(c); continue
            nested = len(imps) > len(top_imps)
            bad.append((nbp.name, c.source.splitlines()[:3], "nested" if nested else "top-level"))
            if fix and not nested:
                lines = src.splitlines()
                imp_lines = set()
                for n in top_imps: imp_lines.update(range(n.lineno - 1, n.end_lineno))
                d = directives(c.source)
                imp_src = "\n".join(d + [lines[i] for i in sorted(imp_lines)])
                rest = "\n".join(l for i, l in enumerate(c.source.splitlines()) if i not in imp_lines or l.strip().startswith("#|"))
                new_cells.append(nbformat.v4.new_code_cell(imp_src))
                c.source = rest; changed = True
            new_cells.append(c)
        if changed:
            nb.cells = new_cells; nbformat.write(nb, nbp)
    for b in bad: print(*b)
    return bad


if __name__ == "__main__":
    bad = check("--fix" in sys.argv)
    if "--check" in sys.argv and bad: sys.exit(f"{len(bad)} cell(s) mix imports with other code: the docs build would run them")
