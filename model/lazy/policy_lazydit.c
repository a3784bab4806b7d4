// policy_lazydit.c: LazyDiT (Shen et al., AAAI 2025). One learned gate per
// (module, sampling step, block): a Linear(D, 1) without bias on the module's
// modulated input Z, summed over the tokens, then a sigmoid, per model row:
//   score[b] = sigmoid(sum_{t,d} Z[b,t,d] * w[m][s][l][d])
// The row reuses the module's cached output when score > threshold (strictly,
// so all-zero gates score 0.5 and compute). Under CFG the conditional and the
// null rows have different Z and decide separately. Gate file: gates.h.
#include <math.h>

#include "model/lazy/gates.h"
#include "model/lazy/policy.h"

typedef struct {
    const char *gates;
    double threshold;  // NaN: the gate file's threshold
} LazyditConfig;

typedef struct {
    GateFile g;
} LazyditState;

static const PolicyOption lazydit_options[] = {
    {"gates", POPT_STRING, offsetof(LazyditConfig, gates), NULL, 0, -1,
     "gate file (safetensors: attn, mlp (steps, blocks, hidden))"},
    {"threshold", POPT_DOUBLE, offsetof(LazyditConfig, threshold), "", 0, 1,
     "reuse when the gate score is above this (default: the gate file's threshold)"},
};

static int lazydit_init(Policy *p, const PolicyEnv *env, LzError *err) {
    LazyditConfig *c = p->config;
    LazyditState *st = p->state;
    if (gates_read(&st->g, c->gates, GATES_LAZYDIT, err)) return -1;
    if (gates_check_run(&st->g, c->gates, env->num_steps, env->respacing, env->cfg, env->model_sha256, err)) {
        gates_free(&st->g);
        return -1;
    }
    if (isnan(c->threshold)) c->threshold = st->g.threshold;
    // A gate is a T*D dot product per row and decision.
    p->decision_macs = (double)dit_tokens(env->cfg) * env->cfg->hidden;
    return 0;
}

static void lazydit_free(Policy *p) { gates_free(&POLICY_STATE(p, LazyditState)->g); }

static void lazydit_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    const LazyditState *st = p->state;
    double thr = POLICY_CONFIG(p, LazyditConfig)->threshold;
    const float *w = gates_at(&st->g, v->module, v->step->step, v->layer);  // (D)
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++) {
        const float *z = v->z + b * row;  // (T, D)
        double acc = 0;
        for (int t = 0; t < v->T; t++)
            for (int d = 0; d < v->D; d++) acc += (double)z[(long)t * v->D + d] * w[d];
        double s = 1.0 / (1.0 + exp(-acc));
        score[b] = (float)s;
        skip[b] = s > thr;
    }
}

const PolicyClass policy_lazydit = {
    .name = "lazydit",
    .summary = "LazyDiT: learned per-(step, block, module) gates on Z decide per row (--gates G.safetensors)",
    .options = lazydit_options,
    .n_options = 2,
    .config_size = sizeof(LazyditConfig),
    .state_size = sizeof(LazyditState),
    .init = lazydit_init,
    .free = lazydit_free,
    .decide = lazydit_decide,
};
