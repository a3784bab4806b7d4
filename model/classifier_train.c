// classifier_train.c: the classifier training run of classifier_train.h.
#include "model/classifier_train.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classifier.h"
#include "model/io/dataset.h"
#include "model/io/file_rules.h"
#include "model/io/json_config.h"
#include "model/train_log.h"

int classifier_train_config_load(ClassifierTrainConfig *c, const char *path, LzError *err) {
    *c = (ClassifierTrainConfig){.data_dir = DATASET_FASHION_MNIST_DIR, .epochs = 10, .batch_size = 128, .lr = 1e-3,
                                 .weight_decay = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                 .lr_decay = LR_DECAY_COSINE, .warmup_steps = 0, .seed = 0, .shift_px = 2,
                                 .hflip = false, .threads = 2, .log_every = 50, .out = NULL, .loss_csv = NULL,
                                 .c1 = 32, .c2 = 64, .c3 = 64, .hidden = 128, .progress = 1};
    c->json_ = jc_load_file(path, err);
    if (!c->json_) return -1;
    const char *comment = NULL, *schedule = "cosine";
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
        {"lr_schedule", JC_STRING, &schedule, false, 0, -1},
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
    if (jc_read_object(c->json_, path, fields, sizeof fields / sizeof fields[0], err)) return -1;
    if (!strcmp(schedule, "cosine")) c->lr_decay = LR_DECAY_COSINE;
    else if (!strcmp(schedule, "constant")) c->lr_decay = LR_DECAY_NONE;
    else return lz_fail(err, "%s: lr_schedule \"%s\" must be \"cosine\" or \"constant\"", path, schedule);
    if (c->weight_decay * c->lr >= 1) return lz_fail(err, "%s: lr * weight_decay must be < 1", path);
    if (!c->train_images != !c->train_labels)
        return lz_fail(err, "%s: train_images and train_labels go together", path);
    if (!c->test_images != !c->test_labels) return lz_fail(err, "%s: test_images and test_labels go together", path);
    return 0;
}

void classifier_train_config_free(ClassifierTrainConfig *c) {
    cJSON_Delete(c->json_);
    c->json_ = NULL;
}

static int load_split(Dataset *d, const ClassifierTrainConfig *c, int train, LzError *err) {
    const char *im = train ? c->train_images : c->test_images, *lb = train ? c->train_labels : c->test_labels;
    int rc = im ? dataset_load_files(d, im, lb, err) : dataset_load_dir(d, c->data_dir, train ? "train" : "test", err);
    if (rc) return -1;
    if (!d->labels || d->c != 1 || d->h % 4 || d->w % 4) {
        lz_fail(err, "%s: need labels and 1-channel images with sides divisible by 4 (got %dx%dx%d)", d->source, d->c,
                d->h, d->w);
        dataset_free(d);
        return -1;
    }
    return 0;
}

// Everything a run allocates, released in one place on success and error alike.
typedef struct {
    Dataset train, test;
    Classifier *m;
    float *moments;  // (2, P) AdamW first then second moments
    long *order;     // (N) epoch order
    float *xb;       // (B, 1, H, W) batch
    float *scratch;  // (H, W) augmentation scratch
    int *yb;         // (B) batch labels
    char *config_text;
    TrainLog log;
} Run;

static void run_free(Run *r) {
    LzError ignored;
    train_log_close(&r->log, &ignored);
    free(r->moments), free(r->order), free(r->xb), free(r->scratch), free(r->yb);
    cJSON_free(r->config_text);
    if (r->m) classifier_free(r->m);
    dataset_free(&r->train);
    dataset_free(&r->test);
}

int classifier_train_run(ClassifierTrainResult *res, const ClassifierTrainConfig *c, LzError *err) {
    memset(res, 0, sizeof *res);
    Run r;
    memset(&r, 0, sizeof r);
    // Inputs and outputs are checked before any work (model/io/file_rules.h):
    // the weights and the loss curve may be none of the data files, nor each
    // other, nor a device or a link.
    RunFiles files;
    run_files_init(&files);
    const char *ins[] = {c->train_images, c->train_labels, c->test_images, c->test_labels};
    int frc = 0;
    for (int i = 0; i < 4 && !frc; i++)
        if (ins[i]) frc = run_files_input(&files, ins[i], err);
    if (!frc) frc = run_files_output(&files, c->out, 0, err);
    if (!frc && c->loss_csv) frc = run_files_output(&files, c->loss_csv, 0, err);
    run_files_free(&files);
    if (frc) return -1;
    int rc = -1;
    openblas_set_num_threads(c->threads);
    if (load_split(&r.train, c, 1, err) || load_split(&r.test, c, 0, err)) goto done;
    if (r.test.h != r.train.h || r.test.w != r.train.w) {
        lz_fail(err, "%s: test images %dx%d differ from the training images %dx%d", r.test.source, r.test.h, r.test.w,
                r.train.h, r.train.w);
        goto done;
    }
    ClassifierConfig mc = {.in_c = 1, .h = r.train.h, .w = r.train.w, .c1 = c->c1, .c2 = c->c2, .c3 = c->c3,
                           .hidden = c->hidden, .num_classes = r.train.num_classes > 2 ? r.train.num_classes : 2};
    for (long i = 0; i < r.test.n; i++)
        if (r.test.labels[i] >= mc.num_classes) {
            lz_fail(err, "%s: test label %d at %ld exceeds the %d training classes", r.test.source, r.test.labels[i], i,
                    mc.num_classes);
            goto done;
        }
    const int B = c->batch_size;
    r.m = classifier_create(&mc, B, 1);
    classifier_init(r.m, dataset_stream_seed((uint64_t)c->seed, 3, 0));
    const long np = r.m->num_params, per = (long)r.train.h * r.train.w;
    r.moments = lz_calloc(2 * (size_t)np, sizeof(float), "AdamW moments");
    float *opt_m = r.moments, *opt_v = r.moments + np;
    r.order = lz_malloc(sizeof(long) * (size_t)r.train.n, "epoch order");
    r.xb = lz_malloc(sizeof(float) * (size_t)B * per, "batch images");
    r.scratch = lz_malloc(sizeof(float) * (size_t)per, "augmentation scratch");
    r.yb = lz_malloc(sizeof(int) * (size_t)B, "batch labels");
    const long steps_per_epoch = (r.train.n + B - 1) / B;
    // max_steps truncates the run but not the schedule: the first N steps of a
    // truncated run are exactly the first N steps of the full one.
    const long schedule_steps = steps_per_epoch * c->epochs;
    const long total = c->max_steps > 0 && c->max_steps < schedule_steps ? c->max_steps : schedule_steps;
    const LrSchedule lrs = {c->lr, c->warmup_steps, c->lr_decay, schedule_steps};
    if (train_log_open(&r.log, c->loss_csv, "step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s", 0, total,
                       "img/s", c->progress, err))
        goto done;
    train_log_note(&r.log, "train-classifier: %ld train / %ld test images %dx%d, %d classes, %ld parameters, %ld steps of %d",
                   r.train.n, r.test.n, r.train.h, r.train.w, mc.num_classes, np, total, B);
    r.config_text = c->json_ ? cJSON_PrintUnformatted(c->json_) : NULL;

    AdamWConfig ac = {.lr = c->lr, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps, .weight_decay = c->weight_decay};
    long step = 0;
    double test_acc = 0;
    int epochs_done = 0;
    for (int ep = 0; ep < c->epochs && step < total; ep++) {
        dataset_epoch_order(r.order, r.train.n, (uint64_t)c->seed, ep);
        for (long s = 0; s < steps_per_epoch && step < total; s++, step++) {
            int b = (int)(r.train.n - s * B < B ? r.train.n - s * B : B);
            dataset_gather(&r.train, r.order + s * B, b, r.xb, r.yb);
            if (c->shift_px || c->hflip)
                dataset_augment(r.xb, b, 1, r.train.h, r.train.w, c->shift_px, c->hflip,
                                dataset_stream_seed((uint64_t)c->seed, 2, (uint64_t)step), r.scratch);
            long ok;
            double loss = classifier_forward_train(r.m, r.xb, r.yb, b, &ok);
            if (!isfinite(loss)) {
                lz_fail(err, "the loss became %g at step %ld (lower the lr?)", loss, step);
                goto done;
            }
            classifier_backward(r.m, r.yb);
            ac.lr = lr_schedule_at(&lrs, step);
            adamw_update(r.m->params_memory, opt_m, opt_v, r.m->grads_memory, np, &ac, step + 1);
            double v[3] = {loss * b, (double)ok, (double)b};  // image-weighted window means
            train_log_add(&r.log, v, 3, b);
            if ((step + 1) % c->log_every == 0 || s == steps_per_epoch - 1 || step + 1 == total) {
                TrainWindow w = train_log_window(&r.log, step + 1);
                double wloss = w.sum[0] / w.sum[2], wacc = w.sum[1] / w.sum[2];
                train_log_progress(&r.log, "epoch %d/%d step %ld/%ld loss %.4f acc %.4f lr %.2e", ep + 1, c->epochs,
                                   s + 1, steps_per_epoch, wloss, wacc, ac.lr);
                train_log_csv(&r.log, "%ld,%d,%.6e,%.6f,%.6f,,%.1f", step + 1, ep + 1, ac.lr, wloss, wacc, w.elapsed_s);
            }
        }
        // Test accuracy is reported, never used to pick a checkpoint: the last
        // epoch's weights are the result whatever the curve does.
        test_acc = (double)classifier_count_correct(r.m, r.test.images, r.test.labels, r.test.n) / r.test.n;
        epochs_done = ep + 1;
        double t = train_log_elapsed(&r.log);
        char e1[32];
        train_log_note(&r.log, "epoch %d/%d done: test accuracy %.4f (%ld images), elapsed %s", ep + 1, c->epochs,
                       test_acc, r.test.n, train_log_duration(t, e1, sizeof e1));
        train_log_csv(&r.log, "%ld,%d,%.6e,,,%.6f,%.1f", step, ep + 1, ac.lr, test_acc, t);
        char acc_s[32], ep_s[32], time_s[32], seed_s[32];
        snprintf(acc_s, sizeof acc_s, "%.4f", test_acc);
        snprintf(ep_s, sizeof ep_s, "%d", epochs_done);
        snprintf(time_s, sizeof time_s, "%.0f", t);
        snprintf(seed_s, sizeof seed_s, "%ld", c->seed);
        const char *keys[] = {"train_config", "train_dataset", "test_dataset", "epochs_done", "test_accuracy",
                              "train_seconds", "seed"};
        const char *vals[] = {r.config_text ? r.config_text : "", r.train.source, r.test.source, ep_s, acc_s, time_s,
                              seed_s};
        if (classifier_save(r.m, c->out, keys, vals, 7, err)) goto done;
    }
    if (train_log_close(&r.log, err)) goto done;
    res->steps = step;
    res->epochs_done = epochs_done;
    res->test_accuracy = test_acc;
    res->train_n = r.train.n;
    res->test_n = r.test.n;
    res->seconds = train_log_elapsed(&r.log);
    char e1[32];
    train_log_note(&r.log, "train-classifier: done in %s, test accuracy %.4f, weights %s",
                   train_log_duration(res->seconds, e1, sizeof e1), test_acc, c->out);
    rc = 0;
done:
    run_free(&r);
    return rc;
}
