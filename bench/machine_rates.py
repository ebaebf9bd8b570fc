"""What one optimiser step of each network the HAM10000 64 px runs train costs on this machine, and what that makes a run.

    python bench/machine_rates.py --threads 2 --out bench/machine_rates_cpu.json

Times forward + backward + AdamW on random data (the cost does not depend on the values) for the `small` denoiser at
32 and 64 px (batch 64) and on 16×16×4 latents (HAM10000's f = 4 latents), the f = 4 `AutoencoderKL` of
`results/histodiffusion/run.py` at 32 and 64 px (batch 32) and resnet10t (batch 64). Reference in the same run: one
float32 2,048² matrix product, so a reader can tell a slow machine from a slow network. Median of --repeats steps after
--warmup. The projections (hours for the runs the HAM10000 evidence needs) multiply the median by each run's step count.
"""
import argparse, json, os, platform, statistics, sys, time

import timm
import torch
import torch.nn.functional as F
from diffusers import UNet2DModel

from improve_nb.diffusion import unet_kwargs
from improve_nb.latent import VAELoss, make_autoencoder


def timed(step, warmup, repeats):
    for _ in range(warmup): step()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), ts


def unet_step(size, ch, bs):
    m = UNet2DModel(**unet_kwargs("small", size, ch, 7)); opt = torch.optim.AdamW(m.parameters(), 1e-3)
    x, y = torch.randn(bs, ch, size, size), torch.randint(0, 7, (bs,))
    def step():
        out = m(x, torch.randint(0, 1000, (bs,)), class_labels=y).sample
        loss = F.mse_loss(out, x); opt.zero_grad(); loss.backward(); opt.step()
    return step


def ae_step(size, bs):
    vae = make_autoencoder(size, 3, 4, 2, 32, 1, False); opt = torch.optim.AdamW(vae.parameters(), 1e-3)
    x, loss_func = torch.randn(bs, 3, size, size), VAELoss(1e-6, "l1")          # train_autoencoder's loss
    def step():
        post = vae.encode(x).latent_dist; r = vae.decode(post.sample()).sample
        loss = loss_func((r, post.mean, post.logvar), x); opt.zero_grad(); loss.backward(); opt.step()
    return step


def clf_step(size, bs):
    m = timm.create_model("resnet10t", num_classes=7); opt = torch.optim.AdamW(m.parameters(), 1e-3)
    x, y = torch.randn(bs, 3, size, size), torch.randint(0, 7, (bs,))
    def step():
        loss = F.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3); ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    load_before = list(os.getloadavg())
    A = torch.randn(2048, 2048)
    ref, _ = timed(lambda: A @ A, 2, 5)
    cases = {"unet_small_32px_bs64": (unet_step(32, 3, 64), 64), "unet_small_64px_bs64": (unet_step(64, 3, 64), 64),
             "unet_small_latent16x16x4_bs64": (unet_step(16, 4, 64), 64), "autoencoder_f4_32px_bs32": (ae_step(32, 32), 32),
             "autoencoder_f4_64px_bs32": (ae_step(64, 32), 32), "resnet10t_64px_bs64": (clf_step(64, 64), 64)}
    res = {}
    for k, (step, bs) in cases.items():
        med, ts = timed(step, a.warmup, a.repeats)
        res[k] = dict(s_per_step=round(med, 3), images_per_s=round(bs / med, 1), all_s=[round(t, 3) for t in ts])
        print(f"{k:34s} {med:7.3f} s/step  {bs / med:7.1f} images/s", flush=True)
    s = lambda k: res[k]["s_per_step"]
    proj = {  # hours; step counts from results/improve_pbc/run.sh (3,600-step rows) and results/histodiffusion/run.py defaults
        "improve_ablation_one_training_seed_64px (2 denoisers x 3,600 steps)": 2 * 3600 * s("unet_small_64px_bs64") / 3600,
        "histodiffusion_stages_64px (autoencoder 2,000 + latent denoiser 4,000 steps)":
            (2000 * s("autoencoder_f4_64px_bs32") + 4000 * s("unet_small_latent16x16x4_bs64")) / 3600,
    }
    out = dict(command="python " + " ".join(sys.argv), machine=f"{platform.machine()}, {platform.processor() or 'cpu'}, "
               f"{torch.get_num_threads()} torch thread(s), no GPU", torch=torch.__version__,
               reference_matmul_2048_s=round(ref, 4), reference_matmul_gflops=round(2 * 2048**3 / ref / 1e9, 1),
               steps=res, projected_hours={k: round(v, 1) for k, v in proj.items()},
               load_avg_before=load_before, load_avg_after=list(os.getloadavg()))
    for k, v in out["projected_hours"].items(): print(f"{v:6.1f} h  {k}")
    if a.out:
        with open(a.out, "w") as f: json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
