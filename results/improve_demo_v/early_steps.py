"""What the guide does to the cells when it acts on the early, high-noise steps (t/T in [0.5, 1]) of the v-models'
sampling: the oracle's measurements per class (cell size, cytoplasm colour, N:C ratio) and its pass rate, for the
unguided baseline, the early-window guide under the guide's metric and gradient-norm options, and the late-window
default for reference. The judge's numbers come from `demo_oracle_details`; the models and noise are the ones that
`guide_sweep.py` uses (seed s's baseline pipeline and PrototypeNet, 32 per class, DDIM-25, CFG 3, generator seed s).

    python results/improve_demo_v/early_steps.py outputs/improve_demo_v1500 results/improve_demo_v/early_steps.csv

Writes one row per seed, setting and class (means over that class's 32 samples) and prints the mean over seeds. Rows
already in the csv are kept and not sampled again. The x_t-net rows train one more PrototypeNet per seed
(`<seed>/prototypes_xt`).
"""
import sys, time
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import DEMO_CLASSES, demo_oracle_details, load_dataset
from improve_nb.diffusion import DenoiserPipeline
from improve_nb.guidance import PrototypeGuide
from improve_nb.prototypes import PrototypeNet, train_prototype_net

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
}


def xt_net(seed_dir: Path, s: int) -> PrototypeNet:
    "The main job's PrototypeNet recipe at seed s (colour-jittered) with noise_aug='xt', trained once into seed_dir/prototypes_xt."
    d = seed_dir / "prototypes_xt"
    if not (d / "config.json").exists():
        train = load_dataset("demo", image_size=32, split="train", n_per_class=300)
        val = load_dataset("demo", image_size=32, split="val", n_per_class=75)
        net, rep = train_prototype_net(train, val, backbone="resnet10t", dim=64, k=1, noise_aug="xt", color_jitter=True, epochs=4,
                                       bs=64, seed=s, device="cpu")
        net.save_pretrained(d)
        print({k: v for k, v in rep.items() if not isinstance(v, (list, dict))}, flush=True)
    return PrototypeNet.from_pretrained(d).eval()
MEASURES = ["cell_frac", "cyto_blue", "nc_ratio", "n_lobes", "ok"]


def main(run, dest):
    torch.set_num_threads(2)
    rows = pd.read_csv(dest).to_dict("records") if Path(dest).exists() else []   # rows already written are kept
    done = {(r["seed"], r["setting"]) for r in rows}
    for seed_dir in sorted(Path(run).glob("seed*/")):
        s = int(seed_dir.name[4:])
        pipe = DenoiserPipeline.from_pretrained(seed_dir / "baseline" / "pipeline", device="cpu")
        net = PrototypeNet.from_pretrained(seed_dir / "prototypes").eval()
        for name, kw in SETTINGS.items():
            if (s, name) in done: continue
            kw = None if kw is None else dict(kw)
            g_net = xt_net(seed_dir, s) if kw is not None and kw.pop("net", None) == "xt" else net
            guides = [] if kw is None else [PrototypeGuide(g_net, mode="cheap", n_classes=len(pipe.classes), **{**BASE, **kw})]
            t0 = time.time()
            x, y = pipe(n_per_class=32, num_inference_steps=25, sampler="ddim", cfg_scale=3.0, guides=guides,
                        generator=torch.Generator().manual_seed(s), device="cpu")
            d = demo_oracle_details(x, y)
            d["ok"] = d["ok"].astype(float)
            for c, g in d.groupby(y):
                rows.append(dict(seed=s, setting=name, cls=DEMO_CLASSES[c], n=len(g), **{m: float(g[m].mean()) for m in MEASURES},
                                 seconds=round(time.time() - t0, 1)))
            print(s, name, f"{d.ok.mean():.3f}", flush=True)
            pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4f")
    df = pd.DataFrame(rows)
    print(df.groupby(["cls", "setting"], sort=False)[MEASURES].mean().round(3).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:3])
