"""Build what a run on a lent GPU machine needs and cannot reach: the data and the Python packages it lacks.

A lent GPU machine (the workplace's `device` tool) gets a copy of the working tree and the paths named in `carry`,
at most 64 MiB in all, and nothing else: not `../shared/data`, no package index. Its Python 3.12 has torch, timm,
accelerate, huggingface_hub, safetensors, pandas, scikit-learn and matplotlib, but not diffusers, fastai, papermill,
ipykernel or ipywidgets. This tool writes both into the ignored folder `.device/`:

    python tools/device_bundle.py data      # .device/data/ham10000_64.webp.npz: HAM10000 64 px, images re-encoded as lossless WebP
    python tools/device_bundle.py wheels    # .device/whl/: the missing packages as Python 3.12 x86-64 wheels
    python tools/device_bundle.py size      # what each carried folder weighs, against the 64 MiB limit

and, on the GPU machine,

    python tools/device_bundle.py decode .device/data/ham10000_64.webp.npz outputs/data/ham10000_64.npz

writes the original npz back, array for array: every images array's SHA-256 is stored at encoding time and checked
after decoding, so a run there trains on exactly the bytes the tests here read. The shared npz is 95 MiB (zip
deflate); lossless WebP brings it to about 45 MiB, which leaves room for the working tree but not for the wheels too,
so the data and the wheels travel in two calls (see `results/gpu/README.md`).
"""
import argparse, hashlib, io, shutil, subprocess, sys
from pathlib import Path

import numpy as np
from PIL import Image

from improve_nb.core import atomic_write     # numpy, torch and PIL only: importable on the GPU machine before its wheels

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / ".device"
LIMIT = 64 * 2**20

# Missing on the GPU machine (its package list: the device tool's KINDS.md), pinned to what CI installs here.
# spacy (a fastai requirement used only by fastai.text) and jedi (IPython runs without it) are left out on purpose.
WHEELS = [
    # the library
    "diffusers==0.42.1", "fastai==2.8.12", "fastcore==2.2.41", "fastdownload==0.0.8", "fastprogress==1.1.6",
    "fasttransform==0.0.5", "plum-dispatch==2.10.1", "beartype==0.23.1",
    # papermill and a Jupyter kernel, so the main job runs there as it does here
    "papermill==2.7.0", "nbclient", "nbformat", "jupyter_client", "jupyter_core", "ipykernel", "pyzmq", "tornado",
    "traitlets", "comm", "nest_asyncio", "debugpy", "fastjsonschema", "jsonschema", "jsonschema-specifications",
    "referencing", "rpds-py", "platformdirs", "entrypoints", "tenacity", "ansicolors",
    # IPython (ipykernel's shell, and ipywidgets' display) without jedi/parso
    "ipython", "ipython_pygments_lexers", "decorator", "matplotlib-inline", "prompt_toolkit", "wcwidth", "stack_data",
    "executing", "asttokens", "pure_eval", "pexpect", "ptyprocess",
    "ipywidgets==8.1.9", "widgetsnbextension", "jupyterlab_widgets",
]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "manylinux_2_24_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64"]


def sha256(a: np.ndarray) -> str: return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def savez(path: Path, arrays: dict):
    "np.savez_compressed through `atomic_write`: a killed run leaves no half-written npz."
    with atomic_write(path) as f: np.savez_compressed(f, **arrays)


def encode(src: Path, dst: Path):
    "Every `*_images` array of `src` as lossless WebP bytes (one uint8 buffer + offsets + shape + SHA-256); other keys verbatim."
    d = np.load(src, allow_pickle=False)
    out = {}
    for k in d.files:
        a = d[k]
        if not k.endswith("_images"): out[k] = a; continue
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
            raise ValueError(f"{src}: {k} is {a.dtype} {a.shape}; expected uint8 N x H x W x 3")
        bufs = []
        for im in a:
            # method 4: as small as method 6 on these images (0.371 against 0.376 of the raw bytes, 20 val images) at 14
            # instead of 361 ms an image on the 2-core CPU
            b = io.BytesIO(); Image.fromarray(im).save(b, format="WEBP", lossless=True, quality=100, method=4, exact=True)
            bufs.append(np.frombuffer(b.getvalue(), np.uint8))
        out[f"{k}__webp"] = np.concatenate(bufs)
        out[f"{k}__offsets"] = np.cumsum([0] + [len(b) for b in bufs]).astype(np.int64)
        out[f"{k}__shape"] = np.array(a.shape, np.int64)
        out[f"{k}__sha256"] = np.array(sha256(a))
    savez(dst, out)
    try:    # the bundle is only kept if it round-trips: decode_arrays checks every images array's SHA-256, the rest is verbatim
        decoded = decode_arrays(np.load(dst, allow_pickle=False), dst)
        if sorted(decoded) != sorted(d.files): raise ValueError(f"{dst}: decodes to keys {sorted(decoded)}, expected {sorted(d.files)}")
    except Exception: dst.unlink(); raise
    print(f"{src} ({src.stat().st_size / 2**20:.1f} MiB) -> {dst} ({dst.stat().st_size / 2**20:.1f} MiB), lossless: every array round-trips")


def decode_arrays(e, path) -> dict:
    "The original arrays of an `encode`d npz; raises if an images array's SHA-256 differs from the one stored."
    out = {}
    for k in e.files:
        if "__" not in k: out[k] = e[k]; continue
        name, part = k.rsplit("__", 1)
        if part != "webp": continue
        buf, off, shape = e[k], e[f"{name}__offsets"], tuple(e[f"{name}__shape"])
        a = np.empty(shape, np.uint8)
        for i in range(shape[0]):
            a[i] = np.asarray(Image.open(io.BytesIO(buf[off[i]:off[i + 1]].tobytes())).convert("RGB"))
        if sha256(a) != str(e[f"{name}__sha256"]):
            raise ValueError(f"{path}: {name} decodes to other bytes than were encoded (SHA-256 mismatch); re-build the bundle")
        out[name] = a
    return out


def decode(src: Path, dst: Path):
    savez(dst, decode_arrays(np.load(src, allow_pickle=False), src))
    print(f"{src} -> {dst}: SHA-256 of every images array checked")


def wheels(dst: Path):
    "Download WHEELS for CPython 3.12 on x86-64 Linux, one version each, no dependencies (the machine has the rest)."
    dst.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", "-d", str(dst)] + [a for p in PLATFORMS for a in ("--platform", p)] + WHEELS
    subprocess.run(cmd, check=True)
    names = {}
    for f in sorted(dst.glob("*.whl")): names.setdefault(f.name.split("-")[0].lower().replace("_", "-"), []).append(f.name)
    dup = {k: v for k, v in names.items() if len(v) > 1}
    if dup: raise SystemExit(f"{dst}: several versions of {dup}; delete the folder and run again")
    print(f"{dst}: {len(names)} wheels, {sum(f.stat().st_size for f in dst.glob('*.whl')) / 2**20:.1f} MiB")


def size():
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout.split(b"\0")
    tree = sum((ROOT / p.decode()).stat().st_size for p in files if p and (ROOT / p.decode()).is_file())
    parts = {"working tree (tracked + untracked, not ignored)": tree}
    for sub in ("data", "whl"):
        p = BUNDLE / sub
        if p.exists(): parts[f".device/{sub}"] = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    for k, v in parts.items(): print(f"{v / 2**20:7.1f} MiB  {k}")
    for sub in ("data", "whl"):
        if f".device/{sub}" in parts:
            tot = tree + parts[f".device/{sub}"]
            print(f"{tot / 2**20:7.1f} MiB  a call carrying .device/{sub} ({'fits' if tot < LIMIT else 'OVER'} the 64 MiB limit)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data", help="encode the shared HAM10000 64 px npz into .device/data")
    p.add_argument("--src", default=None, help="default: ham10000/ham10000_64.npz under ../shared/data")
    p.add_argument("--dst", default=str(BUNDLE / "data" / "ham10000_64.webp.npz"))
    p = sub.add_parser("decode", help="write the original npz back from an encoded one (run on the GPU machine)")
    p.add_argument("src"); p.add_argument("dst")
    p = sub.add_parser("wheels", help="download the missing packages into .device/whl")
    p.add_argument("--dst", default=str(BUNDLE / "whl"))
    sub.add_parser("size", help="sizes of the working tree and of each carried folder")
    a = ap.parse_args()
    if a.cmd == "data":
        from improve_nb.data import shared_data_path     # imports fastai: here only, never on the GPU machine
        src = Path(a.src) if a.src else shared_data_path("ham10000", "ham10000_64.npz")
        if src is None or not src.exists(): raise SystemExit(f"{a.src or 'ham10000/ham10000_64.npz under ../shared/data'} not found")
        encode(src, Path(a.dst))
    elif a.cmd == "decode": decode(Path(a.src), Path(a.dst))
    elif a.cmd == "wheels":
        if Path(a.dst).exists(): shutil.rmtree(a.dst)
        wheels(Path(a.dst))
    else: size()


if __name__ == "__main__":
    main()
