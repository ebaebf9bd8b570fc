"""How large is the prototype-alignment gradient against the diffusion loss's? The measurement behind extend.py's weights.

    python results/improve_pbc/align_gradscale.py            # writes results/improve_pbc/sweep_long/align_gradscale.json

On the ablation's 1,800-step baseline denoiser, for 3 random training batches of 64 (generator seed 0): the norm of
the gradient (over all denoiser parameters) of the diffusion MSE, and of the `PrototypeAlignCallback` term at weight 1
(window t/T <= 0.5, ᾱ-weighted, the sweep's colour-jittered PrototypeNet), for both objectives. A weight W then scales
the alignment gradient to about W x the ratio reported here.
"""
import json, platform, sys

import torch
import torch.nn.functional as F

from improve_nb.core import images_to_tensor, save_json
from improve_nb.data import load_dataset
from improve_nb.diffusion import ClassConditionalUNet, make_noise_schedule
from improve_nb.guidance import PrototypeAlignCallback, PrototypeGuide
from improve_nb.prototypes import PrototypeNet


def grad_norm(model, loss):
    model.zero_grad(); loss.backward(retain_graph=True)
    return float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters() if p.grad is not None)))


def main(out="results/improve_pbc/sweep_long/align_gradscale.json"):
    torch.set_num_threads(2)
    ds = load_dataset("medmnist", root="../shared/data/pbc_blood/pbc_28.npz", image_size=32, split="train")
    model = ClassConditionalUNet.from_pretrained("outputs/improve_pbc/seed0/baseline/pipeline/model")
    ns = make_noise_schedule(1000, "squaredcos_cap_v2", "epsilon", clip_sample=True)
    net = PrototypeNet.from_pretrained("outputs/improve_pbc/sweep/prototypes_cj_e6").eval().requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    rows = []
    for obj in ("softmax", "distance"):
        cb = PrototypeAlignCallback(PrototypeGuide(net, objective=obj), weight=1.0, t_window=(0.0, 0.5), noise_schedule=ns, null_class=model.null_class)
        for rep in range(3):
            idx = torch.randint(0, len(ds), (64,), generator=g).numpy()
            x0, y = images_to_tensor(ds.images[idx]), torch.as_tensor(ds.labels[idx]).long()
            t = torch.randint(0, 1000, (64,), generator=g); eps = torch.randn(x0.shape, generator=g)
            xt = ns.add_noise(x0, eps, t)
            pred = model(xt, t, y)
            gm = grad_norm(model, F.mse_loss(pred, eps))
            al, st = cb.align_loss(xt, t, y, pred)
            ga = grad_norm(model, al)
            rows.append(dict(objective=obj, batch=rep, mse_grad_norm=round(gm, 5), align_grad_norm=round(ga, 5), ratio=round(ga / gm, 1), **st))
            print(rows[-1], flush=True)
    save_json(dict(command="python " + " ".join(sys.argv), machine=f"{platform.machine()}, torch {torch.__version__}", rows=rows), out)


if __name__ == "__main__":
    main()
