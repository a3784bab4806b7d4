#!/usr/bin/env bash
# The fuzzing campaign behind docs/robustness.md: each target in turn (or those
# named) for RUNS executions at low priority, starting from its committed
# corpus; the working corpus, crash artifacts and logs go to results/fuzz/.
#   RUNS=1000000 bash tests/fuzz/campaign.sh [target...]
# MAX_TIME=S also stops each target after S seconds (for the slow ones).
# Resumable: a rerun continues from results/fuzz/<target>/corpus. Summarise with
#   bash tests/fuzz/summary.sh
set -u
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-1000000}
OUT=results/fuzz
mkdir -p "$OUT"
make -s fuzz >/dev/null || exit 1
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls build-fuzz/fuzz | sed 's/^fuzz_//'))
for t in "${targets[@]}"; do
    mkdir -p "$OUT/$t/corpus" "$OUT/$t/artifacts"
    echo "$(date -Is) $t: $RUNS runs" >>"$OUT/campaign.log"
    # The scratch file each input is written to lives in memory (/dev/shm): 3x faster than a disk.
    TMPDIR=${FUZZ_TMPDIR:-/dev/shm} nice -n 15 build-fuzz/fuzz/fuzz_"$t" "$OUT/$t/corpus" "tests/fuzz/$t" \
        -runs="$RUNS" ${MAX_TIME:+-max_total_time=$MAX_TIME} -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$OUT/$t/artifacts/" >"$OUT/$t.log" 2>&1
    rc=$?
    echo "$(date -Is) $t: exit $rc" >>"$OUT/campaign.log"
done
