// policy_fora.c: FORA (Selvaraju et al. 2024), fast-forward caching. Every
// module of every block is computed at steps where step % interval == 0 (the
// first step included) and reused from that step's cache at the others.
#include "model/lazy/policy.h"

typedef struct {
    int interval;
} ForaConfig;

static const PolicyOption fora_options[] = {
    {"interval", POPT_INT, offsetof(ForaConfig, interval), NULL, 1, 1000, "compute at every N-th step, reuse between"},
};

static void fora_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    (void)score;
    int reuse = v->step->step % POLICY_CONFIG(p, ForaConfig)->interval != 0;
    for (int b = 0; b < v->B; b++) skip[b] = (unsigned char)reuse;
}

const PolicyClass policy_fora = {
    .name = "fora",
    .summary = "compute all modules every --interval steps, reuse in between",
    .options = fora_options,
    .n_options = 1,
    .config_size = sizeof(ForaConfig),
    .decide = fora_decide,
    .ignores_z = 1,
};
