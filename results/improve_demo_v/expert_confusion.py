"""Where the demo expert and the demo oracle disagree: each seed's expert, retrained exactly as the main job trains it
(`train_expert(train_ds, arch="resnet18", seed=seed + 1234, epochs=4)` on the same demo training set; runs before
session 16 did not record expert_epochs, and 4 is the default they ran with), judges the
samples the ablation wrote as PNGs. The script checks that the retrained expert reproduces the balanced accuracy that
the run recorded, then writes the expert's confusion matrix per variant crossed with the oracle's verdict.

    python results/improve_demo_v/expert_confusion.py outputs/improve_demo_v1500 results/improve_demo_v/expert_confusion.csv

Output rows: seed, variant, intended class, oracle verdict (pass/fail), predicted class, count. A summary goes to stdout
and next to the csv (`*_summary.csv`: per variant and class, the expert's recall among samples the oracle accepts and
among those it rejects).
"""
import json, sys, time
from pathlib import Path

import pandas as pd
import torch

from improve_nb.data import demo_oracle, load_dataset
from improve_nb.evaluation import balanced_mean_ci, expert_scores, train_expert


def main(src, dst):
    torch.set_num_threads(1)
    src, rows, checks = Path(src), [], []
    for run in sorted(src.glob("seed*/metrics.json")):
        m = json.loads(run.read_text()); p = m["params"]; seed = p["seed"]
        train_ds = load_dataset("demo", image_size=p["image_size"], split="train", n_per_class=300)
        t = time.time()
        expert = train_expert(train_ds, arch=p["expert_arch"], seed=seed + 1234, epochs=p.get("expert_epochs", 4), device="cpu")
        classes = m["classes"]
        for variant in m["variants"]:
            ds = load_dataset("folder", root=run.parent / "samples" / variant, image_size=None, split="all", classes=classes)
            x, y = ds.images, ds.labels
            s = expert_scores(expert, x, y, len(classes), device="cpu")
            pred = s["proba"].argmax(1)
            ok = demo_oracle(x, y)
            bal = balanced_mean_ci(s["correct"], y)[0]   # as evaluate() computes it
            checks.append(dict(seed=seed, variant=variant, balanced_accuracy_recomputed=round(bal, 4),
                               balanced_accuracy_recorded=round(m["variants"][variant]["expert_balanced_accuracy"], 4),
                               oracle_recomputed=round(float(ok.mean()), 4), oracle_recorded=round(m["variants"][variant]["oracle_pass_rate"], 4)))
            for c in range(len(classes)):
                for verdict in (True, False):
                    sel = (y == c) & (ok == verdict)
                    for k in range(len(classes)):
                        rows.append(dict(seed=seed, variant=variant, intended=classes[c], oracle="pass" if verdict else "fail",
                                         predicted=classes[k], count=int(((pred == k) & sel).sum())))
        print(f"seed {seed}: expert {time.time() - t:.0f} s", flush=True)
    df = pd.DataFrame(rows); df.to_csv(dst, index=False)
    chk = pd.DataFrame(checks); print(chk.to_string(index=False))
    chk.to_csv(Path(dst).with_name(Path(dst).stem + "_check.csv"), index=False)
    g = df.groupby(["variant", "intended", "oracle"])
    tot = g["count"].sum()
    hit = df[df.intended == df.predicted].groupby(["variant", "intended", "oracle"])["count"].sum()
    summ = pd.DataFrame({"n": tot, "expert_recall": (hit / tot).round(3)}).reset_index()
    top = (df[df.intended != df.predicted].sort_values("count", ascending=False).groupby(["variant", "intended", "oracle"]).head(1)
           .rename(columns={"predicted": "top_confusion", "count": "top_confusion_n"})[["variant", "intended", "oracle", "top_confusion", "top_confusion_n"]])
    summ = summ.merge(top, on=["variant", "intended", "oracle"], how="left")
    summ.to_csv(Path(dst).with_name(Path(dst).stem + "_summary.csv"), index=False)
    print(summ.to_string(index=False))


if __name__ == "__main__":
    main(*sys.argv[1:3])
