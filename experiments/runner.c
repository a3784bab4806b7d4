// runner.c: the resumable sweep (see runner.h). Order per run: diffusion,
// policy, sampler; the runs row (status 'running'); sampling with the
// recorder; metrics (with a full-compute paired reference for psnr/ssim);
// one final transaction.
#include "experiments/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/result_db.h"
#include "analysis/run_record.h"
#include "analysis/sim_bound.h"
#include "experiments/experiment.h"
#include "experiments/run_metrics.h"
#include "model/base/clock.h"
#include "model/base/sha256.h"
#include "model/dit_params.h"
#include "model/io/file_rules.h"
#include "model/lazy/policy.h"

// A full-compute reference sample set kept for psnr/ssim (a sweep over
// policies at the same settings needs the same reference again and again).
typedef struct {
    char key[160];
    float *images;  // (n, C, H, W)
} RefCache;
#define REF_CACHE 2

typedef struct {
    const RunnerOptions *o;
    Experiment e;
    ResultDb db;
    DitModel m;
    DiffusionSchedule sched;  // the schedule the model was trained with (checkpoint metadata)
    int model_loaded;
    uint8_t model_sha[SHA256_BYTES];
    WeightNorms wn;
    RunMetrics metrics;
    RefCache refs[REF_CACHE];
    int ref_next;
    // One allocation per run shape (n samples): labels and samples.
    int *labels;
    float *samples;
} Runner;

// ---------------------------------------------------------------------------
// database

static int check_meta(Runner *r, LzError *err) {
    ResultDb *db = &r->db;
    char have[256];
    int present = rdb_meta_get(db, "experiment", have, sizeof have, err);
    if (present < 0) return -1;
    if (present && strcmp(have, r->e.name))
        return lz_fail(err, "%s: the database holds experiment '%s', not '%s' of %s; use another --db", db->path, have,
                       r->e.name, r->e.path);
    char sha[80];
    int has_sha = rdb_meta_get(db, "config_sha256", sha, sizeof sha, err);
    if (has_sha < 0) return -1;
    if (present && !has_sha)
        return lz_fail(err, "%s: the database holds `lazydit sample --record` runs of experiment '%s', not a sweep; "
                            "use another --db",
                       db->path, have);
    if (has_sha && strcmp(sha, r->e.config_sha256))
        return lz_fail(err, "%s: made from another version of %s (config sha256 %.12s..., now %.12s...): results of "
                            "different configs must not mix; use another --db or restore the config",
                       db->path, r->e.path, sha, r->e.config_sha256);
    if (present) return 0;
    char *canon = cJSON_PrintUnformatted(r->e.root);
    CHECK(canon, "out of memory");
    int rc = rdb_begin(db, err) || rdb_meta_set(db, "experiment", r->e.name, err) ||
             rdb_meta_set(db, "config_sha256", r->e.config_sha256, err) || rdb_meta_set(db, "config", canon, err) ||
             rdb_commit(db, err);
    cJSON_free(canon);
    if (rc) rdb_rollback(db);
    return rc ? -1 : 0;
}

// Status of run_id: 0 absent, 1 done, 2 running or failed. -1 on error.
static int run_status(Runner *r, const ExpRun *run, LzError *err) {
    sqlite3_stmt *st = rdb_prepare(&r->db, "SELECT name, status FROM runs WHERE run_id = :run_id", err);
    if (!st) return -1;
    rdb_bind_int64(st, ":run_id", run->index + 1);
    int rc = rdb_step_row(&r->db, st, "read the run's status", err);
    if (rc == 1) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(name, run->name))
            rc = lz_fail(err, "%s: run %d is '%s' in the database but '%s' in %s", r->db.path, run->index + 1, name,
                         run->name, r->e.path);
        else rc = strcmp(status, "done") ? 2 : 1;
    }
    sqlite3_finalize(st);
    return rc;
}

static int delete_run(Runner *r, int64_t run_id, LzError *err) {
    if (rdb_begin(&r->db, err)) return -1;
    if (rdb_delete_run(&r->db, run_id, err) || rdb_commit(&r->db, err)) {
        rdb_rollback(&r->db);
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// one run

static int load_model(Runner *r, LzError *err) {
    if (r->model_loaded) return 0;
    const Experiment *e = &r->e;
    DitConfig cfg;
    float *params = NULL;
    if (sha256_file(e->model, r->model_sha, err)) return -1;
    if (dit_load_with_schedule(e->model, e->heads, &cfg, &params, &r->sched, err)) return -1;
    int guided = 0;
    for (int i = 0; i < e->n_runs; i++) guided |= e->runs[i].cfg_scale != 1.0;
    dit_build(&r->m, &cfg, params, guided ? 2 * e->batch : e->batch, 0);
    sim_bound_weight_norms(&r->wn, &r->m);
    r->labels = lz_malloc(sizeof(int) * (size_t)e->n_samples, "labels");
    r->samples = lz_malloc(sizeof(float) * (size_t)(e->n_samples * cfg.in_channels * cfg.input_size * cfg.input_size),
                           "samples");
    r->model_loaded = 1;
    return 0;
}

static void make_labels(Runner *r, uint64_t seed) {
    int K = r->m.cfg.num_classes;
    if (r->e.labels == EXP_LABELS_RANDOM) sampler_random_labels(r->labels, r->e.n_samples, seed, K);
    else
        for (long i = 0; i < r->e.n_samples; i++) r->labels[i] = (int)(i % K);
}

static SamplerOptions sampler_options(Runner *r, const ExpRun *run, Policy *p) {
    SamplerOptions o = sampler_default_options(&r->m.cfg, r->e.batch);
    o.kind = run->sampler;
    o.eta = (float)run->eta;
    o.cfg_scale = (float)run->cfg_scale;
    o.seed = run->seed;
    o.policy = p;
    return o;
}

// The full-compute (no policy) samples from the same noise as `run`, at the
// experiment's reference_steps (default: the run's own steps and respacing).
static const float *reference_samples(Runner *r, const ExpRun *run, LzError *err) {
    char respacing[32];
    int steps = r->e.metrics.reference_steps;
    if (steps) snprintf(respacing, sizeof respacing, "%d", steps);
    else snprintf(respacing, sizeof respacing, "%s", run->respacing);
    char key[160];
    snprintf(key, sizeof key, "%s|%d|%.17g|%.17g|%llu", respacing, (int)run->sampler, run->eta, run->cfg_scale,
             (unsigned long long)run->seed);
    for (int i = 0; i < REF_CACHE; i++)
        if (r->refs[i].images && !strcmp(r->refs[i].key, key)) return r->refs[i].images;
    RefCache *c = &r->refs[r->ref_next];
    r->ref_next = (r->ref_next + 1) % REF_CACHE;
    const DitConfig *cfg = &r->m.cfg;
    long img = (long)cfg->in_channels * cfg->input_size * cfg->input_size;
    if (!c->images) c->images = lz_malloc(sizeof(float) * (size_t)(r->e.n_samples * img), "reference samples");
    c->key[0] = 0;
    Diffusion d = {0};
    Sampler s = {0};
    int rc = diffusion_create_for(&d, &r->sched, respacing, err);
    SamplerOptions o = sampler_options(r, run, NULL);
    if (!rc) rc = sampler_init(&s, &r->m, &d, &o, err);
    if (!rc) rc = sampler_run(&s, c->images, r->labels, r->e.n_samples, NULL, NULL, NULL, NULL, err);
    sampler_free(&s);
    diffusion_free(&d);
    if (rc) return NULL;
    snprintf(c->key, sizeof c->key, "%s", key);
    return c->images;
}

// 0 done, 1 the run failed (recorded, the sweep goes on), -1 fatal.
static int run_one(Runner *r, const ExpRun *run, double *t_sample, double *t_metrics, char *note, size_t note_len,
                   LzError *err) {
    const Experiment *e = &r->e;
    int rc = 1;
    Diffusion d = {0};
    Policy p;
    memset(&p, 0, sizeof p);
    int have_policy = 0, begun = 0;
    Sampler s = {0};
    RunRecord rr;
    memset(&rr, 0, sizeof rr);
    if (load_model(r, err)) return -1;  // the same for every run: nothing else could work
    if (diffusion_create_for(&d, &r->sched, run->respacing, err)) goto out;
    char where[1200];
    snprintf(where, sizeof where, "%s: %s", e->path, run->policy_where);
    if (policy_create_json(&p, run->policy, where, err)) goto out;
    have_policy = 1;
    long ts[1000];
    for (int i = 0; i < d.num_steps; i++) ts[i] = d.timestep_map[d.num_steps - 1 - i];
    int max_rows = run->cfg_scale != 1.0 ? 2 * e->batch : e->batch;
    PolicyEnv env = {&r->m.cfg, d.num_steps, ts, run->respacing, max_rows, r->model_sha, run->seed};
    if (policy_init(&p, &env, err)) goto out;
    SamplerOptions o = sampler_options(r, run, &p);
    if (sampler_init(&s, &r->m, &d, &o, err)) goto out;
    make_labels(r, run->seed);

    RunRecordInfo info = {e->name,          run->name,       run->index + 1,    e->model,
                          r->model_sha,     run->respacing,  e->n_samples,      run->config_json,
                          {e->record_rows}, &r->wn};
    if (run_record_begin(&rr, &r->db, &info, &s, err)) {
        rc = -1;
        goto out;
    }
    begun = 1;
    if (run_record_sample(&rr, &s, r->samples, r->labels, e->n_samples, NULL, err)) {
        if (recorder_error(&rr.rec, NULL)) {  // the database failed (module_rows): nothing more can be recorded
            rc = -1;
            goto out;
        }
        goto failed;
    }
    *t_sample = rr.wall_s;
    double t0 = lz_now_seconds();
    int n_metrics = 0;
    if (e->metrics.any) {
        const float *paired = NULL;
        if (e->metrics.want[MET_PSNR] || e->metrics.want[MET_SSIM]) {
            paired = reference_samples(r, run, err);
            if (!paired) goto failed;
        }
        const DitConfig *c = &r->m.cfg;
        if (run_metrics_compute(&r->metrics, &e->metrics, r->samples, e->n_samples, c->in_channels, c->input_size,
                                c->input_size, r->labels, paired, &n_metrics, err))
            goto failed;
    }
    *t_metrics = lz_now_seconds() - t0;
    LazySummary sum = lazy_account_summary(sampler_account(&s));
    int used = snprintf(note, note_len, "lazy %.3f", isnan(sum.lazy_ratio) ? 0.0 : sum.lazy_ratio);
    for (int i = 0; i < n_metrics && used < (int)note_len; i++)
        used += snprintf(note + used, note_len - (size_t)used, ", %s %.4g", r->metrics.metrics[i].name,
                         r->metrics.metrics[i].value);
    RunSampleFeatures feats;
    if (run_record_finish(&rr, &s, r->metrics.metrics, n_metrics, r->metrics.samples,
                          e->metrics.per_sample ? r->metrics.n_samples_metrics : 0,
                          run_metrics_features(&r->metrics, &e->metrics, &feats), err)) {
        run_record_fail(&rr, err->msg);
        rc = -1;
        goto out;
    }
    rc = 0;
    goto out;
failed:
    run_record_fail(&rr, err->msg);
    rc = 1;
out:
    if (begun) run_record_free(&rr);
    sampler_free(&s);
    if (have_policy) policy_free(&p);
    diffusion_free(&d);
    return rc;
}

// ---------------------------------------------------------------------------

static void hms(char *buf, size_t len, double s) {
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

// The file rules (model/io/file_rules.h) before anything is opened: the
// config, the model, the classifier and every file a policy names are
// inputs; the database is an output (updated in place, in transactions, so
// not staged) that may not be one of them, nor a device, FIFO, directory or
// symbolic link (SQLite would write through the link). Its directory is made.
static int check_files(const Experiment *e, const RunnerOptions *o, LzError *err) {
    RunFiles rf;
    run_files_init(&rf);
    int bad = run_files_input(&rf, o->config_path, err) || run_files_input(&rf, e->model, err) ||
              (e->metrics.any && e->metrics.classifier && run_files_input(&rf, e->metrics.classifier, err));
    // A policy file that does not exist fails its own run (recorded as
    // failed) as before; one that exists must not be the database.
    struct stat gst;
    if (!bad && e->gates && stat(e->gates, &gst) == 0) bad = run_files_input(&rf, e->gates, err);
    static const char *const file_options[] = {"gates", "router", "calibration"};
    for (int i = 0; i < e->n_runs && !bad; i++)
        for (int k = 0; k < 3 && !bad; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e->runs[i].policy, file_options[k]);
            struct stat st;
            if (cJSON_IsString(v) && stat(v->valuestring, &st) == 0) bad = run_files_input(&rf, v->valuestring, err);
        }
    if (!bad) bad = run_files_output(&rf, o->db_path, RF_MKDIR, err);
    run_files_free(&rf);
    return bad ? -1 : 0;
}

int runner_run(const RunnerOptions *o, RunnerSummary *sum, LzError *err) {
    memset(sum, 0, sizeof *sum);
    Runner r;
    memset(&r, 0, sizeof r);
    r.o = o;
    int rc = -1;
    unsigned char *state = NULL;
    if (experiment_load(&r.e, o->config_path, err)) return -1;
    if (check_files(&r.e, o, err)) goto out;
    if (rdb_open(&r.db, o->db_path, err)) goto out;
    if (check_meta(&r, err)) goto out;
    // Status of every run of the shard, so the ETA counts only what is left.
    state = lz_calloc((size_t)r.e.n_runs, 1, "run states");
    int todo = 0;
    for (int i = 0; i < r.e.n_runs; i++) {
        const ExpRun *run = &r.e.runs[i];
        if (!experiment_in_shard(run, o->shard_index, o->shard_count)) continue;
        int st = run_status(&r, run, err);
        if (st < 0) goto out;
        state[i] = (unsigned char)(st + 1);  // 1 absent, 2 done, 3 unfinished
        sum->total++;
        todo += st != 1;
    }
    if (o->progress) {
        fprintf(o->progress, "experiment %s: %d runs", r.e.name, r.e.n_runs);
        if (o->shard_count > 1) fprintf(o->progress, ", shard %d/%d has %d", o->shard_index, o->shard_count, sum->total);
        fprintf(o->progress, "; %d done before, %d to run -> %s\n", sum->total - todo, todo, o->db_path);
        fflush(o->progress);
    }
    int k = 0, ran = 0;
    double spent = 0;
    for (int i = 0; i < r.e.n_runs; i++) {
        if (!state[i]) continue;
        const ExpRun *run = &r.e.runs[i];
        k++;
        if (state[i] == 2) {
            sum->skipped++;
            if (o->progress) fprintf(o->progress, "[%d/%d] run %d %s: done before, skipped\n", k, sum->total, i + 1, run->name);
            continue;
        }
        if (state[i] == 3 && delete_run(&r, run->index + 1, err)) goto out;
        double t0 = lz_now_seconds(), ts = 0, tm = 0;
        char note[512] = "";
        int one = run_one(&r, run, &ts, &tm, note, sizeof note, err);
        if (one < 0) goto out;
        double dt = lz_now_seconds() - t0;
        spent += dt;
        ran++;
        if (one == 0) sum->done++;
        else sum->failed++;
        if (o->progress) {
            char eta[32];
            hms(eta, sizeof eta, spent / ran * (todo - ran));
            if (one == 0)
                fprintf(o->progress, "[%d/%d] run %d %s: %.1f s (sampling %.1f s, metrics %.1f s), %s | ETA %s\n", k,
                        sum->total, i + 1, run->name, dt, ts, tm, note, eta);
            else
                fprintf(o->progress, "[%d/%d] run %d %s: FAILED: %s | ETA %s\n", k, sum->total, i + 1, run->name,
                        err->msg, eta);
            fflush(o->progress);
        }
    }
    rc = sum->failed ? 1 : 0;
out:
    free(state);
    for (int i = 0; i < REF_CACHE; i++) free(r.refs[i].images);
    free(r.labels);
    free(r.samples);
    run_metrics_free(&r.metrics);
    if (r.model_loaded) dit_free(&r.m);
    rdb_close(&r.db);
    experiment_free(&r.e);
    return rc;
}
