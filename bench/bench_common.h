// bench_common.h: timing helpers shared by the benchmarks. Speed is always
// reported as a ratio to the OpenBLAS sgemm peak measured in the same process,
// because this machine is shared and absolute numbers drift run to run.
#pragma once
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model/base/clock.h"

// Best-of-`reps` sgemm GFLOP/s at n x n x n (the peak the forward is compared to).
static inline double bench_sgemm_peak(int n, int reps) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)((i % 17) - 8) / 8.0f, c[i] = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);  // warm-up
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = lz_now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double dt = lz_now_seconds() - t0;
        if (dt < best) best = dt;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

// Validation before timing: a benchmark whose computation is wrong must not
// print a speed. Stops with "VALIDATION FAILED: ..." and status 1.
#define REQUIRE(cond, ...)                          \
    do {                                            \
        if (!(cond)) {                              \
            fprintf(stderr, "VALIDATION FAILED: "); \
            fprintf(stderr, __VA_ARGS__);           \
            fputc('\n', stderr);                    \
            exit(1);                                \
        }                                           \
    } while (0)

// Prints the environment line every benchmark starts with.
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
static inline void bench_print_env(const char *name) {
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    printf("# %s: openblas core %s, %d threads, OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n", name,
           openblas_get_corename(), openblas_get_num_threads(), ct ? ct : "(unset)", l2 ? l2 : "(unset)");
}
