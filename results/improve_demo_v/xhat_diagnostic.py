"""Where does the demo samples' dark background come from? For each trained denoiser given on the command line, measure the
background (median border colour, mean over RGB, uint8 scale; the oracle's `bg_brightness` without its median filter) of
the denoiser's x̂₀ estimate
  (a) on real demo test images noised to timestep t (20 per class, fixed noise), at t = 50 ... 999, and
  (b) along DDIM-25 sampling trajectories from pure noise at CFG 3 (16 per class), the main job's sampler,
and the oracle's threshold: a background under 190 fails it. EMA weights, generator seed 0, 2 torch threads.

    python results/improve_demo_v/xhat_diagnostic.py results/improve_demo_v/xhat_diagnostic.csv \
        eps=outputs/improve_demo_long/seed0/baseline/pipeline v=outputs/improve_demo_v1500/seed0/baseline/pipeline
"""
import sys

import pandas as pd
import torch
from diffusers import DDIMScheduler

from improve_nb.data import demo_images
from improve_nb.diffusion import DenoiserPipeline, from_eps, make_model_fn, to_eps, to_x0

torch.set_num_threads(2)


def border(x):
    "Median border colour of x (N×3×S×S in [-1, 1], clipped), averaged over RGB, in uint8 units; 2-pixel border as the oracle at 32 px."
    u = (x.clamp(-1, 1) + 1) * 127.5
    b = torch.cat([u[..., :2, :].flatten(2), u[..., -2:, :].flatten(2), u[..., :, :2].flatten(2), u[..., :, -2:].flatten(2)], 2)
    return b.median(2).values.mean(1)


rows = []
dest = sys.argv[1]
for spec in sys.argv[2:]:
    name, path = spec.split("=", 1)
    pipe = DenoiserPipeline.from_pretrained(path, device="cpu")
    m = (pipe.ema_model or pipe.model).eval()
    ns, pt = pipe.noise_schedule, pipe.prediction_type
    x, y = demo_images(20, 32, "test", 0)
    x0 = torch.tensor(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    real = float(border(x0).mean())
    with torch.no_grad():
        for t in [50, 200, 400, 600, 800, 900, 950, 990, 999]:
            ab = ns.alphas_cumprod[t].view(1, 1, 1, 1)
            xt = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn(x0.shape, generator=g)
            xh = to_x0(to_eps(m(xt, torch.full((len(xt),), t), y), xt, ab, pt), xt, ab)
            b = border(xh)
            rows.append(dict(model=name, prediction_type=pt, probe="noised real test", t=t, step="", abar=float(ab),
                             xhat_bg_mean=float(b.mean()), xhat_bg_below_190=float((b < 190).float().mean()), real_bg_mean=real))
        sch = DDIMScheduler.from_config(ns.config)
        sch.set_timesteps(25)
        yy = torch.arange(len(pipe.classes)).repeat_interleave(16)
        xs = torch.randn((len(yy), 3, 32, 32), generator=g)
        model_fn = make_model_fn(m, pt, ns, cfg_scale=3.0)   # the samplers' own CFG-combined ε
        for i, t in enumerate(sch.timesteps):
            ab = ns.alphas_cumprod[t].view(1, 1, 1, 1)
            eps = model_fn(xs, torch.full((len(yy),), int(t)), yy)
            b = border(to_x0(eps, xs, ab))
            if i in (0, 1, 2, 5, 10, 15, 20, 24):
                rows.append(dict(model=name, prediction_type=pt, probe="DDIM-25 CFG 3 trajectory", t=int(t), step=i, abar=float(ab),
                                 xhat_bg_mean=float(b.mean()), xhat_bg_below_190=float((b < 190).float().mean()), real_bg_mean=real))
            xs = sch.step(from_eps(eps, xs, ab, pt), t, xs).prev_sample   # the scheduler takes its config's prediction type
        b = border(xs)
        rows.append(dict(model=name, prediction_type=pt, probe="DDIM-25 CFG 3 final sample", t=0, step=25, abar=1.0,
                         xhat_bg_mean=float(b.mean()), xhat_bg_below_190=float((b < 190).float().mean()), real_bg_mean=real))
    print(pd.DataFrame([r for r in rows if r["model"] == name]).to_string(), flush=True)
pd.DataFrame(rows).to_csv(dest, index=False, float_format="%.4g")
