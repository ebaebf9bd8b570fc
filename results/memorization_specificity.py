# Specificity of the near-copy check on real HAM10000 (64 px): independent halves vs exact / noisy duplicates.
import numpy as np, time
from improve_nb.data import shared_data_path
from improve_nb.evaluation import max_pearson
d = np.load(str(shared_data_path("ham10000", "ham10000_64.npz")))
x = d["train_images"]; rng = np.random.default_rng(0); p = rng.permutation(len(x))
A, B = x[p[:1500]], x[p[1500:3000]]
dup = A[:375].copy(); noisy = np.clip(A[:375].astype(np.float32) + rng.normal(0, 4, dup.shape), 0, 255).astype(np.uint8)
for pc in (False, True):
    t = time.time()
    cb, _ = max_pearson(B, A, per_channel=pc); cd, id_ = max_pearson(dup, A, per_channel=pc); cn, idn = max_pearson(noisy, A, per_channel=pc)
    print(f"per_channel={pc}: independent half >= 0.95: {np.mean(cb >= 0.95):.3f} (max {cb.max():.3f}, 99th pct {np.quantile(cb, .99):.3f}); "
          f"exact dups >= 0.95: {np.mean(cd >= 0.95):.3f}, right index {np.mean(id_ == np.arange(375)):.3f}; "
          f"noisy dups >= 0.95: {np.mean(cn >= 0.95):.3f} (min {cn.min():.3f}), right index {np.mean(idn == np.arange(375)):.3f}; {time.time()-t:.1f}s")
