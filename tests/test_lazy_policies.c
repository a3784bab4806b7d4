// The lazy-policy machinery on small random DiTs: ddim and no policy agree
// bit for bit; every policy's reported slots equal the skips an independent
// observer hook counts (chained after the policy on the same run), reused
// outputs equal the row's own cache, the first step computes; reuse of every
// module equals cache x current gate computed by hand; mixed batches and
// chunking do not change samples; CFG rows decide separately; stack skipping
// equals the kept rows alone plus the residual by hand; the MAC accounting
// equals a hand count; calibration files are validated; policy options give
// one-line errors.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/base/prng.h"
#include "model/io/json_config.h"
#include "model/lazy/calibration.h"
#include "model/lazy/lazy_runtime.h"
#include "model/sample_job.h"
#include "model/sampler.h"
#include "tests/test.h"

// ---------------------------------------------------------------------------
// models and runs

// A: the main test model. 8x8x2 input, patch 2 (16 tokens), D 16, 3 blocks.
static DitConfig config_a(void) {
    DitConfig c = {.input_size = 8, .patch = 2, .in_channels = 2, .hidden = 16, .depth = 3, .heads = 2,
                   .num_classes = 5, .learn_sigma = 1, .mlp_hidden = 64, .freq_dim = 256};
    return c;
}

static void make_model(DitModel *m, const DitConfig *c, int max_batch, uint64_t seed) {
    float *params = lz_malloc(sizeof(float) * dit_param_count(c), "params");
    dit_init_random(params, c, seed);
    dit_build(m, c, params, max_batch, 0);
}

typedef struct {
    Diffusion d;
    long ts[64];  // execution-order timesteps
    char respacing[16];
} Schedule;

static void make_schedule(Schedule *s, int K) {
    LzError err;
    snprintf(s->respacing, sizeof s->respacing, "%d", K);
    CHECK(diffusion_create(&s->d, "linear", 1000, s->respacing, &err) == 0, "%s", err.msg);
    for (int i = 0; i < K; i++) s->ts[i] = s->d.timestep_map[K - 1 - i];
}

static PolicyEnv make_env(const DitConfig *c, const Schedule *s, int max_rows, const uint8_t *sha) {
    PolicyEnv e = {c, s->d.num_steps, s->ts, s->respacing, max_rows, sha, 0};
    return e;
}

// Creates and initialises a registered policy from "name opt value opt value ..." pairs.
static int make_policy(Policy *p, const char *name, const char *modules, const char *const *kv, int npairs,
                       const PolicyEnv *env, LzError *err) {
    PolicyArg args[8];
    for (int i = 0; i < npairs; i++) args[i] = (PolicyArg){kv[2 * i], kv[2 * i + 1]};
    if (policy_create(p, name, modules, args, npairs, err)) return -1;
    if (policy_init(p, env, err)) {
        policy_free(p);
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// The observer: a recorder-like hook set chained after the policy. It counts
// slots and reuses by itself, checks that every reused output equals the
// output the row itself used at its last computed step (bit for bit), keeps
// each row's stack residual and checks stack-skipped rows against x + it, and
// records every decision for the tests below.

typedef struct {
    int K, L, max_rows;
    long row;
    long slots, reused, stack_skipped, step0_reused, mixed_views, fill_checked, fill_mismatch, stack_mismatch;
    long cfg_disagree;        // (sample, step, block, module) where the cond and null rows decided differently
    float *last;              // (L, 2, max_rows, T, D) output each row used at its last computed step
    unsigned char *has_last;  // (L, 2, max_rows)
    float *resid;             // (max_rows, T, D)
    unsigned char *flags;     // (K, L, 2, max_rows) 1 = reused, for the current chunk
    float *stack_out;         // (max_rows, T, D) the stack output of the last forward
    float *stack_x;           // (max_rows, T, D) the stack input of the last forward
    float *z0;                // (max_rows, T, D) block 0's modulated input of the last forward
    int B;                    // rows of the last forward
    // TeaCache's rule recomputed from z0 (tea_delta > 0 turns it on)
    double tea_delta, tea_acc[16];
    float *tea_prev;          // (max_rows, T, D)
    long tea_mismatch, tea_checked;
    DitHooks hooks;
} Observer;

static float *obs_last(Observer *o, int l, int m, int r) { return o->last + (((long)l * 2 + m) * o->max_rows + r) * o->row; }

static void obs_fill(void *ctx, DitModuleView *v) {
    Observer *o = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    if (st->step == 0 && v->layer == 0 && v->module == DIT_ATTN) memset(o->flags, 0, (size_t)o->K * o->L * 2 * o->max_rows);
    int nskip = 0;
    for (int b = 0; b < v->B; b++) {
        int r = v->row_ids[b];
        unsigned char *has = o->has_last + ((long)v->layer * 2 + v->module) * o->max_rows + r;
        if (st->step == 0) *has = 0;
        o->slots++;
        float *last = obs_last(o, v->layer, v->module, r);
        if (v->skip[b]) {
            nskip++;
            o->reused++;
            o->step0_reused += st->step == 0;
            o->flags[(((long)st->step * o->L + v->layer) * 2 + v->module) * o->max_rows + r] = 1;
            o->fill_checked++;
            if (!*has || memcmp(last, v->y + b * o->row, sizeof(float) * o->row)) o->fill_mismatch++;
        } else {
            memcpy(last, v->y + b * o->row, sizeof(float) * o->row);
            *has = 1;
        }
    }
    if (nskip > 0 && nskip < v->B) o->mixed_views++;
    if (st->cond_rows < st->model_rows && v->B == st->model_rows)
        for (int b = 0; b < st->cond_rows; b++) o->cfg_disagree += v->skip[b] != v->skip[b + st->cond_rows];
}

static void obs_stack_decide(void *ctx, DitStackView *v) {
    Observer *o = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    o->B = v->B;
    memcpy(o->z0, v->z0, sizeof(float) * v->B * o->row);
    if (o->tea_delta > 0) {
        for (int b = 0; b < v->B; b++) {
            const float *z = v->z0 + b * o->row;
            float *prev = o->tea_prev + b * o->row;
            int want = 0;
            if (st->step == 0 || st->step == st->num_steps - 1) {
                o->tea_acc[b] = 0;
            } else {
                double num = 0, den = 0;
                for (long i = 0; i < o->row; i++) num += fabs((double)z[i] - prev[i]), den += fabs((double)prev[i]);
                o->tea_acc[b] += num / den;
                if (o->tea_acc[b] < o->tea_delta) want = 1;
                else o->tea_acc[b] = 0;
            }
            memcpy(prev, z, sizeof(float) * o->row);
            o->tea_mismatch += want != v->skip[b];
            o->tea_checked++;
        }
    }
    memcpy(o->stack_x, v->x, sizeof(float) * v->B * o->row);
    for (int b = 0; b < v->B; b++) {
        if (!v->skip[b]) continue;
        o->stack_skipped++;
        o->slots += 2L * o->L;
        o->reused += 2L * o->L;
        o->step0_reused += st->step == 0;
        for (int l = 0; l < o->L; l++)
            for (int m = 0; m < 2; m++) o->flags[(((long)st->step * o->L + l) * 2 + m) * o->max_rows + b] = 1;
        // the runtime wrote x + the row's residual: recompute it from our own copy
        const float *x = v->x + b * o->row, *out = v->out + b * o->row, *res = o->resid + b * o->row;
        for (long i = 0; i < o->row; i++)
            if (out[i] != x[i] + res[i]) {
                o->stack_mismatch++;
                break;
            }
    }
}

static void obs_stack_done(void *ctx, DitStackView *v) {
    Observer *o = ctx;
    if (!v->step || v->step->step < 0) return;
    memcpy(o->stack_out, v->out, sizeof(float) * v->B * o->row);
    for (int b = 0; b < v->B; b++) {
        if (v->skip[b]) continue;
        for (long i = 0; i < o->row; i++) o->resid[b * o->row + i] = v->out[b * o->row + i] - v->x[b * o->row + i];
    }
}

static void observer_init(Observer *o, const DitConfig *c, int max_rows, int K) {
    memset(o, 0, sizeof *o);
    o->K = K;
    o->L = c->depth;
    o->max_rows = max_rows;
    o->row = (long)dit_tokens(c) * c->hidden;
    o->last = lz_calloc((size_t)(c->depth * 2 * max_rows * o->row), sizeof(float), "observer");
    o->has_last = lz_calloc((size_t)c->depth * 2 * max_rows, 1, "observer");
    o->resid = lz_calloc((size_t)(max_rows * o->row), sizeof(float), "observer");
    o->flags = lz_calloc((size_t)K * c->depth * 2 * max_rows, 1, "observer");
    o->stack_out = lz_calloc((size_t)(max_rows * o->row), sizeof(float), "observer");
    o->stack_x = lz_calloc((size_t)(max_rows * o->row), sizeof(float), "observer");
    o->z0 = lz_calloc((size_t)(max_rows * o->row), sizeof(float), "observer");
    o->tea_prev = lz_calloc((size_t)(max_rows * o->row), sizeof(float), "observer");
    // The observer never reads Z, so the policies below run the forward's
    // Z-free path (Z only for kept rows) unless the policy itself reads Z.
    o->hooks = (DitHooks){.ctx = o, .fill = obs_fill, .stack_decide = obs_stack_decide, .stack_done = obs_stack_done,
                          .ignores_z = 1};
}

static void observer_free(Observer *o) {
    free(o->last);
    free(o->has_last);
    free(o->resid);
    free(o->flags);
    free(o->stack_out);
    free(o->stack_x);
    free(o->z0);
    free(o->tea_prev);
}

// One sampling run: N samples (labels i % classes), per-sample seeds, CFG
// scale cfg, chunks of `batch`, the policy (may be NULL) and hooks.
static LazySummary run_sampler(DitModel *m, const Schedule *s, Policy *p, long N, int batch, float cfg,
                               const DitHooks *hooks, float *out) {
    SamplerOptions o = sampler_default_options(&m->cfg, batch);
    o.cfg_scale = cfg;
    o.seed = 3;
    o.policy = p;
    Sampler sm;
    LzError err;
    CHECK(sampler_init(&sm, m, &s->d, &o, &err) == 0, "%s", err.msg);
    int labels[64];
    for (long i = 0; i < N; i++) labels[i] = (int)(i % m->cfg.num_classes);
    CHECK(sampler_run(&sm, out, labels, N, NULL, hooks, NULL, NULL, &err) == 0, "%s", err.msg);
    LazySummary sum = lazy_account_summary(sampler_account(&sm));
    sampler_free(&sm);
    return sum;
}

static long img_floats(const DitConfig *c) { return (long)c->in_channels * c->input_size * c->input_size; }

// ---------------------------------------------------------------------------

static void test_ddim_is_no_policy(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 8, 1);
    Schedule s;
    make_schedule(&s, 5);
    PolicyEnv env = make_env(&c, &s, 8, NULL);
    long n = 4 * img_floats(&c);
    float *a = lz_malloc(sizeof(float) * n, "a"), *b = lz_malloc(sizeof(float) * n, "b");
    float *r0 = lz_malloc(sizeof(float) * n, "r0");
    run_sampler(&m, &s, NULL, 4, 4, 1.5f, NULL, a);
    Policy p;
    LzError err;
    CHECK(make_policy(&p, "ddim", NULL, NULL, 0, &env, &err) == 0, "%s", err.msg);
    LazySummary sum = run_sampler(&m, &s, &p, 4, 4, 1.5f, NULL, b);
    policy_free(&p);
    TEST_CHECK(!memcmp(a, b, sizeof(float) * n), "ddim policy and no policy give bit-identical samples", "differ");
    TEST_CHECK(sum.reused == 0 && sum.slots == 4L * 2 * 5 * 3 * 2, "ddim: no slot reused, every slot counted",
               "reused %ld slots %ld", sum.reused, sum.slots);
    // random at rate 0 runs the cache machinery but never reuses: still bit-identical
    const char *kv[] = {"rate", "0"};
    CHECK(make_policy(&p, "random", NULL, kv, 1, &env, &err) == 0, "%s", err.msg);
    run_sampler(&m, &s, &p, 4, 4, 1.5f, NULL, r0);
    policy_free(&p);
    TEST_CHECK(!memcmp(a, r0, sizeof(float) * n), "random --rate 0 gives bit-identical samples to ddim", "differ");
    free(a), free(b), free(r0);
    diffusion_free(&s.d);
    dit_free(&m);
}

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k = 0;
    const char *dir = getenv("TEST_TMP");
    char *out = buf[k++ % 4];
    snprintf(out, 512, "%s/lazy_policies_%s", dir ? dir : "/tmp", name);
    return out;
}

// A SmoothCache calibration for K = 6 steps with lookahead 2 whose scan at
// alpha 0.2 is known by hand: attention computes at 0, reuses at 1 (e1(0) =
// 0.1), computes at 2, reuses at 3 and 4 (e2(2) = 0.05), computes at 5 (the
// last step); MLP errors are all 0.3, so MLP never reuses.
static void write_smooth_calibration(const char *path, const DitConfig *c, const Schedule *s, const uint8_t *sha) {
    (void)c;
    LazyCalibration cal;
    lazy_calibration_alloc(&cal, "smoothcache", 6, s->respacing, 2);
    memcpy(cal.timesteps, s->ts, sizeof(long) * 6);
    memcpy(cal.model_sha256, sha, 32);
    cal.samples = 1;
    cal.cfg_scale = 1.5;
    const double e1[5] = {0.1, 0.5, 0.1, 0.1, 0.1}, e2[4] = {0.5, 0.5, 0.05, 0.5};
    for (int st = 0; st < 5; st++) cal.err[(0 * 2 + 0) * 6 + st] = e1[st];
    for (int st = 0; st < 4; st++) cal.err[(0 * 2 + 1) * 6 + st] = e2[st];
    for (int k = 1; k <= 2; k++)
        for (int st = 0; st + k < 6; st++) cal.err[(1 * 2 + k - 1) * 6 + st] = 0.3;
    LzError err;
    CHECK(lazy_calibration_write(path, &cal, &err) == 0, "%s", err.msg);
    lazy_calibration_free(&cal);
}

typedef struct {
    const char *label, *name, *modules;
    const char *kv[4];
    int npairs;
} PolicyCase;

// Every policy with an observer chained after it on one sampling run (4
// samples, chunks of 3 so the last chunk has 1, CFG, 6 steps).
static void test_policies_observed(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 6, 2);
    Schedule s;
    make_schedule(&s, 6);
    uint8_t sha[32];
    for (int i = 0; i < 32; i++) sha[i] = (uint8_t)(i * 7);
    PolicyEnv env = make_env(&c, &s, 6, sha);
    const char *smooth = tmp_path("smooth.json");
    write_smooth_calibration(smooth, &c, &s, sha);
    PolicyCase cases[] = {
        {"fora --interval 2", "fora", NULL, {"interval", "2"}, 1},
        {"fora --interval 3 --modules mlp", "fora", "mlp", {"interval", "3"}, 1},
        {"random --rate 0.4", "random", NULL, {"rate", "0.4"}, 1},
        {"random --rate 0.5 --modules attn", "random", "attn", {"rate", "0.5", "decision-seed", "7"}, 2},
        {"teacache --delta 0.5", "teacache", NULL, {"delta", "0.5"}, 1},
        {"teacache --delta 1.2", "teacache", NULL, {"delta", "1.2"}, 1},
        {"smoothcache --alpha 0.2", "smoothcache", NULL, {"alpha", "0.2", "calibration", smooth}, 2},
        {"oracle --tau 0.9", "oracle", NULL, {"tau", "0.9"}, 1},
        {"oracle --tau 0.9 --modules mlp", "oracle", "mlp", {"tau", "0.9"}, 1},
    };
    long n = 4 * img_floats(&c);
    float *out = lz_malloc(sizeof(float) * n, "out");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const PolicyCase *pc = &cases[k];
        Policy p;
        LzError err;
        CHECK(make_policy(&p, pc->name, pc->modules, pc->kv, pc->npairs, &env, &err) == 0, "%s: %s", pc->label, err.msg);
        Observer o;
        observer_init(&o, &c, 6, 6);
        if (!strcmp(pc->name, "teacache")) o.tea_delta = atof(pc->kv[1]);
        LazySummary sum = run_sampler(&m, &s, &p, 4, 3, 1.5f, &o.hooks, out);
        char name[256];
        printf("# %s: lazy ratio %.3f (attn %.3f, mlp %.3f), %ld of %ld slots\n", pc->label, sum.lazy_ratio,
               sum.lazy_ratio_attn, sum.lazy_ratio_mlp, sum.reused, sum.slots);
        snprintf(name, sizeof name, "%s: reported slots and reuses equal the observer's count", pc->label);
        TEST_CHECK(sum.slots == o.slots && sum.reused == o.reused, name, "reported %ld/%ld, observed %ld/%ld",
                   sum.reused, sum.slots, o.reused, o.slots);
        snprintf(name, sizeof name, "%s: some but not all slots reused", pc->label);
        TEST_CHECK(sum.reused > 0 && sum.reused < sum.slots, name, "%ld of %ld", sum.reused, sum.slots);
        snprintf(name, sizeof name, "%s: every reused output equals the row's own cache; the first step computes",
                 pc->label);
        TEST_CHECK(o.fill_mismatch == 0 && o.stack_mismatch == 0 && o.step0_reused == 0 && o.fill_checked + o.stack_skipped > 0,
                   name, "%ld of %ld fills differ, %ld stack outputs differ, %ld reuses at step 0", o.fill_mismatch,
                   o.fill_checked, o.stack_mismatch, o.step0_reused);
        int finite = 1;
        for (long i = 0; i < n; i++) finite &= isfinite(out[i]) != 0;
        snprintf(name, sizeof name, "%s: samples are finite", pc->label);
        TEST_CHECK(finite, name, "non-finite sample");
        if (pc->modules) {
            long other = !strcmp(pc->modules, "attn") ? sum.reused_mlp : sum.reused_attn;
            snprintf(name, sizeof name, "%s: the other module type is never reused", pc->label);
            TEST_CHECK(other == 0, name, "%ld reuses", other);
        }
        if (!strcmp(pc->name, "oracle")) {
            TEST_CHECK(sum.reused_executed == sum.reused && sum.macs_all == sum.full_macs_all &&
                           sum.macs_linear == sum.full_macs_linear,
                       pc->modules ? "oracle --modules mlp: reused slots count as executed MACs"
                                   : "oracle: reused slots count as executed MACs",
                       "reused %ld executed %ld, MACs %g of %g", sum.reused, sum.reused_executed, sum.macs_all,
                       sum.full_macs_all);
        }
        if (!strcmp(pc->name, "teacache")) {
            snprintf(name, sizeof name, "%s: decisions follow the accumulated relative L1 rule (recomputed from z0)",
                     pc->label);
            TEST_CHECK(o.tea_mismatch == 0 && o.tea_checked == 4L * 2 * 6, name, "%ld of %ld decisions differ",
                       o.tea_mismatch, o.tea_checked);
        }
        if (!strcmp(pc->name, "smoothcache")) {
            // the last chunk (1 sample, 2 model rows) against the hand-made schedule
            long bad = 0;
            for (int st = 0; st < 6; st++)
                for (int l = 0; l < c.depth; l++)
                    for (int r = 0; r < 2; r++) {
                        int want_attn = st == 1 || st == 3 || st == 4;
                        bad += o.flags[(((long)st * c.depth + l) * 2 + 0) * 6 + r] != want_attn;
                        bad += o.flags[(((long)st * c.depth + l) * 2 + 1) * 6 + r] != 0;
                    }
            TEST_CHECK(bad == 0, "smoothcache: decisions follow the calibrated scan (attention reuses at steps 1, 3, 4)",
                       "%ld decisions differ", bad);
        }
        if (!strcmp(pc->name, "fora") && !pc->modules) {
            TEST_CHECK(sum.reused == 4L * 2 * c.depth * 2 * 3, "fora --interval 2: steps 1, 3, 5 reuse every slot",
                       "reused %ld", sum.reused);
        }
        observer_free(&o);
        policy_free(&p);
    }
    free(out);
    diffusion_free(&s.d);
    dit_free(&m);
}

// ---------------------------------------------------------------------------
// forward-level runs: the runtime and an observer around dit_forward, as the
// sampler does it

typedef struct {
    DitModel *m;
    LazyRuntime rt;
    Observer obs;
    int K;
} Harness;

static void harness_init(Harness *h, DitModel *m, Policy *p, int B, int K) {
    h->m = m;
    h->K = K;
    lazy_runtime_init(&h->rt, p, &m->cfg, B, K);
    observer_init(&h->obs, &m->cfg, B, K);
}

static void harness_free(Harness *h) {
    lazy_runtime_free(&h->rt);
    observer_free(&h->obs);
}

// One forward of B rows (no CFG) at `step` with timestep t for every row.
static void harness_step(Harness *h, int step, const float *x, float t, const int *y, int B) {
    float tv[16];
    for (int b = 0; b < B; b++) tv[b] = t;
    DitStep st = {step, h->K, (long)t, 0, B, B, B, y};
    lazy_runtime_step_begin(&h->rt, &st);
    dit_forward(h->m, x, tv, y, B, &st, lazy_runtime_hooks(&h->rt, &h->obs.hooks));
    lazy_runtime_step_end(&h->rt, &st);
}

static void random_fill(float *x, long n, uint64_t seed) {
    Prng g;
    prng_seed(&g, seed);
    for (long i = 0; i < n; i++) x[i] = (float)prng_normal(&g);
}

// A step where every row reuses every module: the stack output must be the
// block-0 input plus, block by block, gate_msa * cache_attn + gate_mlp *
// cache_mlp, with the gates of the CURRENT step (adaLN of this step's
// conditioning) and the caches of the step before, computed here by hand.
static void test_full_reuse_by_hand(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 3, 4);
    Schedule s;
    make_schedule(&s, 2);
    PolicyEnv env = make_env(&c, &s, 3, NULL);
    Policy p;
    LzError err;
    const char *kv[] = {"interval", "2"};
    CHECK(make_policy(&p, "fora", NULL, kv, 1, &env, &err) == 0, "%s", err.msg);
    Harness h;
    harness_init(&h, &m, &p, 3, 2);
    int y[3] = {0, 3, 4};
    long img = img_floats(&c), row = h.obs.row;
    float x0[3 * 128], x1[3 * 128];
    CHECK(3 * img <= 3 * 128, "test buffers");
    random_fill(x0, 3 * img, 10);
    random_fill(x1, 3 * img, 11);
    harness_step(&h, 0, x0, 900, y, 3);
    harness_step(&h, 1, x1, 500, y, 3);
    int D = c.hidden, L = c.depth;
    double worst = 0;
    long reused = 0;
    for (int b = 0; b < 3; b++) {
        double hs[16 * 16];
        for (long i = 0; i < row; i++) hs[i] = h.obs.stack_x[b * row + i];
        const float *sc = m.acts.silu_c + (long)b * D;
        for (int l = 0; l < L; l++) {
            double mod[6 * 16];
            for (int j = 0; j < 6 * D; j++) {
                double a = m.params.ada_b[(long)l * 6 * D + j];
                for (int k = 0; k < D; k++) a += (double)sc[k] * m.params.ada_w[((long)l * 6 * D + j) * D + k];
                mod[j] = a;
            }
            const float *ca = obs_last(&h.obs, l, DIT_ATTN, b), *cm = obs_last(&h.obs, l, DIT_MLP, b);
            for (long i = 0; i < row; i++) hs[i] += mod[2 * D + i % D] * ca[i];
            for (long i = 0; i < row; i++) hs[i] += mod[5 * D + i % D] * cm[i];
        }
        for (long i = 0; i < row; i++) {
            double d = fabs(hs[i] - h.obs.stack_out[b * row + i]) / (1e-3 + fabs(hs[i]));
            if (d > worst) worst = d;
        }
    }
    reused = h.obs.reused;
    TEST_CHECK(reused == 3L * L * 2 && worst <= 1e-5,
               "every row reusing every module equals x + sum of current gate * cache, by hand",
               "%ld reuses, worst relative difference %.3g", reused, worst);
    printf("# full reuse by hand: worst relative difference %.3g\n", worst);
    harness_free(&h);
    policy_free(&p);
    diffusion_free(&s.d);
    dit_free(&m);
}

// Mixed decisions inside a batch (random, per-sample decisions) and chunking:
// per-sample results do not depend on the batch; CFG rows decide separately.
static void test_batch_independence(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 10, 5);
    Schedule s;
    make_schedule(&s, 5);
    PolicyEnv env = make_env(&c, &s, 10, NULL);
    const char *names[2] = {"random", "fora"};
    const char *kvs[2][2] = {{"rate", "0.5"}, {"interval", "2"}};
    long n = 5 * img_floats(&c);
    for (int k = 0; k < 2; k++) {
        float *out[3];
        LazySummary sums[3];
        int batches[3] = {5, 2, 1};
        Observer o5;
        for (int i = 0; i < 3; i++) {
            Policy p;
            LzError err;
            CHECK(make_policy(&p, names[k], NULL, kvs[k], 1, &env, &err) == 0, "%s", err.msg);
            out[i] = lz_malloc(sizeof(float) * n, "out");
            if (i == 0) observer_init(&o5, &c, 10, 5);
            sums[i] = run_sampler(&m, &s, &p, 5, batches[i], 1.5f, i == 0 ? &o5.hooks : NULL, out[i]);
            policy_free(&p);
        }
        char name[200];
        double rel2 = test_rel_to_scale(out[1], out[0], n), rel1 = test_rel_to_scale(out[2], out[0], n);
        snprintf(name, sizeof name, "%s: samples with batch 2 and 1 equal batch 5 (rel <= 1e-5)", names[k]);
        TEST_CHECK(rel2 <= 1e-5 && rel1 <= 1e-5, name, "batch 2: %.3g, batch 1: %.3g", rel2, rel1);
        printf("# %s: batch 2 vs 5 %.3g (%s), batch 1 vs 5 %.3g (%s)\n", names[k], rel2,
               memcmp(out[1], out[0], sizeof(float) * n) ? "not bit-identical" : "bit-identical", rel1,
               memcmp(out[2], out[0], sizeof(float) * n) ? "not bit-identical" : "bit-identical");
        snprintf(name, sizeof name, "%s: the same slots are reused whatever the batch", names[k]);
        TEST_CHECK(sums[0].reused == sums[1].reused && sums[0].reused == sums[2].reused && sums[0].slots == sums[2].slots,
                   name, "reused %ld / %ld / %ld", sums[0].reused, sums[1].reused, sums[2].reused);
        if (k == 0) {
            TEST_CHECK(o5.mixed_views > 0, "random: the batch-5 run had modules with kept and reused rows",
                       "no mixed view");
            TEST_CHECK(o5.cfg_disagree > 0 && o5.fill_mismatch == 0,
                       "random: the CFG null row of a sample decides apart from its conditional row",
                       "%ld disagreements, %ld fill mismatches", o5.cfg_disagree, o5.fill_mismatch);
        }
        observer_free(&o5);
        for (int i = 0; i < 3; i++) free(out[i]);
    }
    diffusion_free(&s.d);
    dit_free(&m);
}

// A test policy: only the CFG null rows reuse, at every step after the first.
static void null_only_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    (void)p, (void)score;
    for (int b = 0; b < v->B; b++) skip[b] = v->row_ids[b] >= v->step->cond_rows;
}
static const PolicyClass null_only = {.name = "null_only", .summary = "test", .decide = null_only_decide};

static void test_cfg_rows_separately(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 6, 6);
    Schedule s;
    make_schedule(&s, 4);
    Policy p = {0};
    p.cls = &null_only;
    p.modules = LAZY_MOD_BOTH;
    Observer o;
    observer_init(&o, &c, 6, 4);
    long n = 3 * img_floats(&c);
    float *a = lz_malloc(sizeof(float) * n, "a");
    LazySummary sum = run_sampler(&m, &s, &p, 3, 3, 1.5f, &o.hooks, a);
    long want = 3L * 3 * c.depth * 2;  // 3 null rows, steps 1..3, every module
    TEST_CHECK(sum.reused == want && o.reused == want && o.fill_mismatch == 0 && o.cfg_disagree == want,
               "CFG: null rows reuse their own caches while the conditional rows compute",
               "reused %ld (observer %ld, want %ld), %ld fill mismatches, %ld disagreements", sum.reused, o.reused,
               want, o.fill_mismatch, o.cfg_disagree);
    observer_free(&o);
    free(a);
    diffusion_free(&s.d);
    dit_free(&m);
}

// A test stack policy: odd model rows bypass the block stack (the runtime
// makes them compute at the first step).
static void stack_odd_decide(Policy *p, const DitStackView *v, unsigned char *skip) {
    (void)p;
    for (int b = 0; b < v->B; b++) skip[b] = b % 2;
}
static const PolicyClass stack_odd = {
    .name = "stack_odd", .summary = "test", .stack_level = 1, .stack_decide = stack_odd_decide};

static void test_stack_subset(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 4, 7);
    Policy p = {0};
    p.cls = &stack_odd;
    p.modules = LAZY_MOD_BOTH;
    Harness h;
    harness_init(&h, &m, &p, 4, 2);
    int y[4] = {1, 2, 3, 5};  // 5 = the null class
    long img = img_floats(&c), row = h.obs.row;
    long Cout = dit_out_channels(&c), oimg = Cout * c.input_size * c.input_size;
    float *x0 = lz_malloc(sizeof(float) * 4 * img, "x0"), *x1 = lz_malloc(sizeof(float) * 4 * img, "x1");
    random_fill(x0, 4 * img, 20);
    random_fill(x1, 4 * img, 21);
    harness_step(&h, 0, x0, 700, y, 4);
    float *resid0 = lz_malloc(sizeof(float) * 4 * row, "resid0");
    for (long i = 0; i < 4 * row; i++) resid0[i] = h.obs.stack_out[i] - h.obs.stack_x[i];
    TEST_CHECK(h.obs.stack_skipped == 0, "stack policy: the first step computes every row", "%ld rows skipped",
               h.obs.stack_skipped);
    harness_step(&h, 1, x1, 400, y, 4);
    float *lazy_stack = lz_malloc(sizeof(float) * 4 * row, "lazy stack"), *lazy_out = lz_malloc(sizeof(float) * 4 * oimg, "out");
    memcpy(lazy_stack, h.obs.stack_out, sizeof(float) * 4 * row);
    memcpy(lazy_out, m.acts.out, sizeof(float) * 4 * oimg);
    // skipped rows 1 and 3: x (this step's embedded tokens) + the step-0 residual, by hand
    long bad = 0;
    for (int b = 1; b < 4; b += 2)
        for (long i = 0; i < row; i++) bad += lazy_stack[b * row + i] != h.obs.stack_x[b * row + i] + resid0[b * row + i];
    TEST_CHECK(bad == 0 && h.obs.stack_skipped == 2, "stack-skipped rows: output = x + the residual of their last computed step",
               "%ld values differ, %ld rows skipped", bad, h.obs.stack_skipped);
    // kept rows 0 and 2: the same as running those rows alone
    float xk[2 * 128], tk[2] = {400, 400};
    int yk[2] = {y[0], y[2]};
    memcpy(xk, x1, sizeof(float) * img);
    memcpy(xk + img, x1 + 2 * img, sizeof(float) * img);
    Observer alone;
    observer_init(&alone, &c, 2, 2);
    DitStep st = {1, 2, 400, 0, 2, 2, 2, yk};
    dit_forward(&m, xk, tk, yk, 2, &st, &alone.hooks);
    double rs = 0, ro = 0;
    for (int k = 0; k < 2; k++) {
        rs = fmax(rs, test_rel_to_scale(lazy_stack + 2 * k * row, alone.stack_out + k * row, row));
        ro = fmax(ro, test_rel_to_scale(lazy_out + 2 * k * oimg, m.acts.out + k * oimg, oimg));
    }
    TEST_CHECK(rs <= 1e-5 && ro <= 1e-5, "stack-kept rows equal those rows run alone (stack output and model output)",
               "stack %.3g, output %.3g", rs, ro);
    printf("# stack subset: kept rows vs alone: stack %.3g, output %.3g\n", rs, ro);
    LazySummary sum = lazy_account_summary(&h.rt.acc);
    TEST_CHECK(sum.reused == 2L * 2 * c.depth && sum.slots == 8L * 2 * c.depth,
               "stack skipping counts 2L reused slots per skipped row", "reused %ld of %ld", sum.reused, sum.slots);
    observer_free(&alone);
    harness_free(&h);
    free(x0), free(x1), free(resid0), free(lazy_stack), free(lazy_out);
    dit_free(&m);
}

// MACs on a tiny config against a hand count. Config: 4x4x1 input, patch 2
// (T = 4 tokens), D = 8, M = 32, 2 blocks, learn_sigma (Cout 2), F = 256.
// Per model row, in MACs:
//   patch embedding T*D*C*p*p = 4*8*4 = 128; timestep MLP F*D + D*D = 2048 + 64
//   = 2112; final adaLN 2*D*D = 128; final linear T*D*Cout*p*p = 4*8*8 = 256
//   -> always 2624
//   per block: adaLN 6*D*D = 384; attention qkv + proj T*D*3D + T*D*D = 768 +
//   256 = 1024 (linear) and q k^T + att v 2*T*T*D = 256 (matmul); MLP
//   2*T*D*M = 2048
static void test_macs_by_hand(void) {
    DitConfig c = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 8, .depth = 2, .heads = 2,
                   .num_classes = 3, .learn_sigma = 1, .mlp_hidden = 32, .freq_dim = 256};
    DitModel m;
    make_model(&m, &c, 4, 8);
    Schedule s;
    make_schedule(&s, 3);
    PolicyEnv env = make_env(&c, &s, 4, NULL);
    float out[2 * 16];
    Policy p;
    LzError err;
    // fora --interval 2, 3 steps, 2 samples under CFG = 4 model rows per
    // forward: steps 0 and 2 compute everything, step 1 reuses everything.
    const char *kf[] = {"interval", "2"};
    CHECK(make_policy(&p, "fora", NULL, kf, 1, &env, &err) == 0, "%s", err.msg);
    LazySummary f = run_sampler(&m, &s, &p, 2, 2, 1.5f, NULL, out);
    policy_free(&p);
    double rows = 3 * 4;                      // forwards x model rows (CFG doubling)
    double run = 2 * 4 * 2;                   // computed (step, row, block) per module type
    double lin = rows * (2624 + 2 * 384) + run * 1024 + run * 2048;
    double all = lin + run * 256;
    double full_lin = rows * (2624 + 2 * (384 + 1024 + 2048)), full_all = full_lin + rows * 2 * 256;
    TEST_CHECK(f.macs_linear == lin && f.macs_all == all && f.full_macs_linear == full_lin && f.full_macs_all == full_all,
               "fora MACs equal the hand count (both conventions, CFG doubling)",
               "linear %.0f (want %.0f), all %.0f (want %.0f), full %.0f/%.0f (want %.0f/%.0f)", f.macs_linear, lin,
               f.macs_all, all, f.full_macs_linear, f.full_macs_all, full_lin, full_all);
    TEST_CHECK(f.full_macs_all == rows * dit_macs(&c).total && f.full_macs_linear == rows * dit_macs(&c).linear,
               "full-compute MACs equal dit_macs (lazydit info) x model rows", "%.0f vs %.0f", f.full_macs_all,
               rows * dit_macs(&c).total);
    TEST_CHECK(f.slots == 48 && f.reused == 16 && fabs(f.lazy_ratio - 1.0 / 3) < 1e-15 &&
                   fabs(f.equal_budget_steps - 2.0) < 1e-12,
               "fora: 16 of 48 slots reused, ratio 1/3, equal-budget K = 3 x (1 - 1/3) = 2",
               "%ld of %ld, ratio %g, K %g", f.reused, f.slots, f.lazy_ratio, f.equal_budget_steps);
    // teacache with a huge delta: steps 0 and 2 (first, last) compute, step 1
    // bypasses the stack on all 4 rows. Every forward pays block 0's adaLN
    // once more for the decision (the kept rows compute it again inside).
    const char *kt[] = {"delta", "1e6"};
    CHECK(make_policy(&p, "teacache", NULL, kt, 1, &env, &err) == 0, "%s", err.msg);
    LazySummary t = run_sampler(&m, &s, &p, 2, 2, 1.5f, NULL, out);
    policy_free(&p);
    double stack_rows = 2 * 4;
    double tlin = rows * 2624 + stack_rows * 2 * 384 + rows * 384 + run * (1024 + 2048);
    TEST_CHECK(t.macs_linear == tlin && t.macs_all == tlin + run * 256 && t.reused == 16 && t.overhead_macs == rows * 384,
               "teacache MACs equal the hand count (stack rows, decision adaLN as overhead)",
               "linear %.0f (want %.0f), reused %ld, overhead %.0f", t.macs_linear, tlin, t.reused, t.overhead_macs);
    diffusion_free(&s.d);
    dit_free(&m);
}

// Calibration files: TeaCache's polynomial is applied (y = 2x at delta 2d
// decides like the identity at delta d) and mismatched files are refused
// with a line that says which.
static void test_calibration_files(void) {
    DitConfig c = config_a();
    DitModel m;
    make_model(&m, &c, 6, 2);
    Schedule s;
    make_schedule(&s, 6);
    uint8_t sha[32] = {1, 2, 3};
    PolicyEnv env = make_env(&c, &s, 6, sha);
    LazyCalibration cal;
    lazy_calibration_alloc(&cal, "teacache", 6, s.respacing, 0);
    memcpy(cal.timesteps, s.ts, sizeof s.ts[0] * 6);
    memcpy(cal.model_sha256, sha, 32);
    cal.samples = 4;
    cal.cfg_scale = 1.5;
    cal.coef[3] = 2;  // y = 2x
    cal.points = 10;
    cal.x_min = 0;
    cal.x_max = 100;  // covers every x of these runs: no clamping
    const char *path = tmp_path("tea.json");
    LzError err;
    CHECK(lazy_calibration_write(path, &cal, &err) == 0, "%s", err.msg);
    lazy_calibration_free(&cal);
    long n = 3 * img_floats(&c);
    float *a = lz_malloc(sizeof(float) * n, "a"), *b = lz_malloc(sizeof(float) * n, "b");
    Policy p;
    const char *k1[] = {"delta", "0.45"}, *k2[] = {"delta", "0.9", "calibration", path};
    CHECK(make_policy(&p, "teacache", NULL, k1, 1, &env, &err) == 0, "%s", err.msg);
    TEST_CHECK(strstr(p.note, "identity polynomial") != NULL, "teacache without calibration says it uses the identity",
               "note '%s'", p.note);
    LazySummary s1 = run_sampler(&m, &s, &p, 3, 3, 1.5f, NULL, a);
    policy_free(&p);
    CHECK(make_policy(&p, "teacache", NULL, k2, 2, &env, &err) == 0, "%s", err.msg);
    LazySummary s2 = run_sampler(&m, &s, &p, 3, 3, 1.5f, NULL, b);
    policy_free(&p);
    TEST_CHECK(s1.reused == s2.reused && s1.reused > 0 && s1.reused < s1.slots && !memcmp(a, b, sizeof(float) * n),
               "teacache applies the calibrated polynomial (2x at delta 0.9 = identity at 0.45)", "reused %ld vs %ld",
               s1.reused, s2.reused);
    // A polynomial negative on the whole calibrated range adds nothing: every
    // step between the first and the last reuses (3 samples x 2 CFG rows x
    // steps 1..4 x 2L slots).
    lazy_calibration_alloc(&cal, "teacache", 6, s.respacing, 0);
    memcpy(cal.timesteps, s.ts, sizeof s.ts[0] * 6);
    memcpy(cal.model_sha256, sha, 32);
    cal.samples = 4;
    cal.coef[3] = 1;
    cal.coef[4] = -10;  // y = x - 10
    cal.points = 10;
    cal.x_max = 1;
    const char *negpath = tmp_path("tea_neg.json");
    CHECK(lazy_calibration_write(negpath, &cal, &err) == 0, "%s", err.msg);
    lazy_calibration_free(&cal);
    const char *k4[] = {"delta", "1e-9", "calibration", negpath};
    CHECK(make_policy(&p, "teacache", NULL, k4, 2, &env, &err) == 0, "%s", err.msg);
    LazySummary s4 = run_sampler(&m, &s, &p, 3, 3, 1.5f, NULL, b);
    policy_free(&p);
    TEST_CHECK(s4.reused == 3L * 2 * 4 * 2 * c.depth, "teacache: a negative rescaled change counts as none",
               "reused %ld of %ld", s4.reused, s4.slots);
    // mismatches
    Schedule s5, sd;
    make_schedule(&s5, 5);
    LzError e2;
    CHECK(diffusion_create(&sd.d, "linear", 1000, "ddim6", &e2) == 0, "%s", e2.msg);
    snprintf(sd.respacing, sizeof sd.respacing, "ddim6");
    for (int i = 0; i < 6; i++) sd.ts[i] = sd.d.timestep_map[5 - i];
    uint8_t other[32] = {9};
    PolicyEnv e5 = make_env(&c, &s5, 6, sha), ed = make_env(&c, &sd, 6, sha), eo = make_env(&c, &s, 6, other);
    struct {
        const char *label;
        const PolicyEnv *env;
        const char *policy, *want;
    } bad[] = {
        {"steps", &e5, "teacache", "calibrated for 6 sampling steps but this run has 5"},
        {"respacing", &ed, "teacache", "calibrated with respacing '6' but this run uses 'ddim6'"},
        {"model", &eo, "teacache", "calibrated for the model with SHA-256 010203"},
        {"policy", &env, "smoothcache", "a teacache calibration, not one for smoothcache"},
    };
    for (int i = 0; i < 4; i++) {
        LazyCalibration x;
        int rc = lazy_calibration_load(path, bad[i].policy, bad[i].env, &x, &err);
        char name[200];
        snprintf(name, sizeof name, "calibration file for another %s is refused with one line", bad[i].label);
        TEST_CHECK(rc != 0 && strstr(err.msg, bad[i].want) && strstr(err.msg, path) && !strchr(err.msg, '\n'), name,
                   "rc %d: %.400s", rc, rc ? err.msg : "");
    }
    // strictness: unknown keys and bad values
    struct {
        const char *from, *to, *want;
    } edits[] = {
        {"\"samples\"", "\"sample\"", "unknown key \"sample\""},
        {"\"target\":\t\"stack_residual\"", "\"target\":\t\"output\"", "target: 'output'"},
        {"\"version\":\t1", "\"version\":\t2", "version 2"},
        {"\"points\":\t10", "\"points\":\t\"10\"", "\"points\" must be an integer"},
    };
    char *text = jc_read_text(path, &err);
    CHECK(text, "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        char *at = strstr(text, edits[i].from);
        CHECK(at, "calibration text lacks %s:\n%s", edits[i].from, text);
        char edited[8192];
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, edits[i].to, at + strlen(edits[i].from));
        const char *bp = tmp_path("tea_bad.json");
        FILE *f = fopen(bp, "w");
        CHECK(f, "cannot write %s", bp);
        fputs(edited, f);
        fclose(f);
        LazyCalibration x;
        int rc = lazy_calibration_load(bp, "teacache", &env, &x, &err);
        char name[200];
        snprintf(name, sizeof name, "calibration file: %s is an error", edits[i].want);
        TEST_CHECK(rc != 0 && strstr(err.msg, edits[i].want), name, "rc %d: %.400s", rc, rc ? err.msg : "");
    }
    free(text);
    const char *k3[] = {"alpha", "0.1", "calibration", path};
    TEST_CHECK(make_policy(&p, "smoothcache", NULL, k3, 2, &env, &err) != 0 && strstr(err.msg, "not one for smoothcache"),
               "smoothcache refuses a teacache calibration", "%s", err.msg);
    diffusion_free(&s5.d);
    diffusion_free(&sd.d);
    free(a), free(b);
    diffusion_free(&s.d);
    dit_free(&m);
}

// Policy options: one line that names the policy and the option.
static void test_option_errors(void) {
    struct {
        const char *policy, *modules, *name, *value, *want;
    } bad[] = {
        {"fora", NULL, "rate", "0.3", "policy fora has no option --rate (it is an option of random)"},
        {"fora", NULL, "calibration", "c.json", "(it is an option of teacache, smoothcache)"},
        {"fora", NULL, "speed", "2", "policy fora has no option --speed"},
        {"random", NULL, "rate", "1.5", "policy random: --rate: 1.5 is outside [0, 1]"},
        {"random", NULL, "rate", "abc", "policy random: --rate: 'abc' is not a finite number"},
        {"fora", NULL, "interval", "2.5", "policy fora: --interval: '2.5' is not an integer"},
        {"fora", NULL, "interval", "0", "outside [1, 1000]"},
        {"oracle", NULL, "tau", "nan", "is not a finite number"},
        {"teacache", NULL, NULL, NULL, "policy teacache: --delta is required"},
        {"smoothcache", NULL, "alpha", "0.1", "policy smoothcache: --calibration is required"},
        {"fora", "attention", "interval", "2", "--modules 'attention' (expected attn, mlp or both)"},
        {"teacache", "attn", "delta", "0.1", "only --modules both applies"},
        {"lazy", NULL, NULL, NULL, "unknown policy 'lazy' (known: ddim, random, fora"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Policy p;
        LzError err;
        PolicyArg a = {bad[i].name, bad[i].value};
        int rc = policy_create(&p, bad[i].policy, bad[i].modules, &a, bad[i].name ? 1 : 0, &err);
        char name[300];
        snprintf(name, sizeof name, "policy error: %s", bad[i].want);
        TEST_CHECK(rc != 0 && strstr(err.msg, bad[i].want) && !strchr(err.msg, '\n'), name, "rc %d: %.400s", rc,
                   rc ? err.msg : "accepted");
        if (!rc) policy_free(&p);
    }
    Policy p;
    LzError err;
    PolicyArg twice[2] = {{"rate", "0.1"}, {"rate", "0.2"}};
    TEST_CHECK(policy_create(&p, "random", NULL, twice, 2, &err) && strstr(err.msg, "--rate given twice"),
               "policy error: an option given twice", "%s", err.msg);
    // the JSON spelling
    cJSON *j = cJSON_Parse("{\"name\": \"fora\", \"interval\": 2, \"rate\": 0.5}");
    TEST_CHECK(policy_create_json(&p, j, "x.json: policy", &err) && strstr(err.msg, "x.json: policy.rate: unknown option of policy fora (it is an option of random)"),
               "policy JSON: an option of another policy names its owner", "%s", err.msg);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"name\": \"random\", \"rate\": \"0.5\"}");
    TEST_CHECK(policy_create_json(&p, j, "x.json: policy", &err) && strstr(err.msg, "policy.rate: must be a number"),
               "policy JSON: a string for a number is an error", "%s", err.msg);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"name\": \"random\", \"modules\": \"mlp\", \"rate\": 0.25, \"decision-seed\": 4}");
    TEST_CHECK(policy_create_json(&p, j, "x.json: policy", &err) == 0 &&
                   !strcmp(policy_json(&p), "{\"name\":\"random\",\"modules\":\"mlp\",\"rate\":0.25,\"decision-seed\":4}"),
               "policy JSON: a valid object resolves to canonical JSON", "%s", err.msg);
    policy_free(&p);
    cJSON_Delete(j);
}

// The random policy's draws over a structured grid of slots (2000 samples x
// 2 CFG rows x 10 steps x 6 blocks x 2 modules = 480k): the realised rate is
// within 0.005 of the requested one (about 7 standard deviations), and
// neighbouring slots are uncorrelated (|corr| < 0.01 between consecutive
// steps, between blocks, and between the CFG rows of a sample).
static void test_random_draws(void) {
    DitConfig c = config_a();
    c.depth = 6;
    Schedule s;
    make_schedule(&s, 10);
    PolicyEnv env = make_env(&c, &s, 4000, NULL);
    Policy p;
    LzError err;
    const char *kv[] = {"rate", "0.3"};
    CHECK(make_policy(&p, "random", NULL, kv, 1, &env, &err) == 0, "%s", err.msg);
    const int N = 2000, R = 2 * N, K = 10, L = 6;
    unsigned char *all = lz_calloc((size_t)K * L * 2 * R, 1, "draws");
    unsigned char *skip = lz_calloc((size_t)R, 1, "skip");
    float *score = lz_calloc((size_t)R, sizeof(float), "score");
    int *rows = lz_malloc(sizeof(int) * (size_t)R, "rows");
    for (int r = 0; r < R; r++) rows[r] = r;
    for (int st = 0; st < K; st++) {
        DitStep step = {st, K, s.ts[st], 0, N, N, R, NULL};
        for (int l = 0; l < L; l++)
            for (int m = 0; m < 2; m++) {
                DitModuleView v = {&step, l, (DitModule)m, R, 1, 1, rows, NULL, NULL, NULL, 0, skip, score};
                memset(skip, 0, (size_t)R);
                p.cls->decide(&p, &v, skip, score);
                memcpy(all + (((long)st * L + l) * 2 + m) * R, skip, (size_t)R);
            }
    }
    double n = (double)K * L * 2 * R, sum = 0;
    for (long i = 0; i < (long)n; i++) sum += all[i];
    double rate = sum / n;
    // correlation of pairs (a, b) of 0/1 draws
    double worst = 0;
    for (int kind = 0; kind < 3; kind++) {
        double sa = 0, sb = 0, sab = 0, cnt = 0;
        for (int st = 0; st + (kind == 0) < K; st++)
            for (int l = 0; l + (kind == 1) < L; l++)
                for (int r = 0; r < (kind == 2 ? N : R); r++) {
                    int a = all[(((long)st * L + l) * 2) * R + r];
                    int b = kind == 0   ? all[(((long)(st + 1) * L + l) * 2) * R + r]
                            : kind == 1 ? all[(((long)st * L + l + 1) * 2) * R + r]
                                        : all[(((long)st * L + l) * 2) * R + r + N];
                    sa += a, sb += b, sab += a * b, cnt++;
                }
        double ma = sa / cnt, mb = sb / cnt, cov = sab / cnt - ma * mb;
        double corr = cov / sqrt(ma * (1 - ma) * mb * (1 - mb));
        worst = fmax(worst, fabs(corr));
    }
    TEST_CHECK(fabs(rate - 0.3) < 0.005 && worst < 0.01,
               "random --rate 0.3: realised rate within 0.005 over 480k slots, neighbouring draws uncorrelated",
               "rate %.4f, worst |correlation| %.4f", rate, worst);
    printf("# random draws: rate %.4f, worst |correlation| %.4f\n", rate, worst);
    free(all), free(skip), free(score), free(rows);
    policy_free(&p);
    diffusion_free(&s.d);
}

// The sampling job: a policy given as a JSON object and the same policy as
// CLI-style options give the same samples and accounting; a caller-made
// sampling call (sample_job_run_with, as the recorder does it) chains its own
// hooks and gets the same timing and accounting around it; a usage error is
// told apart from a file error.
typedef struct {
    Observer *obs;
} RunnerCtx;
static int observed_runner(void *ctx, Sampler *s, float *out, const int *labels, long n, const float *noise,
                           LzError *err) {
    RunnerCtx *c = ctx;
    return sampler_run(s, out, labels, n, noise, &c->obs->hooks, NULL, NULL, err);
}

static void test_sample_job(void) {
    DitConfig c = config_a();
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_random(params, &c, 12);
    const char *path = tmp_path("job_model.safetensors");
    LzError err;
    CHECK(dit_save(path, &c, params, &err) == 0, "%s", err.msg);
    free(params);
    PolicyArg args[1] = {{"interval", "3"}};
    SampleJob job = {0};
    job.weights = path;
    job.n = 5;
    job.steps = 7;
    job.cfg_scale = 1.5;
    job.batch = 2;
    job.seed = 4;
    job.policy = "fora";
    job.policy_args = args;
    job.n_policy_args = 1;
    SampleRun a, b;
    CHECK(sample_job_prepare(&a, &job, &err) == 0 && sample_job_run(&a, &err) == 0, "%s", err.msg);
    cJSON *pj = cJSON_Parse("{\"name\": \"fora\", \"interval\": 3}");
    SampleJob jj = job;
    jj.policy = NULL;
    jj.policy_args = NULL;
    jj.n_policy_args = 0;
    jj.policy_json = pj;
    Observer o;
    observer_init(&o, &c, 4, 7);
    RunnerCtx rc = {&o};
    CHECK(sample_job_prepare(&b, &jj, &err) == 0 && sample_job_run_with(&b, observed_runner, &rc, &err) == 0, "%s",
          err.msg);
    long n = 5 * img_floats(&c);
    TEST_CHECK(!memcmp(a.samples, b.samples, sizeof(float) * n) && a.summary.reused == b.summary.reused &&
                   a.summary.macs_all == b.summary.macs_all && !strcmp(policy_json(&a.policy), policy_json(&b.policy)),
               "sample_job: a JSON policy equals the same policy from options (samples, accounting, resolved config)",
               "reused %ld vs %ld", a.summary.reused, b.summary.reused);
    TEST_CHECK(o.reused == b.summary.reused && o.slots == b.summary.slots && b.wall_seconds > 0 && b.num_steps == 7 &&
                   !strcmp(b.respacing, "7"),
               "sample_job_run_with: the caller's hooks see every slot; timing and accounting are kept",
               "observer %ld/%ld, job %ld/%ld", o.reused, o.slots, b.summary.reused, b.summary.slots);
    observer_free(&o);
    sample_job_free(&a);
    sample_job_free(&b);
    cJSON_Delete(pj);
    // usage errors (the options) against file errors (the model)
    SampleJob bad = job;
    args[0].value = "0";
    int r1 = sample_job_prepare(&a, &bad, &err);
    sample_job_free(&a);
    TEST_CHECK(r1 == SAMPLE_JOB_USAGE && strstr(err.msg, "--interval: 0 is outside"), "sample_job: a bad policy option is a usage error",
               "rc %d: %.300s", r1, err.msg);
    args[0].value = "3";
    bad.weights = tmp_path("missing.safetensors");
    int r2 = sample_job_prepare(&a, &bad, &err);
    sample_job_free(&a);
    TEST_CHECK(r2 == -1 && strstr(err.msg, "missing.safetensors"), "sample_job: a missing model is a file error naming it",
               "rc %d: %.300s", r2, err.msg);
    bad.weights = path;
    bad.respacing = "ddim5";
    bad.steps_given = 1;
    int r3 = sample_job_prepare(&a, &bad, &err);
    sample_job_free(&a);
    TEST_CHECK(r3 == SAMPLE_JOB_USAGE && strstr(err.msg, "--respacing 'ddim5' keeps 5 steps but --steps is 7"),
               "sample_job: respacing against steps is a usage error", "rc %d: %.300s", r3, err.msg);
}

int main(void) {
    test_sample_job();
    test_random_draws();
    test_ddim_is_no_policy();
    test_policies_observed();
    test_full_reuse_by_hand();
    test_batch_independence();
    test_cfg_rows_separately();
    test_stack_subset();
    test_macs_by_hand();
    test_calibration_files();
    test_option_errors();
    return test_finish();
}
