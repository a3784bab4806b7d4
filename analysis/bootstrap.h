// bootstrap.h: percentile bootstrap confidence intervals for FD and KID
// (docs/metrics.md, "Bootstrap intervals": metrics of small sample sets get
// intervals).
//
// One replicate resamples the fake rows with replacement (N_fake draws) and,
// unless resample_real is false (a fixed, cached reference), the real rows
// too (N_real draws); a resample is a vector of counts per row. Draws use
// Prng (model/base/prng.h) seeded with cfg->seed, per replicate the real counts
// then the fake counts, so FD and KID with the same seed see the same
// resamples. Quantiles interpolate linearly between order statistics
// (numpy's default).
//
// FD replicate: FD between the weighted Gaussian fits (gauss_stats_compute_
// weighted: identical to np.cov of the resampled matrix).
// KID replicate: the full-set unbiased MMD^2 of the resample, with pairs of
// copies of one original row left out of the within-set sums (see
// kid_mmd2_weighted; keeping them would bias every replicate upward). The
// point estimate reported with it is the full-set MMD^2_u, which has the same
// expectation as the subset-averaged KID.
//
// Two intervals per statistic:
//   raw_lo, raw_hi  plain percentile interval [q(a/2), q(1 - a/2)] of the
//                   replicates, a = 1 - level;
//   lo, hi          the same after subtracting the bootstrap bias estimate
//                   bias = mean(replicates) - point.
// The adjusted one is the default because FD is biased upward by O(D/N)
// (noisy covariances lower tr sqrt(S1 S2)), and a resample repeats rows, so
// its replicates carry roughly twice that bias: with N = 1000, D = 128 and
// two samples of one Gaussian, FD = 8.5 while every replicate lies in
// [15.8, 17.0]. The adjusted interval is the spread of the estimator at this
// N around the reported value: the error bar to compare policies evaluated
// with the same N and D. (An interval for the population FD, which the
// finite-N estimate overshoots, is [lo - bias, hi - bias], the "basic"
// bootstrap interval.) For KID the bias estimate is ~0 and both agree.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model/base/check.h"

typedef struct {
    int resamples;       // B (>= 2; a few hundred to 1000 for a stable 95% interval)
    uint64_t seed;
    double level;        // central coverage, default 0.95
    bool resample_real;  // default true
} BootstrapConfig;

typedef struct {
    double point;           // the statistic on the original data
    double lo, hi;          // bias-adjusted percentile interval (contains point unless the replicates are very skewed)
    double raw_lo, raw_hi;  // plain percentile interval of the replicates
    double bias;            // mean(replicates) - point
    double std;             // standard deviation of the replicates (ddof 1)
    int resamples;
    double level;
} BootstrapCI;

BootstrapConfig bootstrap_default_config(int resamples, uint64_t seed);

int bootstrap_fd(BootstrapCI *out, const float *real, long nr, const float *fake, long nf, int d,
                 const BootstrapConfig *cfg, LzError *err);
int bootstrap_kid(BootstrapCI *out, const float *real, long nr, const float *fake, long nf, int d,
                  const BootstrapConfig *cfg, LzError *err);

// Quantile q in [0, 1] of values (n >= 1) with linear interpolation between
// order statistics (numpy.percentile 'linear'). Sorts values in place.
double quantile_linear(double *values, int n, double q);
