#!/usr/bin/env bash
# Every committed report regenerates from its committed database: for each
# results/X.db with results/X/REPORT.md, `lazydit report --no-render` writes
# REPORT.md, the .dat data and the .gp scripts byte for byte as committed (the
# PNG and SVG renderings depend on the gnuplot and font build, so they are left
# out; test_report checks that rendering is deterministic).
set -u
source "$(dirname "$0")/shell_lib.sh"
cd "$(dirname "$0")/.."
T="$TEST_TMP/committed_reports"
mkdir -p "$T"
found=0
for db in results/*.db; do
    [ -f "$db" ] || continue
    name=$(basename "$db" .db)
    dir=results/$name
    [ -f "$dir/REPORT.md" ] || continue
    found=$((found + 1))
    # Read a copy: opening the committed WAL-mode file would leave -shm/-wal files next to it.
    cp "$db" "$T/$name.db"
    if ! "$LAZYDIT" report "$T/$name.db" --out "$T/$name" --no-render --quiet 2>"$T/err"; then
        fail "committed_report_$name" "lazydit report failed: $(head -c 300 "$T/err")"
        continue
    fi
    bad=""
    for f in "$dir"/REPORT.md "$dir"/*.dat "$dir"/*.gp; do
        cmp -s "$f" "$T/$name/$(basename "$f")" || bad="$bad $(basename "$f")"
    done
    for f in "$T/$name"/*; do
        [ -f "$dir/$(basename "$f")" ] || bad="$bad (new: $(basename "$f"))"
    done
    if [ -z "$bad" ]; then
        pass "committed_report_$name"
    else
        fail "committed_report_$name" "differs from a regeneration:$bad (rerun: lazydit report $db --out $dir)"
    fi
done
[ "$found" -gt 0 ] && pass committed_reports_present || fail committed_reports_present "no results/X.db with results/X/REPORT.md"
