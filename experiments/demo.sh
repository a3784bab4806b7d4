#!/usr/bin/env bash
# The demo experiment on the committed default model (models/fmnist_dit.safetensors):
# samples one row per class with plain DDIM at 50 steps and at the equal-budget
# baseline of 25 steps (what LazyDiT at 50% laziness is compared against), then
# scores both with the project's classifier against the Fashion-MNIST test split.
# Writes results/demo/: sample grids (PNG), samples (.npy) and metrics (JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L="$BUILD/lazydit"
OUT=results/demo
N=${DEMO_N:-500}  # samples per setting: 50 per class
mkdir -p "$OUT"
echo "== model"
"$L" info models/fmnist_dit.safetensors
for steps in 50 25; do
    echo "== DDIM $steps steps, cfg 1.5, $N samples (seed 0)"
    "$L" sample --weights models/fmnist_dit.safetensors --n "$N" --seed 0 --steps "$steps" --cfg-scale 1.5 \
        --batch 50 --out "$OUT/ddim$steps.npy" --png "$OUT/ddim$steps.png"
    "$L" eval --samples "$OUT/ddim$steps.npy" --labels "$OUT/ddim${steps}_labels.npy" \
        $( [ "$steps" != 50 ] && echo --reference "$OUT/ddim50.npy" ) --json >"$OUT/ddim$steps.json"
done
echo "== results (FID-proxy and friends against the Fashion-MNIST test split)"
/usr/bin/env python3 - "$OUT" <<'PY' 2>/dev/null || cat "$OUT"/ddim50.json "$OUT"/ddim25.json
import json, sys
out = sys.argv[1]
rows = [("DDIM-50", json.load(open(f"{out}/ddim50.json"))), ("DDIM-25", json.load(open(f"{out}/ddim25.json")))]
keys = ["fid", "sfid", "is_mean", "precision", "recall", "kid_mean", "class_consistency", "psnr", "ssim"]
print("| sampler | " + " | ".join(keys) + " |")
print("|---" * (len(keys) + 1) + "|")
for name, r in rows:
    print(f"| {name} | " + " | ".join(f"{r[k]:.4g}" if k in r else "-" for k in keys) + " |")
PY
echo "grids: $OUT/ddim50.png $OUT/ddim25.png"
