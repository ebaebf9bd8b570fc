"""Can the guide's PrototypeNet see cell size? Real demo validation images zoomed about their centre (factor > 1:
bigger cells, < 1: smaller, border pixels replicated), judged by the demo oracle (does the zoom break the cell-size
rule?) and by each seed's ablation PrototypeNet (clean input, σ = 0): accuracy, distance to the own class's
prototype and the own-minus-nearest-other margin. A size-blind net keeps its accuracy and distance while the oracle
rejects the zoomed cells; then the prototype distance gives the guide no reason to shrink an over-large lymphocyte.

    python results/improve_demo_v/size_sensitivity.py outputs/improve_demo_v1500 results/improve_demo_v/size_sensitivity.csv
"""
import sys
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from improve_nb.data import DEMO_CLASSES, demo_oracle_details, load_dataset
from improve_nb.prototypes import PrototypeNet

ZOOMS = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)


def zoom(x: torch.Tensor, z: float) -> torch.Tensor:
    "N×C×H×W images in [-1, 1] zoomed by `z` about the centre (same size out; border replicated where it shrinks)."
    if z == 1.0: return x
    theta = torch.tensor([[1 / z, 0, 0], [0, 1 / z, 0]], dtype=x.dtype).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def main(run, dest):
    torch.set_num_threads(2)
    val = load_dataset("demo", image_size=32, split="val", n_per_class=75)
    x = torch.as_tensor(val.images).permute(0, 3, 1, 2).float() / 127.5 - 1   # N×H×W×C uint8 -> N×C×H×W in [-1, 1]
    y = torch.as_tensor(val.labels).long()
    nets = {int(d.name[4:]): PrototypeNet.from_pretrained(d / "prototypes").eval() for d in sorted(Path(run).glob("seed*/"))}
    rows = []
    for z in ZOOMS:
        xz = zoom(x, z)
        u8 = ((xz.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()   # N×H×W×C, as the oracle reads
        d = demo_oracle_details(u8, y)
        for seed, net in nets.items():
            with torch.no_grad(): D = net.distances(xz)   # N × classes, clean input (σ = 0 for a time-conditioned net)
            own = D.gather(1, y[:, None])[:, 0]
            other = D.masked_fill(F.one_hot(y, D.shape[1]).bool(), float("inf")).min(1).values
            for c in range(len(DEMO_CLASSES)):
                m = y == c
                rows.append(dict(zoom=z, seed=seed, cls=DEMO_CLASSES[c],
                                 oracle_pass=float(d.ok[m.numpy()].mean()), cell_frac=float(d.cell_frac[m.numpy()].mean()),
                                 net_acc=float((D[m].argmin(1) == c).float().mean()), own_distance=float(own[m].mean()),
                                 margin=float((other[m] - own[m]).mean())))
        print(z, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(dest, index=False, float_format="%.4f")
    print(df.groupby(["cls", "zoom"])[["oracle_pass", "cell_frac", "net_acc", "own_distance", "margin"]].mean().round(3).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:3])
