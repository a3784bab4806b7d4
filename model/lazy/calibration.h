// calibration.h: the calibration files of the training-free caching policies
// (TeaCache's rescaling polynomial, SmoothCache's error curves), written by
// `lazydit calibrate` (model/lazy/calibrate.h) and read by the policies.
//
// One JSON object, every key required, unknown keys are errors:
//   {"format": "lazydit-calibration", "version": 1, "policy": "teacache",
//    "steps": K, "respacing": "20", "timesteps": [K original timesteps in
//    execution order], "model_sha256": "<64 hex>", "samples": N, "seed": S,
//    "sample_offset": 2147483648, "cfg_scale": 1.5,
//    "teacache": {...} or "smoothcache": {...}}
//   teacache:    {"target": "stack_residual", "coefficients": [c4, c3, c2, c1, c0],
//                 "points": P, "r2": R, "x_min": a, "x_max": b}
//                y = c4 x^4 + ... + c0 (highest degree first, numpy.poly1d order)
//                maps x, the relative L1 change of block 0's modulated input
//                between consecutive steps of a model row, to y, the relative
//                L1 change of that row's stack residual (what TeaCache reuses)
//   smoothcache: {"lookahead": J, "attn": [[...], ...], "mlp": [[...], ...]}
//                attn[k-1][s] for k = 1..J, s = 0..K-1-k: the mean over
//                calibration model rows and blocks of |Y_{s+k} - Y_s|_1 /
//                |Y_{s+k}|_1, the relative L1 error of reusing the module
//                output of step s at step s + k (row k-1 has K-k entries)
// Loading checks the file against the run: policy, step count, respacing and
// timesteps, and the model's SHA-256; a mismatch is a one-line error that
// says which.
#pragma once
#include <stdint.h>

#include "model/lazy/policy.h"

#define LAZY_CALIB_MAX_LOOKAHEAD 16
// Largest original timestep a calibration file may name (diffusion schedules have at most 10^6 steps).
#define LAZY_CALIB_MAX_TIMESTEP 1000000

typedef struct {
    char policy[16];        // "teacache" or "smoothcache"
    int steps;              // K
    char *respacing;        // owned
    long *timesteps;        // (K) owned
    uint8_t model_sha256[32];
    long samples;           // calibration samples
    uint64_t seed;          // run seed of the calibration runs
    long sample_offset;     // per-sample seed index of calibration sample 0
    double cfg_scale;
    // teacache
    double coef[5];         // highest degree first
    long points;
    double r2, x_min, x_max;
    // smoothcache
    int lookahead;          // J
    double *err;            // (2, J, K) owned; err[(m * J + k - 1) * K + s], NAN where s + k >= K
} LazyCalibration;

static inline double lazy_calib_err(const LazyCalibration *c, int module, int k, int s) {
    return c->err[((long)module * c->lookahead + k - 1) * c->steps + s];
}

// Allocates respacing, timesteps and (smoothcache) err for K steps and J lookahead.
void lazy_calibration_alloc(LazyCalibration *c, const char *policy, int steps, const char *respacing, int lookahead);
void lazy_calibration_free(LazyCalibration *c);
// Writes c as JSON, atomically.
int lazy_calibration_write(const char *path, const LazyCalibration *c, LzError *err);
// Reads and validates a file made for `policy`; with env (may be NULL) also
// checks it against the run. Errors name the file.
int lazy_calibration_load(const char *path, const char *policy, const PolicyEnv *env, LazyCalibration *c,
                          LzError *err);
