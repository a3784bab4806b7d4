// lazy_calibrate.c: realised-ratio measurement and threshold calibration of
// the learned policies (see lazy_calibrate.h).
#include "model/lazy/lazy_calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/sha256.h"
#include "model/base/torch_rng.h"
#include "model/io/file_rules.h"
#include "model/sample_job.h"
#include "model/sampler.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int lazy_seeds_disjoint(uint64_t a, long n_a, uint64_t b, long n_b) {
    uint64_t *s = lz_malloc(sizeof(uint64_t) * (size_t)(n_a > 0 ? n_a : 1), "sample seeds");
    for (long i = 0; i < n_a; i++) s[i] = rng_sample_seed(a, i);
    qsort(s, (size_t)n_a, sizeof *s, cmp_u64);
    int ok = 1;
    for (long j = 0; j < n_b && ok; j++) {
        uint64_t k = rng_sample_seed(b, j);
        ok = bsearch(&k, s, (size_t)n_a, sizeof *s, cmp_u64) == NULL;
    }
    free(s);
    return ok;
}

// A hook after the lazy runtime: the runtime has written each decided row's
// score into the view; collect them.
static void collect_scores(void *ctx, DitModuleView *v) {
    LazyScores *sc = ctx;
    for (int b = 0; b < v->B; b++)
        if (!isnan(v->score[b])) {
            CHECK(sc->n < sc->cap, "score buffer of %ld too small", sc->cap);
            sc->v[sc->n++] = v->score[b];
        }
}

double lazy_family_ratio(const LazySummary *s, LazyModules m) {
    return m == LAZY_MOD_ATTN ? s->lazy_ratio_attn : m == LAZY_MOD_MLP ? s->lazy_ratio_mlp : s->lazy_ratio;
}

long lazy_family_slots(const LazySummary *s, LazyModules m) {
    return m == LAZY_MOD_ATTN ? s->slots_attn : m == LAZY_MOD_MLP ? s->slots_mlp : s->slots;
}

int lazy_measure(DitModel *m, const uint8_t *sha, const Diffusion *d, const char *respacing, const char *name,
                 const PolicyArg *args, int nargs, const LazyMeasureSpec *spec, float *out, int *labels,
                 LazySummary *sum, LazyScores *scores, LzError *err) {
    const DitConfig *c = &m->cfg;
    long N = spec->samples, img = (long)c->in_channels * c->input_size * c->input_size;
    int K = d->num_steps;
    Policy pol;
    CHECK(spec->modules >= LAZY_MOD_ATTN && spec->modules <= LAZY_MOD_BOTH, "lazy_measure: modules %d", (int)spec->modules);
    if (policy_create(&pol, name, lazy_modules_name(spec->modules), args, nargs, err)) return -1;
    long *ts = lz_malloc(sizeof(long) * K, "timesteps");
    int batch = spec->batch < N ? spec->batch : (int)N, rows = spec->cfg_scale != 1.0f ? 2 : 1;
    PolicyEnv env;
    sample_job_policy_env(&env, ts, c, d, respacing, rows * batch, sha, spec->seed);
    int rc = -1;
    float *x = NULL;
    int *y = NULL;
    Sampler smp;
    memset(&smp, 0, sizeof smp);
    DitHooks collect = {.ctx = scores, .decide = collect_scores};
    if (scores) {
        // Every (row, step, block, module) slot may be scored: size the buffer once, before sampling.
        long need = N * rows * (long)K * c->depth * 2;
        if (scores->cap < need) {
            free(scores->v);
            scores->v = lz_malloc(sizeof(float) * need, "decision scores");
            scores->cap = need;
        }
        scores->n = 0;
    }
    if (policy_init(&pol, &env, err)) goto done;
    SamplerOptions o = sampler_default_options(c, batch);
    o.cfg_scale = spec->cfg_scale;
    o.seed = spec->seed;
    o.progress = !spec->quiet;
    o.policy = &pol;
    if (sampler_init(&smp, m, d, &o, err)) goto done;
    x = out ? out : lz_malloc(sizeof(float) * N * img, "samples");
    y = lz_malloc(sizeof(int) * N, "labels");
    for (long i = 0; i < N; i++) y[i] = (int)(i % c->num_classes);
    if (sampler_run(&smp, x, y, N, NULL, scores ? &collect : NULL, NULL, NULL, err)) goto done;
    *sum = lazy_account_summary(sampler_account(&smp));
    if (labels) memcpy(labels, y, sizeof(int) * N);
    rc = 0;
done:
    if (smp.mem_) sampler_free(&smp);
    if (x != out) free(x);
    free(y);
    free(ts);
    policy_free(&pol);
    return rc;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double thr, ratio;  // ratio of the calibrated module family
    long slots;         // that family's slots
    LazySummary sum;
    LazyScores scores;  // sorted ascending
} CalibPoint;

// The threshold at which `target` of the point's slots would reuse, given its
// recorded scores: count(score > thr) = round(target * slots). Only the
// family's modules are decided, so only their scores are recorded.
static double quantile_guess(const CalibPoint *p, double target) {
    long n = p->scores.n, k = lround(target * (double)p->slots);
    const float *v = p->scores.v;
    if (k <= 0 || n == 0) return 1.0;
    if (k >= n) return 0.5 * v[0];  // below every score (scores are > 0)
    return 0.5 * ((double)v[n - k - 1] + v[n - k]);
}

// log(t / (1 - t)), kept within [-30, 30] (thresholds 0 and 1 included).
static double logit(double t) {
    double x = log(t / (1.0 - t));
    return x < -30 ? -30 : x > 30 ? 30 : x;
}

// One measurement at threshold t into p (scores sorted ascending).
static int measure_point(CalibPoint *p, double t, DitModel *m, const uint8_t *sha, const Diffusion *d, GateKind kind,
                         const char *path, const char *respacing, const LazyCalibOptions *o, LzError *err) {
    char text[40];
    snprintf(text, sizeof text, "%.17g", t);
    PolicyArg args[8] = {{kind == GATES_L2C ? "router" : "gates", path}, {"threshold", text}};
    CHECK(o->nextra <= 6, "calibration: %d extra policy options", o->nextra);
    for (int i = 0; i < o->nextra; i++) args[2 + i] = o->extra[i];
    if (lazy_measure(m, sha, d, respacing, kind == GATES_L2C ? "l2c" : "lazydit", args, 2 + o->nextra, &o->spec, NULL,
                     NULL, &p->sum, &p->scores, err))
        return -1;
    p->thr = t;
    p->ratio = lazy_family_ratio(&p->sum, o->spec.modules);
    p->slots = lazy_family_slots(&p->sum, o->spec.modules);
    qsort(p->scores.v, (size_t)p->scores.n, sizeof(float), cmp_float);
    if (!o->spec.quiet)
        fprintf(stderr, "calibrate: threshold %.9f -> lazy ratio %.4f (%s)\n", t, p->ratio,
                lazy_modules_name(o->spec.modules));
    return 0;
}

int lazy_calibrate_thresholds(DitModel *m, const uint8_t *sha, const Diffusion *d, GateKind kind, const char *path,
                              const double *targets, int n, const LazyCalibOptions *o, double *thresholds,
                              LazySummary *sums, LzError *err) {
    GateFile g;
    if (gates_read(&g, path, kind, err)) return -1;
    double first = g.threshold;
    char respacing[sizeof g.respacing];
    snprintf(respacing, sizeof respacing, "%s", g.respacing);
    gates_free(&g);
    int cap = 1 + n * o->max_rounds, np = 0, rc = -1;
    CalibPoint *pts = lz_calloc((size_t)cap, sizeof *pts, "calibration points");
    if (measure_point(&pts[np], first, m, sha, d, kind, path, respacing, o, err)) goto done;
    np++;
    for (int i = 0; i < n; i++) {
        double target = targets[i];
        for (int round = 0;; round++) {
            // The best point so far, and the bracket around the target (ilo,
            // ihi: its measured ends, -1 while an end is the default 0 or 1).
            int best = 0, ilo = -1, ihi = -1;
            double lo = 0, hi = 1;
            for (int k = 0; k < np; k++) {
                if (fabs(pts[k].ratio - target) < fabs(pts[best].ratio - target)) best = k;
                if (pts[k].ratio >= target && pts[k].thr > lo) lo = pts[k].thr, ilo = k;
                if (pts[k].ratio <= target && pts[k].thr < hi) hi = pts[k].thr, ihi = k;
            }
            thresholds[i] = pts[best].thr;
            sums[i] = pts[best].sum;
            if (fabs(pts[best].ratio - target) <= o->tol || round >= o->max_rounds || hi - lo < 1e-7 || np >= cap) break;
            // Kept inside the bracket in logit space, where scores near 0 or 1
            // are as far apart as they are near 0.5.
            double x = logit(quantile_guess(&pts[best], target)), xlo = logit(lo), xhi = logit(hi), w = xhi - xlo;
            // Once both ends are measured, the secant of the bracket (in logit):
            // robust where reuses are vetoed and the score quantiles mislead.
            if (round > 0 && ilo >= 0 && ihi >= 0 && pts[ilo].ratio > pts[ihi].ratio)
                x = xlo + (pts[ilo].ratio - target) / (pts[ilo].ratio - pts[ihi].ratio) * w;
            // Trust the first guess; from then on stay 10% away from the measured
            // ends so the bracket shrinks (an unmeasured end, 0 or 1, needs no margin:
            // the next measurement replaces it).
            double mg = round == 0 ? 0.0 : 0.1;
            double a = xlo + (ilo >= 0 ? mg * w : 0), b = xhi - (ihi >= 0 ? mg * w : 0);
            if (x < a) x = a;
            if (x > b) x = b;
            if (!(x > xlo + 1e-9 * w && x < xhi - 1e-9 * w)) x = 0.5 * (xlo + xhi);  // never an end again
            double t = 1.0 / (1.0 + exp(-x));
            if (measure_point(&pts[np], t, m, sha, d, kind, path, respacing, o, err)) goto done;
            np++;
        }
        if (!o->spec.quiet)
            fprintf(stderr, "calibrate: target %.4f -> threshold %.9f, lazy ratio %.4f (%s)\n", target, thresholds[i],
                    lazy_family_ratio(&sums[i], o->spec.modules), lazy_modules_name(o->spec.modules));
    }
    rc = 0;
done:
    for (int k = 0; k < cap; k++) free(pts[k].scores.v);
    free(pts);
    return rc;
}

// --- the calibration job -----------------------------------------------------------

void lazy_calib_out_path(char *buf, size_t cap, const char *out, double r) {
    const char *at = strstr(out, "{r}");
    if (!at) {
        snprintf(buf, cap, "%s", out);
        return;
    }
    snprintf(buf, cap, "%.*s%02ld%s", (int)(at - out), out, lround(r * 100), at + 3);
}

int lazy_calibrate_run(const LazyCalibJob *j, LzError *err) {
    if (j->ntargets < 1 || j->ntargets > 64) return lz_fail(err, "calibration: %d targets (1..64)", j->ntargets);
    if (j->ntargets > 1 && !strstr(j->out, "{r}"))
        return lz_fail(err, "%s: several targets need {r} in the output name", j->out);
    if (!lazy_seeds_disjoint(0, LAZY_EVAL_MAX, j->seed, j->samples))
        return lz_fail(err, "calibration seed %llu: its %ld samples share noise with the first %ld evaluation samples "
                       "of seed 0", (unsigned long long)j->seed, j->samples, LAZY_EVAL_MAX);
    // Every file first (model/io/file_rules.h): the weights and the file are
    // inputs, the calibrated files outputs (none may be an input: --out may
    // not overwrite the file being calibrated while it is read). The outputs
    // are staged: they appear together, and only if every target was reached.
    RunFiles files;
    run_files_init(&files);
    int bad = run_files_input(&files, j->weights, err) || run_files_input(&files, j->path, err);
    char (*dst)[1200] = lz_malloc(sizeof *dst * (size_t)j->ntargets, "output paths");
    for (int i = 0; i < j->ntargets && !bad; i++) {
        lazy_calib_out_path(dst[i], sizeof dst[i], j->out, j->targets[i]);
        bad = run_files_output(&files, dst[i], RF_STAGED, err);
    }
    if (bad) {
        run_files_free(&files);
        free(dst);
        return -1;
    }
    run_files_begin(&files);

    int rc = -1, have_model = 0, have_gates = 0;
    Diffusion d = {0};
    DitModel m;
    GateFile g;
    DitConfig cfg;
    float *params = NULL;
    DiffusionSchedule schedule;
    uint8_t sha[SHA256_BYTES];
    double thr[64];
    LazySummary sums[64];
    if (sha256_file(j->weights, sha, err) || dit_load_with_schedule(j->weights, j->heads, &cfg, &params, &schedule, err))
        goto done;
    dit_build(&m, &cfg, params, 2 * j->batch, 0);
    have_model = 1;
    if (gates_read(&g, j->path, j->kind, err)) goto done;
    have_gates = 1;
    if (diffusion_create_for(&d, &schedule, g.respacing, err)) {
        char msg[LZ_ERR_LEN];
        snprintf(msg, sizeof msg, "%s", err->msg);
        lz_fail(err, "%s: respacing: %s", j->path, msg);
        goto done;
    }
    char stale_text[16];
    snprintf(stale_text, sizeof stale_text, "%d", j->staleness);
    PolicyArg extra = {"staleness", stale_text};
    int use_stale = j->staleness >= 0 && j->kind == GATES_LAZYDIT;
    LazyCalibOptions o = {j->tol, j->rounds, {j->samples, j->seed, j->batch, 1.5f, !j->progress, j->modules}, &extra,
                          use_stale};
    if (lazy_calibrate_thresholds(&m, sha, &d, j->kind, j->path, j->targets, j->ntargets, &o, thr, sums, err))
        goto done;
    if (use_stale) g.staleness = j->staleness;
    int missed = -1;
    for (int i = 0; i < j->ntargets; i++) {
        double ratio = lazy_family_ratio(&sums[i], j->modules);
        if (fabs(ratio - j->targets[i]) > 0.02) {
            missed = i;
            continue;  // the others are still reported (nothing is published)
        }
        g.threshold = thr[i];
        snprintf(g.calibration, sizeof g.calibration, "%s", j->method ? j->method : "threshold");
        g.target_ratio = j->targets[i];
        g.realised_ratio = ratio;
        g.modules = j->modules;
        g.calibration_samples = j->samples;
        g.calibration_seed = (long)j->seed;
        g.calibration_cfg = 1.5;
        if (gates_write(&g, dst[i], err)) goto done;
        if (j->progress)
            fprintf(stderr, "%s: threshold %.9g, %s lazy ratio %.4f (both %.4f, attn %.4f, mlp %.4f; target %.4f) on %ld "
                    "samples of seed %llu\n", dst[i], thr[i], lazy_modules_name(j->modules), ratio, sums[i].lazy_ratio,
                    sums[i].lazy_ratio_attn, sums[i].lazy_ratio_mlp, j->targets[i], j->samples,
                    (unsigned long long)j->seed);
    }
    if (missed >= 0) {
        lz_fail(err, "%s: the closest threshold %.9g gives %s lazy ratio %.4f, more than 2 points from %.4f (train with "
                "another rho; no file was written)", j->path, thr[missed], lazy_modules_name(j->modules),
                lazy_family_ratio(&sums[missed], j->modules), j->targets[missed]);
        goto done;
    }
    if (run_files_publish(&files, err)) goto done;
    rc = 0;
done:
    run_files_free(&files);  // aborts (removes the staged files) unless published
    diffusion_free(&d);
    if (have_gates) gates_free(&g);
    if (have_model) dit_free(&m);
    else free(params);
    free(dst);
    return rc;
}
