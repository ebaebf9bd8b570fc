"""Aggregate an IMPROVE ablation over seeds: every `<run_dir>/seed*/` written by `nbs/05_generate.ipynb`.

    python results/summarize_ablation.py outputs/improve_pbc results/improve_pbc

Writes `<dest>/ablation.csv` (variant × metric: mean, 95 % t-interval over seeds, per-seed values), `<dest>/per_class.csv`
(expert recall per class and variant, mean over seeds), `<dest>/paired.csv` (variant − baseline of the same seed, per
metric: mean, 95 % t-interval over seeds, per-seed differences), `<dest>/summary.json` (the goal check: share of the
baseline-to-ceiling plausibility gap that each variant closes, and its FID relative to the baseline, per seed and mean)
and copies each seed's `metrics.json`, its `evaluation.csv` (as `evaluation_<seed>.csv`) and `variants.png` (as
`variants_<seed>.png`) next to them. The numbers are read from the notebooks' own `evaluation.csv`; nothing is typed in by hand.

A seed that `<run_dir>` no longer holds (outputs/ does not survive between sessions on every machine) but whose table
was archived in `<dest>` by an earlier call (`<dest>/evaluation_<seed>.csv`) is read from the archive, so seeds can be
trained in different sessions and summarised together.
"""
import json, shutil, sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

VARIANTS = ["baseline", "proto_cond", "proto_guide", "improve"]
METRICS = ["expert_balanced_accuracy", "expert_accuracy", "expert_confidence", "oracle_pass_rate", "fid", "kid", "precision", "recall", "density", "coverage",
           "color_fd", "near_copy_share", "prototype_distance"]


PRIMARY = "expert_balanced_accuracy"


def with_balanced(df):
    "Add `expert_balanced_accuracy` (mean over classes of `expert_recall`) for sets whose table lacks it (older runs)."
    have = set(df[df.metric == PRIMARY].set)
    rec = df[(df.metric == "expert_recall") & (df["class"] != "all") & ~df.set.isin(have)]
    extra = rec.groupby("set", sort=False).value.mean().reset_index().assign(metric=PRIMARY, **{"class": "all"})
    return pd.concat([df, extra], ignore_index=True)


def t_interval(v, conf=0.95):
    v = np.asarray(v, float); v = v[~np.isnan(v)]
    if len(v) == 0: return (np.nan, np.nan, np.nan)
    m = v.mean()
    if len(v) == 1: return (m, np.nan, np.nan)
    h = stats.t.ppf(0.5 + conf / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return (m, m - h, m + h)


def markdown(table, pc, goal, seeds):
    "ablation.md: mean [95 % t-interval] over seeds of the main metrics, per-class recall, and the goal check."
    sets = [s for s in ["real (ceiling)", "real (val)", *VARIANTS] if s in set(table.set)]
    ms = [m for m in ["expert_balanced_accuracy", "expert_accuracy", "fid", "precision", "recall", "coverage", "color_fd",
                      "near_copy_share", "prototype_distance"] if m in set(table.metric)]
    def cell(s, m):
        r = table[(table.set == s) & (table.metric == m)]
        if r.empty: return ""
        r = r.iloc[0]
        return f"{r['mean']:.3g}" + (f" [{r.ci_low:.3g}, {r.ci_high:.3g}]" if np.isfinite(r.ci_low) else "")
    out = [f"Seeds: {', '.join(seeds)}. Mean [95 % t-interval over seeds].", "", "| set | " + " | ".join(ms) + " |", "|---|" + "---|" * len(ms)]
    out += [f"| {s} | " + " | ".join(cell(s, m) for m in ms) + " |" for s in sets]
    out += ["", "Expert recall per class (mean over seeds):", "", "| class | " + " | ".join(pc.columns) + " |", "|---|" + "---|" * len(pc.columns)]
    out += [f"| {c} | " + " | ".join(f"{v:.2f}" for v in pc.loc[c]) + " |" for c in pc.index]
    out += ["", "Goal check (share of the baseline-to-ceiling gap closed, balanced accuracy; FID relative to the baseline):", "",
            "| variant | gap closed [95 % CI] | per seed | gap closed, plain accuracy | FID ratio [95 % CI] |", "|---|---|---|---|---|"]
    f = lambda t: f"{t[0]:.2f}" + (f" [{t[1]:.2f}, {t[2]:.2f}]" if np.isfinite(t[1]) else "")
    for v, g in goal.items():
        if v == "baseline": continue
        out.append(f"| {v} | {f(g['gap_closed_mean_ci'])} | {', '.join(f'{x:.2f}' for x in g['gap_closed_per_seed'])} | "
                   f"{f(g['gap_closed_accuracy_mean_ci'])} | {f(g['fid_ratio_mean_ci'])} |")
    return "\n".join(out) + "\n"


def main(run_dir, dest):
    run_dir, dest = Path(run_dir), Path(dest); dest.mkdir(parents=True, exist_ok=True)
    seeds = sorted(p for p in run_dir.glob("seed*") if (p / "evaluation.csv").exists())
    tables = {p.name: p / "evaluation.csv" for p in seeds}
    for a in sorted(dest.glob("evaluation_seed*.csv")):   # seeds summarised before whose run folders are gone
        tables.setdefault(a.stem.removeprefix("evaluation_"), a)
    if not tables: raise SystemExit(f"no finished seed*/evaluation.csv under {run_dir} and no evaluation_seed*.csv in {dest}")
    tables = dict(sorted(tables.items()))
    archived = [k for k, v in tables.items() if v.parent == dest]
    for name, src in tables.items(): print(f"{name}: {src}" + (" (archived)" if name in archived else ""))
    evs = {name: with_balanced(pd.read_csv(src)) for name, src in tables.items()}
    rows, per_seed_goal = [], {}
    for seed, df in evs.items():
        allc = df[df["class"] == "all"]
        get = lambda s, m: allc[(allc.set == s) & (allc.metric == m)]["value"].mean()
        for s in ["real (ceiling)", "real (val)", *VARIANTS]:
            for m in METRICS:
                v = get(s, m)
                if not np.isnan(v): rows.append(dict(seed=seed, set=s, metric=m, value=v))
        gap = lambda v, m: (get(v, m) - get("baseline", m)) / (get("real (ceiling)", m) - get("baseline", m)) \
            if get("real (ceiling)", m) > get("baseline", m) else np.nan
        per_seed_goal[seed] = {v: dict(expert_balanced_accuracy=get(v, PRIMARY), expert_accuracy=get(v, "expert_accuracy"),
                                       gap_closed=gap(v, PRIMARY), gap_closed_accuracy=gap(v, "expert_accuracy"),
                                       fid_ratio=get(v, "fid") / get("baseline", "fid")) for v in VARIANTS}
        per_seed_goal[seed]["ceiling"] = get("real (ceiling)", PRIMARY)
        per_seed_goal[seed]["ceiling_accuracy"] = get("real (ceiling)", "expert_accuracy")
    long = pd.DataFrame(rows)
    out = []
    for (s, m), g in long.groupby(["set", "metric"], sort=False):
        mean, lo, hi = t_interval(g.value)
        out.append(dict(set=s, metric=m, mean=mean, ci_low=lo, ci_high=hi, n_seeds=len(g),
                        per_seed=";".join(f"{x:.4g}" for x in g.value)))
    table = pd.DataFrame(out)
    table.to_csv(dest / "ablation.csv", index=False)
    wide = long.pivot_table(index=["set", "metric"], columns="seed", values="value")
    paired = []
    for v in VARIANTS[1:]:
        for m in METRICS:
            if (v, m) not in wide.index or ("baseline", m) not in wide.index: continue
            diff = (wide.loc[(v, m)] - wide.loc[("baseline", m)]).dropna()
            mean, lo, hi = t_interval(diff)
            paired.append(dict(set=v, metric=m, mean_diff=mean, ci_low=lo, ci_high=hi, n_seeds=len(diff),
                               per_seed=";".join(f"{x:.4g}" for x in diff)))
    pd.DataFrame(paired).to_csv(dest / "paired.csv", index=False)
    pc = pd.concat([df.assign(seed=k) for k, df in evs.items()])
    pc = pc[(pc.metric == "expert_recall") & (pc["class"] != "all")].groupby(["class", "set"]).value.mean().unstack()
    pc = pc.reindex(columns=[c for c in ["real (ceiling)", "real (val)", *VARIANTS] if c in pc.columns])
    pc.to_csv(dest / "per_class.csv")
    goal = {}
    for v in VARIANTS:
        gc = [per_seed_goal[s][v]["gap_closed"] for s in per_seed_goal]
        ga = [per_seed_goal[s][v]["gap_closed_accuracy"] for s in per_seed_goal]
        fr = [per_seed_goal[s][v]["fid_ratio"] for s in per_seed_goal]
        goal[v] = dict(gap_closed_mean_ci=list(t_interval(gc)), gap_closed_per_seed=gc,
                       gap_closed_accuracy_mean_ci=list(t_interval(ga)), gap_closed_accuracy_per_seed=ga,
                       fid_ratio_mean_ci=list(t_interval(fr)), fid_ratio_per_seed=fr)
    summary = dict(run_dir=str(run_dir), seeds=list(evs), archived_seeds=archived, goal=goal,
                   ceiling_per_seed=[per_seed_goal[s]["ceiling"] for s in per_seed_goal],
                   ceiling_accuracy_per_seed=[per_seed_goal[s]["ceiling_accuracy"] for s in per_seed_goal],
                   definition="gap_closed = (bacc_variant - bacc_baseline) / (bacc_ceiling - bacc_baseline), bacc = the expert's "
                              "balanced accuracy (mean per-class recall) on generated images labelled with their conditioning "
                              "class; ceiling = the same expert on the real test images. Balanced accuracy is primary because the "
                              "generated sets are class-balanced and the real test split is not; gap_closed_accuracy uses plain "
                              "accuracy instead. fid_ratio = FID_variant / FID_baseline on the domain-classifier features. "
                              "Goal of issue 4: improve closes >= 0.5 of the gap at fid_ratio <= 1.10.")
    (dest / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    for p in seeds:
        shutil.copy(p / "metrics.json", dest / f"metrics_{p.name}.json")
        shutil.copy(p / "evaluation.csv", dest / f"evaluation_{p.name}.csv")
        if (p / "variants.png").exists(): shutil.copy(p / "variants.png", dest / f"variants_{p.name}.png")
    wide = table.pivot_table(index="set", columns="metric", values="mean").reindex(
        [s for s in ["real (ceiling)", "real (val)", *VARIANTS] if s in set(table.set)])
    print(wide.reindex(columns=[m for m in METRICS if m in wide.columns]).round(3).to_string())
    (dest / "ablation.md").write_text(markdown(table, pc, goal, list(evs)))
    print(json.dumps(goal, indent=1, default=float))


if __name__ == "__main__":
    main(*sys.argv[1:3])
