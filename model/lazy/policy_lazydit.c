// policy_lazydit.c: LazyDiT (Shen et al., AAAI 2025). One learned gate per
// (module, sampling step, block): a Linear(D, 1) without bias on the module's
// modulated input Z, summed over the tokens, then a sigmoid, per model row:
//   score[b] = sigmoid(sum_{t,d} Z[b,t,d] * w[m][s][l][d])
// The row reuses the module's cached output when score > threshold (strictly,
// so all-zero gates score 0.5 and compute). Under CFG the conditional and the
// null rows have different Z and decide separately. Gate file: gates.h.
//
// --staleness N (an extension, off by default): a row that reused one
// module's cache at the N previous steps computes it now, so no reused output
// is more than N steps old. The gates are trained with a cache exactly one
// step old (lazy_train.h); N = 1 keeps inference within that assumption.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/lazy/gates.h"
#include "model/lazy/policy.h"

typedef struct {
    const char *gates;
    double threshold;  // NaN: the gate file's threshold
    int staleness;     // -1: the gate file's; 0: unlimited
} LazyditConfig;

typedef struct {
    GateFile g;
    int L, max_rows;
    unsigned short *run;  // (max_rows, L, 2) consecutive reuses of each row's cached output
} LazyditState;

static const PolicyOption lazydit_options[] = {
    {"gates", POPT_STRING, offsetof(LazyditConfig, gates), NULL, 0, -1,
     "gate file (safetensors: attn, mlp (steps, blocks, hidden))"},
    {"threshold", POPT_DOUBLE, offsetof(LazyditConfig, threshold), "", 0, 1,
     "reuse when the gate score is above this (default: the gate file's threshold)"},
    {"staleness", POPT_INT, offsetof(LazyditConfig, staleness), "-1", -1, 65535,
     "most consecutive reuses of one cached output, 0 = unlimited (published rule); -1 = the gate file's"},
};

static int lazydit_init(Policy *p, const PolicyEnv *env, LzError *err) {
    LazyditConfig *c = p->config;
    LazyditState *st = p->state;
    if (gates_read(&st->g, c->gates, GATES_LAZYDIT, err)) return -1;
    if (gates_check_run(&st->g, c->gates, env->num_steps, env->respacing, env->cfg, env->model_sha256, err)) {
        gates_free(&st->g);
        return -1;
    }
    if (isnan(c->threshold)) {
        c->threshold = st->g.threshold;
        gates_note_modules(&st->g, c->gates, p->modules, p->note, sizeof p->note);
    }
    if (c->staleness < 0) c->staleness = st->g.staleness;
    st->L = env->cfg->depth;
    st->max_rows = env->max_rows;
    st->run = lz_calloc((size_t)env->max_rows * st->L * 2, sizeof *st->run, "lazydit reuse counters");
    // A gate is a T*D dot product per row and decision.
    p->decision_macs = (double)dit_tokens(env->cfg) * env->cfg->hidden;
    return 0;
}

static void lazydit_free(Policy *p) {
    LazyditState *st = p->state;
    gates_free(&st->g);
    free(st->run);
}

// A new chunk starts at step 0: no row has reused anything yet.
static void lazydit_step_begin(Policy *p, const DitStep *s) {
    LazyditState *st = p->state;
    if (s->step == 0) memset(st->run, 0, sizeof *st->run * (size_t)st->max_rows * st->L * 2);
}

static void lazydit_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    const LazyditState *st = p->state;
    double thr = POLICY_CONFIG(p, LazyditConfig)->threshold;
    int limit = POLICY_CONFIG(p, LazyditConfig)->staleness;
    const float *w = gates_at(&st->g, v->module, v->step->step, v->layer);  // (D)
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++) {
        const float *z = v->z + b * row;  // (T, D)
        double acc = 0;
        for (int t = 0; t < v->T; t++)
            for (int d = 0; d < v->D; d++) acc += (double)z[(long)t * v->D + d] * w[d];
        double s = 1.0 / (1.0 + exp(-acc));
        score[b] = (float)s;
        // Past step 0 every row has a valid cache, so the runtime keeps every skip proposed here.
        unsigned short *run = st->run + ((long)v->row_ids[b] * st->L + v->layer) * 2 + v->module;
        skip[b] = s > thr && (limit == 0 || *run < limit);
        *run = skip[b] ? (unsigned short)(*run < 65535 ? *run + 1 : *run) : 0;
    }
}

const PolicyClass policy_lazydit = {
    .name = "lazydit",
    .summary = "LazyDiT: learned per-(step, block, module) gates on Z decide per row (--gates G.safetensors)",
    .options = lazydit_options,
    .n_options = 3,
    .config_size = sizeof(LazyditConfig),
    .state_size = sizeof(LazyditState),
    .init = lazydit_init,
    .free = lazydit_free,
    .step_begin = lazydit_step_begin,
    .decide = lazydit_decide,
};
