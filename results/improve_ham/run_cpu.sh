#!/usr/bin/env bash
# The HAM10000 64 px IMPROVE ablation on the CPU (issue 4), one training seed per call, resumable across sessions:
#
#   bash results/improve_ham/run_cpu.sh 0        # training seed 0; run it again after a kill and it goes on from its checkpoints
#   bash results/improve_ham/run_cpu.sh 0 1 2    # seeds one after the other; a finished seed (metrics.json) is skipped
#   python results/summarize_ablation.py outputs/improve_ham_cpu results/improve_ham   # the table over the finished seeds
#
# After each finished seed the script runs that summary itself. It archives the seed's evaluation.csv, metrics.json and
# variants.png in results/improve_ham, so the seed survives even when outputs/ does not (outputs/ was lost between
# sessions 20 and 21).
#
# The main job (nbs/05_generate.ipynb, through papermill) on HAM10000 64 px with the lesion-grouped split, at the PBC recipe
# that met the goal (results/improve_pbc/cfg_sweep.py: `small` denoiser, 1,800 steps at batch 64, v target, alignment 0.005 from
# half way, CFG 1, PrototypeGuide 0.01 with the alpha schedule and d4 views, 48 samples per class, DDIM-25) and the GPU script's
# network epochs (results/gpu/run.sh). Two CPU-only changes: precision bf16 (CPUAutocast, 2.2x faster training at 64 px on this CPU,
# bench/RESULTS.md) and ckpt_every 100 with resume, so a session's end costs at most 100 steps. The IMPROVE denoiser starts from
# the baseline's step-900 checkpoint (share_plain_start, the default).
set -uo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: bash results/improve_ham/run_cpu.sh SEED [SEED ...]" >&2; exit 2; }
WORK=${WORK:-outputs/improve_ham_cpu}; mkdir -p "$WORK"
DATA=${DATA:-../shared/data/ham10000/ham10000_64.npz}
STEPS=${STEPS:-1800}
DEST=${DEST:-results/improve_ham}
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
for s in "$@"; do
  [ -f "$WORK/seed$s/metrics.json" ] && { echo "seed $s: finished already ($WORK/seed$s/metrics.json)"; continue; }
  echo "$(date -u +%FT%TZ) start seed $s on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" >> "$WORK/seed$s.history"
  python -m papermill nbs/05_generate.ipynb "$WORK/seed$s.ipynb" --log-output --no-progress-bar \
    -p dataset ham10000 -p data_root "$DATA" -y '{"dataset_kwargs": {"split_scheme": "lesion"}}' \
    -p image_size 64 -p preset small -p train_steps "$STEPS" -p batch_size 64 -p precision bf16 -p proto_epochs 6 -p expert_epochs 8 \
    -p extractor_epochs 4 -p n_per_class 48 -p steps 25 -p ckpt_every 100 -p resume True -p explorer False -p torch_threads 2 \
    -p device cpu -p seed "$s" -p out_dir "$WORK/seed$s" >> "$WORK/seed$s.log" 2>&1
  rc=$?
  echo "$(date -u +%FT%TZ) exit $rc" >> "$WORK/seed$s.history"
  [ $rc = 0 ] || exit $rc
  python results/summarize_ablation.py "$WORK" "$DEST" > "$WORK/summary_after_seed$s.log" 2>&1 || { echo "summary failed: $WORK/summary_after_seed$s.log" >&2; exit 1; }
  cp "$WORK/seed$s.history" "$DEST/seed$s.history"
done
