// lazy_account.c: counting slots and MACs (see lazy_account.h).
#include "model/lazy/lazy_account.h"

#include <math.h>
#include <string.h>

LazyMacParts lazy_mac_parts(const DitConfig *c) {
    double D = c->hidden, T = dit_tokens(c), M = c->mlp_hidden, F = c->freq_dim;
    LazyMacParts p;
    p.always_linear = T * D * dit_patch_dim(c) + F * D + D * D + 2 * D * D + T * D * dit_out_patch_dim(c);
    p.adaln_linear = 6 * D * D;
    p.attn_linear = T * D * 3 * D + T * D * D;
    p.attn_matmul = 2.0 * T * T * D;
    p.mlp_linear = 2 * T * D * M;
    return p;
}

void lazy_account_init(LazyAccount *a, const DitConfig *cfg, int num_steps) {
    memset(a, 0, sizeof *a);
    a->K = num_steps;
    a->L = cfg->depth;
    a->cfg = *cfg;
    long n = (long)num_steps * cfg->depth * 2;
    char *p = lz_calloc((size_t)n, 4 * sizeof(long) + sizeof(double), "lazy accounting");
    a->mem_ = p;
    a->score_sum = (double *)p;
    p += sizeof(double) * n;
    a->slots = (long *)p;
    a->reused = a->slots + n;
    a->reused_executed = a->reused + n;
    a->score_n = a->reused_executed + n;
}

void lazy_account_free(LazyAccount *a) {
    free(a->mem_);
    memset(a, 0, sizeof *a);
}

void lazy_account_reset(LazyAccount *a) {
    long n = (long)a->K * a->L * 2;
    memset(a->mem_, 0, (size_t)n * (4 * sizeof(long) + sizeof(double)));
    a->forward_rows = a->stack_rows = a->stack_decisions = 0;
    a->overhead_macs = 0;
}

void lazy_account_add(LazyAccount *a, const LazyAccount *b) {
    CHECK(a->K == b->K && a->L == b->L, "lazy_account_add: %dx%d vs %dx%d slots", a->K, a->L, b->K, b->L);
    long n = (long)a->K * a->L * 2;
    for (long i = 0; i < n; i++) {
        a->slots[i] += b->slots[i];
        a->reused[i] += b->reused[i];
        a->reused_executed[i] += b->reused_executed[i];
        a->score_sum[i] += b->score_sum[i];
        a->score_n[i] += b->score_n[i];
    }
    a->forward_rows += b->forward_rows;
    a->stack_rows += b->stack_rows;
    a->stack_decisions += b->stack_decisions;
    a->overhead_macs += b->overhead_macs;
}

LazySummary lazy_account_summary(const LazyAccount *a) {
    LazySummary s;
    memset(&s, 0, sizeof s);
    LazyMacParts p = lazy_mac_parts(&a->cfg);
    long n = (long)a->K * a->L * 2;
    // Executed module work: every slot minus reused slots that did not run.
    double attn_run = 0, mlp_run = 0;
    for (long i = 0; i < n; i++) {
        long run = a->slots[i] - a->reused[i] + a->reused_executed[i];
        if (i % 2 == 0) {
            attn_run += (double)run;
            s.slots_attn += a->slots[i];
            s.reused_attn += a->reused[i];
        } else {
            mlp_run += (double)run;
            s.slots_mlp += a->slots[i];
            s.reused_mlp += a->reused[i];
        }
        s.reused_executed += a->reused_executed[i];
    }
    s.slots = s.slots_attn + s.slots_mlp;
    s.reused = s.reused_attn + s.reused_mlp;
    double fr = (double)a->forward_rows, sr = (double)a->stack_rows;
    double base = fr * p.always_linear + sr * a->L * p.adaln_linear + (double)a->stack_decisions * p.adaln_linear;
    s.macs_linear = base + attn_run * p.attn_linear + mlp_run * p.mlp_linear + a->overhead_macs;
    s.macs_all = s.macs_linear + attn_run * p.attn_matmul;
    double full_linear = fr * (p.always_linear + a->L * (p.adaln_linear + p.attn_linear + p.mlp_linear));
    s.full_macs_linear = full_linear;
    s.overhead_macs = a->overhead_macs + (double)a->stack_decisions * p.adaln_linear;
    s.forward_rows = a->forward_rows;
    s.full_macs_all = full_linear + fr * a->L * p.attn_matmul;
    s.lazy_ratio = s.slots ? (double)s.reused / (double)s.slots : NAN;
    s.lazy_ratio_attn = s.slots_attn ? (double)s.reused_attn / (double)s.slots_attn : NAN;
    s.lazy_ratio_mlp = s.slots_mlp ? (double)s.reused_mlp / (double)s.slots_mlp : NAN;
    s.equal_budget_steps = a->K * (1 - (s.slots ? s.lazy_ratio : 0));
    return s;
}
