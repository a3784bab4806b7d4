// lazydit train: trains a DiT from a JSON config, with progress, periodic
// checkpoints, exact resume and a CSV loss curve.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/io/atomic_file.h"
#include "model/dit_train.h"
#include "model/io/json_config.h"
#include "model/base/clock.h"

typedef struct {
    DitConfig model;
    long init_seed;
    const char *data_dir, *split, *images, *labels;
    DitTrainHyper hp;
    long steps;
    int checkpoint_every, log_every;
    const char *out_dir, *export_path;
} TrainConfig;

static int parse_config(TrainConfig *tc, const cJSON *root, const char *path, LzError *err) {
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

extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);

int cmd_train(int argc, char **argv) {
    const char *config_path = NULL;
    bool fresh = false;
    long stop_after = 0;
    ArgSpec specs[] = {
        {"--config", ARG_STRING, &config_path, true, "training config (JSON), e.g. experiments/models/fmnist_dit.json",
         false},
        {"--fresh", ARG_FLAG, &fresh, false, "ignore an existing checkpoint in out_dir and start from step 0", false},
        {"--stop-after", ARG_LONG, &stop_after, false,
         "stop (with a checkpoint) after this many steps in this invocation; resume later", false},
    };
    ArgParser p = {"train", "--config CONFIG.json [--fresh] [--stop-after N]",
                   "Trains a class-conditional DiT with the official objective (epsilon MSE + VB term\n"
                   "for learn_sigma), AdamW and an EMA of the weights. Resumes from\n"
                   "<out_dir>/checkpoint.safetensors when it exists; a resumed run ends bit-identical\n"
                   "to an uninterrupted one. Writes <out_dir>/loss.csv, <out_dir>/ema.safetensors and,\n"
                   "if the config names one, the exported EMA weights.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    LzError err;
    cJSON *root = jc_load_file(config_path, &err);
    if (!root) {
        cli_fail("%s", err.msg);
    }
    TrainConfig tc;
    if (parse_config(&tc, root, config_path, &err)) {
        cli_fail("%s", err.msg);
    }
    // The config text goes into checkpoint metadata for provenance.
    char *config_text = jc_read_text(config_path, &err);
    if (!config_text) cli_fail("%s", err.msg);

    Dataset ds;
    int rc = tc.images ? dataset_load_files(&ds, tc.images, tc.labels, &err)
                       : dataset_load_dir(&ds, tc.data_dir, tc.split, &err);
    if (rc) {
        cli_fail("%s", err.msg);
    }
    if (!ds.labels) {
        cli_fail("%s: training a class-conditional DiT needs labels", ds.source);
    }
    if (ds.num_classes > tc.model.num_classes) {
        cli_fail("%s: labels go up to %d but the model has %d classes", ds.source, ds.num_classes - 1,
                tc.model.num_classes);
    }

    float *params = lz_malloc(sizeof(float) * dit_param_count(&tc.model), "DiT parameters");
    dit_init_official(params, &tc.model, (uint64_t)tc.init_seed);
    DitTrainer tr;
    dit_trainer_init(&tr, &tc.model, params, &tc.hp, ds.n);

    if (lz_mkdir_p(tc.out_dir, &err)) {
        cli_fail("%s", err.msg);
    }
    char ckpt[1024], csv[1024], ema_path[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", tc.out_dir);
    snprintf(csv, sizeof csv, "%s/loss.csv", tc.out_dir);
    snprintf(ema_path, sizeof ema_path, "%s/ema.safetensors", tc.out_dir);
    if (!fresh && access(ckpt, F_OK) == 0) {
        if (dit_trainer_load(&tr, ckpt, &err)) {
            cli_fail("%s", err.msg);
        }
        fprintf(stderr, "resuming %s at step %ld of %ld\n", ckpt, tr.step, tc.steps);
    }
    FILE *loss_csv = cli_open_csv_resume(csv, "step,loss,mse,vb,grad_norm,lr,samples_per_s,elapsed_s", tr.step);
    char name[32];
    fprintf(stderr, "training %s (%ld params) on %s: %ld images, batch %d, %ld steps; openblas %s, %d threads\n",
            dit_config_name(&tc.model, name, sizeof name), dit_param_count(&tc.model), ds.source, ds.n,
            tc.hp.batch, tc.steps, openblas_get_corename(), openblas_get_num_threads());

    bool tty = isatty(2);
    double t_start = lz_now_seconds(), t_window = t_start;
    long window_start = tr.step, run_steps = 0;
    double loss_acc = 0, mse_acc = 0, vb_acc = 0;
    int acc_n = 0;
    while (tr.step < tc.steps) {
        dit_trainer_step(&tr, &ds);
        run_steps++;
        loss_acc += tr.loss, mse_acc += tr.mse, vb_acc += tr.vbterm, acc_n++;
        CHECK(isfinite(tr.loss), "training diverged at step %ld: loss %g", tr.step, tr.loss);
        if (tr.step % tc.log_every == 0 || tr.step == tc.steps) {
            double t = lz_now_seconds();
            double sps = (double)(tr.step - window_start) * tc.hp.batch / (t - t_window);
            double eta = (tc.steps - tr.step) * tc.hp.batch / (sps > 0 ? sps : 1);
            fprintf(loss_csv, "%ld,%.6f,%.6f,%.6f,%.4f,%.3g,%.2f,%.1f\n", tr.step, loss_acc / acc_n,
                    mse_acc / acc_n, vb_acc / acc_n, tr.grad_norm, tr.lr_now, sps, t - t_start);
            fflush(loss_csv);
            fprintf(stderr, "%sstep %ld/%ld  loss %.4f (mse %.4f vb %.4f)  %.1f samples/s  ETA %.0f min%s",
                    tty ? "\r" : "", tr.step, tc.steps, loss_acc / acc_n, mse_acc / acc_n, vb_acc / acc_n, sps,
                    eta / 60, tty ? "   " : "\n");
            loss_acc = mse_acc = vb_acc = 0, acc_n = 0;
            t_window = t, window_start = tr.step;
        }
        bool stop = stop_after > 0 && run_steps >= stop_after;
        if (tr.step % tc.checkpoint_every == 0 || tr.step == tc.steps || stop) {
            if (dit_trainer_save(&tr, ckpt, config_text, &err) || dit_save(ema_path, &tc.model, tr.ema, &err)) {
                cli_fail("%s", err.msg);
            }
        }
        if (stop) break;
    }
    if (tty) fputc('\n', stderr);
    fclose(loss_csv);
    if (tr.step == tc.steps && tc.export_path) {
        if (dit_save(tc.export_path, &tc.model, tr.ema, &err)) {
            cli_fail("%s", err.msg);
        }
        fprintf(stderr, "exported EMA weights to %s\n", tc.export_path);
    }
    fprintf(stderr, "done: step %ld, %.1f s in this run\n", tr.step, lz_now_seconds() - t_start);
    dit_trainer_free(&tr);
    dataset_free(&ds);
    cJSON_Delete(root);
    free(config_text);
    return 0;
}
