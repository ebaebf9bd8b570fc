#!/usr/bin/env bash
# The ablation of results/improve_demo_v again, with the guide active on t/T in [0, 0.5] only, on the SAME trained models:
# the main job loads each seed's baseline and IMPROVE pipelines and PrototypeNet (checkpoint, improve_checkpoint,
# proto_checkpoint) instead of training, then samples, trains its expert and extractor (seeded: the same judges) and evaluates.
#   SEEDS=0 bash results/improve_demo_v/run_window.sh & SEEDS=1 bash ... & SEEDS=2 bash ...   (one lane per seed)
# then: python results/summarize_ablation.py outputs/improve_demo_v1500_w05 results/improve_demo_v/window_0_0.5
# Other guide settings: WINDOW="[0.0, 0.3]" SCALE=0.3 OUT=outputs/improve_demo_v1500_w03s03 SEEDS=0 bash ... (results/improve_demo_v/window_0_0.3_scale_0.3)
# Session 17, the alpha schedule: WINDOW="[0.0, 1.0]" SCALE=0.1 SCHEDULE=alpha OUT=outputs/improve_demo_v1500_alpha SEEDS=0 bash ...
#   (and SRC=outputs/improve_demo_v1500_s345 OUT=outputs/improve_demo_v1500_s345_alpha SEEDS=3 ...: results/improve_demo_v/alpha_schedule)
# PROTO=prototypes_noblur guides with another PrototypeNet under each seed's folder (demo_guides.NETS; train it first)
# CFG=1.5 samples every variant at another classifier-free guidance scale (3 by default, the ablation's)
set -euo pipefail
SRC=${SRC:-outputs/improve_demo_v1500}
OUT=${OUT:-outputs/improve_demo_v1500_w05}
mkdir -p "$OUT"
for s in ${SEEDS:-0 1 2}; do
  [ -f "$OUT/seed$s/metrics.json" ] && continue
  papermill nbs/05_generate.ipynb "$OUT/seed$s.ipynb" -p torch_threads 1 -p train_steps 1500 -p n_per_class 32 -p explorer False \
    -p checkpoint "$SRC/seed$s/baseline/pipeline" -p improve_checkpoint "$SRC/seed$s/improve/pipeline" \
    -p proto_checkpoint "$SRC/seed$s/${PROTO:-prototypes}" -y "{\"guide_window\": ${WINDOW:-[0.0, 0.5]}}" -p guide_scale "${SCALE:-0.1}" -p guide_schedule "${SCHEDULE:-sigma}" -p cfg_scale "${CFG:-3.0}" \
    -p seed "$s" -p out_dir "$OUT/seed$s"
done
