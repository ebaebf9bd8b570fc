"""Samples of the guide sweep side by side: one panel per setting, one row per class, the first 4 samples (seed 0).

    python results/improve_pbc/sweep_figure.py          # after sweep.py; writes results/improve_pbc/sweep/samples_seed0.png
    python results/improve_pbc/sweep_figure.py --sweep outputs/improve_pbc/sweep_long --no-ablation \
        --names baseline proto_cond baseline_cj_scale0.1 cj_scale0.1 cj_scale0.1_softmax --dst results/improve_pbc/sweep_long/samples_seed0.png
"""
import argparse, sys
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from sweep import read_pngs  # noqa: E402
from improve_nb.core import show_grid  # noqa: E402
from improve_nb.data import load_dataset  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--sweep", default="outputs/improve_pbc/sweep", help="sweep.py's --out (the cached sample sets)")
ap.add_argument("--names", nargs="*", default=["scale0.1", "cj_scale0.1", "cj_scale0.05", "cj_scale0.3"], help="settings to show (seed 0)")
ap.add_argument("--no-ablation", action="store_true", help="leave out the ablation's own baseline / proto_cond / improve PNGs")
ap.add_argument("--dst", default="results/improve_pbc/sweep/samples_seed0.png")
a = ap.parse_args()
abl, out, n = Path("outputs/improve_pbc/seed0"), Path(a.sweep), 4
test = load_dataset("medmnist", root="../shared/data/pbc_blood/pbc_28.npz", image_size=32, split="test")
classes = test.classes
panels = {"real test": (test.images, test.labels)}
if not a.no_ablation:
    panels.update({"baseline": read_pngs(abl / "samples" / "baseline", classes),
                   "proto_cond (unguided)": read_pngs(abl / "samples" / "proto_cond", classes),
                   "improve, scale 0.3 (ablation)": read_pngs(abl / "samples" / "improve", classes)})
for name in a.names:
    f = out / "samples" / f"{name}.npz"
    if f.exists(): z = np.load(f); panels[name] = (z["images"], z["labels"])
fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 5.2))
for i, (ax, (name, (ims, labs))) in enumerate(zip(axes, panels.items())):
    pick = np.concatenate([np.flatnonzero(labs == c)[:n] for c in range(len(classes))])
    show_grid(ims[pick], nrow=n, title=name, ax=ax, row_labels=[c.split(" ")[0] for c in classes] if i == 0 else None)
    ax.title.set_fontsize(8)
fig.tight_layout()
dst = Path(a.dst); dst.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(dst, dpi=110); print("wrote", dst)
