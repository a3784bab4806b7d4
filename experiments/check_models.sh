#!/usr/bin/env bash
# Checks the committed models against their quality bars (README.md, "The
# committed models") and exits
# non-zero when either misses:
#   models/classifier.safetensors  >= 90% accuracy on the Fashion-MNIST test split;
#   models/fmnist_dit.safetensors  >= 80% class consistency: samples at 50 DDIM
#                                   steps and cfg 1.5 that the classifier assigns
#                                   to their conditioning class.
# The DiT check samples CHECK_N images (default 1000: 100 per class, labels
# i % 10, per-sample seeds from --seed 0) so it is one fixed, reproducible number.
# WEIGHTS=path checks another DiT file (e.g. a training snapshot) instead.
# About 7 minutes on 2 cores. Writes results/check_models/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L="$BUILD/lazydit"
N=${CHECK_N:-1000}
WEIGHTS=${WEIGHTS:-models/fmnist_dit.safetensors}
OUT=${CHECK_OUT:-results/check_models}
mkdir -p "$OUT"
status=0
echo "== classifier: models/classifier.safetensors on the test split (bar 0.90)"
"$L" classify --weights models/classifier.safetensors --data test --min-accuracy 0.90 || status=1
echo "== DiT: $WEIGHTS, $N samples, DDIM 50 steps, cfg 1.5, seed 0 (bar 0.80 class consistency)"
"$L" sample --weights "$WEIGHTS" --n "$N" --seed 0 --steps 50 --cfg-scale 1.5 --batch 50 --quiet \
    --out "$OUT/samples.npy"
"$L" eval --samples "$OUT/samples.npy" --labels "$OUT/samples_labels.npy" --min-consistency 0.80 || status=1
if [ $status -eq 0 ]; then echo "== both models meet their bars"; else echo "== a model misses its bar (see above)"; fi
exit $status
