"""Format results/evaluation_real_data.csv (+ _log.json, _expert_test.csv) as markdown tables (printed to stdout).

Run:  python results/evaluation_real_data_table.py > /tmp/table.md
"""
import json
import pandas as pd

df = pd.read_csv("results/evaluation_real_data.csv")
te = pd.read_csv("results/evaluation_real_data_expert_test.csv")
log = json.load(open("results/evaluation_real_data_log.json"))
order = ["fid", "kid", "precision", "recall", "density", "coverage", "color_mean_dist", "color_std_dist", "color_fd",
         "expert_balanced_accuracy", "expert_accuracy", "expert_confidence", "max_corr", "near_copy_share", "feat_nn_dist"]
better = dict(fid="↓", kid="↓", precision="↑", recall="↑", density="↑ (≈1)", coverage="↑", color_mean_dist="↓", color_std_dist="↓",
              color_fd="↓", expert_balanced_accuracy="↑", expert_accuracy="↑", expert_confidence="↑", max_corr="↓", near_copy_share="↓", feat_nn_dist="↑")

def cell(r):
    if pd.notna(r.ci_low) and r.metric != "kid": return f"{r.value:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}]"
    if r.metric == "kid": return f"{r.value:.3g} ± {r['std']:.2g}"
    return f"{r.value:.4g}"

def table(d, rows, cols):
    out = ["| metric | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for m in rows:
        vals = []
        for c in cols:
            e = d[(d.metric == m) & (d.set == c)]
            vals.append(cell(e.iloc[0]) if len(e) else "")
        out.append(f"| {m} {better.get(m, '')} | " + " | ".join(vals) + " |")
    return "\n".join(out)

all_ = df[df["class"] == "all"]
sets = [s for s in dict.fromkeys(all_.set) if s != "real (ceiling)"]
print(table(all_, [m for m in order if m in set(all_.metric)], sets))
print("\nExpert on the real test split (the ceiling; n = %d):" % int(te.n.iloc[0]), {r.metric: f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in te[(te["class"] == "all") & (te.set == "real test")].itertuples()})
n = all_.groupby("set").n.first().to_dict(); nref = int(all_.n_ref.iloc[0])
print("\nSamples: reference (half A) n =", nref, "; generated n =", n)
print("\nPer-class expert recall (generated sets and the real test split, the ceiling):\n")
rec = pd.concat([df[df.metric == "expert_recall"], te[te.metric == "expert_recall"]])
cls = list(dict.fromkeys(rec["class"]))
sets2 = [s for s in dict.fromkeys(rec.set) if s != "real (ceiling)"]
print("| class | " + " | ".join(sets2) + " |\n|---|" + "---|" * len(sets2))
for c in cls:
    print(f"| {c} | " + " | ".join(f"{rec[(rec.set == s) & (rec['class'] == c)].value.iloc[0]:.2f} (n={rec[(rec.set == s) & (rec['class'] == c)].n.iloc[0]})"
                                  for s in sets2) + " |")
print("\nPer-class FID:\n")
pc = df[(df.metric == "fid") & (df["class"] != "all")]
print("| class | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets))
for c in dict.fromkeys(pc["class"]):
    print(f"| {c} | " + " | ".join(f"{pc[(pc.set == s) & (pc['class'] == c)].value.iloc[0]:.3g}" for s in sets) + " |")
print("\nlog:", json.dumps(log, indent=1))
