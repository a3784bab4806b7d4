#!/usr/bin/env bash
# Every fuzz target's committed corpus (tests/fuzz/<target>/: seeds and the
# reproducers of crashes the fuzzers found, all fixed) replayed through the
# target's entry point without libFuzzer (build/fuzz/replay_<target>). Under
# `make asan` the same files run with ASan and UBSan.
cd "$(dirname "$0")/.."
. tests/shell_lib.sh
B=${LAZYDIT_BUILD:-build}
for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    n=$(ls "tests/fuzz/$t" 2>/dev/null | wc -l)
    if [ "$n" -eq 0 ]; then
        fail "fuzz corpus $t" "tests/fuzz/$t has no files"
        continue
    fi
    if out=$(TMPDIR=${TEST_TMP:-/tmp} "$B/fuzz/replay_$t" "tests/fuzz/$t" 2>&1); then
        crashes=$(ls "tests/fuzz/$t" | grep -c '^crash-')
        pass "fuzz corpus $t ($n files, $crashes reproducers)"
    else
        fail "fuzz corpus $t" "$(printf '%s' "$out" | grep -E 'ERROR|runtime error|ran ' | tail -n 2 | tr '\n' ' ')"
    fi
done
