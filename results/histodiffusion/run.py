"""HistoDiffusion evidence (issue 6): 5 % of the labels, the rest of the training images used without labels.

    python results/histodiffusion/run.py --dataset pbc            # PBC blood cells, 28 px npz trained at 32 px
    python results/histodiffusion/run.py --dataset pbc --sets c --proto-scale 0.1 --proto-cj --out results/histodiffusion/pbc_c_cj0.1
    python results/histodiffusion/run.py --dataset pbc --threads 2 --proto-cj --stages-only   # only build the trained stages

Synthetic pools are cached under --work by every setting that changes them (`pool_key`), so another --proto-scale or
--proto-cj samples a new pool instead of re-reading the old one.

Stages (each saved under --work, default outputs/histodiffusion_<dataset>/, and skipped when its output exists, so a
killed run continues where it stopped):
 1. split: a stratified 5 % of the training split is the labelled set; ALL training images form the label-free pool
 2. autoencoder (diffusers AutoencoderKL, f=4: 32 px -> 4x8x8 latents), latent scale fitted on the pool
 3. unconditional latent denoiser pre-trained on the pool (labels never read)
 4. noisy latent classifier p(y | z_t, t) on the labelled latents; auxiliary pixel classifier (filter features);
    PrototypeNet (IMPROVE) on the labelled pixels
 5. synthetic pools, class-balanced, same seeds: classifier-guided (ClassifierGuide) and classifier + prototype guided
    (ClassifierGuide + PrototypeGuide through the decoder)
 6. downstream: a classifier trained on the labelled set alone vs + synthetic at 50/100/300 % from
    (a) classifier-guided, unfiltered; (b) classifier-guided, centroid-filtered; (c) (b) + PrototypeGuide;
    every setting trained for the same number of optimiser steps, seeds 0-2, tested on the real test split.
Writes <out>/downstream.csv (per seed), <out>/downstream_summary.csv (mean, 95 % t-interval), <out>/report.json
(autoencoder PSNR, noisy-classifier accuracy per timestep range, filter keep rates, timings, machine, command).
"""
import argparse, json, platform, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from improve_nb.core import get_device, image_grid, save_json, seed_everything, to_pil
from improve_nb.data import load_dataset, shared_data_path, stratified_split
from improve_nb.evaluation import classifier_extractor, downstream_utility, summarize_utility, train_classifier
from improve_nb.filtering import CentroidFilter
from improve_nb.guidance import ClassifierGuide, NoisyClassifier, PrototypeGuide, mean_prototype_distance
from improve_nb.latent import LatentCodec, LatentPipeline, pretrain_latent_denoiser, train_autoencoder, train_latent_classifier
from improve_nb.prototypes import PrototypeNet, train_prototype_net

DATASETS = {"pbc": ("medmnist", ("pbc_blood", "pbc_28.npz"), 32, {}),
            "ham10000": ("ham10000", ("ham10000", "ham10000_64.npz"), 64, {"split_scheme": "lesion"})}


def pool_key(name: str, a) -> str:
    """The cache name of a synthetic pool: every setting that changes it, defaults left out so the pools the committed
    runs sampled (`pool_cg.npz`, `pool_cg+proto.npz`: guide scale 3, prototype scale 0.3, 50 DDIM steps) keep their names."""
    key = name
    if a.guide_scale != 3.0: key += f"_g{a.guide_scale:g}"
    if a.sample_steps != 50: key += f"_steps{a.sample_steps}"
    if a.oversample != 2.0: key += f"_over{a.oversample:g}"
    if max(a.ratios) != 3.0: key += f"_maxratio{max(a.ratios):g}"
    if "proto" in name and a.proto_scale != 0.3: key += f"_p{a.proto_scale:g}"
    if "proto" in name and a.proto_cj: key += "_cj"
    return key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="pbc", choices=list(DATASETS)); ap.add_argument("--label-frac", type=float, default=0.05)
    ap.add_argument("--ae-steps", type=int, default=2000); ap.add_argument("--ldm-steps", type=int, default=4000)
    ap.add_argument("--ldm-preset", default="small"); ap.add_argument("--clf-steps", type=int, default=1500)
    ap.add_argument("--guide-scale", type=float, default=3.0); ap.add_argument("--proto-scale", type=float, default=0.3)
    ap.add_argument("--sample-steps", type=int, default=50); ap.add_argument("--oversample", type=float, default=2.0)
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.5, 1.0, 3.0]); ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--down-steps", type=int, default=300, help="optimiser steps of every downstream classifier")
    ap.add_argument("--proto-cj", action="store_true", help="the PrototypeNet trained with colour jitter (<work>/prototypes_cj), as in the PBC IMPROVE sweep")
    ap.add_argument("--proto-epochs", type=int, default=15); ap.add_argument("--aux-epochs", type=int, default=30)
    ap.add_argument("--down-arch", default="resnet10t"); ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sets", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"],
                    help="synthetic sets to evaluate (two processes can split them, each with its own --out)")
    ap.add_argument("--build-seed", type=int, default=0,
                    help="seed of the generative build: autoencoder, latent denoiser, noisy classifier, PrototypeNet and the sampling noise "
                         "(the labelled subset, the filter's auxiliary classifier and the downstream seeds stay fixed); "
                         "a build seed other than 0 gets its own default --work, outputs/histodiffusion_<dataset>_build<seed>")
    ap.add_argument("--work", default=None); ap.add_argument("--out", default=None)
    ap.add_argument("--data", default=None, help="the data set's npz (default: its file under ../shared/data)")
    ap.add_argument("--device", default="cpu", help="cpu (every committed run), cuda or auto (a lent GPU: results/gpu/run.sh)")
    ap.add_argument("--stages-only", action="store_true",
                    help="build and cache the trained stages (autoencoder, latent denoiser, noisy classifier, PrototypeNet) and stop, "
                         "so they can be built with more threads than the sampling and downstream calls")
    a = ap.parse_args()
    torch.set_num_threads(a.threads); seed_everything(0)
    dev = get_device(a.device)
    src, parts, size, kw = DATASETS[a.dataset]
    root = Path(a.data) if a.data else shared_data_path(*parts)
    if root is None or not root.exists(): raise SystemExit(f"{a.data or '/'.join(parts)} not found{'' if a.data else ' under ../shared/data'}")
    gseed = a.build_seed
    work = Path(a.work or f"outputs/histodiffusion_{a.dataset}" + (f"_build{gseed}" if gseed else "")); out = Path(a.out or f"results/histodiffusion/{a.dataset}")
    work.mkdir(parents=True, exist_ok=True); out.mkdir(parents=True, exist_ok=True)
    rep_path = out / "report.json"
    rep = json.loads(rep_path.read_text()) if rep_path.exists() else {}
    cmd = "python " + " ".join(sys.argv)
    if cmd not in rep.setdefault("commands", []): rep["commands"].append(cmd)    # every call that wrote into this folder
    rep.update(command=cmd, args=vars(a),
               machine=f"{platform.machine()}, {torch.get_num_threads()} torch thread(s), {platform.processor() or 'cpu'}, "
                       + (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "no GPU"))
    T = rep.setdefault("timings_s", {})
    def save(): save_json(rep, rep_path)

    train = load_dataset(src, root=root, image_size=size, split="train", **kw)
    val = load_dataset(src, root=root, image_size=size, split="val", **kw)
    test = load_dataset(src, root=root, image_size=size, split="test", **kw)
    lab_idx = np.flatnonzero(stratified_split(train.labels, (a.label_frac, 1 - a.label_frac), seed=0) == 0)
    labelled = train.subset(lab_idx)
    rep["data"] = dict(dataset=a.dataset, n_train=len(train), n_labelled=len(labelled), n_pool=len(train), n_val=len(val), n_test=len(test),
                       labelled_per_class=dict(zip(train.classes, np.bincount(labelled.labels, minlength=train.n_classes).tolist())),
                       pool="all training images, labels not used")
    classes = train.classes; C = len(classes)

    # 2. autoencoder
    if not (work / "autoencoder" / "config.json").exists():
        t = time.time()
        codec, ae = train_autoencoder(train, latent_channels=4, down=2, steps=a.ae_steps, bs=32, lr=1e-3,
                                      seed=gseed, device=dev, valid_ds=val, progress=False)
        codec.save_pretrained(work / "autoencoder"); T["autoencoder"] = time.time() - t
        rep["autoencoder"] = {k: v for k, v in ae.items() if isinstance(v, (int, float, str, dict, list)) and k != "losses"}; save()
    codec = LatentCodec.from_pretrained(work / "autoencoder").to(dev)      # the guide's decoder runs where the sampler does

    # 3. unconditional latent denoiser on the pool (labels never read: make_pool relabels by source)
    if not (work / "ldm" / "latent_pipeline" / "latent_pipeline.json").exists():
        t = time.time()
        pretrain_latent_denoiser(train, codec, preset=a.ldm_preset, steps=a.ldm_steps, bs=64, lr=1e-3, out_dir=work / "ldm", device=dev,
                                 seed=gseed, classes=classes, ckpt_every=500, resume=True, ema_decay=0.999, ema_warmup=True, progress=False)
        T["latent_denoiser"] = time.time() - t; save()
    lp = LatentPipeline.from_pretrained(work / "ldm" / "latent_pipeline")

    # 4. labelled-set models
    if not (work / "noisy_classifier" / "config.json").exists():
        t = time.time()
        clf, cr = train_latent_classifier(lp, labelled, val, steps=a.clf_steps, bs=64, lr=2e-3, seed=gseed, device=dev)
        clf.save_pretrained(work / "noisy_classifier"); T["noisy_classifier"] = time.time() - t
        rep["noisy_classifier"] = dict(per_bin=cr["per_bin"].to_dict("records"), accuracy=cr["accuracy"], clean_accuracy=cr["clean_accuracy"],
                                       chance=cr["chance"], valid_on="val split (latents)"); save()
    clf = NoisyClassifier.from_pretrained(work / "noisy_classifier").eval()
    pdir = work / ("prototypes_cj" if a.proto_cj else "prototypes")
    if not (pdir / "config.json").exists():
        t = time.time()
        pnet, pr = train_prototype_net(labelled, val, backbone="resnet18", dim=64, epochs=a.proto_epochs, bs=64, seed=gseed, device=dev,
                                       color_jitter=a.proto_cj)
        key = pdir.name.replace("prototypes", "prototype_net")          # prototype_net / prototype_net_cj
        pnet.save_pretrained(pdir); T[key] = time.time() - t
        rep[key] = {k: v for k, v in pr.items() if isinstance(v, (int, float, str))}; save()
    pnet = PrototypeNet.from_pretrained(pdir).to(dev).eval()
    if a.stages_only: return
    t = time.time()
    aux = train_classifier(labelled, arch="resnet10t", epochs=a.aux_epochs, bs=64, seed=7, device=dev)   # filter features only
    T["aux_classifier"] = time.time() - t

    # 5. synthetic pools (class-balanced, oversampled for the filter)
    n_final = int(round(max(a.ratios) * len(labelled) / C + 0.5))          # per class, enough for the largest ratio
    n_pool = int(round(a.oversample * n_final))
    pools = {}
    need = ({"cg"} if {"a", "b"} & set(a.sets) else set()) | ({"cg+proto"} if "c" in a.sets else set())
    for name, guides in {"cg": [ClassifierGuide(clf, scale=a.guide_scale)],
                         "cg+proto": [ClassifierGuide(clf, scale=a.guide_scale),
                                      PrototypeGuide(pnet, scale=a.proto_scale, schedule="sigma", t_window=(0.0, 0.8),
                                                     decode=codec.decode_tensor)]}.items():
        if name not in need: continue
        f = work / f"pool_{pool_key(name, a)}.npz"
        if not f.exists():
            t = time.time()
            ims, ys = lp(n_per_class=n_pool, guides=guides, num_inference_steps=a.sample_steps, sampler="ddim", device=dev,
                         generator=torch.Generator().manual_seed(gseed), batch_size=256)
            np.savez(f, images=ims, labels=ys); T[f"sample_{name}"] = time.time() - t; save()
        d = np.load(f); pools[name] = (d["images"], d["labels"])
    for name, (ims, ys) in pools.items():
        to_pil(image_grid(np.concatenate([ims[ys == c][:10] for c in range(C)]), nrow=10)).save(out / f"samples_{name.replace('+', '_')}.png")

    # unfiltered (a): a random n_final per class of the classifier-guided pool; filtered (b, c): the centroid filter's best n_final
    rng = np.random.default_rng(0)
    sets = {}
    if "a" in a.sets:
        ims, ys = pools["cg"]
        sel = np.concatenate([rng.choice(np.flatnonzero(ys == c), n_final, replace=False) for c in range(C)])
        sets["a_cg"] = (ims[sel], ys[sel])
    flt = CentroidFilter(aux, max_per_class=n_final).fit(labelled.images, labelled.labels)
    rep.setdefault("filters", {})
    for key, name in (("b_cg_filtered", "cg"), ("c_cg_proto_filtered", "cg+proto")):
        if key[0] not in a.sets: continue
        ims, ys = pools[name]; r = flt(ims, ys)
        sets[key] = (ims[r.keep], ys[r.keep])
        rep["filters"][key] = dict(pool=len(ys), kept=int(r.keep.sum()), per_class=r.per_class.to_dict("records"))
    # how far each synthetic set is from its class prototype, and how often the auxiliary classifier agrees with the label
    from improve_nb.evaluation import predict_proba
    rep.setdefault("synthetic_sets", {}).update({k: dict(n=len(y), aux_agreement=float((predict_proba(aux.model, x, device=dev).argmax(1) == y).mean()),
                                     prototype_distance=float(mean_prototype_distance(pnet, x, y).mean()))
                             for k, (x, y) in sets.items()})
    rep["synthetic_sets"]["real_test"] = dict(n=len(test), aux_agreement=float((predict_proba(aux.model, test.images, device=dev).argmax(1) == test.labels).mean()),
                                              prototype_distance=float(mean_prototype_distance(pnet, test.images, test.labels).mean()))
    save()

    # 6. downstream
    rows = []
    csv = out / "downstream.csv"
    done = pd.read_csv(csv) if csv.exists() else pd.DataFrame()
    if len(done): rows.append(done)                              # sets finished by an earlier call into this folder are kept
    for key, (x, y) in sets.items():
        if len(done) and key in set(done.synthetic_set): continue
        t = time.time()
        have_real = any((r.setting == "real").any() for r in rows)   # the real-only baseline is trained once per output folder
        df = downstream_utility(labelled, (x, y), test, ratios=a.ratios, seeds=a.seeds, arch=a.down_arch, steps=a.down_steps, bs=64,
                                synthetic_only=False, include_real=not have_real, device=dev, classes=classes).assign(synthetic_set=key)
        T[f"downstream_{key}"] = time.time() - t
        rows.append(df); pd.concat(rows).to_csv(csv, index=False); save()
    allr = pd.concat(rows)
    summ = []
    real_rows = allr[allr.setting == "real"]
    for key, g in allr.groupby("synthetic_set", sort=False):
        if not (g.setting == "real").any(): g = pd.concat([real_rows, g])
        s = summarize_utility(g); s.insert(0, "synthetic_set", key)
        base = s[s.setting == "real"].set_index("metric").value
        s["gain_vs_real"] = s.value - s.metric.map(base)
        summ.append(s)
    summ = pd.concat(summ)
    summ.to_csv(out / "downstream_summary.csv", index=False)
    print(summ[summ.metric.isin(["accuracy", "macro_f1"])].round(4).to_string())
    save()


if __name__ == "__main__":
    main()
