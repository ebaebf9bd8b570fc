"""Cost of PrototypeGuide during sampling, against unguided sampling at equal steps, in the same process.

Times `improve_nb.diffusion.sample` three ways, interleaved within each repeat so that machine load drifts hit all
three alike: unguided; with PrototypeGuide(mode="cheap") active at every step (the worst case: window (0, 1), the default; `--window` narrows it); with
PrototypeGuide(mode="full"); and, per `--views KIND:N` (e.g. `d4:8 random:4`), cheap mode with its energy averaged
over N views of x̂0 (`PrototypeGuide(views=KIND, n_views=N)`). Weights are random: only cost is measured. Prints a markdown section; `--append FILE`
adds it to FILE (atomically). Example:

    python bench/bench_guidance.py --preset small --image-size 32 --backbone resnet18 --n 16 --steps 20 --cfg 3 --repeats 5
"""
import argparse, os, platform, statistics, sys, time

import numpy as np
import torch

from improve_nb.core import atomic_write
from improve_nb.diffusion import ClassConditionalUNet, make_noise_schedule, sample
from improve_nb.guidance import PrototypeGuide
from improve_nb.prototypes import PrototypeNet


def t_interval(xs, conf=0.95):
    "Mean and half-width of a Student-t interval."
    from scipy import stats
    xs = np.asarray(xs, float)
    if len(xs) < 2: return float(xs.mean()), float("nan")
    return float(xs.mean()), float(stats.t.ppf(0.5 + conf / 2, len(xs) - 1) * xs.std(ddof=1) / np.sqrt(len(xs)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small"); ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3); ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--backbone", default="resnet18"); ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--n", type=int, default=16, help="images per sampling call")
    ap.add_argument("--steps", type=int, default=20); ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--cfg", type=float, default=3.0); ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--window", type=float, nargs=2, default=(0.0, 1.0), help="the guides' t_window")
    ap.add_argument("--views", nargs="*", default=[], metavar="KIND:N", help="extra cheap-mode variants with views, e.g. d4:8 random:4")
    ap.add_argument("--device", default="auto"); ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--append", default=None, help="append the markdown section to this file")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = "cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device)
    classes = [f"c{i}" for i in range(a.classes)]
    model = ClassConditionalUNet(classes, image_size=a.image_size, channels=a.channels, preset=a.preset).to(dev).eval()
    net = PrototypeNet(a.classes, backbone=a.backbone, in_chans=a.channels, dim=a.dim, time_cond=True).to(dev).eval()
    ns = make_noise_schedule(timestep_spacing="leading")
    labels = np.arange(a.n) % a.classes
    win = tuple(a.window)
    guides = {"unguided": [], "cheap": [PrototypeGuide(net, scale=0.1, t_window=win)],
              "full": [PrototypeGuide(net, scale=0.1, t_window=win, mode="full")]}
    for v in a.views:
        kind, _, n = v.partition(":")
        guides[f"cheap, views {kind}×{n}"] = [PrototypeGuide(net, scale=0.1, t_window=win, views=kind, n_views=int(n))]

    def run(g):
        if dev == "cuda": torch.cuda.synchronize()
        t0 = time.perf_counter()
        sample(model, ns, labels=labels, num_inference_steps=a.steps, sampler=a.sampler, cfg_scale=a.cfg, guides=g,
               generator=torch.Generator().manual_seed(0), batch_size=a.n, device=dev)
        if dev == "cuda": torch.cuda.synchronize()
        return time.perf_counter() - t0

    for g in guides.values(): run(g)                                   # warm-up
    times = {k: [] for k in guides}
    for _ in range(a.repeats):
        for k, g in guides.items(): times[k].append(run(g))
    ratios = {k: [t / u for t, u in zip(times[k], times["unguided"])] for k in guides if k != "unguided"}
    mparams = sum(p.numel() for p in model.parameters()) / 1e6
    nparams = sum(p.numel() for p in net.parameters()) / 1e6
    machine = (torch.cuda.get_device_name() if dev == "cuda" else f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), no GPU, "
               f"torch threads {torch.get_num_threads()}, load avg {os.getloadavg()[0]:.1f} at the end")
    cmd = "python bench/bench_guidance.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"### PrototypeGuide cost: {a.preset} UNet ({mparams:.2f} M) + {a.backbone} PrototypeNet ({nparams:.2f} M), "
             f"{a.image_size} px, {a.sampler.upper()}-{a.steps}, CFG {a.cfg}, {a.n} images",
             "", f"- command: `{cmd.strip()}`", f"- machine: {machine}",
             f"- guide window {win} ({'every step' if win == (0.0, 1.0) else 'steps with t/T in the window'}); random weights (cost only); {a.repeats} interleaved repeats after one warm-up", "",
             "| variant | seconds per call, mean ± 95% CI | ratio to unguided, mean ± 95% CI | median ratio |", "|---|---|---|---|"]
    for k in guides:
        m, h = t_interval(times[k])
        if k == "unguided": lines.append(f"| unguided | {m:.2f} ± {h:.2f} | 1 | 1 |")
        else:
            rm, rh = t_interval(ratios[k])
            lines.append(f"| PrototypeGuide {k} | {m:.2f} ± {h:.2f} | {rm:.3f} ± {rh:.3f} | {statistics.median(ratios[k]):.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.append:
        old = open(a.append).read() if os.path.exists(a.append) else "# Benchmarks\n"
        with atomic_write(a.append, "w") as f: f.write(old.rstrip("\n") + "\n\n" + text)
    return ratios


if __name__ == "__main__":
    main()
