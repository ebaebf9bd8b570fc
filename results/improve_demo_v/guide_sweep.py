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
import sys, time
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import demo_oracle_details, load_dataset
from improve_nb.diffusion import DenoiserPipeline
from improve_nb.guidance import PrototypeGuide, mean_prototype_distance
from improve_nb.prototypes import PrototypeNet, train_prototype_net

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from summarize_ablation import t_interval  # noqa: E402  (the ablation summaries' t-interval)


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
}
if set(ONLY) - set(SETTINGS): sys.exit(f"unknown settings {sorted(set(ONLY) - set(SETTINGS))}; known: {list(SETTINGS)}")


def no_jitter_net(seed_dir: Path, s: int) -> PrototypeNet:
    "The main job's PrototypeNet recipe at seed s with `proto_color_jitter=False`, trained once and kept in seed_dir/prototypes_nojitter."
    d = seed_dir / "prototypes_nojitter"
    if not (d / "config.json").exists():
        train = load_dataset("demo", image_size=32, split="train", n_per_class=300)
        val = load_dataset("demo", image_size=32, split="val", n_per_class=75)
        net, rep = train_prototype_net(train, val, backbone="resnet10t", dim=64, k=1, noise_aug="x0hat", color_jitter=False, epochs=4,
                                       bs=64, seed=s, device="cpu")
        net.save_pretrained(d)
        print({k: v for k, v in rep.items() if not isinstance(v, (list, dict))}, flush=True)
    return PrototypeNet.from_pretrained(d).eval()


rows = pd.read_csv(dest).to_dict("records") if dest.exists() else []   # rows already written are kept, not re-sampled
done = {(r["seed"], r["setting"]) for r in rows}
for seed_dir in sorted(run.glob("seed*/")):
    s = int(seed_dir.name[4:])
    pipe = DenoiserPipeline.from_pretrained(seed_dir / "baseline" / "pipeline", device="cpu")
    net = PrototypeNet.from_pretrained(seed_dir / "prototypes").eval()
    for name, kw in SETTINGS.items():
        if (s, name) in done or (ONLY and name != "unguided" and name not in ONLY): continue
        kw = None if kw is None else dict(kw)
        g_net = no_jitter_net(seed_dir, s) if kw is not None and kw.pop("net", None) == "no_jitter" else net
        guides = [] if kw is None else [PrototypeGuide(g_net, mode="cheap", n_classes=len(pipe.classes), **{**DEFAULT, **kw})]
        t0 = time.time()
        imgs, labels = pipe(n_per_class=32, num_inference_steps=25, sampler="ddim", cfg_scale=3.0, guides=guides,
                            generator=torch.Generator().manual_seed(s), device="cpu")
        sec = time.time() - t0
        d = demo_oracle_details(imgs, labels)
        with torch.no_grad(): dist = mean_prototype_distance(net, imgs, labels)   # always the ablation's (jittered) net: comparable rows
        fails = {f"fail_{c[5:]}": float(1 - d[c].fillna(True).astype(bool).mean()) for c in d.columns if c.startswith("pass_")}
        rows.append(dict(seed=s, setting=name, oracle_pass=float(d.ok.mean()), **fails,
                         prototype_distance=float(dist.mean()), seconds=round(sec, 1)))
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items() if k in ("seed", "setting", "oracle_pass", "prototype_distance", "seconds")}, flush=True)
        pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4f")   # after every row: a killed run keeps what it did
summarize(pd.DataFrame(rows), dest)
