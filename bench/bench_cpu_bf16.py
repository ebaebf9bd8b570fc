"""bf16 autocast training on the CPU (`train_denoiser(precision="bf16")`, `CPUAutocast`) against float32, in the same process.

Two parts, both through `improve_nb.diffusion.train_denoiser`:

1. Cost. The `small` denoiser at each --sizes px, batch --bs, random images (cost does not depend on the values), trained
   --steps optimiser steps per call in float32 and in bf16, alternating which goes first in each repeat (ABBA) so that
   load drifts hit both alike. Seconds per step come from the step boundaries after the first step.
2. Quality proxy. The same denoiser trained on real PBC blood cells at 32 px (`../shared/data/pbc_blood/pbc_28.npz`,
   v target, lr 2e-3, EMA 0.999 with warm-up: the main job's recipe) for --quality-steps steps in both precisions, with the
   same seed, so both see the same batches, timesteps and noise. Each final EMA model is then scored in float32 on the
   held-out validation split (every image at --val-draws fixed (t, noise) draws): the v-prediction MSE. Paired over the
   same (image, t, noise) draws, the difference bf16 - float32 gets a t-interval. A real run of the whole method in bf16 is
   the stronger check; this one says whether bf16 training learns the denoising task as well in the same steps.

Prints a markdown section; `--append FILE` adds it to FILE (atomically). Example:

    python bench/bench_cpu_bf16.py --sizes 32 64 --steps 8 --repeats 2 --quality-steps 300
"""
import argparse, os, platform, sys, time
from pathlib import Path

import numpy as np
import torch

from improve_nb.data import ImageDataset, Normalize, load_dataset
from improve_nb.diffusion import ClassConditionalUNet, train_denoiser

from bench_align import Clock, emit
from bench_guidance import t_interval

PBC = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pbc_blood" / "pbc_28.npz"


def cpu_flags() -> str:
    try: flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration): return "unknown"
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "none of avx2/avx512/amx"


def cpu_model() -> str:
    try: return next(l for l in open("/proc/cpuinfo") if l.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration): return platform.processor() or "unknown"


@torch.no_grad()
def val_loss(pipe, ds, draws: int, seed: int = 0) -> np.ndarray:
    "Per-(image, draw) v-prediction MSE of `pipe`'s EMA model in float32 on `ds`, at fixed (t, noise) draws."
    m = pipe.ema_model.float().eval()
    ns, norm = pipe.noise_schedule, Normalize("diffusion")
    g = torch.Generator().manual_seed(seed)
    out = []
    for d in range(draws):
        for i in range(0, len(ds), 256):
            x0 = norm.encode(torch.from_numpy(ds.images[i:i + 256]).permute(0, 3, 1, 2).float() / 255)
            y = torch.from_numpy(np.asarray(ds.labels[i:i + 256])).long()
            t = torch.randint(0, ns.config.num_train_timesteps, (len(x0),), generator=g)
            noise = torch.randn(x0.shape, generator=g)
            pred = m(ns.add_noise(x0, noise, t), t, y)
            out.append(((pred - ns.get_velocity(x0, noise, t)) ** 2).flatten(1).mean(1).numpy())
    return np.concatenate(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--preset", default="small"); ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8, help="optimiser steps per timed call (the first is not counted)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quality-steps", type=int, default=300, help="0 skips the quality part")
    ap.add_argument("--val-draws", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--append", default=None, help="append the markdown section to this file")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    t_start = time.time()
    r = np.random.default_rng(0)
    rows = []
    for size in a.sizes:
        n = 4 * a.bs
        ds = ImageDataset(r.integers(0, 255, (n, size, size, 3), dtype=np.uint8), np.arange(n) % 8, [f"c{i}" for i in range(8)], name="bench")

        def run(prec: str) -> float:
            clock = Clock()
            train_denoiser(ds, preset=a.preset, steps=a.steps, bs=a.bs, lr=1e-3, seed=0, progress=False, device="cpu",
                           precision=prec, prediction_type="v_prediction", cbs=[clock])
            return (clock.t[-1] - clock.t[0]) / (len(clock.t) - 1)

        run("no"); run("bf16")                                  # warm-up (oneDNN primitive caches)
        f32, bf = [], []
        for i in range(a.repeats):
            for prec in (("no", "bf16") if i % 2 == 0 else ("bf16", "no")): (f32 if prec == "no" else bf).append(run(prec))
        speed = [f / b for f, b in zip(f32, bf)]
        n_unet = sum(p.numel() for p in ClassConditionalUNet(classes=ds.classes, image_size=size, channels=3, preset=a.preset).parameters())
        rows.append((size, n_unet, t_interval(f32), t_interval(bf), t_interval(speed), speed))
        print(size, f32, bf, speed, flush=True)

    q = None
    if a.quality_steps:
        if not PBC.exists(): sys.exit(f"{PBC}: the PBC npz is missing (the quality part needs it; --quality-steps 0 skips it)")
        train, val = (load_dataset("medmnist", root=str(PBC), image_size=32, split=s) for s in ("train", "val"))
        res = {}
        for prec in ("no", "bf16"):
            clock = Clock()
            t0 = time.time()
            pipe = train_denoiser(train, preset=a.preset, steps=a.quality_steps, bs=a.bs, lr=2e-3, seed=0, progress=False, device="cpu",
                                  precision=prec, prediction_type="v_prediction", ema_decay=0.999, ema_warmup=True, cbs=[clock])
            res[prec] = (time.time() - t0, val_loss(pipe, val, a.val_draws), float(pipe.learn.recorder.losses[-1]))
            print(prec, res[prec][0], res[prec][1].mean(), flush=True)
        d = res["bf16"][1] - res["no"][1]
        q = dict(n=len(val), wall=(res["no"][0], res["bf16"][0]), f32=float(res["no"][1].mean()), bf=float(res["bf16"][1].mean()),
                 diff=t_interval(d), smooth=(res["no"][2], res["bf16"][2]))

    cmd = "python bench/bench_cpu_bf16.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = (f"\n### bf16 autocast training on the CPU (`precision=\"bf16\"`, `CPUAutocast`) vs float32: `{a.preset}` denoiser, batch {a.bs}\n\n"
          f"- command: `{cmd.strip()}` ({(time.time() - t_start) / 60:.1f} min)\n"
          f"- machine: {cpu_model()}, {os.cpu_count()} cores ({cpu_flags()}), no GPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, load avg {os.getloadavg()[0]:.1f} at the end\n"
          f"- cost: random images, v target, {a.repeats} ABBA repeats after one warm-up of each; seconds per optimiser step over "
          f"steps 2-{a.steps} of each `train_denoiser` call\n\n"
          "| input | UNet | float32 s/step, mean ± 95% CI | bf16 s/step | speed-up float32/bf16, mean ± 95% CI | per repeat |\n|---|---|---|---|---|---|\n")
    for size, n_unet, (fm, fh), (bm, bh), (sm, sh), speed in rows:
        md += (f"| {size} px | {n_unet / 1e6:.2f} M | {fm:.3f} ± {fh:.3f} | {bm:.3f} ± {bh:.3f} | **{sm:.2f}×** ± {sh:.2f} | "
               f"{', '.join(f'{s:.2f}' for s in speed)} |\n")
    if q:
        (dm, dh) = q["diff"]
        md += (f"\nQuality proxy: PBC 32 px, {a.quality_steps} steps each (float32 {q['wall'][0]:.0f} s, bf16 {q['wall'][1]:.0f} s of wall "
               f"time, same seed, batches and noise), EMA models scored in float32 on the {q['n']} validation images × {a.val_draws} "
               f"fixed (t, noise) draws: v-MSE float32 **{q['f32']:.4f}**, bf16 **{q['bf']:.4f}**, paired difference bf16 − float32 "
               f"{dm:+.4f} ± {dh:.4f} (95% t-interval over {q['n'] * a.val_draws} pairs; {dm / q['f32'] * 100:+.1f} % of float32's). "
               f"Smoothed training loss at the last step: {q['smooth'][0]:.4f} / {q['smooth'][1]:.4f}.\n")
    emit(md, a.append)


if __name__ == "__main__":
    main()
