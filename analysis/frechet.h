// frechet.h: Frechet distance between Gaussian fits of two feature sets
// (FID-proxy and sFID-proxy; docs/metrics.md).
//
//   FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr( (S1^{1/2} S2 S1^{1/2})^{1/2} )
//
// Features come in as float32 (N, D); every statistic is accumulated and
// stored in double. Covariances are unbiased (divide by N - 1), like np.cov
// with rowvar=False, which is what pytorch-fid, clean-fid and the ADM
// evaluator use.
//
// The matrix square root is taken through two symmetric eigendecompositions
// (LAPACK dsyevd) instead of scipy's general sqrtm of S1 S2: with
// S1 = V L V^T, the matrix S1^{1/2} S2 S1^{1/2} is orthogonally similar to
// M = L^{1/2} (V^T S2 V) L^{1/2}, which is symmetric positive semidefinite, so
// its eigenvalues are real; tiny negative ones (rounding) are clamped to 0 and
// tr sqrt = sum sqrt(lambda). No complex parts, no eps*I offset: a singular
// covariance (N <= D, or collapsed features) simply has zero eigenvalues,
// which the square root handles continuously. See docs/metrics.md.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model/base/check.h"

typedef struct {
    int dim;        // D
    double count;   // number of samples the statistics came from (sum of weights)
    double *mu;     // (D) mean
    double *sigma;  // (D, D) unbiased covariance, row-major, exactly symmetric
} GaussStats;

// The terms of one Frechet distance, for diagnostics and reports.
typedef struct {
    double fd;          // the distance (not clamped: rounding can leave ~ -1e-12 * tr for equal inputs)
    double mean_term;   // |mu1 - mu2|^2
    double trace1;      // tr(S1)
    double trace2;      // tr(S2)
    double tr_sqrt;     // tr sqrt(S1^{1/2} S2 S1^{1/2})
    int clamped;        // eigenvalues (of S1 and of M) that were negative and clamped to 0
    double min_eig;     // most negative eigenvalue seen before clamping (0 if none)
} FrechetTerms;

// Fills s (allocating mu and sigma) from x (n, d), n >= 2. Fails on n < 2,
// d < 1 or a non-finite value (naming the row and column).
int gauss_stats_compute(GaussStats *s, const float *x, long n, int d, LzError *err);
// Same with per-row non-negative weights w (n) (bootstrap counts): mean =
// sum w x / W and covariance = sum w (x - mu)(x - mu)^T / (W - 1), W = sum w,
// which equals np.cov of the matrix with row i repeated w[i] times. W must
// exceed 1. Rows with weight 0 are skipped.
int gauss_stats_compute_weighted(GaussStats *s, const float *x, const double *w, long n, int d, LzError *err);
void gauss_stats_free(GaussStats *s);

// Cache files for reference statistics: a small little-endian binary format,
//   bytes 0..7   magic "LZGAUSS1"
//   8..11        uint32 D
//   12..15       uint32 0 (reserved)
//   16..23       float64 count
//   then D float64 mu, then D*D float64 sigma (row-major)
// The loader checks the magic, that the file size is exactly 24 + 8 D (D + 1),
// that every value is finite and that sigma is symmetric.
int gauss_stats_save(const GaussStats *s, const char *path, LzError *err);
int gauss_stats_load(GaussStats *s, const char *path, LzError *err);

// FD from two sets of statistics (same D). terms may be NULL.
int frechet_distance_stats(double *fd, FrechetTerms *terms, const GaussStats *a, const GaussStats *b, LzError *err);
// FD from raw (mu, sigma) arrays, sigma (d, d) row-major symmetric.
int frechet_distance_raw(double *fd, FrechetTerms *terms, const double *mu1, const double *sigma1, const double *mu2,
                         const double *sigma2, int d, LzError *err);
// The first set's part of the computation, done once when one reference is
// compared with many sets (bootstrap replicates): tr(S1), the eigenvectors of
// S1 and the square roots of its eigenvalues (negative ones clamped to 0).
// frechet_distance_raw is prepare + prepared, so both give identical bits.
typedef struct {
    int dim;
    int p;             // positive eigenvalues of S1 (the size of M)
    double *mu;        // (D) mu1
    double *e;         // (D, D) eigenvectors of S1 as rows (V^T)
    double *sqrt_lam;  // (D) square roots of S1's clamped eigenvalues
    int *keep;         // (p) indices of the positive ones
    double trace1;
    int clamped;       // S1's negative eigenvalues
    double min_eig;
} FrechetPrepared;
int frechet_prepare(FrechetPrepared *p, const double *mu1, const double *sigma1, int d, LzError *err);
// FD between the prepared first set and (mu2, sigma2) of the same dimension.
int frechet_distance_prepared(double *fd, FrechetTerms *terms, const FrechetPrepared *p, const double *mu2,
                              const double *sigma2, LzError *err);
void frechet_prepared_free(FrechetPrepared *p);

// FD straight from two feature matrices x1 (n1, d) and x2 (n2, d).
int frechet_distance_features(double *fd, const float *x1, long n1, const float *x2, long n2, int d, LzError *err);
