// bootstrap.c: resample counts, replicate statistics, percentile intervals.
#include "analysis/bootstrap.h"

#include <math.h>
#include <string.h>

#include "analysis/frechet.h"
#include "analysis/kid.h"
#include "model/base/prng.h"

BootstrapConfig bootstrap_default_config(int resamples, uint64_t seed) {
    BootstrapConfig c = {resamples, seed, 0.95, true};
    return c;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double quantile_linear(double *values, int n, double q) {
    qsort(values, (size_t)n, sizeof(double), cmp_double);
    if (q <= 0) return values[0];
    if (q >= 1) return values[n - 1];
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    double frac = pos - lo;
    if (lo + 1 >= n) return values[n - 1];
    return values[lo] + (values[lo + 1] - values[lo]) * frac;
}

// counts (n) of one resample of n rows with replacement.
static void draw_counts(double *counts, long n, Prng *rng) {
    memset(counts, 0, (size_t)n * sizeof(double));
    for (long i = 0; i < n; i++) counts[prng_below(rng, (uint64_t)n)] += 1.0;
}

static void fill_ones(double *w, long n) {
    for (long i = 0; i < n; i++) w[i] = 1.0;
}

static int check_config(const BootstrapConfig *cfg, LzError *err) {
    if (cfg->resamples < 2) return lz_fail(err, "bootstrap: %d resamples, need at least 2", cfg->resamples);
    if (!(cfg->level > 0 && cfg->level < 1)) return lz_fail(err, "bootstrap: level %g must be in (0, 1)", cfg->level);
    return 0;
}

// Intervals and spread of the replicate values (sorted in place). See
// bootstrap.h for why the default interval is shifted by the bias estimate.
static void finish_ci(BootstrapCI *out, double point, double *vals, const BootstrapConfig *cfg) {
    int b = cfg->resamples;
    double mean = 0, var = 0;
    for (int i = 0; i < b; i++) mean += vals[i];
    mean /= b;
    for (int i = 0; i < b; i++) var += (vals[i] - mean) * (vals[i] - mean);
    out->point = point;
    out->std = sqrt(var / (b - 1));
    out->bias = mean - point;
    out->raw_lo = quantile_linear(vals, b, 0.5 * (1.0 - cfg->level));
    out->raw_hi = quantile_linear(vals, b, 0.5 * (1.0 + cfg->level));
    out->lo = out->raw_lo - out->bias;
    out->hi = out->raw_hi - out->bias;
    out->resamples = b;
    out->level = cfg->level;
}

int bootstrap_fd(BootstrapCI *out, const float *real, long nr, const float *fake, long nf, int d,
                 const BootstrapConfig *cfg, LzError *err) {
    if (check_config(cfg, err)) return -1;
    GaussStats sr, sf;
    double point;
    if (gauss_stats_compute(&sr, real, nr, d, err)) return -1;
    if (gauss_stats_compute(&sf, fake, nf, d, err)) {
        gauss_stats_free(&sr);
        return -1;
    }
    int rc = frechet_distance_stats(&point, NULL, &sr, &sf, err);
    gauss_stats_free(&sf);
    double *vals = lz_malloc((size_t)cfg->resamples * sizeof(double), "bootstrap fd values");
    double *wr = lz_malloc((size_t)nr * sizeof(double), "bootstrap real counts");
    double *wf = lz_malloc((size_t)nf * sizeof(double), "bootstrap fake counts");
    Prng rng;
    prng_seed(&rng, cfg->seed);
    for (int b = 0; rc == 0 && b < cfg->resamples; b++) {
        GaussStats rr, rf;
        const GaussStats *use_r = &sr;
        if (cfg->resample_real) {
            draw_counts(wr, nr, &rng);
            if (gauss_stats_compute_weighted(&rr, real, wr, nr, d, err)) {
                rc = -1;
                break;
            }
            use_r = &rr;
        }
        draw_counts(wf, nf, &rng);
        if (gauss_stats_compute_weighted(&rf, fake, wf, nf, d, err)) {
            rc = -1;
        } else {
            rc = frechet_distance_stats(&vals[b], NULL, use_r, &rf, err);
            gauss_stats_free(&rf);
        }
        if (cfg->resample_real) gauss_stats_free(&rr);
    }
    if (rc == 0) finish_ci(out, point, vals, cfg);
    gauss_stats_free(&sr);
    free(vals);
    free(wr);
    free(wf);
    return rc;
}

int bootstrap_kid(BootstrapCI *out, const float *real, long nr, const float *fake, long nf, int d,
                  const BootstrapConfig *cfg, LzError *err) {
    if (check_config(cfg, err)) return -1;
    // Replicates go through kid_mmd2_weighted in groups: every group costs one
    // pass over the kernel entries, and the count matrices (group x N) stay
    // bounded (256 x 10k doubles = 20 MB per set).
    enum { GROUP = 256 };
    int total = cfg->resamples + 1;  // row 0: all ones, the point estimate
    double *vals = lz_malloc((size_t)total * sizeof(double), "bootstrap kid values");
    double *wr = lz_malloc((size_t)GROUP * nr * sizeof(double), "bootstrap real counts");  // (GROUP, nr)
    double *wf = lz_malloc((size_t)GROUP * nf * sizeof(double), "bootstrap fake counts");  // (GROUP, nf)
    Prng rng;
    prng_seed(&rng, cfg->seed);
    int rc = 0;
    for (int g0 = 0; rc == 0 && g0 < total; g0 += GROUP) {
        int gn = total - g0 < GROUP ? total - g0 : GROUP;
        for (int r = 0; r < gn; r++) {
            double *cr = wr + (size_t)r * nr, *cf = wf + (size_t)r * nf;
            if (g0 + r == 0) {
                fill_ones(cr, nr);
                fill_ones(cf, nf);
                continue;
            }
            if (cfg->resample_real)
                draw_counts(cr, nr, &rng);
            else
                fill_ones(cr, nr);
            draw_counts(cf, nf, &rng);
        }
        rc = kid_mmd2_weighted(vals + g0, real, nr, wr, fake, nf, wf, gn, d, err);
    }
    if (rc == 0) finish_ci(out, vals[0], vals + 1, cfg);
    free(vals);
    free(wr);
    free(wf);
    return rc;
}
