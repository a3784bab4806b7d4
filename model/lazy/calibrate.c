// calibrate.c: the calibration observers and fits (see calibrate.h).
#include "model/lazy/calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// LAPACK least squares (QR), the Fortran symbol OpenBLAS exports (lapacke.h
// is not installed). The trailing size_t is the hidden length of `trans`.
extern void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, double *work, const int *lwork, int *info, size_t trans_len);

// mean|a - b| / mean|b| over n values, in double. A zero reference that
// stays zero has not changed (0); one that does not has changed infinitely.
static double rel_l1(const float *a, const float *b, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        num += fabs((double)a[i] - (double)b[i]);
        den += fabs((double)b[i]);
    }
    return den > 0 ? num / den : (num > 0 ? INFINITY : 0);
}

// --- teacache: block 0's modulated input against the stack residual --------------

static void tea_stack_decide(void *ctx, DitStackView *v) {
    LazyCalibrator *c = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    CHECK(v->B <= c->max_rows, "calibrate: %d rows, built for %d", v->B, c->max_rows);
    for (int b = 0; b < v->B; b++) {
        const float *z = v->z0 + b * c->row;
        float *prev = c->z0_prev + b * c->row;
        if (st->step > 0) c->x_cur[b] = rel_l1(z, prev, c->row);
        memcpy(prev, z, sizeof(float) * c->row);
    }
}

static void tea_stack_done(void *ctx, DitStackView *v) {
    LazyCalibrator *c = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    for (int b = 0; b < v->B; b++) {
        CHECK(!v->skip[b], "calibrate: a row skipped the block stack; calibration runs compute everything");
        float *prev = c->res_prev + b * c->row;
        const float *x = v->x + b * c->row, *out = v->out + b * c->row;
        if (st->step > 0) {
            // y against the previous residual; then the residual replaces it
            double num = 0, den = 0;
            for (long i = 0; i < c->row; i++) {
                double r = (double)(out[i] - x[i]);
                num += fabs(r - (double)prev[i]);
                den += fabs((double)prev[i]);
            }
            double y = den > 0 ? num / den : (num > 0 ? INFINITY : 0);
            CHECK(c->npts < c->cap, "calibrate: more than the %ld points the run was sized for", c->cap);
            c->xs[c->npts] = c->x_cur[b];
            c->ys[c->npts] = y;
            c->npts++;
        }
        for (long i = 0; i < c->row; i++) prev[i] = out[i] - x[i];
    }
}

// --- smoothcache: module outputs against the same module J steps back ---------------

static float *hist_at(const LazyCalibrator *c, int step, int layer, int module, int row) {
    long slot = step % c->lookahead;
    return c->hist + (((slot * c->L + layer) * 2 + module) * c->max_rows + row) * c->row;
}

static void smooth_fill(void *ctx, DitModuleView *v) {
    LazyCalibrator *c = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    int s = st->step;
    for (int b = 0; b < v->B; b++) {
        CHECK(!v->skip[b], "calibrate: a module was skipped; calibration runs compute everything");
        int r = v->row_ids[b];
        const float *y = v->y + b * c->row;
        // Read every older step first: the ring slot of step s - J is the one step s overwrites.
        for (int k = 1; k <= c->lookahead && k <= s; k++) {
            double e = rel_l1(hist_at(c, s - k, v->layer, v->module, r), y, c->row);  // |Y_s - Y_{s-k}| / |Y_s|
            long idx = ((long)v->module * c->lookahead + k - 1) * c->K + (s - k);
            c->sum[idx] += e;
            c->cnt[idx]++;
        }
        memcpy(hist_at(c, s, v->layer, v->module, r), y, sizeof(float) * c->row);
    }
}

void lazy_calibrator_init(LazyCalibrator *c, const char *policy, const DitConfig *cfg, int max_rows, int K,
                          int lookahead, long total_rows) {
    memset(c, 0, sizeof *c);
    c->teacache = !strcmp(policy, "teacache");
    CHECK(c->teacache || !strcmp(policy, "smoothcache"), "calibrate: no calibration for policy '%s'", policy);
    CHECK(max_rows > 0 && K > 1, "calibrate: %d rows, %d steps (at least 2 steps)", max_rows, K);
    c->K = K;
    c->L = cfg->depth;
    c->max_rows = max_rows;
    c->row = (long)dit_tokens(cfg) * cfg->hidden;
    c->hooks.ctx = c;
    if (c->teacache) {
        c->cap = total_rows * (K - 1);
        size_t bytes = sizeof(float) * 2 * (size_t)(max_rows * c->row) + sizeof(double) * (size_t)(max_rows + 2 * c->cap);
        char *p = lz_calloc(bytes, 1, "teacache calibration");
        c->mem_ = p;
        c->x_cur = (double *)p;
        c->xs = c->x_cur + max_rows;
        c->ys = c->xs + c->cap;
        c->z0_prev = (float *)(c->ys + c->cap);
        c->res_prev = c->z0_prev + max_rows * c->row;
        c->hooks.stack_decide = tea_stack_decide;
        c->hooks.stack_done = tea_stack_done;
    } else {
        CHECK(lookahead >= 1 && lookahead <= LAZY_CALIB_MAX_LOOKAHEAD && lookahead < K,
              "calibrate: lookahead %d outside 1..%d and below the %d steps", lookahead, LAZY_CALIB_MAX_LOOKAHEAD, K);
        c->lookahead = lookahead;
        long n = 2L * lookahead * K;
        size_t hist = (size_t)lookahead * c->L * 2 * (size_t)max_rows * (size_t)c->row;
        char *p = lz_calloc(sizeof(double) * (size_t)n + sizeof(long) * (size_t)n + sizeof(float) * hist, 1,
                            "smoothcache calibration");
        c->mem_ = p;
        c->sum = (double *)p;
        c->cnt = (long *)(c->sum + n);
        c->hist = (float *)(c->cnt + n);
        c->hooks.fill = smooth_fill;
    }
}

void lazy_calibrator_free(LazyCalibrator *c) {
    free(c->mem_);
    memset(c, 0, sizeof *c);
}

int lazy_calibrator_finish(LazyCalibrator *c, LazyCalibration *out, LzError *err) {
    CHECK(out->steps == c->K, "calibrate: file for %d steps, run of %d", out->steps, c->K);
    if (c->teacache) {
        CHECK(!strcmp(out->policy, "teacache"), "calibrate: teacache run into a %s file", out->policy);
        for (long i = 0; i < c->npts; i++)
            if (!isfinite(c->xs[i]) || !isfinite(c->ys[i]))
                return lz_fail(err, "teacache calibration: point %ld is not finite (x %g, y %g): a zero input or "
                                    "residual that changed", i, c->xs[i], c->ys[i]);
        if (lazy_polyfit(c->xs, c->ys, c->npts, 4, out->coef, &out->r2, err)) return -1;
        out->points = c->npts;
        out->x_min = INFINITY;
        out->x_max = 0;
        for (long i = 0; i < c->npts; i++) {
            out->x_min = fmin(out->x_min, c->xs[i]);
            out->x_max = fmax(out->x_max, c->xs[i]);
        }
        return 0;
    }
    CHECK(!strcmp(out->policy, "smoothcache") && out->lookahead == c->lookahead,
          "calibrate: smoothcache run (lookahead %d) into a %s file (lookahead %d)", c->lookahead, out->policy,
          out->lookahead);
    for (int m = 0; m < 2; m++)
        for (int k = 1; k <= c->lookahead; k++)
            for (int s = 0; s + k < c->K; s++) {
                long idx = ((long)m * c->lookahead + k - 1) * c->K + s;
                if (!c->cnt[idx]) return lz_fail(err, "smoothcache calibration: no measurement at step %d, lookahead %d", s, k);
                out->err[idx] = c->sum[idx] / (double)c->cnt[idx];
                if (!isfinite(out->err[idx]))
                    return lz_fail(err, "smoothcache calibration: %s error at step %d, lookahead %d is not finite "
                                        "(a module output of zero)", m == 0 ? "attn" : "mlp", s, k);
            }
    return 0;
}

// --- least squares --------------------------------------------------------------------

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int lazy_polyfit(const double *x, const double *y, long n, int deg, double *coef, double *r2, LzError *err) {
    CHECK(deg >= 0 && deg <= 8, "polyfit: degree %d", deg);
    CHECK(n <= 2147483647L, "polyfit: %ld points", n);
    int m = (int)n, nc = deg + 1;
    // Enough distinct x values to determine the polynomial?
    double *sorted = lz_malloc(sizeof(double) * (size_t)(n > 0 ? n : 1), "polyfit");
    memcpy(sorted, x, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    long distinct = n > 0;
    for (long i = 1; i < n; i++) distinct += sorted[i] != sorted[i - 1];
    double scale = n > 0 ? fmax(fabs(sorted[0]), fabs(sorted[n - 1])) : 0;
    free(sorted);
    if (distinct <= deg)
        return lz_fail(err, "polyfit: %ld distinct x values cannot determine a degree-%d polynomial", distinct, deg);
    // Columns u^deg .. u^0 with u = x / scale (keeps the Vandermonde matrix
    // well conditioned), column-major for LAPACK.
    double *a = lz_malloc(sizeof(double) * (size_t)m * nc, "polyfit matrix");
    double *b = lz_malloc(sizeof(double) * (size_t)m, "polyfit rhs");
    for (int i = 0; i < m; i++) {
        double u = x[i] / scale, p = 1;
        for (int j = deg; j >= 0; j--) {
            a[(long)j * m + i] = p;
            p *= u;
        }
        b[i] = y[i];
    }
    int nrhs = 1, lwork = -1, info = 0;
    double wq;
    dgels_("N", &m, &nc, &nrhs, a, &m, b, &m, &wq, &lwork, &info, 1);
    lwork = (int)wq;
    double *work = lz_malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1), "polyfit work");
    dgels_("N", &m, &nc, &nrhs, a, &m, b, &m, work, &lwork, &info, 1);
    free(work);
    free(a);
    int rc = 0;
    if (info != 0) {
        rc = lz_fail(err, "polyfit: LAPACK dgels failed (info %d)", info);
    } else {
        // coefficient of x^(deg-j) = coefficient of u^(deg-j) / scale^(deg-j)
        for (int j = 0; j <= deg; j++) coef[j] = b[j] / pow(scale, deg - j);
        if (r2) {
            double mean = 0, ss_tot = 0, ss_res = 0;
            for (long i = 0; i < n; i++) mean += y[i];
            mean /= (double)n;
            for (long i = 0; i < n; i++) {
                double f = 0;
                for (int j = 0; j <= deg; j++) f = f * x[i] + coef[j];
                ss_res += (y[i] - f) * (y[i] - f);
                ss_tot += (y[i] - mean) * (y[i] - mean);
            }
            *r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
        }
    }
    free(b);
    return rc;
}
