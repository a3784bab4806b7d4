// bench_common.h: timing helpers shared by the benchmarks. Speed is always
// reported as a ratio to the OpenBLAS sgemm peak measured in the same process,
// because this machine is shared and absolute numbers drift run to run.
#pragma once
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model/base/clock.h"
#include "model/base/parallel.h"
#include "model/kernels_parallel.h"

// Best-of-`reps` sgemm GFLOP/s at n x n x n with OpenBLAS's own threads (as
// many as the pool has), one of the two peaks the forward is compared to.
extern void openblas_set_num_threads(int);
static inline double bench_sgemm_peak(int n, int reps) {
    openblas_set_num_threads(parallel_threads());
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

// The same product as tiles on the project's pool with single-threaded
// OpenBLAS inside (linear_forward_par, the way the DiT runs its GEMMs).
static inline double bench_sgemm_peak_pool(int n, int reps) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)((i % 17) - 8) / 8.0f, c[i] = 0;
    linear_forward_par(c, a, b, NULL, n, n, n);  // warm-up
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = lz_now_seconds();
        linear_forward_par(c, a, b, NULL, n, n, n);
        double dt = lz_now_seconds() - t0;
        if (dt < best) best = dt;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

// The peak a benchmark reports ratios to: the better of the two ways to run
// sgemm on this process's threads, measured now (the machine is shared).
static inline double bench_peak(int n, int reps, int verbose) {
    double blas = bench_sgemm_peak(n, reps), pool = bench_sgemm_peak_pool(n, reps);
    if (verbose)
        printf("# sgemm peak %d^3 best of %d: OpenBLAS %d threads %.1f GFLOP/s, pool tiles %.1f GFLOP/s -> %.1f\n", n,
               reps, parallel_threads(), blas, pool, blas > pool ? blas : pool);
    return blas > pool ? blas : pool;
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
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE"), *lt = getenv("LAZYDIT_THREADS");
    printf("# %s: openblas core %s, %d OpenBLAS threads (1 inside the pool's tiles), pool threads %d "
           "(LAZYDIT_THREADS=%s), OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n",
           name, openblas_get_corename(), openblas_get_num_threads(), parallel_threads(), lt ? lt : "(unset)",
           ct ? ct : "(unset)", l2 ? l2 : "(unset)");
    // The machine is shared: the load average says how much of it this run had.
    FILE *f = fopen("/proc/loadavg", "r");
    char load[128] = "";
    if (f && fgets(load, sizeof load, f)) printf("# load average at start (1, 5, 15 min, ...): %s", load);
    if (f) fclose(f);
}
