// kid.h: Kernel Inception Distance (Binkowski et al. 2018) on feature
// matrices: the unbiased estimate of the squared MMD with the polynomial
// kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
//
// For samples X (m rows) and Y (n rows):
//   MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1))
//           + sum_{i != j} k(y_i, y_j) / (n (n - 1))
//           - 2 sum_{i, j} k(x_i, y_j) / (m n)
// (the cross term keeps i == j: X and Y are independent samples; this is the
// 'unbiased' estimator of the reference code, clean-fid and torchmetrics).
//
// KID = mean over `subsets` draws of MMD^2_u on m = min(subset_size, N_x, N_y)
// rows drawn without replacement from each set (independently per subset),
// std = population standard deviation over the subsets (ddof 0, as
// torchmetrics). RNG: the project's Prng (model/base/prng.h, xoshiro256** seeded
// through splitmix64) seeded with cfg->seed; per subset, X's rows are drawn
// first, then Y's, by partial Fisher-Yates (exactly uniform subsets).
// Kernel sums are computed in blocks with dgemm/dsyrk in double: the kernel
// values are O(1..100) while KID is O(1e-3), so float dot products would
// put their rounding straight into the result.
#pragma once
#include <stdint.h>

#include "model/base/check.h"

#define KID_DEFAULT_SUBSETS 100
#define KID_DEFAULT_SUBSET_SIZE 1000

typedef struct {
    int subsets;       // number of subsets (default 100)
    long subset_size;  // rows per subset (default 1000; capped at min(N_x, N_y))
    uint64_t seed;     // RNG seed for the subset draws
} KidConfig;

typedef struct {
    double mean;       // KID estimate: mean of the subset MMD^2_u values
    double std;        // population std over the subsets (0 when every subset is the full set)
    int subsets;       // subsets actually averaged
    long subset_size;  // rows per subset actually used
} KidResult;

KidConfig kid_default_config(void);

// KID of x (nx, d) against y (ny, d). Needs nx, ny >= 2, subsets >= 1,
// subset_size >= 2. When the subset is the whole of both sets every draw is
// the same multiset, so one MMD is computed and std = 0.
int kid_compute(KidResult *out, const float *x, long nx, const float *y, long ny, int d, const KidConfig *cfg,
                LzError *err);

// MMD^2_u of all of x (m, d) against all of y (n, d), m, n >= 2 (one "subset").
int kid_mmd2_unbiased(double *out, const float *x, long m, const float *y, long n, int d, LzError *err);

// Bootstrap form: nw weight vectors at once. Row b of wx (nw, nx) and wy
// (nw, ny) holds non-negative integer counts (how often each row appears in a
// resample). out[b] is MMD^2_u of the resampled sets with pairs of copies of
// the same original row left out of the within-set sums (a resample repeats
// rows; counting k(x, x) would bias the estimate upward by about
// (E k(x,x) - E k(x,x')) / N, which is larger than typical KID values):
//   XX_b = (c^T K c - sum_a c_a^2 K_aa) / ((sum c)^2 - sum c_a^2)
// and likewise for Y; the cross term is c^T K_XY e / (sum c sum e).
// All weights 1 gives kid_mmd2_unbiased of the full sets. Cost: one pass over
// the N_x^2/2 + N_y^2/2 + N_x N_y kernel entries plus nw times that in dgemm.
int kid_mmd2_weighted(double *out, const float *x, long nx, const double *wx, const float *y, long ny,
                      const double *wy, int nw, int d, LzError *err);
