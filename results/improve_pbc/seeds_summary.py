"""The issue-4 goal check over training seeds: combine `sweep.py` tables of denoisers trained at different seeds.

    python results/improve_pbc/seeds_summary.py --sweep 0 results/improve_pbc/sweep_long --sweep 1 results/improve_pbc/sweep_long_seed1 \
        --sweep 2 results/improve_pbc/sweep_long_seed2

Each --sweep TRAINING_SEED DIR names a folder holding `sweep_per_seed.csv` from `sweep.py` (one row per set and sampling
seed), all judged by the same cached expert and extractor (`--judge outputs/improve_pbc/sweep`), so the real-test
ceiling is the same number in each. Within a training seed every set is compared with that training seed's own
`baseline` (the plain 3,600-step continuation) on the same sampling seed: the share of the gap to the ceiling closed,
(acc - acc_baseline) / (ceiling - acc_baseline), and the FID ratio fid / fid_baseline.

Writes <dst>/seeds_goal.csv with, per set:
- per training seed: the mean over its sampling seeds and the 95 % t-interval over those sampling seeds;
- over training seeds: the mean of the per-training-seed means, and the 95 % t-interval over training seeds (with n
  training seeds it has n - 1 degrees of freedom, t = 12.7 for two and 4.3 for three, so it is wide: it is reported,
  not hidden);
- pooled: the mean and t-interval over every (training seed, sampling seed) pair, which treats the pairs as independent
  and so understates the training-seed variance; reported for comparison only.

`--compare A B` (repeatable) also writes <dst>/seeds_compare.csv: the paired difference B − A in gap closed and in FID
ratio, pair by pair (same training seed, same sampling seed, so the same starting noise), with the same three
summaries: per training seed, over training seeds, pooled.
"""
import argparse, sys
from pathlib import Path

import pandas as pd

from improve_nb.core import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from summarize_ablation import t_interval  # noqa: E402

REF, CEIL = "baseline", "real (ceiling)"


def per_pair(train_seed: int, folder: Path) -> pd.DataFrame:
    "Gap closed and FID ratio of every set against this training seed's baseline, per sampling seed."
    f = folder / "sweep_per_seed.csv"
    if not f.exists(): raise SystemExit(f"{f} is missing: expected sweep.py's per-seed table for training seed {train_seed}")
    df = pd.read_csv(f)
    for col in ("set", "seed", "expert_balanced_accuracy", "fid"):
        if col not in df: raise SystemExit(f"{f}: no column {col!r} (expected sweep.py's sweep_per_seed.csv)")
    if CEIL not in set(df.set) or REF not in set(df.set): raise SystemExit(f"{f}: needs the rows {CEIL!r} and {REF!r}")
    ceiling = float(df.loc[df.set == CEIL, "expert_balanced_accuracy"].iloc[0])
    ref = df[df.set == REF].set_index("seed")
    rows = []
    for _, r in df[~df.set.isin([CEIL, REF])].iterrows():
        if r.seed not in ref.index: continue
        b = ref.loc[r.seed]
        rows.append(dict(set=r.set, train_seed=train_seed, sample_seed=int(r.seed), ceiling=ceiling,
                         balanced_accuracy=r.expert_balanced_accuracy, baseline_balanced_accuracy=b.expert_balanced_accuracy,
                         gap_closed=(r.expert_balanced_accuracy - b.expert_balanced_accuracy) / (ceiling - b.expert_balanced_accuracy),
                         fid_ratio=r.fid / b.fid))
    return pd.DataFrame(rows)


def summarize(pairs: pd.DataFrame) -> pd.DataFrame:
    ceilings = pairs.groupby("train_seed").ceiling.first()
    if ceilings.nunique() > 1: raise SystemExit(f"the sweeps were judged differently: real-test ceilings {ceilings.to_dict()}")
    n_train = pairs.train_seed.nunique()
    out = []
    for st, g in pairs.groupby("set", sort=False):
        if g.train_seed.nunique() < n_train: continue             # only sets every training seed has
        row = dict(set=st)
        for m in ("gap_closed", "fid_ratio", "balanced_accuracy"):
            by_train = g.groupby("train_seed")[m]
            for ts, v in by_train:
                mean, lo, hi = t_interval(v)
                row.update({f"{m}_train{ts}": mean, f"{m}_train{ts}_ci_low": lo, f"{m}_train{ts}_ci_high": hi,
                            f"{m}_train{ts}_n_sample_seeds": len(v)})
            mean, lo, hi = t_interval(by_train.mean())          # over the per-training-seed means
            row.update({f"{m}_over_train_seeds": mean, f"{m}_over_train_seeds_ci_low": lo, f"{m}_over_train_seeds_ci_high": hi})
            mean, lo, hi = t_interval(g[m])
            row.update({f"{m}_pooled": mean, f"{m}_pooled_ci_low": lo, f"{m}_pooled_ci_high": hi})
        row.update(n_train_seeds=n_train, n_pairs=len(g))
        out.append(row)
    return pd.DataFrame(out)


def compare(pairs: pd.DataFrame, a: str, b: str) -> dict:
    "Paired difference b − a (gap closed, FID ratio) over the (training seed, sampling seed) pairs both sets have."
    k = ["train_seed", "sample_seed"]
    m = pairs[pairs.set == a].merge(pairs[pairs.set == b], on=k, suffixes=("_a", "_b"))
    if m.empty: raise SystemExit(f"--compare {a} {b}: no (training seed, sampling seed) pair has both sets")
    row = dict(a=a, b=b, n_train_seeds=m.train_seed.nunique(), n_pairs=len(m))
    for q in ("gap_closed", "fid_ratio"):
        d = m[f"{q}_b"] - m[f"{q}_a"]
        by_train = d.groupby(m.train_seed)
        for ts, v in by_train:
            mean, lo, hi = t_interval(v)
            row.update({f"d_{q}_train{ts}": mean, f"d_{q}_train{ts}_ci_low": lo, f"d_{q}_train{ts}_ci_high": hi})
        for tag, v in (("over_train_seeds", by_train.mean()), ("pooled", d)):
            mean, lo, hi = t_interval(v)
            row.update({f"d_{q}_{tag}": mean, f"d_{q}_{tag}_ci_low": lo, f"d_{q}_{tag}_ci_high": hi})
        row[f"d_{q}_pairs_b_better"] = int(((d > 0) if q == "gap_closed" else (d < 0)).sum())
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", nargs=2, action="append", metavar=("TRAINING_SEED", "DIR"), required=True)
    ap.add_argument("--dst", default="results/improve_pbc")
    ap.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"), help="paired difference B - A")
    a = ap.parse_args()
    pairs = pd.concat([per_pair(int(s), Path(d)) for s, d in a.sweep], ignore_index=True)
    summ = summarize(pairs)
    dst = Path(a.dst)
    with atomic_write(dst / "seeds_goal.csv", "w") as fh: summ.to_csv(fh, index=False)
    with atomic_write(dst / "seeds_pairs.csv", "w") as fh: pairs.to_csv(fh, index=False)
    cols = ["set"] + [c for c in summ.columns if c.startswith(("gap_closed", "fid_ratio")) and "n_sample" not in c]
    print(summ[cols].round(3).T.to_string())
    if a.compare:
        comp = pd.DataFrame([compare(pairs, x, y) for x, y in a.compare])
        with atomic_write(dst / "seeds_compare.csv", "w") as fh: comp.to_csv(fh, index=False)
        print(comp.round(3).T.to_string())


if __name__ == "__main__":
    main()
