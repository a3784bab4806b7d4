// lazydit train: trains a DiT from a JSON config, with progress, periodic
// checkpoints, exact resume and a CSV loss curve.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/io/atomic_file.h"
#include "model/dit_train.h"
#include "model/io/file_rules.h"
#include "model/io/json_config.h"
#include "model/train_config.h"
#include "model/base/clock.h"

// Keeps the loss CSV consistent with a resumed checkpoint: rows of steps after
// the checkpoint (written before an interruption) are dropped.
// Only complete rows ("step,...\n" with all 8 fields) of steps up to the
// checkpoint are kept: a row torn by a kill, or rows of steps after the
// checkpoint, are dropped. The kept rows are rewritten atomically.
static FILE *open_loss_csv(const char *path, long resume_step) {
    LzError err;
    AtomicFile af;
    if (atomic_open(&af, path, &err)) cli_fail_in("train", "%s", err.msg);
    static const char header[] = "step,loss,mse,vb,grad_norm,lr,samples_per_s,elapsed_s\n";
    atomic_write(&af, header, sizeof header - 1);
    struct stat st;
    FILE *old = resume_step > 0 ? lz_fopen_input(path, &st, &err) : NULL;
    if (old) {
        char line[512];
        while (fgets(line, sizeof line, old)) {
            long s;
            double v[7];
            size_t n = strlen(line);
            if (n && line[n - 1] == '\n' &&
                sscanf(line, "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &s, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) ==
                    8 &&
                s >= 1 && s <= resume_step)
                atomic_write(&af, line, n);
        }
        fclose(old);
    }
    if (atomic_commit(&af, &err)) cli_fail_in("train", "%s", err.msg);
    FILE *f = fopen(path, "a");
    if (!f) cli_fail_in("train", "%s: cannot append: %s", path, strerror(errno));
    return f;
}

// "<dir>/<name>" (malloc'd): no fixed buffer, so a long out_dir is never cut.
static char *join_path(const char *dir, const char *name) {
    char *p = lz_malloc(strlen(dir) + strlen(name) + 2, "path");
    sprintf(p, "%s/%s", dir, name);
    return p;
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
    if (train_config_parse(&tc, root, config_path, &err)) {
        cli_fail("%s", err.msg);
    }
    // The config text goes into checkpoint metadata for provenance.
    char *config_text = jc_read_text(config_path, &err);
    if (!config_text) cli_fail("%s", err.msg);

    // Every file of the run is checked before any step: the data and the config
    // are inputs; the checkpoint, EMA weights and loss curve in out_dir (made
    // if missing) and the export are outputs, none of which may be an input.
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "train", config_path);
    if (tc.images) cli_input(&rf, "train", tc.images);
    if (tc.labels) cli_input(&rf, "train", tc.labels);
    char *ckpt = join_path(tc.out_dir, "checkpoint.safetensors"), *csv = join_path(tc.out_dir, "loss.csv");
    char *ema_path = join_path(tc.out_dir, "ema.safetensors");
    cli_output(&rf, "train", ckpt, RF_MKDIR);
    cli_output(&rf, "train", ema_path, 0);
    cli_output(&rf, "train", csv, 0);
    if (tc.export_path) cli_output(&rf, "train", tc.export_path, 0);

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
    if (ds.c != tc.model.in_channels || ds.h != tc.model.input_size || ds.w != tc.model.input_size)
        cli_fail_in("train", "%s: images are %dx%dx%d but the model takes %dx%dx%d (%s)", ds.source, ds.c, ds.h, ds.w,
                    tc.model.in_channels, tc.model.input_size, tc.model.input_size, config_path);
    if (ds.n < tc.hp.batch)
        cli_fail_in("train", "%s: %ld images, fewer than one batch of %d (%s)", ds.source, ds.n, tc.hp.batch,
                    config_path);

    float *params = lz_malloc(sizeof(float) * dit_param_count(&tc.model), "DiT parameters");
    dit_init_official(params, &tc.model, (uint64_t)tc.init_seed);
    DitTrainer tr;
    dit_trainer_init(&tr, &tc.model, params, &tc.hp, ds.n);

    if (!fresh && access(ckpt, F_OK) == 0) {
        if (dit_trainer_load(&tr, ckpt, tc.steps, &err)) {
            cli_fail("%s", err.msg);
        }
        fprintf(stderr, "resuming %s at step %ld of %ld\n", ckpt, tr.step, tc.steps);
    }
    FILE *loss_csv = open_loss_csv(csv, tr.step);
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
        if (!isfinite(tr.loss))
            cli_fail_in("train", "training diverged at step %ld: loss %g (lower lr or enable grad_clip)", tr.step, tr.loss);
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
    free(ckpt), free(csv), free(ema_path);
    run_files_free(&rf);
    return 0;
}
