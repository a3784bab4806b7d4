#!/usr/bin/env bash
# The committed learned lazy policies of the default model: LazyDiT gates and
# Learning-to-Cache routers for 10, 20 and 50 DDIM steps, each calibrated to
# lazy ratios 0.1, 0.2, 0.3, 0.4 and 0.5 (models/gates/). Their evaluation
# against DDIM at the equal-budget step count K x (1 - ratio) is the experiment
# experiments/paper_table5.json (`lazydit run`, then `lazydit report`).
#
#   experiments/lazy_gates.sh train K       LazyDiT gates for K steps (results/gates/lazydit_kK/)
#   experiments/lazy_gates.sh train-l2c K   the L2C router for K steps (results/gates/l2c_kK/)
#   experiments/lazy_gates.sh train-odd K   gates trained with --odd-steps-only (the shipped code's draw;
#                                           calibrated files in results/gates/files/, not committed)
# Kinds: lazydit (gates, published rule), l2c (router), lazyditodd (the shipped
# code's odd-step training), lazydits1 (the lazydit gates with --staleness 1).
#   experiments/lazy_gates.sh calibrate K   models/gates/{lazydit,l2c}_kK_rRR.safetensors from those trainings
#   experiments/lazy_gates.sh ablation K    the module ablation's files from the lazydit training of K:
#                                           models/gates/lazydit_attn_kK_rRR.safetensors (calibrate-gates
#                                           --modules attn: RR% of the attention slots reused, MLP always
#                                           computed), lazydit_mlp_kK_rRR (the same for MLP) and the
#                                           lazydit_kK_rRR (both) that are missing; RATIOS defaults to
#                                           "0.1 0.2 0.3 0.4 0.5" here (experiments/ablation_modules.json)
#   experiments/lazy_gates.sh table         the README table, from results/paper_table5.db (DB=...)
#
# KINDS (default "lazydit l2c") and RATIOS (default "0.1 0.2 0.3 0.4 0.5") restrict calibrate;
# MODULES (default "attn mlp both") restricts ablation.
# Every stage is resumable: a training resumes from its checkpoint, and files
# that exist are not made again (delete one to redo it). Run in the background
# with low priority, e.g.
#   nohup nice -n 10 experiments/lazy_gates.sh train 20 > results/gates/train_k20.log 2>&1 &
set -euo pipefail
cd "${LAZYDIT_ROOT:-$(dirname "$0")/..}"
BUILD=${BUILD:-build}
L=${LAZYDIT_BIN:-$BUILD/lazydit}
RATIOS_GIVEN=${RATIOS:-}
RATIOS=${RATIOS:-"0.1 0.2 0.3 0.4 0.5"}
W=models/fmnist_dit.safetensors
OUT=results/gates
mkdir -p "$OUT" models/gates

# About 30 optimizer steps per trained sampling step (K - 1 steps for gates, K / 2 for routers).
lazy_iters() { echo $((30 * $1)); }
l2c_iters() { echo $((30 * ($1 / 2))); }
# A metadata value of a safetensors file (8-byte little-endian header length, JSON header).
st_meta() { head -c "$(($(od -An -tu8 -N8 "$1" | tr -d ' ') + 8))" "$1" | tail -c +9 | jq -r ".__metadata__.$2"; }
rr() { printf '%02d' "$(echo "$1 * 100 / 1" | bc)"; }

# The trained file of a kind, its option, and its calibrated file for ratio RR (percent).
source_of() {
    case $1 in
    lazydit) echo "$OUT/lazydit_k$2/gates.safetensors" ;;
    l2c) echo "$OUT/l2c_k$2/router.safetensors" ;;
    lazyditodd) echo "$OUT/lazyditodd_k$2/gates.safetensors" ;;
    lazydits1) echo "$OUT/lazydit_k$2/gates.safetensors" ;;  # the same gates, --staleness 1
    esac
}
extra_of() { [ "$1" = lazydits1 ] && echo --staleness 1 || true; }
option_of() { [ "$1" = l2c ] && echo --router || echo --gates; }
file_of() {
    case $1 in
    lazyditodd | lazydits1) echo "$OUT/files/$1_k$2_r$3.safetensors" ;;
    *) echo "models/gates/$1_k$2_r$3.safetensors" ;;
    esac
}
mkdir -p "$OUT/files"

stage=${1:?usage: experiments/lazy_gates.sh train|train-odd|train-l2c|calibrate|ablation|table [K]}
K=${2:-}

case "$stage" in
train)
    "$L" train-lazy --weights "$W" --out-dir "$OUT/lazydit_k$K" --steps "$K" --iterations "$(lazy_iters "$K")" \
        --batch 32 --lr 1e-4 --rho 1e-5 --seed 0 --log-every 50
    ;;
train-odd)
    # The shipped code's step draw (--odd-steps-only), for comparison; its files stay in results/.
    # Only half the steps can be lazy, so it needs a larger rho for the same ratios (at 1e-5 it
    # reaches 0.165 at threshold 0.5 for K = 20; below 0.5 the untrained half reuses as well).
    "$L" train-lazy --weights "$W" --out-dir "$OUT/lazyditodd_k$K" --steps "$K" --iterations "$(lazy_iters "$K")" \
        --batch 32 --lr 1e-4 --rho 1e-4 --seed 0 --odd-steps-only --log-every 50
    ;;
train-l2c)
    "$L" train-l2c --weights "$W" --out-dir "$OUT/l2c_k$K" --steps "$K" --iterations "$(l2c_iters "$K")" \
        --batch 32 --lr 1e-2 --lambda 1e-5 --seed 0 --log-every 50
    ;;
calibrate)
    # One calibration run per file serves every target (measurements are shared).
    targets=$(echo $RATIOS | tr ' ' ,)
    for kind in ${KINDS:-lazydit l2c}; do
        src=$(source_of "$kind" "$K") opt=$(option_of "$kind")
        [ -f "$src" ] || continue
        missing=0
        for r in $RATIOS; do [ -f "$(file_of "$kind" "$K" "$(rr "$r")")" ] || missing=1; done
        # A target the file cannot reach (within 2 points) gets no file; the others are still written.
        [ "$missing" = 0 ] || "$L" calibrate-gates --weights "$W" $opt "$src" $(extra_of "$kind") --target-ratio "$targets" \
            --out "$(file_of "$kind" "$K" "{r}")" || true
    done
    ;;
ablation)
    # Attention-only and MLP-only laziness (the paper's Figure 5) from the same trained gates:
    # calibrate-gates --modules M runs the policy on that family only and calibrates its ratio
    # (reused M slots / M slots); the file records modules = M. "both" fills in the published
    # rule's files that the calibrate stage does not make (0.1 by default).
    ratios=${RATIOS_GIVEN:-"0.1 0.2 0.3 0.4 0.5"}
    src=$(source_of lazydit "$K")
    [ -f "$src" ] || { echo "lazy_gates.sh ablation: $src is missing (run the train stage first)" >&2; exit 1; }
    for mod in ${MODULES:-attn mlp both}; do
        case $mod in
        attn | mlp) name=lazydit_${mod} ;;
        both) name=lazydit ;;
        *) echo "lazy_gates.sh ablation: MODULES: '$mod' is not attn, mlp or both" >&2; exit 2 ;;
        esac
        # Only the missing targets: a file that exists is never rewritten (the shared measurements
        # of another target set could move its threshold).
        targets=
        for r in $ratios; do
            [ -f "models/gates/${name}_k${K}_r$(rr "$r").safetensors" ] || targets=${targets:+$targets,}$r
        done
        # A target the family cannot reach (within 2 points) gets no file; the others are still written.
        [ -z "$targets" ] || "$L" calibrate-gates --weights "$W" --gates "$src" --modules "$mod" --target-ratio "$targets" \
            --out "models/gates/${name}_k${K}_r{r}.safetensors" || true
    done
    ;;
table)
    # The README table of the committed files, from the evaluation database of
    # experiments/paper_table5.json (1000 samples of seed 0 per run, the same noise for every run):
    #   build/lazydit run experiments/paper_table5.json --db results/paper_table5.db
    DB=${DB:-results/paper_table5.db}
    [ -f "$DB" ] || { echo "no $DB: run experiments/paper_table5.json first" >&2; exit 1; }
    q() { sqlite3 -batch -noheader -separator '|' "$DB" "$1"; }
    fid() {  # run_id -> "value [lo, hi]"
        q "SELECT printf('%.2f [%.2f, %.2f]', value, ci_low, ci_high) FROM metrics WHERE run_id = $1 AND name = 'fid'"
    }
    echo "| file | steps | calibrated ratio (seed 1, 200 samples) | threshold | realised ratio (seed 0) | FID-proxy [95% CI] | equal-budget DDIM | its FID-proxy [95% CI] |"
    echo "|---|---|---|---|---|---|---|---|"
    q "SELECT run_id, steps, coalesce(json_extract(policy_json, '\$.gates'), json_extract(policy_json, '\$.router')),
              printf('%.3f', lazy_ratio), n_samples
         FROM runs WHERE policy IN ('lazydit', 'l2c') AND status = 'done' AND json_extract(policy_json, '\$.modules') = 'both'
         ORDER BY policy DESC, steps, 3" |
        while IFS='|' read -r id S g ratio n; do
            R=${g##*_r}
            R=${R%%.*}
            kb=$((S * (100 - 10#$R) / 100))
            ddim=$(q "SELECT run_id FROM runs WHERE policy = 'ddim' AND steps = $kb AND status = 'done' AND n_samples = $n LIMIT 1")
            printf '| `%s` | %s | %.3f | %.4g | %s (N = %s) | %s | DDIM-%s | %s |\n' "$(basename "$g")" "$S" \
                "$(st_meta "$g" realised_ratio)" "$(st_meta "$g" threshold)" "$ratio" "$n" "$(fid "$id")" "$kb" \
                "$([ -n "$ddim" ] && fid "$ddim" || echo -)"
        done
    ;;
*)
    echo "unknown stage '$stage'" >&2
    exit 2
    ;;
esac
