// feature_metrics.c: FD, KID, precision/recall and bootstrap intervals of two
// feature matrices (see feature_metrics.h).
#include "analysis/feature_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/clock.h"
#include "model/io/npy.h"

FeatureMetricsOptions feature_metrics_default_options(void) {
    FeatureMetricsOptions o = {3, KID_DEFAULT_SUBSETS, KID_DEFAULT_SUBSET_SIZE, 0, 0};
    return o;
}

int feature_metrics_compute(FeatureMetrics *out, const float *real, long nr, const float *fake, long nf, int d,
                            const FeatureMetricsOptions *o, LzError *err) {
    memset(out, 0, sizeof *out);
    if (o->k < 1) return lz_fail(err, "metrics: k = %d must be >= 1", o->k);
    if (o->kid_subsets < 1) return lz_fail(err, "metrics: %d KID subsets, need at least 1", o->kid_subsets);
    if (o->kid_subset_size < 2) return lz_fail(err, "metrics: KID subset size %ld must be >= 2", o->kid_subset_size);
    if (o->bootstrap < 0 || o->bootstrap == 1)
        return lz_fail(err, "metrics: bootstrap %d: give 0 (off) or at least 2 resamples", o->bootstrap);
    if (d < 1 || d > 65536) return lz_fail(err, "metrics: feature dimension %d out of range [1, 65536]", d);
    if (nr < 2 || nf < 2) return lz_fail(err, "metrics: %ld real and %ld fake rows, need at least 2 each", nr, nf);
    if (nr <= o->k || nf <= o->k)
        return lz_fail(err, "metrics: precision/recall with k = %d needs more than %d rows in each set (real %ld, fake %ld)",
                       o->k, o->k, nr, nf);
    double t0 = lz_now_seconds();
    GaussStats sr, sf;
    if (gauss_stats_compute(&sr, real, nr, d, err)) return -1;
    if (gauss_stats_compute(&sf, fake, nf, d, err)) {
        gauss_stats_free(&sr);
        return -1;
    }
    int rc = frechet_distance_stats(&out->fd, &out->fd_terms, &sr, &sf, err);
    gauss_stats_free(&sr);
    gauss_stats_free(&sf);
    if (rc) return -1;
    out->t_fd = lz_now_seconds() - t0;

    t0 = lz_now_seconds();
    KidConfig kc = {o->kid_subsets, o->kid_subset_size, o->seed};
    if (kid_compute(&out->kid, real, nr, fake, nf, d, &kc, err)) return -1;
    out->t_kid = lz_now_seconds() - t0;

    t0 = lz_now_seconds();
    if (precision_recall(&out->pr, real, nr, fake, nf, d, o->k, err)) return -1;
    out->t_pr = lz_now_seconds() - t0;

    if (o->bootstrap > 0) {
        t0 = lz_now_seconds();
        BootstrapConfig bc = bootstrap_default_config(o->bootstrap, o->seed);
        if (bootstrap_fd(&out->fd_ci, real, nr, fake, nf, d, &bc, err) ||
            bootstrap_kid(&out->kid_ci, real, nr, fake, nf, d, &bc, err))
            return -1;
        out->has_bootstrap = true;
        out->t_bootstrap = lz_now_seconds() - t0;
    }
    return 0;
}

float *feature_matrix_read(const char *path, const char *what, long *n, long *d, LzError *err) {
    NpyArray a;
    if (npy_read(path, &a, err)) return NULL;
    if (a.dtype != NPY_F32 && a.dtype != NPY_F64) {
        lz_fail(err, "%s: %s features have dtype %s, expected float32 or float64", path, what, npy_dtype_name(a.dtype));
        npy_free(&a);
        return NULL;
    }
    if (a.ndim != 2) {
        lz_fail(err, "%s: %s features must be a 2-D (N, D) matrix, got %d dimensions", path, what, a.ndim);
        npy_free(&a);
        return NULL;
    }
    *n = a.shape[0];
    *d = a.shape[1];
    if (*d < 1 || *d > 65536) {
        lz_fail(err, "%s: feature dimension %ld out of range [1, 65536]", path, *d);
        npy_free(&a);
        return NULL;
    }
    float *x;
    if (a.dtype == NPY_F32) {
        x = a.data;
        a.data = NULL;
    } else {
        x = lz_malloc((size_t)(a.count ? a.count : 1) * sizeof(float), "metrics features");  // (N, D)
        const double *src = a.data;
        for (long i = 0; i < a.count; i++) x[i] = (float)src[i];
    }
    npy_free(&a);
    for (long i = 0; i < *n * *d; i++)
        if (!isfinite(x[i])) {
            lz_fail(err, "%s: %s feature row %ld column %ld is not finite", path, what, i / *d, i % *d);
            free(x);
            return NULL;
        }
    return x;
}

int feature_pair_read(FeaturePair *p, const char *real_path, const char *fake_path, int k, LzError *err) {
    memset(p, 0, sizeof *p);
    long dr, df;
    if (!(p->real = feature_matrix_read(real_path, "real", &p->nr, &dr, err))) return -1;
    if (!(p->fake = feature_matrix_read(fake_path, "fake", &p->nf, &df, err))) goto fail;
    if (dr != df) {
        lz_fail(err, "feature dimensions differ: %s has D = %ld, %s has D = %ld", real_path, dr, fake_path, df);
        goto fail;
    }
    p->d = (int)dr;
    if (p->nr < 2 || p->nf < 2) {
        int real_short = p->nr < 2;
        lz_fail(err, "%s: %ld %s rows, need at least 2", real_short ? real_path : fake_path,
                real_short ? p->nr : p->nf, real_short ? "real" : "fake");
        goto fail;
    }
    if (p->nr <= k || p->nf <= k) {
        lz_fail(err, "precision/recall with k = %d needs more than %d rows in each set (%s: %ld, %s: %ld)", k, k,
                real_path, p->nr, fake_path, p->nf);
        goto fail;
    }
    return 0;
fail:
    feature_pair_free(p);
    return -1;
}

void feature_pair_free(FeaturePair *p) {
    free(p->real);
    free(p->fake);
    memset(p, 0, sizeof *p);
}
