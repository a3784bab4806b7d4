#!/usr/bin/env bash
# The training-free policies against DDIM on the committed default model:
# 500 samples (seed 0, labels i % 10), 20 steps, cfg 1.5. DDIM at 20 and at
# the equal-budget 10 steps, and fora, random, teacache, smoothcache and the
# oracle near 50% laziness (teacache and smoothcache calibrated by
# `lazydit calibrate` on 32 calibration samples). Scored by `lazydit eval`
# against the test split, with PSNR/SSIM against DDIM-20 from the same noise.
# Writes results/policies/: samples, --json-summary files, eval JSON, and
# table.md. Resumable: finished settings are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L="$BUILD/lazydit"
Q=results/policies
N=${POLICIES_N:-500}
mkdir -p "$Q"
M=models/fmnist_dit.safetensors
[ -f "$Q/tea20.json" ] || "$L" calibrate --policy teacache --weights $M --steps 20 --quiet --out "$Q/tea20.json"
[ -f "$Q/sm20.json" ] || "$L" calibrate --policy smoothcache --weights $M --steps 20 --quiet --out "$Q/sm20.json"
run() {  # NAME ARGS...
    local name=$1
    shift
    [ -f "$Q/$name.eval.json" ] && return 0
    "$L" sample --weights $M --n "$N" --seed 0 --batch 100 --quiet "$@" --out "$Q/$name.npy" \
        --json-summary "$Q/$name.summary.json" >"$Q/$name.txt"
    local ref=()
    [ "$name" != ddim20 ] && ref=(--reference "$Q/ddim20.npy")
    "$L" eval --samples "$Q/$name.npy" --labels "$Q/${name}_labels.npy" "${ref[@]}" --json >"$Q/$name.eval.tmp"
    mv "$Q/$name.eval.tmp" "$Q/$name.eval.json"
}
run ddim20 --steps 20
run ddim10 --steps 10
run fora2 --steps 20 --policy fora --interval 2
run random053 --steps 20 --policy random --rate 0.53
run teacache015 --steps 20 --policy teacache --delta 0.15 --calibration "$Q/tea20.json"
run smooth02 --steps 20 --policy smoothcache --alpha 0.2 --calibration "$Q/sm20.json"
run oracle098 --steps 20 --policy oracle --tau 0.98
"${PYTHON:-/usr/bin/python3}" - "$Q" <<'PYEOF' | tee "$Q/table.md"
import json, sys
q = sys.argv[1]
print("| setting | lazy ratio | equal-budget K | GMAC/sample (all) | FID-proxy | class consistency | PSNR vs DDIM-20 |")
print("|---|---|---|---|---|---|---|")
for name in ["ddim20", "ddim10", "fora2", "random053", "teacache015", "smooth02", "oracle098"]:
    s, e = json.load(open(f"{q}/{name}.summary.json")), json.load(open(f"{q}/{name}.eval.json"))
    pol = s["policy"]
    opts = " ".join(f"--{k} {v}" for k, v in pol.items() if k not in ("name", "modules", "calibration"))
    label = f"{pol['name']} {opts}".strip() + f", {s['steps']} steps"
    psnr = f"{e['psnr']:.2f}" if "psnr" in e else "-"
    print(f"| {label} | {s['lazy_ratio']['both']:.3f} | {s['equal_budget_steps']:.1f} | "
          f"{s['macs']['all'] / s['samples'] / 1e9:.3f} | {e['fid']:.2f} | {e['class_consistency']:.3f} | {psnr} |")
PYEOF
