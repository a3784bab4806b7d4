// train_config.h: the JSON config of `lazydit train` (DiT training), read
// strictly by model/io/json_config.h: sections "model", "data" and "train",
// plus "out_dir", an optional "export" path and a free "comment". Unknown keys,
// wrong types and values outside their ranges are errors naming the file,
// section and key. See experiments/models/fmnist_dit.json.
#pragma once
#include <cjson/cJSON.h>

#include "model/dit_train.h"

typedef struct {
    DitConfig model;
    long init_seed;
    const char *data_dir, *split, *images, *labels;
    DitTrainHyper hp;
    long steps;
    int checkpoint_every, log_every;
    const char *out_dir, *export_path;
} TrainConfig;

// Fills tc from the parsed config (strings point into root); `path` names it in messages.
int train_config_parse(TrainConfig *tc, const cJSON *root, const char *path, LzError *err);
