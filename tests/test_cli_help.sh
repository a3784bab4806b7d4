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
