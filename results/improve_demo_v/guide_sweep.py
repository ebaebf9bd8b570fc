"""Why does PrototypeGuide lower the demo oracle's pass rate on v-prediction denoisers, when it raised it on ε ones?
A sweep of guide settings on the baseline denoisers of results/improve_demo_v (1,500 steps, v-prediction, 3 training seeds).

    python results/improve_demo_v/guide_sweep.py outputs/improve_demo_v1500 results/improve_demo_v/guide_sweep.csv
    python results/improve_demo_v/guide_sweep.py --summary-only results/improve_demo_v/guide_sweep.csv   (rewrite the summary)
    python results/improve_demo_v/guide_sweep.py RUN DEST "window [0, 0.5]" ...   (only the named settings, and `unguided`)

For each seed s: the seed's baseline pipeline (EMA weights) and PrototypeNet, 32 samples per class, DDIM-25, CFG 3,
generator seed s: exactly the ablation's `baseline` (scale 0) and `proto_guide` (scale 0.1, sigma schedule, window
[0, 0.8], d4 views, 8 views) calls, so the rows are paired by noise. The other rows change one setting. Judge: the
demo rule oracle (the expert the main job trains is not saved). Writes one row per seed and setting: oracle pass
rate, the share failing each oracle rule (a rule absent for a class counts as passed), the mean prototype distance the
guide minimises (`mean_prototype_distance`), seconds. 2 torch threads. `<dest stem>_summary.csv`: per setting, the mean over seeds and the paired difference from
`unguided` (same seed and noise) with its 95 % t-interval over seeds. Rows already in `dest` are kept and not sampled
again, so a killed run continues and added settings run alone.
"""
import sys
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import demo_oracle_details
from improve_nb.guidance import mean_prototype_distance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from summarize_ablation import t_interval  # noqa: E402  (the ablation summaries' t-interval)
from demo_guides import guided_runs  # noqa: E402  (this folder: the seeds' sampling loop, shared with early_steps.py)


def summarize(df: pd.DataFrame, dest: Path):
    "Mean over seeds per setting, and the paired difference from `unguided` with a t-interval over seeds."
    out, ref = [], df[df.setting == "unguided"].set_index("seed")
    for name, g in df.groupby("setting", sort=False):
        r = dict(setting=name, n_seeds=len(g))
        for m in ("oracle_pass", "prototype_distance", "fail_bg_brightness", "fail_bg_std", "seconds"):
            d = (g.set_index("seed")[m] - ref[m]).dropna()   # the seeds this setting ran at
            mean, lo, hi = t_interval(d)
            r |= {m: g[m].mean(), f"{m}_diff": mean, f"{m}_diff_lo": lo, f"{m}_diff_hi": hi,
                  f"{m}_diff_per_seed": ";".join(f"{v:+.4f}" for v in d)}
        out.append(r)
    pd.DataFrame(out).to_csv(dest.with_name(dest.stem + "_summary.csv"), index=False, float_format="%.4f")


if sys.argv[1] == "--summary-only":
    summarize(pd.read_csv(sys.argv[2]), Path(sys.argv[2])); sys.exit()
torch.set_num_threads(2)
run, dest = Path(sys.argv[1]), Path(sys.argv[2])
ONLY = sys.argv[3:]   # optional: sample only these settings (by name; "unguided" is always kept as the reference)
DEFAULT = dict(scale=0.1, t_window=(0.0, 0.8), schedule="sigma", objective="distance", views="d4", n_views=8)
SETTINGS = {
    "unguided": None,
    "default (scale 0.1, d4)": {},
    "scale 0.03": dict(scale=0.03),
    "scale 0.3": dict(scale=0.3),
    "no views": dict(views=None),
    "window [0, 0.5]": dict(t_window=(0.0, 0.5)),
    "window [0.5, 1]": dict(t_window=(0.5, 1.0)),
    "softmax objective": dict(objective="softmax"),
    "window [0, 0.5], scale 0.2": dict(t_window=(0.0, 0.5), scale=0.2),
    "window [0, 0.5], scale 0.4": dict(t_window=(0.0, 0.5), scale=0.4),
    "window [0, 0.3]": dict(t_window=(0.0, 0.3)),
    "window [0, 0.3], scale 0.3": dict(t_window=(0.0, 0.3), scale=0.3),
    # session 16: the guide's net without colour jitter (expert_confusion.py: the failing samples' cytoplasm colour is wrong)
    "window [0, 0.5], net without colour jitter": dict(t_window=(0.0, 0.5), net="no_jitter"),
    # session 17: a net trained on the baseline denoiser's own (unconditional) x̂₀ of noised real images
    "window [0, 0.3], scale 0.3, denoiser-x0 net": dict(t_window=(0.0, 0.3), scale=0.3, net="denoiser"),
    "denoiser-x0 net (window [0, 0.8])": dict(net="denoiser"),
    "window [0.5, 1], denoiser-x0 net": dict(t_window=(0.5, 1.0), net="denoiser"),
    "window [0, 1], scale 0.3, denoiser-x0 net": dict(t_window=(0.0, 1.0), scale=0.3, net="denoiser"),
    # session 17: the sigma schedule with eps-normalised gradients moves x̂₀ by scale·(1-ᾱ)/√ᾱ per step (0.3 RMS at
    # t/T = 0.8, scale 0.1); the alpha schedule moves it by scale·√(1-ᾱ) (bounded): is the early harm a step size?
    "alpha schedule, window [0, 1], scale 0.03": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.03),
    "alpha schedule, window [0, 1], scale 0.1": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.1),
    "alpha schedule, window [0.5, 1], scale 0.1": dict(schedule="alpha", t_window=(0.5, 1.0), scale=0.1),
    "alpha schedule, window [0, 1], scale 0.2": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.2),
    "alpha schedule, window [0, 1], scale 0.3": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.3),
    "alpha schedule, window [0, 1], scale 0.1, denoiser-x0 net": dict(schedule="alpha", t_window=(0.0, 1.0), net="denoiser"),
    "alpha schedule, window [0.3, 0.8], scale 0.2": dict(schedule="alpha", t_window=(0.3, 0.8), scale=0.2),
    # session 17 (size_sensitivity_noisy.py): at t/T >= 0.6 the net prefers larger lymphocytes; a net trained without blur
    "alpha schedule, window [0, 1], scale 0.1, no-blur net": dict(schedule="alpha", t_window=(0.0, 1.0), net="no_blur"),
    "alpha schedule, window [0, 1], scale 0.2, no-blur net": dict(schedule="alpha", t_window=(0.0, 1.0), scale=0.2, net="no_blur"),
    # session 17 (size_sensitivity_noisy.py with CFG 1): without CFG the x̂₀ of real lymphocytes keeps their size at high noise
    "unguided, CFG 1.5": dict(unguided=True, cfg=1.5),
    "unguided, CFG 2": dict(unguided=True, cfg=2.0),
    "alpha schedule, window [0, 1], scale 0.1, CFG 1.5": dict(schedule="alpha", t_window=(0.0, 1.0), cfg=1.5),
}
if set(ONLY) - set(SETTINGS): sys.exit(f"unknown settings {sorted(set(ONLY) - set(SETTINGS))}; known: {list(SETTINGS)}")
rows = pd.read_csv(dest).to_dict("records") if dest.exists() else []   # rows already written are kept, not re-sampled
done = {(r["seed"], r["setting"]) for r in rows}
skip = lambda s, name: (s, name) in done or (ONLY and name != "unguided" and name not in ONLY)
for s, name, imgs, labels, net, sec in guided_runs(run, SETTINGS, DEFAULT, skip):
    d = demo_oracle_details(imgs, labels)
    with torch.no_grad(): dist = mean_prototype_distance(net, imgs, labels)   # always the ablation's (jittered) net: comparable rows
    fails = {f"fail_{c[5:]}": float(1 - d[c].fillna(True).astype(bool).mean()) for c in d.columns if c.startswith("pass_")}
    rows.append(dict(seed=s, setting=name, oracle_pass=float(d.ok.mean()), **fails,
                     prototype_distance=float(dist.mean()), seconds=round(sec, 1)))
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items() if k in ("seed", "setting", "oracle_pass", "prototype_distance", "seconds")}, flush=True)
    pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4f")   # after every row: a killed run keeps what it did
summarize(pd.DataFrame(rows), dest)
