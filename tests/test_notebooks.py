"""Run every notebook in `nbs/` as one pytest test, through nbdev's own test machinery.

Cells carrying a flag listed in `[tool.nbdev] tst_flags` (`notest slow gpu hub`) are skipped unless the flag is named in
the environment variable `IMPROVE_NB_TEST_FLAGS` (space separated), as `nbdev-test --flags` would do; a notebook whose
frontmatter sets `skip_exec`, or whose folder holds a `.notest` file, is skipped the way `nbdev-test` skips it.
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.frontmatter import nb_frontmatter
from nbdev.process import NBProcessor
from nbdev.test import test_nb as run_notebook, _keep_file

CFG = get_config(Path(__file__).parent)
NOTEBOOKS = sorted(nbglob(CFG.nbs_path, as_path=True))


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 2, f"no notebooks found under {CFG.nbs_path}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook(nb: Path):
    if not _keep_file(nb, ".notest"): pytest.skip(f"{nb.parent}/.notest excludes this folder")
    if str(nb_frontmatter(NBProcessor(nb, process=True).nb).get("skip_exec", "")).lower() in ("true", "1", "yes"):
        pytest.skip(f"{nb.name} sets skip_exec (a pipeline notebook, run through papermill by its own tests)")
    skip = CFG.tst_flags.split() if isinstance(CFG.tst_flags, str) else list(CFG.tst_flags)
    force = os.environ.get("IMPROVE_NB_TEST_FLAGS", "").split()
    ok, secs = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=CFG.config_path,
                            cell_timeout=CFG.cell_timeout or None)
    assert ok, f"{nb.name} failed; its traceback is in the captured stderr above"
