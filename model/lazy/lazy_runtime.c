// lazy_runtime.c: the module and residual caches, the rules every policy gets,
// and the slot accounting (see lazy_runtime.h).
#include "model/lazy/lazy_runtime.h"

#include <math.h>
#include <string.h>

static float *cache_row(const LazyRuntime *r, int layer, int module, int row) {
    return r->cache + (((long)layer * 2 + module) * r->max_rows + row) * (long)r->T * r->D;
}
static unsigned char *valid_at(const LazyRuntime *r, int layer, int module, int row) {
    return r->valid + ((long)layer * 2 + module) * r->max_rows + row;
}

// Whether the forward may compute this module's rows straight into its cache
// block (v->y repointed at decide, see DitHooks in model/dit.h): the view's
// rows are model rows 0..B-1 (the block is indexed by model row), no review
// needs the old entries after computing, and no set after the runtime can
// skip rows (it would write its fill into the cache).
static int direct_to_cache(const LazyRuntime *r, const DitModuleView *v) {
    if (r->policy->cls->review) return 0;
    for (const DitHooks *h = r->hooks.next; h; h = h->next)
        if (h->decide) return 0;
    for (int b = 0; b < v->B; b++)
        if (v->row_ids[b] != b) return 0;
    return 1;
}

// Module decision: the policy proposes, the runtime keeps only what the
// rules allow (enabled module, not the first step, a valid cache entry).
// A cached module's output goes straight into the cache where it can: rows
// that reuse are already there, and computed rows refresh it as they are
// written (no copy in either direction).
static void rt_decide(void *ctx, DitModuleView *v) {
    LazyRuntime *r = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    CHECK(st->step < r->K, "lazy runtime: step %d outside the %d steps it was built for", st->step, r->K);
    long idx = lazy_account_index(&r->acc, st->step, v->layer, v->module);
    r->acc.slots[idx] += v->B;
    memset(r->flags, 0, (size_t)v->B);
    Policy *p = r->policy;
    if (!r->use_modules || !policy_on_module(p, v->module)) return;
    if (direct_to_cache(r, v)) v->y = cache_row(r, v->layer, v->module, 0);
    if (st->step == 0 || !p->cls->decide) return;
    for (int b = 0; b < v->B; b++) r->scores[b] = NAN;
    p->cls->decide(p, v, r->flags, r->scores);
    r->acc.overhead_macs += v->B * p->decision_macs;
    for (int b = 0; b < v->B; b++) {
        if (!isnan(r->scores[b])) {
            v->score[b] = r->scores[b];
            r->acc.score_sum[idx] += r->scores[b];
            r->acc.score_n[idx]++;
        }
        if (r->flags[b] && *valid_at(r, v->layer, v->module, v->row_ids[b])) {
            v->skip[b] = 1;
            r->acc.reused[idx]++;
        } else {
            r->flags[b] = 0;  // what the runtime fills at `fill`: only its own skips
        }
    }
}

// Fill: reused rows from the cache, then the policy's review (reuse after
// computing), then the cache refresh from the rows whose computed output is
// used.
static void rt_fill(void *ctx, DitModuleView *v) {
    LazyRuntime *r = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0 || !r->use_modules) return;
    long row = (long)r->T * r->D;
    long idx = lazy_account_index(&r->acc, st->step, v->layer, v->module);
    // Computed straight into the cache block (rt_decide): reused rows were
    // there already, computed rows now hold this step's output.
    float *block = cache_row(r, v->layer, v->module, 0);
    if (v->y == block) {
        for (int b = 0; b < v->B; b++)
            if (!r->flags[b] && !v->skip[b]) *valid_at(r, v->layer, v->module, v->row_ids[b]) = 1;
        return;
    }
    // Every row reuses and the view's rows are model rows 0..B-1: the cache
    // block of this module already is the (B, T, D) output, so the view
    // points there instead of copying it (nothing is computed, reviewed or
    // refreshed).
    int all = 1;
    for (int b = 0; b < v->B && all; b++) all = r->flags[b] && v->row_ids[b] == b;
    if (all) {
        v->y = block;
        return;
    }
    for (int b = 0; b < v->B; b++)
        if (r->flags[b]) memcpy(v->y + b * row, cache_row(r, v->layer, v->module, v->row_ids[b]), sizeof(float) * row);
    Policy *p = r->policy;
    // A module the policy does not act on (--modules) never reads its cache:
    // nothing to fill, review or refresh.
    if (!policy_on_module(p, v->module)) return;
    unsigned char *reuse = r->flags;  // rows filled above stay marked; review adds to them
    if (st->step > 0 && p->cls->review) {
        for (int b = 0; b < v->B; b++) {
            int valid = *valid_at(r, v->layer, v->module, v->row_ids[b]);
            r->has_prev[b] = valid && !v->skip[b];
            if (r->has_prev[b])
                memcpy(r->prev + b * row, cache_row(r, v->layer, v->module, v->row_ids[b]), sizeof(float) * row);
            r->scores[b] = NAN;
        }
        unsigned char *proposed = r->has_prev + r->max_rows;  // second half of the has_prev block
        memset(proposed, 0, (size_t)v->B);
        p->cls->review(p, v, r->prev, r->has_prev, proposed, r->scores);
        for (int b = 0; b < v->B; b++) {
            if (!r->has_prev[b]) continue;
            if (!isnan(r->scores[b])) {
                v->score[b] = r->scores[b];
                r->acc.score_sum[idx] += r->scores[b];
                r->acc.score_n[idx]++;
            }
            if (!proposed[b]) continue;
            memcpy(v->y + b * row, r->prev + b * row, sizeof(float) * row);
            reuse[b] = 1;
            v->skip[b] = 1;  // hooks chained after the runtime see the row as reused
            r->acc.reused[idx]++;
            r->acc.reused_executed[idx]++;
        }
    }
    for (int b = 0; b < v->B; b++) {
        if (reuse[b] || v->skip[b]) continue;
        memcpy(cache_row(r, v->layer, v->module, v->row_ids[b]), v->y + b * row, sizeof(float) * row);
        *valid_at(r, v->layer, v->module, v->row_ids[b]) = 1;
    }
}

static void rt_stack_decide(void *ctx, DitStackView *v) {
    LazyRuntime *r = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    r->acc.stack_decisions += v->B;
    // The policy sees every step, the first included (TeaCache keeps the
    // previous z0 from it); rows without a residual (the first step of a
    // chunk) compute whatever it says.
    memset(r->flags, 0, (size_t)v->B);
    r->policy->cls->stack_decide(r->policy, v, r->flags);
    long row = (long)r->T * r->D;
    for (int b = 0; b < v->B; b++) {
        if (!r->flags[b] || !r->resid_valid[b]) continue;
        v->skip[b] = 1;
        const float *x = v->x + b * row, *res = r->resid + b * row;
        float *out = v->out + b * row;
        for (long i = 0; i < row; i++) out[i] = x[i] + res[i];
        for (int l = 0; l < r->L; l++)
            for (int m = 0; m < 2; m++) {
                long idx = lazy_account_index(&r->acc, st->step, l, m);
                r->acc.slots[idx]++;
                r->acc.reused[idx]++;
            }
    }
}

static void rt_stack_done(void *ctx, DitStackView *v) {
    LazyRuntime *r = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    long row = (long)r->T * r->D;
    for (int b = 0; b < v->B; b++) {
        if (v->skip[b]) continue;
        r->acc.stack_rows++;
        const float *x = v->x + b * row, *out = v->out + b * row;
        float *res = r->resid + b * row;
        for (long i = 0; i < row; i++) res[i] = out[i] - x[i];
        r->resid_valid[b] = 1;
    }
}

void lazy_runtime_init(LazyRuntime *r, Policy *policy, const DitConfig *cfg, int max_rows, int num_steps) {
    memset(r, 0, sizeof *r);
    CHECK(max_rows > 0 && num_steps > 0, "lazy runtime: %d rows, %d steps", max_rows, num_steps);
    r->policy = policy;
    r->cfg = *cfg;
    r->L = cfg->depth;
    r->T = dit_tokens(cfg);
    r->D = cfg->hidden;
    r->max_rows = max_rows;
    r->K = num_steps;
    const PolicyClass *c = policy ? policy->cls : NULL;
    r->use_modules = c && (c->decide || c->review);
    r->use_stack = c && c->stack_decide;
    long row = (long)r->T * r->D;
    size_t cache_f = r->use_modules ? (size_t)r->L * 2 * max_rows * row : 0;
    size_t resid_f = r->use_stack ? (size_t)max_rows * row : 0;
    size_t prev_f = c && c->review ? (size_t)max_rows * row : 0;
    size_t floats = cache_f + resid_f + prev_f + (size_t)max_rows;
    size_t bytes = floats * sizeof(float) + (size_t)r->L * 2 * max_rows + 4 * (size_t)max_rows;
    char *p = lz_calloc(bytes, 1, "lazy caches");
    r->mem_ = p;
    r->cache = (float *)p;
    r->resid = r->cache + cache_f;
    r->prev = r->resid + resid_f;
    r->scores = r->prev + prev_f;
    unsigned char *u = (unsigned char *)(r->scores + max_rows);
    r->valid = u;
    u += (size_t)r->L * 2 * max_rows;
    r->resid_valid = u;
    r->flags = u + max_rows;
    r->has_prev = u + 2 * (size_t)max_rows;  // and the review proposals right after it
    lazy_account_init(&r->acc, cfg, num_steps);
    r->hooks.ctx = r;
    r->hooks.decide = rt_decide;
    r->hooks.fill = rt_fill;
    // The runtime itself reads Z only through the policy's decide.
    r->hooks.ignores_z = !r->use_modules || c->ignores_z;
    r->hooks.stack_decide = r->use_stack ? rt_stack_decide : NULL;
    r->hooks.stack_done = r->use_stack ? rt_stack_done : NULL;
}

void lazy_runtime_free(LazyRuntime *r) {
    free(r->mem_);
    lazy_account_free(&r->acc);
    memset(r, 0, sizeof *r);
}

const DitHooks *lazy_runtime_hooks(LazyRuntime *r, const DitHooks *next) {
    r->hooks.next = next;
    return &r->hooks;
}

void lazy_runtime_step_begin(LazyRuntime *r, const DitStep *st) {
    CHECK(st->model_rows <= r->max_rows, "lazy runtime: %d model rows, built for %d", st->model_rows, r->max_rows);
    if (st->step == 0) {
        memset(r->valid, 0, (size_t)r->L * 2 * r->max_rows);
        memset(r->resid_valid, 0, (size_t)r->max_rows);
    }
    r->acc.forward_rows += st->model_rows;
    if (!r->use_stack) r->acc.stack_rows += st->model_rows;
    if (r->policy && r->policy->cls->step_begin) r->policy->cls->step_begin(r->policy, st);
}

void lazy_runtime_step_end(LazyRuntime *r, const DitStep *st) {
    if (r->policy && r->policy->cls->step_end) r->policy->cls->step_end(r->policy, st);
}
