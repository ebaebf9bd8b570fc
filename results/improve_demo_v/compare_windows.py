"""Guide setting B against guide setting A, paired by training seed: the same trained denoisers, PrototypeNet, noise and
seeded expert, only the guide differs, so the difference of the two `proto_guide` (and `improve`) rows is the effect
of the guide setting alone. Selection seeds (0-2, where B was picked) and held-out seeds (3-5) are reported apart and pooled.

    python results/improve_demo_v/compare_windows.py results/improve_demo_v/compare_windows.csv \\
        outputs/improve_demo_v1500_w05:outputs/improve_demo_v1500_w03s03 \\
        outputs/improve_demo_v1500_s345:outputs/improve_demo_v1500_s345_w03s03
    # session 17: the alpha schedule on the whole window against the [0, 0.3] default
    python results/improve_demo_v/compare_windows.py results/improve_demo_v/alpha_schedule/compare.csv \\
        outputs/improve_demo_v1500_w03s03:outputs/improve_demo_v1500_alpha \\
        outputs/improve_demo_v1500_s345_w03s03:outputs/improve_demo_v1500_s345_alpha
    # session 17: the same alpha guide with a PrototypeNet trained without NoiseAug's blur (run_window.sh with PROTO=prototypes_noblur)
    python results/improve_demo_v/compare_windows.py results/improve_demo_v/alpha_schedule/noblur_compare.csv \\
        outputs/improve_demo_v1500_alpha:outputs/improve_demo_v1500_alpha_noblur \\
        outputs/improve_demo_v1500_s345_alpha:outputs/improve_demo_v1500_s345_alpha_noblur

Each argument after the destination is A_RUN:B_RUN, two folders of main-job runs (seed<S>/metrics.json) at the same seeds.
"""
import json, sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from summarize_ablation import t_interval  # noqa: E402

METRICS = ["expert_balanced_accuracy", "oracle_pass_rate", "fid", "precision", "recall", "prototype_distance"]


def setting(m: dict) -> str:
    p = m["params"]
    net = Path(p["proto_checkpoint"]).name if p.get("proto_checkpoint") else "prototypes"
    return f"window {p['guide_window']}, scale {p['guide_scale']}, {p.get('guide_schedule', 'sigma')} schedule, net {net}"


def main(dest, *pairs):
    rows = []
    for pair in pairs:
        a_run, b_run = map(Path, pair.split(":"))
        for fa in sorted(a_run.glob("seed*/metrics.json")):
            fb = b_run / fa.parent.name / "metrics.json"
            if not fb.exists(): raise FileNotFoundError(f"{fb}: no run of {fa.parent.name} with setting B")
            ma, mb = json.loads(fa.read_text()), json.loads(fb.read_text())
            for k in ("train_steps", "seed", "prediction_type", "n_per_class"):
                if ma["params"][k] != mb["params"][k]: raise ValueError(f"{fa} and {fb} differ in {k}: not a paired comparison")
            for v in ("proto_guide", "improve"):
                rows.append(dict(seed=ma["params"]["seed"], variant=v,
                                 a=setting(ma), b=setting(mb),
                                 **{f"{m}_a": ma["variants"][v][m] for m in METRICS}, **{f"{m}_b": mb["variants"][v][m] for m in METRICS},
                                 **{f"{m}_diff": mb["variants"][v][m] - ma["variants"][v][m] for m in METRICS},
                                 baseline_a=ma["variants"]["baseline"]["expert_balanced_accuracy"],
                                 baseline_b=mb["variants"]["baseline"]["expert_balanced_accuracy"]))
    df = pd.DataFrame(rows)
    bad = df[(df.baseline_a - df.baseline_b).abs() > 1e-12]
    if len(bad): raise ValueError(f"the unguided baselines differ at seeds {sorted(bad.seed)}: not the same models or judge")
    df.to_csv(dest, index=False, float_format="%.5f")
    out = []
    for v, g in df.groupby("variant"):
        for name, sel in (("selection seeds 0-2", g.seed < 3), ("held-out seeds 3-5", g.seed >= 3), ("all seeds", g.seed >= 0)):
            h = g[sel]
            if not len(h): continue
            r = dict(variant=v, seeds=name, n=len(h))
            for m in METRICS:
                mean, lo, hi = t_interval(h[f"{m}_diff"])
                r |= {m: round(mean, 4), f"{m}_lo": round(lo, 4), f"{m}_hi": round(hi, 4),
                      f"{m}_b_better": int((h[f"{m}_diff"] * (-1 if m in ("fid", "prototype_distance") else 1) > 0).sum())}
            out.append(r)
    s = pd.DataFrame(out)
    s.to_csv(Path(dest).with_name(Path(dest).stem + "_summary.csv"), index=False)
    print(s.to_string(index=False))


if __name__ == "__main__":
    main(*sys.argv[1:])
