"""(c) against (b) across generative builds: does PrototypeGuide in the latent sampler help once the autoencoder, the
latent denoiser, the noisy classifier, the PrototypeNet and the sampling noise vary (`run.py --build-seed`)?

    python results/histodiffusion/builds.py > results/histodiffusion/builds_table.md

A build is a set of result folders that share one trained set of stages. For each build, set and ratio the script takes
the mean over the downstream seeds of the set's metric minus the real-only classifier's of the same seed, from the
set's own folder (real-only rows depend on the thread count), then the paired difference of each (c) set and the same
build's (b). Builds with the same build seed are close replicates (CPU float non-determinism only), so the interval is
over build *seeds*: a seed's value is the mean of its builds, and the 95 % t-interval has (number of build seeds − 1)
degrees of freedom. Also per build: the basophils (class 0, the class the filter keeps least of) the filter kept.
"""
import json, sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parent))
from paired import paired_gains  # noqa: E402  (metric − real only, paired by downstream seed)
from summarize_ablation import t_interval  # noqa: E402
# build name, build seed, {set: folder holding its rows and its real-only rows}; (c) sets at PrototypeGuide scale 0.3 / 0.2
BUILDS = [("seed 0, first build (sessions 2-4)", 0, {"b": "pbc_ab", "c 0.3": "pbc_ab"}),
          ("seed 0, second build (session 11)", 0, {"b": "pbc_b_rebuild", "c 0.3": "pbc_c_0.3_rebuild"}),
          ("seed 1 (session 13)", 1, {"b": "pbc_build1", "c 0.3": "pbc_build1", "c 0.2": "pbc_build1_c0.2"}),
          ("seed 2 (session 13)", 2, {"b": "pbc_build2", "c 0.3": "pbc_build2", "c 0.2": "pbc_build2_c0.2"})]
KEYS = {"b": "b_cg_filtered", "c 0.3": "c_cg_proto_filtered", "c 0.2": "c_cg_proto_filtered"}
METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
RATIOS = ["real+synthetic@50%", "real+synthetic@100%", "real+synthetic@300%"]


def gains(folder: str, key: str) -> dict:
    "{(setting, metric): mean over downstream seeds of set − real only}, and the basophils the filter kept, of how many."
    gain = paired_gains(pd.read_csv(HERE / folder / "downstream.csv"), key)
    out = {(st, m): float(v[m].mean()) for st, v in gain.items() for m in METRICS}
    flt = json.loads((HERE / folder / "report.json").read_text())["filters"][key]["per_class"][0]
    return out, (flt["kept"], flt["n"])


def main():
    have = [(n, s, {k: f for k, f in sets.items() if (HERE / f / "downstream.csv").exists()}) for n, s, sets in BUILDS]
    have = [(n, s, sets) for n, s, sets in have if "b" in sets and len(sets) > 1]
    left = [n for n, _, _ in BUILDS if n not in {h[0] for h in have}]
    if left: print(f"note: builds without (b) and a (c) set, left out: {left}", file=sys.stderr)
    res = {n: {k: gains(f, KEYS[k]) for k, f in sets.items()} for n, s, sets in have}
    variants = [k for k in KEYS if k != "b" and any(k in r for r in res.values())]
    pct = lambda st: st.split("@")[1]
    print("**Per build:** Δ accuracy against the build's real only at 50 / 100 / ~300 %, mean over downstream seeds 0-2; "
          "basophils kept of the pool's 450.\n")
    print("| build | build seed | folders | (b) | " + " | ".join(f"(c) scale {k.split()[1]}" for k in variants) + " | basophils kept: (b), " +
          ", ".join(f"(c) {k.split()[1]}" for k in variants) + " |")
    print("|---|---|---|---|" + "---|" * len(variants) + "---|")
    for n, s, sets in have:
        r = res[n]
        cell = lambda k: " / ".join(f"{r[k][0][(st, 'accuracy')]:+.3f}" for st in RATIOS) if k in r else "not run"
        kept = ", ".join(str(r[k][1][0]) if k in r else "–" for k in ["b"] + variants)
        print(f"| {n} | {s} | `{'`, `'.join(sorted(set(sets.values())))}` | {cell('b')} | " + " | ".join(cell(k) for k in variants) + f" | {kept} |")
    print("\n**(c) − (b), paired within each build** (a build seed's value is the mean of its builds; mean [95 % t-interval over build seeds]):\n")
    print("| (c) set | metric | build seeds | " + " | ".join(pct(st) for st in RATIOS) + " | per build seed, at 100 % |")
    print("|---|---|---|" + "---|" * len(RATIOS) + "---|")
    for k in variants:
        seeds = sorted({s for n, s, _ in have if k in res[n]})
        for m, mname in METRICS.items():
            cells, per = [], None
            for st in RATIOS:
                diff = [np.mean([res[n][k][0][(st, m)] - res[n]["b"][0][(st, m)] for n, s2, _ in have if s2 == sd and k in res[n]]) for sd in seeds]
                mu, lo, hi = t_interval(diff)
                cells.append(f"{mu:+.3f} [{lo:+.3f}, {hi:+.3f}]" if len(diff) > 1 else f"{mu:+.3f}")
                if st.endswith("@100%"): per = ", ".join(f"{x:+.3f}" for x in diff)
            print(f"| scale {k.split()[1]} | {mname} | {', '.join(map(str, seeds))} | " + " | ".join(cells) + f" | {per} |")


if __name__ == "__main__":
    main()
