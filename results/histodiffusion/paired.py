"""Paired gains over real only, per downstream seed: each synthetic setting's metric minus the real-only classifier's of
the same seed (same labelled images, same seed, same number of optimiser steps), mean and 95 % t-interval over seeds.

    python results/histodiffusion/paired.py ham10000 > results/histodiffusion/paired_ham10000.md

On an imbalanced test set (HAM10000: 67 % nevi) plain accuracy rewards predicting the majority class, so this table
gives balanced accuracy and macro-F1 beside it. `table.py` gives each setting's own value and interval.
"""
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from summarize_ablation import t_interval  # noqa: E402  (the ablation's interval over seeds)
NAMES = {"a_cg": "(a) unfiltered", "b_cg_filtered": "(b) filtered", "c_cg_proto_filtered": "(c) filtered + PrototypeGuide"}
METRICS = ["accuracy", "balanced_accuracy", "macro_f1"]


def paired_gains(d: pd.DataFrame, key: str) -> dict[str, pd.DataFrame]:
    "Per setting of synthetic set `key` in one folder's downstream rows: metric − real only of the same seed, one row per seed."
    real = d[d.setting == "real"].drop_duplicates("seed").set_index("seed")
    g = d[(d.synthetic_set == key) & (d.setting != "real")]
    if not len(g): raise SystemExit(f"no rows of {key} in the downstream rows")
    return {st: h.set_index("seed").sort_index()[METRICS] - real.loc[sorted(h.seed), METRICS]
            for st, h in sorted(g.groupby("setting"), key=lambda x: float(x[0].split("@")[1].rstrip("%")))}


def paired(d: pd.DataFrame) -> list[str]:
    lines = ["| set | setting | " + " | ".join(f"Δ {m} [95 % CI] (per seed)" for m in METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for key in [k for k in NAMES if k in set(d.synthetic_set)]:
        for setting, gain in paired_gains(d, key).items():
            cells = []
            for m in METRICS:
                mean, lo, hi = t_interval(gain[m])
                cells.append(f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}] ({', '.join(f'{x:+.3f}' for x in gain[m])})")
            lines.append(f"| {NAMES[key]} | {setting} | " + " | ".join(cells) + " |")
    return lines


def main(run: str):
    d = pd.read_csv(HERE / run / "downstream.csv")
    real = d[d.setting == "real"].drop_duplicates("seed").sort_values("seed")
    print(f"Real only, per seed {', '.join(map(str, real.seed))}: " + "; ".join(
        f"{m} {', '.join(f'{x:.3f}' for x in real[m])}" for m in METRICS) + "\n")
    print("\n".join(paired(d)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ham10000")
