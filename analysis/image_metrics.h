// image_metrics.h: every metric of generated images against reference
// statistics (analysis/refstats.h), through the feature classifier
// (definitions and measured floor/ceiling in docs/metrics.md, "Metrics on
// generated images"; the whole pipeline with file checks and 8-bit rounding
// is analysis/eval_job.h):
//   fid      FD of penultimate features vs the reference Gaussian (FID-proxy)
//   sfid     FD of the first 7 spatial channels vs the reference (sFID-proxy)
//   is       IS-proxy from the softmax, 10 splits (mean, std)
//   pr       precision / recall (+ density / coverage), k = 3, penultimate
//            features against the reference's features
//   kid      KID (100 subsets of min(1000, N)) against the reference features
//   class consistency   fraction classified as their conditioning label (labels given)
//   fidelity PSNR / SSIM against paired images from the same noise (paired given)
//   fid_ci, kid_ci      95% bootstrap intervals over resampled samples; the
//            reference is held fixed (it is the same for every policy compared)
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/bootstrap.h"
#include "analysis/classifier_features.h"
#include "analysis/fidelity.h"
#include "analysis/frechet.h"
#include "analysis/kid.h"
#include "analysis/prdc.h"
#include "analysis/refstats.h"
#include "model/base/check.h"
#include "model/classifier.h"

typedef struct {
    int is_splits;         // IS splits (default 10)
    int k;                 // precision/recall neighbours (default 3)
    int kid_subsets;       // default 100
    long kid_subset_size;  // default 1000 (capped at the smaller set)
    int bootstrap;         // B >= 2 for intervals, 0 for none
    uint64_t seed;         // KID subsets and bootstrap resamples
    double data_range;     // PSNR/SSIM value range (2 for [-1, 1])
} EvalConfig;

EvalConfig eval_default_config(void);

typedef struct {
    long n;                       // samples
    double fid, sfid;
    FrechetTerms fid_terms, sfid_terms;
    double is_mean, is_std;
    PrecisionRecall pr;
    KidResult kid;
    bool has_consistency;
    double class_consistency;
    bool has_fidelity;
    FidelityResult fidelity;
    bool has_bootstrap;
    BootstrapCI fid_ci, kid_ci;
    // wall seconds per part
    double t_features, t_fd, t_kid, t_pr, t_is, t_fidelity, t_bootstrap;
} EvalResult;

// Metrics of already extracted sample features f against ref (same classifier
// and sFID channel count). labels (f->n) may be NULL; labels outside
// [0, num_classes) are an error. Needs n >= is_splits and n > k.
int image_metrics_from_features(EvalResult *out, const ClassifierFeatures *f, const RefStats *ref, const int64_t *labels,
                          const EvalConfig *cfg, LzError *err);

// Everything for images (n, in_c, H, W) in [-1, 1]: features with m (the
// classifier ref was computed with), the metrics above, and, when paired is
// not NULL, PSNR/SSIM of images against paired (n, in_c, H, W).
int image_metrics_compute(EvalResult *out, Classifier *m, const RefStats *ref, const float *images, long n,
                 const int64_t *labels, const float *paired, const EvalConfig *cfg, LzError *err);

// Loads the classifier and the SHA-256 of its file. The file is hashed before
// and after the load; if the two digests differ (the file was replaced while
// we read it, e.g. by a training run) that is an error: retry.
Classifier *eval_load_classifier(const char *path, int max_batch, uint8_t sha[SHA256_BYTES], LzError *err);
