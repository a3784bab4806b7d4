#!/usr/bin/env bash
# Runs every test binary in $BUILD/tests and the shell tests in tests/*.sh, then
# prints the summary line "N passed, N failed". A binary that crashes or exits
# non-zero without printing a FAIL line still counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export LAZYDIT="$PWD/$BUILD/lazydit"
export LAZYDIT_BUILD="$PWD/$BUILD"
export PYTHON="${PYTHON:-/usr/bin/python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TEST_TMP="$tmp"
passed=0
failed=0
start=$(date +%s)
run_one() {
    local name=$1
    shift
    local out="$tmp/out.txt" t0 t1 rc
    t0=$(date +%s)
    "$@" >"$out" 2>"$tmp/err.txt"
    rc=$?
    t1=$(date +%s)
    local p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    grep '^FAIL ' "$out"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited $rc without a FAIL line; stderr tail:"
        tail -n 5 "$tmp/err.txt"
        f=1
    fi
    printf '%-36s %4d passed %3d failed %4ds\n' "$name" "$p" "$f" $((t1 - t0))
    passed=$((passed + p))
    failed=$((failed + f))
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    run_one "$(basename "$t")" "$t"
done
for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" bash "$s"
done
echo "suite time $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
