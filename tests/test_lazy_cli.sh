#!/usr/bin/env bash
# lazydit sample --policy and lazydit calibrate from the command line: every
# policy runs and prints its accounting, --json-summary agrees with it and
# with a hand count, per-sample results do not depend on --batch for random
# and fora, calibration files round-trip into sample, and bad options give one
# line with exit status 2 (usage) or 1 (files, mismatched calibration).
set -u
source "$(dirname "$0")/shell_lib.sh"
PY=${PYTHON:-/usr/bin/python3}
T="$TEST_TMP/lazy_cli"
mkdir -p "$T"
M="$T/model.safetensors"
"$LAZYDIT" init --config DiT-S/2 --input-size 8 --in-channels 1 --classes 4 --depth 2 --hidden 32 --heads 2 \
    --learn-sigma --randomize-all --seed 3 --out "$M" >/dev/null
W="--weights $M --n 5 --steps 6 --quiet"

# expect_code NAME CODE PATTERN CMD...: exit status CODE and one stderr line matching PATTERN.
expect_code() {
    local name=$1 code=$2 pat=$3
    shift 3
    local err rc lines
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    lines=$(printf '%s\n' "$err" | grep -c .)
    if [ "$rc" -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $err"
    elif [ "$lines" -ne 1 ]; then fail "$name" "expected one error line, got $lines: $err"
    elif ! printf '%s' "$err" | grep -Eq -- "$pat"; then fail "$name" "error '$err' does not match /$pat/"
    else pass "$name"; fi
}

# --- calibration files for the model, then every policy through sample
if "$LAZYDIT" calibrate --policy teacache --weights "$M" --steps 6 --n 3 --out "$T/tea.json" --quiet >"$T/tea.txt" &&
    "$LAZYDIT" calibrate --policy smoothcache --weights "$M" --steps 6 --n 3 --lookahead 2 --out "$T/sm.json" \
        --quiet >"$T/sm.txt" &&
    grep -q 'R^2' "$T/tea.txt" && grep -q 'smoothcache attn' "$T/sm.txt"; then
    pass "calibrate writes teacache and smoothcache files"
else fail "calibrate writes teacache and smoothcache files" "$(cat "$T/tea.txt" "$T/sm.txt" 2>/dev/null)"; fi

run_policy() {  # NAME ARGS...: samples to $T/NAME.npy, summary to $T/NAME.json, stdout to $T/NAME.txt
    local name=$1
    shift
    "$LAZYDIT" sample $W --out "$T/$name.npy" --json-summary "$T/$name.json" "$@" >"$T/$name.txt" 2>"$T/$name.err"
}
ok=1
for spec in "ddim:" "random:--policy random --rate 0.4" "fora:--policy fora --interval 2" \
    "fora_mlp:--policy fora --interval 2 --modules mlp" "teacache:--policy teacache --delta 0.3 --calibration $T/tea.json" \
    "teacache_id:--policy teacache --delta 0.3" "smooth:--policy smoothcache --alpha 0.5 --calibration $T/sm.json" \
    "oracle:--policy oracle --tau 0.5"; do
    name=${spec%%:*}
    # shellcheck disable=SC2086
    if ! run_policy "$name" ${spec#*:}; then
        ok=0
        fail "sample with $name" "$(cat "$T/$name.err")"
    elif ! grep -q '^compute: .*MAC all matmuls' "$T/$name.txt" || ! grep -q '^lazy ratio: both' "$T/$name.txt" ||
        ! grep -q '^equal-budget DDIM steps: K = 6 x' "$T/$name.txt"; then
        ok=0
        fail "sample with $name prints the accounting" "$(cat "$T/$name.txt")"
    fi
done
[ $ok = 1 ] && pass "every policy samples and prints MACs, lazy ratios and the equal-budget K"
if grep -q 'note: teacache: no --calibration, using the identity polynomial' "$T/teacache_id.err" &&
    ! grep -q note "$T/teacache.err"; then pass "teacache without --calibration says it uses the identity polynomial"
else fail "teacache without --calibration says it uses the identity polynomial" "$(cat "$T/teacache_id.err")"; fi

# --- the JSON summaries: consistent with themselves and with a hand count.
# Model: 8x8x1, patch 2 (T = 16), D = 32, M = 128, 2 blocks, learn_sigma;
# 5 samples x 2 CFG rows x 6 steps = 60 model-row forwards.
if "$PY" - "$T" <<'PYEOF'; then pass "--json-summary: MACs equal the hand count; ratios, slots and K agree"
import json, sys
t = sys.argv[1]
T, D, M, L, F, Cin, Cout, p = 16, 32, 128, 2, 256, 1, 2, 2
always = T * D * Cin * p * p + F * D + D * D + 2 * D * D + T * D * Cout * p * p
ada, attn_lin, attn_mm, mlp = 6 * D * D, T * D * 3 * D + T * D * D, 2 * T * T * D, 2 * T * D * M
rows = 5 * 2 * 6
bad = []
for name in ["ddim", "random", "fora", "fora_mlp", "teacache", "teacache_id", "smooth", "oracle"]:
    s = json.load(open(f"{t}/{name}.json"))
    sl, m, r = s["slots"], s["macs"], s["lazy_ratio"]
    if sl["all"] != rows * L * 2: bad.append(f"{name}: {sl['all']} slots")
    if abs(r["both"] - sl["reused"] / sl["all"]) > 1e-12: bad.append(f"{name}: ratio")
    if abs(s["equal_budget_steps"] - 6 * (1 - r["both"])) > 1e-9: bad.append(f"{name}: K")
    if m["full_all"] != rows * (always + L * (ada + attn_lin + attn_mm + mlp)): bad.append(f"{name}: full MACs")
    stack = name.startswith("teacache")
    # executed modules: every slot minus the reused ones (the oracle computes them anyway)
    run_attn, run_mlp = sl["attn"] - sl["reused_attn"], sl["mlp"] - sl["reused_mlp"]
    if name == "oracle": run_attn, run_mlp = sl["attn"], sl["mlp"]
    # rows that entered the stack: every row, or for teacache the rows whose slots were not all reused
    stack_rows = rows - (sl["reused"] // (2 * L) if stack else 0)
    lin = rows * always + stack_rows * L * ada + (rows * ada if stack else 0) + run_attn * attn_lin + run_mlp * mlp
    if m["linear"] != lin or m["all"] != lin + run_attn * attn_mm: bad.append(f"{name}: MACs {m['linear']} vs {lin}")
    if m["decision_overhead"] != (rows * ada if stack else 0): bad.append(f"{name}: overhead {m['decision_overhead']}")
    if s["policy"]["name"] != (name.split("_")[0] if name != "smooth" else "smoothcache"): bad.append(f"{name}: policy")
want = {"ddim": (0, 0), "fora": (0.5, 0.5), "fora_mlp": (0, 0.5)}
for name, (a, b) in want.items():
    r = json.load(open(f"{t}/{name}.json"))["lazy_ratio"]
    if abs(r["attn"] - a) > 1e-12 or abs(r["mlp"] - b) > 1e-12: bad.append(f"{name}: ratios {r}")
for name in ["random", "teacache", "smooth", "oracle"]:
    if json.load(open(f"{t}/{name}.json"))["slots"]["reused"] == 0: bad.append(f"{name}: nothing reused")
for b in bad: print("# " + b)
sys.exit(1 if bad else 0)
PYEOF
else fail "--json-summary: MACs equal the hand count; ratios, slots and K agree" "see above"; fi

# --- per-sample results do not depend on --batch (random, fora)
for pol in "random --rate 0.5" "fora --interval 3"; do
    name=${pol%% *}
    # shellcheck disable=SC2086
    "$LAZYDIT" sample $W --policy $pol --batch 2 --out "$T/b2_$name.npy" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$LAZYDIT" sample $W --policy $pol --batch 5 --out "$T/b5_$name.npy" >/dev/null 2>&1
    if "$PY" -c "
import sys, numpy as np
a = np.load('$T/b2_$name.npy'); b = np.load('$T/b5_$name.npy')
rel = np.abs(a - b).max() / np.abs(b).max()
print('# $name: batch 2 vs 5 relative difference %.3g' % rel)
sys.exit(0 if rel <= 1e-5 else 1)
"; then pass "$name: --batch 2 equals --batch 5 per sample"
    else fail "$name: --batch 2 equals --batch 5 per sample" "differ"; fi
done

# --- errors: usage (2) and user errors (1), one line each
S="$LAZYDIT sample $W --out $T/e.npy"
expect_code "unknown option" 2 "unknown option '--speed'" $S --policy fora --speed 2
expect_code "option of another policy names it" 2 "policy fora has no option --rate \(it is an option of random\)" \
    $S --policy fora --interval 2 --rate 0.5
expect_code "option without --policy" 2 "policy ddim has no option --tau \(it is an option of oracle\)" $S --tau 0.5
expect_code "out of range" 2 "policy random: --rate: 1.5 is outside \[0, 1\]" $S --policy random --rate 1.5
expect_code "not a number" 2 "policy oracle: --tau: 'high' is not a finite number" $S --policy oracle --tau high
expect_code "missing required option" 2 "policy fora: --interval is required" $S --policy fora
expect_code "unknown policy" 2 "unknown policy 'lazy' \(known: ddim, random, fora" $S --policy lazy
expect_code "bad --modules" 2 "--modules 'ffn' \(expected attn, mlp or both\)" $S --policy fora --interval 2 --modules ffn
expect_code "teacache --modules attn" 2 "policy teacache: --modules attn: teacache reuses the whole block stack" \
    $S --policy teacache --delta 0.1 --modules attn
expect_code "smoothcache needs a calibration" 2 "policy smoothcache: --calibration is required" \
    $S --policy smoothcache --alpha 0.1
expect_code "missing calibration file" 1 "$T/none.json: cannot open" \
    $S --policy teacache --delta 0.1 --calibration "$T/none.json"
expect_code "calibration for other steps" 1 "tea.json: calibrated for 6 sampling steps but this run has 8" \
    "$LAZYDIT" sample --weights "$M" --n 2 --steps 8 --quiet --policy teacache --delta 0.1 --calibration "$T/tea.json" \
    --out "$T/e.npy"
expect_code "calibration for another respacing" 1 "calibrated with respacing '6' but this run uses 'ddim6'" \
    "$LAZYDIT" sample --weights "$M" --n 2 --respacing ddim6 --quiet --policy smoothcache --alpha 0.1 \
    --calibration "$T/sm.json" --out "$T/e.npy"
"$LAZYDIT" init --config DiT-S/2 --input-size 8 --in-channels 1 --classes 4 --depth 2 --hidden 32 --heads 2 \
    --learn-sigma --randomize-all --seed 4 --out "$T/other.safetensors" >/dev/null
expect_code "calibration for another model" 1 "calibrated for the model with SHA-256 .* but the weights are" \
    "$LAZYDIT" sample --weights "$T/other.safetensors" --n 2 --steps 6 --quiet --policy teacache --delta 0.1 \
    --calibration "$T/tea.json" --out "$T/e.npy"
expect_code "calibration of the other policy" 1 "sm.json: a smoothcache calibration, not one for teacache" \
    $S --policy teacache --delta 0.1 --calibration "$T/sm.json"
expect_code "calibrate: unknown policy" 2 "--policy 'fora': calibration exists for teacache and smoothcache" \
    "$LAZYDIT" calibrate --policy fora --weights "$M" --steps 6 --out "$T/e.json"
expect_code "calibrate: --lookahead with teacache" 2 "--lookahead applies to smoothcache only" \
    "$LAZYDIT" calibrate --policy teacache --weights "$M" --steps 6 --lookahead 2 --out "$T/e.json"
expect_code "calibrate: lookahead too long" 2 "--lookahead 6 must be in 1..16 and below --steps 6" \
    "$LAZYDIT" calibrate --policy smoothcache --weights "$M" --steps 6 --lookahead 6 --out "$T/e.json"
[ -e "$T/e.npy" ] || [ -e "$T/e.json" ] && fail "failed runs write no output" "output exists" ||
    pass "failed runs write no output"
