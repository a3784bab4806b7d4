// lazydit train-classifier: trains the FID-proxy feature classifier
// (model/classifier.h) from a JSON config, e.g. experiments/models/classifier.json.
//
// Everything random is a pure function of the config's seed: the initial
// weights (stream 3), each epoch's order (dataset_epoch_order, stream 1) and
// each step's augmentation (stream 2, index = global step), so the same config
// reproduces the same run on the same BLAS and thread count.
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/classifier.h"
#include "model/classifier_train_config.h"
#include "model/io/dataset.h"
#include "model/io/json_config.h"
#include "model/optim.h"
#include "model/base/clock.h"

static const char *fmt_dur(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    return buf;
}

static double lr_at(const ClassifierTrainConfig *c, long step, long total) {
    if (step < c->warmup_steps) return c->lr * (double)(step + 1) / c->warmup_steps;
    if (!strcmp(c->lr_schedule, "constant")) return c->lr;
    double t = (double)(step - c->warmup_steps) / (double)(total - c->warmup_steps > 0 ? total - c->warmup_steps : 1);
    return c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t));
}

static void load_split(Dataset *d, const ClassifierTrainConfig *c, int train, LzError *err, const char *cfg_path) {
    const char *im = train ? c->train_images : c->test_images, *lb = train ? c->train_labels : c->test_labels;
    int rc = im ? dataset_load_files(d, im, lb, err) : dataset_load_dir(d, c->data_dir, train ? "train" : "test", err);
    if (rc) {
        fprintf(stderr, "lazydit train-classifier: %s\n", err->msg);
        exit(1);
    }
    if (!d->labels || d->c != 1 || d->h % 4 || d->w % 4) {
        fprintf(stderr, "lazydit train-classifier: %s: need labels and 1-channel images with sides divisible by 4 "
                        "(got %dx%dx%d) (config %s)\n", d->source, d->c, d->h, d->w, cfg_path);
        exit(1);
    }
}

int cmd_train_classifier(int argc, char **argv) {
    const char *config = NULL;
    int max_steps = 0;
    ArgSpec specs[] = {
        {"--config", ARG_STRING, &config, true, "JSON training config (see experiments/models/classifier.json)", false},
        {"--max-steps", ARG_INT, &max_steps, false, "stop after N steps, same schedule (smoke tests, checks; 0 = whole run)", false},
    };
    ArgParser p = {"train-classifier", "--config C.json [--max-steps N]",
                   "Trains the FID-proxy feature classifier (model/classifier.h) with AdamW on\n"
                   "Fashion-MNIST (or any MNIST-layout directory or .npy pair named in the config).\n"
                   "Prints a progress line on stderr every log_every steps, writes a CSV loss curve\n"
                   "(step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s; test_acc filled at epoch\n"
                   "ends) and saves the weights as safetensors after every epoch. Config keys:\n"
                   "data_dir, train_images/train_labels, test_images/test_labels, epochs, batch_size,\n"
                   "lr, lr_schedule (cosine|constant), warmup_steps, weight_decay, beta1, beta2, eps,\n"
                   "seed, shift_px, hflip, threads, log_every, out, loss_csv, c1, c2, c3, hidden, comment.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    LzError err = {{0}};
    ClassifierTrainConfig c;
    cJSON *json = NULL;
    if (classifier_train_config_load(config, &c, &json, &err)) {
        fprintf(stderr, "lazydit train-classifier: %s\n", err.msg);
        cJSON_Delete(json);
        return 1;
    }
    // Inputs and outputs are checked before any work (model/io/file_rules.h).
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "train-classifier", config);
    const char *ins[] = {c.train_images, c.train_labels, c.test_images, c.test_labels};
    for (int i = 0; i < 4; i++)
        if (ins[i]) cli_input(&rf, "train-classifier", ins[i]);
    cli_output(&rf, "train-classifier", c.out, 0);
    if (c.loss_csv) cli_output(&rf, "train-classifier", c.loss_csv, 0);
    openblas_set_num_threads(c.threads);

    Dataset train, test;
    load_split(&train, &c, 1, &err, config);
    load_split(&test, &c, 0, &err, config);
    if (test.h != train.h || test.w != train.w) {
        fprintf(stderr, "lazydit train-classifier: test images %dx%d differ from train %dx%d\n", test.h, test.w,
                train.h, train.w);
        return 1;
    }
    ClassifierConfig mc = {.in_c = 1, .h = train.h, .w = train.w, .c1 = c.c1, .c2 = c.c2, .c3 = c.c3,
                           .hidden = c.hidden, .num_classes = train.num_classes > 2 ? train.num_classes : 2};
    for (long i = 0; i < test.n; i++)
        if (test.labels[i] >= mc.num_classes) {
            fprintf(stderr, "lazydit train-classifier: %s: test label %d at %ld exceeds the %d training classes\n",
                    test.source, test.labels[i], i, mc.num_classes);
            return 1;
        }
    const int B = c.batch_size;
    Classifier *m = classifier_create(&mc, B, 1);
    classifier_init(m, dataset_stream_seed((uint64_t)c.seed, 3, 0));
    const long np = m->num_params;
    float *opt_m = lz_calloc((size_t)np, sizeof(float), "AdamW first moments");
    float *opt_v = lz_calloc((size_t)np, sizeof(float), "AdamW second moments");
    long *order = lz_malloc(sizeof(long) * (size_t)train.n, "epoch order");
    const long per = (long)train.h * train.w;
    float *xb = lz_malloc(sizeof(float) * (size_t)B * per, "batch images");
    float *scratch = lz_malloc(sizeof(float) * (size_t)per, "augmentation scratch");
    int *yb = lz_malloc(sizeof(int) * (size_t)B, "batch labels");
    const long steps_per_epoch = (train.n + B - 1) / B;
    // --max-steps truncates the run but not the schedule: the first N steps of
    // a truncated run are exactly the first N steps of the full one.
    const long schedule_steps = steps_per_epoch * c.epochs;
    long total = schedule_steps;
    if (max_steps > 0 && max_steps < total) total = max_steps;

    FILE *csv = NULL;
    if (c.loss_csv) {
        csv = fopen(c.loss_csv, "w");
        if (!csv) {
            fprintf(stderr, "lazydit train-classifier: %s: cannot create the loss CSV\n", c.loss_csv);
            return 1;
        }
        fprintf(csv, "step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s\n");
    }
    fprintf(stderr, "train-classifier: %ld train / %ld test images %dx%d, %d classes, %ld parameters, %ld steps of %d\n",
            train.n, test.n, train.h, train.w, mc.num_classes, np, total, B);
    // The whole config goes into the checkpoint's metadata, however long.
    char *cfg_text = cJSON_PrintUnformatted(json);
    if (!cfg_text) cli_fail_in("train-classifier", "%s: cannot print the config (out of memory)", config);

    AdamWConfig ac = {.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay};
    const double t0 = lz_now_seconds();
    double win_loss = 0, win_t0 = t0;
    long win_ok = 0, win_n = 0, step = 0;
    double test_acc = 0;
    int epochs_done = 0;
    for (int ep = 0; ep < c.epochs && step < total; ep++) {
        dataset_epoch_order(order, train.n, (uint64_t)c.seed, ep);
        for (long s = 0; s < steps_per_epoch && step < total; s++, step++) {
            int b = (int)(train.n - s * B < B ? train.n - s * B : B);
            dataset_gather(&train, order + s * B, b, xb, yb);
            if (c.shift_px || c.hflip)
                dataset_augment(xb, b, 1, train.h, train.w, c.shift_px, c.hflip,
                                dataset_stream_seed((uint64_t)c.seed, 2, (uint64_t)step), scratch);
            long ok;
            double loss = classifier_forward_train(m, xb, yb, b, &ok);
            if (!isfinite(loss)) {
                fprintf(stderr, "lazydit train-classifier: loss became %g at step %ld (lower lr?)\n", loss, step);
                return 1;
            }
            classifier_backward(m, yb);
            ac.lr = lr_at(&c, step, schedule_steps);
            adamw_update(m->params_memory, opt_m, opt_v, m->grads_memory, np, &ac, step + 1);
            win_loss += loss * b;
            win_ok += ok;
            win_n += b;
            if ((step + 1) % c.log_every == 0 || s == steps_per_epoch - 1 || step + 1 == total) {
                double t = lz_now_seconds(), rate = win_n / (t - win_t0 > 1e-9 ? t - win_t0 : 1e-9);
                double eta = (t - t0) / (step + 1) * (total - step - 1);
                char e1[32], e2[32];
                fprintf(stderr, "epoch %d/%d step %ld/%ld loss %.4f acc %.4f lr %.2e %.0f img/s elapsed %s ETA %s\n",
                        ep + 1, c.epochs, s + 1, steps_per_epoch, win_loss / win_n, (double)win_ok / win_n, ac.lr,
                        rate, fmt_dur(t - t0, e1, sizeof e1), fmt_dur(eta, e2, sizeof e2));
                if (csv) {
                    fprintf(csv, "%ld,%d,%.6e,%.6f,%.6f,,%.1f\n", step + 1, ep + 1, ac.lr, win_loss / win_n,
                            (double)win_ok / win_n, t - t0);
                    fflush(csv);
                }
                win_loss = 0;
                win_ok = win_n = 0;
                win_t0 = t;
            }
        }
        // Test accuracy is reported, never used to pick a checkpoint: the last
        // epoch's weights are the result whatever the curve does.
        test_acc = (double)classifier_count_correct(m, test.images, test.labels, test.n) / test.n;
        epochs_done = ep + 1;
        double t = lz_now_seconds();
        char e1[32];
        fprintf(stderr, "epoch %d/%d done: test accuracy %.4f (%ld images), elapsed %s\n", ep + 1, c.epochs, test_acc,
                test.n, fmt_dur(t - t0, e1, sizeof e1));
        if (csv) {
            fprintf(csv, "%ld,%d,%.6e,,,%.6f,%.1f\n", step, ep + 1, ac.lr, test_acc, t - t0);
            fflush(csv);
        }
        char acc_s[32], ep_s[32], time_s[32], seed_s[32];
        snprintf(acc_s, sizeof acc_s, "%.4f", test_acc);
        snprintf(ep_s, sizeof ep_s, "%d", epochs_done);
        snprintf(time_s, sizeof time_s, "%.0f", t - t0);
        snprintf(seed_s, sizeof seed_s, "%ld", c.seed);
        const char *keys[] = {"train_config", "train_dataset", "test_dataset", "epochs_done", "test_accuracy",
                              "train_seconds", "seed"};
        const char *vals[] = {cfg_text, train.source, test.source, ep_s, acc_s, time_s, seed_s};
        if (classifier_save(m, c.out, keys, vals, 7, &err)) {
            fprintf(stderr, "lazydit train-classifier: %s\n", err.msg);
            return 1;
        }
    }
    if (csv) fclose(csv);
    char e1[32];
    fprintf(stderr, "train-classifier: done in %s, test accuracy %.4f, weights %s\n", fmt_dur(lz_now_seconds() - t0, e1, sizeof e1),
            test_acc, c.out);
    printf("test_accuracy %.4f\n", test_acc);
    free(opt_m);
    free(opt_v);
    free(order);
    free(xb);
    free(scratch);
    free(yb);
    classifier_free(m);
    dataset_free(&train);
    dataset_free(&test);
    cJSON_Delete(json);
    free(cfg_text);
    run_files_free(&rf);
    return 0;
}
