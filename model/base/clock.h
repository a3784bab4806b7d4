// clock.h: the one monotonic clock every progress line, timing and benchmark uses.
#pragma once
#include <time.h>

// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): only differences mean anything.
static inline double lz_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
