"""Where do the wrong samples go? Confusion matrices of the sweep's saved sets, under the expert and under the guide's net.

    python results/improve_pbc/confusion.py --sweep 0 outputs/improve_pbc/sweep_long --sweep 1 outputs/improve_pbc/sweep_long_seed1 \
        --sweep 2 outputs/improve_pbc/sweep_long_seed2 --out results/improve_pbc/confusion

`sweep.csv` keeps per-class recall only, so it cannot say *which* class a wrong sample looks like. This re-reads the
sampled sets that `sweep.py` cached (`<sweep>/samples/<set>[_seed<s>].npz`, all sampling seeds found) and classifies
every image twice with the networks `sweep.py` used, loaded from --judge:
- `expert`: the colour-jittered resnet18 plausibility judge (never used for guidance);
- `guide_net`: the colour-jittered PrototypeNet that guides (and aligns) these sets, nearest class prototype on the clean
  image (σ = 0).
The real test split is classified by both too (the ceiling rows, set `real_test`).

Writes <out>/confusion.csv (tidy: training_seed, set, judge, target, predicted, count, summed over sampling seeds),
<out>/confusion.md (per training seed, set and judge: the --focus row of the confusion matrix as shares, i.e. the
judge's recall of --focus and where its misses go), and <out>/report.json (command, networks, files read, machine).
"""
import argparse, platform, sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix

from improve_nb.core import atomic_write, images_to_tensor, save_json
from improve_nb.data import load_dataset
from improve_nb.evaluation import expert_scores
from improve_nb.prototypes import PrototypeNet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import cached_classifier  # noqa: E402  (the same cached judge sweep.py loads)


def sets_in(folder: Path, settings) -> dict:
    "{(set, sampling seed): npz path} for the requested settings cached under folder/samples."
    out = {}
    for name in settings:
        for f in sorted((folder / "samples").glob(f"{name}*.npz")):
            rest = f.stem[len(name):]
            if rest == "": out[name, 0] = f
            elif rest.startswith("_seed") and rest[5:].isdigit(): out[name, int(rest[5:])] = f
    return out


def guide_predict(net: PrototypeNet, images, bs: int = 256) -> np.ndarray:
    x = images_to_tensor(images)
    with torch.inference_mode():
        return torch.cat([net.classify(x[i:i + bs], torch.zeros(len(x[i:i + bs])))[0] for i in range(0, len(x), bs)]).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", nargs=2, action="append", metavar=("TRAINING_SEED", "FOLDER"), required=True)
    ap.add_argument("--settings", nargs="*", default=["baseline", "baseline_cj_scale0.1", "align0.001", "align0.001_cj_scale0.1",
                                                      "align0.005", "align0.005_cj_scale0.1"])
    ap.add_argument("--judge", default="outputs/improve_pbc/sweep")
    ap.add_argument("--expert", default="expert_resnet18_e8_s1234.safetensors")
    ap.add_argument("--guide-net", default="prototypes_cj_e6")
    ap.add_argument("--data", default="../shared/data/pbc_blood/pbc_28.npz")
    ap.add_argument("--focus", default="erythroblast")
    ap.add_argument("--out", default="results/improve_pbc/confusion")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    judge, out = Path(a.judge), Path(a.out)
    for p in (judge / a.expert, judge / a.guide_net / "config.json"):
        if not p.exists(): raise SystemExit(f"{p} is missing: run results/improve_pbc/sweep.py first (it trains and caches the judge)")
    test = load_dataset("medmnist", root=a.data, image_size=32, split="test")
    classes, K = list(test.classes), test.n_classes
    if a.focus not in classes: raise SystemExit(f"--focus {a.focus!r} is not a class of {a.data}: {classes}")
    expert, _ = cached_classifier(judge / a.expert, None, "resnet18", K)
    net = PrototypeNet.from_pretrained(judge / a.guide_net).eval()

    def judged(ims, labs):
        return dict(expert=expert_scores(expert, ims, labs, K, device="cpu")["proba"].argmax(1), guide_net=guide_predict(net, ims))

    rows, read = [], []
    def add(tseed, name, y, preds):
        for j, p in preds.items():
            c = confusion_matrix(y, p, labels=range(K))
            rows.extend(dict(training_seed=tseed, set=name, judge=j, target=classes[t], predicted=classes[q], count=int(c[t, q]))
                        for t in range(K) for q in range(K))

    ims, labs = test.images, test.labels
    add("real", "real_test", labs, judged(ims, labs))
    for tseed, folder in a.sweep:
        found = sets_in(Path(folder), a.settings)
        if not found: raise SystemExit(f"{folder}/samples holds none of {a.settings}: run sweep.py --out {folder} first")
        for name in a.settings:
            files = [f for (n, _), f in sorted(found.items()) if n == name]
            if not files: print(f"training seed {tseed}: no {name} samples in {folder}, skipped", flush=True); continue
            y, preds = [], {"expert": [], "guide_net": []}
            for f in files:
                z = np.load(f)
                if z["images"].ndim != 4 or len(z["images"]) != len(z["labels"]):
                    raise SystemExit(f"{f}: expected images N×H×W×C and N labels, got {z['images'].shape} and {z['labels'].shape}")
                y.append(z["labels"])
                for j, p in judged(z["images"], z["labels"]).items(): preds[j].append(p)
                read.append(str(f))
            add(tseed, name, np.concatenate(y), {j: np.concatenate(p) for j, p in preds.items()})
            print(tseed, name, len(files), "sampling seeds", flush=True)
    df = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "confusion.csv", "w") as fh: df.to_csv(fh, index=False)
    with atomic_write(out / "confusion.md", "w") as fh: fh.write(report_md(df, a.focus, classes))
    save_json(dict(command="python " + " ".join(sys.argv), expert=str(judge / a.expert), guide_net=str(judge / a.guide_net),
                   files=read, machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"),
              out / "report.json")


def report_md(df: pd.DataFrame, focus: str, classes) -> str:
    lines = [f"# Where the `{focus}` samples go (`confusion.py`; counts summed over sampling seeds)", "",
             f"Row `{focus}` of each confusion matrix, as shares of the samples conditioned on `{focus}` "
             f"(real_test: of the real test images of that class).", "",
             "| training seed | set | judge | n | " + " | ".join(c.split(" (")[0] for c in classes) + " |", "|---|---|---|---|" + "---|" * len(classes)]
    for (ts, s, j), g in df[df.target == focus].groupby(["training_seed", "set", "judge"], sort=False):
        n = g["count"].sum()
        share = g.set_index("predicted")["count"].reindex(classes) / max(n, 1)
        lines.append(f"| {ts} | {s} | {j} | {n} | " + " | ".join(f"**{v:.2f}**" if c == focus else f"{v:.2f}" for c, v in share.items()) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
