// The calibration measurements and fits of lazydit calibrate: the least-
// squares polynomial recovers exact polynomials and matches the closed-form
// line fit; the TeaCache points and the SmoothCache error curves equal a
// direct computation from every module output and stack residual recorded by
// an independent hook on the same full-compute run; a calibration file
// written from them loads back unchanged.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/base/prng.h"
#include "model/lazy/calibrate.h"
#include "model/sampler.h"
#include "tests/test.h"

static void test_polyfit(void) {
    // exact quartic
    double x[40], y[40], coef[5], r2;
    const double want[5] = {3, -2, 0.5, -1, 0.25};
    for (int i = 0; i < 40; i++) {
        x[i] = 0.01 + 0.49 * i / 39.0;
        y[i] = (((want[0] * x[i] + want[1]) * x[i] + want[2]) * x[i] + want[3]) * x[i] + want[4];
    }
    LzError err;
    int rc = lazy_polyfit(x, y, 40, 4, coef, &r2, &err);
    double worst = 0;
    for (int j = 0; j < 5; j++) worst = fmax(worst, fabs(coef[j] - want[j]) / fabs(want[j]));
    TEST_CHECK(rc == 0 && worst < 1e-7 && fabs(r2 - 1) < 1e-12, "polyfit recovers an exact quartic (rel 1e-7), R^2 = 1",
               "rc %d, worst coefficient error %.3g, R^2 %.15g", rc, worst, r2);
    // a noisy line against the closed form slope = cov / var
    Prng g;
    prng_seed(&g, 5);
    double mx = 0, my = 0;
    for (int i = 0; i < 40; i++) {
        y[i] = 2 * x[i] + 1 + 0.1 * prng_normal(&g);
        mx += x[i] / 40, my += y[i] / 40;
    }
    double sxy = 0, sxx = 0;
    for (int i = 0; i < 40; i++) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    double slope = sxy / sxx, icpt = my - slope * mx;
    rc = lazy_polyfit(x, y, 40, 1, coef, &r2, &err);
    TEST_CHECK(rc == 0 && fabs(coef[0] - slope) < 1e-10 && fabs(coef[1] - icpt) < 1e-10 && r2 > 0 && r2 < 1,
               "polyfit of degree 1 equals the closed-form regression line", "got %.12g %.12g want %.12g %.12g",
               coef[0], coef[1], slope, icpt);
    double same[6] = {0.2, 0.2, 0.2, 0.3, 0.3, 0.3};
    rc = lazy_polyfit(same, y, 6, 4, coef, &r2, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "2 distinct x values cannot determine a degree-4 polynomial"),
               "polyfit refuses too few distinct x values", "%s", rc ? err.msg : "accepted");
}

// Records every module output and the stack input, z0 and output of each
// forward of one chunk: (K, L, 2, R, T, D) and (K, R, T, D).
typedef struct {
    int K, L, R;
    long row;
    float *y, *z0, *x, *out;
    DitHooks hooks;
} Recorder;

static void rec_fill(void *ctx, DitModuleView *v) {
    Recorder *r = ctx;
    int s = v->step->step;
    for (int b = 0; b < v->B; b++)
        memcpy(r->y + ((((long)s * r->L + v->layer) * 2 + v->module) * r->R + v->row_ids[b]) * r->row, v->y + b * r->row,
               sizeof(float) * r->row);
}
static void rec_stack_decide(void *ctx, DitStackView *v) {
    Recorder *r = ctx;
    long off = (long)v->step->step * r->R * r->row;
    memcpy(r->z0 + off, v->z0, sizeof(float) * v->B * r->row);
    memcpy(r->x + off, v->x, sizeof(float) * v->B * r->row);
}
static void rec_stack_done(void *ctx, DitStackView *v) {
    Recorder *r = ctx;
    memcpy(r->out + (long)v->step->step * r->R * r->row, v->out, sizeof(float) * v->B * r->row);
}

static double rel_l1(const float *a, const float *b, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) num += fabs((double)a[i] - b[i]), den += fabs((double)b[i]);
    return num / den;
}

static void test_measurements(void) {
    DitConfig c = {.input_size = 8, .patch = 2, .in_channels = 2, .hidden = 16, .depth = 3, .heads = 2,
                   .num_classes = 5, .learn_sigma = 1, .mlp_hidden = 64, .freq_dim = 256};
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_random(params, &c, 9);
    DitModel m;
    const int N = 2, R = 4, K = 5, J = 3;
    dit_build(&m, &c, params, R, 0);
    Diffusion d;
    LzError err;
    CHECK(diffusion_create(&d, "linear", 1000, "5", &err) == 0, "%s", err.msg);
    Recorder rec = {K, c.depth, R, (long)dit_tokens(&c) * c.hidden, NULL, NULL, NULL, NULL, {0}};
    rec.y = lz_malloc(sizeof(float) * K * c.depth * 2 * R * rec.row, "rec");
    rec.z0 = lz_malloc(sizeof(float) * K * R * rec.row, "rec");
    rec.x = lz_malloc(sizeof(float) * K * R * rec.row, "rec");
    rec.out = lz_malloc(sizeof(float) * K * R * rec.row, "rec");
    rec.hooks = (DitHooks){.ctx = &rec, .fill = rec_fill, .stack_decide = rec_stack_decide, .stack_done = rec_stack_done};
    LazyCalibrator tea, smooth;
    lazy_calibrator_init(&tea, "teacache", &c, R, K, 0, R);
    lazy_calibrator_init(&smooth, "smoothcache", &c, R, K, J, R);
    tea.hooks.next = &smooth.hooks;
    smooth.hooks.next = &rec.hooks;
    SamplerOptions o = sampler_default_options(&c, N);
    o.sample_offset = SAMPLER_CALIBRATION_OFFSET;
    Sampler s;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    int labels[2] = {1, 4};
    float out[2 * 128];
    CHECK(sampler_run(&s, out, labels, N, NULL, &tea.hooks, NULL, NULL, &err) == 0, "%s", err.msg);

    // TeaCache points, in the calibrator's order (step, then row)
    long bad = 0, npts = 0;
    float *res = lz_malloc(sizeof(float) * 2 * rec.row, "res");
    for (int st = 1; st < K; st++)
        for (int r = 0; r < R; r++, npts++) {
            long cur = ((long)st * R + r) * rec.row, prev = ((long)(st - 1) * R + r) * rec.row;
            double x = rel_l1(rec.z0 + cur, rec.z0 + prev, rec.row);
            for (long i = 0; i < rec.row; i++) {
                res[i] = rec.out[cur + i] - rec.x[cur + i];
                res[rec.row + i] = rec.out[prev + i] - rec.x[prev + i];
            }
            double y = rel_l1(res, res + rec.row, rec.row);
            bad += npts >= tea.npts || fabs(tea.xs[npts] - x) > 1e-12 * x || fabs(tea.ys[npts] - y) > 1e-12 * y;
        }
    TEST_CHECK(bad == 0 && tea.npts == npts, "teacache calibration points equal z0 and residual changes recomputed",
               "%ld of %ld differ (calibrator has %ld)", bad, npts, tea.npts);
    LazyCalibration ct, cs;
    lazy_calibration_alloc(&ct, "teacache", K, "5", 0);
    lazy_calibration_alloc(&cs, "smoothcache", K, "5", J);
    double coef[5], r2;
    CHECK(lazy_polyfit(tea.xs, tea.ys, tea.npts, 4, coef, &r2, &err) == 0, "%s", err.msg);
    int rc = lazy_calibrator_finish(&tea, &ct, &err);
    TEST_CHECK(rc == 0 && !memcmp(coef, ct.coef, sizeof coef) && ct.points == npts && ct.r2 == r2,
               "teacache calibration fits the recorded points", "rc %d", rc);

    // SmoothCache curves: mean over rows and blocks of |Y_{s+k} - Y_s| / |Y_{s+k}|
    rc = lazy_calibrator_finish(&smooth, &cs, &err);
    double worst = 0;
    for (int mod = 0; mod < 2; mod++)
        for (int k = 1; k <= J; k++)
            for (int st = 0; st + k < K; st++) {
                double sum = 0;
                for (int l = 0; l < c.depth; l++)
                    for (int r = 0; r < R; r++) {
                        const float *a = rec.y + ((((long)st * c.depth + l) * 2 + mod) * R + r) * rec.row;
                        const float *b = rec.y + ((((long)(st + k) * c.depth + l) * 2 + mod) * R + r) * rec.row;
                        sum += rel_l1(a, b, rec.row);
                    }
                double want = sum / (c.depth * R), got = lazy_calib_err(&cs, mod, k, st);
                worst = fmax(worst, fabs(got - want) / want);
            }
    TEST_CHECK(rc == 0 && worst < 1e-12, "smoothcache error curves equal the recomputed means (every lookahead)",
               "rc %d, worst relative difference %.3g", rc, worst);

    // the file round trip
    const char *dir = getenv("TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/calib_roundtrip.json", dir ? dir : "/tmp");
    cs.samples = N;
    for (int i = 0; i < K; i++) cs.timesteps[i] = d.timestep_map[K - 1 - i];
    CHECK(lazy_calibration_write(path, &cs, &err) == 0, "%s", err.msg);
    LazyCalibration back;
    rc = lazy_calibration_load(path, "smoothcache", NULL, &back, &err);
    int same = rc == 0 && back.lookahead == J;
    for (int mod = 0; same && mod < 2; mod++)
        for (int k = 1; k <= J; k++)
            for (int st = 0; st + k < K; st++) same &= lazy_calib_err(&back, mod, k, st) == lazy_calib_err(&cs, mod, k, st);
    TEST_CHECK(same, "a smoothcache calibration file loads back bit for bit", "%s", rc ? err.msg : "values differ");
    if (!rc) lazy_calibration_free(&back);

    lazy_calibration_free(&ct);
    lazy_calibration_free(&cs);
    lazy_calibrator_free(&tea);
    lazy_calibrator_free(&smooth);
    sampler_free(&s);
    free(res), free(rec.y), free(rec.z0), free(rec.x), free(rec.out);
    diffusion_free(&d);
    dit_free(&m);
}

int main(void) {
    test_polyfit();
    test_measurements();
    return test_finish();
}
