// classifier_train_config.c: the `lazydit train-classifier` config (see classifier_train_config.h).
#include "model/classifier_train_config.h"

#include <string.h>

#include "model/io/dataset.h"
#include "model/io/json_config.h"

int classifier_train_config_load(const char *path, ClassifierTrainConfig *c, cJSON **json, LzError *err) {
    *c = (ClassifierTrainConfig){.data_dir = DATASET_FASHION_MNIST_DIR, .epochs = 10, .batch_size = 128, .lr = 1e-3,
                    .weight_decay = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .lr_schedule = "cosine",
                    .warmup_steps = 0, .seed = 0, .shift_px = 2, .hflip = false, .threads = 2, .log_every = 50,
                    .out = NULL, .loss_csv = NULL, .c1 = 32, .c2 = 64, .c3 = 64, .hidden = 128};
    *json = jc_load_file(path, err);
    if (!*json) return -1;
    const char *comment = NULL;
    const JcField fields[] = {
        {"comment", JC_STRING, &comment, false, 0, -1},
        {"data_dir", JC_STRING, &c->data_dir, false, 0, -1},
        {"train_images", JC_STRING, &c->train_images, false, 0, -1},
        {"train_labels", JC_STRING, &c->train_labels, false, 0, -1},
        {"test_images", JC_STRING, &c->test_images, false, 0, -1},
        {"test_labels", JC_STRING, &c->test_labels, false, 0, -1},
        {"epochs", JC_INT, &c->epochs, true, 1, 10000},
        {"batch_size", JC_INT, &c->batch_size, true, 1, 4096},
        {"lr", JC_DOUBLE, &c->lr, true, 1e-12, 0.999},
        {"lr_schedule", JC_STRING, &c->lr_schedule, false, 0, -1},
        {"warmup_steps", JC_INT, &c->warmup_steps, false, 0, 1e9},
        {"weight_decay", JC_DOUBLE, &c->weight_decay, false, 0, 100},
        {"beta1", JC_DOUBLE, &c->beta1, false, 0, 0.999999},
        {"beta2", JC_DOUBLE, &c->beta2, false, 0, 0.999999},
        {"eps", JC_DOUBLE, &c->eps, false, 1e-30, 1},
        {"seed", JC_LONG, &c->seed, true, 0, 9.0e15},
        {"shift_px", JC_INT, &c->shift_px, false, 0, 8},
        {"hflip", JC_BOOL, &c->hflip, false, 0, -1},
        {"threads", JC_INT, &c->threads, false, 1, 256},
        {"log_every", JC_INT, &c->log_every, false, 1, 1e9},
        {"c1", JC_INT, &c->c1, false, 1, 4096},
        {"c2", JC_INT, &c->c2, false, 1, 4096},
        {"c3", JC_INT, &c->c3, false, 1, 4096},
        {"hidden", JC_INT, &c->hidden, false, 1, 65536},
        {"out", JC_STRING, &c->out, true, 0, -1},
        {"loss_csv", JC_STRING, &c->loss_csv, false, 0, -1},
    };
    if (jc_read_object(*json, path, fields, sizeof fields / sizeof fields[0], err)) return -1;
    if (strcmp(c->lr_schedule, "cosine") && strcmp(c->lr_schedule, "constant"))
        return lz_fail(err, "%s: lr_schedule \"%s\" must be \"cosine\" or \"constant\"", path, c->lr_schedule);
    if (c->weight_decay * c->lr >= 1) return lz_fail(err, "%s: lr * weight_decay must be < 1", path);
    if (!c->train_images != !c->train_labels)
        return lz_fail(err, "%s: train_images and train_labels go together", path);
    if (!c->test_images != !c->test_labels) return lz_fail(err, "%s: test_images and test_labels go together", path);
    return 0;
}
