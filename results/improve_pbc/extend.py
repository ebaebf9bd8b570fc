"""Train the ablation's seed-0 denoisers longer, with equal extra compute, so the guide is judged on better-trained models.

    python results/improve_pbc/extend.py --denoiser baseline --threads 1 &
    python results/improve_pbc/extend.py --denoiser improve --threads 1       # the two side by side, one core each

(On the shared 2-core CPU two 1-thread runs side by side did about 1.0 step/s together, one 2-thread run 0.77.)

The ablation (`run.sh`) trained both denoisers for 1,800 steps of 64 images: undertrained by the issue's own reference
points. This continues each from its saved raw weights (`<ablation>/<denoiser>/pipeline/model`, the IMPROVE one with its
prototype-initialised, trainable class embeddings) for --steps more optimiser steps: a second cosine cycle with warm-up
(lr --lr), batch 64, p_uncond 0.1, a fresh EMA (decay 0.999 with warm-up) and data seed --seed, the same for both
denoisers, so the two differ only in where the ablation left them. Total compute per denoiser: 1,800 + --steps steps.
Writes <out>/<A>/<denoiser>/pipeline, A the --ablation folder's name (seed0 by default), with checkpoints every 200
steps (a killed run resumes where it stopped; the JSON's wall_s then covers only the steps after `resumed_from_step`),
and copies the ablation's PrototypeNet to <out>/<A>/prototypes, so `sweep.py --ablation <out>/<A>` finds what it expects.

Prototype alignment (`--align-weight W`, the library's `PrototypeAlignCallback`): the same continuation, plus W × the
ᾱ-weighted cross-entropy of a frozen PrototypeNet on the denoiser's x̂0 (t/T in --align-window) in the loss:

    python results/improve_pbc/extend.py --denoiser baseline --align-weight 0.001 --threads 1 &
    python results/improve_pbc/extend.py --denoiser baseline --align-weight 0.005 --threads 1

writes <out>/seed0/baseline_align0.001 (and _align0.005): the baseline's first 1,800 plain steps, then 1,800 aligned
ones, the same steps, batches, noise and lr schedule as the plain continuation. The net is --align-net (default the
sweep's colour-jittered PrototypeNet, the one that guides `proto_guide`), never the judge's expert. An aligned step
costs about 1.00x a plain one here (`bench/bench_align.py`); wall time is recorded beside the steps. The summary of the
term (first and last 100 steps this process trained) is `PrototypeAlignCallback.summary(100)`.

Training-seed replicates (`train_seed.py --seed S` trains the first 1,800 steps at init/data seed S): continue them the
same way, with the continuation's data seed S + 1 as for seed 0 (0, then 1), writing <out>/seed<S>:

    python results/improve_pbc/extend.py --ablation outputs/improve_pbc_seeds/seed1 --seed 2 --denoiser baseline --threads 1 &
    python results/improve_pbc/extend.py --ablation outputs/improve_pbc_seeds/seed1 --seed 2 --denoiser baseline --align-weight 0.005 --threads 1
"""
import argparse, json, platform, shutil, sys, time
from pathlib import Path

import torch

from improve_nb.core import save_json
from improve_nb.data import load_dataset
from improve_nb.diffusion import ClassConditionalUNet, train_denoiser
from improve_nb.guidance import PrototypeAlignCallback, PrototypeGuide
from improve_nb.prototypes import PrototypeNet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--denoiser", required=True, choices=["baseline", "improve"])
    ap.add_argument("--ablation", default="outputs/improve_pbc/seed0")
    ap.add_argument("--out", default="outputs/improve_pbc_long")
    ap.add_argument("--data", default="../shared/data/pbc_blood/pbc_28.npz")
    ap.add_argument("--steps", type=int, default=1800, help="extra steps (default: as many again as the ablation's 1,800)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1, help="data-order seed of the continuation (the ablation used 0)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--align-weight", type=float, default=0.0, help="PrototypeAlignCallback weight (0: plain continuation)")
    ap.add_argument("--align-net", default="outputs/improve_pbc/sweep/prototypes_cj_e6")
    ap.add_argument("--align-window", type=float, nargs=2, default=[0.0, 0.5])
    ap.add_argument("--align-objective", default="softmax", choices=["softmax", "distance"])
    a = ap.parse_args()
    name = a.denoiser if a.align_weight == 0 else f"{a.denoiser}_align{a.align_weight:g}"
    cbs = []
    if a.align_weight:
        if not (Path(a.align_net) / "config.json").exists(): raise SystemExit(f"{a.align_net} holds no PrototypeNet: run sweep.py first (it trains the colour-jittered one)")
        guide = PrototypeGuide(PrototypeNet.from_pretrained(a.align_net), objective=a.align_objective)
        cbs = [PrototypeAlignCallback(guide, weight=a.align_weight, t_window=tuple(a.align_window))]
    if a.threads: torch.set_num_threads(a.threads)
    src = Path(a.ablation) / a.denoiser / "pipeline"
    if not (src / "model").exists(): raise SystemExit(f"{src / 'model'} is missing: run results/improve_pbc/run.sh first (seed 0)")
    before = json.loads((src / "pipeline.json").read_text())["info"]
    dst = Path(a.out) / Path(a.ablation).name      # seed0 for the ablation, seed<S> for train_seed.py's replicates
    dst.mkdir(parents=True, exist_ok=True)
    if not (dst / "prototypes").exists(): shutil.copytree(Path(a.ablation) / "prototypes", dst / "prototypes")
    train_ds = load_dataset("medmnist", root=a.data, image_size=32, split="train")
    model = ClassConditionalUNet.from_pretrained(src / "model")
    t = time.time()
    pipe = train_denoiser(train_ds, preset=model.config.preset, steps=a.steps, bs=64, lr=a.lr, p_uncond=0.1, seed=a.seed,
                          ema_decay=0.999, ema_warmup=True, device="cpu", out_dir=dst / name, model=model, progress=False,
                          ckpt_every=200, resume=True, cbs=cbs)
    save_json(dict(command="python " + " ".join(sys.argv), source=str(src), steps_before=before.get("steps_done"), extra_steps=a.steps,
                   total_steps=before.get("steps_done", 0) + a.steps, lr=a.lr, data_seed=a.seed, wall_s=round(time.time() - t, 1),
                   resumed_from_step=pipe.info["resumed_from_step"],
                   machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
                   **(dict(align=dict(weight=a.align_weight, net=a.align_net, window=a.align_window, objective=a.align_objective,
                                      alpha_weight=True, stats=cbs[0].summary(100))) if cbs else {})),
              dst / f"{name}_extend.json")
    print(pipe.info)


if __name__ == "__main__":
    main()
