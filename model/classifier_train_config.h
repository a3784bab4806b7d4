// classifier_train_config.h: the JSON config of `lazydit train-classifier`
// (e.g. experiments/models/classifier.json), read strictly by
// model/io/json_config.h: unknown keys, wrong types and out-of-range values are
// errors naming the file and the key.
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "model/base/check.h"

typedef struct {
    const char *data_dir;  // MNIST-layout directory (train + t10k files)
    const char *train_images, *train_labels, *test_images, *test_labels;  // explicit files override data_dir
    int epochs, batch_size;
    double lr, weight_decay, beta1, beta2, eps;
    const char *lr_schedule;  // "cosine" (to 0 over the run) or "constant"
    int warmup_steps;         // linear warm-up from 0 before the schedule
    long seed;
    int shift_px;  // random translation augmentation, 0 = off
    bool hflip;    // random horizontal flips
    int threads;   // OpenBLAS threads
    int log_every; // steps between progress lines / CSV rows
    const char *out, *loss_csv;
    int c1, c2, c3, hidden;
} ClassifierTrainConfig;

// Loads and validates `path`; on success *json owns the strings the config
// points to (free it with cJSON_Delete, also after a failure).
int classifier_train_config_load(const char *path, ClassifierTrainConfig *c, cJSON **json, LzError *err);
