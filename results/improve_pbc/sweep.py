"""Why does PrototypeGuide lower the expert's score on PBC? A sweep of guide settings on the saved seed-0 models.

    python results/improve_pbc/sweep.py --threads 1        # after results/improve_pbc/run.sh has written outputs/improve_pbc/seed0

Reuses seed 0's IMPROVE denoiser (prototype-initialised embeddings) and PrototypeNet from the ablation, so every row
shares one denoiser and differs only in the guide: scale, timestep window, and which PrototypeNet steers (the
ablation's, or one trained the same way but with colour jitter, `train_prototype_net(color_jitter=True)`); the setting
`baseline_cj_scale0.1` guides the ablation's baseline denoiser instead (the `proto_guide` variant); `*_softmax` settings use
`PrototypeGuide(objective="softmax")` (descend the net's own cross-entropy, not only the target distance); `baseline` and
`proto_cond` sample the two denoisers unguided.
Samples: 48 per class, DDIM-25, CFG 3, generator seed s for each of --seeds (default 0), exactly as the ablation's seed s
(the ablation's seeds 1 and 2 sampled seed 0's denoisers too). Where they exist (`<ablation>/../seed<s>/samples`), the ablation's own
`baseline`, `proto_cond` (this denoiser, unguided) and `improve` samples of those seeds are re-read from their PNGs, so they
are judged by the same networks as the sweep.

Longer-trained denoisers (`extend.py`): `--ablation outputs/improve_pbc_long/seed0 --judge outputs/improve_pbc/sweep
--out outputs/improve_pbc/sweep_long --settings baseline proto_cond cj_scale0.1 baseline_cj_scale0.1 ...` samples every row,
the unguided ones included, and judges them with the cached networks of the first sweep (the same expert, extractor and
colour-jittered PrototypeNet), so the two tables differ only in the denoisers.

One judge for every row: a colour-jittered resnet18 expert (8 epochs, seed 1234, the ablation's seed-0 recipe) and a
resnet10t feature extractor (4 epochs, seed 0) for FID / precision / recall / coverage against the real test split.
Both are trained once and cached under --judge (default --out), every sampled set (npz) under --out, so a killed run continues.
Writes <out>/sweep.csv (tidy, every metric, per seed), <out>/sweep_per_seed.csv, <out>/sweep_summary.csv (one row per
setting: mean over seeds and the 95 % t-interval half-width), <out>/sweep_goal.csv (share of the gap to the real test
ceiling closed and FID ratio, against the baseline and against the unguided IMPROVE denoiser, per seed and mean with
its t-interval; `--summary-only` rewrites these three from sweep.csv), plus report.json
(settings, timings, machine, command).
"""
import argparse, json, platform, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from safetensors.torch import load_model, save_model

from improve_nb.core import atomic_write, save_json, seed_everything
from improve_nb.data import load_dataset
from improve_nb.diffusion import DenoiserPipeline
from improve_nb.evaluation import classifier_extractor, evaluate, train_classifier, train_expert
from improve_nb.guidance import PrototypeGuide, mean_prototype_distance
from improve_nb.prototypes import PrototypeNet, train_prototype_net

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from summarize_ablation import t_interval  # noqa: E402  (the ablation's interval over seeds)

# name: (PrototypeNet: "ablation" | "cj" | None (unguided), scale, window[, denoiser: "improve" (default) | "baseline" | "baseline_align<W>"[, objective[, (views, n_views)]]])
SETTINGS = {
    "baseline": (None, 0.0, (0.0, 1.0), "baseline"),
    "proto_cond": (None, 0.0, (0.0, 1.0), "improve"),
    "cj_scale0.3": ("cj", 0.3, (0.0, 0.8)),
    "cj_scale0.1": ("cj", 0.1, (0.0, 0.8)),
    "cj_scale0.05": ("cj", 0.05, (0.0, 0.8)),
    "scale0.1": ("ablation", 0.1, (0.0, 0.8)),
    "scale0.3_late": ("ablation", 0.3, (0.0, 0.5)),
    "baseline_cj_scale0.1": ("cj", 0.1, (0.0, 0.8), "baseline"),   # the ablation's `proto_guide` variant with the new guide
    "cj_scale0.1_softmax": ("cj", 0.1, (0.0, 0.8), "improve", "softmax"),
    "baseline_cj_scale0.2": ("cj", 0.2, (0.0, 0.8), "baseline"),
    # the baseline continued with prototype alignment (extend.py --align-weight W): unguided, and with the proto_guide guide
    "align0.001": (None, 0.0, (0.0, 1.0), "baseline_align0.001"),
    "align0.001_cj_scale0.1": ("cj", 0.1, (0.0, 0.8), "baseline_align0.001"),
    "align0.005": (None, 0.0, (0.0, 1.0), "baseline_align0.005"),
    "align0.005_cj_scale0.1": ("cj", 0.1, (0.0, 0.8), "baseline_align0.005"),
    # the proto_guide guide kept off the last, least noisy fifth of sampling (t/T < 0.2), where it can add features that
    # satisfy its own net but not the expert (confusion.py)
    "baseline_cj_scale0.1_w0.2": ("cj", 0.1, (0.2, 0.8), "baseline"),
    "align0.005_cj_scale0.1_w0.2": ("cj", 0.1, (0.2, 0.8), "baseline_align0.005"),
    # the same guide with its energy averaged over views of x̂0 (PrototypeGuide(views=..., n_views=...)): all 8 rotations/flips,
    # or 4 random rotation/flip + shift + colour-gain views
    "baseline_cj_scale0.1_d4": ("cj", 0.1, (0.0, 0.8), "baseline", "distance", ("d4", 8)),
    "baseline_cj_scale0.1_rand4": ("cj", 0.1, (0.0, 0.8), "baseline", "distance", ("random", 4)),
    "align0.005_cj_scale0.1_d4": ("cj", 0.1, (0.0, 0.8), "baseline_align0.005", "distance", ("d4", 8)),
    "align0.005_cj_scale0.1_rand4": ("cj", 0.1, (0.0, 0.8), "baseline_align0.005", "distance", ("random", 4)),
    # a stronger guide once views have removed its shortcuts (the plain guide at 0.2 lost accuracy on seed 0)
    "align0.005_cj_scale0.15_d4": ("cj", 0.15, (0.0, 0.8), "baseline_align0.005", "distance", ("d4", 8)),
}


def setting(name: str) -> tuple:
    "(net, scale, window, denoiser, objective, (views, n_views)) of a setting, with the defaults filled in."
    v = SETTINGS[name]
    return v + ("improve", "distance", (None, 1))[len(v) - 3:]


def read_pngs(folder: Path, classes):
    ims, labs = [], []
    for i, c in enumerate(classes):
        files = sorted((folder / c).glob("*.png"))
        if not files: raise FileNotFoundError(f"{folder / c}: no PNG samples (expected the ablation's seed-0 samples)")
        ims += [np.asarray(Image.open(f).convert("RGB")) for f in files]; labs += [i] * len(files)
    return np.stack(ims), np.asarray(labs)


def cached_classifier(path: Path, train_fn, arch: str, n_classes: int):
    "Train once, then load the weights from `path` (safetensors) into a fresh timm `arch`."
    import timm
    if path.exists():
        m = timm.create_model(arch, pretrained=False, num_classes=n_classes, in_chans=3); load_model(m, str(path)); return m.eval(), "cached"
    t = time.time(); m = train_fn().model.eval()
    tmp = path.with_suffix(".partial"); save_model(m, str(tmp)); tmp.replace(path)   # never a half-written cache
    return m, round(time.time() - t, 1)


def save_report(rep: dict, path: Path):
    "Write report.json, keeping the timings and commands another sweep process (run side by side) wrote meanwhile."
    if path.exists():
        old = json.loads(path.read_text())
        rep["timings"] = {**old.get("timings", {}), **rep["timings"]}
        rep["commands"] = sorted(set(old.get("commands", [])) | set(rep["commands"]))
    save_json(rep, path)


BASELINE, UNGUIDED = "baseline (ablation)", "proto_cond (ablation, unguided)"


def summarize(tidy: pd.DataFrame, out: Path):
    "sweep_per_seed.csv, sweep_summary.csv (mean and 95 % t-interval half-width over seeds) and sweep_goal.csv from the tidy table."
    overall = tidy[tidy["class"] == "all"].pivot_table(index=["set", "seed"], columns="metric", values="value", sort=False)
    keep = [c for c in ["expert_balanced_accuracy", "expert_accuracy", "fid", "precision", "recall", "coverage", "color_fd", "prototype_distance"] if c in overall]
    recall = tidy[(tidy.metric == "expert_recall")].pivot_table(index=["set", "seed"], columns="class", values="value", sort=False)
    per_seed = overall[keep].join(recall.add_prefix("expert_recall_"))
    sets = list(dict.fromkeys(per_seed.index.get_level_values("set")))
    ci = {st: {c: t_interval(per_seed.loc[st][c]) for c in keep} for st in sets}
    summary = per_seed.groupby(level="set", sort=False).mean().join(
        pd.DataFrame({st: {f"{c}_ci95_halfwidth": v[2] - v[0] for c, v in d.items()} for st, d in ci.items()}).T).assign(
        n_seeds=per_seed.groupby(level="set", sort=False).size())
    # the goal check, per seed: share of the gap between a reference and the real test ceiling closed, and FID ratio
    ceiling = float(overall.loc["real (ceiling)", "expert_balanced_accuracy"].iloc[0])
    goal = []
    for ref in (BASELINE, "baseline", UNGUIDED, "proto_cond"):     # the ablation's PNGs, or the same denoisers sampled here
        if ref not in sets: continue
        r = per_seed.loc[ref]
        for st in sets:
            if st in ("real (ceiling)", ref): continue
            x = per_seed.loc[st]
            gap = (x.expert_balanced_accuracy - r.expert_balanced_accuracy) / (ceiling - r.expert_balanced_accuracy)
            fid = x.fid / r.fid
            (gm, gl, gh), (fm, fl, fh) = t_interval(gap), t_interval(fid)
            goal.append(dict(set=st, reference=ref, gap_closed=gm, gap_ci_low=gl, gap_ci_high=gh, fid_ratio=fm, fid_ci_low=fl,
                             fid_ci_high=fh, gap_per_seed=" ".join(f"{v:.3f}" for v in gap.dropna()),
                             fid_ratio_per_seed=" ".join(f"{v:.3f}" for v in fid.dropna()), n_seeds=int(gap.notna().sum())))
    goal = pd.DataFrame(goal)
    for name, df, idx in (("sweep_per_seed.csv", per_seed, True), ("sweep_summary.csv", summary, True), ("sweep_goal.csv", goal, False)):
        with atomic_write(out / name, "w") as fh: df.to_csv(fh, index=idx)
    print(summary[keep + ["n_seeds"]].round(3).to_string())
    print(goal.drop(columns=["gap_per_seed", "fid_ratio_per_seed"]).round(3).to_string())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ablation", default="outputs/improve_pbc/seed0")
    ap.add_argument("--out", default="outputs/improve_pbc/sweep")
    ap.add_argument("--judge", default=None, help="folder of the cached expert, extractor and colour-jittered PrototypeNet (default: --out)")
    ap.add_argument("--data", default="../shared/data/pbc_blood/pbc_28.npz")
    ap.add_argument("--settings", nargs="*", default=list(SETTINGS), help=f"subset of {list(SETTINGS)}")
    ap.add_argument("--n-per-class", type=int, default=48)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0],
                    help="sampling seeds; seed s re-reads the ablation's seed-s baseline/improve PNGs (../seed<s>/samples)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--expert-epochs", type=int, default=8)
    ap.add_argument("--extractor-epochs", type=int, default=4)
    ap.add_argument("--proto-epochs", type=int, default=6, help="epochs of the colour-jittered PrototypeNet (the ablation's: 6)")
    ap.add_argument("--summary-only", action="store_true", help="re-summarise <out>/sweep.csv; loads no model")
    ap.add_argument("--sample-only", action="store_true",
                    help="sample and cache the sets, judge nothing (for processes side by side; a last run without it judges all)")
    a = ap.parse_args()
    if a.summary_only: return summarize(pd.read_csv(Path(a.out) / "sweep.csv"), Path(a.out))
    if a.threads: torch.set_num_threads(a.threads)
    bad = [s for s in a.settings if s not in SETTINGS]
    if bad: raise SystemExit(f"unknown setting(s) {bad}; available: {list(SETTINGS)}")
    abl, out = Path(a.ablation), Path(a.out)
    judge = Path(a.judge) if a.judge else out
    dens = {setting(n)[3] for n in a.settings}
    for p in (*(abl / d / "pipeline" for d in dens), abl / "prototypes"):
        if not p.exists(): raise SystemExit(f"{p} is missing: run results/improve_pbc/run.sh first (seed 0), or extend.py for a longer-trained pair")
    judge.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rep_file = out / "report.json"
    rep = json.loads(rep_file.read_text()) if rep_file.exists() else {"timings": {}, "commands": []}
    rep["commands"] = sorted(set(rep["commands"]) | {"python " + " ".join(sys.argv)})
    rep.update(epochs=dict(expert=a.expert_epochs, extractor=a.extractor_epochs, prototypes_cj=a.proto_epochs), machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
               ablation=str(abl), judge=str(judge),
               settings={k: dict(zip(("proto", "scale", "window", "denoiser", "objective", "views"), setting(k))) for k in SETTINGS},
               sampling=dict(n_per_class=a.n_per_class, sampler="ddim", steps=25, cfg_scale=3, generator_seeds=a.seeds, mode="cheap", schedule="sigma"))

    kw = dict(root=a.data, image_size=32)
    train_ds, val_ds, test_ds = (load_dataset("medmnist", split=s, **kw) for s in ("train", "val", "test"))
    classes, K = train_ds.classes, train_ds.n_classes
    dev = torch.device("cpu")

    save_report(rep, rep_file)

    proto_abl = PrototypeNet.from_pretrained(abl / "prototypes").eval()
    nets = {"ablation": proto_abl}
    if any(setting(s)[0] == "cj" for s in a.settings):
        cj_dir = judge / f"prototypes_cj_e{a.proto_epochs}"
        if not (cj_dir / "config.json").exists():
            t = time.time()
            cfg = proto_abl.config
            net, prep = train_prototype_net(train_ds, val_ds, backbone=cfg.backbone, dim=cfg.dim, k=cfg.k, noise_aug="x0hat",
                                            epochs=a.proto_epochs, bs=64, seed=0, device=dev, color_jitter=True)
            net.save_pretrained(cj_dir); save_json(prep, cj_dir.with_name(cj_dir.name + "_report.json"))
            rep["timings"]["prototypes_cj_s"] = round(time.time() - t, 1); save_report(rep, rep_file)
        nets["cj"] = PrototypeNet.from_pretrained(cj_dir).eval()

    sets = {}   # (name, seed) -> (images, labels)
    pipes = {d: DenoiserPipeline.from_pretrained(abl / d / "pipeline", device=dev) for d in dens}
    for name, sd in ((n, sd) for sd in a.seeds for n in a.settings):
        f = out / "samples" / (f"{name}.npz" if sd == 0 else f"{name}_seed{sd}.npz")
        if not f.exists():
            net, scale, window, den, objective, (views, n_views) = setting(name)
            pipe = pipes[den]
            guides = [] if net is None else [PrototypeGuide(nets[net], scale=scale, t_window=window, mode="cheap", schedule="sigma",
                                                            n_classes=K, objective=objective, views=views, n_views=n_views).check_denoiser(pipe.model)]
            t = time.time()
            ims, labs = pipe(n_per_class=a.n_per_class, num_inference_steps=25, sampler="ddim", cfg_scale=3, guides=guides,
                             generator=torch.Generator().manual_seed(sd), device=dev)
            rep["timings"][f"{name}_sample_s" if sd == 0 else f"{name}_seed{sd}_sample_s"] = round(time.time() - t, 1); save_report(rep, rep_file)
            with atomic_write(f) as fh: np.savez(fh, images=ims, labels=labs)
        z = np.load(f); sets[name, sd] = (z["images"], z["labels"])
        print(name, "seed", sd, "sampled", flush=True)
    if a.sample_only: return save_report(rep, rep_file)

    for sd in a.seeds:                   # the ablation's own sets, judged beside the sweep's
        if not (abl.parent / f"seed{sd}" / "samples").exists(): continue       # extend.py's denoisers: no ablation PNGs
        for v, name in (("baseline", BASELINE), ("proto_cond", UNGUIDED), ("improve", "improve (ablation, scale 0.3)")):
            sets[name, sd] = read_pngs(abl.parent / f"seed{sd}" / "samples" / v, classes)

    # the judge, loaded (or trained once and cached) only when judging
    expert, t_e = cached_classifier(judge / f"expert_resnet18_e{a.expert_epochs}_s1234.safetensors",
                                    lambda: train_expert(train_ds, arch="resnet18", seed=1234, epochs=a.expert_epochs, device=dev), "resnet18", K)
    ext_model, t_x = cached_classifier(judge / f"extractor_resnet10t_e{a.extractor_epochs}_s0.safetensors",
                                       lambda: train_classifier(train_ds, arch="resnet10t", epochs=a.extractor_epochs, seed=0, device=dev), "resnet10t", K)
    if t_e != "cached": rep["timings"]["expert_s"] = t_e          # a rerun loads the cache and keeps the training time
    if t_x != "cached": rep["timings"]["extractor_s"] = t_x
    extractor = classifier_extractor(model=ext_model, in_chans=3, device=dev, name="classifier-resnet10t")
    save_report(rep, rep_file)

    rows = []
    for (name, sd), (ims, labs) in sets.items():
        df = evaluate(test_ds, {name: (ims, labs)}, metrics=["fid", "prdc", "expert", "color"], extractor=extractor, expert=expert,
                      per_class=True, k=5, n_boot=200, seed=0, device=dev)
        if rows: df = df[df.set != "real (ceiling)"]           # the same judge on the same test split: once
        d = mean_prototype_distance(proto_abl, ims, labs).numpy()
        df = pd.concat([df, pd.DataFrame([dict(set=name, metric="prototype_distance", **{"class": "all"}, value=float(d.mean()), n=len(d))])])
        rows.append(df.assign(seed=sd))
    tidy = pd.concat(rows, ignore_index=True)
    with atomic_write(out / "sweep.csv", "w") as fh: tidy.to_csv(fh, index=False)
    save_report(rep, rep_file)
    summarize(tidy, out)

if __name__ == "__main__":
    main()
