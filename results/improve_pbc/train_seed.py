"""Train one more PBC baseline denoiser with the ablation's recipe but another training seed: the first stage of a
training-seed replicate of the 3,600-step results (`extend.py` then continues it, plain and aligned).

    python results/improve_pbc/train_seed.py --seed 1 --threads 2

The recipe is `run.sh`'s baseline denoiser, i.e. `05_generate`'s `fit("baseline")` with run.sh's parameters: `small`
preset, 32 px, 1,800 steps at batch 64, lr 2e-3 with the cosine schedule, p_uncond 0.1, EMA 0.999 with warm-up, and
init and data seed --seed. Writes <out>/seed<S>/baseline/pipeline, with a checkpoint every 200 steps: a killed run
continues where it stopped. It also copies the seed-0 ablation's PrototypeNet to <out>/seed<S>/prototypes, the layout
`extend.py --ablation <out>/seed<S>` expects. That net is only copied, never used for alignment or judging.
"""
import argparse, platform, shutil, sys, time
from pathlib import Path

import torch

from improve_nb.core import save_json
from improve_nb.data import load_dataset
from improve_nb.diffusion import train_denoiser


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", default="outputs/improve_pbc_seeds")
    ap.add_argument("--data", default="../shared/data/pbc_blood/pbc_28.npz")
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    dst = Path(a.out) / f"seed{a.seed}"
    dst.mkdir(parents=True, exist_ok=True)
    protos = Path("outputs/improve_pbc/seed0/prototypes")
    if protos.exists() and not (dst / "prototypes").exists(): shutil.copytree(protos, dst / "prototypes")
    train_ds = load_dataset("medmnist", root=a.data, image_size=32, split="train")
    t = time.time()
    pipe = train_denoiser(train_ds, preset="small", steps=a.steps, bs=64, lr=2e-3, p_uncond=0.1, seed=a.seed, ema_decay=0.999,
                          ema_warmup=True, device="cpu", out_dir=dst / "baseline", progress=False, ckpt_every=200, resume=True)
    save_json(dict(command="python " + " ".join(sys.argv), steps=a.steps, seed=a.seed, wall_s=round(time.time() - t, 1),
                   resumed_from_step=pipe.info["resumed_from_step"],   # wall_s covers the steps after it
                   machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"),
              dst / "baseline_train.json")
    print(pipe.info)


if __name__ == "__main__":
    main()
