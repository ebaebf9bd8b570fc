"""Markdown table of the HistoDiffusion downstream results: every `results/histodiffusion/<run>/downstream.csv`.

    python results/histodiffusion/table.py pbc pbc_ab        # run folders whose rows are pooled (a set appears once)
"""
import sys
from pathlib import Path

import pandas as pd

from improve_nb.evaluation import summarize_utility

HERE = Path(__file__).parent
NAMES = {"a_cg": "(a) classifier-guided, unfiltered", "b_cg_filtered": "(b) classifier-guided + centroid filter",
         "c_cg_proto_filtered": "(c) (b) + PrototypeGuide"}


def main(runs):
    rows = pd.concat([pd.read_csv(HERE / r / "downstream.csv") for r in runs if (HERE / r / "downstream.csv").exists()])
    rows = rows.drop_duplicates(["synthetic_set", "setting", "seed"])
    out = ["| synthetic set | setting | n real + n synthetic | accuracy (95 % CI) | Δ acc vs real only | macro-F1 (95 % CI) | Δ F1 | seeds |",
           "|---|---|---|---|---|---|---|---|"]
    real_done = False
    for key in [k for k in NAMES if k in set(rows.synthetic_set)]:
        g = rows[rows.synthetic_set == key]
        if not (g.setting == "real").any():                 # a set run with include_real=False: the folder's real-only rows
            g = pd.concat([rows[rows.setting == "real"].drop_duplicates(["seed"]), g])
        s = summarize_utility(g).set_index(["setting", "metric"])
        for setting in s.index.get_level_values(0).unique():
            if setting == "real" and real_done: continue
            acc, f1 = s.loc[(setting, "accuracy")], s.loc[(setting, "macro_f1")]
            da = acc.value - s.loc[("real", "accuracy")].value; df = f1.value - s.loc[("real", "macro_f1")].value
            name = "none (real only)" if setting == "real" else NAMES[key]
            out.append(f"| {name} | {setting} | {int(acc.n_real)} + {int(acc.n_synthetic)} | {acc.value:.3f} [{acc.ci_low:.3f}, {acc.ci_high:.3f}] | "
                       f"{da:+.3f} | {f1.value:.3f} [{f1.ci_low:.3f}, {f1.ci_high:.3f}] | {df:+.3f} | {int(acc.n_seeds)} |")
            if setting == "real": real_done = True
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:] or ["pbc", "pbc_ab"])
