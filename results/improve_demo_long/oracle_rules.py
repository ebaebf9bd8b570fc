"""Which demo-oracle rules reject the samples of results/improve_demo_long: share of samples failing each rule, per variant, over seeds.

    python results/improve_demo_long/oracle_rules.py outputs/improve_demo_long results/improve_demo_long/oracle_rules.csv

Reads the PNGs that nbs/05_generate.ipynb wrote (<run>/seed*/samples/<variant>/<class>/*.png) with the library's `folder`
loader and runs improve_nb.data.demo_oracle_details on them; a rule absent for a class (e.g. pallor outside erythrocytes)
counts as passed. The `real test` column is the demo test split at the main job's seed 0 and the run's image size, as
many images per class as one seed's variant has; the last rows give its and the samples' median background brightness.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from improve_nb.data import DEMO_CLASSES, demo_oracle_details, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from summarize_ablation import VARIANTS  # noqa: E402  (the ablation's variant names and order)

run, dest = Path(sys.argv[1]), Path(sys.argv[2])
parts = []
for seed_dir in sorted(run.glob("seed*/")):
    for v in VARIANTS:
        ds = load_dataset("folder", root=seed_dir / "samples" / v, image_size=None, split="all", classes=DEMO_CLASSES)
        parts.append(demo_oracle_details(ds.images, ds.labels).assign(variant=v))
if not parts: raise SystemExit(f"no seed*/ folders under {run}")
n = int(np.bincount(ds.labels).min())
real = load_dataset("demo", image_size=ds.images.shape[1], split="test", n_per_class=n, seed=0)
parts.append(demo_oracle_details(real.images, real.labels).assign(variant="real test"))
d = pd.concat(parts, ignore_index=True)
rules = [k for k in d.columns if k.startswith("pass_")]
g = d.groupby("variant", sort=False)
fail = (~d[rules].fillna(True).astype(bool)).groupby(d.variant, sort=False).mean().T
fail.index = [i.removeprefix("pass_") for i in fail.index]
fail.loc["all rules passed (oracle accepts)"] = g.ok.mean()
fail.loc["median background brightness"] = g.bg_brightness.median()
fail.loc["min background brightness"] = g.bg_brightness.min()
fail.loc["n images"] = g.size()
fail.to_csv(dest, float_format="%.3f")
print(fail.round(3).to_string())
