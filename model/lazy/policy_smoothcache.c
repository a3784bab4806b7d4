// policy_smoothcache.c: SmoothCache (Liu et al. 2024, "SmoothCache: A
// Universal Inference Acceleration Technique for Diffusion Transformers").
// A static schedule per module type (attention, MLP), made at init from the
// calibrated error curves e_k(s) = relative L1 error of reusing step s's
// module output at step s + k (model/lazy/calibration.h), scanned like the
// official calibration helper:
//   s = 0; while s < K:
//     k = the largest lookahead <= J with s + k < K and e_k(s) <= alpha
//     found: compute at s, reuse at s+1 .. s+k (the cache of step s), s += k + 1
//     else:  compute at s, s += 1
//   the first and the last step compute.
// With lookahead 1 this is "reuse at s + 1 where the error between
// consecutive steps is at most alpha". Every block and every model row
// follows its module type's schedule.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/lazy/calibration.h"
#include "model/lazy/policy.h"

typedef struct {
    double alpha;
    const char *calibration;
} SmoothCacheConfig;

static const PolicyOption smoothcache_options[] = {
    {"alpha", POPT_DOUBLE, offsetof(SmoothCacheConfig, alpha), NULL, 0, 1e6,
     "reuse where the calibrated relative L1 error is at most this"},
    {"calibration", POPT_STRING, offsetof(SmoothCacheConfig, calibration), NULL, 0, -1,
     "calibration JSON from `lazydit calibrate --policy smoothcache`"},
};

typedef struct {
    int K;
    unsigned char *reuse;  // (2, K) 1 = the module type reuses its cache at step s
} SmoothCacheState;

// The official scan over the error curves of one module type.
static void make_schedule(unsigned char *reuse, const LazyCalibration *cal, int m, double alpha) {
    int K = cal->steps, J = cal->lookahead;
    memset(reuse, 0, (size_t)K);
    for (int s = 0; s < K;) {
        int k = J;
        while (k >= 1 && !(s + k < K && lazy_calib_err(cal, m, k, s) <= alpha)) k--;
        for (int i = 1; i <= k; i++) reuse[s + i] = 1;
        s += k + 1;
    }
    reuse[0] = 0;
    reuse[K - 1] = 0;
}

static int smoothcache_init(Policy *p, const PolicyEnv *env, LzError *err) {
    const SmoothCacheConfig *c = POLICY_CONFIG(p, SmoothCacheConfig);
    SmoothCacheState *s = POLICY_STATE(p, SmoothCacheState);
    LazyCalibration cal;
    if (lazy_calibration_load(c->calibration, "smoothcache", env, &cal, err)) return -1;
    s->K = env->num_steps;
    s->reuse = lz_calloc(2 * (size_t)s->K, 1, "smoothcache schedule");
    for (int m = 0; m < 2; m++) make_schedule(s->reuse + (long)m * s->K, &cal, m, c->alpha);
    lazy_calibration_free(&cal);
    return 0;
}

static void smoothcache_free(Policy *p) {
    SmoothCacheState *s = POLICY_STATE(p, SmoothCacheState);
    free(s->reuse);
    s->reuse = NULL;
}

static void smoothcache_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    (void)score;
    const SmoothCacheState *s = POLICY_STATE(p, SmoothCacheState);
    unsigned char r = s->reuse[(long)v->module * s->K + v->step->step];
    for (int b = 0; b < v->B; b++) skip[b] = r;
}

const PolicyClass policy_smoothcache = {
    .name = "smoothcache",
    .summary = "static per-module-type schedule: reuse where the calibrated error curve is at most --alpha",
    .options = smoothcache_options,
    .n_options = 2,
    .config_size = sizeof(SmoothCacheConfig),
    .state_size = sizeof(SmoothCacheState),
    .init = smoothcache_init,
    .free = smoothcache_free,
    .decide = smoothcache_decide,
    .ignores_z = 1,
};
