"""Session 18: is the PBC plausibility gap, like the demo's, made by classifier-free guidance at scale 3? A CFG sweep of
the unguided baseline, and PrototypeGuide judged against the best-CFG baseline, on a PBC denoiser trained with the main
job's CURRENT defaults (v-prediction; alpha-schedule guide on t/T in [0, 1], scale 0.1, d4 views), then lighter guide
scales (0.03 ... 0.005) at low CFG. Session 19: the deciding rows at training seeds 1 and 2 (--train-seed; `combine`).

Stages (each resumable: a killed stage continues where it stopped; finished outputs are never recomputed):

    python results/improve_pbc/cfg_sweep.py train --threads 1 &     # baseline denoiser (the main job's fit("baseline"))
    python results/improve_pbc/cfg_sweep.py nets --threads 1        # PrototypeNet, expert (judge), FID feature extractor
    python results/improve_pbc/cfg_sweep.py align --threads 1       # IMPROVE denoiser: the baseline's first half, aligned second half
    python results/improve_pbc/cfg_sweep.py sample --threads 1 --sets A B ...   (several lanes side by side)
    python results/improve_pbc/cfg_sweep.py evaluate --threads 2    # evaluation.csv, summary.csv
    python results/improve_pbc/cfg_sweep.py figure                  # samples.png

Training seed k > 0 (--train-seed k; every stage takes it): its baseline and IMPROVE denoisers and its PrototypeNet go to
train_seed<k>/ and its sets to sets/<set>_t<k>.npz; the judge (expert, extractor) is shared (`nets --skip-judge` trains
only the PrototypeNet). `evaluate --dest .../cfg_sweep/train_seeds` scores every set present; `combine` joins those rows
with session 18's training-seed-0 rows of summary.csv into train_seeds/combined.csv and combined_summary.csv.

The recipe is `run.sh`'s (the sessions 2-9 ablation) with the main job's current defaults: PBC `pbc_28.npz` (own 70/10/20
split, 8 classes) at 32 px, `small` (1.8 M-parameter) denoiser, --steps optimiser steps at batch 64, lr 2e-3 (cosine),
p_uncond 0.1, EMA 0.999 with warm-up, v-prediction, seed 0 (--train-seed). `align` is the main job's IMPROVE denoiser exactly: the same
initial weights and batches, plain for the first half (so it starts from the baseline's mid-run checkpoint, train_denoiser's init_checkpoint, which is
bit-identical to training it again), then PrototypeAlignCallback 0.005 on t/T in [0, 0.5]. PrototypeNet: resnet10t,
dim 64, x̂0 noise augmentation, colour jitter, 6 epochs (run.sh's proto_epochs). Judge: resnet18 expert, colour
jitter, 8 epochs, seed 1234 (the main job's seed + 1234), never used for guidance or training. FID / precision / recall
on the penultimate features of a resnet10t domain classifier (4 epochs, seed 0) trained on the real training split.

Sets: DDIM-25, 48 per class (384 images), generator seed 0 for every set (--seed s for a replicate, saved as <set>_s<s>),
so all sets of one sampling seed share their initial noise. Intervals are bootstrap intervals over the generated images:
they do not cover training variance (`combine`'s t-intervals over training seeds do).
"""
import argparse, json, platform, re, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

OUT = Path("outputs/improve_pbc_cfg")
DATA = "../shared/data/pbc_blood/pbc_28.npz"
GUIDE = dict(scale=0.1, t_window=(0.0, 1.0), mode="cheap", schedule="alpha", objective="distance", views="d4", n_views=8)
# set name -> (denoiser, CFG scale, guide scale or 0). "_guide" is the main job's scale (0.1); "_guide0.03" etc. the scale follow-up
SETS = {f"{d}_cfg{c:g}{'' if not g else '_guide' if g == GUIDE['scale'] else f'_guide{g:g}'}": (d, c, g)
        for d in ("baseline", "improve") for c in (1.0, 1.5, 2.0, 3.0) for g in (0, 0.1, 0.03, 0.02, 0.01, 0.005)}
N_PER_CLASS, STEPS_SAMPLER = 48, 25


def load(split):
    from improve_nb.data import load_dataset
    return load_dataset("medmnist", root=DATA, image_size=32, split=split)


def machine():
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def wait_for(path):
    "Block until `path` exists: a stage may start while the one it needs still runs in another lane."
    while not Path(path).exists():
        print(f"waiting for {path}", flush=True); time.sleep(60)


def gap_closed(x, baseline, ceiling):
    "Share of the baseline-to-ceiling gap that score x closes (nan where the baseline is at or above the ceiling)."
    return (x - baseline) / (ceiling - baseline) if ceiling > baseline else float("nan")


def run_dir(train_seed):
    "Training seed 0 keeps session 18's layout; seed k > 0 (session 19's replicates) lives in train_seed<k>/."
    return OUT if train_seed == 0 else OUT / f"train_seed{train_seed}"


def fit(name, steps, train_seed=0, cbs=(), model=None, **kw):
    from improve_nb.diffusion import train_denoiser
    t = time.time()
    pipe = train_denoiser(load("train"), preset="small", steps=steps, bs=64, lr=2e-3, p_uncond=0.1, seed=train_seed, ema_decay=0.999,
                          ema_warmup=True, prediction_type="v_prediction", device="cpu", out_dir=run_dir(train_seed) / name, model=model,
                          progress=False, ckpt_every=100, resume=True, keep_checkpoints=100, cbs=cbs, **kw)
    return pipe, time.time() - t


def train(a):
    R = run_dir(a.train_seed)
    if (R / "baseline" / "pipeline" / "pipeline.json").exists(): return print("baseline: done")
    pipe, sec = fit("baseline", a.steps, a.train_seed)
    (R / "logs").mkdir(parents=True, exist_ok=True)
    (R / "logs" / "baseline_train.json").write_text(json.dumps(dict(command="python " + " ".join(sys.argv), wall_s=round(sec, 1),
        resumed_from_step=pipe.info["resumed_from_step"], steps=a.steps, machine=machine()), indent=1))


def nets(a):
    from improve_nb.evaluation import train_classifier, train_expert
    from improve_nb.prototypes import train_prototype_net
    from safetensors.torch import save_file
    train_ds, val_ds = load("train"), load("val")
    R = run_dir(a.train_seed)   # the PrototypeNet is part of the method: one per training seed; the judge is shared
    log = R / "logs"; log.mkdir(parents=True, exist_ok=True)
    if not (R / "prototypes" / "config.json").exists():
        t = time.time()
        net, rep = train_prototype_net(train_ds, val_ds, backbone="resnet10t", dim=64, k=1, noise_aug="x0hat", color_jitter=True,
                                       epochs=6, bs=64, seed=a.train_seed, device="cpu")
        net.save_pretrained(R / "prototypes")
        (log / "prototypes.json").write_text(json.dumps({**{k: v for k, v in rep.items() if isinstance(v, (int, float, str))},
                                                         "wall_s": round(time.time() - t, 1), "machine": machine()}, indent=1))
    for name, fn in (("expert", lambda: train_expert(train_ds, arch="resnet18", seed=1234, epochs=8, device="cpu")),
                     ("extractor", lambda: train_classifier(train_ds, arch="resnet10t", epochs=4, seed=0, device="cpu"))):
        if a.skip_judge or (OUT / name / "model.safetensors").exists(): continue
        t = time.time()
        learn = fn()
        (OUT / name).mkdir(parents=True, exist_ok=True)
        (OUT / name / "info.json").write_text(json.dumps({**learn.info, "wall_s": round(time.time() - t, 1), "machine": machine()}, indent=1))
        save_file({k: v.contiguous() for k, v in learn.model.state_dict().items()}, str(OUT / name / "model.safetensors"))


def load_timm(name):
    import timm
    from improve_nb.evaluation import load_state_dict_file
    info = json.loads((OUT / name / "info.json").read_text())
    m = timm.create_model(info["arch"], pretrained=False, num_classes=len(info["classes"]), in_chans=3)
    m.load_state_dict(load_state_dict_file(OUT / name / "model.safetensors"))
    return m.eval()


def align(a):
    from improve_nb.diffusion import ClassConditionalUNet
    from improve_nb.guidance import PrototypeAlignCallback, PrototypeGuide
    from improve_nb.prototypes import PrototypeNet
    R = run_dir(a.train_seed)
    if (R / "improve" / "pipeline" / "pipeline.json").exists(): return print("improve: done")
    half = a.steps // 2
    src = R / "baseline" / "checkpoints" / f"checkpoint-{half:08d}"   # init_checkpoint: its own checkpoints, once written, win
    wait_for(src / "state.json")
    wait_for(R / "prototypes" / "config.json")
    net = PrototypeNet.from_pretrained(R / "prototypes").eval()
    cb = PrototypeAlignCallback(PrototypeGuide(net, objective="softmax", n_classes=8), weight=0.005, t_window=(0.0, 0.5), start_step=half)
    torch.manual_seed(a.train_seed)
    model = ClassConditionalUNet(classes=load("train").classes, image_size=32, channels=3, preset="small")
    pipe, sec = fit("improve", a.steps, a.train_seed, [cb], model, init_checkpoint=src)
    (R / "logs").mkdir(parents=True, exist_ok=True)
    (R / "logs" / "improve_train.json").write_text(json.dumps(dict(command="python " + " ".join(sys.argv), wall_s=round(sec, 1),
        resumed_from_step=pipe.info["resumed_from_step"], steps=a.steps, machine=machine(), align=cb.summary(50)), indent=1, default=str))


def sample(a):
    from improve_nb.diffusion import DenoiserPipeline
    from improve_nb.guidance import PrototypeGuide
    from improve_nb.prototypes import PrototypeNet
    (OUT / "sets").mkdir(parents=True, exist_ok=True)
    R = run_dir(a.train_seed)
    net = PrototypeNet.from_pretrained(R / "prototypes").eval()
    pipes = {}   # denoiser name -> pipeline, loaded once per lane
    for name in a.sets:
        if name not in SETS: sys.exit(f"unknown set {name!r}; known: {list(SETS)}")
        f = OUT / "sets" / f"{set_stem(name, a.train_seed, a.seed)}.npz"
        if f.exists(): continue
        den, cfg, guided = SETS[name]
        if den not in pipes:
            wait_for(R / den / "pipeline" / "pipeline.json")   # a lane may start while the other denoiser still trains
            pipes[den] = DenoiserPipeline.from_pretrained(R / den / "pipeline", device="cpu")
        pipe = pipes[den]
        guides = [PrototypeGuide(net, n_classes=len(pipe.classes), **{**GUIDE, "scale": guided})] if guided else []
        t = time.time()
        imgs, labels = pipe(n_per_class=N_PER_CLASS, num_inference_steps=STEPS_SAMPLER, sampler="ddim", cfg_scale=cfg, guides=guides,
                            generator=torch.Generator().manual_seed(a.seed), device="cpu")
        sec = time.time() - t
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, images=imgs, labels=labels, seconds=sec); tmp.rename(f)   # whole sets only: a killed lane leaves no partial file
        print(f.stem, f"{sec:.0f} s", flush=True)


def evaluate_sets(a):
    from improve_nb.evaluation import evaluate, get_extractor, save_results
    from improve_nb.guidance import mean_prototype_distance
    from improve_nb.prototypes import PrototypeNet
    train_ds, val_ds, test_ds = load("train"), load("val"), load("test")
    sets = {"real (val)": (val_ds.images, val_ds.labels)}
    secs = {}
    done = [f for f in OUT.glob("sets/*.npz") if not f.stem.endswith(".tmp")]   # a lane still writing leaves a .tmp.npz
    for f in sorted(done, key=lambda f: set_order(f.stem)):
        z = np.load(f); sets[f.stem] = (z["images"], z["labels"]); secs[f.stem] = float(z["seconds"])
    ext = get_extractor("classifier", model=load_timm("extractor"), in_chans=3, device="cpu")
    df = evaluate(test_ds, sets, train=train_ds, expert=load_timm("expert"), extractor=ext, per_class=True, k=5, seed=0, device="cpu",
                  kid_subset_size=384)
    # prototype distance under each set's own training seed's PrototypeNet (distances of different nets are not comparable);
    # the real images get one row per net, named 'real (val) [net t<k>]'
    nets = {t: PrototypeNet.from_pretrained(run_dir(t) / "prototypes").eval() for t in sorted({split_name(n)[1] for n in secs})}
    dist = lambda net, x, y: float(mean_prototype_distance(net, x, y).mean())
    rows = [dict(set=n, metric="prototype_distance", **{"class": "all"}, value=dist(nets[split_name(n)[1]], x, y), n=len(y),
                 n_ref=len(test_ds)) for n, (x, y) in sets.items() if n in secs]
    rows += [dict(set=f"real (val) [net t{t}]", metric="prototype_distance", **{"class": "all"}, value=dist(net, *sets["real (val)"]),
                  n=len(val_ds), n_ref=len(test_ds)) for t, net in nets.items()]
    df = pd.concat([df, pd.DataFrame(rows)], ignore_index=True)
    dest = Path(a.dest); dest.mkdir(parents=True, exist_ok=True)
    save_results(df, dest / "evaluation.csv")
    summarize(df, secs, dest)


def figure(a):
    "Side-by-side sample grids (6 per class, the same initial noise in every panel) of --sets, or of a default selection."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from improve_nb.core import show_grid
    from improve_nb.evaluation import sample_grid
    names = a.sets or ["baseline_cfg1", "baseline_cfg1.5", "baseline_cfg3", "baseline_cfg3_guide", "improve_cfg3_guide", "improve_cfg1_guide0.01"]
    classes = load("val").classes
    fig, axs = plt.subplots(1, len(names), figsize=(2.3 * len(names) + 1.5, 4.2))
    for i, (ax, n) in enumerate(zip(axs, names)):
        z = np.load(OUT / "sets" / f"{n}.npz")
        show_grid(sample_grid(z["images"], z["labels"], classes, per_class=6)[None], ax=ax, title=n)
        h = z["images"].shape[1] + 2   # image plus sample_grid's padding
        ax.set_yticks([2 + h * j + h / 2 for j in range(len(classes))] if i == 0 else [])
        if i == 0: ax.set_yticklabels([c.split(" (")[0] for c in classes], fontsize=8)
    fig.tight_layout(); dest = Path(a.dest); dest.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest / "samples.png", dpi=110); print(dest / "samples.png")


def set_stem(name, train_seed=0, seed=0):
    "File stem of set `name` sampled from training seed `train_seed`'s denoisers with sampling seed `seed`; seed 0 has no suffix."
    return f"{name}{f'_t{train_seed}' if train_seed else ''}{f'_s{seed}' if seed else ''}"


def split_name(stem):
    "Inverse of `set_stem`: 'improve_cfg1_guide0.01_t2_s1' -> ('improve_cfg1_guide0.01', 2, 1); names that are not sets -> (stem, 0, 0)."
    m = re.fullmatch(r"(.+?)(?:_t(\d+))?(?:_s(\d+))?", stem)
    return (m[1], int(m[2] or 0), int(m[3] or 0)) if m and m[1] in SETS else (stem, 0, 0)


def set_order(stem):
    "Sort key of a set file: training seed, sampling seed, then the set's place in SETS."
    base, train_seed, seed = split_name(stem)
    return train_seed, seed, list(SETS).index(base)


def summarize(df, secs, dest):
    "One row per set: the key metrics and, for each guided or aligned set, the gap closed against the unguided baseline at its CFG."
    allc = df[df["class"] == "all"]
    get = lambda s, m: allc[(allc.set == s) & (allc.metric == m)]
    ceiling = float(get("real (ceiling)", "expert_balanced_accuracy").value.iloc[0])
    out = []
    for name in ["real (val)", *[n for n in secs if n in set(allc.set)]]:
        r = dict(set=name)
        for m in ("expert_balanced_accuracy", "expert_accuracy", "fid", "precision", "recall", "coverage", "color_fd", "prototype_distance"):
            q = get(name, m)
            if len(q): r[m] = float(q.value.iloc[0])
        q = get(name, "expert_balanced_accuracy")
        if len(q): r["bacc_ci_low"], r["bacc_ci_high"] = float(q.ci_low.iloc[0]), float(q.ci_high.iloc[0])
        if name in secs:
            base, tseed, seed = split_name(name)
            den, cfg, guided = SETS[base]
            r["train_seed"], r["sampling_seed"] = tseed, seed
            ref = set_stem(f"baseline_cfg{cfg:g}", tseed, seed)
            if name != ref and ref in set(allc.set):
                b = float(get(ref, "expert_balanced_accuracy").value.iloc[0])
                r["reference"] = ref
                r["gap_closed"] = gap_closed(r["expert_balanced_accuracy"], b, ceiling)
                r["fid_ratio"] = r["fid"] / float(get(ref, "fid").value.iloc[0])
            r["sample_s"] = round(secs[name], 1)
        out.append(r)
    s = pd.DataFrame(out)
    s.insert(1, "ceiling_balanced_accuracy", ceiling)
    s.to_csv(dest / "summary.csv", index=False, float_format="%.4f")
    print(s.to_string())


DECIDING = ["baseline_cfg1", "baseline_cfg1.5", "baseline_cfg3", "improve_cfg1", "baseline_cfg1_guide0.01", "improve_cfg1_guide0.005",
            "improve_cfg1_guide0.01", "improve_cfg1_guide0.02"]


def combine(a):
    """Session 19: the deciding rows over training seeds. Training seed 0 from session 18's summary.csv (`--dest`), seeds > 0
    from `--dest`/train_seeds/summary.csv (the same shared judge: `evaluate --dest .../train_seeds` on the replicate sets);
    sampling seed 0 only. Writes train_seeds/combined.csv (one row per set and training seed, with the paired contrasts
    against that seed's CFG-1 and CFG-1.5 baselines) and train_seeds/combined_summary.csv (mean [95 % t-interval] over
    training seeds)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from summarize_ablation import t_interval
    dest = Path(a.dest)
    s = pd.concat([pd.read_csv(dest / "summary.csv"), pd.read_csv(dest / "train_seeds" / "summary.csv")], ignore_index=True)
    parts = s.set.map(split_name)
    s["base"], s["train_seed"], s["sampling_seed"] = parts.str[0], parts.str[1], parts.str[2]
    s = s[s.base.isin(DECIDING) & (s.sampling_seed == 0)]
    ceilings = s.ceiling_balanced_accuracy.unique()
    if len(ceilings) != 1: sys.exit(f"the training seeds were judged by different experts (ceilings {ceilings}): not comparable")
    ceiling = float(ceilings[0])
    rows = []
    for (base, t), r in s.set_index(["base", "train_seed"]).iterrows():
        ref = lambda b: s[(s.base == b) & (s.train_seed == t)]
        row = dict(set=base, train_seed=t, expert_balanced_accuracy=r.expert_balanced_accuracy, fid=r.fid, precision=r.precision,
                   recall=r.recall)
        for tag, b in (("cfg1", "baseline_cfg1"), ("cfg1.5", "baseline_cfg1.5")):
            q = ref(b)
            if base == b or not len(q): continue
            qb = float(q.expert_balanced_accuracy.iloc[0])
            row[f"minus_{tag}_baseline"] = r.expert_balanced_accuracy - qb
            if tag == "cfg1": row["gap_closed_vs_cfg1"] = gap_closed(r.expert_balanced_accuracy, qb, ceiling)
            row[f"fid_ratio_vs_{tag}"] = r.fid / float(q.fid.iloc[0])
        rows.append(row)
    long = pd.DataFrame(rows).sort_values(["set", "train_seed"], key=lambda c: c.map(DECIDING.index) if c.name == "set" else c)
    long.insert(2, "ceiling_balanced_accuracy", ceiling)
    long.to_csv(dest / "train_seeds" / "combined.csv", index=False, float_format="%.4f")
    out = []
    for name, g in long.groupby("set", sort=False):
        r = dict(set=name, train_seeds=" ".join(map(str, g.train_seed)))
        for m in [c for c in long.columns if c not in ("set", "train_seed", "ceiling_balanced_accuracy")]:
            if g[m].notna().any():
                r[m], r[f"{m}_lo"], r[f"{m}_hi"] = t_interval(g[m])
        out.append(r)
    summ = pd.DataFrame(out)
    summ.to_csv(dest / "train_seeds" / "combined_summary.csv", index=False, float_format="%.4f")
    print(summ.to_string())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["train", "nets", "align", "sample", "evaluate", "figure", "combine"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--sets", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=0, help="sampling seed (sets of seed s > 0 are saved as <set>_s<s>)")
    ap.add_argument("--train-seed", type=int, default=0, help="training seed of the denoisers and PrototypeNet (k > 0: train_seed<k>/, sets <set>_t<k>)")
    ap.add_argument("--skip-judge", action="store_true", help="nets: train only the PrototypeNet, not the shared expert and extractor")
    ap.add_argument("--dest", default="results/improve_pbc/cfg_sweep")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    dict(train=train, nets=nets, align=align, sample=sample, evaluate=evaluate_sets, figure=figure, combine=combine)[a.stage](a)
