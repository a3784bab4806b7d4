// policy_random.c: the control. Each (sample, CFG half, step, block, module)
// slot reuses the cache with probability `rate`, drawn from a hash of those
// coordinates and the policy seed, so a sample's decisions do not depend on
// the batch size, the chunking or the other samples.
#include <stdint.h>

#include "model/base/prng.h"
#include "model/lazy/policy.h"

typedef struct {
    double rate;
    int seed;
} RandomConfig;

static const PolicyOption random_options[] = {
    {"rate", POPT_DOUBLE, offsetof(RandomConfig, rate), NULL, 0, 1, "probability that a slot reuses the cache"},
    {"decision-seed", POPT_INT, offsetof(RandomConfig, seed), "0", 0, 2147483647,
     "seed of the decisions (independent of the noise --seed)"},
};

// Uniform in [0, 1) from the slot coordinates: each coordinate is absorbed
// into the state and mixed through splitmix64's finaliser before the next, so
// distinct slots give independent-looking values (a plain XOR of the
// coordinates would collide).
static double slot_uniform(int seed, long sample, int null_half, int step, int layer, int module) {
    uint64_t h = (uint64_t)seed;
    uint64_t key[5] = {(uint64_t)sample, (uint64_t)null_half, (uint64_t)step, (uint64_t)layer, (uint64_t)module};
    for (int i = 0; i < 5; i++) {
        uint64_t x = h ^ key[i];
        h = splitmix64(&x);
    }
    return (double)(h >> 11) * 0x1.0p-53;
}

static void random_decide(Policy *p, const DitModuleView *v, unsigned char *skip, float *score) {
    const RandomConfig *c = POLICY_CONFIG(p, RandomConfig);
    const DitStep *st = v->step;
    for (int b = 0; b < v->B; b++) {
        int row = v->row_ids[b];
        long sample = st->first_sample + row % st->rows;
        double u = slot_uniform(c->seed, sample, row >= st->cond_rows, st->step, v->layer, v->module);
        skip[b] = u < c->rate;
        score[b] = (float)u;
    }
}

const PolicyClass policy_random = {
    .name = "random",
    .summary = "reuse each slot with probability --rate (a control at a matched ratio)",
    .options = random_options,
    .n_options = 2,
    .config_size = sizeof(RandomConfig),
    .decide = random_decide,
    .ignores_z = 1,
};
