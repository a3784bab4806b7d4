// test_diffusion.c: model/diffusion.c against the official formulas
// (tests/ref/gen_diffusion.py: numpy float64 tables, torch float32 steps),
// plus closed forms, error cases and a finite-difference check of the VB
// gradient. Each comparison prints its worst distance in ulps.
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "model/base/check.h"
#include "model/diffusion.h"
#include "tests/golden_json.h"
#include "tests/test.h"

#define GOLDEN "tests/ref/golden/diffusion.json"

// ---------------------------------------------------------------------------
// JSON helpers

static const char *str(const cJSON *obj, const char *name) {
    const cJSON *v = golden_field(GOLDEN, obj, name);
    CHECK(cJSON_IsString(v), "%s: key '%s' is not a string", GOLDEN, name);
    return v->valuestring;
}

// A float32 array stored as bit patterns; returns its length through *n.
static float *bits_array(const cJSON *arr, long *n) {
    CHECK(cJSON_IsArray(arr), "%s: expected an array of float bit patterns", GOLDEN);
    long len = cJSON_GetArraySize(arr);
    float *out = lz_malloc((size_t)len * sizeof(float), "golden floats");
    long i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        uint32_t b = (uint32_t)it->valuedouble;
        memcpy(&out[i++], &b, 4);
    }
    *n = len;
    return out;
}

// ---------------------------------------------------------------------------
// distances

static int64_t ulp64(double a, double b) {
    uint64_t ua, ub;
    memcpy(&ua, &a, 8);
    memcpy(&ub, &b, 8);
    const uint64_t sign = 1ull << 63;
    // distances between finite doubles of the tables fit easily in int64
    int64_t ia = (ua & sign) ? -(int64_t)(ua & ~sign) : (int64_t)ua;
    int64_t ib = (ub & sign) ? -(int64_t)(ub & ~sign) : (int64_t)ub;
    return ia > ib ? ia - ib : ib - ia;
}

// Float results: must be within max_ulp ulps (0 = bit-exact). Prints the
// worst distance so the report shows what was measured.
static void expect_f32(const char *name, const float *got, const cJSON *want_bits, long n, int64_t max_ulp) {
    long wn;
    float *want = bits_array(want_bits, &wn);
    if (!test_check(wn == n, name, "golden length differs")) {
        free(want);
        return;
    }
    int64_t worst = 0;
    long worst_i = 0, over = 0;
    for (long i = 0; i < n; i++) {
        int64_t d = ulp32(got[i], want[i]);
        if (isnan(got[i]) != isnan(want[i])) d = INT64_MAX;
        if (d > worst) {
            worst = d;
            worst_i = i;
        }
        over += d > max_ulp;
    }
    printf("# %s: worst %" PRId64 " ulp (element %ld of %ld)\n", name, worst, worst_i, n);
    TEST_CHECK(over == 0, name, "%ld elements beyond %" PRId64 " ulp; worst %" PRId64 " at %ld: got %.9g want %.9g",
               over, max_ulp, worst, worst_i, (double)got[worst_i], (double)want[worst_i]);
    free(want);
}

// ---------------------------------------------------------------------------
// tables

static const char *TABLE_NAMES[] = {"betas",
                                    "log_betas",
                                    "alphas_cumprod",
                                    "alphas_cumprod_prev",
                                    "alphas_cumprod_next",
                                    "sqrt_alphas_cumprod",
                                    "sqrt_one_minus_alphas_cumprod",
                                    "log_one_minus_alphas_cumprod",
                                    "sqrt_recip_alphas_cumprod",
                                    "sqrt_recipm1_alphas_cumprod",
                                    "posterior_variance",
                                    "posterior_log_variance_clipped",
                                    "posterior_mean_coef1",
                                    "posterior_mean_coef2",
                                    "fixed_large_variance",
                                    "fixed_large_log_variance"};
enum { NTABLES = sizeof TABLE_NAMES / sizeof TABLE_NAMES[0] };

static const double *table_by_name(const Diffusion *d, const char *name) {
    const double *t[NTABLES] = {d->betas,
                                d->log_betas,
                                d->alphas_cumprod,
                                d->alphas_cumprod_prev,
                                d->alphas_cumprod_next,
                                d->sqrt_alphas_cumprod,
                                d->sqrt_one_minus_alphas_cumprod,
                                d->log_one_minus_alphas_cumprod,
                                d->sqrt_recip_alphas_cumprod,
                                d->sqrt_recipm1_alphas_cumprod,
                                d->posterior_variance,
                                d->posterior_log_variance_clipped,
                                d->posterior_mean_coef1,
                                d->posterior_mean_coef2,
                                d->fixed_large_variance,
                                d->fixed_large_log_variance};
    for (int k = 0; k < NTABLES; k++)
        if (strcmp(TABLE_NAMES[k], name) == 0) return t[k];
    CHECK(0, "unknown table %s", name);
}

static int tables_total = 0, tables_exact = 0;
static int64_t tables_worst_ulp = 0;

// All tables of one process: sampled entries within 4 ulp (libm's log may
// differ by an ulp between machines), exact sum within 1e-12, and the byte
// hash counted (bit-exact tables) and reported.
static void check_process(const char *label, const Diffusion *d, const cJSON *want) {
    char name[256];
    int K = (int)golden_num(GOLDEN, want, "num_steps");
    snprintf(name, sizeof name, "%s num_steps", label);
    if (!test_check(d->num_steps == K, name, "step count differs")) return;
    const cJSON *map = golden_field(GOLDEN, want, "timestep_map");
    long i = 0, bad = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, map) bad += d->timestep_map[i++] != (long)it->valuedouble;
    snprintf(name, sizeof name, "%s timestep_map", label);
    TEST_CHECK(bad == 0 && i == K, name, "%ld entries differ", bad);
    const cJSON *tabs = golden_field(GOLDEN, want, "tables");
    int exact = 0;
    int64_t worst = 0;
    const char *worst_name = "";
    for (int k = 0; k < NTABLES; k++) {
        const cJSON *tw = golden_field(GOLDEN, tabs, TABLE_NAMES[k]);
        const double *got = table_by_name(d, TABLE_NAMES[k]);
        const cJSON *at = golden_field(GOLDEN, tw, "at"), *vals = golden_field(GOLDEN, tw, "values");
        int64_t tw_worst = 0;
        for (int j = 0; j < cJSON_GetArraySize(at); j++) {
            int idx = (int)cJSON_GetArrayItem(at, j)->valuedouble;
            double w = cJSON_GetArrayItem(vals, j)->valuedouble;
            int64_t u = ulp64(got[idx], w);
            if (u > tw_worst) tw_worst = u;
        }
        double sum = 0, comp = 0;  // Kahan: the golden sum is exact (fsum)
        for (int j = 0; j < K; j++) {
            double y = got[j] - comp, s = sum + y;
            comp = (s - sum) - y;
            sum = s;
        }
        double wsum = golden_num(GOLDEN, tw, "fsum");
        int hash_ok = fnv1a32(got, (size_t)K * sizeof(double)) == (uint32_t)golden_num(GOLDEN, tw, "fnv1a");
        exact += hash_ok;
        snprintf(name, sizeof name, "%s %s", label, TABLE_NAMES[k]);
        TEST_CHECK(tw_worst <= 4 && fabs(sum - wsum) <= 1e-12 * (fabs(wsum) + 1e-300), name,
                   "worst sampled entry %" PRId64 " ulp, sum %.17g want %.17g", tw_worst, sum, wsum);
        if (tw_worst > worst) {
            worst = tw_worst;
            worst_name = TABLE_NAMES[k];
        }
    }
    tables_total += NTABLES;
    tables_exact += exact;
    if (worst > tables_worst_ulp) tables_worst_ulp = worst;
    printf("# %s: %d/%d tables bit-exact, worst sampled entry %" PRId64 " ulp (%s)\n", label, exact, NTABLES, worst,
           worst_name);
}

static void test_tables(const cJSON *doc) {
    const cJSON *item;
    cJSON_ArrayForEach(item, golden_field(GOLDEN, doc, "base")) {
        const char *schedule = str(item, "schedule");
        int steps = (int)golden_num(GOLDEN, item, "steps");
        char label[128];
        snprintf(label, sizeof label, "base %s %d", schedule, steps);
        double *betas = lz_malloc((size_t)steps * sizeof(double), "betas");
        LzError err = {{0}};
        Diffusion d;
        int rc = diffusion_named_betas(betas, schedule, steps, &err);
        if (rc == 0) rc = diffusion_create_from_betas(&d, betas, steps, &err);
        if (test_check(rc == 0, label, err.msg)) {
            check_process(label, &d, item);
            diffusion_free(&d);
        }
        free(betas);
    }
    cJSON_ArrayForEach(item, golden_field(GOLDEN, doc, "respaced")) {
        const char *schedule = str(item, "schedule"), *respacing = str(item, "respacing");
        char label[128];
        snprintf(label, sizeof label, "respaced %s '%s'", schedule, respacing);
        LzError err = {{0}};
        Diffusion d;
        int rc = diffusion_create(&d, schedule, (int)golden_num(GOLDEN, item, "steps"), respacing, &err);
        if (test_check(rc == 0, label, err.msg)) {
            check_process(label, &d, item);
            diffusion_free(&d);
        }
    }
    // A single kept step: the official code cannot build its tables (it reads
    // posterior_variance[1]); ours falls back to entry 0 and must not crash.
    LzError err = {{0}};
    Diffusion d;
    int rc = diffusion_create(&d, "linear", 1000, "1", &err);
    TEST_CHECK(rc == 0 && d.num_steps == 1 && d.timestep_map[0] == 0 && d.alphas_cumprod_prev[0] == 1.0,
               "respacing '1' keeps timestep 0", "%s", err.msg);
    if (rc == 0) diffusion_free(&d);
}

// ---------------------------------------------------------------------------
// error cases

static void expect_error(const char *schedule, int steps, const char *respacing, const char *must_contain) {
    char name[160];
    snprintf(name, sizeof name, "error schedule '%s' steps %d respacing '%s'", schedule, steps,
             respacing ? respacing : "(null)");
    LzError err = {{0}};
    Diffusion d;
    int rc = diffusion_create(&d, schedule, steps, respacing, &err);
    if (rc == 0) {
        diffusion_free(&d);
        test_check(0, name, "accepted");
        return;
    }
    int one_line = err.msg[0] && !strchr(err.msg, '\n');
    TEST_CHECK(one_line && strstr(err.msg, must_contain) && d.num_steps == 0 && d.mem_ == NULL, name,
               "message '%.200s' (want one line containing '%.100s')", err.msg, must_contain);
    printf("#   -> %s\n", err.msg);
    diffusion_free(&d);  // safe on a failed create
}

static void test_errors(const cJSON *doc) {
    const cJSON *item;
    cJSON_ArrayForEach(item, golden_field(GOLDEN, doc, "respacing_errors")) {
        const char *r = str(item, "respacing");
        expect_error("linear", 1000, r, r);  // the official code rejects it too
    }
    expect_error("linear", 1000, "1001", "cannot divide section of 1000 steps into 1001");
    expect_error("linear", 1000, "ddim37", "integer stride");
    expect_error("linear", 1000, "foo", "unknown respacing 'foo'");
    expect_error("linear", 1000, "10,,5", "unknown respacing");
    expect_error("linear", 1000, "ddim", "bad step count");
    expect_error("linear", 1000, "ddimx", "bad step count");
    expect_error("linear", 1000, "-5", "unknown respacing");
    expect_error("linear", 1000, " 50", "unknown respacing");
    expect_error("linear", 1000, "0", "0 steps");
    expect_error("linear", 1000, "5,0", "0 steps");
    expect_error("linear", 100, "101", "cannot divide section of 100 steps into 101");
    expect_error("linear", 10, "5", "outside (0, 1]");  // scale 100: betas up to 2
    expect_error("quad", 1000, "50", "unknown noise schedule 'quad'");
    expect_error("linear", 0, "50", "0 base steps");
}

// ---------------------------------------------------------------------------
// per-step math

typedef struct {
    int B, C;
    long HW, n;  // n = B*C*HW
    int t[8];
    float *x, *model_out, *noise, *x0, *eps;  // eps: (B, C, HW) = first C channels of model_out
} StepInputs;

static const cJSON *output(const cJSON *c, const char *name) {
    return golden_field(GOLDEN, golden_field(GOLDEN, c, "outputs"), name);
}

// Float64 oracle of diffusion_vb_terms for one row, with the var values in
// double so that central differences resolve single gradient entries. The
// table coefficients are rounded to float as the float32 forward does.
static double vb_oracle(const Diffusion *d, int t, const float *x0, const float *x_t, const float *eps,
                        const double *v, long n) {
    const double rc = (float)d->sqrt_recip_alphas_cumprod[t], rm1 = (float)d->sqrt_recipm1_alphas_cumprod[t];
    const double c1 = (float)d->posterior_mean_coef1[t], c2 = (float)d->posterior_mean_coef2[t];
    const double min_log = (float)d->posterior_log_variance_clipped[t], max_log = (float)d->log_betas[t];
    const double lv1 = min_log, k = sqrt(2.0 / M_PI);
    double acc = 0;
    for (long i = 0; i < n; i++) {
        double xs = rc * x_t[i] - rm1 * eps[i];
        double mean2 = c1 * xs + c2 * x_t[i];
        double frac = (v[i] + 1) / 2;
        double lv2 = frac * max_log + (1 - frac) * min_log;
        if (t != 0) {
            double mean1 = c1 * x0[i] + c2 * x_t[i], dm = mean1 - mean2;
            acc += 0.5 * (-1 + lv2 - lv1 + exp(lv1 - lv2) + dm * dm * exp(-lv2));
        } else {
            double inv = exp(-0.5 * lv2), cx = x0[i] - mean2;
            double zp = inv * (cx + 1.0 / 255), zm = inv * (cx - 1.0 / 255);
            double cp = 0.5 * (1 + tanh(k * (zp + 0.044715 * zp * zp * zp)));
            double cm = 0.5 * (1 + tanh(k * (zm + 0.044715 * zm * zm * zm)));
            double p = x0[i] < -0.999f ? cp : x0[i] > 0.999f ? 1 - cm : cp - cm;
            acc -= log(fmax(p, 1e-12));
        }
    }
    return acc / n / M_LN2;
}

static void test_steps(const cJSON *doc) {
    const cJSON *st = golden_field(GOLDEN, doc, "steps");
    LzError err = {{0}};
    Diffusion d;
    CHECK(diffusion_create(&d, str(st, "schedule"), (int)golden_num(GOLDEN, st, "steps"), str(st, "respacing"), &err) == 0, "%s",
          err.msg);
    StepInputs in = {0};
    in.B = (int)golden_num(GOLDEN, st, "B");
    in.C = (int)golden_num(GOLDEN, st, "C");
    in.HW = (long)golden_num(GOLDEN, st, "HW");
    in.n = (long)in.B * in.C * in.HW;
    CHECK(in.B <= 8, "golden batch too large");
    for (int b = 0; b < in.B; b++) in.t[b] = (int)cJSON_GetArrayItem(golden_field(GOLDEN, st, "t"), b)->valuedouble;
    const cJSON *inputs = golden_field(GOLDEN, st, "inputs");
    long len;
    in.x = bits_array(golden_field(GOLDEN, inputs, "x"), &len);
    in.model_out = bits_array(golden_field(GOLDEN, inputs, "model_out"), &len);
    in.noise = bits_array(golden_field(GOLDEN, inputs, "noise"), &len);
    in.x0 = bits_array(golden_field(GOLDEN, inputs, "x0"), &len);
    const int B = in.B, C = in.C;
    const long HW = in.HW, n = in.n, row = (long)C * HW;
    in.eps = lz_malloc((size_t)n * sizeof(float), "eps");
    for (int b = 0; b < B; b++) memcpy(in.eps + b * row, in.model_out + (size_t)b * 2 * row, row * sizeof(float));

    float *out = lz_malloc((size_t)n * sizeof(float), "out");
    float *px = lz_malloc((size_t)n * sizeof(float), "pred_xstart");
    float *mean = lz_malloc((size_t)n * sizeof(float), "mean");
    float *lv = lz_malloc((size_t)n * sizeof(float), "log_variance");
    const cJSON *c;
    int case_i = 0;
    cJSON_ArrayForEach(c, golden_field(GOLDEN, st, "cases")) {
        const char *kind = str(c, "kind");
        const cJSON *p = golden_field(GOLDEN, c, "params");
        char name[192];
        if (strcmp(kind, "ddim") == 0) {
            float eta = (float)golden_num(GOLDEN, p, "eta");
            int clip = (int)golden_num(GOLDEN, p, "clip"), cout = (int)golden_num(GOLDEN, p, "cout");
            const float *mo = cout == 2 * C ? in.model_out : in.eps;
            diffusion_ddim_step(out, px, in.x, mo, in.noise, in.t, &d, eta, clip, B, C, cout, HW);
            // Pure float32 arithmetic with sqrt only: bit-exact.
            snprintf(name, sizeof name, "ddim eta %.1f clip %d cout %d sample", (double)eta, clip, cout);
            expect_f32(name, out, output(c, "sample"), n, 0);
            snprintf(name, sizeof name, "ddim eta %.1f clip %d cout %d pred_xstart", (double)eta, clip, cout);
            expect_f32(name, px, output(c, "pred_xstart"), n, 0);
        } else if (strcmp(kind, "ddpm") == 0) {
            const char *vs = str(p, "var");
            DiffVarType var = strcmp(vs, "learned_range") == 0 ? DIFF_VAR_LEARNED_RANGE
                              : strcmp(vs, "fixed_large") == 0 ? DIFF_VAR_FIXED_LARGE
                                                               : DIFF_VAR_FIXED_SMALL;
            int clip = (int)golden_num(GOLDEN, p, "clip"), cout = (int)golden_num(GOLDEN, p, "cout");
            const float *mo = cout == 2 * C ? in.model_out : in.eps;
            diffusion_ddpm_step(out, px, in.x, mo, in.noise, in.t, &d, var, clip, B, C, cout, HW);
            diffusion_p_mean_variance(mean, lv, NULL, in.x, mo, in.t, &d, var, clip, B, C, cout, HW);
            // exp: glibc expf vs torch's SLEEF expf (<= 1 ulp each) -> allow 2.
            snprintf(name, sizeof name, "ddpm %s clip %d sample", vs, clip);
            expect_f32(name, out, output(c, "sample"), n, 2);
            snprintf(name, sizeof name, "ddpm %s clip %d pred_xstart", vs, clip);
            expect_f32(name, px, output(c, "pred_xstart"), n, 0);
            snprintf(name, sizeof name, "ddpm %s clip %d mean", vs, clip);
            expect_f32(name, mean, output(c, "mean"), n, 0);
            snprintf(name, sizeof name, "ddpm %s clip %d log_variance", vs, clip);
            expect_f32(name, lv, output(c, "log_variance"), n, 0);
        } else if (strcmp(kind, "q_sample") == 0) {
            diffusion_q_sample(out, in.x0, in.noise, in.t, &d, B, C, HW);
            expect_f32("q_sample", out, output(c, "x_t"), n, 0);
        } else if (strcmp(kind, "q_posterior") == 0) {
            float var[8], logv[8];
            diffusion_q_posterior(out, var, logv, in.x0, in.x, in.t, &d, B, C, HW);
            expect_f32("q_posterior mean", out, output(c, "mean"), n, 0);
            int ok = 1;
            for (int b = 0; b < B; b++)
                ok &= var[b] == (float)d.posterior_variance[in.t[b]] &&
                      logv[b] == (float)d.posterior_log_variance_clipped[in.t[b]];
            TEST_CHECK(ok, "q_posterior variance rows", "per-row variance or log variance wrong");
        } else if (strcmp(kind, "normal_kl") == 0) {
            long k;
            float *m1 = bits_array(output(c, "mean1"), &k), *l1 = bits_array(output(c, "logvar1"), &k);
            float *m2 = bits_array(output(c, "mean2"), &k), *l2 = bits_array(output(c, "logvar2"), &k);
            diffusion_normal_kl(out, m1, l1, m2, l2, n);
            // two exps: a few ulps of the largest term; 8 ulp of the result
            expect_f32("normal_kl", out, output(c, "kl"), n, 8);
            free(m1), free(l1), free(m2), free(l2);
        } else if (strcmp(kind, "dgll") == 0) {
            long k;
            float *means = bits_array(output(c, "means"), &k), *ls = bits_array(output(c, "log_scales"), &k);
            diffusion_discretized_gaussian_log_likelihood(out, in.x0, means, ls, n);
            // exp, tanh, log (SLEEF vs glibc) and a difference of two CDFs:
            // checked by tolerance, worst ulp printed.
            long wn;
            float *want = bits_array(output(c, "log_probs"), &wn);
            // The official value is a difference of two float CDFs: near 1 it is
            // only determined to the CDF's rounding (2^-24), and SLEEF's tanh
            // vs glibc's tanhf moves it by that much. So compare the
            // probability exp(log_prob) with an absolute tolerance of a few
            // such units, and also report the raw log-space distance.
            long over = 0, worst_i = 0;
            double worst = 0;
            for (long i = 0; i < n; i++) {
                double pg = exp((double)out[i]), pw = exp((double)want[i]);
                double dp = fabs(pg - pw), lim = 4 * 0x1.0p-24 + 1e-5 * pw;
                over += !(dp <= lim);
                if (dp / lim > worst) worst = dp / lim, worst_i = i;
            }
            printf("# dgll: worst |p - p_torch| = %.3g of its tolerance (element %ld: log %.9g vs %.9g)\n", worst,
                   worst_i, (double)out[worst_i], (double)want[worst_i]);
            TEST_CHECK(over == 0, "dgll probabilities", "%ld elements off (worst %.3g of tolerance)", over, worst);
            int64_t u = 0;
            for (long i = 0; i < n; i++)
                if (want[i] > -10) u = ulp32(out[i], want[i]) > u ? ulp32(out[i], want[i]) : u;
            printf("# dgll: worst %" PRId64 " ulp where log_prob > -10 (well-conditioned)\n", u);
            TEST_CHECK(u <= 64, "dgll well-conditioned elements", "worst %" PRId64 " ulp", u);
            free(want), free(means), free(ls);
        } else if (strcmp(kind, "vb") == 0) {
            long k;
            float *x_t = bits_array(output(c, "x_t"), &k);
            float vb[8];
            float *dvar = lz_malloc((size_t)n * sizeof(float), "dvar");
            diffusion_vb_terms(vb, dvar, in.x0, x_t, in.model_out, in.t, &d, B, C, HW);
            float *want_vb = bits_array(output(c, "vb"), &k);
            float *want_dvar = bits_array(output(c, "dvar"), &k);
            // torch averages in float32 with its own summation order: tolerance.
            test_close("vb terms", vb, want_vb, B, 1e-5, 1e-7);
            double scale = 0;
            for (long i = 0; i < n; i++) scale = fmax(scale, fabs(want_dvar[i]));
            test_close("vb d/d var values (vs torch autograd)", dvar, want_dvar, n, 1e-4, 1e-5 * scale);
            printf("# vb: %.9g %.9g %.9g; dvar rel-to-scale error %.3g\n", (double)vb[0], (double)vb[1],
                   (double)vb[2], test_rel_to_scale(dvar, want_dvar, n));
            // Finite differences of a float64 oracle of the same forward (the
            // float32 forward is too coarse: vb ~ 1 has ulp 1e-7, while single
            // entries of the gradient are ~1e-6).
            double *vd = lz_malloc((size_t)n * sizeof(double), "var values (double)");
            for (int b = 0; b < B; b++)
                for (long i = 0; i < row; i++) vd[(size_t)b * row + i] = in.model_out[(size_t)b * 2 * row + row + i];
            double worst = 0;
            for (int b = 0; b < B; b++) {
                for (long i = 0; i < row; i++) {
                    double *v = &vd[(size_t)b * row + i];
                    const double v0 = *v, h = 1e-4;
                    *v = v0 + h;
                    double fp = vb_oracle(&d, in.t[b], in.x0 + b * row, x_t + b * row, in.eps + b * row,
                                          vd + (size_t)b * row, row);
                    *v = v0 - h;
                    double fm = vb_oracle(&d, in.t[b], in.x0 + b * row, x_t + b * row, in.eps + b * row,
                                          vd + (size_t)b * row, row);
                    *v = v0;
                    double fd = (fp - fm) / (2 * h);
                    double an = dvar[(size_t)b * row + i];
                    worst = fmax(worst, fabs(fd - an) / (fabs(fd) + 1e-3 * scale));
                }
            }
            printf("# vb gradient vs float64 finite differences: worst relative error %.3g\n", worst);
            TEST_CHECK(worst < 1e-3, "vb gradient vs finite differences", "worst relative error %.3g", worst);
            free(vd);
            free(dvar), free(x_t), free(want_vb), free(want_dvar);
        } else {
            CHECK(0, "%s: unknown case kind '%s'", GOLDEN, kind);
        }
        case_i++;
    }

    // DDIM against its closed form in double, from the float64 tables:
    //   x0 = sqrt(1/ab) x - sqrt(1/ab - 1) eps; eps' = (sqrt(1/ab) x - x0) / sqrt(1/ab - 1)
    //   x_prev = x0 sqrt(ab_prev) + sqrt(1 - ab_prev - sigma^2) eps' + [t>0] sigma noise
    {
        const float eta = 0.5f;
        diffusion_ddim_step(out, NULL, in.x, in.model_out, in.noise, in.t, &d, eta, 0, B, C, 2 * C, HW);
        float *ref = lz_malloc((size_t)n * sizeof(float), "ddim ref");
        for (int b = 0; b < B; b++) {
            int t = in.t[b];
            double ab = d.alphas_cumprod[t], abp = d.alphas_cumprod_prev[t];
            double sigma = eta * sqrt((1 - abp) / (1 - ab)) * sqrt(1 - ab / abp);
            for (long i = 0; i < row; i++) {
                double x = in.x[b * row + i], e = in.eps[b * row + i];
                double x0 = sqrt(1 / ab) * x - sqrt(1 / ab - 1) * e;
                double e2 = (sqrt(1 / ab) * x - x0) / sqrt(1 / ab - 1);
                double v = x0 * sqrt(abp) + sqrt(1 - abp - sigma * sigma) * e2 + (t > 0 ? sigma : 0) *
                           in.noise[b * row + i];
                ref[b * row + i] = (float)v;
            }
        }
        // float32 coefficients and ops vs double: relative to the output scale
        double rel = test_rel_to_scale(out, ref, n);
        TEST_CHECK(rel < 2e-5, "ddim eta 0.5 vs closed form (double)", "max error %.3g of scale", rel);
        printf("# ddim closed form: max error %.3g relative to scale\n", rel);
        free(ref);
    }
    // In place: x_prev may alias x_t.
    {
        float *ref = lz_malloc((size_t)n * sizeof(float), "ref");
        diffusion_ddim_step(ref, NULL, in.x, in.model_out, in.noise, in.t, &d, 0.3f, 1, B, C, 2 * C, HW);
        memcpy(out, in.x, (size_t)n * sizeof(float));
        diffusion_ddim_step(out, NULL, out, in.model_out, in.noise, in.t, &d, 0.3f, 1, B, C, 2 * C, HW);
        TEST_CHECK(memcmp(out, ref, (size_t)n * sizeof(float)) == 0, "ddim in place", "differs from out of place");
        diffusion_ddpm_step(ref, NULL, in.x, in.model_out, in.noise, in.t, &d, DIFF_VAR_LEARNED_RANGE, 0, B, C,
                            2 * C, HW);
        memcpy(out, in.x, (size_t)n * sizeof(float));
        diffusion_ddpm_step(out, NULL, out, in.model_out, in.noise, in.t, &d, DIFF_VAR_LEARNED_RANGE, 0, B, C, 2 * C,
                            HW);
        TEST_CHECK(memcmp(out, ref, (size_t)n * sizeof(float)) == 0, "ddpm in place", "differs from out of place");
        // NULL noise = zeros; at t == 0 (row 2) noise never matters.
        diffusion_ddim_step(out, NULL, in.x, in.model_out, NULL, in.t, &d, 0.0f, 0, B, C, 2 * C, HW);
        diffusion_ddim_step(ref, NULL, in.x, in.model_out, in.noise, in.t, &d, 0.0f, 0, B, C, 2 * C, HW);
        TEST_CHECK(memcmp(out, ref, (size_t)n * sizeof(float)) == 0, "ddim eta 0 ignores noise",
                   "noise changed a deterministic step");
        free(ref);
    }
    free(out), free(px), free(mean), free(lv);
    free(in.x), free(in.model_out), free(in.noise), free(in.x0), free(in.eps);
    diffusion_free(&d);
}

// Respacing semantics that the design relies on, independent of goldens.
static void test_respacing_facts(void) {
    LzError err = {{0}};
    Diffusion a, b;
    CHECK(diffusion_create(&a, "linear", 1000, "50", &err) == 0, "%s", err.msg);
    CHECK(diffusion_create(&b, "linear", 1000, "ddim50", &err) == 0, "%s", err.msg);
    TEST_CHECK(a.timestep_map[0] == 0 && a.timestep_map[49] == 999 && b.timestep_map[49] == 980 &&
                   b.timestep_map[1] == 20,
               "'50' spans 0..999, 'ddim50' is stride 20 up to 980", "maps %ld..%ld and %ld..%ld", a.timestep_map[0],
               a.timestep_map[49], b.timestep_map[0], b.timestep_map[49]);
    // Respaced alphas_cumprod equals the base one at the mapped timestep (up
    // to the rounding of the official recomputation).
    Diffusion base;
    CHECK(diffusion_create(&base, "linear", 1000, "", &err) == 0, "%s", err.msg);
    double worst = 0;
    for (int i = 0; i < a.num_steps; i++)
        worst = fmax(worst, fabs(a.alphas_cumprod[i] / base.alphas_cumprod[a.timestep_map[i]] - 1));
    TEST_CHECK(worst < 1e-13, "respaced alphas_cumprod = base at map", "relative difference %.3g", worst);
    int sorted = 1;
    for (int i = 1; i < a.num_steps; i++) sorted &= a.timestep_map[i] > a.timestep_map[i - 1];
    TEST_CHECK(sorted, "timestep map ascending", "not ascending");
    diffusion_free(&a);
    diffusion_free(&b);
    diffusion_free(&base);
}

// The schedule a checkpoint records (metadata text) and what a sampler builds from it.
static void test_schedule_meta(void) {
    LzError err = {{0}};
    DiffusionSchedule s;
    int rc = diffusion_schedule_from_meta(&s, NULL, NULL, "w.safetensors", &err);
    TEST_CHECK(rc == 0 && !strcmp(s.name, "linear") && s.steps == 1000,
               "schedule metadata: none = the official linear 1000 steps", "%d %s %d", rc, s.name, s.steps);
    rc = diffusion_schedule_from_meta(&s, "cosine", "500", "w.safetensors", &err);
    TEST_CHECK(rc == 0 && !strcmp(s.name, "cosine") && s.steps == 500, "schedule metadata: cosine 500 read back",
               "%d %s %d", rc, s.name, s.steps);
    rc = diffusion_schedule_from_meta(&s, NULL, "250", "w.safetensors", &err);
    TEST_CHECK(rc == 0 && !strcmp(s.name, "linear") && s.steps == 250, "schedule metadata: steps alone keep the linear default",
               "%d %s %d", rc, s.name, s.steps);
    const char *bad[][3] = {{"quadratic", NULL, "unknown diffusion schedule 'quadratic'"},
                            {"", NULL, "unknown diffusion schedule ''"},
                            {NULL, "1000x", "diffusion_steps '1000x'"},
                            {NULL, "0", "diffusion_steps '0'"},
                            {NULL, "", "diffusion_steps ''"}};
    for (int i = 0; i < 5; i++) {
        err.msg[0] = 0;
        rc = diffusion_schedule_from_meta(&s, bad[i][0], bad[i][1], "w.safetensors", &err);
        char name[160];
        snprintf(name, sizeof name, "schedule metadata error: %s", bad[i][2]);
        TEST_CHECK(rc != 0 && strstr(err.msg, bad[i][2]) && strstr(err.msg, "w.safetensors"), name, "%d '%.400s'", rc,
                   err.msg);
    }
    // diffusion_create_for = diffusion_create with the resolved schedule ({"", 0} is the default)
    Diffusion a, b;
    DiffusionSchedule zero;
    memset(&zero, 0, sizeof zero);
    CHECK(diffusion_create_for(&a, &zero, "50", &err) == 0, "%s", err.msg);
    CHECK(diffusion_create(&b, "linear", 1000, "50", &err) == 0, "%s", err.msg);
    int same = a.num_steps == b.num_steps && a.base_steps == b.base_steps;
    for (int i = 0; same && i < a.num_steps; i++)
        same = a.alphas_cumprod[i] == b.alphas_cumprod[i] && a.timestep_map[i] == b.timestep_map[i];
    TEST_CHECK(same, "diffusion_create_for of the zero schedule = diffusion_create(linear, 1000)", "steps %d %d",
               a.num_steps, b.num_steps);
    diffusion_free(&a);
    diffusion_free(&b);
}

int main(void) {
    char *text = golden_read_text(GOLDEN);
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc, "%s: invalid JSON", GOLDEN);
    test_tables(doc);
    printf("# tables: %d/%d bit-exact (byte hash), worst sampled entry %" PRId64 " ulp\n", tables_exact,
           tables_total, tables_worst_ulp);
    test_errors(doc);
    test_respacing_facts();
    test_schedule_meta();
    test_steps(doc);
    cJSON_Delete(doc);
    free(text);
    return test_finish();
}
