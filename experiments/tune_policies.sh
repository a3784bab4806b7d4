#!/usr/bin/env bash
# Writes experiments/policies.json: every policy at 20, 30, 40 and 50% saved
# compute (lazy ratio), at 10, 20 and 50 steps, each beside its equal-budget
# DDIM runs. What it has to find first:
#   * teacache and smoothcache calibration files per step count
#     (models/calibration/{teacache,smoothcache}_s<S>.json, `lazydit calibrate`);
#   * the threshold of each training-free policy that gives each target ratio:
#     bisection of teacache --delta, smoothcache --alpha and oracle --tau on the
#     realised lazy ratio of `lazydit sample` with --seed 1 (the evaluation uses
#     seed 0, so the search never sees the evaluated noise), TUNE_N samples;
#   * random: --rate r S / (S - 1) (the first step always computes);
#   * fora: its ratio is set by the integer interval: only --interval 2 (~50%)
#     lies in the range;
#   * lazydit and l2c: the committed gate and router files for (S, r)
#     (models/gates/lazydit_k<S>_r<R>.safetensors, l2c_k<S>_r<R>.safetensors: the names experiments/lazy_gates.sh gives them).
# Measured ratios are cached in results/tune/ratios.txt, so a rerun only
# samples what it has not measured. Usage:
#   bash experiments/tune_policies.sh            # TUNE_N (default 50) samples per probe
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
L=${LAZYDIT:-$BUILD/lazydit}
W=models/fmnist_dit.safetensors
N=${TUNE_N:-50}
TOL=${TUNE_TOL:-0.01}   # stop when the realised ratio is this close to the target
ITERS=${TUNE_ITERS:-12}
read -r -a STEPS <<<"${TUNE_STEPS:-10 20 50}"
read -r -a TARGETS <<<"${TUNE_TARGETS:-20 30 40 50}"   # percent
CACHE=results/tune/ratios.txt
mkdir -p results/tune models/calibration
touch "$CACHE"

# ratio POLICY STEPS OPTION VALUE [extra options...]: realised lazy ratio (both modules).
ratio() {
    local pol=$1 s=$2 opt=$3 val=$4
    shift 4
    local key="$pol $s $opt $val $N"
    local hit
    hit=$(awk -v k="$key" 'substr($0, 1, length(k) + 1) == k " " { print $NF }' "$CACHE" | tail -n 1)
    if [ -n "$hit" ]; then
        echo "$hit"
        return
    fi
    local out r
    out=$("$L" sample --weights "$W" --n "$N" --seed 1 --steps "$s" --batch "$N" --quiet --policy "$pol" \
        "--$opt" "$val" "$@" --out results/tune/probe.npy 2>&1) || {
        echo "tune: lazydit sample --policy $pol --$opt $val failed: $out" >&2
        exit 1
    }
    r=$(sed -n 's/^lazy ratio: both \([0-9.]*\),.*/\1/p' <<<"$out")
    [ -n "$r" ] || {
        echo "tune: no 'lazy ratio:' line from lazydit sample --policy $pol" >&2
        exit 1
    }
    echo "$key $r" >>"$CACHE"
    echo "$r"
}

# search POLICY STEPS OPTION LO HI DIRECTION TARGET [extra...]: the value whose ratio is
# closest to TARGET (a fraction); DIRECTION +1 if the ratio grows with the value, -1 if it falls.
search() {
    local pol=$1 s=$2 opt=$3 lo=$4 hi=$5 dir=$6 target=$7
    shift 7
    local best="" best_err=9 i mid r err
    for ((i = 0; i < ITERS; i++)); do
        mid=$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.6g", (a + b) / 2 }')
        r=$(ratio "$pol" "$s" "$opt" "$mid" "$@")
        err=$(awk -v r="$r" -v t="$target" 'BEGIN { d = r - t; printf "%.6f", d < 0 ? -d : d }')
        if awk -v e="$err" -v b="$best_err" 'BEGIN { exit !(e < b) }'; then
            best=$mid
            best_err=$err
        fi
        awk -v e="$err" -v t="$TOL" 'BEGIN { exit !(e <= t) }' && break
        # Too little reuse: move toward more reuse.
        if awk -v r="$r" -v t="$target" -v d="$dir" 'BEGIN { exit !((r < t) == (d > 0)) }'; then lo=$mid; else hi=$mid; fi
    done
    echo "tune: $pol $s steps target $target: --$opt $best (|ratio - target| = $best_err)" >&2
    echo "$best"
}

groups=()
for s in "${STEPS[@]}"; do
    for pol in teacache smoothcache; do
        cal=models/calibration/${pol}_s$s.json
        [ -f "$cal" ] || "$L" calibrate --policy "$pol" --weights "$W" --steps "$s" --n 32 --seed 1 --out "$cal"
    done
    entries=()
    ddim_steps=("$s")
    for t in "${TARGETS[@]}"; do
        r=$(awk -v t="$t" 'BEGIN { printf "%.2f", t / 100 }')
        ddim_steps+=("$(awk -v s="$s" -v r="$r" 'BEGIN { printf "%d", int(s * (1 - r) + 0.5) }')")
        rate=$(awk -v s="$s" -v r="$r" 'BEGIN { x = r * s / (s - 1); printf "%.6g", (x > 1 ? 1 : x) }')
        delta=$(search teacache "$s" delta 0 4 1 "$r" --calibration "models/calibration/teacache_s$s.json")
        alpha=$(search smoothcache "$s" alpha 0 2 1 "$r" --calibration "models/calibration/smoothcache_s$s.json")
        tau=$(search oracle "$s" tau -1 1 -1 "$r")
        entries+=("{\"name\": \"lazydit\", \"gates\": \"models/gates/lazydit_k${s}_r$t.safetensors\"}")
        entries+=("{\"name\": \"l2c\", \"router\": \"models/gates/l2c_k${s}_r$t.safetensors\"}")
        entries+=("{\"name\": \"teacache\", \"delta\": $delta, \"calibration\": \"models/calibration/teacache_s$s.json\"}")
        entries+=("{\"name\": \"smoothcache\", \"alpha\": $alpha, \"calibration\": \"models/calibration/smoothcache_s$s.json\"}")
        entries+=("{\"name\": \"random\", \"rate\": $rate}")
        entries+=("{\"name\": \"oracle\", \"tau\": $tau}")
    done
    entries+=("{\"name\": \"fora\", \"interval\": 2}")
    pj=$(printf ',\n        %s' "${entries[@]}")
    groups+=("    {
      \"name\": \"ddim-s$s\",
      \"policy\": {\"name\": \"ddim\"},
      \"steps\": [$(IFS=,; echo "${ddim_steps[*]}" | sed 's/,/, /g')]
    },
    {
      \"name\": \"policies-s$s\",
      \"steps\": $s,
      \"policy\": [${pj#,}
      ]
    }")
done
{
    cat <<'EOF'
{
  "name": "policies",
  "model": "models/fmnist_dit.safetensors",
  "n_samples": 1000,
  "batch": 100,
  "labels": "cycle",
  "cfg_scale": 1.5,
  "seed": 0,
  "metrics": {
    "compute": ["fid", "sfid", "is", "precision", "recall", "kid", "class_consistency"],
    "bootstrap": 200,
    "seed": 0
  },
  "runs": [
EOF
    printf '%s' "${groups[0]}"
    for g in "${groups[@]:1}"; do printf ',\n%s' "$g"; done
    printf '\n  ]\n}\n'
} >experiments/policies.json.tmp
mv experiments/policies.json.tmp experiments/policies.json
echo "tune: wrote experiments/policies.json"
