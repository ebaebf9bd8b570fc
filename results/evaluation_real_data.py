"""Real-data check of improve_nb.evaluation on HAM10000 64 px (official DermaMNIST train split).

A random half of the training split (A, the "real" reference and the generator's "training set") is compared with
  - the other half (B): what a perfect generator would score,
  - B blurred (Gaussian, sigma=1.5 px), B colour-shifted (+40 red, -30 blue), B with both,
  - duplicated training images (copies of 1000 images of A, rest B), and near-duplicates (A + N(0, 4²) noise, flipped = no).
Every metric must move the right way, and memorization must flag the (near-)duplicates.
The feature extractor and the expert are trained on the training split minus B (`--fit train-minus-B`, the default), so B is
as unseen by them as a generator's samples would be; `--fit train` trains them on all of it, as every run before this option did,
which puts B's expert scores far above the ceiling.

Run:  python results/evaluation_real_data.py [--epochs 2] [--expert-epochs 2] [--kid-subsets 20] [--n-boot 300] [--n-half 2000] [--expert-arch mobilenetv3_large_100] [--expert-epochs 3] [--out results]
"""
import argparse, json, os, platform, time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from improve_nb.data import ImageDataset, shared_data_path
from improve_nb.core import save_json, seed_everything
from improve_nb.evaluation import (train_classifier, train_expert, get_extractor, evaluate, save_results, predict_proba,
                                   classification_scores, plot_memorization_hist, show_closest_pairs, plot_per_class)

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=2, help="domain-classifier (feature extractor) epochs")
ap.add_argument("--expert-epochs", type=int, default=3)
ap.add_argument("--expert-arch", default="mobilenetv3_large_100")
ap.add_argument("--n-half", type=int, default=2000, help="images in each half (<= 3503)")
ap.add_argument("--extractor-arch", default="resnet10t")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--kid-subsets", type=int, default=20)
ap.add_argument("--n-boot", type=int, default=300)
ap.add_argument("--out", default="results")
ap.add_argument("--cache", default="/tmp/improve_nb_eval_cache")
ap.add_argument("--fit", default="train-minus-B", choices=["train-minus-B", "train"],
                help="what the extractor and the expert train on: the training split without half B (B unseen, as a generator's "
                     "samples would be), or all of it (B seen: its expert scores are then training-set scores)")
ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (1 when another job shares a 2-core machine)")
args = ap.parse_args()
torch.set_num_threads(args.threads)
out = Path(args.out); out.mkdir(exist_ok=True, parents=True)
t00 = time.time()
log = {}

p = shared_data_path("ham10000", "ham10000_64.npz")
if p is None: raise SystemExit("HAM10000 64 px not found under shared/data")
d = np.load(p)
classes = [str(c) for c in d["class_codes"]]
train = ImageDataset(d["train_images"], d["train_labels"], classes, "train", name="ham10000")
test = ImageDataset(d["test_images"], d["test_labels"], classes, "test", name="ham10000")

def cached_model(train_fn, key):
    "Train once; keep the weights (safetensors, atomic) and info under --cache so a rerun of the table skips training."
    import timm
    from safetensors.torch import save_file, load_file
    from types import SimpleNamespace
    w, j = Path(args.cache) / f"{key}.safetensors", Path(args.cache) / f"{key}.json"
    if w.exists() and j.exists():
        info = json.loads(j.read_text())
        m = timm.create_model(info["arch"], pretrained=False, num_classes=len(classes), in_chans=3)
        m.load_state_dict(load_file(str(w))); m.eval()
        return SimpleNamespace(model=m, info=info, dls=SimpleNamespace(channels=3))
    learn = train_fn()
    w.parent.mkdir(parents=True, exist_ok=True)
    tmp = w.with_suffix(".tmp"); save_file({k: v.contiguous() for k, v in learn.model.state_dict().items()}, str(tmp)); os.replace(tmp, w)
    save_json(learn.info, j)
    return learn

# 1. halves (B never trains a network: it stands for a perfect generator's samples, unseen by the judges)
rng = np.random.default_rng(args.seed)
perm = rng.permutation(len(train))
A, B = train.subset(perm[: args.n_half], "half_A"), train.subset(perm[len(train) // 2:][: args.n_half], "half_B")
fit = train if args.fit == "train" else \
    train.subset(np.setdiff1d(np.arange(len(train)), perm[len(train) // 2:][: args.n_half]), "train_minus_B")
tag = "" if args.fit == "train" else f"_minusB{args.n_half}"     # cache key suffix (none: the keys of the runs before --fit)

# 2. the default feature extractor: a domain classifier trained on the training split minus B
t0 = time.time()
dom = cached_model(lambda: train_classifier(fit, arch=args.extractor_arch, epochs=args.epochs, seed=args.seed, device="cpu"),
                   f"extractor_{args.extractor_arch}_e{args.epochs}_s{args.seed}{tag}")
ext = get_extractor("classifier", learner=dom, device="cpu")
s = classification_scores(test.labels, predict_proba(dom.model, test.images, device="cpu"), len(classes))
log["extractor"] = dict(arch=args.extractor_arch, epochs=args.epochs, seed=args.seed, train_s=round(time.time() - t0, 1), test_scores=s)
print("extractor", log["extractor"], flush=True)

# 3. the expert: other architecture and seed, colour jitter, the same images
t0 = time.time()
expert = cached_model(lambda: train_expert(fit, arch=args.expert_arch, seed=args.seed + 1234, epochs=args.expert_epochs, device="cpu"),
                      f"expert_{args.expert_arch}_e{args.expert_epochs}_s{args.seed + 1234}{tag}")
s = classification_scores(test.labels, predict_proba(expert.model, test.images, device="cpu"), len(classes))
log["expert"] = dict(info={k: v for k, v in expert.info.items() if k != "classes"}, train_s=round(time.time() - t0, 1), test_scores=s)
print("expert", log["expert"], flush=True)

# 4. degraded copies
xb = B.images
blur = np.stack([gaussian_filter(x.astype(np.float32), sigma=(1.5, 1.5, 0)) for x in xb]).round().clip(0, 255).astype(np.uint8)
shift = lambda x: np.clip(x.astype(np.int16) + np.array([40, 0, -30], np.int16), 0, 255).astype(np.uint8)
n_dup = args.n_half // 4
dup_idx = rng.choice(len(A), n_dup, replace=False)
dup = (np.concatenate([A.images[dup_idx], xb[n_dup:]]), np.concatenate([A.labels[dup_idx], B.labels[n_dup:]]))
noisy = np.clip(A.images[dup_idx].astype(np.float32) + rng.normal(0, 4, A.images[dup_idx].shape), 0, 255).round().astype(np.uint8)
near = (np.concatenate([noisy, xb[n_dup:]]), np.concatenate([A.labels[dup_idx], B.labels[n_dup:]]))
gens = {"other half": B, "blurred": (blur, B.labels), "colour-shifted": (shift(xb), B.labels),
        "blurred+colour-shifted": (shift(blur), B.labels), f"{n_dup} duplicates + other half": dup,
        f"{n_dup} noisy duplicates + other half": near}

t0 = time.time()
df, det = evaluate(A, gens, metrics=["fid", "kid", "prdc", "color", "expert", "memorization"], extractor=ext, train=A, expert=expert.model,
                   per_class=True, k=5, kid_subsets=args.kid_subsets, kid_subset_size=1000, threshold=0.95, n_boot=args.n_boot, seed=args.seed,
                   cache_dir=args.cache, device="cpu", return_details=True)
log["evaluate_s"] = round(time.time() - t0, 1)
save_results(df, out / "evaluation_real_data.csv")

# expert ceiling on the real test split (A is training data of the expert and the extractor; B is not)
s_test = evaluate(test, {"real test": test}, metrics=["expert"], expert=expert.model, per_class=True, n_boot=args.n_boot, device="cpu")
save_results(s_test, out / "evaluation_real_data_expert_test.csv")

# memorization extras: how high do distinct training images correlate, and did duplicates get found at the right index
mem_dup = det[(f"{n_dup} duplicates + other half", "memorization")]
mem_near = det[(f"{n_dup} noisy duplicates + other half", "memorization")]
mem_b = det[("other half", "memorization")]
log["memorization"] = dict(
    threshold=0.95,
    duplicates_flagged=int(mem_dup["near_copy"][:n_dup].sum()), duplicates_right_index=int((mem_dup["train_index"][:n_dup] == dup_idx).sum()),
    noisy_flagged=int(mem_near["near_copy"][:n_dup].sum()), noisy_right_index=int((mem_near["train_index"][:n_dup] == dup_idx).sum()),
    noisy_min_corr=float(mem_near["max_corr"][:n_dup].min()),
    other_half_flagged=int(mem_b["near_copy"].sum()), other_half_max_corr_quantiles={q: float(np.quantile(mem_b["max_corr"], q)) for q in (0.5, 0.9, 0.99, 1.0)},
    n_dup=n_dup)
print("memorization", log["memorization"], flush=True)

import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(7, 3.2))
plot_memorization_hist({"other half": mem_b, "noisy duplicates": mem_near, "duplicates": mem_dup}, ax=ax)
fig.tight_layout(); fig.savefig(out / "evaluation_real_data_memorization_hist.png", dpi=110); plt.close(fig)
order = np.argsort(-mem_b["max_corr"])
fig, ax = plt.subplots(figsize=(12, 2.8))
show_closest_pairs(B.images, A.images, mem_b, n=10, ax=ax, title="other half: the 10 images closest to a training image (top) and that image (bottom)")
fig.tight_layout(); fig.savefig(out / "evaluation_real_data_closest_pairs.png", dpi=110); plt.close(fig)
fig, ax = plt.subplots(figsize=(10, 3.5))
plot_per_class(df[df.set.isin(["other half", "blurred", "colour-shifted"])], "expert_recall", ax=ax)
fig.tight_layout(); fig.savefig(out / "evaluation_real_data_expert_recall.png", dpi=110); plt.close(fig)

log.update(command="python results/evaluation_real_data.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
           machine=f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads, no GPU (2-core VM shared with other jobs)",
           total_s=round(time.time() - t00, 1), n_A=len(A), n_B=len(B), n_fit=len(fit))
save_json(log, out / "evaluation_real_data_log.json")
piv = df[df["class"] == "all"].pivot_table(index="metric", columns="set", values="value", sort=False)
print(piv.to_string(), flush=True)
print("total", log["total_s"], "s")
