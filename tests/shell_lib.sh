# Helpers for tests/test_*.sh: same PASS/FAIL line protocol as tests/test.h.
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# expect_fail NAME PATTERN CMD...: the command must exit non-zero and print
# exactly one line on stderr that matches the extended regex PATTERN.
expect_fail() {
    local name=$1 pat=$2
    shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    local lines
    lines=$(printf '%s\n' "$err" | grep -c .)
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit 0, expected failure"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "expected one error line, got $lines: $err"
    elif ! printf '%s' "$err" | grep -Eq -- "$pat"; then
        fail "$name" "error '$err' does not match /$pat/"
    else
        pass "$name"
    fi
}
