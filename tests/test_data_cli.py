"""The `improve-nb-data` console script, run as a user would (a subprocess)."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from improve_nb.data import shared_data_path


def cli(*args):
    exe = shutil.which("improve-nb-data", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-c", "import sys; from improve_nb.data import data_cli; sys.exit(data_cli())"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=300)


def test_cli_real_pbc_folder():
    p = shared_data_path("pbc_raw", "PBC_dataset_normal_DIB")
    if p is None: pytest.skip("real data pbc_raw/PBC_dataset_normal_DIB not found under $IMPROVE_NB_DATA or ../shared/data")
    r = cli("folder", p, "--image-size", 16)
    assert r.returncode == 0, r.stderr
    for c in ("basophil", "platelet", "total"): assert c in r.stdout
    assert "split sizes: train=" in r.stdout and "skipped" not in r.stdout
    sizes = dict(kv.split("=") for kv in r.stdout.split("split sizes: ")[1].splitlines()[0].split(", "))
    assert sum(map(int, sizes.values())) == 200


def test_cli_one_split_demo():
    r = cli("demo", "--image-size", 32, "--split", "val")
    assert r.returncode == 0, r.stderr
    assert "split sizes: val=1280" in r.stdout                     # 256 per class x 5 classes


def test_cli_broken_layout_exits_nonzero_with_message(tmp_path):
    (tmp_path / "HAM10000_metadata.csv").write_text("image_id,dx\nISIC_1,mel\n")
    r = cli("ham10000", tmp_path)
    assert r.returncode == 2
    assert "lacks column(s) ['lesion_id']" in r.stderr and "Traceback" not in r.stderr


def test_cli_missing_root(tmp_path):
    r = cli("folder", tmp_path / "absent")
    assert r.returncode == 2 and "absent is not a folder" in r.stderr


def test_cli_reports_corrupt_file(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(6): Image.fromarray(np.full((10, 10, 3), i, np.uint8)).save(tmp_path / c / f"{i}.png")
    (tmp_path / "b" / "bad.png").write_bytes(b"not a png")
    r = cli("folder", tmp_path, "--image-size", 8)
    assert r.returncode == 1
    assert f"skipped: {tmp_path / 'b' / 'bad.png'}" in r.stdout and "could not be read" in r.stderr
    r = cli("folder", tmp_path, "--image-size", 8, "--strict")
    assert r.returncode == 2 and "bad.png" in r.stderr


def test_cli_help():
    r = cli("--help")
    assert r.returncode == 0 and "--image-size" in r.stdout and "root" in r.stdout
