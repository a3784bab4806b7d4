// calibrate.h: what `lazydit calibrate` measures on full-compute sampling
// runs, as an observer hook set chained on the sampler (no module is
// skipped), and the fits that turn it into a calibration file
// (model/lazy/calibration.h).
//
//   teacache:    per model row and consecutive steps (s-1, s):
//                  x = mean|z0_s - z0_{s-1}| / mean|z0_{s-1}|  (block 0's modulated input)
//                  y = mean|r_s - r_{s-1}| / mean|r_{s-1}|     (r = stack output - stack input)
//                then the least-squares degree-4 polynomial y ~ poly(x). The
//                target is the stack residual, not the model output, because
//                the residual is what TeaCache reuses: its change is exactly
//                the error a reuse makes in the stack output, while the model
//                output also moves with x_t, which a reuse does not freeze.
//   smoothcache: per module type m, lookahead k = 1..J and step s with
//                s + k < K, the mean over model rows and blocks of
//                |Y_{s+k} - Y_s|_1 / |Y_{s+k}|_1 (the official helper's
//                relative L1, per row instead of per batch so that the
//                curve does not depend on the batch size).
#pragma once
#include "model/dit.h"
#include "model/lazy/calibration.h"

typedef struct {
    int teacache;          // 1 teacache, 0 smoothcache
    int K, L, max_rows, lookahead;
    long row;              // T * D
    // teacache
    float *z0_prev;        // (max_rows, T, D)
    float *res_prev;       // (max_rows, T, D)
    double *x_cur;         // (max_rows) x of the current step
    double *xs, *ys;       // (cap) the (x, y) points
    long npts, cap;
    // smoothcache
    float *hist;           // (J, L, 2, max_rows, T, D) module outputs of the last J steps (ring by step % J)
    double *sum;           // (2, J, K)
    long *cnt;             // (2, J, K)
    void *mem_;
    DitHooks hooks;
} LazyCalibrator;

// policy: "teacache" or "smoothcache"; max_rows model rows per forward; K
// steps; lookahead J (smoothcache, 1..LAZY_CALIB_MAX_LOOKAHEAD, < K);
// total_rows: model rows over the whole run (teacache point capacity).
void lazy_calibrator_init(LazyCalibrator *c, const char *policy, const DitConfig *cfg, int max_rows, int K,
                          int lookahead, long total_rows);
void lazy_calibrator_free(LazyCalibrator *c);
// Fills the measured part of `out` (coef/points/r2/x range, or lookahead and
// err); `out` must have been allocated with lazy_calibration_alloc for the
// same policy, K and lookahead. Errors: too few points, a failed fit.
int lazy_calibrator_finish(LazyCalibrator *c, LazyCalibration *out, LzError *err);

// Least-squares polynomial of degree deg (<= 8) through n points:
// coef[0..deg] highest degree first (numpy.polyfit's order). r2 (may be
// NULL) receives 1 - SS_res / SS_tot. Returns -1 with err when n <= deg or the
// fit is singular (all x equal).
int lazy_polyfit(const double *x, const double *y, long n, int deg, double *coef, double *r2, LzError *err);
