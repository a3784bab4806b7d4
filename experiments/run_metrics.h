// run_metrics.h: the metrics an experiment asks for, computed on one run's
// samples into rows of the metrics table (and sample_metrics on request).
//
// The image metrics go through the evaluation job (analysis/eval_job.h: one
// classifier and one reference for the whole sweep), so they are exactly what
// `lazydit eval` reports for the same samples. As there, the samples (and the
// paired reference images) are scored in their 8-bit form by default
// ("quantize": clamp to [-1, 1], round to 256 levels); psnr and ssim are
// computed on the same form, per sample, with analysis/fidelity.h. Only
// psnr/ssim requested: no classifier and no reference statistics are loaded.
//
// Intervals (ci_low, ci_high; 95%) when "bootstrap": B >= 2 is set:
//   fid, kid            the library's bootstrap (samples resampled, the cached
//                       reference held fixed; bias-adjusted percentile interval)
//   class_consistency,  percentile bootstrap of the mean of the per-sample
//   psnr, ssim          values (B resamples of the n samples, seeded)
// The other metrics have no interval (NULL).
//
// The classifier runs once per run: its features give every classifier metric
// (image_metrics_from_features, the computation of `lazydit eval`), the
// per-sample predictions and, with "sample_features", the stored per-sample
// FID-proxy features (run_metrics_features).
// psnr is +inf when a pair is identical (a full-compute run against its own
// reference); it is stored as such.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/classifier_features.h"
#include "analysis/eval_job.h"
#include "analysis/run_record.h"
#include "analysis/sample_features.h"
#include "experiments/experiment.h"

typedef struct {
    bool open;
    EvalJob job;
    // Results of the last run and scratch (owned, grown as needed, reused across runs).
    RunMetric metrics[MET_COUNT];
    SampleMetric *samples;   // (3 n): predicted_label, psnr, ssim
    long n_samples_metrics;
    double *psnr_each, *ssim_each, *correct;  // (n) each
    float *images, *paired;  // (n, C, H, W) each: the scored (8-bit) form
    int64_t *labels;         // (n)
    long cap, img_cap;
    bool have_features;
    ClassifierFeatures features;  // of the last run's scored samples (when the classifier ran)
    char reference[SAMPLE_FEATURES_REF_LEN];
} RunMetrics;

// Computes every requested metric of images (n, c, h, w) in [-1, 1] with their
// labels; paired: the full-compute reference from the same noise (needed for
// psnr and ssim, else may be NULL). The first call with an image metric opens
// the evaluation job (classifier, reference statistics). Fills rm->metrics
// (their count into *n_metrics) and, with cfg->per_sample, rm->samples.
int run_metrics_compute(RunMetrics *rm, const ExpMetrics *cfg, const float *images, long n, int c, int h, int w,
                        const int *labels, const float *paired, int *n_metrics, LzError *err);
void run_metrics_free(RunMetrics *rm);
// The last run's FID-proxy features for run_record_finish when cfg asks to
// store them (and the classifier ran), else NULL. Valid until the next compute.
const RunSampleFeatures *run_metrics_features(RunMetrics *rm, const ExpMetrics *cfg, RunSampleFeatures *out);
