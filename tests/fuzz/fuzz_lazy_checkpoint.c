// Fuzz target: resuming train-lazy / train-l2c from a checkpoint
// (lazy_trainer_load: the iteration, the options, the four state tensors with
// their shapes, values and AdamW counts) into two tiny trainers built once, a
// gate trainer and a router trainer for the same 4-step run. A checkpoint
// that loads must leave a consistent trainer that can take its next step.
// The seeds come from tests/fuzz/make_seeds.sh with the same shapes and
// options text.
#include <math.h>

#include "model/dit_params.h"
#include "model/lazy/lazy_train.h"
#include "tests/fuzz/fuzz_util.h"

#define OPTIONS "{\"fuzz\":1}"

static LazyTrainer tr[2];  // gates, router
static Dataset ds;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    DitConfig c = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 4, .depth = 1, .heads = 2,
                   .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 16, .freq_dim = 256};
    for (int k = 0; k < 2; k++) {
        LazyTrainHyper hp = {.kind = k ? LAZY_TRAIN_ROUTER : LAZY_TRAIN_GATES, .steps = 4, .respacing = "4",
                             .batch = 2, .lr = 1e-3, .rho_attn = 1e-5, .rho_mlp = 1e-5, .class_dropout = 0.1,
                             .seed = 7, .odd_steps_only = k, .clamp = k ? 5 : 0};
        float *params = lz_calloc((size_t)dit_param_count(&c), sizeof(float), "fuzz params");
        dit_init_official(params, &c, 1);
        lazy_trainer_init(&tr[k], &c, params, &hp, 2);
    }
    ds = (Dataset){.n = 2, .c = 1, .h = 4, .w = 4, .num_classes = 2};
    ds.images = lz_calloc(32, sizeof(float), "fuzz images");
    ds.labels = lz_calloc(2, sizeof(int), "fuzz labels");
    for (int i = 0; i < 32; i++) ds.images[i] = (float)(i % 7) / 7.0f - 0.5f;
    ds.labels[1] = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    for (int k = 0; k < 2; k++) {
        LazyTrainer *t = &tr[k];
        LzError err;
        t->iter = 0;
        if (lazy_trainer_load(t, path, OPTIONS, &err) == 0) {
            long W = 2L * t->K * t->L * t->G, sum = 0;
            for (int s = 0; s < t->K; s++) sum += t->adam_t[s];
            if (t->iter < 0 || sum != t->iter) abort();
            for (long i = 0; i < W; i++)
                if (!isfinite(t->gates.w[i]) || !isfinite(t->adam_m[i]) || !(t->adam_v[i] >= 0)) abort();
            // A resumed trainer takes its next step.
            lazy_trainer_step(t, &ds);
        } else if (!err.msg[0] || strchr(err.msg, '\n')) {
            abort();
        }
    }
    return 0;
}
