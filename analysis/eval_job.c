// eval_job.c: the evaluation pipeline of eval_job.h.
#include "analysis/eval_job.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/clock.h"
#include "model/io/image.h"
#include "model/io/npy.h"

EvalJobOptions eval_job_default_options(void) {
    EvalJobOptions o;
    memset(&o, 0, sizeof o);
    o.classifier = EVAL_DEFAULT_CLASSIFIER;
    o.cache_dir = REFSTATS_DEFAULT_CACHE_DIR;
    o.reference_split = "test";
    o.classifier_batch = 256;
    o.threads = 2;
    o.quantize = true;
    o.sfid_channels = EVAL_SFID_CHANNELS;
    o.metrics = eval_default_config();
    return o;
}

int eval_job_open(EvalJob *j, const EvalJobOptions *o, LzError *err) {
    memset(j, 0, sizeof *j);
    if (o->classifier_batch < 1) return lz_fail(err, "eval: classifier batch %d must be >= 1", o->classifier_batch);
    if (o->threads < 0) return lz_fail(err, "eval: threads %d must be >= 1 (or 0: leave as set)", o->threads);
    if (o->metrics.bootstrap < 0 || o->metrics.bootstrap == 1)
        return lz_fail(err, "eval: bootstrap %d: give 0 (off) or at least 2 resamples", o->metrics.bootstrap);
    if (o->metrics.k < 1 || o->metrics.is_splits < 1 || o->metrics.kid_subsets < 1 || o->metrics.kid_subset_size < 2)
        return lz_fail(err, "eval: k %d, IS splits %d, KID subsets %d of %ld: need k, splits, subsets >= 1, size >= 2",
                       o->metrics.k, o->metrics.is_splits, o->metrics.kid_subsets, o->metrics.kid_subset_size);
    j->opt = *o;
    if (o->threads > 0) openblas_set_num_threads(o->threads);
    j->classifier = eval_load_classifier(o->classifier, o->classifier_batch, j->classifier_sha, err);
    if (!j->classifier) return -1;
    if (o->sfid_channels < 1 || o->sfid_channels > j->classifier->cfg.c3) {
        lz_fail(err, "eval: %d sFID channels outside 1..%d (the classifier's last conv width)", o->sfid_channels,
                j->classifier->cfg.c3);
        eval_job_close(j);
        return -1;
    }
    sha256_hex(j->classifier_sha, j->classifier_hash);
    return 0;
}

int eval_job_reference(EvalJob *j, LzError *err) {
    if (j->have_reference) return 0;
    double t0 = lz_now_seconds();
    Dataset ref;
    if (dataset_load_dir(&ref, j->opt.reference_dir, j->opt.reference_split, err)) return -1;
    int rc = refstats_get(&j->ref, j->classifier, j->classifier_sha, &ref, j->opt.sfid_channels, j->opt.cache_dir, err);
    dataset_free(&ref);
    if (rc) return -1;
    j->have_reference = true;
    j->t_reference = lz_now_seconds() - t0;
    return 0;
}

int eval_job_score(EvalJob *j, EvalResult *r, const float *samples, long n, const int64_t *labels,
                   const float *paired, LzError *err) {
    memset(r, 0, sizeof *r);
    const EvalConfig *cfg = &j->opt.metrics;
    const ClassifierConfig *c = &j->classifier->cfg;
    const long per = (long)c->in_c * c->h * c->w;
    if (n < cfg->is_splits || n <= cfg->k)
        return lz_fail(err, "%ld samples, need at least %d (IS splits) and more than k = %d", n, cfg->is_splits,
                       cfg->k);
    const float *sets[2] = {samples, paired};
    const char *names[2] = {"sample", "paired image"};
    for (int s = 0; s < 2; s++)
        for (long i = 0; sets[s] && i < n * per; i++)
            if (!isfinite(sets[s][i]))
                return lz_fail(err, "%s %ld pixel %ld is not finite (%g)", names[s], i / per, i % per,
                               (double)sets[s][i]);
    if (eval_job_reference(j, err)) return -1;
    float *rounded = NULL;  // (n, C, H, W) samples, then paired: the 8-bit form
    if (j->opt.quantize) {
        long count = n * per;
        rounded = lz_malloc(sizeof(float) * (size_t)count * (paired ? 2 : 1), "8-bit rounded images");
        memcpy(rounded, samples, sizeof(float) * (size_t)count);
        image_quantize_u8(rounded, count);
        samples = rounded;
        if (paired) {
            memcpy(rounded + count, paired, sizeof(float) * (size_t)count);
            image_quantize_u8(rounded + count, count);
            paired = rounded + count;
        }
    }
    int rc = image_metrics_compute(r, j->classifier, &j->ref, samples, n, labels, paired, cfg, err);
    free(rounded);
    return rc;
}

void eval_job_close(EvalJob *j) {
    if (j->have_reference) refstats_free(&j->ref);
    if (j->classifier) classifier_free(j->classifier);
    memset(j, 0, sizeof *j);
}

// "(3, 1, 28, 28)" / "(5,)".
static const char *shape_str(const NpyArray *a, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < a->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%ld", i ? ", " : "", a->shape[i]);
    if (used < len) snprintf(buf + used, len - used, a->ndim == 1 ? ",)" : ")");
    return buf;
}

float *eval_read_images(const char *path, const char *what, const ClassifierConfig *c, long *n, LzError *err) {
    NpyArray a;
    if (npy_read(path, &a, err)) return NULL;
    char shp[128];
    bool ok4 = a.ndim == 4 && a.shape[1] == c->in_c && a.shape[2] == c->h && a.shape[3] == c->w;
    bool ok3 = a.ndim == 3 && c->in_c == 1 && a.shape[1] == c->h && a.shape[2] == c->w;
    if (!ok4 && !ok3) {
        lz_fail(err, "%s: %s have shape %s but the classifier takes (N, %d, %d, %d)%s", path, what,
                shape_str(&a, shp, sizeof shp), c->in_c, c->h, c->w, c->in_c == 1 ? " or (N, H, W)" : "");
        npy_free(&a);
        return NULL;
    }
    if (a.dtype != NPY_F32 && a.dtype != NPY_F64 && a.dtype != NPY_U8) {
        lz_fail(err, "%s: %s have dtype %s, expected float32/float64 in [-1, 1] or uint8", path, what,
                npy_dtype_name(a.dtype));
        npy_free(&a);
        return NULL;
    }
    *n = a.shape[0];
    float *x = lz_malloc(sizeof(float) * (size_t)(a.count ? a.count : 1), "eval images");  // (N, C, H, W)
    if (a.dtype == NPY_U8) image_from_u8(x, a.data, a.count);
    else if (a.dtype == NPY_F32) memcpy(x, a.data, sizeof(float) * (size_t)a.count);
    else
        for (long i = 0; i < a.count; i++) x[i] = (float)((const double *)a.data)[i];
    long per = a.shape[0] ? a.count / a.shape[0] : 1;
    for (long i = 0; i < a.count; i++)
        if (!isfinite(x[i])) {
            lz_fail(err, "%s: %s image %ld pixel %ld is not finite", path, what, i / per, i % per);
            npy_free(&a);
            free(x);
            return NULL;
        }
    npy_free(&a);
    return x;
}

int64_t *eval_read_labels(const char *path, long n, int num_classes, LzError *err) {
    NpyArray a;
    if (npy_read_i64(path, &a, err)) return NULL;
    char shp[128];
    if (a.ndim != 1) {
        lz_fail(err, "%s: labels must be a 1-D (N,) array, got shape %s", path, shape_str(&a, shp, sizeof shp));
        npy_free(&a);
        return NULL;
    }
    if (a.count != n) {
        lz_fail(err, "%s: %ld labels for %ld samples", path, a.count, n);
        npy_free(&a);
        return NULL;
    }
    int64_t *y = a.data;
    for (long i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= num_classes) {
            lz_fail(err, "%s: label %lld at index %ld outside 0..%d (the classifier's classes)", path,
                    (long long)y[i], i, num_classes - 1);
            npy_free(&a);
            return NULL;
        }
    a.data = NULL;  // handed to the caller
    npy_free(&a);
    return y;
}

long eval_count_out_of_range(const float *x, long count, float *lo, float *hi) {
    long out = 0;
    *lo = *hi = count ? x[0] : 0;
    for (long i = 0; i < count; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
        out += x[i] < -1.01f || x[i] > 1.01f;
    }
    return out;
}
