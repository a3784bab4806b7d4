// run_metrics.c: a run's requested metrics (see run_metrics.h).
#include "experiments/run_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/classifier_features.h"
#include "analysis/fidelity.h"
#include "model/base/prng.h"
#include "model/io/image.h"

static bool wants_classifier(const ExpMetrics *cfg) {
    for (int k = 0; k < MET_COUNT; k++)
        if (cfg->want[k] && k != MET_PSNR && k != MET_SSIM) return true;
    return false;
}

static int open_job(RunMetrics *rm, const ExpMetrics *cfg, LzError *err) {
    if (rm->open) return 0;
    EvalJobOptions o = eval_job_default_options();
    o.classifier = cfg->classifier;
    o.cache_dir = cfg->cache_dir;
    o.quantize = false;  // run_metrics_compute hands it the 8-bit form already (the same for psnr/ssim)
    o.threads = 0;       // keep the sampler's BLAS threads
    o.metrics.bootstrap = cfg->bootstrap;
    o.metrics.seed = cfg->seed;
    if (eval_job_open(&rm->job, &o, err) || eval_job_reference(&rm->job, err)) return -1;
    if (rm->job.ref.note[0]) fprintf(stderr, "lazydit run: warning: %s\n", rm->job.ref.note);
    rm->open = true;
    return 0;
}

void run_metrics_free(RunMetrics *rm) {
    if (rm->open) eval_job_close(&rm->job);
    if (rm->have_features) classifier_features_free(&rm->features);
    free(rm->samples);
    free(rm->psnr_each);
    free(rm->images);
    free(rm->labels);
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

// The scored form of images (and paired) in rm's buffers: 8-bit rounded or as given.
static void scored_form(RunMetrics *rm, const ExpMetrics *cfg, const float *images, const float *paired, long count) {
    if (count > rm->img_cap) {
        free(rm->images);
        rm->images = lz_malloc(sizeof(float) * (size_t)count * 2, "scored images");
        rm->paired = rm->images + count;
        rm->img_cap = count;
    }
    memcpy(rm->images, images, sizeof(float) * (size_t)count);
    if (paired) memcpy(rm->paired, paired, sizeof(float) * (size_t)count);
    if (cfg->quantize) {
        image_quantize_u8(rm->images, count);
        if (paired) image_quantize_u8(rm->paired, count);
    }
}

int run_metrics_compute(RunMetrics *rm, const ExpMetrics *cfg, const float *images, long n, int c, int h, int w,
                        const int *labels, const float *paired, int *n_metrics, LzError *err) {
    *n_metrics = 0;
    rm->n_samples_metrics = 0;
    if (rm->have_features) classifier_features_free(&rm->features);
    rm->have_features = false;
    if (!cfg->any) return 0;
    if (n > rm->cap) {
        free(rm->psnr_each);
        rm->psnr_each = lz_malloc(sizeof(double) * (size_t)n * 3, "per-sample metrics");
        rm->ssim_each = rm->psnr_each + n;
        rm->correct = rm->psnr_each + 2 * n;
        free(rm->samples);
        rm->samples = lz_malloc(sizeof(SampleMetric) * (size_t)n * 3, "per-sample metrics");
        free(rm->labels);
        rm->labels = lz_malloc(sizeof(int64_t) * (size_t)n, "labels");
        rm->cap = n;
    }
    long count = n * c * h * w;
    for (long i = 0; i < count; i++)
        if (!isfinite(images[i])) return lz_fail(err, "sample %ld pixel %ld is not finite", i / (c * h * w), i % (c * h * w));
    scored_form(rm, cfg, images, paired, count);
    const double na = NAN;
    int k = 0;
    const bool *want = cfg->want;
    int B = cfg->bootstrap;
    if (wants_classifier(cfg)) {
        if (open_job(rm, cfg, err)) return -1;
        for (long i = 0; i < n; i++) rm->labels[i] = labels[i];
        // One classifier pass: what eval_job_score does (its images are
        // already in the scored form here), keeping the features.
        ClassifierFeatures *f = &rm->features;
        if (classifier_features_extract(f, rm->job.classifier, rm->images, n, rm->job.ref.sfid_channels, err))
            return -1;
        rm->have_features = true;
        EvalResult r;
        if (image_metrics_from_features(&r, f, &rm->job.ref, rm->labels, &rm->job.opt.metrics, err)) return -1;
        if (want[MET_FID]) add(rm, &k, "fid", r.fid, B ? r.fid_ci.lo : na, B ? r.fid_ci.hi : na, n);
        if (want[MET_SFID]) add(rm, &k, "sfid", r.sfid, na, na, n);
        if (want[MET_IS]) add(rm, &k, "is", r.is_mean, na, na, n);
        if (want[MET_PRECISION]) add(rm, &k, "precision", r.pr.precision, na, na, n);
        if (want[MET_RECALL]) add(rm, &k, "recall", r.pr.recall, na, na, n);
        if (want[MET_DENSITY]) add(rm, &k, "density", r.pr.density, na, na, n);
        if (want[MET_COVERAGE]) add(rm, &k, "coverage", r.pr.coverage, na, na, n);
        if (want[MET_KID]) add(rm, &k, "kid", r.kid.mean, B ? r.kid_ci.lo : na, B ? r.kid_ci.hi : na, n);
        for (long i = 0; i < n; i++) {
            rm->correct[i] = f->argmax[i] == labels[i];
            if (cfg->per_sample) add_sample(rm, i, "predicted_label", f->argmax[i]);
        }
        if (want[MET_CLASS_CONSISTENCY]) {
            double lo = na, hi = na;
            if (B) bootstrap_mean(&lo, &hi, rm->correct, n, B, cfg->seed);
            add(rm, &k, "class_consistency", r.class_consistency, lo, hi, n);
        }
    }
    if (want[MET_PSNR] || want[MET_SSIM]) {
        CHECK(paired, "run_metrics: psnr/ssim need the paired reference images");
        FidelityResult fr;
        if (fidelity_batch(&fr, rm->psnr_each, rm->ssim_each, rm->images, rm->paired, n, c, h, w, 2.0, err)) return -1;
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

const RunSampleFeatures *run_metrics_features(RunMetrics *rm, const ExpMetrics *cfg, RunSampleFeatures *out) {
    if (!cfg->sample_features || !rm->have_features) return NULL;
    const RefStats *ref = &rm->job.ref;
    sample_features_reference_id(rm->reference, ref->classifier_sha, ref->reference_key);
    *out = (RunSampleFeatures){rm->features.pen, rm->features.n, rm->features.pen_dim, rm->reference, &ref->pen_stats};
    return out;
}
