"""Does the PrototypeNet still see lymphocyte size at the noise levels where sampling sets it? Real demo validation
lymphocytes, as they are and zoomed 1.3× (the baseline samples' area), noised to x_t at t/T in T_FRACS with the same
noise for both, denoised to x̂₀ the way the sampler does it (the seed's baseline EMA denoiser, lymphocyte label, CFG 3,
v → ε → x̂₀), then embedded by the seed's PrototypeNet at that σ (as `PrototypeGuide` embeds x̂₀). Reported per seed
and t/T: the distance to the lymphocyte prototype of each version, the share of pairs where the zoomed one is farther
(1.0 = the net always prefers the real size), and the oracle's cell area of x̂₀ (does x̂₀ still show the size?).

    python results/improve_demo_v/size_sensitivity_noisy.py outputs/improve_demo_v1500 results/improve_demo_v/size_sensitivity_noisy.csv
    python results/improve_demo_v/size_sensitivity_noisy.py outputs/improve_demo_v1500 results/improve_demo_v/size_sensitivity_noisy_noblur.csv prototypes_noblur

The optional third argument names another PrototypeNet folder under each seed (`demo_guides.NETS`; train it first),
the fourth the CFG scale of the x̂₀ (default 3, the sampler's):

    python results/improve_demo_v/size_sensitivity_noisy.py outputs/improve_demo_v1500 results/improve_demo_v/size_sensitivity_noisy_cfg1.csv prototypes 1
"""
import sys
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import DEMO_CLASSES, demo_oracle_details, load_dataset
from improve_nb.diffusion import DenoiserPipeline, make_model_fn, to_x0
from improve_nb.guidance import PrototypeGuide
from improve_nb.prototypes import PrototypeNet

from size_sensitivity import zoom  # this folder

T_FRACS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)


def main(run, dest, net_dir="prototypes", cfg="3.0"):
    torch.set_num_threads(2)
    val = load_dataset("demo", image_size=32, split="val", n_per_class=75)
    lym = DEMO_CLASSES.index("lymphocyte")
    x = torch.as_tensor(val.images[val.labels == lym]).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = torch.full((len(x),), lym)
    rows = []
    for seed_dir in sorted(Path(run).glob("seed*/")):
        pipe = DenoiserPipeline.from_pretrained(seed_dir / "baseline" / "pipeline", device="cpu")
        guide = PrototypeGuide(PrototypeNet.from_pretrained(seed_dir / net_dir).eval())   # its `distance` is what the guide descends
        fn = make_model_fn(pipe.sampling_model().eval(), pipe.prediction_type, pipe.noise_schedule, cfg_scale=float(cfg))
        ac = pipe.noise_schedule.alphas_cumprod
        g = torch.Generator().manual_seed(int(seed_dir.name[4:]))
        noise = torch.randn(x.shape, generator=g)
        for tf in T_FRACS:
            t = int(tf * (len(ac) - 1)); a = ac[t].float()
            out = {}
            for name, x0 in (("real", x), ("zoom_1.3", zoom(x, 1.3))):
                if tf == 0: xh = x0
                else:
                    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
                    with torch.no_grad(): xh = to_x0(fn(xt, t, y), xt, a).clamp(-1, 1)
                sig = torch.full((len(x),), float((1 - a).sqrt()))
                with torch.no_grad(): d = guide.distance(xh, y, sig if tf > 0 else None)
                u8 = ((xh + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
                out[name] = (d, demo_oracle_details(u8, y.numpy()).cell_frac.to_numpy())
            rows.append(dict(seed=int(seed_dir.name[4:]), t_frac=tf, dist_real=float(out["real"][0].mean()),
                             dist_zoom=float(out["zoom_1.3"][0].mean()),
                             zoom_farther=float((out["zoom_1.3"][0] > out["real"][0]).float().mean()),
                             cell_frac_real=float(out["real"][1].mean()), cell_frac_zoom=float(out["zoom_1.3"][1].mean())))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(dest, index=False, float_format="%.4f")
    print(df.groupby("t_frac").mean(numeric_only=True).round(3).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:5])
