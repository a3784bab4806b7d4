// test_hook_chain.c: a policy and a recorder-like hook set on one sampling
// run, chained as the sampler chains them (docs/design.md, "The hook
// protocol"): [lazy runtime running the policy] -> [recorder]. With FORA at
// interval 2 on 4 DDIM steps under CFG the recorder must see, at `decide`, the
// policy's skip flags (steps 1 and 3, every model row, conditional and null
// rows alike) and, at `fill`, for a reused row exactly the output that row
// used at the previous step (bit for bit: the cache), for a computed row a new
// output; its counts must equal the runtime's accounting. Without a policy
// the same recorder sees no skips, and the samples of a run whose policy
// reuses nothing equal the plain run's bit for bit.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/lazy/policy.h"
#include "model/sampler.h"
#include "tests/test.h"
#include "tests/test_io.h"

enum { K = 4, ROWS = 2, MROWS = 2 * ROWS };

typedef struct {
    int L;
    long row;              // T * D
    long skips, decides;   // slots seen at decide, and how many were skipped
    int bad_order;         // fill before decide, or a step out of range
    unsigned char *skip;   // (K, L, 2, MROWS) flags seen at decide
    float *y;              // (K, L, 2, MROWS, T*D) outputs seen at fill
} Recorder;

static long rec_index(const Recorder *r, int step, int layer, int module, int row) {
    return (((long)step * r->L + layer) * 2 + module) * MROWS + row;
}

static void rec_decide(void *ctx, DitModuleView *v) {
    Recorder *r = ctx;
    if (!v->step || v->step->step < 0 || v->step->step >= K) {
        r->bad_order++;
        return;
    }
    for (int b = 0; b < v->B; b++) {
        r->skip[rec_index(r, v->step->step, v->layer, v->module, v->row_ids[b])] = v->skip[b];
        r->skips += v->skip[b];
        r->decides++;
    }
}

static void rec_fill(void *ctx, DitModuleView *v) {
    Recorder *r = ctx;
    if (!v->step || v->step->step < 0 || v->step->step >= K) {
        r->bad_order++;
        return;
    }
    for (int b = 0; b < v->B; b++)
        memcpy(r->y + rec_index(r, v->step->step, v->layer, v->module, v->row_ids[b]) * r->row, v->y + b * r->row,
               sizeof(float) * (size_t)r->row);
}

static void run(DitModel *m, const Diffusion *d, Policy *p, Recorder *rec, float *out, LazySummary *sum) {
    SamplerOptions o = sampler_default_options(&m->cfg, ROWS);  // CFG 1.5: 2 x ROWS model rows
    o.policy = p;
    Sampler s;
    LzError err;
    CHECK(sampler_init(&s, m, d, &o, &err) == 0, "%s", err.msg);
    DitHooks hooks = {.ctx = rec, .decide = rec_decide, .fill = rec_fill};
    int y[ROWS] = {1, 7};
    CHECK(sampler_run(&s, out, y, ROWS, NULL, rec ? &hooks : NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    *sum = lazy_account_summary(sampler_account(&s));
    sampler_free(&s);
}

static void make_policy(Policy *p, const char *name, const char *interval, const DitModel *m, const Diffusion *d) {
    LzError err;
    PolicyArg args[1] = {{"interval", interval}};
    CHECK(policy_create(p, name, NULL, args, interval ? 1 : 0, &err) == 0, "%s", err.msg);
    long ts[K];
    for (int i = 0; i < K; i++) ts[i] = d->timestep_map[K - 1 - i];
    PolicyEnv env = {&m->cfg, K, ts, "4", MROWS, NULL, 0};
    CHECK(policy_init(p, &env, &err) == 0, "%s", err.msg);
}

int main(void) {
    DitModel m;
    test_load_dit(&m, "tests/ref/golden/sampler_latent.safetensors", MROWS, 0);
    Diffusion d;
    LzError err;
    CHECK(diffusion_create(&d, "linear", 1000, "4", &err) == 0, "%s", err.msg);
    const int L = m.cfg.depth;
    const long row = (long)dit_tokens(&m.cfg) * m.cfg.hidden, img = 4L * 8 * 8;
    Recorder rec = {L, row, 0, 0, 0, calloc((size_t)K * L * 2 * MROWS, 1),
                    calloc((size_t)K * L * 2 * MROWS * row, sizeof(float))};
    float out_fora[ROWS * 256], out_plain[ROWS * 256], out_none[ROWS * 256];
    CHECK(img == 256, "latent golden model shape");

    Policy fora;
    make_policy(&fora, "fora", "2", &m, &d);
    LazySummary sf;
    run(&m, &d, &fora, &rec, out_fora, &sf);

    // decide: the recorder sees FORA's decisions (odd steps reuse) for every model row
    int wrong_flags = 0;
    for (int st = 0; st < K; st++)
        for (int l = 0; l < L; l++)
            for (int mo = 0; mo < 2; mo++)
                for (int b = 0; b < MROWS; b++) wrong_flags += rec.skip[rec_index(&rec, st, l, mo, b)] != (st % 2);
    TEST_CHECK(!rec.bad_order && !wrong_flags && rec.decides == (long)K * L * 2 * MROWS,
               "recorder after the policy sees its skip flags at decide (FORA interval 2: steps 1 and 3, all rows)",
               "%d wrong flags of %ld, %d hooks out of order", wrong_flags, rec.decides, rec.bad_order);

    // fill: reused rows carry exactly the previous step's output, computed rows a new one
    int not_cached = 0, not_new = 0;
    for (int st = 1; st < K; st++)
        for (int l = 0; l < L; l++)
            for (int mo = 0; mo < 2; mo++)
                for (int b = 0; b < MROWS; b++) {
                    const float *now = rec.y + rec_index(&rec, st, l, mo, b) * row;
                    const float *before = rec.y + rec_index(&rec, st - 1, l, mo, b) * row;
                    int same = !memcmp(now, before, sizeof(float) * (size_t)row);
                    if (st % 2) not_cached += !same;
                    else not_new += same;
                }
    TEST_CHECK(not_cached == 0 && not_new == 0,
               "recorder sees at fill the outputs used: the cached one bit for bit where reused, a new one where computed",
               "%d reused slots differ from the cache, %d computed slots equal the previous step", not_cached, not_new);

    // the runtime's accounting agrees with what the recorder counted
    TEST_CHECK(sf.reused == rec.skips && sf.slots == rec.decides && fabs(sf.lazy_ratio - 0.5) < 1e-12 &&
                   fabs(sf.equal_budget_steps - 2.0) < 1e-12,
               "accounting = the recorder's counts (lazy ratio 0.5, equal-budget 2 steps of 4)",
               "reused %ld vs %ld, slots %ld vs %ld, ratio %g", sf.reused, rec.skips, sf.slots, rec.decides,
               sf.lazy_ratio);

    // no policy: the same recorder sees no skip; a policy that reuses nothing
    // (FORA interval 1) samples exactly what the plain loop samples
    memset(rec.skip, 1, (size_t)K * L * 2 * MROWS);
    rec.skips = rec.decides = 0;
    LazySummary sp, sn;
    run(&m, &d, NULL, &rec, out_plain, &sp);
    TEST_CHECK(rec.skips == 0 && rec.decides == (long)K * L * 2 * MROWS && sp.reused == 0,
               "without a policy the recorder sees every slot computed", "%ld skips of %ld", rec.skips, rec.decides);
    Policy every;
    make_policy(&every, "fora", "1", &m, &d);
    run(&m, &d, &every, NULL, out_none, &sn);
    TEST_CHECK(!memcmp(out_none, out_plain, sizeof out_plain) && sn.reused == 0,
               "a policy that reuses nothing (FORA interval 1) = the plain run, bit for bit", "reused %ld", sn.reused);
    double diff = 0;
    for (int i = 0; i < ROWS * 256; i++) diff = fmax(diff, fabs(out_fora[i] - out_plain[i]));
    TEST_CHECK(diff > 0 && isfinite(diff), "FORA's reuse changes the samples (and keeps them finite)", "max diff %g",
               diff);
    policy_free(&fora);
    policy_free(&every);
    free(rec.skip);
    free(rec.y);
    diffusion_free(&d);
    dit_free(&m);
    return test_finish();
}
