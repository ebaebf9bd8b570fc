#!/usr/bin/env bash
# IMPROVE ablation on the built-in demo data: the README's main job (nbs/05_generate.ipynb with its defaults) at
# seeds 0, 1, 2. Unlike results/improve_pbc/run.sh, every seed trains its own denoisers, PrototypeNet, expert and
# extractor, so the interval covers training variance too. The demo rule oracle (oracle_pass_rate) judges beside the expert.
#   bash results/improve_demo/run.sh                         (from the repository root)
#   SEEDS="0 2" THREADS=1 bash results/improve_demo/run.sh & SEEDS=1 THREADS=1 bash results/improve_demo/run.sh   (two lanes)
# then: python results/summarize_ablation.py outputs/improve_demo results/improve_demo
# Longer runs: TRAIN_STEPS=3000 N_PER_CLASS=32 OUT=outputs/improve_demo_long SEEDS=0 THREADS=1 bash results/improve_demo/run.sh
# (one lane per seed; results/improve_demo_long/README.md). CFG=1 GUIDE=0.01 set the sampling's cfg_scale and guide_scale
# (session 19: results/improve_demo_v/alpha_schedule/cfg1_guide001/).
# A finished seed (metrics.json present) is skipped; a killed one resumes its denoisers from their checkpoints.
set -euo pipefail
OUT=${OUT:-outputs/improve_demo}
mkdir -p "$OUT"
for s in ${SEEDS:-0 1 2}; do
  [ -f "$OUT/seed$s/metrics.json" ] && continue
  papermill nbs/05_generate.ipynb "$OUT/seed$s.ipynb" ${THREADS:+-p torch_threads $THREADS} ${TRAIN_STEPS:+-p train_steps $TRAIN_STEPS} \
    ${N_PER_CLASS:+-p n_per_class $N_PER_CLASS} ${CFG:+-p cfg_scale $CFG} ${GUIDE:+-p guide_scale $GUIDE} -p explorer False -p resume True \
    -p seed "$s" -p out_dir "$OUT/seed$s"
done
