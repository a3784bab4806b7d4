// run_metrics.c: a run's requested metrics (see run_metrics.h).
#include "experiments/run_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/classifier_features.h"
#include "analysis/fidelity.h"
#include "analysis/image_metrics.h"
#include "model/base/prng.h"
#include "model/io/dataset.h"

static bool wants_classifier(const ExpMetrics *cfg) {
    for (int k = 0; k < MET_COUNT; k++)
        if (cfg->want[k] && k != MET_PSNR && k != MET_SSIM) return true;
    return false;
}

int run_metrics_prepare(RunMetrics *rm, const ExpMetrics *cfg, LzError *err) {
    if (rm->loaded || !wants_classifier(cfg)) return 0;
    rm->clf = eval_load_classifier(cfg->classifier, 256, rm->clf_sha, err);
    if (!rm->clf) return -1;
    Dataset ref;
    if (dataset_load_dir(&ref, NULL, "test", err)) return -1;
    int rc = refstats_get(&rm->ref, rm->clf, rm->clf_sha, &ref, EVAL_SFID_CHANNELS, cfg->cache_dir, err);
    dataset_free(&ref);
    if (rc) return -1;
    if (rm->ref.note[0]) fprintf(stderr, "lazydit run: warning: %s\n", rm->ref.note);
    rm->loaded = true;
    return 0;
}

void run_metrics_free(RunMetrics *rm) {
    if (rm->loaded) refstats_free(&rm->ref);
    if (rm->clf) classifier_free(rm->clf);
    free(rm->samples);
    free(rm->psnr_each);
    memset(rm, 0, sizeof *rm);
}

// 95% percentile bootstrap interval of the mean of x (n values): B resamples
// of n indices drawn with replacement from Prng(seed).
static void bootstrap_mean(double *lo, double *hi, const double *x, long n, int B, uint64_t seed) {
    double *rep = lz_malloc(sizeof(double) * (size_t)B, "bootstrap replicates");
    Prng g;
    prng_seed(&g, seed);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (long i = 0; i < n; i++) s += x[prng_below(&g, (uint64_t)n)];
        rep[b] = s / (double)n;
    }
    *lo = quantile_linear(rep, B, 0.025);
    *hi = quantile_linear(rep, B, 0.975);
    free(rep);
}

static void add(RunMetrics *rm, int *k, const char *name, double value, double lo, double hi, long n) {
    rm->metrics[(*k)++] = (RunMetric){name, value, lo, hi, n};
}

static void add_sample(RunMetrics *rm, long sample, const char *name, double value) {
    rm->samples[rm->n_samples_metrics++] = (SampleMetric){sample, name, value};
}

int run_metrics_compute(RunMetrics *rm, const ExpMetrics *cfg, const float *images, long n, int c, int h, int w,
                        const int *labels, const float *paired, int *n_metrics, LzError *err) {
    *n_metrics = 0;
    rm->n_samples_metrics = 0;
    if (!cfg->any) return 0;
    if (run_metrics_prepare(rm, cfg, err)) return -1;
    if (n > rm->each_cap) {
        free(rm->psnr_each);
        rm->psnr_each = lz_malloc(sizeof(double) * (size_t)n * 3, "per-sample metrics");
        rm->ssim_each = rm->psnr_each + n;
        rm->each_cap = n;
        free(rm->samples);
        rm->samples = lz_malloc(sizeof(SampleMetric) * (size_t)n * 3, "per-sample metrics");
    }
    double *correct = rm->psnr_each + 2 * n;
    const double na = NAN;
    int k = 0;
    const bool *want = cfg->want;
    int B = cfg->bootstrap;
    if (wants_classifier(cfg)) {
        ClassifierFeatures f;
        if (classifier_features_extract(&f, rm->clf, images, n, rm->ref.sfid_channels, err)) return -1;
        int64_t *y = lz_malloc(sizeof(int64_t) * (size_t)n, "labels");
        for (long i = 0; i < n; i++) y[i] = labels[i];
        EvalConfig ec = eval_default_config();
        ec.bootstrap = B;
        ec.seed = cfg->seed;
        EvalResult r;
        int rc = image_metrics_from_features(&r, &f, &rm->ref, y, &ec, err);
        if (!rc) {
            for (long i = 0; i < n; i++) correct[i] = f.argmax[i] == labels[i];
            if (cfg->per_sample)
                for (long i = 0; i < n; i++) add_sample(rm, i, "predicted_label", f.argmax[i]);
        }
        free(y);
        classifier_features_free(&f);
        if (rc) return -1;
        if (want[MET_FID]) add(rm, &k, "fid", r.fid, B ? r.fid_ci.lo : na, B ? r.fid_ci.hi : na, n);
        if (want[MET_SFID]) add(rm, &k, "sfid", r.sfid, na, na, n);
        if (want[MET_IS]) add(rm, &k, "is", r.is_mean, na, na, n);
        if (want[MET_PRECISION]) add(rm, &k, "precision", r.pr.precision, na, na, n);
        if (want[MET_RECALL]) add(rm, &k, "recall", r.pr.recall, na, na, n);
        if (want[MET_DENSITY]) add(rm, &k, "density", r.pr.density, na, na, n);
        if (want[MET_COVERAGE]) add(rm, &k, "coverage", r.pr.coverage, na, na, n);
        if (want[MET_KID]) add(rm, &k, "kid", r.kid.mean, B ? r.kid_ci.lo : na, B ? r.kid_ci.hi : na, n);
        if (want[MET_CLASS_CONSISTENCY]) {
            double lo = na, hi = na;
            if (B) bootstrap_mean(&lo, &hi, correct, n, B, cfg->seed);
            add(rm, &k, "class_consistency", r.class_consistency, lo, hi, n);
        }
    }
    if (want[MET_PSNR] || want[MET_SSIM]) {
        CHECK(paired, "run_metrics: psnr/ssim need the paired reference images");
        FidelityResult fr;
        if (fidelity_batch(&fr, rm->psnr_each, rm->ssim_each, images, paired, n, c, h, w, 2.0, err))
            return -1;
        if (want[MET_PSNR]) {
            double lo = na, hi = na;
            if (B) bootstrap_mean(&lo, &hi, rm->psnr_each, n, B, cfg->seed + 1);
            add(rm, &k, "psnr", fr.psnr_mean, lo, hi, n);
        }
        if (want[MET_SSIM]) {
            double lo = na, hi = na;
            if (B) bootstrap_mean(&lo, &hi, rm->ssim_each, n, B, cfg->seed + 2);
            add(rm, &k, "ssim", fr.ssim_mean, lo, hi, n);
        }
        if (cfg->per_sample)
            for (long i = 0; i < n; i++) {
                if (want[MET_PSNR]) add_sample(rm, i, "psnr", rm->psnr_each[i]);
                if (want[MET_SSIM]) add_sample(rm, i, "ssim", rm->ssim_each[i]);
            }
    }
    *n_metrics = k;
    return 0;
}
