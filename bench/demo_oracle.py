"""Measure the demo data's plausibility oracle: acceptance of the generator's own images for the drawn class (should be
~1) and for every other class (should be ~0), at several sizes; then the same under blur and noise (how brittle the
oracle is for imperfect, e.g. generated, images), with Wilson 95% intervals, and the rule margins.

Run: python bench/demo_oracle.py [--n 500] [--sizes 28 32 64] [--seed 0]   (prints markdown)
"""
import argparse, platform, time

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from improve_nb.data import (DEMO_CELL_RULES, DEMO_CLASSES, DEMO_RULES, _demo_judge, demo_images, demo_measure)


def wilson(k, n, z=1.96):
    if n == 0: return (np.nan, np.nan)
    p = k / n; d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d; h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def confusion(x, y, denoise=True):
    meas = pd.DataFrame([demo_measure(im, denoise) for im in x])
    acc = np.stack([_demo_judge(meas, np.full(len(y), c))["ok"].to_numpy(bool) for c in range(len(DEMO_CLASSES))], 1)
    return acc, meas


def table(acc, y):
    rows = []
    for c, name in enumerate(DEMO_CLASSES):
        a = acc[y == c]; n = len(a)
        cells = []
        for j in range(len(DEMO_CLASSES)):
            k = int(a[:, j].sum()); lo, hi = wilson(k, n)
            cells.append(f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    head = "| drawn \\ checked as | " + " | ".join(DEMO_CLASSES) + " |\n|---|" + "---|" * len(DEMO_CLASSES)
    return head + "\n" + "\n".join(rows)


def margins(meas, y):
    "For each class rule: the observed min..max of the measurement over that class's images, next to the allowed range."
    out = ["| class | rule | allowed | observed min .. max |", "|---|---|---|---|"]
    for c, name in enumerate(DEMO_CLASSES):
        m = meas[y == c]
        for k, (lo, hi) in (DEMO_CELL_RULES | DEMO_RULES[name]).items():
            out.append(f"| {name} | {k} | {lo} .. {hi} | {m[k].min():.3f} .. {m[k].max():.3f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500); ap.add_argument("--sizes", type=int, nargs="+", default=[28, 32, 64])
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--split", default="test")
    a = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}; n_per_class={a.n}, split={a.split}, seed={a.seed}\n")
    for s in a.sizes:
        t = time.time()
        x, y = demo_images(a.n, s, a.split, a.seed)
        tg = time.time() - t; t = time.time()
        acc, meas = confusion(x, y)
        print(f"### {s} px: acceptance rate [Wilson 95% interval] ({len(y)} images; generate {tg:.1f} s, oracle {time.time() - t:.1f} s)\n")
        print(table(acc, y) + "\n")
        if s == a.sizes[0] or s == 32:
            print(f"Rule margins at {s} px:\n\n{margins(meas, y)}\n")
    s = 32 if 32 in a.sizes else a.sizes[0]
    x, y = demo_images(a.n, s, a.split, a.seed)
    rng = np.random.default_rng(a.seed)
    perturb = {
        "gaussian blur sigma=0.5 px": lambda im: ndi.gaussian_filter(im.astype(float), (0.5, 0.5, 0)),
        "gaussian blur sigma=1.0 px": lambda im: ndi.gaussian_filter(im.astype(float), (1.0, 1.0, 0)),
        "gaussian blur sigma=1.5 px": lambda im: ndi.gaussian_filter(im.astype(float), (1.5, 1.5, 0)),
        "additive noise sd=8": lambda im: im + rng.normal(0, 8, im.shape),
        "additive noise sd=16": lambda im: im + rng.normal(0, 16, im.shape),
        "additive noise sd=32": lambda im: im + rng.normal(0, 32, im.shape),
    }
    summary = ["| perturbation | denoise | own-class acceptance, worst class | wrong-class acceptance, worst pair |", "|---|---|---|---|"]
    for name, f in [("none", lambda im: im)] + list(perturb.items()):
        xp = np.stack([np.clip(np.round(f(im.astype(float))), 0, 255).astype(np.uint8) for im in x])
        for dn in (True, False):
            acc, _ = confusion(xp, y, dn)
            cm = np.array([acc[y == c].mean(0) for c in range(len(DEMO_CLASSES))])
            worst = int(np.argmin(np.diag(cm))); off = np.where(np.eye(len(DEMO_CLASSES), dtype=bool), -1, cm)
            i, j = np.unravel_index(np.argmax(off), off.shape)
            pair = f"{DEMO_CLASSES[i]} as {DEMO_CLASSES[j]}" if off[i, j] > 0 else "none accepted"
            summary.append(f"| {name} | {dn} | {cm[worst, worst]:.3f} ({DEMO_CLASSES[worst]}) | {off[i, j]:.3f} ({pair}) |")
            if dn and name != "none": print(f"### {s} px after {name} (denoise=True)\n\n{table(acc, y)}\n")
    print(f"### Robustness summary at {s} px ({len(y)} images per row)\n\n" + "\n".join(summary) + "\n")


if __name__ == "__main__":
    main()
