// test.h: a tiny test harness. Each tests/test_*.c is its own binary; every
// check prints one line "PASS name" or "FAIL name: detail" and the binary exits
// non-zero when anything failed. tests/run.sh counts the lines across binaries
// and prints the final "N passed, N failed" line.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures = 0;
static int test_passes = 0;

// Records one named check. Returns cond so callers can stop early on failure.
static inline int test_check(int cond, const char *name, const char *detail) {
    if (cond) {
        printf("PASS %s\n", name);
        test_passes++;
    } else {
        printf("FAIL %s: %s\n", name, detail ? detail : "");
        test_failures++;
    }
    fflush(stdout);
    return cond;
}

#define TEST_CHECK(cond, name, ...)                             \
    do {                                                        \
        char detail_[512];                                      \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);         \
        test_check((cond), (name), detail_);                    \
    } while (0)

// |a - b| <= atol + rtol * |b|, elementwise; reports the worst element.
static inline int test_close(const char *name, const float *a, const float *b, long n, double rtol, double atol) {
    double worst = 0;
    long worst_i = -1;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim)) {  // also catches NaN
            double excess = isnan(d) ? INFINITY : d - lim;
            if (worst_i < 0 || excess > worst) {
                worst = excess;
                worst_i = i;
            }
        }
    }
    char detail[256];
    if (worst_i >= 0)
        snprintf(detail, sizeof detail, "element %ld: got %.9g want %.9g (rtol %g atol %g)", worst_i,
                 (double)a[worst_i], (double)b[worst_i], rtol, atol);
    else
        detail[0] = 0;
    return test_check(worst_i < 0, name, detail);
}

// Max |a-b| relative to max |b| (the "relative to the output's scale" error).
static inline double test_rel_to_scale(const float *a, const float *b, long n) {
    double maxdiff = 0, scale = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) return INFINITY;
        if (d > maxdiff) maxdiff = d;
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return scale > 0 ? maxdiff / scale : maxdiff;
}

static inline int test_finish(void) {
    printf("# %d passed, %d failed\n", test_passes, test_failures);
    return test_failures ? 1 : 0;
}
