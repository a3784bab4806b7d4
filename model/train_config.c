// train_config.c: the `lazydit train` config (see train_config.h).
#include "model/train_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model/io/json_config.h"

int train_config_parse(TrainConfig *tc, const cJSON *root, const char *path, LzError *err) {
    memset(tc, 0, sizeof *tc);
    const cJSON *model = NULL, *data = NULL, *train = NULL;
    JcField top[] = {
        {"model", JC_OBJECT, &model, true, 0, -1},
        {"data", JC_OBJECT, &data, true, 0, -1},
        {"train", JC_OBJECT, &train, true, 0, -1},
        {"out_dir", JC_STRING, &tc->out_dir, true, 0, -1},
        {"export", JC_STRING, &tc->export_path, false, 0, -1},
        {"comment", JC_STRING, &(const char *){NULL}, false, 0, -1},
    };
    char where[600];
    snprintf(where, sizeof where, "%s", path);
    if (jc_read_object(root, where, top, 6, err)) return -1;

    DitConfig *c = &tc->model;
    bool learn_sigma = true;
    c->freq_dim = 256;
    c->mlp_hidden = 0;
    JcField mf[] = {
        {"input_size", JC_INT, &c->input_size, true, 1, 1024},
        {"patch", JC_INT, &c->patch, true, 1, 64},
        {"in_channels", JC_INT, &c->in_channels, true, 1, 64},
        {"hidden", JC_INT, &c->hidden, true, 4, 8192},
        {"depth", JC_INT, &c->depth, true, 1, 256},
        {"heads", JC_INT, &c->heads, true, 1, 256},
        {"num_classes", JC_INT, &c->num_classes, true, 1, 100000},
        {"learn_sigma", JC_BOOL, &learn_sigma, true, 0, -1},
        {"init_seed", JC_LONG, &tc->init_seed, true, 0, 9e15},
    };
    snprintf(where, sizeof where, "%s: model", path);
    if (jc_read_object(model, where, mf, 9, err)) return -1;
    c->learn_sigma = learn_sigma;
    c->mlp_hidden = 4 * c->hidden;
    if (dit_config_validate(c, err)) {
        char msg[LZ_ERR_LEN];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return lz_fail(err, "%s: model: %s", path, msg);
    }

    tc->split = "train";
    JcField df[] = {
        {"dir", JC_STRING, &tc->data_dir, false, 0, -1},
        {"split", JC_STRING, &tc->split, false, 0, -1},
        {"images", JC_STRING, &tc->images, false, 0, -1},
        {"labels", JC_STRING, &tc->labels, false, 0, -1},
    };
    snprintf(where, sizeof where, "%s: data", path);
    if (jc_read_object(data, where, df, 4, err)) return -1;
    if (tc->images && tc->data_dir) return lz_fail(err, "%s: data: give either \"dir\" or \"images\", not both", path);

    DitTrainHyper *hp = &tc->hp;
    *hp = (DitTrainHyper){.batch = 256, .lr = 1e-4, .ema_decay = 0.9999, .class_dropout = 0.1};
    long seed = 0;
    bool ema_warmup = false, hflip = false;
    tc->checkpoint_every = 500;
    tc->log_every = 50;
    JcField tf[] = {
        {"steps", JC_LONG, &tc->steps, true, 1, 1e9},
        {"batch", JC_INT, &hp->batch, false, 1, 65536},
        {"lr", JC_DOUBLE, &hp->lr, false, 0, 1},
        {"weight_decay", JC_DOUBLE, &hp->weight_decay, false, 0, 1},
        {"lr_warmup", JC_INT, &hp->lr_warmup, false, 0, 1e9},
        {"grad_clip", JC_DOUBLE, &hp->grad_clip, false, 0, 1e9},
        {"ema_decay", JC_DOUBLE, &hp->ema_decay, false, 0, 1},
        {"ema_warmup", JC_BOOL, &ema_warmup, false, 0, -1},
        {"class_dropout", JC_DOUBLE, &hp->class_dropout, false, 0, 1},
        {"seed", JC_LONG, &seed, true, 0, 9e15},
        {"max_shift", JC_INT, &hp->max_shift, false, 0, 16},
        {"hflip", JC_BOOL, &hflip, false, 0, -1},
        {"checkpoint_every", JC_INT, &tc->checkpoint_every, false, 1, 1e9},
        {"log_every", JC_INT, &tc->log_every, false, 1, 1e9},
    };
    snprintf(where, sizeof where, "%s: train", path);
    if (jc_read_object(train, where, tf, 14, err)) return -1;
    hp->seed = (uint64_t)seed;
    hp->ema_warmup = ema_warmup;
    hp->hflip = hflip;
    return 0;
}
