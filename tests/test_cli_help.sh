#!/usr/bin/env bash
# Every subcommand listed by `lazydit --help` answers --help with its usage
# line and exit status 0; unknown commands and options are usage errors (2).
source "$(dirname "$0")/shell_lib.sh"
cmds=$("$LAZYDIT" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
[ "$(echo "$cmds" | wc -w)" -ge 10 ] && pass "lazydit --help lists the subcommands" ||
    fail "lazydit --help lists the subcommands" "got: $cmds"
for c in $cmds; do
    out=$("$LAZYDIT" "$c" --help 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "$out" | grep -q "^usage: lazydit $c" && pass "$c --help" ||
        fail "$c --help" "exit $rc: $(echo "$out" | head -1)"
done
"$LAZYDIT" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] && pass "unknown command exits 2" || fail "unknown command exits 2" "other status"
"$LAZYDIT" sample --bogus >/dev/null 2>&1
[ $? -eq 2 ] && pass "unknown option exits 2" || fail "unknown option exits 2" "other status"

# The error idiom (cli/cli_common.h): a usage error (out-of-range or
# conflicting options included) is one line "lazydit <command>: ... (see
# lazydit <command> --help)" with exit status 2; any other user error (here:
# a missing file) is one line "lazydit <command>: ..." with exit status 1.
usage_case() {  # NAME PATTERN CMD...: exit 2 and one matching line
    local name=$1 pat=$2 err rc
    shift 2
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && printf '%s' "$err" | grep -Eq -- "$pat"; then
        pass "$name"
    else
        fail "$name" "exit $rc: $err"
    fi
}
fail_case() {  # NAME PATTERN CMD...: exit 1 and one matching line
    local name=$1 pat=$2 err rc
    shift 2
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && printf '%s' "$err" | grep -Eq -- "$pat"; then
        pass "$name"
    else
        fail "$name" "exit $rc: $err"
    fi
}
N="$TEST_TMP/cli_idiom_nope"
usage_case "usage: missing option (exit 2, prefixed)" '^lazydit metrics: missing required option --fake \(see lazydit metrics --help\)$' \
    "$LAZYDIT" metrics --real "$N.npy"
usage_case "usage: value out of range (exit 2)" '^lazydit metrics: --k 0 must be >= 1 \(see lazydit metrics --help\)$' \
    "$LAZYDIT" metrics --real "$N.npy" --fake "$N.npy" --k 0
usage_case "usage: eval --seed -1 (exit 2)" '^lazydit eval: --seed -1 must be >= 0' "$LAZYDIT" eval --samples "$N.npy" --seed -1
usage_case "usage: conflicting options (exit 2)" '^lazydit classify: --labels needs --images' \
    "$LAZYDIT" classify --weights "$N.safetensors" --labels "$N.npy"
usage_case "usage: noise --shape (exit 2)" "^lazydit noise: --shape '2,x' must be" "$LAZYDIT" noise --seed 0 --shape 2,x --out "$N.npy"
usage_case "usage: init --config (exit 2)" '^lazydit init: --config: ' "$LAZYDIT" init --config DiT-Q/2 --seed 0 --out "$N.safetensors"
usage_case "usage: train-classifier --max-steps (exit 2)" '^lazydit train-classifier: --max-steps -1' \
    "$LAZYDIT" train-classifier --config "$N.json" --max-steps -1
for c in "metrics --real $N.npy --fake $N.npy" "classify --weights $N.safetensors" "info $N.safetensors" \
    "train --config $N.json" "train-classifier --config $N.json" "eval --samples $N.npy --classifier $N.safetensors" \
    "forward --weights $N.safetensors --x $N.npy --t $N.npy --y $N.npy --out $N.out.npy"; do
    name=${c%% *}
    fail_case "user error: $name on a missing file (exit 1, prefixed, names the file)" "^lazydit $name: .*cli_idiom_nope" \
        "$LAZYDIT" $c
done
