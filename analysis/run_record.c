// run_record.c: one recorded sampling run (see run_record.h).
#include "analysis/run_record.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analysis/provenance.h"
#include "analysis/sample_features.h"
#include "model/base/clock.h"
#include "model/base/sha256.h"

static const char *policy_name_of(const Sampler *s) { return s->opt.policy ? s->opt.policy->cls->name : "ddim"; }
// The policy's resolved config; a policy built by hand (not through
// policy_create) has none, and is then named only.
static const char *policy_json_of(const Sampler *s, char *buf, size_t len) {
    const Policy *p = s->opt.policy;
    if (p && policy_json(p)) return policy_json(p);
    snprintf(buf, len, "{\"name\":\"%s\",\"modules\":\"both\"}", p ? p->cls->name : "ddim");
    return buf;
}

// The caller's settings plus "bound": how the bound's terms were estimated,
// with the per-layer weight terms of R.
static char *config_with_bound(const char *settings, const Recorder *r) {
    cJSON *o = settings ? cJSON_Parse(settings) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    cJSON *b = cJSON_AddObjectToObject(o, "bound");
    cJSON_AddStringToObject(b, "theorem", "cos(Y_t, Y_{t-1}) >= 1 - alpha, alpha = C^2 R2^2 min(N, D) / 2");
    cJSON_AddNumberToObject(b, "N", r->T);
    cJSON_AddNumberToObject(b, "D", r->D);
    cJSON_AddStringToObject(b, "C_attn", "5 R^4 N D");
    cJSON_AddStringToObject(b, "C_mlp", "R");
    cJSON_AddStringToObject(b, "R", "max(1, weight terms, max over compared rows of |Z_t|_F and |Z_{t-1}|_F)");
    cJSON_AddStringToObject(b, "R_weights_attn", "max(|Wq^T Wk|_2, |Wv|_2), power iteration in double");
    cJSON_AddStringToObject(b, "R_weights_mlp", "max(|fc1|_2, |fc2|_2, |fc2 fc1|_2), power iteration in double");
    cJSON_AddStringToObject(b, "R2", "max over compared rows of |Z_t - Z_{t-1}|_F");
    cJSON *wa = cJSON_AddArrayToObject(b, "R_weights_attn_per_layer");
    cJSON *wm = cJSON_AddArrayToObject(b, "R_weights_mlp_per_layer");
    for (int l = 0; l < r->L; l++) {
        cJSON_AddItemToArray(wa, cJSON_CreateNumber(sim_bound_weight_r(&r->wn, l, DIT_ATTN)));
        cJSON_AddItemToArray(wm, cJSON_CreateNumber(sim_bound_weight_r(&r->wn, l, DIT_MLP)));
    }
    char *text = cJSON_PrintUnformatted(o);
    CHECK(text, "out of memory printing a run's config");
    cJSON_Delete(o);
    return text;
}

int run_record_begin(RunRecord *rr, ResultDb *db, const RunRecordInfo *info, const Sampler *s, LzError *err) {
    memset(rr, 0, sizeof *rr);
    rr->db = db;
    const Diffusion *d = s->d;
    int K = d->num_steps;
    long ts[1000];
    CHECK(K <= 1000, "run_record: %d steps", K);
    for (int i = 0; i < K; i++) ts[i] = d->timestep_map[K - 1 - i];
    uint8_t sha[SHA256_BYTES];
    if (info->model_sha256) memcpy(sha, info->model_sha256, SHA256_BYTES);
    else if (sha256_file(info->model_path, sha, err)) return -1;
    char hex[SHA256_HEX_LEN];
    sha256_hex(sha, hex);
    int model_rows = s->use_cfg ? 2 * s->max_rows : s->max_rows;
    if (recorder_init(&rr->rec, s->m, ts, K, model_rows, info->n_samples, s->use_cfg, info->weight_norms, &info->rec,
                      err))
        return -1;

    Provenance pv;
    provenance_get(&pv);
    char now[32];
    provenance_utc_now(now);
    char *config = config_with_bound(info->config_json, &rr->rec);
    int rc = -1;
    sqlite3_stmt *st = NULL;
    if (rdb_begin(db, err)) goto out;
    if (info->run_id > 0) {
        rr->run_id = info->run_id;
    } else {
        int64_t max_id = 0;
        if (rdb_query_int64(db, "SELECT coalesce(max(run_id), 0) FROM runs", &max_id, err)) goto out;
        rr->run_id = max_id + 1;
    }
    st = rdb_prepare(db, "SELECT run_id FROM runs WHERE (experiment = :experiment AND name = :name) OR run_id = :run_id",
                     err);
    if (!st) goto out;
    rdb_bind_text(st, ":experiment", info->experiment);
    rdb_bind_text(st, ":name", info->name);
    rdb_bind_int64(st, ":run_id", rr->run_id);
    int found = rdb_step_row(db, st, "look up the run", err);
    if (found < 0) goto out;
    if (found) {
        lz_fail(err, "%s: run id %lld or run '%s' of experiment '%s' already exists", db->path,
                (long long)sqlite3_column_int64(st, 0), info->name, info->experiment);
        goto out;
    }
    sqlite3_finalize(st);
    st = rdb_prepare(db,
                     "INSERT INTO runs (run_id, experiment, name, model_sha256, policy, policy_json, steps, respacing, "
                     "sampler, eta, cfg_scale, seed, n_samples, batch, git_rev, threads, blas_core, host, started_at, "
                     "status, config_json) VALUES (:run_id, :experiment, :name, :model_sha256, :policy, :policy_json, "
                     ":steps, :respacing, :sampler, :eta, :cfg_scale, :seed, :n_samples, :batch, :git_rev, :threads, "
                     ":blas_core, :host, :started_at, 'running', :config_json)",
                     err);
    if (!st) goto out;
    rdb_bind_int64(st, ":run_id", rr->run_id);
    rdb_bind_text(st, ":experiment", info->experiment);
    rdb_bind_text(st, ":name", info->name);
    rdb_bind_text(st, ":model_sha256", hex);
    rdb_bind_text(st, ":policy", policy_name_of(s));
    char pj[160];
    rdb_bind_text(st, ":policy_json", policy_json_of(s, pj, sizeof pj));
    rdb_bind_int64(st, ":steps", K);
    rdb_bind_text(st, ":respacing", info->respacing);
    rdb_bind_text(st, ":sampler", s->opt.kind == SAMPLER_DDIM ? "ddim" : "ddpm");
    rdb_bind_double(st, ":eta", s->opt.eta);
    rdb_bind_double(st, ":cfg_scale", s->opt.cfg_scale);
    rdb_bind_int64(st, ":seed", (int64_t)s->opt.seed);
    rdb_bind_int64(st, ":n_samples", info->n_samples);
    rdb_bind_int64(st, ":batch", s->opt.batch);
    rdb_bind_text(st, ":git_rev", pv.git_rev[0] ? pv.git_rev : NULL);
    rdb_bind_int64(st, ":threads", pv.threads);
    rdb_bind_text(st, ":blas_core", pv.blas_core);
    rdb_bind_text(st, ":host", pv.host);
    rdb_bind_text(st, ":started_at", now);
    rdb_bind_text(st, ":config_json", config);
    if (rdb_step_done(db, st, "insert the runs row", err) || rdb_commit(db, err)) goto out;
    if (recorder_attach_db(&rr->rec, db, rr->run_id, err)) goto out;
    rc = 0;
out:
    if (rc) rdb_rollback(db);
    sqlite3_finalize(st);
    cJSON_free(config);
    if (rc) recorder_free(&rr->rec);
    return rc;
}

int run_record_sample(RunRecord *rr, Sampler *s, float *out, const int *labels, long N, const float *noise,
                      LzError *err) {
    double t0 = lz_now_seconds();
    int rc = sampler_run(s, out, labels, N, noise, recorder_hooks(&rr->rec), recorder_step, &rr->rec, err);
    rr->wall_s = lz_now_seconds() - t0;
    if (rc) return -1;
    return recorder_error(&rr->rec, err);
}

int run_record_finish(RunRecord *rr, const Sampler *s, const RunMetric *metrics, int n_metrics,
                      const SampleMetric *sample_metrics, long n_sample_metrics, const RunSampleFeatures *features,
                      LzError *err) {
    ResultDb *db = rr->db;
    const LazyAccount *acc = sampler_account(s);
    LazySummary sum = lazy_account_summary(acc);
    char now[32];
    provenance_utc_now(now);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (rdb_begin(db, err)) return -1;
    if (recorder_write(&rr->rec, db, rr->run_id, acc, err)) goto out;
    if (n_metrics) {
        st = rdb_prepare(db,
                         "INSERT INTO metrics (run_id, name, value, ci_low, ci_high, n) "
                         "VALUES (:run_id, :name, :value, :ci_low, :ci_high, :n)",
                         err);
        if (!st) goto out;
        for (int i = 0; i < n_metrics; i++) {
            const RunMetric *m = &metrics[i];
            if (isnan(m->value)) {
                lz_fail(err, "%s: metric %s of run %lld is not a number", db->path, m->name, (long long)rr->run_id);
                goto out;
            }
            rdb_bind_int64(st, ":run_id", rr->run_id);
            rdb_bind_text(st, ":name", m->name);
            // +inf is a value (psnr of identical pairs), so it is stored as such, not as NULL
            CHECK(sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":value"), m->value) == SQLITE_OK,
                  "binding a metric");
            rdb_bind_double(st, ":ci_low", m->ci_low);
            rdb_bind_double(st, ":ci_high", m->ci_high);
            rdb_bind_int64(st, ":n", m->n);
            if (rdb_step_done(db, st, "write metrics", err)) goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (n_sample_metrics) {
        st = rdb_prepare(db,
                         "INSERT INTO sample_metrics (run_id, sample, name, value) VALUES (:run_id, :sample, :name, "
                         ":value)",
                         err);
        if (!st) goto out;
        for (long i = 0; i < n_sample_metrics; i++) {
            const SampleMetric *m = &sample_metrics[i];
            rdb_bind_int64(st, ":run_id", rr->run_id);
            rdb_bind_int64(st, ":sample", m->sample);
            rdb_bind_text(st, ":name", m->name);
            // value is NOT NULL: a non-finite per-sample value (PSNR of an identical pair) is stored as is
            sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":value"), m->value);
            if (rdb_step_done(db, st, "write sample_metrics", err)) goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (features && sample_features_write(db, rr->run_id, features->x, features->n, features->dim,
                                          features->reference, features->ref, err))
        goto out;
    st = rdb_prepare(db,
                     "UPDATE runs SET status = 'done', finished_at = :finished_at, wall_s = :wall_s, macs_all = "
                     ":macs_all, macs_linear = :macs_linear, lazy_ratio = :lazy_ratio, lazy_ratio_attn = "
                     ":lazy_ratio_attn, lazy_ratio_mlp = :lazy_ratio_mlp, error = NULL WHERE run_id = :run_id",
                     err);
    if (!st) goto out;
    rdb_bind_text(st, ":finished_at", now);
    rdb_bind_double(st, ":wall_s", rr->wall_s);
    rdb_bind_double(st, ":macs_all", sum.macs_all);
    rdb_bind_double(st, ":macs_linear", sum.macs_linear);
    rdb_bind_double(st, ":lazy_ratio", sum.lazy_ratio);
    rdb_bind_double(st, ":lazy_ratio_attn", sum.lazy_ratio_attn);
    rdb_bind_double(st, ":lazy_ratio_mlp", sum.lazy_ratio_mlp);
    rdb_bind_int64(st, ":run_id", rr->run_id);
    if (rdb_step_done(db, st, "complete the runs row", err)) goto out;
    if (sqlite3_changes(db->db) != 1) {
        lz_fail(err, "%s: run %lld disappeared while it ran (another process deleted it?)", db->path,
                (long long)rr->run_id);
        goto out;
    }
    if (rdb_commit(db, err)) goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc) rdb_rollback(db);
    return rc;
}

void run_record_fail(RunRecord *rr, const char *message) {
    if (!message) message = "unknown error";
    LzError ignored;
    char now[32];
    provenance_utc_now(now);
    sqlite3_stmt *st = rdb_prepare(rr->db,
                                   "UPDATE runs SET status = 'failed', finished_at = :finished_at, error = :error "
                                   "WHERE run_id = :run_id",
                                   &ignored);
    if (!st) return;
    rdb_bind_text(st, ":finished_at", now);
    rdb_bind_text(st, ":error", message);
    rdb_bind_int64(st, ":run_id", rr->run_id);
    rdb_step_done(rr->db, st, "mark the run failed", &ignored);
    sqlite3_finalize(st);
}

void run_record_free(RunRecord *rr) {
    recorder_free(&rr->rec);
    memset(rr, 0, sizeof *rr);
}

// ---------------------------------------------------------------------------

int record_sampler_run(const SampleRecordRequest *req, Sampler *s, float *out, const int *labels, long N,
                       const float *noise, SampleRecordResult *res, LzError *err) {
    ResultDb db;
    if (rdb_open(&db, req->db_path, err)) return -1;
    int rc = -1;
    RunRecord rr;
    memset(&rr, 0, sizeof rr);
    int begun = 0;
    char have[128], name[192];
    int present = rdb_meta_get(&db, "experiment", have, sizeof have, err);
    if (present < 0) goto out;
    const char *experiment = req->experiment ? req->experiment : present ? have : "sample";
    if (present && strcmp(have, experiment)) {
        lz_fail(err, "%s: the database belongs to experiment '%s', not '%s' (give --experiment %s or another database)",
                db.path, have, experiment, have);
        goto out;
    }
    if (!present && rdb_meta_set(&db, "experiment", experiment, err)) goto out;
    // A sweep database numbers its runs by the config (lazydit run): an ad-hoc
    // run would take an id a later run of the sweep needs.
    char sha[80];
    int sweep = rdb_meta_get(&db, "config_sha256", sha, sizeof sha, err);
    if (sweep < 0) goto out;
    if (sweep) {
        lz_fail(err, "%s: a `lazydit run` database of experiment '%s'; record single runs into another database",
                db.path, experiment);
        goto out;
    }
    if (req->name) {
        snprintf(name, sizeof name, "%s", req->name);
    } else {
        char now[32];
        provenance_utc_now(now);
        snprintf(name, sizeof name, "%s-k%d-seed%llu-%s-%ld", policy_name_of(s), s->d->num_steps,
                 (unsigned long long)s->opt.seed, now, (long)getpid());
    }
    cJSON *cmd = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(cmd, "argv");
    for (int i = 0; i < req->argc; i++) cJSON_AddItemToArray(args, cJSON_CreateString(req->argv[i]));
    char *settings = cJSON_PrintUnformatted(cmd);
    CHECK(settings, "out of memory printing the command line");
    cJSON_Delete(cmd);
    RunRecordInfo info = {experiment, name, 0, req->model_path, NULL, req->respacing, N, settings, {req->rows}, NULL};
    int begin_rc = run_record_begin(&rr, &db, &info, s, err);
    cJSON_free(settings);
    if (begin_rc) goto out;
    begun = 1;
    if (run_record_sample(&rr, s, out, labels, N, noise, err) || run_record_finish(&rr, s, NULL, 0, NULL, 0, NULL, err)) {
        run_record_fail(&rr, err->msg);
        goto out;
    }
    if (res) {
        res->run_id = rr.run_id;
        snprintf(res->experiment, sizeof res->experiment, "%s", experiment);
        snprintf(res->name, sizeof res->name, "%s", name);
    }
    rc = 0;
out:
    if (begun) run_record_free(&rr);
    rdb_close(&db);
    return rc;
}
