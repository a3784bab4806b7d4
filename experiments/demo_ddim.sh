#!/usr/bin/env bash
# The DDIM-only demo (what `make demo` runs while `lazydit run` or the committed
# LazyDiT gates are missing) on the committed default model (models/fmnist_dit.safetensors):
# samples 20 images per class (one column per class in the grid) with plain DDIM at 50 steps and at the equal-budget
# baseline of 25 steps (what LazyDiT at 50% laziness is compared against), then
# scores both with the project's classifier against the Fashion-MNIST test split.
# Writes results/demo/: sample grids (PNG), samples (.npy) and metrics (JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L="$BUILD/lazydit"
OUT=results/demo
N=${DEMO_N:-200}  # samples per setting: 20 per class
mkdir -p "$OUT"
echo "== model"
"$L" info models/fmnist_dit.safetensors
for steps in 50 25; do
    echo "== DDIM $steps steps, cfg 1.5, $N samples (seed 0; same initial noise in both runs)"
    "$L" sample --weights models/fmnist_dit.safetensors --n "$N" --seed 0 --steps "$steps" --cfg-scale 1.5 \
        --batch 50 --quiet --out "$OUT/ddim$steps.npy" --png "$OUT/ddim$steps.png"
    ref=()
    [ "$steps" != 50 ] && ref=(--reference "$OUT/ddim50.npy")
    "$L" eval --samples "$OUT/ddim$steps.npy" --labels "$OUT/ddim${steps}_labels.npy" "${ref[@]}" --json 2>/dev/null \
        >"$OUT/ddim$steps.json"
    "$L" eval --samples "$OUT/ddim$steps.npy" --labels "$OUT/ddim${steps}_labels.npy" "${ref[@]}"
done
echo "== outputs: $OUT/ddim50.png $OUT/ddim25.png (grids, one column per class), $OUT/*.json (metrics)"
