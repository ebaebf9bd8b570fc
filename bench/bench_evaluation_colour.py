"""Re-time colour_fidelity for 10,000 vs 10,000 HAM10000 64 px images (same data as bench_evaluation.py) after it became blocked.

Run:  nice -n 10 python bench/bench_evaluation_colour.py
"""
import time, threading, numpy as np
from improve_nb.data import shared_data_path
from improve_nb.evaluation import color_fidelity
d = np.load(shared_data_path("ham10000", "ham10000_64.npz"))
X = np.concatenate([d[f"{s}_images"] for s in ("train", "val", "test")])[:10000]
rng = np.random.default_rng(0); perm = rng.permutation(len(X))
G = np.clip(X[perm][:, :, ::-1].astype(np.float32) + rng.normal(0, 8, X.shape) + [10, 0, 0], 0, 255).round().astype(np.uint8)
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS"): return int(l.split()[1]) / 1024
peak = [rss()]; run = [True]
def loop():
    while run[0]: peak[0] = max(peak[0], rss()); time.sleep(0.02)
base = rss(); t = threading.Thread(target=loop, daemon=True); t.start()
t0 = time.perf_counter(); cf = color_fidelity(X, G); dt = time.perf_counter() - t0; run[0] = False; t.join()
print(dict(stage="colour fidelity (blocked, after fix)", seconds=round(dt, 2), peak_rss_mb=round(peak[0]), rss_before_mb=round(base)))
print({k: cf[k] for k in ("color_mean_dist", "color_std_dist", "color_fd")})
