// calibration.c: reading, validating and writing calibration files (see
// calibration.h).
#include "model/lazy/calibration.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/sha256.h"
#include "model/io/atomic_file.h"
#include "model/io/json_config.h"

#define CALIB_FORMAT "lazydit-calibration"
#define CALIB_VERSION 1

void lazy_calibration_alloc(LazyCalibration *c, const char *policy, int steps, const char *respacing, int lookahead) {
    memset(c, 0, sizeof *c);
    CHECK(steps > 0 && lookahead >= 0 && lookahead <= LAZY_CALIB_MAX_LOOKAHEAD, "calibration: %d steps, lookahead %d",
          steps, lookahead);
    snprintf(c->policy, sizeof c->policy, "%s", policy);
    c->steps = steps;
    c->respacing = strdup(respacing);
    CHECK(c->respacing, "out of memory");
    c->timesteps = lz_calloc((size_t)steps, sizeof(long), "calibration timesteps");
    c->lookahead = lookahead;
    if (lookahead > 0) {
        long n = 2L * lookahead * steps;
        c->err = lz_malloc(sizeof(double) * (size_t)n, "calibration curves");
        for (long i = 0; i < n; i++) c->err[i] = NAN;
    }
}

void lazy_calibration_free(LazyCalibration *c) {
    free(c->respacing);
    free(c->timesteps);
    free(c->err);
    memset(c, 0, sizeof *c);
}

// --- writing -----------------------------------------------------------------

// A number that reads back to the same double: cJSON's printer settles for 15
// significant digits whenever they come within an epsilon of the value, which
// is not always the same double; 17 digits always are.
static cJSON *exact_number(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

int lazy_calibration_write(const char *path, const LazyCalibration *c, LzError *err) {
    cJSON *j = cJSON_CreateObject();
    char hex[SHA256_HEX_LEN];
    sha256_hex(c->model_sha256, hex);
    cJSON_AddStringToObject(j, "format", CALIB_FORMAT);
    cJSON_AddNumberToObject(j, "version", CALIB_VERSION);
    cJSON_AddStringToObject(j, "policy", c->policy);
    cJSON_AddNumberToObject(j, "steps", c->steps);
    cJSON_AddStringToObject(j, "respacing", c->respacing);
    cJSON *ts = cJSON_AddArrayToObject(j, "timesteps");
    for (int s = 0; s < c->steps; s++) cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)c->timesteps[s]));
    cJSON_AddStringToObject(j, "model_sha256", hex);
    cJSON_AddNumberToObject(j, "samples", (double)c->samples);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "sample_offset", (double)c->sample_offset);
    cJSON_AddNumberToObject(j, "cfg_scale", c->cfg_scale);
    if (!strcmp(c->policy, "teacache")) {
        cJSON *t = cJSON_AddObjectToObject(j, "teacache");
        cJSON_AddStringToObject(t, "target", "stack_residual");
        cJSON *co = cJSON_AddArrayToObject(t, "coefficients");
        for (int i = 0; i < 5; i++) cJSON_AddItemToArray(co, exact_number(c->coef[i]));
        cJSON_AddNumberToObject(t, "points", (double)c->points);
        cJSON_AddItemToObject(t, "r2", exact_number(c->r2));
        cJSON_AddItemToObject(t, "x_min", exact_number(c->x_min));
        cJSON_AddItemToObject(t, "x_max", exact_number(c->x_max));
    } else {
        CHECK(!strcmp(c->policy, "smoothcache") && c->lookahead > 0, "calibration: cannot write policy '%s'",
              c->policy);
        cJSON *sm = cJSON_AddObjectToObject(j, "smoothcache");
        cJSON_AddNumberToObject(sm, "lookahead", c->lookahead);
        for (int m = 0; m < 2; m++) {
            cJSON *rows = cJSON_AddArrayToObject(sm, m == 0 ? "attn" : "mlp");
            for (int k = 1; k <= c->lookahead; k++) {
                cJSON *row = cJSON_CreateArray();
                for (int s = 0; s + k < c->steps; s++) {
                    double e = lazy_calib_err(c, m, k, s);
                    // An unmeasured entry (no calibration row reached it) has no JSON spelling.
                    if (!isfinite(e)) {
                        cJSON_Delete(row);
                        cJSON_Delete(j);
                        return lz_fail(err, "%s: smoothcache error curve %s k=%d step %d is not finite", path,
                                       m == 0 ? "attn" : "mlp", k, s);
                    }
                    cJSON_AddItemToArray(row, exact_number(e));
                }
                cJSON_AddItemToArray(rows, row);
            }
        }
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    CHECK(text, "out of memory printing %s", path);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (!rc) {
        atomic_write(&af, text, strlen(text));
        atomic_write(&af, "\n", 1);
        rc = atomic_commit(&af, err);
    }
    cJSON_free(text);
    return rc;
}

// --- reading -----------------------------------------------------------------

static int parse_hex(const char *hex, uint8_t out[32]) {
    if (strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = hex[2 * i + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + (unsigned)d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

// Reads a JSON array of exactly n finite numbers (>= lo) into out.
static int read_numbers(const cJSON *arr, int n, double lo, double *out, const char *where, LzError *err) {
    int count = cJSON_GetArraySize(arr);
    if (count != n) return lz_fail(err, "%s: expected %d numbers, found %d", where, n, count);
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return lz_fail(err, "%s[%d]: must be a finite number", where, i);
        if (it->valuedouble < lo) return lz_fail(err, "%s[%d]: %g is below %g", where, i, it->valuedouble, lo);
        out[i] = it->valuedouble;
    }
    return 0;
}

static int read_teacache(const cJSON *obj, const char *path, LazyCalibration *c, LzError *err) {
    const char *target = NULL;
    const cJSON *coef = NULL;
    char where[600];
    snprintf(where, sizeof where, "%s: teacache", path);
    JcField f[] = {
        {"target", JC_STRING, &target, true, 0, -1},     {"coefficients", JC_ARRAY, &coef, true, 0, -1},
        {"points", JC_LONG, &c->points, true, 1, 1e15},  {"r2", JC_DOUBLE, &c->r2, true, 0, -1},
        {"x_min", JC_DOUBLE, &c->x_min, true, 0, 1e30},  {"x_max", JC_DOUBLE, &c->x_max, true, 0, 1e30},
    };
    if (jc_read_object(obj, where, f, 6, err)) return -1;
    if (strcmp(target, "stack_residual"))
        return lz_fail(err, "%s.target: '%s' (this version fits the stack residual: stack_residual)", where, target);
    // The policy clamps x into [x_min, x_max] before the polynomial: a
    // reversed range would pin every x to x_max.
    if (c->x_min > c->x_max)
        return lz_fail(err, "%s: x_min %g is above x_max %g", where, c->x_min, c->x_max);
    if (c->r2 > 1) return lz_fail(err, "%s.r2: %g is above 1 (r2 = 1 - SS_res / SS_tot)", where, c->r2);
    snprintf(where, sizeof where, "%s: teacache.coefficients", path);
    return read_numbers(coef, 5, -INFINITY, c->coef, where, err);
}

static int read_smoothcache(const cJSON *obj, const char *path, LazyCalibration *c, LzError *err) {
    const cJSON *curves[2] = {NULL, NULL};
    int J = 0;
    char where[600];
    snprintf(where, sizeof where, "%s: smoothcache", path);
    JcField f[] = {
        {"lookahead", JC_INT, &J, true, 1, LAZY_CALIB_MAX_LOOKAHEAD},
        {"attn", JC_ARRAY, &curves[0], true, 0, -1},
        {"mlp", JC_ARRAY, &curves[1], true, 0, -1},
    };
    if (jc_read_object(obj, where, f, 3, err)) return -1;
    if (J >= c->steps)
        return lz_fail(err, "%s.lookahead: %d must be below the %d steps", where, J, c->steps);
    long n = 2L * J * c->steps;
    c->lookahead = J;
    c->err = lz_malloc(sizeof(double) * (size_t)n, "calibration curves");
    for (long i = 0; i < n; i++) c->err[i] = NAN;
    for (int m = 0; m < 2; m++) {
        const char *name = m == 0 ? "attn" : "mlp";
        if (cJSON_GetArraySize(curves[m]) != J)
            return lz_fail(err, "%s.%s: expected %d rows (one per lookahead), found %d", where, name, J,
                           cJSON_GetArraySize(curves[m]));
        int k = 1;
        for (const cJSON *row = curves[m]->child; row; row = row->next, k++) {
            char w2[700];
            snprintf(w2, sizeof w2, "%s.%s[%d]", where, name, k - 1);
            if (!cJSON_IsArray(row)) return lz_fail(err, "%s: must be an array", w2);
            if (read_numbers(row, c->steps - k, 0, c->err + ((long)m * J + k - 1) * c->steps, w2, err)) return -1;
        }
    }
    return 0;
}

static int check_run(const char *path, const LazyCalibration *c, const PolicyEnv *env, LzError *err) {
    if (c->steps != env->num_steps)
        return lz_fail(err, "%s: calibrated for %d sampling steps but this run has %d (run lazydit calibrate with --steps %d)",
                       path, c->steps, env->num_steps, env->num_steps);
    int same = 1;
    for (int s = 0; s < c->steps; s++) same &= c->timesteps[s] == env->timesteps[s];
    if (!same || (env->respacing && strcmp(c->respacing, env->respacing)))
        return lz_fail(err, "%s: calibrated with respacing '%s' but this run uses '%s'%s", path, c->respacing,
                       env->respacing ? env->respacing : "?", same ? "" : " (different timesteps)");
    if (env->model_sha256 && memcmp(c->model_sha256, env->model_sha256, 32)) {
        char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
        sha256_hex(c->model_sha256, a);
        sha256_hex(env->model_sha256, b);
        return lz_fail(err, "%s: calibrated for the model with SHA-256 %.12s... but the weights are %.12s...", path, a,
                       b);
    }
    return 0;
}

int lazy_calibration_load(const char *path, const char *policy, const PolicyEnv *env, LazyCalibration *c,
                          LzError *err) {
    memset(c, 0, sizeof *c);
    CHECK(!strcmp(policy, "teacache") || !strcmp(policy, "smoothcache"), "calibration: no file format for '%s'", policy);
    cJSON *root = jc_load_file(path, err);
    if (!root) return -1;
    const char *format = NULL, *pol = NULL, *respacing = NULL, *sha = NULL;
    const cJSON *ts = NULL, *tea = NULL, *smooth = NULL;
    int version = 0;
    long seed = 0;
    JcField f[] = {
        {"format", JC_STRING, &format, true, 0, -1},
        {"version", JC_INT, &version, true, 0, -1},
        {"policy", JC_STRING, &pol, true, 0, -1},
        {"steps", JC_INT, &c->steps, true, 1, 1000000},
        {"respacing", JC_STRING, &respacing, true, 0, -1},
        {"timesteps", JC_ARRAY, &ts, true, 0, -1},
        {"model_sha256", JC_STRING, &sha, true, 0, -1},
        {"samples", JC_LONG, &c->samples, true, 1, 1e15},
        {"seed", JC_LONG, &seed, true, 0, 9e15},
        {"sample_offset", JC_LONG, &c->sample_offset, true, 0, 9e15},
        {"cfg_scale", JC_DOUBLE, &c->cfg_scale, true, 0, -1},
        {"teacache", JC_OBJECT, &tea, false, 0, -1},
        {"smoothcache", JC_OBJECT, &smooth, false, 0, -1},
    };
    int rc = -1;
    if (jc_read_object(root, path, f, (int)(sizeof f / sizeof f[0]), err)) goto done;
    if (strcmp(format, CALIB_FORMAT)) {
        lz_fail(err, "%s: format '%s' is not %s", path, format, CALIB_FORMAT);
        goto done;
    }
    if (version != CALIB_VERSION) {
        lz_fail(err, "%s: version %d (this build reads version %d)", path, version, CALIB_VERSION);
        goto done;
    }
    if (strcmp(pol, policy)) {
        lz_fail(err, "%s: a %s calibration, not one for %s", path, pol, policy);
        goto done;
    }
    snprintf(c->policy, sizeof c->policy, "%s", pol);
    c->seed = (uint64_t)seed;
    c->respacing = strdup(respacing);
    CHECK(c->respacing, "out of memory");
    if (parse_hex(sha, c->model_sha256)) {
        lz_fail(err, "%s: model_sha256 must be 64 lower-case hex digits", path);
        goto done;
    }
    // The array's size (bounded by the file's) is checked before the
    // allocation, so "steps" alone cannot size one.
    if (cJSON_GetArraySize(ts) != c->steps) {
        lz_fail(err, "%s: timesteps has %d entries for %d steps", path, cJSON_GetArraySize(ts), c->steps);
        goto done;
    }
    c->timesteps = lz_calloc((size_t)c->steps, sizeof(long), "calibration timesteps");
    int s = 0;
    for (const cJSON *it = ts->child; it; it = it->next, s++) {
        // Checked before the conversion to long (1e300 does not fit one).
        if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= LAZY_CALIB_MAX_TIMESTEP) ||
            it->valuedouble != floor(it->valuedouble)) {
            lz_fail(err, "%s: timesteps[%d] must be an integer in [0, %d]", path, s, LAZY_CALIB_MAX_TIMESTEP);
            goto done;
        }
        c->timesteps[s] = (long)it->valuedouble;
    }
    const cJSON *mine = !strcmp(policy, "teacache") ? tea : smooth, *other = !strcmp(policy, "teacache") ? smooth : tea;
    if (!mine || other) {
        lz_fail(err, "%s: a %s calibration needs the \"%s\" object and no other", path, policy, policy);
        goto done;
    }
    if (!strcmp(policy, "teacache") ? read_teacache(mine, path, c, err) : read_smoothcache(mine, path, c, err)) goto done;
    if (env && check_run(path, c, env, err)) goto done;
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) lazy_calibration_free(c);
    return rc;
}
