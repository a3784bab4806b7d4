#!/usr/bin/env bash
# The committed feature classifier (models/classifier.safetensors, trained by
# `build/lazydit train-classifier --config experiments/models/classifier.json`)
# must reach >= 90% on the Fashion-MNIST test split and stay under 2 MB.
source "$(dirname "$0")/shell_lib.sh"
W=models/classifier.safetensors
if [ ! -f "$W" ]; then
    fail "classifier weights present" "$W missing"
    exit 0
fi
size=$(stat -c %s "$W")
if [ "$size" -lt 2000000 ]; then pass "classifier weights under 2 MB ($size bytes)"; else fail "classifier weights under 2 MB" "$size bytes"; fi
out=$("$LAZYDIT" classify --weights "$W" --data test --min-accuracy 0.90 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -Eq '^accuracy 0\.(9|1)[0-9]* \([0-9]+/10000\)'; then
    pass "classifier test-split accuracy >= 0.90: ${out%% (*}"
else
    fail "classifier test-split accuracy >= 0.90" "rc $rc: $out"
fi
