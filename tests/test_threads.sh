#!/usr/bin/env bash
# Thread counts never change a result: `lazydit sample` on the default model
# gives the same bits with LAZYDIT_THREADS=1, 2 and 3 and with OpenBLAS told to
# use 1 or 2 threads (OpenBLAS runs single-threaded inside the pool's tiles,
# whatever it is told). A malformed LAZYDIT_THREADS is a one-line error.
set -u
source "$(dirname "$0")/shell_lib.sh"
T="$TEST_TMP/threads"
mkdir -p "$T"
W=models/fmnist_dit.safetensors
run() {  # run NAME ENV... : 10 samples (two chunks of 6 and 4), 4 DDIM steps, cfg 1.5
    local name=$1
    shift
    env "$@" "$LAZYDIT" sample --weights $W --n 10 --batch 6 --steps 4 --seed 3 --out "$T/$name.npy" >/dev/null 2>&1 ||
        fail "sample with $*" "exit status $?"
}
run t1 LAZYDIT_THREADS=1
run t2 LAZYDIT_THREADS=2
run t3 LAZYDIT_THREADS=3
run b1 LAZYDIT_THREADS=2 OPENBLAS_NUM_THREADS=1
run b2 LAZYDIT_THREADS=1 OPENBLAS_NUM_THREADS=2
for other in t2 t3 b1 b2; do
    if cmp -s "$T/t1.npy" "$T/$other.npy"; then
        pass "sample: bit-identical with 1 thread and '$other' (LAZYDIT_THREADS / OPENBLAS_NUM_THREADS)"
    else
        fail "sample: bit-identical with 1 thread and '$other'" "the .npy files differ"
    fi
done
expect_fail "LAZYDIT_THREADS=abc is rejected" 'LAZYDIT_THREADS=abc' \
    env LAZYDIT_THREADS=abc "$LAZYDIT" sample --weights $W --n 1 --steps 1 --out "$T/x.npy"
expect_fail "LAZYDIT_THREADS=0 is rejected" 'LAZYDIT_THREADS=0' \
    env LAZYDIT_THREADS=0 "$LAZYDIT" sample --weights $W --n 1 --steps 1 --out "$T/x.npy"
