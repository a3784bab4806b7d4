// bench/paired: the paired FID bootstrap of `lazydit report`
// (analysis/report_paired.h).
//
//   build/bench/paired                     time per run: B = 1000 replicate FIDs
//                                          of n = 1000 and 3000 random D = 128
//                                          features (validates first: with all
//                                          counts 1 the weighted FID equals the
//                                          plain one)
//   build/bench/paired DB RUN_A RUN_B      the FID-proxies of two runs of DB with
//                                          stored features, their own 95%
//                                          intervals and the paired interval of
//                                          FID(A) - FID(B), with half widths
// The second form measures how much narrower the paired interval is in
// practice (docs/report.md, "Sample counts").
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report_paired.h"
#include "analysis/sample_features.h"
#include "bench/bench_common.h"
#include "model/base/prng.h"

static int timing(void) {
    enum { D = 128, B = 50 };
    LzError err;
    Prng g;
    prng_seed(&g, 5);
    float *ref = malloc(sizeof(float) * 4000 * D), *x = malloc(sizeof(float) * 3000 * D);
    for (long i = 0; i < 4000L * D; i++) ref[i] = (float)prng_normal(&g);
    for (long i = 0; i < 3000L * D; i++) x[i] = (float)(0.3 + 1.1 * prng_normal(&g));
    GaussStats rs;
    if (gauss_stats_compute(&rs, ref, 4000, D, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double *w = malloc(sizeof(double) * 3000);
    for (int i = 0; i < 3000; i++) w[i] = 1;
    double plain, weighted;
    if (sample_features_fid(&plain, x, NULL, 1000, D, &rs, &err) ||
        sample_features_fid(&weighted, x, w, 1000, D, &rs, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int ok = fabs(plain - weighted) <= 1e-9 * fabs(plain);
    printf("validate: weighted FID with unit counts %.12g vs plain %.12g: %s\n", weighted, plain, ok ? "ok" : "FAIL");
    openblas_set_num_threads(1);  // as report_paired_prepare
    FrechetPrepared prep;
    if (frechet_prepare(&prep, rs.mu, rs.sigma, D, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        long n = k ? 3000 : 1000;
        double t0 = lz_now_seconds(), fid;
        for (int b = 0; b < B; b++) {
            report_paired_counts(w, n, b);
            if (sample_features_fid_prepared(&fid, x, w, n, D, &prep, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        }
        double per = (lz_now_seconds() - t0) / B;
        printf("n = %ld, D = %d: %.2f ms per replicate FID, %.1f s per run at B = %d (one BLAS thread)\n", n, D,
               1e3 * per, per * REPORT_PAIRED_RESAMPLES, REPORT_PAIRED_RESAMPLES);
    }
    frechet_prepared_free(&prep);
    gauss_stats_free(&rs);
    free(ref);
    free(x);
    free(w);
    return ok ? 0 : 1;
}

static int find(const ReportData *d, const char *name) {
    for (int i = 0; i < d->n_runs; i++)
        if (!strcmp(d->runs[i].name, name)) return i;
    return -1;
}

static double bias_of(const ReportData *d, int i) {
    double mean = 0;
    for (int k = 0; k < d->paired_resamples; k++) mean += d->runs[i].features->reps[k];
    return mean / d->paired_resamples - d->runs[i].features->fid;
}

int main(int argc, char **argv) {
    if (argc == 1) return timing();
    if (argc != 4) {
        fprintf(stderr, "usage: paired [DB RUN_A RUN_B]\n");
        return 2;
    }
    ReportData d;
    LzError err;
    double t0 = lz_now_seconds();
    if (report_db_load(&d, argv[1], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_load = lz_now_seconds() - t0;
    int a = find(&d, argv[2]), b = find(&d, argv[3]);
    if (a < 0 || b < 0) {
        fprintf(stderr, "%s: no finished run named '%s'\n", argv[1], a < 0 ? argv[2] : argv[3]);
        report_db_free(&d);
        return 1;
    }
    ReportPaired p = report_paired_fid(&d, a, b);
    const ReportMetric *fa = &d.runs[a].m[RM_FID], *fb = &d.runs[b].m[RM_FID];
    printf("%s: FID %.2f [%.2f, %.2f], half width %.2f (n = %ld)\n", argv[2], fa->value, fa->lo, fa->hi,
           report_half_width(fa), fa->n);
    printf("%s: FID %.2f [%.2f, %.2f], half width %.2f (n = %ld)\n", argv[3], fb->value, fb->lo, fb->hi,
           report_half_width(fb), fb->n);
    if (p.ok) {
        // The bootstrap bias of the difference: mean replicate minus the point.
        double mean = 0;
        for (int k = 0; k < d.paired_resamples; k++) mean += d.runs[a].features->reps[k] - d.runs[b].features->reps[k];
        mean /= d.paired_resamples;
        printf("bootstrap bias of the difference %.3f (of each run: %.3f, %.3f)\n", mean - p.diff,
               bias_of(&d, a), bias_of(&d, b));
        printf("paired FID(%s) - FID(%s) = %.3f, 95%% [%.3f, %.3f], half width %.3f (B = %d); independent half widths "
               "in quadrature %.2f\n",
               argv[2], argv[3], p.diff, p.lo, p.hi, 0.5 * (p.hi - p.lo), d.paired_resamples,
               hypot(report_half_width(fa), report_half_width(fb)));
    } else
        printf("the runs are not paired (stored features: %s %s, %s %s)\n", argv[2], d.runs[a].features ? "yes" : "no",
               argv[3], d.runs[b].features ? "yes" : "no");
    printf("load with replicates: %.1f s for %d runs with features\n", t_load, d.n_features);
    report_db_free(&d);
    return p.ok ? 0 : 1;
}
