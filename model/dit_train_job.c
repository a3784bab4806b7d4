// dit_train_job.c: the DiT training run of dit_train_job.h.
#include "model/dit_train_job.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"
#include "model/io/json_config.h"
#include "model/train_log.h"

static int parse_config(DitTrainConfig *tc, const cJSON *root, const char *path, LzError *err) {
    const cJSON *model = NULL, *data = NULL, *train = NULL;
    const char *comment = NULL;
    JcField top[] = {
        {"model", JC_OBJECT, &model, true, 0, -1},
        {"data", JC_OBJECT, &data, true, 0, -1},
        {"train", JC_OBJECT, &train, true, 0, -1},
        {"out_dir", JC_STRING, &tc->out_dir, true, 0, -1},
        {"export", JC_STRING, &tc->export_path, false, 0, -1},
        {"comment", JC_STRING, &comment, false, 0, -1},
    };
    char where[600];
    snprintf(where, sizeof where, "%s", path);
    if (jc_read_object(root, where, top, sizeof top / sizeof top[0], err)) return -1;

    DitConfig *c = &tc->model;
    bool learn_sigma = true;
    c->freq_dim = 256;
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
    if (jc_read_object(model, where, mf, sizeof mf / sizeof mf[0], err)) return -1;
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
    if (jc_read_object(data, where, df, sizeof df / sizeof df[0], err)) return -1;
    if (tc->images && tc->data_dir) return lz_fail(err, "%s: data: give either \"dir\" or \"images\", not both", path);

    DitTrainHyper *hp = &tc->hp;
    *hp = (DitTrainHyper){.batch = 256, .lr = 1e-4, .ema_decay = 0.9999, .class_dropout = 0.1};
    long seed = 0;
    bool ema_warmup = false, hflip = false;
    const char *schedule = DIFFUSION_DEFAULT_SCHEDULE;
    int diffusion_steps = DIFFUSION_DEFAULT_STEPS;
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
        {"diffusion_schedule", JC_STRING, &schedule, false, 0, -1},
        {"diffusion_steps", JC_INT, &diffusion_steps, false, 1, DIFFUSION_MAX_STEPS},
    };
    snprintf(where, sizeof where, "%s: train", path);
    if (jc_read_object(train, where, tf, sizeof tf / sizeof tf[0], err)) return -1;
    hp->seed = (uint64_t)seed;
    hp->ema_warmup = ema_warmup;
    hp->hflip = hflip;
    if (strlen(schedule) >= sizeof hp->schedule.name)
        return lz_fail(err, "%s: train: unknown diffusion_schedule \"%s\" (expected linear or cosine)", path, schedule);
    snprintf(hp->schedule.name, sizeof hp->schedule.name, "%s", schedule);
    hp->schedule.steps = diffusion_steps;
    return diffusion_schedule_resolve(&hp->schedule, where, err);
}

int dit_train_config_load(DitTrainConfig *c, const char *path, LzError *err) {
    memset(c, 0, sizeof *c);
    // the text goes into checkpoint metadata for provenance
    if (!(c->config_text = jc_read_text(path, err))) return -1;
    if (!(c->json_ = jc_load_file(path, err))) return -1;
    return parse_config(c, c->json_, path, err);
}

void dit_train_config_free(DitTrainConfig *c) {
    cJSON_Delete(c->json_);
    free(c->config_text);
    memset(c, 0, sizeof *c);
}

// "<dir>/<name>" (malloc'd).
static char *join_path(const char *dir, const char *name) {
    char *p = lz_malloc(strlen(dir) + strlen(name) + 2, "path");
    sprintf(p, "%s/%s", dir, name);
    return p;
}

int dit_train_run(DitTrainRunResult *r, const DitTrainConfig *tc, const DitTrainRunOptions *o, LzError *err) {
    memset(r, 0, sizeof *r);
    // Every file of the run is checked before any work (model/io/file_rules.h):
    // the data files are inputs; the checkpoint, EMA weights and loss curve in
    // out_dir (made if missing) and the export are outputs, none of which may
    // be an input or another output, a device or a link. Paths are allocated to
    // their length (a long out_dir is never cut).
    RunFiles files;
    run_files_init(&files);
    char *ckpt = join_path(tc->out_dir, "checkpoint.safetensors"), *csv = join_path(tc->out_dir, "loss.csv");
    char *ema_path = join_path(tc->out_dir, "ema.safetensors");
    int frc = (tc->images && run_files_input(&files, tc->images, err)) ||
              (tc->labels && run_files_input(&files, tc->labels, err)) ||
              run_files_output(&files, ckpt, RF_MKDIR, err) || run_files_output(&files, ema_path, 0, err) ||
              run_files_output(&files, csv, 0, err) ||
              (tc->export_path && run_files_output(&files, tc->export_path, 0, err));
    run_files_free(&files);
    if (frc) {
        free(ckpt), free(csv), free(ema_path);
        return -1;
    }
    Dataset ds;
    int rc = tc->images ? dataset_load_files(&ds, tc->images, tc->labels, err)
                        : dataset_load_dir(&ds, tc->data_dir, tc->split, err);
    if (rc) {
        free(ckpt), free(csv), free(ema_path);
        return -1;
    }
    rc = -1;
    DitTrainer tr;
    bool have_trainer = false;
    TrainLog log;
    memset(&log, 0, sizeof log);
    const DitConfig *c = &tc->model;
    if (!ds.labels) {
        lz_fail(err, "%s: training a class-conditional DiT needs labels", ds.source);
        goto done;
    }
    if (ds.num_classes > c->num_classes) {
        lz_fail(err, "%s: labels go up to %d but the model has %d classes", ds.source, ds.num_classes - 1,
                c->num_classes);
        goto done;
    }
    if (ds.c != c->in_channels || ds.h != c->input_size || ds.w != c->input_size) {
        lz_fail(err, "%s: images are %dx%dx%d but the model takes %dx%dx%d", ds.source, ds.c, ds.h, ds.w,
                c->in_channels, c->input_size, c->input_size);
        goto done;
    }
    if (ds.n < tc->hp.batch) {
        lz_fail(err, "%s: %ld images, fewer than one batch of %d", ds.source, ds.n, tc->hp.batch);
        goto done;
    }

    float *params = lz_malloc(sizeof(float) * dit_param_count(c), "DiT parameters");
    dit_init_official(params, c, (uint64_t)tc->init_seed);
    dit_trainer_init(&tr, c, params, &tc->hp, ds.n);
    have_trainer = true;
    if (!o->fresh && access(ckpt, F_OK) == 0) {
        if (dit_trainer_load(&tr, ckpt, tc->steps, err)) goto done;
        r->resumed_from = tr.step;
    }
    if (train_log_open(&log, csv, "step,loss,mse,vb,grad_norm,lr,samples_per_s,elapsed_s", tr.step, tc->steps,
                       "samples/s", o->progress, err))
        goto done;
    if (r->resumed_from) train_log_note(&log, "resuming %s at step %ld of %ld", ckpt, tr.step, tc->steps);
    char name[32];
    train_log_note(&log, "training %s (%ld params) on %s: %ld images, batch %d, %ld steps, diffusion %s %d; openblas %s, %d threads",
                   dit_config_name(c, name, sizeof name), dit_param_count(c), ds.source, ds.n, tc->hp.batch,
                   tc->steps, tr.hp.schedule.name, tr.hp.schedule.steps, openblas_get_corename(),
                   openblas_get_num_threads());

    long run_steps = 0;
    while (tr.step < tc->steps) {
        dit_trainer_step(&tr, &ds);
        run_steps++;
        if (!isfinite(tr.loss)) {
            lz_fail(err, "training diverged at step %ld: loss %g (lower the lr or set grad_clip)", tr.step, tr.loss);
            goto done;
        }
        double v[3] = {tr.loss, tr.mse, tr.vbterm};
        train_log_add(&log, v, 3, tc->hp.batch);
        if (tr.step % tc->log_every == 0 || tr.step == tc->steps) {
            TrainWindow w = train_log_window(&log, tr.step);
            train_log_csv(&log, "%ld,%.6f,%.6f,%.6f,%.4f,%.3g,%.2f,%.1f", tr.step, w.mean[0], w.mean[1], w.mean[2],
                          tr.grad_norm, tr.lr_now, w.items_per_s, w.elapsed_s);
            train_log_progress(&log, "step %ld/%ld loss %.4f (mse %.4f vb %.4f)", tr.step, tc->steps, w.mean[0],
                               w.mean[1], w.mean[2]);
        }
        bool stop = o->stop_after > 0 && run_steps >= o->stop_after;
        if (tr.step % tc->checkpoint_every == 0 || tr.step == tc->steps || stop) {
            // The checkpoint is the commit record: write the EMA file first, so
            // that a kill between the two leaves an older checkpoint, whose
            // resume rewrites both. The other order, killed at the last step,
            // left a finished checkpoint beside the previous step's EMA file.
            if (dit_save_with_schedule(ema_path, c, tr.ema, &tr.hp.schedule, err) ||
                dit_trainer_save(&tr, ckpt, tc->config_text, err))
                goto done;
        }
        if (stop) break;
    }
    if (train_log_close(&log, err)) goto done;
    r->step = tr.step;
    r->finished = tr.step == tc->steps;
    if (r->finished && tc->export_path) {
        if (dit_save_with_schedule(tc->export_path, c, tr.ema, &tr.hp.schedule, err)) goto done;
        train_log_note(&log, "exported EMA weights to %s", tc->export_path);
    }
    r->seconds = train_log_elapsed(&log);
    train_log_note(&log, "done: step %ld, %.1f s in this run", tr.step, r->seconds);
    rc = 0;
done:
    {
        LzError ignored;
        train_log_close(&log, &ignored);
    }
    if (have_trainer) dit_trainer_free(&tr);
    dataset_free(&ds);
    free(ckpt), free(csv), free(ema_path);
    return rc;
}
