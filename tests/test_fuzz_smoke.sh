#!/usr/bin/env bash
# A short libFuzzer run of every target (FUZZ_SMOKE_SECONDS each, default 5) on
# a scratch copy of its committed corpus: builds `make fuzz` (clang-14 with
# libFuzzer, ASan, UBSan) first. A crash fails the test and its input is kept in
# results/fuzz-smoke/ to be fixed and committed as tests/fuzz/<target>/crash-*.
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
SECS=${FUZZ_SMOKE_SECONDS:-5}
if ! command -v "${FUZZ_CC:-clang-14}" >/dev/null; then
    fail "fuzz smoke" "${FUZZ_CC:-clang-14} not found (apt-get install clang-14 libclang-rt-14-dev)"
    exit 0
fi
if ! out=$(make -s fuzz 2>&1); then
    fail "fuzz smoke build" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    exit 0
fi
pass "make fuzz builds every target"
tmp=${TEST_TMP:-$(mktemp -d)}/fuzz_smoke
keep=results/fuzz-smoke
for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    rm -rf "$tmp/$t" && mkdir -p "$tmp/$t/corpus" "$tmp/$t/art"
    cp tests/fuzz/"$t"/* "$tmp/$t/corpus/"
    TMPDIR=$([ -w /dev/shm ] && echo /dev/shm || echo "$tmp") build-fuzz/fuzz/fuzz_"$t" "$tmp/$t/corpus" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -artifact_prefix="$tmp/$t/art/" >"$tmp/$t/log" 2>&1
    rc=$?
    runs=$(grep -E '^#[0-9]+' "$tmp/$t/log" | tail -n 1 | grep -oE '^#[0-9]+' | tr -d '#')
    if [ "$rc" -eq 0 ] && [ -z "$(ls "$tmp/$t/art")" ]; then
        pass "fuzz smoke $t (${runs:-0} executions in ${SECS}s)"
    else
        mkdir -p "$keep/$t" && cp "$tmp/$t"/art/* "$tmp/$t/log" "$keep/$t/" 2>/dev/null
        fail "fuzz smoke $t" "exit $rc, $(grep -m1 -E 'ERROR|runtime error' "$tmp/$t/log"); input kept in $keep/$t"
    fi
done
