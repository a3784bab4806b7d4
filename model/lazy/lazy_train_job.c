// lazy_train_job.c: the gate/router training run and the rho search of
// lazy_train_job.h.
#include "model/lazy/lazy_train_job.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/base/sha256.h"
#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"
#include "model/lazy/lazy_calibrate.h"
#include "model/train_log.h"

// "<dir>/<name>" (malloc'd).
static char *join_path(const char *dir, const char *name) {
    char *p = lz_malloc(strlen(dir) + strlen(name) + 2, "path");
    sprintf(p, "%s/%s", dir, name);
    return p;
}

char *lazy_train_options_json(const LazyTrainJob *j, const char *model_sha256_hex) {
    const LazyTrainHyper *hp = &j->hp;
    int router = hp->kind == LAZY_TRAIN_ROUTER;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", router ? "l2c-router" : "lazydit-gates");
    cJSON_AddStringToObject(o, "model_sha256", model_sha256_hex);
    cJSON_AddStringToObject(o, "data", j->images ? j->images : j->data);
    cJSON_AddNumberToObject(o, "steps", hp->steps);
    cJSON_AddStringToObject(o, "respacing", hp->respacing);
    cJSON_AddNumberToObject(o, "batch", hp->batch);
    cJSON_AddNumberToObject(o, "lr", hp->lr);
    cJSON_AddNumberToObject(o, "weight_decay", hp->weight_decay);
    cJSON_AddNumberToObject(o, "rho_attn", hp->rho_attn);
    cJSON_AddNumberToObject(o, "rho_mlp", hp->rho_mlp);
    cJSON_AddNumberToObject(o, "class_dropout", hp->class_dropout);
    cJSON_AddNumberToObject(o, "seed", (double)hp->seed);
    cJSON_AddBoolToObject(o, "odd_steps_only", hp->odd_steps_only || router);
    cJSON_AddNumberToObject(o, "clamp", hp->clamp);
    char *s = cJSON_PrintUnformatted(o);
    CHECK(s, "out of memory printing the training options");
    cJSON_Delete(o);
    return s;
}

// The options plus what was trained: provenance in the exported file.
static char *training_json(const LazyTrainJob *j, const char *sha_hex, long iterations) {
    char *text = lazy_train_options_json(j, sha_hex);
    cJSON *o = cJSON_Parse(text);
    cJSON_free(text);
    CHECK(o, "training options do not parse back");
    cJSON_AddStringToObject(o, "command", j->command ? j->command : "");
    cJSON_AddNumberToObject(o, "iterations", (double)iterations);
    char *s = cJSON_PrintUnformatted(o);
    CHECK(s, "out of memory printing the training options");
    cJSON_Delete(o);
    return s;
}

int lazy_train_run(LazyTrainRunResult *r, const LazyTrainJob *j, const LazyTrainRunOptions *o, LzError *err) {
    memset(r, 0, sizeof *r);
    int router = j->hp.kind == LAZY_TRAIN_ROUTER;
    char *ckpt = join_path(j->out_dir, "checkpoint.safetensors"), *csv = join_path(j->out_dir, "loss.csv");
    char *out_default = join_path(j->out_dir, router ? "router.safetensors" : "gates.safetensors");
    const char *out = j->out ? j->out : out_default;
    snprintf(r->out, sizeof r->out, "%s", out);
    // Every file first (model/io/file_rules.h): the weights and data are
    // inputs; checkpoint, loss curve (out_dir made if missing) and the
    // exported file are outputs.
    RunFiles files;
    run_files_init(&files);
    int frc = run_files_input(&files, j->weights, err) || (j->images && run_files_input(&files, j->images, err)) ||
              (j->labels && run_files_input(&files, j->labels, err)) ||
              run_files_output(&files, ckpt, RF_MKDIR, err) || run_files_output(&files, csv, 0, err) ||
              run_files_output(&files, out, 0, err);
    run_files_free(&files);
    if (frc) {
        free(ckpt), free(csv), free(out_default);
        return -1;
    }

    int rc = -1, have_trainer = 0, have_data = 0;
    LazyTrainer tr;
    Dataset ds;
    TrainLog log;
    memset(&log, 0, sizeof log);
    char *opts = NULL;
    DitConfig cfg;
    float *params = NULL;
    uint8_t sha[SHA256_BYTES];
    char hex[SHA256_HEX_LEN];
    LazyTrainHyper hp = j->hp;
    if (sha256_file(j->weights, sha, err) ||
        dit_load_with_schedule(j->weights, j->heads, &cfg, &params, &hp.schedule, err))
        goto done;
    sha256_hex(sha, hex);
    if ((j->images ? dataset_load_files(&ds, j->images, j->labels, err) : dataset_load_spec(&ds, j->data, "train", err)))
        goto done;
    have_data = 1;
    if (!ds.labels) {
        lz_fail(err, "%s: training needs labels", ds.source);
        goto done;
    }
    if (ds.num_classes > cfg.num_classes || ds.c != cfg.in_channels || ds.h != cfg.input_size ||
        ds.w != cfg.input_size) {
        lz_fail(err, "%s: %dx%dx%d images with labels up to %d do not fit %s (%dx%dx%d, %d classes)", ds.source, ds.c,
                ds.h, ds.w, ds.num_classes - 1, j->weights, cfg.in_channels, cfg.input_size, cfg.input_size,
                cfg.num_classes);
        goto done;
    }
    if (ds.n < hp.batch) {
        lz_fail(err, "%s: %ld images, fewer than one batch of %d", ds.source, ds.n, hp.batch);
        goto done;
    }
    lazy_trainer_init(&tr, &cfg, params, &hp, ds.n);
    params = NULL;  // the trainer's model owns them
    have_trainer = 1;
    opts = lazy_train_options_json(j, hex);
    if (!o->fresh && access(ckpt, F_OK) == 0) {
        if (lazy_trainer_load(&tr, ckpt, opts, err)) goto done;
        if (tr.iter > j->iterations) {
            lz_fail(err, "%s: the checkpoint is at iteration %ld, beyond the %ld requested (use --fresh or more "
                    "--iterations)", ckpt, tr.iter, j->iterations);
            goto done;
        }
        r->resumed_from = tr.iter;
    }
    if (train_log_open(&log, csv, "iteration,step,loss,mse,lazy_attn,lazy_mlp,soft_ratio,hard_ratio,samples_per_s,elapsed_s",
                       tr.iter, j->iterations, "samples/s", o->progress, err))
        goto done;
    if (r->resumed_from) train_log_note(&log, "resuming %s at iteration %ld of %ld", ckpt, tr.iter, j->iterations);
    train_log_note(&log, "%s: %d steps (respacing %s), batch %d, lr %g, %s %g attn / %g mlp, %s, %ld iterations; %ld images",
                   j->command ? j->command : "lazy training", hp.steps, tr.hp.respacing, hp.batch, hp.lr,
                   router ? "lambda" : "rho", hp.rho_attn, hp.rho_mlp,
                   router || hp.odd_steps_only ? "odd cache steps only" : "all steps", j->iterations, ds.n);
    long run = 0;
    while (tr.iter < j->iterations) {
        lazy_trainer_step(&tr, &ds);
        run++;
        if (!isfinite(tr.loss)) {
            lz_fail(err, "training diverged at iteration %ld: loss %g (lower the lr)", tr.iter, tr.loss);
            goto done;
        }
        double v[4] = {tr.loss, tr.mse, tr.soft_ratio, tr.hard_ratio};
        train_log_add(&log, v, 4, hp.batch);
        // One CSV row per iteration: each trains one sampling step, so a
        // window mean would mix steps.
        TrainWindow w = train_log_window(&log, tr.iter);
        train_log_csv(&log, "%ld,%d,%.8g,%.8g,%.6g,%.6g,%.6f,%.6f,%.2f,%.1f", tr.iter, tr.step, tr.loss, tr.mse,
                      tr.lazy_attn, tr.lazy_mlp, tr.soft_ratio, tr.hard_ratio, w.items_per_s, w.elapsed_s);
        if (tr.iter % j->log_every == 0 || tr.iter == j->iterations)
            train_log_progress(&log, "iteration %ld/%ld step %d loss %.4g (mse %.4g) soft ratio %.3f", tr.iter,
                               j->iterations, tr.step, tr.loss, tr.mse, tr.soft_ratio);
        int stop = o->stop_after > 0 && run >= o->stop_after;
        if (tr.iter % j->checkpoint_every == 0 || tr.iter == j->iterations || stop)
            if (lazy_trainer_save(&tr, ckpt, opts, err)) goto done;
        if (stop) break;
    }
    if (train_log_close(&log, err)) goto done;
    r->iter = tr.iter;
    r->finished = tr.iter >= j->iterations;
    if (r->finished) {
        GateFile *g = &tr.gates;
        snprintf(g->model_sha256, sizeof g->model_sha256, "%s", hex);
        g->threshold = j->threshold;
        char *tj = training_json(j, hex, tr.iter);  // what was trained (a resumed run may have gone further)
        gates_set_training(g, tj);
        cJSON_free(tj);
        if (gates_write(g, out, err)) goto done;
        train_log_note(&log, "wrote %s (%s, threshold %g)", out, gates_kind_name(g->kind), g->threshold);
    }
    r->seconds = train_log_elapsed(&log);
    rc = 0;
done:
    {
        LzError ignored;
        train_log_close(&log, &ignored);
    }
    if (have_trainer) lazy_trainer_free(&tr);
    free(params);
    if (have_data) dataset_free(&ds);
    cJSON_free(opts);
    free(ckpt), free(csv), free(out_default);
    return rc;
}

int lazy_rho_search(double *rho, const LazyTrainJob *j, const LazyRhoSearch *s, int progress, LzError *err) {
    if (j->hp.kind != LAZY_TRAIN_GATES) return lz_fail(err, "the rho search is for gates (calibrate a router's threshold)");
    if (!(s->lo > 0 && s->hi > s->lo) || s->rounds < 1 || s->iterations < 1)
        return lz_fail(err, "rho search: need 0 < lo < hi, rounds >= 1, iterations >= 1");
    char *dir = join_path(j->out_dir, "rho_search"), *file = join_path(dir, "gates.safetensors");
    char *csv = join_path(j->out_dir, "rho_search.csv");
    int rc = -1, have_model = 0;
    DitModel m;
    DitConfig cfg;
    float *params = NULL;
    DiffusionSchedule schedule;
    Diffusion d = {0};
    uint8_t sha[SHA256_BYTES];
    FILE *f = NULL;
    if (lz_mkdir_p(dir, err) || sha256_file(j->weights, sha, err) ||
        dit_load_with_schedule(j->weights, j->heads, &cfg, &params, &schedule, err))
        goto done;
    dit_build(&m, &cfg, params, 2 * s->batch, 0);
    have_model = 1;
    if (diffusion_create_for(&d, &schedule, j->hp.respacing, err)) goto done;
    if (!(f = fopen(csv, "w"))) {
        lz_fail(err, "%s: cannot write", csv);
        goto done;
    }
    fprintf(f, "round,rho,iterations,lazy_ratio\n");
    double a = log10(s->lo), b = log10(s->hi), best_gap = INFINITY;
    *rho = NAN;
    LazyTrainJob sj = *j;
    sj.out_dir = dir;
    sj.out = file;
    sj.iterations = s->iterations;
    sj.threshold = 0.5;
    LazyTrainRunOptions ro = {1, 0, 0};
    LazyMeasureSpec spec = {s->samples, s->seed, s->batch, 1.5f, 1, LAZY_MOD_BOTH};
    for (int k = 0; k < s->rounds; k++) {
        double x = 0.5 * (a + b), rr = pow(10, x);
        sj.hp.rho_attn = sj.hp.rho_mlp = rr;
        LazyTrainRunResult tr;
        if (lazy_train_run(&tr, &sj, &ro, err)) goto done;
        PolicyArg arg = {"gates", file};
        LazySummary sum;
        if (lazy_measure(&m, sha, &d, j->hp.respacing, "lazydit", &arg, 1, &spec, NULL, NULL, &sum, NULL, err)) goto done;
        fprintf(f, "%d,%.6g,%ld,%.6f\n", k + 1, rr, s->iterations, sum.lazy_ratio);
        fflush(f);
        if (progress)
            fprintf(stderr, "rho search: round %d rho %.4g -> lazy ratio %.4f (target %.4f)\n", k + 1, rr,
                    sum.lazy_ratio, s->target);
        if (fabs(sum.lazy_ratio - s->target) < best_gap) best_gap = fabs(sum.lazy_ratio - s->target), *rho = rr;
        if (sum.lazy_ratio < s->target) a = x;
        else b = x;
    }
    rc = 0;
done:
    if (f && fclose(f) && rc == 0) rc = lz_fail(err, "%s: write failed", csv);
    diffusion_free(&d);
    if (have_model) dit_free(&m);
    else free(params);
    free(dir), free(file), free(csv);
    return rc;
}
