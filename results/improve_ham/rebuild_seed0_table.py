"""Rebuild `evaluation_seed0.csv` from session 20's single-seed summary (run once, in session 21).

Seed 0's run folder (`outputs/improve_ham_cpu/seed0/`, with its `evaluation.csv`) did not survive between sessions 20 and 21,
but `summarize_ablation.py` had already written, from that very table, `ablation.csv` (every metric on class "all"; with
one seed the `mean` column is the seed's value at full precision) and `per_class.csv` (the expert's recall per class).
Those are exactly the rows `summarize_ablation.py` reads, so this writes them back in the notebook's long format
(set, metric, class, value). The other columns of a notebook's table (std, intervals, n) are left empty, and nothing
reads them. Checked in session 21: summarising the rebuilt table alone (`mkdir -p /tmp/e /tmp/c; cp evaluation_seed0.csv /tmp/c;
python results/summarize_ablation.py /tmp/e /tmp/c`) gives back the committed ablation.csv, per_class.csv, paired.csv and
ablation.md byte for byte, and the same goal check in summary.json.

    python results/improve_ham/rebuild_seed0_table.py
"""
from pathlib import Path

import numpy as np
import pandas as pd

here = Path(__file__).parent
ab = pd.read_csv(here / "ablation.csv")
assert (ab.n_seeds == 1).all(), "ablation.csv must be the single-seed summary of seed 0"
rows = [dict(set=r.set, metric=r.metric, **{"class": "all"}, value=r["mean"]) for _, r in ab.iterrows()]
pc = pd.read_csv(here / "per_class.csv", index_col=0)
rows += [dict(set=s, metric="expert_recall", **{"class": c}, value=pc.loc[c, s]) for s in pc.columns for c in pc.index
         if np.isfinite(pc.loc[c, s])]
out = pd.DataFrame(rows).reindex(columns=["set", "metric", "class", "value", "std", "ci_low", "ci_high", "n", "n_ref"])
out.to_csv(here / "evaluation_seed0.csv", index=False)
print(f"wrote {here / 'evaluation_seed0.csv'}: {len(out)} rows")
