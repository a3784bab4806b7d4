// policy_l2c.c: Learning-to-Cache (Ma et al., NeurIPS 2024) on DDIM. A static
// router: one logit theta[m][s][l] per (module, step, block), the same for
// every sample; the module reuses its cached output when sigmoid(theta) >
// threshold. (Our theta is the REUSE logit; L2C's router scores the compute
// side, beta = 1 - sigmoid(theta), and caches where beta is below its
// threshold.)
//
// Which steps consult the router. L2C pairs the steps: the official sampler
// counts respaced indices t = K-1 .. 0 and recomputes every module whenever t
// is odd; only steps with an even t may reuse, and they reuse what the step
// right before them (odd t, full) computed. In execution order s = K-1-t:
//   K even (10, 20, 50): s = 0, 2, 4, ... compute fully, s = 1, 3, 5, ... use the router;
//   K odd:               s = 1, 3, ... compute fully, s = 2, 4, ... use the router (s = 0 computes anyway).
// So L2C's laziness cannot exceed the share of router steps (50% for even K).
// train-l2c trains exactly the router steps (lazy_train.h).
#include <math.h>

#include "model/lazy/gates.h"
#include "model/lazy/policy.h"

typedef struct {
    const char *router;
    double threshold;  // NaN: the router file's threshold
} L2cConfig;

typedef struct {
    GateFile g;
    int K;
} L2cState;

static const PolicyOption l2c_options[] = {
    {"router", POPT_STRING, offsetof(L2cConfig, router), NULL, 0, -1, "router file (safetensors: attn, mlp (steps, blocks))"},
    {"threshold", POPT_DOUBLE, offsetof(L2cConfig, threshold), "", 0, 1,
     "reuse when sigmoid(theta) is above this (default: the router file's threshold)"},
};

static int l2c_init(Policy *p, const PolicyEnv *env, LzError *err) {
    L2cConfig *c = p->config;
    L2cState *st = p->state;
    if (gates_read(&st->g, c->router, GATES_L2C, err)) return -1;
    if (gates_check_run(&st->g, c->router, env->num_steps, env->respacing, env->cfg, env->model_sha256, err)) {
        gates_free(&st->g);
        return -1;
    }
    if (isnan(c->threshold)) {
        c->threshold = st->g.threshold;
        gates_note_modules(&st->g, c->router, p->modules, p->note, sizeof p->note);
    }
    st->K = env->num_steps;
    p->decision_macs = 0;  // a static router costs nothing per row
    return 0;
}

static void l2c_free(Policy *p) { gates_free(&POLICY_STATE(p, L2cState)->g); }

static void l2c_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    const L2cState *st = p->state;
    int s = v->step->step;
    if ((st->K - 1 - s) % 2 != 0) return;  // odd respaced index: a full step
    double prob = 1.0 / (1.0 + exp(-(double)*gates_at(&st->g, v->module, s, v->layer)));
    int reuse = prob > POLICY_CONFIG(p, L2cConfig)->threshold;
    for (int b = 0; b < v->B; b++) {
        skip[b] = (unsigned char)reuse;
        score[b] = (float)prob;
    }
}

const PolicyClass policy_l2c = {
    .name = "l2c",
    .summary = "Learning-to-Cache: a learned static router per (step, block, module); full steps in between",
    .options = l2c_options,
    .n_options = 2,
    .config_size = sizeof(L2cConfig),
    .state_size = sizeof(L2cState),
    .init = l2c_init,
    .free = l2c_free,
    .decide = l2c_decide,
};
