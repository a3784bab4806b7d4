// gates.c: reading, validating and writing LazyDiT gate files and L2C router
// files (format in gates.h).
#include "model/lazy/gates.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/io/file_rules.h"
#include "model/io/safetensors.h"

static const char *format_name(GateKind k) { return k == GATES_L2C ? "l2c-router" : "lazydit-gates"; }

void gates_alloc(GateFile *g, GateKind kind, int S, int L, int D) {
    CHECK(S > 0 && L > 0 && D > 0, "gates_alloc: shape (%d, %d, %d)", S, L, D);
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->S = S, g->L = L, g->D = D;
    g->w = lz_calloc((size_t)2 * S * L * D, sizeof(float), "gate weights");
    snprintf(g->respacing, sizeof g->respacing, "%d", S);
    g->threshold = 0.5;
    snprintf(g->calibration, sizeof g->calibration, "none");
    g->target_ratio = g->realised_ratio = g->calibration_cfg = NAN;
    g->modules = LAZY_MOD_BOTH;
}

void gates_free(GateFile *g) {
    free(g->w);
    free(g->training);
    memset(g, 0, sizeof *g);
}

void gates_set_training(GateFile *g, const char *json) {
    free(g->training);
    g->training = json ? strdup(json) : NULL;
    CHECK(!json || g->training, "out of memory copying the training options");
}

// --- metadata parsing -------------------------------------------------------

static int meta_double(const StFile *f, const char *path, const char *key, int required, int allow_nan, double def,
                       double *out, LzError *err) {
    const char *v = st_meta(f, key);
    if (!v) {
        if (required) return lz_fail(err, "%s: metadata '%s' is missing", path, key);
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    // The whole text, without the leading spaces strtod would skip.
    if (end == v || *end || isspace((unsigned char)*v) || errno == ERANGE || (isnan(x) && !allow_nan) || isinf(x))
        return lz_fail(err, "%s: metadata '%s' = '%s' is not a %snumber", path, key, v, allow_nan ? "" : "finite ");
    *out = x;
    return 0;
}

static int meta_long(const StFile *f, const char *path, const char *key, int required, long *out, LzError *err) {
    const char *v = st_meta(f, key);
    if (!v) {
        if (required) return lz_fail(err, "%s: metadata '%s' is missing", path, key);
        *out = 0;
        return 0;
    }
    // Whole decimal integers only (model/io/file_rules.h): " 20", "+20" and
    // "20x" are errors, as everywhere else integers are read.
    if (lz_parse_long(v, LONG_MIN, LONG_MAX, out))
        return lz_fail(err, "%s: metadata '%s' = '%s' is not an integer", path, key, v);
    return 0;
}

static int meta_string(const StFile *f, const char *path, const char *key, int required, char *out, size_t cap,
                       LzError *err) {
    const char *v = st_meta(f, key);
    if (!v) {
        if (required) return lz_fail(err, "%s: metadata '%s' is missing", path, key);
        return 0;
    }
    if (!*v) return lz_fail(err, "%s: metadata '%s' is empty", path, key);
    if (strlen(v) >= cap) return lz_fail(err, "%s: metadata '%s' is longer than %zu characters", path, key, cap - 1);
    snprintf(out, cap, "%s", v);
    return 0;
}

int gates_read(GateFile *g, const char *path, GateKind kind, LzError *err) {
    memset(g, 0, sizeof *g);
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rank = kind == GATES_L2C ? 2 : 3;
    const char *what = gates_kind_name(kind);
    const StTensor *t[2] = {st_find(&f, "attn"), st_find(&f, "mlp")};
    const char *fmt = st_meta(&f, "format");
    if (fmt && strcmp(fmt, format_name(kind))) {
        lz_fail(err, "%s: metadata format '%s' is not a %s file (%s)", path, fmt, what, format_name(kind));
        goto fail;
    }
    for (int i = 0; i < f.ntensors; i++)
        if (strcmp(f.tensors[i].name, "attn") && strcmp(f.tensors[i].name, "mlp")) {
            lz_fail(err, "%s: unexpected tensor '%s' (a %s file holds exactly 'attn' and 'mlp')", path,
                    f.tensors[i].name, what);
            goto fail;
        }
    for (int m = 0; m < 2; m++) {
        const char *name = m ? "mlp" : "attn";
        if (!t[m]) {
            lz_fail(err, "%s: tensor '%s' is missing (a %s file holds 'attn' and 'mlp')", path, name, what);
            goto fail;
        }
        if (strcmp(t[m]->dtype, "F32")) {
            lz_fail(err, "%s: tensor '%s' is %s, %s files are F32", path, name, t[m]->dtype, what);
            goto fail;
        }
        if (t[m]->ndim != rank) {
            lz_fail(err, "%s: tensor '%s' has %d dimensions, %s tensors are %s", path, name, t[m]->ndim, what,
                    rank == 3 ? "(steps, blocks, hidden)" : "(steps, blocks)");
            goto fail;
        }
        for (int k = 0; k < rank; k++)
            if (t[m]->shape[k] < 1 || t[m]->shape[k] > 1000000) {
                lz_fail(err, "%s: tensor '%s' has an empty or absurd dimension %ld", path, name, t[m]->shape[k]);
                goto fail;
            }
    }
    for (int k = 0; k < rank; k++)
        if (t[0]->shape[k] != t[1]->shape[k]) {
            lz_fail(err, "%s: tensors 'attn' and 'mlp' have different shapes", path);
            goto fail;
        }
    gates_alloc(g, kind, (int)t[0]->shape[0], (int)t[0]->shape[1], rank == 3 ? (int)t[0]->shape[2] : 1);
    long per = (long)g->S * g->L * g->D;
    for (int m = 0; m < 2; m++) {
        for (long i = 0; i < per; i++)
            if (!isfinite(t[m]->data[i])) {
                lz_fail(err, "%s: tensor '%s' holds a non-finite value at flat index %ld", path, m ? "mlp" : "attn", i);
                goto fail;
            }
        memcpy(g->w + m * per, t[m]->data, sizeof(float) * per);
    }

    long steps = 0;
    if (meta_long(&f, path, "steps", 1, &steps, err)) goto fail;
    if (steps != g->S) {
        lz_fail(err, "%s: metadata steps = %ld but the tensors hold %d steps", path, steps, g->S);
        goto fail;
    }
    if (meta_string(&f, path, "respacing", 1, g->respacing, sizeof g->respacing, err)) goto fail;
    if (meta_string(&f, path, "model_sha256", 1, g->model_sha256, sizeof g->model_sha256, err)) goto fail;
    int hex_ok = strlen(g->model_sha256) == 64;
    for (int i = 0; hex_ok && i < 64; i++)
        hex_ok = isdigit((unsigned char)g->model_sha256[i]) || (g->model_sha256[i] >= 'a' && g->model_sha256[i] <= 'f');
    if (!hex_ok) {
        lz_fail(err, "%s: metadata model_sha256 '%s' is not 64 lower-case hex digits", path, g->model_sha256);
        goto fail;
    }
    if (meta_double(&f, path, "rho_attn", 1, 0, 0, &g->rho_attn, err) ||
        meta_double(&f, path, "rho_mlp", 1, 0, 0, &g->rho_mlp, err) ||
        meta_double(&f, path, "threshold", 1, 0, 0, &g->threshold, err))
        goto fail;
    if (g->rho_attn < 0 || g->rho_mlp < 0) {
        lz_fail(err, "%s: metadata rho_attn/rho_mlp must be >= 0", path);
        goto fail;
    }
    if (g->threshold < 0 || g->threshold > 1) {
        lz_fail(err, "%s: metadata threshold %g is outside [0, 1]", path, g->threshold);
        goto fail;
    }
    long stale = 0;
    if (meta_long(&f, path, "staleness", 0, &stale, err)) goto fail;
    if (stale < 0 || stale > 100000) {
        lz_fail(err, "%s: metadata staleness %ld is outside [0, 100000]", path, stale);
        goto fail;
    }
    g->staleness = (int)stale;
    if (meta_string(&f, path, "calibration", 0, g->calibration, sizeof g->calibration, err) ||
        meta_double(&f, path, "target_ratio", 0, 1, NAN, &g->target_ratio, err) ||
        meta_double(&f, path, "realised_ratio", 0, 1, NAN, &g->realised_ratio, err) ||
        meta_long(&f, path, "calibration_samples", 0, &g->calibration_samples, err) ||
        meta_long(&f, path, "calibration_seed", 0, &g->calibration_seed, err) ||
        meta_double(&f, path, "calibration_cfg", 0, 1, NAN, &g->calibration_cfg, err))
        goto fail;
    if (g->calibration_samples < 0 || g->calibration_seed < 0) {
        lz_fail(err, "%s: metadata calibration_samples and calibration_seed must be >= 0", path);
        goto fail;
    }
    const char *mods = st_meta(&f, "modules");
    if (mods && lazy_modules_parse(mods, &g->modules)) {
        lz_fail(err, "%s: metadata modules '%s' is not attn, mlp or both", path, mods);
        goto fail;
    }
    gates_set_training(g, st_meta(&f, "training"));
    st_free(&f);
    return 0;
fail:
    st_free(&f);
    gates_free(g);
    return -1;
}

int gates_write(const GateFile *g, const char *path, LzError *err) {
    long shape[3] = {g->S, g->L, g->D};
    long per = (long)g->S * g->L * g->D;
    int rank = g->kind == GATES_L2C ? 2 : 3;
    CHECK(rank == 3 || g->D == 1, "a router has one logit per slot (D = %d)", g->D);
    StWriteTensor t[2] = {{"attn", rank, shape, g->w}, {"mlp", rank, shape, g->w + per}};
    char steps[32], rho_a[40], rho_m[40], thr[40], target[40], realised[40], csamples[32], cseed[32], ccfg[40],
        stale[32];
    snprintf(stale, sizeof stale, "%d", g->staleness);
    snprintf(steps, sizeof steps, "%d", g->S);
    snprintf(rho_a, sizeof rho_a, "%.17g", g->rho_attn);
    snprintf(rho_m, sizeof rho_m, "%.17g", g->rho_mlp);
    snprintf(thr, sizeof thr, "%.17g", g->threshold);
    snprintf(target, sizeof target, "%.17g", g->target_ratio);
    snprintf(realised, sizeof realised, "%.17g", g->realised_ratio);
    snprintf(csamples, sizeof csamples, "%ld", g->calibration_samples);
    snprintf(cseed, sizeof cseed, "%ld", g->calibration_seed);
    snprintf(ccfg, sizeof ccfg, "%.17g", g->calibration_cfg);
    const char *keys[] = {"format",         "steps",          "respacing",           "model_sha256",
                          "rho_attn",       "rho_mlp",        "threshold",           "staleness",
                          "calibration",    "target_ratio",   "realised_ratio",      "calibration_samples",
                          "calibration_seed", "calibration_cfg", "modules",      "training"};
    const char *values[] = {format_name(g->kind), steps,    g->respacing, g->model_sha256, rho_a,
                            rho_m,                thr,      stale,        g->calibration,  target,
                            realised,             csamples, cseed,        ccfg,            lazy_modules_name(g->modules),
                            g->training ? g->training : "{}"};
    return st_write(path, t, 2, keys, values, (int)(sizeof keys / sizeof keys[0]), err);
}

int gates_check_run(const GateFile *g, const char *path, int steps, const char *respacing, const DitConfig *cfg,
                    const uint8_t *sha, LzError *err) {
    const char *what = g->kind == GATES_L2C ? "router was" : "gates were";
    if (g->S != steps)
        return lz_fail(err, "%s: %s trained for %d sampling steps, this run has %d", path, what, g->S, steps);
    if (respacing && strcmp(g->respacing, respacing))
        return lz_fail(err, "%s: %s trained for respacing '%s', this run uses '%s'", path, what, g->respacing,
                       respacing);
    if (g->L != cfg->depth)
        return lz_fail(err, "%s: %s trained for depth %d, the model has %d blocks", path, what, g->L, cfg->depth);
    if (g->kind == GATES_LAZYDIT && g->D != cfg->hidden)
        return lz_fail(err, "%s: gates were trained for hidden size %d, the model has %d", path, g->D, cfg->hidden);
    if (sha) {
        char hex[SHA256_HEX_LEN];
        sha256_hex(sha, hex);
        if (strcmp(hex, g->model_sha256))
            return lz_fail(err, "%s: %s trained for the model with sha256 %.12s..., these weights are %.12s...",
                           path, what, g->model_sha256, hex);
    }
    return 0;
}

void gates_note_modules(const GateFile *g, const char *path, LazyModules used, char *note, size_t cap) {
    note[0] = 0;
    if (g->modules == used || !strcmp(g->calibration, "none")) return;
    snprintf(note, cap, "%s: threshold calibrated for --modules %s (realised ratio %.4f there), used with --modules %s",
             path, lazy_modules_name(g->modules), g->realised_ratio, lazy_modules_name(used));
}
