#!/usr/bin/env bash
# Runs every benchmark binary in $BUILD/bench in turn (each validates before it times).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
rc=0
for b in "$BUILD"/bench/*; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    case "$b" in *.o|*.d) continue ;; esac
    echo "== $(basename "$b")"
    "$b" || rc=1
done
exit $rc
