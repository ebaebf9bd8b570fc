"""Throughput and peak memory of improve_nb.diffusion against minimal references, in one run.

    nice -n 10 python bench/bench_diffusion.py --device cpu --out bench/results_diffusion_cpu.json

(1) training: `train_denoiser` (fastai Learner + callbacks) vs a plain PyTorch loop with the same UNet, batch, AdamW,
    precision and the same per-step work (noising, label dropout, MSE, grad clipping, LR schedule, EMA);
(2) sampling: `DenoiserPipeline.__call__` / `sample` vs a bare diffusers DDIM scheduler loop, same UNet and steps;
(3) peak memory of each, each variant in a fresh subprocess (CPU: ru_maxrss; CUDA: torch.cuda.max_memory_allocated);
(4) --device cuda only: bf16, channels_last and torch.compile variants and the fraction of peak FLOP/s reached
    (UNet FLOPs counted with torch.utils.flop_counter; --peak-tflops gives the GPU's dense peak).
Library and reference run back to back, alternating which goes first (ABBA), so load changes on a shared machine hit
both; ratios are per pair and summarised by mean, median and a t-interval.
"""
import argparse, copy, json, math, os, platform, resource, statistics, subprocess, sys, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from fastai.callback.core import Callback

from improve_nb.core import images_to_tensor, save_json
from improve_nb.data import ImageDataset
from improve_nb.diffusion import (ClassConditionalUNet, DenoiserPipeline, lr_schedule, make_noise_schedule, make_sampler,
                                  train_denoiser)

LR, NTT = 2e-4, 1000


def dataset(n, size, channels, seed=0):
    r = np.random.default_rng(seed)
    return ImageDataset(r.integers(0, 255, (n, size, size, channels), dtype=np.uint8), np.arange(n) % 4, list("abcd"), name="bench")


def make_model(a, ds):
    torch.manual_seed(0)
    m = ClassConditionalUNet(classes=ds.classes, image_size=ds.image_size, channels=ds.channels, preset=a.preset)
    if a.channels_last: m = m.to(memory_format=torch.channels_last)
    return m


class Clock(Callback):
    "Wall time of each training batch boundary (after_batch), for steady-state throughput."
    order = 99
    def __init__(self, sync): self.t, self.sync = [], sync
    def after_batch(self):
        if self.training: self.sync(); self.t.append(time.perf_counter())


def run_lib_train(a, ds, dev, sync):
    m = make_model(a, ds)
    if a.compile: m.unet = torch.compile(m.unet)
    clock = Clock(sync)
    train_denoiser(ds, steps=a.warmup + a.steps, bs=a.bs, lr=LR, device=dev, seed=0, model=m, progress=False, cbs=[clock],
                   precision=a.precision, num_train_timesteps=NTT, p_uncond=0.1)
    dt = clock.t[-1] - clock.t[a.warmup - 1]
    return a.steps * a.bs / dt


def run_plain_train(a, ds, dev, sync):
    m = make_model(a, ds).to(dev)
    if a.compile: m.unet = torch.compile(m.unet)
    ns = make_noise_schedule(NTT)
    opt = torch.optim.AdamW(m.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ema = copy.deepcopy(m).eval().requires_grad_(False)
    sched = lr_schedule("cosine", LR, 0.05)
    x_all, y_all = images_to_tensor(ds.images).to(dev), torch.as_tensor(ds.labels).to(dev)
    g = torch.Generator(device=dev).manual_seed(0)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16 if a.precision == "bf16" else torch.float16, enabled=a.precision != "no")
    scaler = torch.amp.GradScaler(dev.type, enabled=a.precision == "fp16")
    total, times = a.warmup + a.steps, []
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    for s in range(total):
        idx = perm[(torch.arange(a.bs) + s * a.bs) % len(ds)].to(dev)
        x0, y = x_all[idx], y_all[idx]
        if a.channels_last: x0 = x0.contiguous(memory_format=torch.channels_last)
        t = torch.randint(0, NTT, (a.bs,), generator=g, device=dev)
        noise = torch.randn(x0.shape, generator=g, device=dev)
        y = torch.where(torch.rand(a.bs, generator=g, device=dev) < 0.1, torch.full_like(y, m.null_class), y)
        for pg in opt.param_groups: pg["lr"] = sched(s / total)
        with amp: pred = m(ns.add_noise(x0, noise, t), t, y)
        loss = F.mse_loss(pred.float(), noise.float())
        scaler.scale(loss).backward(); scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        scaler.step(opt); scaler.update(); opt.zero_grad()
        with torch.no_grad(): torch._foreach_lerp_(list(ema.parameters()), list(m.parameters()), 1 - 0.999)
        sync(); times.append(time.perf_counter())
    return a.steps * a.bs / (times[-1] - times[a.warmup - 1])


def run_lib_sample(a, ds, dev, sync):
    m = make_model(a, ds).to(dev).eval()
    pipe = DenoiserPipeline(m, make_noise_schedule(NTT))
    sync(); t0 = time.perf_counter()
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        pipe(labels=np.arange(a.n_sample) % 4, num_inference_steps=a.sample_steps, sampler="ddim", device=dev,
             batch_size=a.n_sample, generator=torch.Generator().manual_seed(0))
    sync(); return a.n_sample / (time.perf_counter() - t0)


def run_bare_sample(a, ds, dev, sync):
    m = make_model(a, ds).to(dev).eval()
    sch = make_sampler("ddim", make_noise_schedule(NTT)); sch.set_timesteps(a.sample_steps, device=dev)
    y = torch.as_tensor(np.arange(a.n_sample) % 4, device=dev)
    sync(); t0 = time.perf_counter()
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        x = torch.randn((a.n_sample, ds.channels, ds.image_size, ds.image_size), generator=torch.Generator().manual_seed(0)).to(dev)
        for t in sch.timesteps:
            x = sch.step(m(x, t, y), t, x).prev_sample
        ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    sync(); return a.n_sample / (time.perf_counter() - t0)


RUNNERS = dict(lib_train=run_lib_train, plain_train=run_plain_train, lib_sample=run_lib_sample, bare_sample=run_bare_sample)


def unet_flops(a, ds, dev):
    from torch.utils.flop_counter import FlopCounterMode
    m = make_model(a, ds).to(dev)
    x = torch.randn(a.bs, ds.channels, ds.image_size, ds.image_size, device=dev)
    with FlopCounterMode(display=False) as fc:
        m(x, torch.zeros(a.bs, dtype=torch.long, device=dev), torch.zeros(a.bs, dtype=torch.long, device=dev)).sum().backward()
    return fc.get_total_flops() / a.bs            # forward + backward FLOPs per image


def _status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"): return int(line.split()[1]) / 1024     # kB -> MiB
    return float("nan")


def _reset_peak_rss():
    "Reset Linux's peak-RSS counter (VmHWM) to the current RSS (write 5 to /proc/self/clear_refs); return the current RSS."
    try: Path("/proc/self/clear_refs").write_text("5")
    except OSError: pass
    return _status("VmRSS") if Path("/proc/self/status").exists() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss():
    return _status("VmHWM") if Path("/proc/self/status").exists() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ci95(xs):
    if len(xs) < 2: return (float("nan"), float("nan"))
    from scipy import stats
    m, s = statistics.mean(xs), statistics.stdev(xs) / math.sqrt(len(xs))
    h = stats.t.ppf(0.975, len(xs) - 1) * s
    return (m - h, m + h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu"); ap.add_argument("--preset", default="small")
    ap.add_argument("--size", type=int, default=32); ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--bs", type=int, default=32); ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3); ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-sample", type=int, default=32); ap.add_argument("--sample-steps", type=int, default=20)
    ap.add_argument("--precision", default="no", choices=["no", "bf16", "fp16"])
    ap.add_argument("--channels-last", action="store_true"); ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=1); ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--gpu-variants", action="store_true", help="on CUDA: also run bf16 / channels_last / compile variants")
    ap.add_argument("--only", choices=list(RUNNERS), help="(internal) run one variant once and print peak memory")
    ap.add_argument("--memory-only", action="store_true", help="skip the throughput repeats; only the peak-memory subprocesses")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    ds = dataset(max(256, 4 * a.bs), a.size, a.channels)
    if a.only:                                         # fresh process: peak memory of one variant
        if dev.type == "cuda": torch.cuda.reset_peak_memory_stats()
        before = _reset_peak_rss()
        v = RUNNERS[a.only](a, ds, dev, sync)
        after = _peak_rss()
        peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else after
        print(json.dumps(dict(variant=a.only, throughput=v, peak_mib=peak, rss_before_mib=before, rss_growth_mib=after - before))); return
    res = dict(command=" ".join(["python"] + sys.argv), machine=f"{platform.machine()} {os.cpu_count()} CPU(s) shared with other jobs"
               + (f", {torch.cuda.get_device_name()}" if dev.type == "cuda" else ", no GPU"), torch=torch.__version__,
               settings=dict(preset=a.preset, size=a.size, channels=a.channels, bs=a.bs, steps_timed=a.steps, warmup=a.warmup,
                             repeats=a.repeats, precision=a.precision, channels_last=a.channels_last, compile=a.compile,
                             n_sample=a.n_sample, sample_steps=a.sample_steps, threads=a.threads))
    runs = {k: [] for k in RUNNERS}
    if a.memory_only: a.repeats = 0
    for r in range(a.repeats):                        # library and reference back to back; who goes first alternates (ABBA)
        order = list(RUNNERS) if r % 2 == 0 else ["plain_train", "lib_train", "bare_sample", "lib_sample"]
        for k in order: runs[k].append(RUNNERS[k](a, ds, dev, sync))
        print(r, {k: round(v[-1], 2) for k, v in runs.items()}, flush=True)
    tr = [l / p for l, p in zip(runs["lib_train"], runs["plain_train"])] if a.repeats else None
    if not a.repeats: runs = {}
    sr = [l / p for l, p in zip(runs.get("lib_sample", []), runs.get("bare_sample", []))]
    if a.repeats:
        res["images_per_s"] = {k: dict(mean=statistics.mean(v), ci95=ci95(v), all=v) for k, v in runs.items()}
        res["train_ratio_lib_over_plain"] = dict(mean=statistics.mean(tr), median=statistics.median(tr), ci95=ci95(tr), all=tr)
        res["sample_ratio_lib_over_bare"] = dict(mean=statistics.mean(sr), median=statistics.median(sr), ci95=ci95(sr), all=sr)
    mem = {}
    for k in RUNNERS:
        cmd = [sys.executable, __file__, "--only", k] + [x for x in sys.argv[1:] if x not in ("--gpu-variants", "--memory-only")]
        if "--out" in cmd: i = cmd.index("--out"); del cmd[i:i + 2]
        o = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
        line = [l for l in o.stdout.splitlines() if l.startswith("{")]
        mem[k] = {kk: json.loads(line[-1])[kk] for kk in ("peak_mib", "rss_before_mib", "rss_growth_mib")} if line else f"failed: {o.stderr[-300:]}"
    res["peak_memory_mib"] = dict(mem, how="fresh process per variant; peak_mib = peak RSS (VmHWM) during the run, after resetting it (/proc/self/clear_refs) once imports and data were loaded; rss_growth = peak minus the RSS before the run" if dev.type == "cpu"
                                  else "torch.cuda.max_memory_allocated")
    if dev.type == "cuda" and runs:
        fl = unet_flops(a, ds, dev)
        res["unet_train_flops_per_image"] = fl
        res["fraction_of_peak_flops"] = {k: statistics.mean(runs[k]) * fl / (a.peak_tflops * 1e12) for k in ("lib_train", "plain_train")}
        if a.gpu_variants:
            res["variants"] = {}
            for name, extra in [("bf16", ["--precision", "bf16"]), ("bf16+channels_last", ["--precision", "bf16", "--channels-last"]),
                                ("bf16+compile", ["--precision", "bf16", "--compile"])]:
                cmd = [sys.executable, __file__] + [x for x in sys.argv[1:] if x not in ("--gpu-variants",)] + extra
                if "--out" in cmd: i = cmd.index("--out"); del cmd[i:i + 2]
                o = subprocess.run(cmd + ["--repeats", "2"], capture_output=True, text=True)
                res["variants"][name] = o.stdout[-2000:]
    print(json.dumps(res, indent=1))
    if a.out: save_json(res, a.out)


if __name__ == "__main__": main()
