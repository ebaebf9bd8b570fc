"""Quality sanity check: train the class-conditional denoiser on the demo data for a wall-clock budget (CPU), then
compare the demo oracle's pass rate on class-conditional samples with its pass rate on real demo images.

    nice -n 10 python bench/bench_diffusion_quality.py --minutes 9 --out results/diffusion_quality

Writes <out>/quality.json and <out>/samples.png. The number of steps is set from a short calibration run so the
training fits the budget; a callback also stops it at the budget (the LR schedule is then cut short, which is recorded).
"""
import argparse, json, math, os, platform, sys, time
from pathlib import Path

import numpy as np
import torch
from fastai.callback.core import Callback, CancelFitException

from improve_nb.core import image_grid, save_json, to_pil
from improve_nb.data import demo_oracle, demo_oracle_details, load_dataset
from improve_nb.diffusion import train_denoiser


def wilson(k, n, z=1.96):
    if n == 0: return (float("nan"),) * 2
    p = k / n; d = 1 + z * z / n; c = (p + z * z / (2 * n)) / d; h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


class Budget(Callback):
    def __init__(self, seconds): self.seconds, self.hit = seconds, False
    def before_fit(self): self.t0 = time.time()
    def after_batch(self):
        if self.training and time.time() - self.t0 > self.seconds: self.hit = True; raise CancelFitException()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=9.0); ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--n-per-class", type=int, default=200); ap.add_argument("--preset", default="small")
    ap.add_argument("--bs", type=int, default=32); ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--samples-per-class", type=int, default=60); ap.add_argument("--steps-sample", type=int, default=25)
    ap.add_argument("--cfg", type=float, default=2.0); ap.add_argument("--sampler", default="ddim"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ema-decay", type=float, default=0.99)
    ap.add_argument("--train-steps", type=int, default=None, help="fixed optimiser steps (overrides --minutes: no budget)")
    ap.add_argument("--prediction-type", default="epsilon", choices=["epsilon", "v_prediction"])
    ap.add_argument("--snr-gamma", type=float, default=5.0, help="min-SNR weight γ (0: off, plain MSE like the main job)")
    ap.add_argument("--threads", type=int, default=1); ap.add_argument("--out", default="results/diffusion_quality")
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    torch.set_num_threads(a.threads)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    train = load_dataset("demo", image_size=a.image_size, split="train", n_per_class=a.n_per_class, seed=a.seed)
    test = load_dataset("demo", image_size=a.image_size, split="test", n_per_class=a.samples_per_class, seed=a.seed)
    kw = dict(preset=a.preset, bs=a.bs, lr=a.lr, device="cpu", seed=a.seed, progress=False, snr_gamma=a.snr_gamma or None, ema_decay=a.ema_decay,
              prediction_type=a.prediction_type,
              ema_warmup=True)   # diffusers' EMA warm-up: a short run's EMA must not stay near the initial weights
    if a.train_steps: steps, budget = a.train_steps, float("inf")
    else:
        t0 = time.time(); train_denoiser(train, steps=6, **kw); per_step = (time.time() - t0) / 6   # includes set-up: conservative
        budget = a.minutes * 60
        steps = max(50, int(0.92 * budget / per_step))
    cb = Budget(budget)
    t0 = time.time(); pipe = train_denoiser(train, steps=steps, cbs=[cb], **kw); train_s = time.time() - t0
    done = len(pipe.learn.recorder.losses)
    t0 = time.time()
    imgs, labels = pipe(n_per_class=a.samples_per_class, num_inference_steps=a.steps_sample, sampler=a.sampler, cfg_scale=a.cfg,
                        generator=torch.Generator().manual_seed(a.seed), device="cpu", batch_size=100)
    sample_s = time.time() - t0
    det = demo_oracle_details(imgs, labels)
    ok_s = det["ok"].to_numpy(bool)
    ok_r = demo_oracle(test.images, test.labels)
    rng = np.random.default_rng(a.seed)
    wrong = (labels + rng.integers(1, len(train.classes), len(labels))) % len(train.classes)   # samples judged as a wrong class
    ok_w = demo_oracle(imgs, wrong)
    per_class = {c: dict(samples=float(ok_s[labels == i].mean()), real=float(ok_r[test.labels == i].mean()))
                 for i, c in enumerate(train.classes)}
    res = dict(
        command=" ".join(["python"] + sys.argv), machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, no GPU, torch threads={a.threads}, 1-min load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end",
        data=f"demo train n_per_class={a.n_per_class} ({len(train)} images, {a.image_size}px), oracle reference = demo test split n_per_class={a.samples_per_class}",
        seed=a.seed, preset=a.preset, prediction_type=a.prediction_type, snr_gamma=a.snr_gamma or None, ema=f"decay {a.ema_decay} with warm-up", params=sum(p.numel() for p in pipe.model.parameters()), bs=a.bs, lr=a.lr,
        planned_steps=steps, steps_done=done, budget_stopped=cb.hit, train_seconds=round(train_s, 1),
        final_loss_mean_last50=float(np.mean([float(l) for l in pipe.learn.recorder.losses[-50:]])),
        sampler=f"{a.sampler} {a.steps_sample} steps, cfg_scale={a.cfg}, EMA weights", sample_seconds=round(sample_s, 1),
        pass_rate_samples=float(ok_s.mean()), pass_rate_samples_ci95=wilson(int(ok_s.sum()), len(ok_s)), n_samples=len(ok_s),
        pass_rate_real=float(ok_r.mean()), pass_rate_real_ci95=wilson(int(ok_r.sum()), len(ok_r)), n_real=len(ok_r),
        pass_rate_samples_judged_as_wrong_class=float(ok_w.mean()),
        fail_bg_brightness=float(1 - det.pass_bg_brightness.mean()), bg_brightness_median=float(det.bg_brightness.median()), per_class=per_class)
    save_json(res, out / "quality.json")
    pick = np.concatenate([np.flatnonzero(labels == i)[:10] for i in range(len(train.classes))])   # one row per class
    with open(out / "samples.png", "wb") as f: to_pil(image_grid(imgs[pick], nrow=10)).save(f, format="PNG")
    print(json.dumps(res, indent=1))


if __name__ == "__main__": main()
