// report_db.c: reads a result database for the report. Prepared statements,
// every rc checked and reported with the SQL text; the database is opened
// read-only, so a report never changes what it reads.
#include "analysis/report_db.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/report_paired.h"
#include "analysis/result_db.h"

const ReportMetricInfo report_metric_info[RM_COUNT] = {
    [RM_FID] = {"fid", "FID-proxy", "FID", 0, "%.2f"},
    [RM_SFID] = {"sfid", "sFID-proxy", "sFID", 0, "%.2f"},
    [RM_IS] = {"is", "IS-proxy", "IS", 1, "%.2f"},
    [RM_PRECISION] = {"precision", "precision", "P", 1, "%.3f"},
    [RM_RECALL] = {"recall", "recall", "R", 1, "%.3f"},
    [RM_CLASS_CONSISTENCY] = {"class_consistency", "class consistency", "CC", 1, "%.3f"},
    [RM_KID] = {"kid", "KID", "KID", 0, "%.4f"},
    [RM_PSNR] = {"psnr", "PSNR (dB) vs full", "PSNR", 1, "%.2f"},
    [RM_SSIM] = {"ssim", "SSIM vs full", "SSIM", 1, "%.3f"},
};

typedef struct {
    sqlite3 *db;
    const char *path;
    LzError *err;
} Db;

static int db_fail(Db *d, const char *sql, int rc) {
    return lz_fail(d->err, "%s: SQLite error %d (%s) in: %s", d->path, rc, sqlite3_errmsg(d->db), sql);
}

static int db_prepare(Db *d, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v2(d->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(d, sql, rc);
}

static char *col_strdup(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    size_t n = strlen((const char *)t);
    char *s = lz_malloc(n + 1, "report string");
    memcpy(s, t, n + 1);
    return s;
}

static double col_num(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

// One integer from a query that returns one row.
static int db_scalar(Db *d, const char *sql, long *out) {
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(d, sql, rc);
    }
    *out = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

typedef struct {
    long run_id;
    int index;
} RunKey;

static int cmp_run_key(const void *a, const void *b) {
    long x = ((const RunKey *)a)->run_id, y = ((const RunKey *)b)->run_id;
    return (x > y) - (x < y);
}

static int find_run(const RunKey *keys, int n, long run_id) {
    RunKey k = {run_id, -1};
    const RunKey *hit = bsearch(&k, keys, (size_t)n, sizeof k, cmp_run_key);
    return hit ? hit->index : -1;
}

static int read_meta(Db *d, ReportData *out) {
    const char *sql = "SELECT key, value FROM meta ORDER BY key";
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        if (!key) continue;
        if (!strcmp(key, "experiment") && !out->experiment) out->experiment = col_strdup(st, 1);
        if (!strcmp(key, "config_sha256") && !out->config_sha256) out->config_sha256 = col_strdup(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, sql, rc);
}

// The policy's --modules from its canonical JSON.
static int parse_modules(Db *d, ReportRun *r) {
    cJSON *j = cJSON_Parse(r->policy_json);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return lz_fail(d->err, "%s: run '%s': policy_json is not a JSON object: %.80s", d->path, r->name,
                       r->policy_json);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "modules");
    const char *v = cJSON_IsString(m) ? m->valuestring : "both";
    int ok = !strcmp(v, "attn") || !strcmp(v, "mlp") || !strcmp(v, "both");
    if (ok) snprintf(r->modules, sizeof r->modules, "%s", v);
    else  // formatted before the delete: v points into j
        lz_fail(d->err, "%s: run '%s': policy_json modules '%.20s' is not attn, mlp or both", d->path, r->name, v);
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

// The scoring choice the runner wrote into the run's config: a boolean
// "quantize" at the top level or in a "metrics" object; -1 if absent. And the
// label scheme ("labels": "cycle" or "random"; NULL if absent), which with the
// seed fixes every sample's label.
static int config_quantize(const char *config_json, char **labels) {
    *labels = NULL;
    if (!config_json) return -1;
    cJSON *j = cJSON_Parse(config_json);
    if (!j) return -1;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "quantize");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metrics");
    if (!q && cJSON_IsObject(m)) q = cJSON_GetObjectItemCaseSensitive(m, "quantize");
    int v = cJSON_IsBool(q) ? cJSON_IsTrue(q) : -1;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "labels");
    if (cJSON_IsString(l)) {
        size_t n = strlen(l->valuestring) + 1;
        *labels = lz_malloc(n, "report string");
        memcpy(*labels, l->valuestring, n);
    }
    cJSON_Delete(j);
    return v;
}

// The numbers of a run the report computes with, in the ranges the writers
// produce: a foreign database's REAL column may hold anything, and a value
// like 1e300 or infinity reached integer conversions (rounded steps, ratio
// columns, log-axis ticks) as undefined behaviour. NULL (NaN) stays allowed
// where the schema allows it.
static int check_run_numbers(Db *d, const ReportRun *r) {
    const char *bad = NULL;
    double v = 0;
    if (r->n_samples < 1) bad = "n_samples", v = (double)r->n_samples;
    else if (r->batch < 1) bad = "batch", v = (double)r->batch;
    else if (!(isfinite(r->eta) && r->eta >= 0)) bad = "eta", v = r->eta;
    else if (!(isfinite(r->cfg_scale) && r->cfg_scale >= 0)) bad = "cfg_scale", v = r->cfg_scale;
    else if (!isnan(r->wall_s) && !(isfinite(r->wall_s) && r->wall_s >= 0)) bad = "wall_s", v = r->wall_s;
    else if (!isnan(r->macs_all) && !(isfinite(r->macs_all) && r->macs_all > 0)) bad = "macs_all", v = r->macs_all;
    else if (!isnan(r->macs_linear) && !(isfinite(r->macs_linear) && r->macs_linear > 0))
        bad = "macs_linear", v = r->macs_linear;
    const double ratios[3] = {r->lazy_ratio, r->lazy_ratio_attn, r->lazy_ratio_mlp};
    static const char *const ratio_names[3] = {"lazy_ratio", "lazy_ratio_attn", "lazy_ratio_mlp"};
    for (int k = 0; k < 3 && !bad; k++)
        if (!isnan(ratios[k]) && !(ratios[k] >= 0 && ratios[k] <= 1)) bad = ratio_names[k], v = ratios[k];
    if (bad) return lz_fail(d->err, "%s: run '%s': %s = %g is outside what a run records", d->path, r->name, bad, v);
    return 0;
}

static int read_runs(Db *d, ReportData *out) {
    long n_done, n_running, n_failed;
    if (db_scalar(d, "SELECT count(*) FROM runs WHERE status = 'done'", &n_done) ||
        db_scalar(d, "SELECT count(*) FROM runs WHERE status = 'running'", &n_running) ||
        db_scalar(d, "SELECT count(*) FROM runs WHERE status = 'failed'", &n_failed))
        return -1;
    out->n_running = (int)n_running;
    out->n_failed = (int)n_failed;
    out->runs = lz_calloc((size_t)(n_done > 0 ? n_done : 1), sizeof(ReportRun), "report runs");
    const char *sql =
        "SELECT run_id, experiment, name, model_sha256, policy, policy_json, steps, respacing, sampler, eta, "
        "cfg_scale, seed, n_samples, batch, git_rev, wall_s, macs_all, macs_linear, lazy_ratio, lazy_ratio_attn, "
        "lazy_ratio_mlp, config_json FROM runs WHERE status = 'done' ORDER BY experiment, name";
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n_runs >= n_done) break;  // a concurrent writer: report what was counted
        ReportRun *r = &out->runs[out->n_runs++];
        r->run_id = (long)sqlite3_column_int64(st, 0);
        r->experiment = col_strdup(st, 1);
        r->name = col_strdup(st, 2);
        r->model_sha256 = col_strdup(st, 3);
        r->policy = col_strdup(st, 4);
        r->policy_json = col_strdup(st, 5);
        sqlite3_int64 steps = sqlite3_column_int64(st, 6);  // sqlite3_column_int would keep the low 32 bits
        r->steps = steps < 1 || steps > 1000000 ? 0 : (int)steps;
        r->respacing = col_strdup(st, 7);
        r->sampler = col_strdup(st, 8);
        r->eta = col_num(st, 9);
        r->cfg_scale = col_num(st, 10);
        r->seed = (long)sqlite3_column_int64(st, 11);
        r->n_samples = (long)sqlite3_column_int64(st, 12);
        r->batch = (long)sqlite3_column_int64(st, 13);
        r->git_rev = col_strdup(st, 14);
        r->wall_s = col_num(st, 15);
        r->macs_all = col_num(st, 16);
        r->macs_linear = col_num(st, 17);
        r->lazy_ratio = col_num(st, 18);
        r->lazy_ratio_attn = col_num(st, 19);
        r->lazy_ratio_mlp = col_num(st, 20);
        r->quantize = config_quantize((const char *)sqlite3_column_text(st, 21), &r->labels);
        if (!r->experiment || !r->name || !r->policy || !r->policy_json || !r->model_sha256 || !r->sampler ||
            !r->respacing) {
            sqlite3_finalize(st);
            return lz_fail(d->err, "%s: run_id %ld has a NULL in a NOT NULL text column", d->path, r->run_id);
        }
        if (!r->steps) {
            sqlite3_finalize(st);
            return lz_fail(d->err, "%s: run '%s' has %lld steps (1 .. 10^6)", d->path, r->name, (long long)steps);
        }
        if (check_run_numbers(d, r)) {
            sqlite3_finalize(st);
            return -1;
        }
        for (int m = 0; m < RM_COUNT; m++) r->m[m].value = r->m[m].lo = r->m[m].hi = NAN;
        if (parse_modules(d, r)) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_fail(d, sql, rc);
    if (!out->experiment && out->n_runs) {
        size_t n = strlen(out->runs[0].experiment) + 1;
        out->experiment = lz_malloc(n, "report string");
        memcpy(out->experiment, out->runs[0].experiment, n);
    }
    return 0;
}

static int read_metrics(Db *d, ReportData *out, const RunKey *keys) {
    const char *sql = "SELECT run_id, name, value, ci_low, ci_high, n FROM metrics ORDER BY run_id, name";
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = find_run(keys, out->n_runs, (long)sqlite3_column_int64(st, 0));
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (i < 0 || !name) continue;
        for (int m = 0; m < RM_COUNT; m++) {
            if (strcmp(name, report_metric_info[m].name)) continue;
            ReportMetric *x = &out->runs[i].m[m];
            x->present = 1;
            x->value = col_num(st, 2);
            x->lo = col_num(st, 3);
            x->hi = col_num(st, 4);
            x->n = (long)sqlite3_column_int64(st, 5);
            // Infinity is a REAL SQLite stores. Only PSNR may be +inf: a run scored
            // against itself (the full-compute run with reference_steps equal to its
            // own steps) has identical samples. No other metric or interval end is.
            int bad_inf = m == RM_PSNR ? (x->value == -INFINITY || x->lo == -INFINITY || x->hi == -INFINITY)
                                       : (isinf(x->value) || isinf(x->lo) || isinf(x->hi));
            if (bad_inf) {
                lz_fail(d->err, "%s: run '%s': metric %s is not finite", d->path, out->runs[i].name, name);
                sqlite3_finalize(st);  // after the message: name belongs to the statement
                return -1;
            }
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, sql, rc);
}

// Checks that rows [begin, end) of the run form the full (module, layer,
// step) grid in order, and attaches it to the run.
static void attach_grid(ReportData *out, ReportRun *r, long begin, long end) {
    r->n_slot_rows = end - begin;
    if (end == begin) return;
    int depth = 0;
    for (long k = begin; k < end; k++)
        if (out->slots[k].layer + 1 > depth) depth = out->slots[k].layer + 1;
    long want = 2L * depth * r->steps;
    int ok = end - begin == want;
    for (long k = begin; ok && k < end; k++) {
        long i = k - begin;
        const ReportSlot *s = &out->slots[k];
        ok = s->module == (int)(i / ((long)depth * r->steps)) && s->layer == (int)(i / r->steps % depth) &&
             s->step == (int)(i % r->steps);
    }
    if (!ok) {
        out->n_incomplete++;
        return;
    }
    r->depth = depth;
    r->slots = &out->slots[begin];
    double max_skip = 0;
    for (long k = begin; k < end; k++) {
        if (out->slots[k].skip_rate > max_skip) max_skip = out->slots[k].skip_rate;
        if (out->slots[k].step > 0 && !isnan(out->slots[k].cos_mean)) r->has_similarity = 1;
    }
    r->full_compute = max_skip == 0;
}

// 1 if module_steps has the column (the bound's estimates came with the recorder).
static int has_column(Db *d, const char *table, const char *column, int *out) {
    const char *sql = "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2";
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(d, sql, rc);
    }
    *out = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return 0;
}

static int read_module_steps(Db *d, ReportData *out, const RunKey *keys) {
    int terms = 0;
    if (has_column(d, "module_steps", "bound_c", &terms)) return -1;
    long n;
    if (db_scalar(d, "SELECT count(*) FROM module_steps JOIN runs USING (run_id) WHERE runs.status = 'done'", &n))
        return -1;
    out->slots = lz_calloc((size_t)(n > 0 ? n : 1), sizeof(ReportSlot), "report module slots");
    // ORDER BY run_id, then the grid order the report indexes by.
    const char *sql_terms =
        "SELECT m.run_id, m.step, m.timestep, m.layer, m.module, m.skip_rate, m.gate_mean, m.cos_mean, m.cos_min, "
        "m.cos_p05, m.rel_l2, m.z_dist, m.z_rel_dist, m.lipschitz, m.bound_alpha, m.bound_value, m.bound_r, "
        "m.bound_c, m.bound_r2 FROM module_steps m JOIN runs r USING (run_id) WHERE r.status = 'done' "
        "ORDER BY m.run_id, m.module, m.layer, m.step";
    const char *sql_plain =
        "SELECT m.run_id, m.step, m.timestep, m.layer, m.module, m.skip_rate, m.gate_mean, m.cos_mean, m.cos_min, "
        "m.cos_p05, m.rel_l2, m.z_dist, m.z_rel_dist, m.lipschitz, m.bound_alpha, m.bound_value, NULL, NULL, NULL "
        "FROM module_steps m JOIN runs r USING (run_id) WHERE r.status = 'done' "
        "ORDER BY m.run_id, m.module, m.layer, m.step";
    const char *sql = terms ? sql_terms : sql_plain;
    sqlite3_stmt *st;
    if (db_prepare(d, sql, &st)) return -1;
    int rc;
    long cur_run = -1;
    long begin = 0;
    int cur_index = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n_slots < n) {
        long run_id = (long)sqlite3_column_int64(st, 0);
        if (run_id != cur_run) {
            if (cur_index >= 0) attach_grid(out, &out->runs[cur_index], begin, out->n_slots);
            cur_run = run_id;
            cur_index = find_run(keys, out->n_runs, run_id);
            begin = out->n_slots;
        }
        if (cur_index < 0) continue;
        ReportSlot *s = &out->slots[out->n_slots++];
        // As 64-bit integers: sqlite3_column_int keeps the low 32 bits, so
        // step 2^32 would read as step 0. Out of range is refused below.
        sqlite3_int64 step = sqlite3_column_int64(st, 1), layer = sqlite3_column_int64(st, 3),
                      timestep = sqlite3_column_int64(st, 2);
        s->step = step < 0 || step > 1000000 ? -1 : (int)step;
        s->layer = layer < 0 || layer > 4096 ? -1 : (int)layer;
        s->timestep = timestep < 0 || timestep > 1000000 ? -1 : (int)timestep;
        const char *mod = (const char *)sqlite3_column_text(st, 4);
        s->module = mod && !strcmp(mod, "mlp") ? RMOD_MLP : RMOD_ATTN;
        s->skip_rate = col_num(st, 5);
        s->gate_mean = col_num(st, 6);
        s->cos_mean = col_num(st, 7);
        s->cos_min = col_num(st, 8);
        s->cos_p05 = col_num(st, 9);
        s->rel_l2 = col_num(st, 10);
        s->z_dist = col_num(st, 11);
        s->z_rel_dist = col_num(st, 12);
        s->lipschitz = col_num(st, 13);
        s->bound_alpha = col_num(st, 14);
        s->bound_value = col_num(st, 15);
        s->bound_r = col_num(st, 16);
        s->bound_c = col_num(st, 17);
        s->bound_r2 = col_num(st, 18);
        int inf = 0;
        for (int k = 5; k <= 18; k++) inf |= isinf(col_num(st, k));
        if (inf) {
            sqlite3_finalize(st);
            return lz_fail(d->err, "%s: run '%s': a module_steps value at step %d, layer %d is infinite", d->path,
                           out->runs[cur_index].name, s->step, s->layer);
        }
        if (s->layer < 0 || s->step < 0 || s->step >= out->runs[cur_index].steps || s->timestep < 0) {
            sqlite3_finalize(st);
            return lz_fail(d->err, "%s: run '%s': module_steps row with step %lld, layer %lld, timestep %lld is outside "
                           "the run's %d steps, 4097 layers or 10^6 timesteps",
                           d->path, out->runs[cur_index].name, (long long)step, (long long)layer, (long long)timestep,
                           out->runs[cur_index].steps);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_fail(d, sql, rc);
    if (cur_index >= 0) attach_grid(out, &out->runs[cur_index], begin, out->n_slots);
    return 0;
}

int report_db_load(ReportData *out, const char *path, LzError *err) {
    return report_db_load_with(out, path, REPORT_PAIRED_RESAMPLES, err);
}

int report_db_load_with(ReportData *out, const char *path, int paired_resamples, LzError *err) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return lz_fail(err, "%s: no such database file", path);
    if (!S_ISREG(sb.st_mode)) return lz_fail(err, "%s: not a regular file", path);
    // In a directory that cannot be written, a WAL database opens only as
    // immutable (no -shm file can be made there): the name merge uses too.
    char uri[2200];
    if (rdb_read_uri(path, uri, sizeof uri, err)) return -1;
    Db d = {NULL, path, err};
    int rc = sqlite3_open_v2(uri, &d.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        lz_fail(err, "%s: cannot open as SQLite database: %s", path, d.db ? sqlite3_errmsg(d.db) : sqlite3_errstr(rc));
        sqlite3_close(d.db);
        return -1;
    }
    sqlite3_busy_timeout(d.db, 5000);
    long version;
    int bad = db_scalar(&d, "PRAGMA user_version", &version);
    if (!bad && version != 1)
        bad = lz_fail(err, "%s: schema version %ld, this report reads version 1 (analysis/schema.sql)", path, version);
    RunKey *keys = NULL;
    if (!bad) bad = read_meta(&d, out) || read_runs(&d, out);
    if (!bad) {
        keys = lz_malloc(sizeof(RunKey) * (size_t)(out->n_runs > 0 ? out->n_runs : 1), "report run index");
        for (int i = 0; i < out->n_runs; i++) keys[i] = (RunKey){out->runs[i].run_id, i};
        qsort(keys, (size_t)out->n_runs, sizeof *keys, cmp_run_key);
        bad = read_metrics(&d, out, keys) || read_module_steps(&d, out, keys);
    }
    free(keys);
    if (!bad) bad = report_paired_prepare(out, d.db, path, paired_resamples, err);
    sqlite3_close(d.db);
    if (bad) {
        report_db_free(out);
        return -1;
    }
    return 0;
}

void report_db_free(ReportData *d) {
    for (int i = 0; i < d->n_runs; i++) {
        ReportRun *r = &d->runs[i];
        free(r->experiment);
        free(r->name);
        free(r->model_sha256);
        free(r->policy);
        free(r->policy_json);
        free(r->respacing);
        free(r->sampler);
        free(r->git_rev);
        free(r->labels);
    }
    report_paired_free(d);
    free(d->runs);
    free(d->slots);
    free(d->experiment);
    free(d->config_sha256);
    memset(d, 0, sizeof *d);
}

double report_layer_lazy_ratio(const ReportRun *r, int module, int layer) {
    if (!r->slots) return NAN;
    double s = 0;
    for (int t = 0; t < r->steps; t++) s += report_slot(r, module, layer, t)->skip_rate;
    return s / r->steps;
}
