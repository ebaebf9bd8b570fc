#!/usr/bin/env bash
# IMPROVE ablation on PBC blood cells (28 px npz, trained at 32 px) with the main-job notebook, CPU only.
# Seed 0 trains the baseline and the IMPROVE denoiser (equal steps), the PrototypeNet, the expert and the feature
# extractor; seeds 1 and 2 reload the seed-0 denoisers and PrototypeNet and re-draw samples, expert and extractor
# with their own seeds (so the interval covers sampling and judge variance, not denoiser-training variance).
#   bash results/improve_pbc/run.sh            (from the repository root)
# Killed runs lose at most 200 steps: re-running the same command resumes each denoiser from its last checkpoint.
# On a shared CPU set THREADS=1 (torch with 2 threads on 2 busy cores ran ~5x slower than its idle speed here).
# Seeds 1 and 2 need only seed 0's saved denoisers and PrototypeNet (seed0/{baseline,improve}/pipeline, seed0/prototypes), so
# once those exist they can run beside seed 0's evaluation, one thread each: SEEDS=1 THREADS=1 bash ... & SEEDS=2 THREADS=1 bash ...
# (SEEDS unset: seed 0, then 1 and 2, one after the other; SEEDS without 0 never starts seed 0).
# Then: python results/summarize_ablation.py outputs/improve_pbc results/improve_pbc
set -euo pipefail
OUT=${OUT:-outputs/improve_pbc}
STEPS=${STEPS:-1800}
COMMON=(${THREADS:+-p torch_threads $THREADS} -p dataset medmnist -p data_root ../shared/data/pbc_blood/pbc_28.npz -p image_size 32 -p preset small
        -p train_steps "$STEPS" -p batch_size 64 -p proto_epochs 6 -p expert_epochs 8 -p extractor_epochs 4
        -p n_per_class 48 -p steps 25 -p cfg_scale 3 -p explorer False -p ckpt_every 200 -p resume True)
mkdir -p "$OUT"
if [[ " ${SEEDS:-0} " == *" 0 "* ]] && [ ! -f "$OUT/seed0/metrics.json" ]; then
  papermill nbs/05_generate.ipynb "$OUT/seed0.ipynb" "${COMMON[@]}" -p seed 0 -p out_dir "$OUT/seed0"
fi
for s in ${SEEDS:-1 2}; do
  [ "$s" = 0 ] && continue
  [ -f "$OUT/seed$s/metrics.json" ] && continue
  papermill nbs/05_generate.ipynb "$OUT/seed$s.ipynb" "${COMMON[@]}" -p seed "$s" -p out_dir "$OUT/seed$s" \
    -p checkpoint "$OUT/seed0/baseline/pipeline" -p improve_checkpoint "$OUT/seed0/improve/pipeline" \
    -p proto_checkpoint "$OUT/seed0/prototypes"
done
