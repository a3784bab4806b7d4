// Fuzz target: TeaCache and SmoothCache calibration files
// (model/lazy/calibration.h), each input read as both kinds: file reading with
// its size, NUL and UTF-8 rules, the JSON parser, the strict top level, the
// timesteps, the polynomial and the error curves. A file that loads must be
// consistent, written back and read again to the same values, fit a run of
// its own steps and model, and initialise its policy for that run.
#include <math.h>

#include "model/lazy/calibration.h"
#include "tests/fuzz/fuzz_util.h"

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check_loaded(const LazyCalibration *c, const char *policy, const char *path) {
    int tea = !strcmp(policy, "teacache");
    if (strcmp(c->policy, policy) || c->steps < 1 || !c->respacing || !c->timesteps || c->samples < 1) abort();
    for (int s = 0; s < c->steps; s++)
        if (c->timesteps[s] < 0) abort();
    if (tea) {
        for (int i = 0; i < 5; i++)
            if (!isfinite(c->coef[i])) abort();
        if (!(c->x_min <= c->x_max) || c->points < 1 || !isfinite(c->r2)) abort();
    } else {
        if (c->lookahead < 1 || c->lookahead > LAZY_CALIB_MAX_LOOKAHEAD || c->lookahead >= c->steps || !c->err)
            abort();
        for (int m = 0; m < 2; m++)
            for (int k = 1; k <= c->lookahead; k++)
                for (int s = 0; s + k < c->steps; s++)
                    if (!(lazy_calib_err(c, m, k, s) >= 0) || !isfinite(lazy_calib_err(c, m, k, s))) abort();
    }

    // Written and read back: the same values.
    LzError err;
    const char *out = fuzz_out_path();
    if (lazy_calibration_write(out, c, &err)) abort();
    LazyCalibration d;
    if (lazy_calibration_load(out, policy, NULL, &d, &err)) abort();
    if (d.steps != c->steps || strcmp(d.respacing, c->respacing) ||
        memcmp(d.timesteps, c->timesteps, sizeof(long) * (size_t)c->steps) ||
        memcmp(d.model_sha256, c->model_sha256, 32) || d.samples != c->samples || d.seed != c->seed ||
        d.sample_offset != c->sample_offset || !same_double(d.cfg_scale, c->cfg_scale))
        abort();
    if (tea) {
        for (int i = 0; i < 5; i++)
            if (!same_double(d.coef[i], c->coef[i])) abort();
        if (d.points != c->points || !same_double(d.r2, c->r2) || !same_double(d.x_min, c->x_min) ||
            !same_double(d.x_max, c->x_max))
            abort();
    } else {
        if (d.lookahead != c->lookahead) abort();
        for (int m = 0; m < 2; m++)
            for (int k = 1; k <= c->lookahead; k++)
                for (int s = 0; s + k < c->steps; s++)
                    if (!same_double(lazy_calib_err(&d, m, k, s), lazy_calib_err(c, m, k, s))) abort();
    }
    lazy_calibration_free(&d);

    // A run of the file's own steps and model accepts it (and one with a step
    // less refuses it); its policy initialises for that run.
    DitConfig cfg = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 4, .depth = 1, .heads = 1,
                     .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 16, .freq_dim = 256};
    PolicyEnv env = {.cfg = &cfg, .num_steps = c->steps, .timesteps = c->timesteps, .respacing = c->respacing,
                     .max_rows = 2, .model_sha256 = c->model_sha256};
    if (lazy_calibration_load(path, policy, &env, &d, &err)) abort();
    lazy_calibration_free(&d);
    env.num_steps = c->steps - 1;
    if (c->steps > 1 && lazy_calibration_load(path, policy, &env, &d, &err) == 0) abort();
    env.num_steps = c->steps;
    Policy p;
    memset(&p, 0, sizeof p);
    PolicyArg args[2] = {{tea ? "delta" : "alpha", "0.1"}, {"calibration", path}};
    if (policy_create(&p, policy, NULL, args, 2, &err)) abort();
    if (policy_init(&p, &env, &err)) abort();
    policy_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    static const char *const policies[2] = {"teacache", "smoothcache"};
    for (int k = 0; k < 2; k++) {
        LazyCalibration c;
        LzError err;
        if (lazy_calibration_load(path, policies[k], NULL, &c, &err) == 0) {
            check_loaded(&c, policies[k], path);
            lazy_calibration_free(&c);
        } else if (!err.msg[0] || strchr(err.msg, '\n')) {
            abort();
        }
    }
    return 0;
}
