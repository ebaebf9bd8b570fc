"""Why do prototype-initialised class embeddings (`proto_cond`) lower erythroblast recall? Writes sweep_long/diagnosis.md.

    python results/improve_pbc/diagnose_proto_cond.py     # after extend.py and sweep.py --out outputs/improve_pbc/sweep_long

Prints (1) the cosine similarity of the PrototypeNet's class prototypes, (2) that of the class-embedding rows of the
baseline and the IMPROVE denoiser (EMA weights, after 1,800 and 3,600 steps), and (3) what the sweep's expert calls the
erythroblast and lymphocyte samples of each set, summed over the sampling seeds 0, 1, 2.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import timm
import torch.nn.functional as F
from safetensors.torch import load_model

from improve_nb.core import atomic_write
from improve_nb.diffusion import ClassConditionalUNet
from improve_nb.evaluation import predict_proba
from improve_nb.prototypes import PrototypeNet

SHORT = ["basophil", "eosinophil", "erythroblast", "IG", "lymphocyte", "monocyte", "neutrophil", "platelet"]
SETS = ["baseline", "proto_cond", "cj_scale0.1", "baseline_cj_scale0.1", "cj_scale0.1_softmax"]


def md(df: pd.DataFrame, index: bool = True) -> str:
    "A markdown table (pandas' to_markdown needs tabulate, which the project does not install)."
    d = df.reset_index() if index else df
    return "\n".join(["| " + " | ".join(map(str, d.columns)) + " |", "|" + "---|" * len(d.columns)] +
                     ["| " + " | ".join(map(str, r)) + " |" for r in d.itertuples(index=False)])


def cos(x):
    x = F.normalize(x.detach().float(), dim=-1)
    return pd.DataFrame((x @ x.T).numpy(), index=SHORT, columns=SHORT)


def main(sweep=Path("outputs/improve_pbc/sweep_long"), judge=Path("outputs/improve_pbc/sweep")):
    out = ["# Prototype conditioning and the erythroblast: diagnosis", "",
           "Written by `python results/improve_pbc/diagnose_proto_cond.py`. Cosine similarities rounded to 2 decimals.", ""]
    p = PrototypeNet.from_pretrained("outputs/improve_pbc/seed0/prototypes").prototypes[:, 0]
    out += ["## PrototypeNet class prototypes (the ablation's net, which initialised the IMPROVE denoiser's embeddings)", "",
            md(cos(p).round(2)), ""]
    for den in ("baseline", "improve"):
        for root, steps in (("outputs/improve_pbc/seed0", 1800), ("outputs/improve_pbc_long/seed0", 3600)):
            m = ClassConditionalUNet.from_pretrained(f"{root}/{den}/pipeline/ema")
            emb = [mod for n, mod in m.named_modules() if n.endswith("class_embedding")][0].weight[:len(SHORT)]
            out += [f"## {den} denoiser, class-embedding rows after {steps} steps", "", md(cos(emb).round(2)), ""]
    expert = timm.create_model("resnet18", pretrained=False, num_classes=len(SHORT), in_chans=3)
    load_model(expert, str(judge / "expert_resnet18_e8_s1234.safetensors")); expert.eval()
    rows = []
    for name in SETS:
        C = np.zeros((len(SHORT), len(SHORT)), int)
        for sfx in ("", "_seed1", "_seed2"):
            f = sweep / "samples" / f"{name}{sfx}.npz"
            if not f.exists(): sys.exit(f"{f} is missing: run sweep.py --out {sweep} first")
            z = np.load(f)
            for t, q in zip(z["labels"], predict_proba(expert, z["images"], device="cpu").argmax(1)): C[t, q] += 1
        for c in ("erythroblast", "lymphocyte"):
            rows.append(dict(set=name, drawn=c, **dict(zip(SHORT, C[SHORT.index(c)]))))
    out += ["## What the expert calls the generated erythroblasts and lymphocytes (3,600-step denoisers, 3 seeds x 48)", "",
            md(pd.DataFrame(rows), index=False), ""]
    dst = Path("results/improve_pbc/sweep_long/diagnosis.md")
    with atomic_write(dst, "w") as fh: fh.write("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
