// Fuzz target: resuming DiT training from a checkpoint (metadata step, seed and
// model shape, the four state tensors) into a tiny trainer built once. The
// seed corpus comes from tests/fuzz/make_seeds.sh with the same configuration.
#include "model/dit_train.h"
#include "tests/fuzz/fuzz_util.h"

static DitTrainer tr;
static Dataset ds;

// The model of tests/fuzz/make_seeds.sh's training config.
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    DitConfig c = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 4, .depth = 1, .heads = 2,
                   .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 16, .freq_dim = 256};
    DitTrainHyper hp = {.batch = 2, .lr = 1e-3, .ema_decay = 0.99, .class_dropout = 0.1, .seed = 7};
    float *params = lz_calloc((size_t)dit_param_count(&c), sizeof(float), "fuzz params");
    dit_init_official(params, &c, 1);
    dit_trainer_init(&tr, &c, params, &hp, 2);
    ds = (Dataset){.n = 2, .c = 1, .h = 4, .w = 4, .num_classes = 2};
    ds.images = lz_calloc(32, sizeof(float), "fuzz images");
    ds.labels = lz_calloc(2, sizeof(int), "fuzz labels");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    tr.step = 0;
    if (dit_trainer_load(&tr, fuzz_file(data, size), 3, &err) == 0) {
        // A resumed trainer must be able to take its next step.
        if (tr.step < 0 || tr.step > 3) abort();
        dit_trainer_step(&tr, &ds);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
