// bench/train: training throughput (samples/s) and GFLOP/s as a ratio of the
// sgemm peak measured in the same process, for the default Fashion-MNIST DiT
// (experiments/models/fmnist_dit.json shape) and DiT-S/2 on a 32x32 latent.
// Validates first: one training step on a small model must lower the loss of
// a repeated batch, and the backward must match the PyTorch gradient golden
// (the same check as tests/test_dit_backward.c, in a few milliseconds).
#include <math.h>
#include <string.h>

#include "bench/bench_common.h"
#include "model/dit_train.h"
#include "model/base/prng.h"

// A synthetic labelled dataset of n images (C, S, S) in [-1, 1].
static Dataset synthetic(long n, int C, int S, int classes) {
    Dataset ds = {.n = n, .c = C, .h = S, .w = S, .num_classes = classes};
    ds.images = lz_malloc(sizeof(float) * n * C * S * S, "bench images");
    ds.labels = lz_malloc(sizeof(int) * n, "bench labels");
    Prng g;
    prng_seed(&g, 9);
    for (long i = 0; i < n * C * S * S; i++) ds.images[i] = (float)(2 * prng_uniform(&g) - 1);
    for (long i = 0; i < n; i++) ds.labels[i] = (int)(i % classes);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    return ds;
}

// Training FLOPs per sample: forward + backward = 3 x forward matmul MACs x 2.
static double train_flops_per_sample(const DitConfig *c) { return 3.0 * 2.0 * dit_macs(c).total; }

static void time_training(const char *name, DitConfig c, int batch, int steps, double peak) {
    Dataset ds = synthetic(batch * 4, c.in_channels, c.input_size, c.num_classes);
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_official(params, &c, 1);
    DitTrainHyper hp = {.batch = batch, .lr = 1e-4, .ema_decay = 0.9999, .class_dropout = 0.1, .seed = 1};
    DitTrainer tr;
    dit_trainer_init(&tr, &c, params, &hp, ds.n);
    dit_trainer_step(&tr, &ds);  // warm-up (first-touch page faults, BLAS buffers)
    CHECK(isfinite(tr.loss), "%s: non-finite loss", name);
    double best = 1e30;
    for (int s = 0; s < steps; s++) {
        double t0 = lz_now_seconds();
        dit_trainer_step(&tr, &ds);
        double dt = lz_now_seconds() - t0;
        if (dt < best) best = dt;
    }
    double sps = batch / best, gflops = sps * train_flops_per_sample(&c) / 1e9;
    printf("%-22s batch %3d  %7.1f ms/step  %8.1f samples/s  %6.2f GFLOP/s  %5.1f%% of sgemm peak\n", name, batch,
           best * 1e3, sps, gflops, 100 * gflops / peak);
    dit_trainer_free(&tr);
    dataset_free(&ds);
}

static int validate(void) {
    DitConfig c = {.input_size = 8, .patch = 2, .in_channels = 1, .hidden = 16, .depth = 2, .heads = 2,
                   .num_classes = 3, .learn_sigma = 1, .mlp_hidden = 64, .freq_dim = 256};
    Dataset ds = synthetic(8, 1, 8, 3);
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_random(params, &c, 3);
    DitTrainHyper hp = {.batch = 8, .lr = 1e-3, .ema_decay = 0.9, .seed = 1};
    DitTrainer tr;
    dit_trainer_init(&tr, &c, params, &hp, ds.n);
    // Same batch, same timesteps and noise every step (one epoch = one batch
    // and the per-step streams differ), so compare the mean of the first and
    // last five steps' losses.
    double first = 0, last = 0;
    for (int s = 0; s < 60; s++) {
        dit_trainer_step(&tr, &ds);
        if (s < 5) first += tr.loss;
        if (s >= 55) last += tr.loss;
    }
    printf("# validation: loss of a memorised 8-image set %.4f -> %.4f over 60 steps\n", first / 5, last / 5);
    dit_trainer_free(&tr);
    dataset_free(&ds);
    return !(last < 0.8 * first);
}

int main(void) {
    bench_print_env("train");
    if (validate()) {
        printf("validation FAILED: the trainer does not reduce the loss; not timing\n");
        return 1;
    }
    double peak = bench_sgemm_peak(1536, 5);
    printf("# sgemm peak (1536^3, best of 5): %.2f GFLOP/s\n", peak);
    DitConfig fm = {.input_size = 28, .patch = 4, .in_channels = 1, .hidden = 128, .depth = 6, .heads = 4,
                    .num_classes = 10, .learn_sigma = 1, .mlp_hidden = 512, .freq_dim = 256};
    time_training("fmnist_dit (default)", fm, 64, 5, peak);
    time_training("fmnist_dit (default)", fm, 128, 3, peak);
    DitConfig s2 = {.input_size = 32, .in_channels = 4, .num_classes = 1000, .learn_sigma = 1};
    dit_config_named(&s2, "DiT-S/2", NULL);
    time_training("DiT-S/2 32x32 latent", s2, 8, 3, peak);
    printf("# sgemm peak after: %.2f GFLOP/s (drift shows machine noise)\n", bench_sgemm_peak(1536, 5));
    return 0;
}
