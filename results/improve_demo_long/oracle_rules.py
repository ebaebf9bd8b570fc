"""Which demo-oracle rules reject the samples of results/improve_demo_long: share of samples failing each rule, per variant, over seeds.

    python results/improve_demo_long/oracle_rules.py outputs/improve_demo_long results/improve_demo_long/oracle_rules.csv

Reads the PNGs that nbs/05_generate.ipynb wrote (<run>/seed*/samples/<variant>/<class>/*.png) and runs
improve_nb.data.demo_oracle_details on them; a rule absent for a class (e.g. pallor outside erythrocytes) counts as passed.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from improve_nb.data import DEMO_CLASSES, demo_oracle_details

run, dest = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for seed_dir in sorted(run.glob("seed*/")):
    for vdir in sorted((seed_dir / "samples").iterdir()):
        for ci, c in enumerate(DEMO_CLASSES):
            files = sorted((vdir / c).glob("*.png"))
            if not files: raise FileNotFoundError(f"{vdir / c}: expected the notebook's sample PNGs, found none")
            imgs = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
            d = demo_oracle_details(imgs, ci).assign(seed=seed_dir.name, variant=vdir.name)
            rows.append(d)
d = pd.concat(rows, ignore_index=True)
rules = [k for k in d.columns if k.startswith("pass_")]
fail = (~d[rules].fillna(True).astype(bool)).groupby(d.variant).mean().T
fail.index = [i.removeprefix("pass_") for i in fail.index]
fail.loc["all rules passed (oracle accepts)"] = d.groupby("variant").ok.mean()
fail.loc["n images"] = d.groupby("variant").size()
order = [v for v in ["baseline", "proto_cond", "proto_guide", "improve"] if v in fail.columns]
fail[order].to_csv(dest, float_format="%.3f")
print(fail[order].round(3).to_string())
