"""Markdown table of the HistoDiffusion downstream results: every `results/histodiffusion/<run>/downstream.csv`.

    python results/histodiffusion/table.py pbc pbc_ab        # run folders whose rows are pooled (a set appears once)
    python results/histodiffusion/table.py pbc pbc_ab pbc_c_0.1 pbc_c_cj0.1   # + the (c) runs at other guide settings

A (c) set is named by the PrototypeGuide settings of the folder's run (`report.json` args: `proto_scale`, `proto_cj`), so
(c) runs at different settings get rows of their own. Every folder trains its own real-only baseline unless it reuses one;
each set's deltas are taken against the real-only rows of its own folder, and a new "real only" line (naming the folders)
is printed whenever those rows differ from the last one printed. Real-only rows are not bit-reproducible across sessions and thread counts
(CPU float reductions), so when two folders' real-only rows differ the script also says so on stderr.
"""
import json, sys
from pathlib import Path

import pandas as pd

from improve_nb.evaluation import summarize_utility

HERE = Path(__file__).parent
NAMES = {"a_cg": "(a) classifier-guided, unfiltered", "b_cg_filtered": "(b) classifier-guided + centroid filter"}


def load(run: str, names: dict) -> pd.DataFrame:
    "A run folder's rows; its (c) set is renamed by the folder's PrototypeGuide settings (`report.json` args), named in `names`."
    d = pd.read_csv(HERE / run / "downstream.csv")
    args = json.loads((HERE / run / "report.json").read_text())["args"]
    key = f"c_cg_proto_filtered@{args['proto_scale']:g}" + ("cj" if args.get("proto_cj") else "")
    if (d.synthetic_set == "c_cg_proto_filtered").any(): names[key] = f"(c) (b) + PrototypeGuide, scale {args['proto_scale']:g}" + (", colour-jittered PrototypeNet" if args.get("proto_cj") else "")
    return d.assign(synthetic_set=d.synthetic_set.replace("c_cg_proto_filtered", key), run=run)


def main(runs):
    names = dict(NAMES)
    rows = pd.concat([load(r, names) for r in runs if (HERE / r / "downstream.csv").exists()])
    real = rows[rows.setting == "real"]
    cols = ["accuracy", "balanced_accuracy", "macro_f1"]
    for seed, g in real.groupby("seed"):
        groups = [sorted(set(v.run)) for _, v in g.groupby(cols)]
        if len(groups) > 1:
            print(f"note: the real-only rows of seed {seed} differ between folder groups {groups}", file=sys.stderr)
    rows = rows.drop_duplicates(["synthetic_set", "setting", "seed"])
    out = ["| synthetic set | setting | n real + n synthetic | accuracy (95 % CI) | Δ acc vs real only | macro-F1 (95 % CI) | Δ F1 | seeds |",
           "|---|---|---|---|---|---|---|---|"]
    shown = None                                            # the real-only rows of the baseline line printed last
    keys = [k for k in names if k in set(rows.synthetic_set)]
    for key in keys:
        g = rows[rows.synthetic_set == key]
        if not (g.setting == "real").any():                 # a set run with include_real=False: its own folder's real-only rows
            g = pd.concat([rows[(rows.setting == "real") & rows.run.isin(set(g.run))].drop_duplicates(["seed"]), g])
        baseline = tuple(g[g.setting == "real"].sort_values("seed")[cols].round(6).itertuples(index=False))
        s = summarize_utility(g).set_index(["setting", "metric"])
        for setting in s.index.get_level_values(0).unique():
            if setting == "real" and baseline == shown: continue   # the same real-only rows as the line printed last
            acc, f1 = s.loc[(setting, "accuracy")], s.loc[(setting, "macro_f1")]
            da = acc.value - s.loc[("real", "accuracy")].value; df = f1.value - s.loc[("real", "macro_f1")].value
            name = (("none (real only)" if shown is None else f"none (real only, {', '.join(sorted(set(g[g.setting == 'real'].run)))})") if setting == "real"
                    else names[key])
            out.append(f"| {name} | {setting} | {int(acc.n_real)} + {int(acc.n_synthetic)} | {acc.value:.3f} [{acc.ci_low:.3f}, {acc.ci_high:.3f}] | "
                       f"{da:+.3f} | {f1.value:.3f} [{f1.ci_low:.3f}, {f1.ci_high:.3f}] | {df:+.3f} | {int(acc.n_seeds)} |")
            if setting == "real": shown = baseline
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:] or ["pbc", "pbc_ab"])
