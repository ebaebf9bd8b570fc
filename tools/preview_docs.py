"""Offline docs preview: `python tools/preview_docs.py` -> _preview/*.html.

The real site is built by Quarto on the hosted CI (.github/workflows/deploy.yaml). Quarto cannot be installed on this
project's machines (its package downloads a binary), so this runs nbdev's own pre-processing (`nbdev-proc-nbs`, the
step before `quarto render`: directives, show_doc, frontmatter) into _proc/, then renders those notebooks to static
HTML with nbconvert. nbdev-proc-nbs only checks that a `quarto` is on PATH; a stand-in that refuses to run is used.
"""
import json, os, stat, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}


def proc_nbs():
    stub = Path(tempfile.mkdtemp()) / "quarto"
    stub.write_text('#!/bin/sh\necho "quarto is not installed here (preview stand-in)" >&2\nexit 1\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([str(Path(sys.executable).parent / "nbdev-proc-nbs")], cwd=ROOT, env=env, check=True)


def render(out=ROOT / "_preview"):
    import nbformat
    from nbconvert import HTMLExporter
    out.mkdir(exist_ok=True)
    exp = HTMLExporter()
    for p in sorted((ROOT / "_proc").glob("*.ipynb")):
        d = json.loads(p.read_text())
        for c in d["cells"]:                       # nbdev's processing leaves bookkeeping keys nbformat rejects
            for k in set(c) - CELL_KEYS: c.pop(k)
            c.get("metadata", {}).pop("execution", None)      # nbdev timing floats; nbformat wants strings
            if c["cell_type"] != "code": c.pop("outputs", None); c.pop("execution_count", None)
        nb = nbformat.reads(json.dumps(d), as_version=4)   # joins list-of-lines sources
        html, _ = exp.from_notebook_node(nb)
        (out / p.with_suffix(".html").name).write_text(html)
        print(out / p.with_suffix(".html").name)


if __name__ == "__main__":
    proc_nbs()
    render()
