// feature_metrics.h: every metric of two feature matrices (real and fake, e.g.
// classifier features of reference images and of samples), the job behind
// `lazydit metrics`: Frechet distance of their Gaussian fits, KID, k-NN
// precision / recall / density / coverage, and on request bootstrap intervals
// for FD and KID (both sets resampled). Definitions: docs/metrics.md.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/bootstrap.h"
#include "analysis/frechet.h"
#include "analysis/kid.h"
#include "analysis/prdc.h"
#include "model/base/check.h"

typedef struct {
    int k;                 // precision/recall neighbours (default 3)
    int kid_subsets;       // default 100
    long kid_subset_size;  // default 1000 (capped at the smaller set)
    int bootstrap;         // B >= 2 for intervals, 0 for none
    uint64_t seed;         // KID subsets and bootstrap resamples
} FeatureMetricsOptions;

FeatureMetricsOptions feature_metrics_default_options(void);

typedef struct {
    double fd;
    FrechetTerms fd_terms;
    KidResult kid;
    PrecisionRecall pr;
    bool has_bootstrap;
    BootstrapCI fd_ci, kid_ci;
    double t_fd, t_kid, t_pr, t_bootstrap;  // wall seconds per part
} FeatureMetrics;

// Validates the options against the sets (k, subsets, B, at least 2 rows and
// more than k rows per set) and computes everything. real (nr, d), fake (nf, d).
int feature_metrics_compute(FeatureMetrics *out, const float *real, long nr, const float *fake, long nf, int d,
                            const FeatureMetricsOptions *o, LzError *err);

// Reads an (N, D) float32 or float64 .npy matrix as float32 (float64 is
// rounded once: the metrics take float32 and accumulate in double). `what`
// names the set in messages ("real"). Wrong dtype or rank, D outside
// [1, 65536] and non-finite entries are errors naming the file, row and column.
float *feature_matrix_read(const char *path, const char *what, long *n, long *d, LzError *err);

// Both matrices of a comparison, read with feature_matrix_read and checked
// against each other, naming the files: equal D, at least 2 rows and more than
// k rows in each set.
typedef struct {
    float *real, *fake;  // (nr, d), (nf, d)
    long nr, nf;
    int d;
} FeaturePair;
int feature_pair_read(FeaturePair *p, const char *real_path, const char *fake_path, int k, LzError *err);
void feature_pair_free(FeaturePair *p);
