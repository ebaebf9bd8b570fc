"""Why do the demo ablation's samples fail the oracle? Resample each seed's trained baseline denoiser (EMA weights) at other
CFG scales, samplers and step counts, and count oracle passes and background failures.

    python results/improve_demo_long/sampler_check.py outputs/improve_demo_long results/improve_demo_long/sampler_check.csv [seeds...]

32 samples per class and setting, generator seed 0; torch threads 2. The main job sampled with DDIM-25, CFG 3.
"""
import sys, time
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import demo_oracle_details
from improve_nb.diffusion import DenoiserPipeline

run, dest = Path(sys.argv[1]), Path(sys.argv[2])
seeds = sys.argv[3:] or ["0"]
torch.set_num_threads(2)
SETTINGS = [("ddim", 25, 3.0), ("ddim", 25, 1.0), ("ddim", 25, 1.5), ("ddim", 100, 3.0), ("dpm++", 25, 3.0)]
rows = []
for s in seeds:
    pipe = DenoiserPipeline.from_pretrained(run / f"seed{s}" / "baseline" / "pipeline")
    for sampler, steps, cfg in SETTINGS:
        t0 = time.time()
        imgs, labels = pipe(n_per_class=32, num_inference_steps=steps, sampler=sampler, cfg_scale=cfg,
                            generator=torch.Generator().manual_seed(0), device="cpu")
        d = demo_oracle_details(imgs, labels)
        rows.append(dict(seed=int(s), sampler=sampler, steps=steps, cfg=cfg, n=len(d), oracle_pass=d.ok.mean(),
                         fail_bg_brightness=1 - d.pass_bg_brightness.mean(), fail_bg_std=1 - d.pass_bg_std.mean(),
                         bg_brightness_median=d.bg_brightness.median(), seconds=round(time.time() - t0, 1)))
        print(rows[-1], flush=True)
pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4f")
