"""Benchmark: feature extraction + every metric of improve_nb.evaluation for 10,000 generated vs 10,000 real images, 64 px, CPU.

real      = the first 10,000 HAM10000 64 px images (train, then val, then test split of ham10000_64.npz)
generated = 10,000 perturbed copies of a shuffled real set (horizontal flip, +N(0, 8²) noise, +10 red), labels kept
extractor = resnet10t (timm, random init: the timing does not depend on the training), penultimate layer, 512-d
expert    = resnet18 (random init) softmax on both sets
Stages are timed with perf_counter; peak RSS per stage is sampled from /proc/self/status every 20 ms.
References timed in the same run: memorization vs a float64 numpy full-matrix correlation on a 2,000 x 2,000 subset,
FID vs scipy.linalg.sqrtm on the same 512-d features.

Run:  python bench/bench_evaluation.py [--n 10000] [--threads 2] [--evaluate]   (the JSON records the command, niceness and load)
"""
import argparse, json, os, platform, sys, threading, time
from contextlib import contextmanager

import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=10000)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--evaluate", action="store_true", help="also time one end-to-end evaluate() call (repeats the work above)")
ap.add_argument("--json", default="bench/bench_evaluation.json")
args = ap.parse_args()
torch.set_num_threads(args.threads)
COMMAND = "python " + " ".join(sys.argv) + f"  (resolved: {vars(args)}, niceness {os.nice(0)})"
LOAD_BEFORE = os.getloadavg()   # 1/5/15-min load average before the run: how shared the machine was

import timm
from scipy import linalg
from improve_nb.data import ImageDataset, shared_data_path
from improve_nb.core import save_json
from improve_nb.evaluation import (get_extractor, frechet_distance, kernel_inception_distance, prdc, color_fidelity, max_pearson,
                                   nearest_neighbors, expert_scores, evaluate, _standardize)

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"): return int(line.split()[1]) / 1024
class Peak:
    def __init__(self): self.peak, self.run = 0.0, True; self.t = threading.Thread(target=self.loop, daemon=True); self.t.start()
    def loop(self):
        while self.run: self.peak = max(self.peak, rss_mb()); time.sleep(0.02)
results = []
@contextmanager
def stage(name):
    p = Peak(); base = rss_mb(); t0 = time.perf_counter()
    yield
    dt = time.perf_counter() - t0; p.run = False; p.t.join()
    results.append(dict(stage=name, seconds=round(dt, 2), peak_rss_mb=round(max(p.peak, rss_mb()), 0), rss_before_mb=round(base, 0)))
    print(results[-1], flush=True)
    save_json(dict(partial=True, stages=results, command=COMMAND),
              args.json)   # progress survives a killed run

d = np.load(shared_data_path("ham10000", "ham10000_64.npz"))
X = np.concatenate([d[f"{s}_images"] for s in ("train", "val", "test")])[: args.n]
Y = np.concatenate([d[f"{s}_labels"] for s in ("train", "val", "test")])[: args.n]
classes = [str(c) for c in d["class_codes"]]
rng = np.random.default_rng(0)
perm = rng.permutation(len(X))
G = np.clip(X[perm][:, :, ::-1].astype(np.float32) + rng.normal(0, 8, X.shape) + [10, 0, 0], 0, 255).round().astype(np.uint8)
YG = Y[perm]
real, gen = ImageDataset(X, Y, classes, "bench", name="ham10000"), ImageDataset(G, YG, classes, "gen", name="perturbed")
print(f"real {X.shape}, generated {G.shape}", flush=True)

torch.manual_seed(0)
ext = get_extractor("classifier", model=timm.create_model("resnet10t", pretrained=False, num_classes=7), device="cpu", bs=256)
expert = timm.create_model("resnet18", pretrained=False, num_classes=7)

t_all = time.perf_counter()
with stage("features real (resnet10t, 10k)"): fr = ext(X)
with stage("features generated (resnet10t, 10k)"): fg = ext(G)
with stage("FID (512-d)"): fid = frechet_distance(fr, fg)
with stage("KID (100 subsets x 1000)"): kid = kernel_inception_distance(fr, fg, 100, 1000)
with stage("PRDC k=5"): pr = prdc(fr, fg, k=5)
with stage("colour fidelity"): cf = color_fidelity(X, G)
with stage("memorization max Pearson 10k x 10k (12,288-d)"): corr, idx = max_pearson(G, X, block=1024)
with stage("feature-space nearest neighbour 10k x 10k"): nn = nearest_neighbors(fg, fr)
with stage("expert softmax (resnet18, 2 x 10k)"):
    expert_scores(expert, X, Y, 7, device="cpu"); expert_scores(expert, G, YG, 7, device="cpu")
with stage("per-class FID/KID/PRDC/colour (7 classes)"):
    for c in range(7):
        a, b = fr[Y == c], fg[YG == c]
        frechet_distance(a, b); kernel_inception_distance(a, b, 100, 1000); prdc(a, b, 5); color_fidelity(X[Y == c], G[YG == c])
total_parts = time.perf_counter() - t_all
print(f"sum of stages {total_parts:.1f}s", flush=True)

# end-to-end evaluate() call (features of `real` via the cache path, plus every metric, per class, bootstrap intervals)
if args.evaluate:
  with stage("evaluate(): fid,kid,prdc,color,memorization per class, n_boot=1000"):
    df = evaluate(real, {"perturbed": gen}, metrics=["fid", "kid", "prdc", "color", "memorization"], extractor=ext, train=real,
                  per_class=True, device="cpu")

# references in the same run
sub = min(2000, len(X))
def ref_rows(x, per_channel):
    "float64 rows with each channel's mean (the library default) or the whole image's mean removed, unit norm."
    x = x.astype(np.float64)
    if per_channel: x = x - x.mean((1, 2), keepdims=True)
    x = x.reshape(len(x), -1)
    if not per_channel: x = x - x.mean(1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
with stage(f"reference: numpy float64 full correlation matrix {sub} x {sub}"):
    ref = (ref_rows(G[:sub], True) @ ref_rows(X[:sub], True).T).max(1)
with stage(f"max_pearson blocked float32 {sub} x {sub}"): ours, _ = max_pearson(G[:sub], X[:sub])
# the whole-image definition too (per_channel=False); a session-7 run found the first version of this check compared the
# library's per-channel default with a whole-image reference, a 0.62 "difference" that was two definitions, not an error
ref_whole = (ref_rows(G[:sub], False) @ ref_rows(X[:sub], False).T).max(1)
ours_whole, _ = max_pearson(G[:sub], X[:sub], per_channel=False)
with stage("reference: FID with scipy.linalg.sqrtm (512-d)"):
    m1, m2, s1, s2 = fr.mean(0).astype(np.float64), fg.mean(0).astype(np.float64), np.cov(fr, rowvar=False), np.cov(fg, rowvar=False)
    fid_ref = float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))

out = dict(n_real=len(X), n_gen=len(G), image="64x64x3 uint8", threads=args.threads, torch=torch.__version__,
           machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU", load_average_before=LOAD_BEFORE,
           load_average_after=os.getloadavg(), stages=results,
           sum_of_metric_stages_s=round(total_parts, 1),
           checks=dict(fid=fid["value"], fid_scipy_sqrtm=fid_ref, kid=kid["value"], kid_std=kid["std"],
                       precision=pr["precision"], recall=pr["recall"], density=pr["density"], coverage=pr["coverage"],
                       max_corr_median=float(np.median(corr)), max_corr_max_abs_diff_vs_float64_ref=float(np.abs(ours - ref).max()),
                       max_corr_whole_image_max_abs_diff_vs_float64_ref=float(np.abs(ours_whole - ref_whole).max())),
           command=COMMAND)
save_json(out, args.json)
print(json.dumps(out["checks"], indent=1))
