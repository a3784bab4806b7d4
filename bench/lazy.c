// bench/lazy: wall-clock speed-up of lazy sampling over ddim at the same step
// count, against the ideal speed-up from the MAC count (full-compute MACs /
// executed MACs, all matmuls). Module-level skipping through `random --rate r`
// and FORA (interval and --modules chosen for ratios 0.25 to 0.5), on the
// default model (batch 100 with CFG: 200 model rows) and a random DiT-S/2 on a
// 32x32x4 latent. Goal: measured speed-up >= 0.9 of the MAC ideal.
//
// The machine is shared, so every configuration of a model is timed in the
// same process, interleaved round by round (ddim, then each policy, again),
// and the best round of each is compared. Validation first: every
// configuration's samples must be finite and its lazy ratio in the expected
// range before anything is timed.
//
// Usage: bench/lazy [--quick]   (--quick: fewer samples, steps and rounds)
#include <math.h>
#include <string.h>
#include <time.h>

#include "bench/bench_common.h"
#include "model/base/parallel.h"
#include "model/sample_job.h"

typedef struct {
    const char *label, *policy, *modules;
    PolicyArg args[1];
    double lo, hi;  // expected lazy ratio range (validation)
} Config;

typedef struct {
    Policy policy;
    Sampler sampler;
    LazySummary sum;
    double best, best_cpu;
} Slot;

// CPU seconds of the whole process (every thread): less sensitive to other
// processes on a loaded machine than wall time, reported next to it.
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run_model(const char *title, DitModel *m, int batch, int steps, int rounds) {
    const DitConfig *c = &m->cfg;
    Diffusion d;
    LzError err;
    char respacing[16];
    snprintf(respacing, sizeof respacing, "%d", steps);
    CHECK(diffusion_create(&d, "linear", 1000, respacing, &err) == 0, "%s", err.msg);
    long ts[1000];
    PolicyEnv env;
    sample_job_policy_env(&env, ts, c, &d, respacing, 2 * batch, NULL, 0);
    Config cfgs[] = {
        {"ddim", "ddim", NULL, {{NULL, NULL}}, 0, 0},
        // random: the first step computes, so the ratio is about r (K - 1) / K
        {"random 0.2", "random", NULL, {{"rate", "0.2"}}, 0.12, 0.25},
        {"random 0.3", "random", NULL, {{"rate", "0.3"}}, 0.18, 0.35},
        {"random 0.4", "random", NULL, {{"rate", "0.4"}}, 0.24, 0.45},
        {"random 0.5", "random", NULL, {{"rate", "0.5"}}, 0.30, 0.55},
        {"fora 2 mlp", "fora", "mlp", {{"interval", "2"}}, 0.2, 0.3},
        {"fora 3 attn", "fora", "attn", {{"interval", "3"}}, 0.2, 0.34},
        {"fora 2", "fora", NULL, {{"interval", "2"}}, 0.4, 0.5},
    };
    int nc = (int)(sizeof cfgs / sizeof cfgs[0]);
    Slot slots[8];
    long img = (long)c->in_channels * c->input_size * c->input_size;
    float *out = lz_malloc(sizeof(float) * (size_t)(batch * img), "samples");
    int *labels = lz_malloc(sizeof(int) * (size_t)batch, "labels");
    for (int i = 0; i < batch; i++) labels[i] = i % c->num_classes;
    printf("## %s: batch %d with CFG (%d model rows), %d steps, %d rounds\n", title, batch, 2 * batch, steps, rounds);
    for (int k = 0; k < nc; k++) {
        Slot *s = &slots[k];
        CHECK(policy_create(&s->policy, cfgs[k].policy, cfgs[k].modules, cfgs[k].args, cfgs[k].args[0].name ? 1 : 0,
                            &err) == 0 && policy_init(&s->policy, &env, &err) == 0,
              "%s: %s", cfgs[k].label, err.msg);
        SamplerOptions o = sampler_default_options(c, batch);
        o.policy = &s->policy;
        CHECK(sampler_init(&s->sampler, m, &d, &o, &err) == 0, "%s", err.msg);
        // validation run (also the warm-up)
        CHECK(sampler_run(&s->sampler, out, labels, batch, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
        for (long i = 0; i < batch * img; i++) REQUIRE(isfinite(out[i]), "%s: %s: non-finite sample value at %ld", title, cfgs[k].label, i);
        s->sum = lazy_account_summary(sampler_account(&s->sampler));
        double r = s->sum.slots ? s->sum.lazy_ratio : 0;
        REQUIRE(r >= cfgs[k].lo && r <= cfgs[k].hi, "%s: %s: lazy ratio %.3f outside [%.2f, %.2f]", title,
                cfgs[k].label, r, cfgs[k].lo, cfgs[k].hi);
        s->best = s->best_cpu = INFINITY;
    }
    for (int round = 0; round < rounds; round++)
        for (int k = 0; k < nc; k++) {
            Slot *s = &slots[k];
            double t0 = lz_now_seconds(), c0 = cpu_seconds();
            CHECK(sampler_run(&s->sampler, out, labels, batch, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
            double dt = lz_now_seconds() - t0, dc = cpu_seconds() - c0;
            if (dt < s->best) s->best = dt;
            if (dc < s->best_cpu) s->best_cpu = dc;
        }
    printf("%-12s %7s %9s %9s %9s %9s %10s %9s %10s\n", "policy", "ratio", "MAC ideal", "wall s", "speedup", "fraction",
           "cpu s", "speedup", "fraction");
    double worst = INFINITY, worst_cpu = INFINITY;
    for (int k = 0; k < nc; k++) {
        Slot *s = &slots[k];
        double speed = slots[0].best / s->best, ideal = s->sum.full_macs_all / s->sum.macs_all;
        double cspeed = slots[0].best_cpu / s->best_cpu;
        double frac = speed / ideal;
        if (k > 0) worst = fmin(worst, frac), worst_cpu = fmin(worst_cpu, cspeed / ideal);
        printf("%-12s %7.3f %9.3f %9.3f %9.3f %9.3f %10.3f %9.3f %10.3f\n", cfgs[k].label,
               s->sum.slots ? s->sum.lazy_ratio : 0, ideal, s->best, speed, frac, s->best_cpu, cspeed, cspeed / ideal);
    }
    printf("target: wall-clock speed-up >= 0.9 of the MAC ideal on every policy: %s (worst %.3f); "
           "in CPU time: %s (worst %.3f)\n\n",
           worst >= 0.9 ? "MET" : "NOT MET", worst, worst_cpu >= 0.9 ? "MET" : "NOT MET", worst_cpu);
    for (int k = 0; k < nc; k++) {
        sampler_free(&slots[k].sampler);
        policy_free(&slots[k].policy);
    }
    free(out);
    free(labels);
    diffusion_free(&d);
}

int main(int argc, char **argv) {
    int quick = 0, rounds = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench/lazy [--quick] [--only default|s2] [--rounds R]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);  // progress is visible in a log file
    bench_print_env("lazy");
    printf("# element-wise kernel threads (LAZYDIT_THREADS): %d\n", parallel_threads());

    DitModel m;
    if (!only || !strcmp(only, "default")) {
        DitConfig cfg;
        float *params;
        LzError err;
        REQUIRE(dit_load("models/fmnist_dit.safetensors", 0, &cfg, &params, &err) == 0, "%s", err.msg);
        int batch = quick ? 20 : 100;
        dit_build(&m, &cfg, params, 2 * batch, 0);
        run_model("default model (models/fmnist_dit.safetensors)", &m, batch, quick ? 4 : 10,
                  rounds ? rounds : quick ? 1 : 5);
        dit_free(&m);
    }
    if (!only || !strcmp(only, "s2")) {
        DitConfig s2 = {.input_size = 32, .in_channels = 4, .num_classes = 1000, .learn_sigma = 1};
        CHECK(dit_config_named(&s2, "DiT-S/2", NULL) == 0, "DiT-S/2");
        float *p2 = lz_malloc(sizeof(float) * dit_param_count(&s2), "params");
        dit_init_random(p2, &s2, 1);
        int b2 = quick ? 1 : 4;
        dit_build(&m, &s2, p2, 2 * b2, 0);
        run_model("random DiT-S/2, 32x32x4 latent", &m, b2, quick ? 4 : 6, rounds ? rounds : quick ? 1 : 3);
        dit_free(&m);
    }
    return 0;
}
