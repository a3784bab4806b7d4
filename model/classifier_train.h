// classifier_train.h: training the FID-proxy feature classifier
// (model/classifier.h) from a JSON config (experiments/models/classifier.json):
// AdamW with a warm-up and cosine (or constant) learning rate, random shifts
// and flips, test accuracy and a checkpoint after every epoch, a loss CSV and
// progress lines (model/train_log.h). `lazydit train-classifier` parses its
// options and calls classifier_train_run; so can any other driver.
//
// Determinism: everything random is a pure function of the config's seed: the
// initial weights (dataset_stream_seed(seed, 3, 0)), each epoch's order
// (dataset_epoch_order, stream 1) and each step's augmentation (stream 2,
// index = global step). The same config reproduces the same run on the same
// BLAS and thread count.
//
// Loss CSV columns: step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s; a
// row every log_every steps and at an epoch's last step (window means of the
// training loss and accuracy), plus a row at each epoch's end with test_acc.
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "model/base/check.h"
#include "model/optim.h"

typedef struct {
    const char *data_dir;  // MNIST-layout directory (train + t10k files)
    const char *train_images, *train_labels, *test_images, *test_labels;  // explicit files override data_dir
    int epochs, batch_size;
    double lr, weight_decay, beta1, beta2, eps;
    LrDecay lr_decay;      // "lr_schedule": "cosine" (to 0 over the run) or "constant"
    int warmup_steps;      // linear warm-up from 0 before the schedule
    long seed;
    int shift_px;          // random translation augmentation, 0 = off
    bool hflip;            // random horizontal flips
    int threads;           // OpenBLAS threads
    int log_every;         // steps between progress lines / CSV rows
    const char *out, *loss_csv;
    int c1, c2, c3, hidden;
    // Not from the JSON:
    long max_steps;        // stop after this many steps, same schedule (0 = the whole run)
    int progress;          // progress lines on stderr
    cJSON *json_;          // the parsed file: owns the strings above
} ClassifierTrainConfig;

// Reads and validates a config file: unknown keys, wrong types and values out
// of range are errors naming the file and the key. Free with
// classifier_train_config_free (also after an error).
int classifier_train_config_load(ClassifierTrainConfig *c, const char *path, LzError *err);
void classifier_train_config_free(ClassifierTrainConfig *c);

typedef struct {
    long steps;            // optimizer steps run
    int epochs_done;       // epochs started (the last may be cut by max_steps)
    double test_accuracy;  // after the last epoch
    long train_n, test_n;
    double seconds;
} ClassifierTrainResult;

// Runs the whole training and writes c->out (weights after every epoch, with
// the config and the test accuracy as metadata) and c->loss_csv. Errors (data,
// files, a diverging loss): -1 with err set.
int classifier_train_run(ClassifierTrainResult *r, const ClassifierTrainConfig *c, LzError *err);
