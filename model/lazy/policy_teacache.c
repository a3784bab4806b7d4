// policy_teacache.c: TeaCache (Liu et al. 2024, "Timestep Embedding Tells:
// It's Time to Cache for Video Diffusion Model"), on the whole block stack.
//
// Per model row and step, with z0 block 0's modulated attention input:
//   x   = mean|z0_t - z0_prev| / mean|z0_prev|      (z0_prev: the previous step's, computed or not)
//   acc += max(0, poly(clamp(x, x_min, x_max)))      (the calibrated rescaling, identity without a file)
//   acc <  delta: reuse: stack output = stack input + the residual of the row's last computed step
//   else:         compute every block and reset acc to 0
// The two guards are ours, not the official code's: a degree-4 least-squares
// fit is only trusted on the range of x it was fitted on (outside it the
// quartic term takes over, and a negative increment would let the
// accumulator shrink and a row reuse forever), and an increment below zero
// near the lower end of the range is treated as no change.
// The first and the last step always compute (and reset acc). Rows decide for
// themselves, CFG null rows included. The official code keeps one accumulator
// per batch; here each model row has its own, so a sample's decisions do not
// depend on the batch it is in.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/lazy/calibration.h"
#include "model/lazy/policy.h"

typedef struct {
    double delta;
    const char *calibration;
} TeaCacheConfig;

static const PolicyOption teacache_options[] = {
    {"delta", POPT_DOUBLE, offsetof(TeaCacheConfig, delta), NULL, 0, 1e6,
     "reuse the stack residual while the accumulated rescaled change stays below this"},
    {"calibration", POPT_STRING, offsetof(TeaCacheConfig, calibration), "", 0, -1,
     "calibration JSON from `lazydit calibrate --policy teacache` (none: identity polynomial)"},
};

typedef struct {
    double coef[5];       // rescaling polynomial, highest degree first
    double x_lo, x_hi;    // the calibrated range of x (the whole line without calibration)
    int K, max_rows;
    long row;             // T * D
    double *acc;          // (max_rows) accumulated rescaled change since the row's last computed step
    float *prev;          // (max_rows, T, D) z0 of the previous step
    void *mem_;
} TeaCacheState;

static int teacache_init(Policy *p, const PolicyEnv *env, LzError *err) {
    const TeaCacheConfig *c = POLICY_CONFIG(p, TeaCacheConfig);
    TeaCacheState *s = POLICY_STATE(p, TeaCacheState);
    s->K = env->num_steps;
    s->max_rows = env->max_rows;
    s->row = (long)dit_tokens(env->cfg) * env->cfg->hidden;
    memset(s->coef, 0, sizeof s->coef);
    if (c->calibration) {
        LazyCalibration cal;
        if (lazy_calibration_load(c->calibration, "teacache", env, &cal, err)) return -1;
        memcpy(s->coef, cal.coef, sizeof s->coef);
        s->x_lo = cal.x_min;
        s->x_hi = cal.x_max;
        lazy_calibration_free(&cal);
    } else {
        s->coef[3] = 1;  // y = x
        s->x_lo = 0;
        s->x_hi = INFINITY;
        snprintf(p->note, sizeof p->note,
                 "teacache: no --calibration, using the identity polynomial (the raw relative L1 change of z0)");
    }
    size_t bytes = sizeof(double) * (size_t)s->max_rows + sizeof(float) * (size_t)s->max_rows * (size_t)s->row;
    s->mem_ = lz_calloc(bytes, 1, "teacache state");
    s->acc = s->mem_;
    s->prev = (float *)(s->acc + s->max_rows);
    return 0;
}

static void teacache_free(Policy *p) {
    TeaCacheState *s = POLICY_STATE(p, TeaCacheState);
    free(s->mem_);
    s->mem_ = NULL;
}

static double poly4(const double *c, double x) { return (((c[0] * x + c[1]) * x + c[2]) * x + c[3]) * x + c[4]; }

static void teacache_stack_decide(Policy *p, const DitStackView *v, unsigned char *skip) {
    TeaCacheState *s = POLICY_STATE(p, TeaCacheState);
    double delta = POLICY_CONFIG(p, TeaCacheConfig)->delta;
    const DitStep *st = v->step;
    CHECK(v->B <= s->max_rows, "teacache: %d rows, initialised for %d", v->B, s->max_rows);
    int boundary = st->step == 0 || st->step == st->num_steps - 1;
    for (int b = 0; b < v->B; b++) {
        const float *z = v->z0 + b * s->row;
        float *prev = s->prev + b * s->row;
        if (boundary) {
            s->acc[b] = 0;
        } else {
            double num = 0, den = 0;
            for (long i = 0; i < s->row; i++) {
                num += fabs((double)z[i] - (double)prev[i]);
                den += fabs((double)prev[i]);
            }
            // A zero previous input (a zero-initialised model) changes by
            // nothing relative to itself only if it stays zero.
            double x = den > 0 ? num / den : (num > 0 ? INFINITY : 0);
            double inc = isfinite(x) ? poly4(s->coef, fmin(fmax(x, s->x_lo), s->x_hi)) : INFINITY;
            s->acc[b] += inc > 0 ? inc : 0;
            if (s->acc[b] < delta) skip[b] = 1;
            else s->acc[b] = 0;
        }
        memcpy(prev, z, sizeof(float) * s->row);
    }
}

const PolicyClass policy_teacache = {
    .name = "teacache",
    .summary = "reuse the whole stack residual while the rescaled change of block 0's input accumulates below --delta",
    .options = teacache_options,
    .n_options = 2,
    .stack_level = 1,
    .config_size = sizeof(TeaCacheConfig),
    .state_size = sizeof(TeaCacheState),
    .init = teacache_init,
    .free = teacache_free,
    .stack_decide = teacache_stack_decide,
};
