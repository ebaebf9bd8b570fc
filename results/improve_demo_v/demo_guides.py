"""What `guide_sweep.py` and `early_steps.py` share: each seed's baseline denoiser sampled with one guide setting after
another, with the ablation's sampling call (32 per class, DDIM-25, CFG 3, generator seed s) so rows are paired by noise,
and the extra PrototypeNets some settings guide with (the main job's recipe with one change, trained once per seed).

A setting is None (unguided) or a dict of `PrototypeGuide` arguments over `base`, plus an optional `net` naming an
entry of `NETS` (the ablation's own `<seed>/prototypes` net is used otherwise), an optional `cfg` (CFG scale, 3 by
default) and `unguided=True` for an unguided row at another `cfg`.
"""
import time
from pathlib import Path

import torch

from improve_nb.data import load_dataset
from improve_nb.diffusion import DenoiserPipeline
from improve_nb.guidance import PrototypeGuide
from improve_nb.prototypes import PrototypeNet, train_prototype_net

# net name -> (folder under the seed's run, train_prototype_net arguments that differ from the main job's defaults)
NETS = {"no_jitter": ("prototypes_nojitter", dict(color_jitter=False)),   # the main job's default jitters colours
        "xt": ("prototypes_xt", dict(noise_aug="xt")),                    # trained on, and guiding at, x_t instead of x̂₀
        # session 17: trained on the seed's own baseline denoiser's x̂₀ (unconditional, EMA weights) of noised real images,
        # instead of the blur-and-shrink imitation of x̂₀ (`NoiseAug`'s default)
        "denoiser": ("prototypes_denoiser", "denoiser"),
        # session 17: x̂₀ imitation without the blur (contrast shrink and noise only), so cells keep their size at every σ
        "no_blur": ("prototypes_noblur", dict(aug_kwargs=dict(blur=0.0)))}


def _denoiser_aug(seed_dir: Path) -> dict:
    "NoiseAug arguments that form x̂₀ with the seed's baseline denoiser (EMA, null class: nothing but x_t tells the class)."
    from improve_nb.diffusion import make_model_fn
    pipe = DenoiserPipeline.from_pretrained(seed_dir / "baseline" / "pipeline", device="cpu")
    fn = make_model_fn(pipe.sampling_model().eval(), pipe.prediction_type, pipe.noise_schedule)
    return dict(aug_kwargs=dict(scheduler=pipe.noise_schedule, eps_fn=lambda x, t, labels: fn(x, t, None)))


def extra_net(seed_dir: Path, s: int, name: str) -> PrototypeNet:
    "The main job's PrototypeNet recipe at seed s with `NETS[name]`'s change, trained once and kept in the seed's folder."
    folder, change = NETS[name]
    if change == "denoiser": change = _denoiser_aug(seed_dir)
    d = seed_dir / folder
    if not (d / "config.json").exists():
        train = load_dataset("demo", image_size=32, split="train", n_per_class=300)
        val = load_dataset("demo", image_size=32, split="val", n_per_class=75)
        recipe = dict(backbone="resnet10t", dim=64, k=1, noise_aug="x0hat", color_jitter=True, epochs=4, bs=64, seed=s, device="cpu")
        net, rep = train_prototype_net(train, val, **{**recipe, **change})
        net.save_pretrained(d)
        print({k: v for k, v in rep.items() if not isinstance(v, (list, dict))}, flush=True)
    return PrototypeNet.from_pretrained(d).eval()


CFG = 3.0   # the ablation's classifier-free guidance scale; a setting's `cfg` replaces it


def guided_runs(run, settings: dict, base: dict, skip=lambda s, name: False):
    "Yield (seed, setting name, images, labels, the seed's ablation PrototypeNet, sampling seconds) per seed and setting."
    for seed_dir in sorted(Path(run).glob("seed*/")):
        s = int(seed_dir.name[4:])
        pipe = DenoiserPipeline.from_pretrained(seed_dir / "baseline" / "pipeline", device="cpu")
        net = PrototypeNet.from_pretrained(seed_dir / "prototypes").eval()
        for name, kw in settings.items():
            if skip(s, name): continue
            guides, cfg = [], CFG
            if kw is not None:
                kw = dict(kw)
                cfg = kw.pop("cfg", CFG)   # session 17: a setting may change the CFG scale
                if kw.pop("unguided", False): kw = None
            if kw is not None:
                g_net = extra_net(seed_dir, s, kw.pop("net")) if "net" in kw else net
                guides = [PrototypeGuide(g_net, mode="cheap", n_classes=len(pipe.classes), **{**base, **kw})]
            t0 = time.time()
            imgs, labels = pipe(n_per_class=32, num_inference_steps=25, sampler="ddim", cfg_scale=cfg, guides=guides,
                                generator=torch.Generator().manual_seed(s), device="cpu")
            yield s, name, imgs, labels, net, time.time() - t0
