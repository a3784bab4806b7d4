#!/usr/bin/env bash
# `make demo` / `./run demo`: the demo experiment (experiments/demo.json) on the
# committed models. DDIM at 20 steps, LazyDiT at 20 steps with the committed
# gates at 50% laziness, and DDIM at 10 steps (the equal budget of the LazyDiT
# run), 500 samples each from the same per-sample noise, every step and layer
# recorded, scored with the project's classifier (FID-, sFID-, IS-proxy,
# precision/recall, KID, class consistency, and PSNR/SSIM against DDIM-20).
# Writes results/demo.db and results/demo/REPORT.md with its figures, and
# prints the main table. About 100 s on 2 quiet cores, build included.
#
# DEMO_RESUME=1 keeps an existing results/demo.db (finished runs are skipped);
# by default the demo starts from an empty database.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L="$BUILD/lazydit"
CONFIG=experiments/demo.json
DB=results/demo.db
OUT=results/demo
GATES=models/gates/lazydit_k20_r50.safetensors

[ -f "$GATES" ] || { echo "demo: $GATES is missing (it is committed; restore it with git checkout)" >&2; exit 1; }
mkdir -p results
[ "${DEMO_RESUME:-0}" = 1 ] || rm -f "$DB" "$DB-wal" "$DB-shm"
start=$(date +%s)
"$L" run "$CONFIG" --db "$DB"
"$L" report "$DB" --out "$OUT"
echo "demo: $(($(date +%s) - start)) s; report: $OUT/REPORT.md (figures next to it), database: $DB"
