"""What the guide does to the cells when it acts on the early, high-noise steps (t/T in [0.5, 1]) of the v-models'
sampling: the oracle's measurements per class (cell size, cytoplasm colour, N:C ratio) and its pass rate, for the
unguided baseline, the early-window guide under the guide's metric and gradient-norm options, and the late-window
default for reference. The judge's numbers come from `demo_oracle_details`; the models and noise are the ones that
`guide_sweep.py` uses (seed s's baseline pipeline and PrototypeNet, 32 per class, DDIM-25, CFG 3, generator seed s).

    python results/improve_demo_v/early_steps.py outputs/improve_demo_v1500 results/improve_demo_v/early_steps.csv

Writes one row per seed, setting and class (means over that class's 32 samples) and prints the mean over seeds. Rows
already in the csv are kept and not sampled again. `seconds` is the sampling call's time (rows written before the
loop moved to `demo_guides.py` also counted the oracle's measurement, about 1 s). The x_t-net rows train one more
PrototypeNet per seed (`<seed>/prototypes_xt`).
"""
import sys
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import DEMO_CLASSES, demo_oracle_details

from demo_guides import guided_runs  # this folder: the seeds' sampling loop, shared with guide_sweep.py

BASE = dict(scale=0.1, t_window=(0.5, 1.0), schedule="sigma", objective="distance", views="d4", n_views=8)
SETTINGS = {
    "unguided": None,
    "early, sqeuclidean (the sweep's row)": {},
    "early, cosine": dict(metric="cosine"),
    "early, raw gradient (grad_norm=None)": dict(grad_norm=None),
    "early, raw gradient, scale 1": dict(grad_norm=None, scale=1.0),
    "late [0, 0.3], scale 0.3 (the default)": dict(t_window=(0.0, 0.3), scale=0.3),
    # a PrototypeNet trained on noisy x_t (noise_aug="xt", time-conditioned), guiding on x_t as classifier guidance does
    "early, x_t net": dict(net="xt"),
    "window [0, 0.8], x_t net": dict(net="xt", t_window=(0.0, 0.8)),
    "late [0, 0.3], scale 0.3, x_t net": dict(net="xt", t_window=(0.0, 0.3), scale=0.3),
    # session 17: the alpha schedule (x̂₀ moves by about scale·√(1-ᾱ) per step instead of scale·(1-ᾱ)/√ᾱ), guide_sweep.py
    "early, alpha schedule": dict(schedule="alpha"),
    "window [0, 1], alpha schedule": dict(schedule="alpha", t_window=(0.0, 1.0)),
    "window [0, 1], alpha schedule, scale 0.2": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.2),
}
MEASURES = ["cell_frac", "cyto_blue", "nc_ratio", "n_lobes", "ok"]


def main(run, dest):
    torch.set_num_threads(2)
    rows = pd.read_csv(dest).to_dict("records") if Path(dest).exists() else []   # rows already written are kept
    done = {(r["seed"], r["setting"]) for r in rows}
    for s, name, x, y, _, sec in guided_runs(run, SETTINGS, BASE, lambda s, name: (s, name) in done):
        d = demo_oracle_details(x, y)
        d["ok"] = d["ok"].astype(float)
        for c, g in d.groupby(y):
            rows.append(dict(seed=s, setting=name, cls=DEMO_CLASSES[c], n=len(g), **{m: float(g[m].mean()) for m in MEASURES},
                             seconds=round(sec, 1)))
        print(s, name, f"{d.ok.mean():.3f}", flush=True)
        pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4f")
    df = pd.DataFrame(rows)
    print(df.groupby(["cls", "setting"], sort=False)[MEASURES].mean().round(3).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:3])
