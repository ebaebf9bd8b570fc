"""Training cost of PrototypeAlignCallback, against plain denoiser training at equal steps, in the same process.

Times `improve_nb.diffusion.train_denoiser` two ways, alternating which goes first in each repeat (ABBA) so that machine
load drifts hit both alike: plain; with `PrototypeAlignCallback` (a time-conditioned PrototypeNet, objective "softmax",
window (0, 0.5), as `results/improve_pbc/extend.py --align-weight` trains). Steady-state seconds per optimiser step come
from the step boundaries after the first step (Learner setup and the first step are excluded). Weights and images are
random: only cost is measured. Prints a markdown section; `--append FILE` adds it to FILE (atomically). Example:

    python bench/bench_align.py --preset small --image-size 32 --backbone resnet10t --bs 64 --steps 12 --repeats 4
"""
import argparse, os, platform, sys, time

import numpy as np
import torch
from fastai.callback.core import Callback

from improve_nb.core import atomic_write
from improve_nb.data import ImageDataset
from improve_nb.diffusion import ClassConditionalUNet, train_denoiser
from improve_nb.guidance import PrototypeAlignCallback, PrototypeGuide
from improve_nb.prototypes import PrototypeNet

from bench_guidance import t_interval


def emit(md: str, append: str | None = None):
    "Print the markdown section `md` and, with `append`, add it to the end of that file (atomically)."
    print(md)
    if append:
        old = open(append).read() if os.path.exists(append) else ""
        with atomic_write(append, "w") as fh: fh.write(old + md)


class Clock(Callback):
    "Wall time at each training batch boundary."
    order = 99
    def __init__(self): self.t = []
    def after_batch(self):
        if self.training: self.t.append(time.perf_counter())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small"); ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--classes", type=int, default=8); ap.add_argument("--backbone", default="resnet10t")
    ap.add_argument("--dim", type=int, default=64); ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=12, help="optimiser steps per timed call (the first is not counted)")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--window", type=float, nargs=2, default=(0.0, 0.5))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--append", default=None, help="append the markdown section to this file")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    r = np.random.default_rng(0)
    n = max(4 * a.bs, 256)
    ds = ImageDataset(r.integers(0, 255, (n, a.image_size, a.image_size, 3), dtype=np.uint8), np.arange(n) % a.classes,
                      [f"c{i}" for i in range(a.classes)], name="bench")
    torch.manual_seed(0)
    net = PrototypeNet(a.classes, backbone=a.backbone, dim=a.dim, time_cond=True).eval()

    def run(align: bool) -> float:
        clock = Clock()
        cbs = [clock] + ([PrototypeAlignCallback(PrototypeGuide(net, objective="softmax"), weight=0.005, t_window=tuple(a.window))] if align else [])
        train_denoiser(ds, preset=a.preset, steps=a.steps, bs=a.bs, lr=1e-3, seed=0, progress=False, device="cpu", cbs=cbs)
        t = clock.t
        return (t[-1] - t[0]) / (len(t) - 1)

    run(False); run(True)                                     # warm-up
    plain, aligned = [], []
    for i in range(a.repeats):
        order = (False, True) if i % 2 == 0 else (True, False)
        for al in order: (aligned if al else plain).append(run(al))
    ratios = [b / p for p, b in zip(plain, aligned)]
    pm, ph = t_interval(plain); am, ah = t_interval(aligned); rm, rh = t_interval(ratios)
    n_unet = sum(p.numel() for p in ClassConditionalUNet(classes=ds.classes, image_size=a.image_size, channels=3, preset=a.preset).parameters())
    n_net = sum(p.numel() for p in net.parameters())
    cmd = "python bench/bench_align.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()[0]
    md = (f"\n### PrototypeAlignCallback training cost: {a.preset} UNet ({n_unet / 1e6:.2f} M) + {a.backbone} PrototypeNet "
          f"({n_net / 1e6:.2f} M), {a.image_size} px, batch {a.bs}\n\n"
          f"- command: `{cmd.strip()}`\n"
          f"- machine: {os.cpu_count()}-core CPU ({platform.machine()}), no GPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, load avg {load:.1f} at the end\n"
          f"- window {tuple(a.window)}, objective softmax; random weights and images (cost only); {a.repeats} ABBA repeats "
          f"after one warm-up of each; seconds per optimiser step over steps 2-{a.steps}\n\n"
          "| variant | seconds per step, mean ± 95% CI | ratio to plain, mean ± 95% CI | median ratio |\n|---|---|---|---|\n"
          f"| plain training | {pm:.3f} ± {ph:.3f} | 1 | 1 |\n"
          f"| + PrototypeAlignCallback | {am:.3f} ± {ah:.3f} | {rm:.3f} ± {rh:.3f} | {float(np.median(ratios)):.3f} |\n")
    emit(md, a.append)


if __name__ == "__main__":
    main()
