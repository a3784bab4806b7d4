// run_metrics.h: the metrics an experiment asks for, computed on one run's
// samples with the library (analysis/image_metrics.h, analysis/fidelity.h)
// into rows of the metrics table (and sample_metrics on request).
//
// Intervals (ci_low, ci_high; 95%) when "bootstrap": B >= 2 is set:
//   fid, kid            the library's bootstrap (samples resampled, the cached
//                       reference held fixed; bias-adjusted percentile interval)
//   class_consistency,  percentile bootstrap of the mean of the per-sample
//   psnr, ssim          values (B resamples of the n samples, seeded)
// The other metrics have no interval (NULL).
// psnr is +inf when a pair is identical (a full-compute run against its own
// reference); it is stored as such.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/refstats.h"
#include "analysis/run_record.h"
#include "experiments/experiment.h"
#include "model/classifier.h"

typedef struct {
    bool loaded;
    Classifier *clf;
    uint8_t clf_sha[SHA256_BYTES];
    RefStats ref;
    // Results of the last run (owned, reused across runs).
    RunMetric metrics[MET_COUNT];
    SampleMetric *samples;   // (3 n) at most: predicted_label, psnr, ssim
    long n_samples_metrics;
    long samples_cap;
    double *psnr_each, *ssim_each;  // (n)
    long each_cap;
} RunMetrics;

// Loads the classifier and the reference statistics once (on first use).
int run_metrics_prepare(RunMetrics *rm, const ExpMetrics *cfg, LzError *err);
// Computes every requested metric of images (n, c, h, w) in [-1, 1] with their labels;
// paired: the full-compute reference from the same noise (needed for psnr
// and ssim, else may be NULL). Fills rm->metrics (returns their count) and,
// with cfg->per_sample, rm->samples.
int run_metrics_compute(RunMetrics *rm, const ExpMetrics *cfg, const float *images, long n, int c, int h, int w,
                        const int *labels, const float *paired, int *n_metrics, LzError *err);
void run_metrics_free(RunMetrics *rm);
