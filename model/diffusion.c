// diffusion.c: schedules, respacing and per-step math of the official DiT
// diffusion code. Read diffusion.h first for the precision contract; in short:
// tables in float64 built like numpy, steps in float32 one rounding per torch
// op, in the official order. This file is compiled in ISO C mode, so the
// compiler never fuses a multiply and an add behind our back.
#include "model/diffusion.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/io/file_rules.h"

// ----------------------------------------------------------------------------
// base schedules

// np.linspace(start, stop, num) for float64, step by step: y = arange(num) *
// step + start with step = (stop - start) / (num - 1), then y[-1] = stop.
static void linspace(double *y, double start, double stop, int num) {
    if (num <= 0) return;
    int div = num - 1;
    double delta = stop - start;
    if (div > 0) {
        double step = delta / div;
        for (int i = 0; i < num; i++) {
            // numpy's special case for a zero (underflowed) step: y / div * delta
            double v = step == 0 ? ((double)i / div) * delta : (double)i * step;
            y[i] = v + start;
        }
        y[num - 1] = stop;
    } else {
        y[0] = 0.0 * delta + start;
    }
}

// alpha_bar of the cosine schedule, written as the official lambda is
// evaluated by Python: ((t + 0.008) / 1.008 * pi / 2) ** 2 via pow().
static double cosine_alpha_bar(double t) {
    return pow(cos((t + 0.008) / 1.008 * M_PI / 2), 2.0);
}

int diffusion_named_betas(double *betas, const char *schedule, int steps, LzError *err) {
    if (steps < 1) return lz_fail(err, "diffusion schedule: %d base steps (need at least 1)", steps);
    if (!schedule) schedule = "linear";
    if (strcmp(schedule, "linear") == 0) {
        // Ho et al.'s 1e-4 .. 0.02 for 1000 steps, scaled to keep the same
        // overall noise for other step counts.
        double scale = 1000.0 / steps;
        linspace(betas, scale * 0.0001, scale * 0.02, steps);
    } else if (strcmp(schedule, "cosine") == 0 || strcmp(schedule, "squaredcos_cap_v2") == 0) {
        for (int i = 0; i < steps; i++) {
            double t1 = (double)i / steps;
            double t2 = (double)(i + 1) / steps;
            double b = 1 - cosine_alpha_bar(t2) / cosine_alpha_bar(t1);
            betas[i] = 0.999 < b ? 0.999 : b;  // Python min(b, 0.999)
        }
    } else {
        return lz_fail(err, "unknown noise schedule '%s' (expected linear or cosine)", schedule);
    }
    return 0;
}

DiffusionSchedule diffusion_schedule_default(void) {
    DiffusionSchedule s = {DIFFUSION_DEFAULT_SCHEDULE, DIFFUSION_DEFAULT_STEPS};
    return s;
}

int diffusion_schedule_resolve(DiffusionSchedule *s, const char *where, LzError *err) {
    if (!s->name[0]) snprintf(s->name, sizeof s->name, "%s", DIFFUSION_DEFAULT_SCHEDULE);
    if (!s->steps) s->steps = DIFFUSION_DEFAULT_STEPS;
    if (strcmp(s->name, "linear") && strcmp(s->name, "cosine") && strcmp(s->name, "squaredcos_cap_v2"))
        return lz_fail(err, "%s: unknown diffusion schedule '%s' (expected linear or cosine)", where, s->name);
    if (s->steps < 1 || s->steps > DIFFUSION_MAX_STEPS)
        return lz_fail(err, "%s: diffusion steps %d outside 1..%d", where, s->steps, DIFFUSION_MAX_STEPS);
    return 0;
}

int diffusion_schedule_from_meta(DiffusionSchedule *s, const char *name, const char *steps, const char *where,
                                 LzError *err) {
    memset(s, 0, sizeof *s);
    if (name) {
        if (!*name || strlen(name) >= sizeof s->name)
            return lz_fail(err, "%s: unknown diffusion schedule '%.40s' in the metadata (expected linear or cosine)",
                           where, name);
        snprintf(s->name, sizeof s->name, "%s", name);
    }
    if (steps) {
        long v;
        if (lz_parse_long(steps, 1, DIFFUSION_MAX_STEPS, &v))  // whole text, no spaces or sign
            return lz_fail(err, "%s: diffusion_steps '%.40s' in the metadata is not an integer in 1..%d", where, steps,
                           DIFFUSION_MAX_STEPS);
        s->steps = (int)v;
    }
    return diffusion_schedule_resolve(s, where, err);
}

const char *diffusion_schedule_steps_text(const DiffusionSchedule *s, char *buf, int len) {
    snprintf(buf, (size_t)len, "%d", s->steps ? s->steps : DIFFUSION_DEFAULT_STEPS);
    return buf;
}

int diffusion_create_for(Diffusion *d, const DiffusionSchedule *s, const char *respacing, LzError *err) {
    DiffusionSchedule r = *s;
    if (diffusion_schedule_resolve(&r, "diffusion", err)) {
        memset(d, 0, sizeof *d);
        return -1;
    }
    return diffusion_create(d, r.name, r.steps, respacing, err);
}

// ----------------------------------------------------------------------------
// respacing

// Python's round() on a non-negative double: nearest integer, ties to even.
static long round_half_even(double x) {
    double f = floor(x);
    double r = x - f;
    long n = (long)f;
    if (r > 0.5) return n + 1;
    if (r < 0.5) return n;
    return (n % 2 == 0) ? n : n + 1;
}

// Parses a decimal count made only of digits (no sign, no spaces) into *out.
static int parse_count(const char *s, size_t len, long *out) {
    if (len == 0 || len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int diffusion_space_timesteps(unsigned char *keep, int *count, int num_timesteps, const char *respacing,
                              LzError *err) {
    const int T = num_timesteps;
    if (T < 1) return lz_fail(err, "respacing: %d base steps (need at least 1)", T);
    memset(keep, 0, (size_t)T);
    *count = 0;
    if (!respacing || !respacing[0]) {
        memset(keep, 1, (size_t)T);
        *count = T;
        return 0;
    }
    const char *hint = "expected N, ddimN or section counts like 10,15,20";
    if (strncmp(respacing, "ddim", 4) == 0) {
        long want;
        if (parse_count(respacing + 4, strlen(respacing + 4), &want) != 0 || want < 1)
            return lz_fail(err, "respacing '%s': bad step count after 'ddim' (%s)", respacing, hint);
        // The DDIM paper's fixed stride: the smallest stride whose
        // range(0, T, stride) has exactly `want` elements.
        for (int stride = 1; stride < T; stride++) {
            if ((T + stride - 1) / stride == want) {
                for (int i = 0; i < T; i += stride) keep[i] = 1;
                *count = (int)want;
                return 0;
            }
        }
        return lz_fail(err, "respacing '%s': cannot create exactly %ld steps from %d with an integer stride",
                       respacing, want, T);
    }
    // Comma-separated section counts ("N" is one section).
    int sections = 1;
    for (const char *p = respacing; *p; p++) sections += *p == ',';
    int size_per = T / sections, extra = T % sections;
    int start = 0;
    const char *tok = respacing;
    for (int s = 0; s < sections; s++) {
        const char *end = strchr(tok, ',');
        size_t len = end ? (size_t)(end - tok) : strlen(tok);
        long n;
        if (parse_count(tok, len, &n) != 0)
            return lz_fail(err, "unknown respacing '%s' (%s)", respacing, hint);
        int size = size_per + (s < extra ? 1 : 0);
        if (n < 1) return lz_fail(err, "respacing '%s': section %d asks for 0 steps", respacing, s);
        if (size < n)
            return lz_fail(err, "respacing '%s': cannot divide section of %d steps into %ld (base schedule has %d)",
                           respacing, size, n, T);
        // Evenly spaced with a fractional stride, accumulated by repeated
        // addition and rounded like Python's round(), as the official loop.
        double frac_stride = n <= 1 ? 1.0 : (double)(size - 1) / (double)(n - 1);
        double cur = 0.0;
        for (long k = 0; k < n; k++) {
            keep[start + round_half_even(cur)] = 1;
            cur += frac_stride;
        }
        start += size;
        tok = end ? end + 1 : tok + len;
    }
    // The official result is a set: duplicates collapse, order is ascending.
    int c = 0;
    for (int i = 0; i < T; i++) c += keep[i];
    *count = c;
    return 0;
}

// ----------------------------------------------------------------------------
// process tables

enum {
    TAB_BETAS,
    TAB_LOG_BETAS,
    TAB_AC,
    TAB_AC_PREV,
    TAB_AC_NEXT,
    TAB_SQRT_AC,
    TAB_SQRT_1M_AC,
    TAB_LOG_1M_AC,
    TAB_SQRT_RECIP_AC,
    TAB_SQRT_RECIPM1_AC,
    TAB_POST_VAR,
    TAB_POST_LOGVAR,
    TAB_POST_C1,
    TAB_POST_C2,
    TAB_FL_VAR,
    TAB_FL_LOGVAR,
    TAB_COUNT
};

// GaussianDiffusion.__init__ on `betas` (K entries already in d->betas).
static void fill_tables(Diffusion *d) {
    const int K = d->num_steps;
    const double *b = d->betas;
    double *ac = d->alphas_cumprod, *acp = d->alphas_cumprod_prev;
    for (int i = 0; i < K; i++) {
        double alpha = 1.0 - b[i];
        ac[i] = i == 0 ? alpha : ac[i - 1] * alpha;  // np.cumprod is sequential
    }
    for (int i = 0; i < K; i++) {
        double alpha = 1.0 - b[i];
        acp[i] = i == 0 ? 1.0 : ac[i - 1];
        d->alphas_cumprod_next[i] = i + 1 < K ? ac[i + 1] : 0.0;
        d->log_betas[i] = log(b[i]);
        d->sqrt_alphas_cumprod[i] = sqrt(ac[i]);
        d->sqrt_one_minus_alphas_cumprod[i] = sqrt(1.0 - ac[i]);
        d->log_one_minus_alphas_cumprod[i] = log(1.0 - ac[i]);
        d->sqrt_recip_alphas_cumprod[i] = sqrt(1.0 / ac[i]);
        d->sqrt_recipm1_alphas_cumprod[i] = sqrt(1.0 / ac[i] - 1);
        d->posterior_variance[i] = b[i] * (1.0 - acp[i]) / (1.0 - ac[i]);
        d->posterior_mean_coef1[i] = b[i] * sqrt(acp[i]) / (1.0 - ac[i]);
        d->posterior_mean_coef2[i] = (1.0 - acp[i]) * sqrt(alpha) / (1.0 - ac[i]);
    }
    // The posterior variance is 0 at t = 0; the official code clips its log by
    // repeating entry 1 there, and FIXED_LARGE uses the same trick. With a
    // single step (official code would index past the end) we fall back to
    // entry 0: log(0) = -inf for the clipped log variance, beta_0 for
    // FIXED_LARGE.
    for (int i = 0; i < K; i++) {
        int src = (i == 0 && K > 1) ? 1 : i;
        d->posterior_log_variance_clipped[i] = log(d->posterior_variance[src]);
        d->fixed_large_variance[i] = i == 0 ? (K > 1 ? d->posterior_variance[1] : b[0]) : b[i];
        d->fixed_large_log_variance[i] = log(d->fixed_large_variance[i]);
    }
}

void diffusion_free(Diffusion *d) {
    if (!d) return;
    free(d->mem_);
    free(d->timestep_map);
    memset(d, 0, sizeof *d);
}

// Allocates the tables for K steps and points the named arrays into them.
static void alloc_tables(Diffusion *d, int base_steps, int K) {
    memset(d, 0, sizeof *d);
    d->base_steps = base_steps;
    d->num_steps = K;
    d->timestep_map = lz_malloc((size_t)K * sizeof(long), "diffusion timestep map");
    d->mem_ = lz_malloc((size_t)TAB_COUNT * K * sizeof(double), "diffusion tables");
    double **tabs[TAB_COUNT] = {
        [TAB_BETAS] = &d->betas,
        [TAB_LOG_BETAS] = &d->log_betas,
        [TAB_AC] = &d->alphas_cumprod,
        [TAB_AC_PREV] = &d->alphas_cumprod_prev,
        [TAB_AC_NEXT] = &d->alphas_cumprod_next,
        [TAB_SQRT_AC] = &d->sqrt_alphas_cumprod,
        [TAB_SQRT_1M_AC] = &d->sqrt_one_minus_alphas_cumprod,
        [TAB_LOG_1M_AC] = &d->log_one_minus_alphas_cumprod,
        [TAB_SQRT_RECIP_AC] = &d->sqrt_recip_alphas_cumprod,
        [TAB_SQRT_RECIPM1_AC] = &d->sqrt_recipm1_alphas_cumprod,
        [TAB_POST_VAR] = &d->posterior_variance,
        [TAB_POST_LOGVAR] = &d->posterior_log_variance_clipped,
        [TAB_POST_C1] = &d->posterior_mean_coef1,
        [TAB_POST_C2] = &d->posterior_mean_coef2,
        [TAB_FL_VAR] = &d->fixed_large_variance,
        [TAB_FL_LOGVAR] = &d->fixed_large_log_variance,
    };
    for (int k = 0; k < TAB_COUNT; k++) *tabs[k] = d->mem_ + (size_t)k * K;
}

static int check_betas(const double *betas, int K, const char *what, LzError *err) {
    for (int i = 0; i < K; i++)
        if (!(betas[i] > 0 && betas[i] <= 1))  // the official assert; also rejects NaN
            return lz_fail(err, "%s: beta[%d] = %g outside (0, 1]", what, i, betas[i]);
    return 0;
}

int diffusion_create_from_betas(Diffusion *d, const double *betas, int K, LzError *err) {
    memset(d, 0, sizeof *d);
    if (K < 1) return lz_fail(err, "diffusion: %d betas (need at least 1)", K);
    if (check_betas(betas, K, "diffusion_create_from_betas", err) != 0) return -1;
    alloc_tables(d, K, K);
    for (int i = 0; i < K; i++) {
        d->betas[i] = betas[i];
        d->timestep_map[i] = i;
    }
    fill_tables(d);
    return 0;
}

int diffusion_create(Diffusion *d, const char *schedule, int base_steps, const char *respacing, LzError *err) {
    memset(d, 0, sizeof *d);
    if (base_steps < 1 || base_steps > 1000000)
        return lz_fail(err, "diffusion: %d base steps (expected 1 .. 1000000)", base_steps);
    const int T = base_steps;
    // The base process contributes only its alphas_cumprod to the respaced one.
    double *base_betas = lz_malloc((size_t)T * sizeof(double), "diffusion base betas");
    unsigned char *keep = lz_malloc((size_t)T, "diffusion respacing flags");
    int K = 0;
    int rc = diffusion_named_betas(base_betas, schedule, T, err);
    if (rc == 0) {
        char what[160];
        snprintf(what, sizeof what, "schedule '%s' with %d steps", schedule ? schedule : "linear", T);
        rc = check_betas(base_betas, T, what, err);
    }
    if (rc == 0) rc = diffusion_space_timesteps(keep, &K, T, respacing, err);
    if (rc != 0) {
        free(base_betas);
        free(keep);
        return -1;
    }
    alloc_tables(d, T, K);
    // SpacedDiffusion.__init__: walk the base alphas_cumprod (np.cumprod, i.e.
    // a sequential product) and turn each kept one into a beta relative to the
    // previous kept one.
    double ac = 1.0, last = 1.0;
    for (int i = 0, k = 0; i < T; i++) {
        double alpha = 1.0 - base_betas[i];
        ac = i == 0 ? alpha : ac * alpha;
        if (!keep[i]) continue;
        d->betas[k] = 1 - ac / last;
        last = ac;
        d->timestep_map[k++] = i;
    }
    free(base_betas);
    free(keep);
    char what[160];
    snprintf(what, sizeof what, "respacing '%s' of schedule '%s'", respacing ? respacing : "",
             schedule ? schedule : "linear");
    if (check_betas(d->betas, K, what, err) != 0) {
        diffusion_free(d);
        return -1;
    }
    fill_tables(d);
    return 0;
}

// ----------------------------------------------------------------------------
// per-step math, float32 like the official tensors

static inline float clamp_pm1(float v) {
    // torch.clamp(-1, 1) keeps NaN (fminf/fmaxf would drop it)
    return v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
}

static inline void check_t(const Diffusion *d, int t, int b) {
    CHECK(t >= 0 && t < d->num_steps, "diffusion: row %d has step index %d outside 0..%d (respaced index, not the "
          "original timestep)", b, t, d->num_steps - 1);
}

void diffusion_q_sample(float *x_t, const float *x0, const float *noise, const int *t, const Diffusion *d, int B,
                        int C, long HW) {
    const long n = (long)C * HW;
    for (int b = 0; b < B; b++) {
        check_t(d, t[b], b);
        const float a = (float)d->sqrt_alphas_cumprod[t[b]];
        const float s = (float)d->sqrt_one_minus_alphas_cumprod[t[b]];
        const float *x0b = x0 + (size_t)b * n, *nb = noise + (size_t)b * n;
        float *out = x_t + (size_t)b * n;
        for (long i = 0; i < n; i++) {
            float p = a * x0b[i];
            float q = s * nb[i];
            out[i] = p + q;
        }
    }
}

void diffusion_q_posterior(float *mean, float *variance, float *log_variance, const float *x0, const float *x_t,
                           const int *t, const Diffusion *d, int B, int C, long HW) {
    const long n = (long)C * HW;
    for (int b = 0; b < B; b++) {
        check_t(d, t[b], b);
        const float c1 = (float)d->posterior_mean_coef1[t[b]];
        const float c2 = (float)d->posterior_mean_coef2[t[b]];
        const float *x0b = x0 + (size_t)b * n, *xb = x_t + (size_t)b * n;
        float *mb = mean + (size_t)b * n;
        for (long i = 0; i < n; i++) {
            float p = c1 * x0b[i];
            float q = c2 * xb[i];
            mb[i] = p + q;
        }
        if (variance) variance[b] = (float)d->posterior_variance[t[b]];
        if (log_variance) log_variance[b] = (float)d->posterior_log_variance_clipped[t[b]];
    }
}

// The float32 coefficients of one row at step t (_extract_into_tensor rounds
// each float64 table entry to float32).
typedef struct {
    float rc, rm1;           // sqrt_recip_alphas_cumprod, sqrt_recipm1_alphas_cumprod
    float c1, c2;            // posterior_mean_coef1, posterior_mean_coef2
    float min_log, max_log;  // learned range: posterior_log_variance_clipped, log(betas)
    float fixed_log;         // fixed variance types: the table's log variance
    DiffVarType var;
    int clip;
} RowCoef;

static RowCoef row_coef(const Diffusion *d, int t, DiffVarType var, int clip) {
    RowCoef c;
    c.rc = (float)d->sqrt_recip_alphas_cumprod[t];
    c.rm1 = (float)d->sqrt_recipm1_alphas_cumprod[t];
    c.c1 = (float)d->posterior_mean_coef1[t];
    c.c2 = (float)d->posterior_mean_coef2[t];
    c.min_log = (float)d->posterior_log_variance_clipped[t];
    c.max_log = (float)d->log_betas[t];
    c.fixed_log = var == DIFF_VAR_FIXED_LARGE ? (float)d->fixed_large_log_variance[t] : c.min_log;
    c.var = var;
    c.clip = clip;
    return c;
}

// p_mean_variance for one element: x = x_t, eps and v (var value, learned
// range only) from the model. Each line is one torch op.
static inline void pmv_elem(const RowCoef *c, float x, float eps, float v, float *mean, float *lv, float *x0) {
    // _predict_xstart_from_eps, then process_xstart
    float p = c->rc * x;
    float q = c->rm1 * eps;
    float xs = p - q;
    if (c->clip) xs = clamp_pm1(xs);
    // q_posterior_mean_variance(pred_xstart, x_t)
    float m1 = c->c1 * xs;
    float m2 = c->c2 * x;
    *mean = m1 + m2;
    if (c->var == DIFF_VAR_LEARNED_RANGE) {
        float frac = (v + 1.0f) / 2.0f;
        float hi = frac * c->max_log;
        float lo = (1.0f - frac) * c->min_log;
        *lv = hi + lo;
    } else {
        *lv = c->fixed_log;
    }
    *x0 = xs;
}

static void check_cout(int C, int Cout) {
    CHECK(C > 0 && (Cout == C || Cout == 2 * C),
          "diffusion: model output has %d channels for %d input channels (want C or 2C)", Cout, C);
}

static void check_channels(DiffVarType var, int C, int Cout) {
    check_cout(C, Cout);
    CHECK(var != DIFF_VAR_LEARNED_RANGE || Cout == 2 * C,
          "diffusion: learned-range variance needs 2C = %d output channels, got %d (learn_sigma model?)", 2 * C,
          Cout);
}

void diffusion_p_mean_variance(float *mean, float *log_variance, float *pred_xstart, const float *x_t,
                               const float *model_out, const int *t, const Diffusion *d, DiffVarType var,
                               int clip_denoised, int B, int C, int Cout, long HW) {
    check_channels(var, C, Cout);
    const long n = (long)C * HW;
    for (int b = 0; b < B; b++) {
        check_t(d, t[b], b);
        const RowCoef c = row_coef(d, t[b], var, clip_denoised);
        const float *xb = x_t + (size_t)b * n;
        const float *eps = model_out + (size_t)b * Cout * HW;
        const float *vv = eps + n;  // var values, read only for the learned range
        for (long i = 0; i < n; i++) {
            float m, lv, x0;
            pmv_elem(&c, xb[i], eps[i], var == DIFF_VAR_LEARNED_RANGE ? vv[i] : 0.0f, &m, &lv, &x0);
            if (mean) mean[(size_t)b * n + i] = m;
            if (log_variance) log_variance[(size_t)b * n + i] = lv;
            if (pred_xstart) pred_xstart[(size_t)b * n + i] = x0;
        }
    }
}

void diffusion_ddpm_step(float *x_prev, float *pred_xstart, const float *x_t, const float *model_out,
                         const float *noise, const int *t, const Diffusion *d, DiffVarType var, int clip_denoised,
                         int B, int C, int Cout, long HW) {
    check_channels(var, C, Cout);
    const long n = (long)C * HW;
    for (int b = 0; b < B; b++) {
        check_t(d, t[b], b);
        const RowCoef c = row_coef(d, t[b], var, clip_denoised);
        const float mask = t[b] != 0 ? 1.0f : 0.0f;  // no noise at the last step
        const float *xb = x_t + (size_t)b * n;
        const float *eps = model_out + (size_t)b * Cout * HW;
        const float *vv = eps + n;
        float *out = x_prev + (size_t)b * n;
        for (long i = 0; i < n; i++) {
            // x_prev may alias x_t: element i only reads element i.
            float m, lv, x0;
            pmv_elem(&c, xb[i], eps[i], var == DIFF_VAR_LEARNED_RANGE ? vv[i] : 0.0f, &m, &lv, &x0);
            float nz = noise ? noise[(size_t)b * n + i] : 0.0f;
            // mean + nonzero_mask * exp(0.5 * log_variance) * noise
            float sd = mask * expf(0.5f * lv);
            out[i] = m + sd * nz;
            if (pred_xstart) pred_xstart[(size_t)b * n + i] = x0;
        }
    }
}

void diffusion_ddim_step(float *x_prev, float *pred_xstart, const float *x_t, const float *model_out,
                         const float *noise, const int *t, const Diffusion *d, float eta, int clip_denoised, int B,
                         int C, int Cout, long HW) {
    check_cout(C, Cout);  // eps is channels 0..C-1; var values, if any, are unused
    const long n = (long)C * HW;
    for (int b = 0; b < B; b++) {
        const int tb = t[b];
        check_t(d, tb, b);
        const float rc = (float)d->sqrt_recip_alphas_cumprod[tb];
        const float rm1 = (float)d->sqrt_recipm1_alphas_cumprod[tb];
        const float ab = (float)d->alphas_cumprod[tb];
        const float abp = (float)d->alphas_cumprod_prev[tb];
        // sigma = eta * sqrt((1 - ab_prev) / (1 - ab)) * sqrt(1 - ab / ab_prev)
        const float s1 = sqrtf((1.0f - abp) / (1.0f - ab));
        const float s2 = sqrtf(1.0f - ab / abp);
        const float sigma = (eta * s1) * s2;
        const float sqrt_abp = sqrtf(abp);
        const float dir = sqrtf((1.0f - abp) - sigma * sigma);
        const float mask_sigma = (tb != 0 ? 1.0f : 0.0f) * sigma;
        const float *xb = x_t + (size_t)b * n;
        const float *eps = model_out + (size_t)b * Cout * HW;
        float *out = x_prev + (size_t)b * n;
        for (long i = 0; i < n; i++) {
            float xi = xb[i];
            float p = rc * xi;
            float q = rm1 * eps[i];
            float x0 = p - q;
            if (clip_denoised) x0 = clamp_pm1(x0);
            // _predict_eps_from_xstart: (rc * x - x0) / rm1
            float e = (p - x0) / rm1;
            float m1 = x0 * sqrt_abp;
            float m2 = dir * e;
            float mean = m1 + m2;
            float nz = noise ? noise[(size_t)b * n + i] : 0.0f;
            out[i] = mean + mask_sigma * nz;
            if (pred_xstart) pred_xstart[(size_t)b * n + i] = x0;
        }
    }
}

// ----------------------------------------------------------------------------
// variational bound

void diffusion_normal_kl(float *out, const float *mean1, const float *logvar1, const float *mean2,
                         const float *logvar2, long n) {
    for (long i = 0; i < n; i++) {
        // 0.5 * (-1 + lv2 - lv1 + exp(lv1 - lv2) + (m1 - m2)^2 * exp(-lv2))
        float a = -1.0f + logvar2[i];
        a = a - logvar1[i];
        a = a + expf(logvar1[i] - logvar2[i]);
        float dm = mean1[i] - mean2[i];
        float sq = dm * dm;
        a = a + sq * expf(-logvar2[i]);
        out[i] = 0.5f * a;
    }
}

float diffusion_approx_standard_normal_cdf(float x) {
    // Python constants become float32 operands of the tensor ops.
    const float k = (float)0.79788456080286535588;  // np.sqrt(2 / np.pi)
    float x3 = (x * x) * x;                         // th.pow(x, 3)
    float inner = x + 0.044715f * x3;
    return 0.5f * (1.0f + tanhf(k * inner));
}

// tensor.clamp(min=1e-12): keeps NaN, unlike fmaxf.
static inline float clamp_min_1e12(float v) { return v < 1e-12f ? 1e-12f : v; }

void diffusion_discretized_gaussian_log_likelihood(float *out, const float *x, const float *means,
                                                   const float *log_scales, long n) {
    const float bin = (float)(1.0 / 255.0);
    for (long i = 0; i < n; i++) {
        float centered = x[i] - means[i];
        float inv_stdv = expf(-log_scales[i]);
        float plus_in = inv_stdv * (centered + bin);
        float min_in = inv_stdv * (centered - bin);
        float cdf_plus = diffusion_approx_standard_normal_cdf(plus_in);
        float cdf_min = diffusion_approx_standard_normal_cdf(min_in);
        float lp;
        if (x[i] < -0.999f) {
            lp = logf(clamp_min_1e12(cdf_plus));
        } else if (x[i] > 0.999f) {
            lp = logf(clamp_min_1e12(1.0f - cdf_min));
        } else {
            lp = logf(clamp_min_1e12(cdf_plus - cdf_min));
        }
        out[i] = lp;
    }
}

// d cdf / dz of the tanh approximation, in double.
static double approx_cdf_grad(double z) {
    const double k = 0.79788456080286535588, a = 0.044715;
    double th = tanh(k * (z + a * z * z * z));
    return 0.5 * (1.0 - th * th) * k * (1.0 + 3.0 * a * z * z);
}

void diffusion_vb_terms(float *vb, float *dvar, const float *x0, const float *x_t, const float *model_out,
                        const int *t, const Diffusion *d, int B, int C, long HW) {
    const long n = (long)C * HW;
    const double inv_n_ln2 = 1.0 / ((double)n * M_LN2);
    const double k = 0.79788456080286535588, bin = 1.0 / 255.0;
    for (int b = 0; b < B; b++) {
        const int tb = t[b];
        check_t(d, tb, b);
        // Model side: p_mean_variance with clip_denoised False (training_losses).
        const RowCoef c = row_coef(d, tb, DIFF_VAR_LEARNED_RANGE, 0);
        const float c1 = (float)d->posterior_mean_coef1[tb], c2 = (float)d->posterior_mean_coef2[tb];
        const float lv1 = (float)d->posterior_log_variance_clipped[tb];  // true posterior
        const double dlv_dv = 0.5 * ((double)c.max_log - (double)c.min_log);
        const float *x0b = x0 + (size_t)b * n, *xb = x_t + (size_t)b * n;
        const float *eps = model_out + (size_t)b * 2 * C * HW, *vv = eps + n;
        double acc = 0;
        for (long i = 0; i < n; i++) {
            float mean2, lv2, unused;
            pmv_elem(&c, xb[i], eps[i], vv[i], &mean2, &lv2, &unused);
            double g;  // d(term) / d(lv2), in double from the float forward values
            if (tb != 0) {
                // KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))
                float p = c1 * x0b[i];
                float q = c2 * xb[i];
                float mean1 = p + q;
                float kl;
                diffusion_normal_kl(&kl, &mean1, &lv1, &mean2, &lv2, 1);
                acc += kl;
                double dm = (double)mean1 - (double)mean2;
                g = 0.5 * (1.0 - exp((double)lv1 - lv2) - dm * dm * exp(-(double)lv2));
            } else {
                // decoder NLL with log_scales = 0.5 * lv2
                float ls = 0.5f * lv2, lp;
                diffusion_discretized_gaussian_log_likelihood(&lp, &x0b[i], &mean2, &ls, 1);
                acc -= lp;
                // d plus_in / d ls = -plus_in (inv_stdv = exp(-ls)); likewise min_in.
                double inv = exp(-(double)ls), cx = (double)x0b[i] - mean2;
                double zp = inv * (cx + bin), zm = inv * (cx - bin);
                double cp = 0.5 * (1.0 + tanh(k * (zp + 0.044715 * zp * zp * zp)));
                double cm = 0.5 * (1.0 + tanh(k * (zm + 0.044715 * zm * zm * zm)));
                double dcp = approx_cdf_grad(zp) * -zp, dcm = approx_cdf_grad(zm) * -zm;
                double dlp = 0;  // d lp / d ls; zero where the clamp at 1e-12 is active
                if (x0b[i] < -0.999f) {
                    if (cp >= 1e-12) dlp = dcp / cp;
                } else if (x0b[i] > 0.999f) {
                    if (1.0 - cm >= 1e-12) dlp = -dcm / (1.0 - cm);
                } else {
                    if (cp - cm >= 1e-12) dlp = (dcp - dcm) / (cp - cm);
                }
                g = -dlp * 0.5;  // nll = -lp, d ls / d lv2 = 0.5
            }
            if (dvar) dvar[(size_t)b * n + i] = (float)(g * dlv_dv * inv_n_ln2);
        }
        // mean_flat(...) / np.log(2.0): the mean (accumulated in double here,
        // torch sums in float), then one float32 division.
        vb[b] = (float)(acc / (double)n) / (float)M_LN2;
    }
}
