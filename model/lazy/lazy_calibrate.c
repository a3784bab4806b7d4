// lazy_calibrate.c: realised-ratio measurement and threshold calibration of
// the learned policies (see lazy_calibrate.h).
#include "model/lazy/lazy_calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/torch_rng.h"
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

int lazy_measure(DitModel *m, const uint8_t *sha, const Diffusion *d, const char *respacing, const char *name,
                 const PolicyArg *args, int nargs, const LazyMeasureSpec *spec, float *out, int *labels,
                 LazySummary *sum, LzError *err) {
    const DitConfig *c = &m->cfg;
    long N = spec->samples, img = (long)c->in_channels * c->input_size * c->input_size;
    int K = d->num_steps;
    Policy pol;
    if (policy_create(&pol, name, NULL, args, nargs, err)) return -1;
    long *ts = lz_malloc(sizeof(long) * K, "timesteps");
    for (int s = 0; s < K; s++) ts[s] = d->timestep_map[K - 1 - s];  // execution order
    int batch = spec->batch < N ? spec->batch : (int)N;
    PolicyEnv env = {c, K, ts, respacing, spec->cfg_scale != 1.0f ? 2 * batch : batch, sha, spec->seed};
    int rc = -1;
    float *x = NULL;
    int *y = NULL;
    Sampler smp;
    memset(&smp, 0, sizeof smp);
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
    if (sampler_run(&smp, x, y, N, NULL, NULL, NULL, NULL, err)) goto done;
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

int lazy_calibrate_threshold(DitModel *m, const uint8_t *sha, const Diffusion *d, GateKind kind, const char *path,
                             const LazyCalibOptions *o, double *threshold, LazySummary *sum, LzError *err) {
    GateFile g;
    if (gates_read(&g, path, kind, err)) return -1;
    double thr = g.threshold;
    char respacing[sizeof g.respacing];
    snprintf(respacing, sizeof respacing, "%s", g.respacing);
    gates_free(&g);
    const char *policy = kind == GATES_L2C ? "l2c" : "lazydit";
    // Bracket: ratio(lo) >= target >= ratio(hi). ratio(1) = 0 exactly (a
    // sigmoid never exceeds 1); ratio(0) is at most (K - 1) / K (the first
    // step always computes), an upper bound used until lo is measured.
    double lo = 0, hi = 1, r_lo = (double)(d->num_steps - 1) / d->num_steps, r_hi = 0;
    double best_gap = INFINITY;
    for (int round = 0; round < o->max_rounds; round++) {
        char text[40];
        snprintf(text, sizeof text, "%.17g", thr);
        PolicyArg args[2] = {{kind == GATES_L2C ? "router" : "gates", path}, {"threshold", text}};
        LazySummary s;
        if (lazy_measure(m, sha, d, respacing, policy, args, 2, &o->spec, NULL, NULL, &s, err)) return -1;
        double gap = fabs(s.lazy_ratio - o->target);
        if (!o->spec.quiet)
            fprintf(stderr, "calibrate: round %d threshold %.9f -> lazy ratio %.4f (target %.4f)\n", round + 1, thr,
                    s.lazy_ratio, o->target);
        if (gap < best_gap) {
            best_gap = gap;
            *threshold = thr;
            *sum = s;
        }
        if (gap <= o->tol) break;
        if (s.lazy_ratio > o->target) lo = thr, r_lo = s.lazy_ratio;
        else hi = thr, r_hi = s.lazy_ratio;
        if (hi - lo < 1e-7) break;
        // Secant point of the bracket, kept at least 10% inside it.
        double f = r_lo > r_hi ? (r_lo - o->target) / (r_lo - r_hi) : 0.5;
        if (f < 0.1) f = 0.1;
        if (f > 0.9) f = 0.9;
        thr = lo + f * (hi - lo);
    }
    return 0;
}
