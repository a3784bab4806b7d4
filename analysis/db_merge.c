// db_merge.c: merging result databases (see db_merge.h).
#include "analysis/db_merge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/result_db.h"
#include "model/io/file_rules.h"

// Tables with rows per run; runs itself is copied first. An input made before
// sample_features existed has no such table (its runs have no features).
static const char *const child_tables[] = {"module_steps",   "module_rows",  "metrics",
                                           "sample_metrics", "weight_norms", "sample_features"};
#define N_CHILD ((int)(sizeof child_tables / sizeof child_tables[0]))

typedef struct {
    char experiment[256], sha[80];
    int has_experiment, has_sha;
} Identity;

static int read_identity(const char *path, Identity *id, LzError *err) {
    memset(id, 0, sizeof *id);
    if (access(path, F_OK) != 0) return lz_fail(err, "%s: no such database", path);
    ResultDb db;
    if (rdb_open_readonly(&db, path, err)) return -1;
    int rc = 0;
    if ((id->has_experiment = rdb_meta_get(&db, "experiment", id->experiment, sizeof id->experiment, err)) < 0 ||
        (id->has_sha = rdb_meta_get(&db, "config_sha256", id->sha, sizeof id->sha, err)) < 0)
        rc = -1;
    rdb_close(&db);
    return rc;
}

static int same_identity(const Identity *a, const char *pa, const Identity *b, const char *pb, LzError *err) {
    if (!a->has_experiment || !b->has_experiment) return 0;  // an empty database (no run yet) fits anything
    if (strcmp(a->experiment, b->experiment))
        return lz_fail(err, "%s holds experiment '%s' but %s holds '%s': only databases of one experiment merge", pb,
                       b->experiment, pa, a->experiment);
    if (a->has_sha != b->has_sha || (a->has_sha && strcmp(a->sha, b->sha)))
        return lz_fail(err, "%s and %s come from different configs of experiment '%s' (config sha256 %.12s vs %.12s)",
                       pa, pb, a->experiment, a->has_sha ? a->sha : "none", b->has_sha ? b->sha : "none");
    return 0;
}

// "INSERT INTO main.T (c1, c2, ...) SELECT :new_id, c2, ... FROM src.T WHERE run_id = :src_id"
static char *copy_sql(ResultDb *db, const char *table, LzError *err) {
    char q[128];
    snprintf(q, sizeof q, "PRAGMA main.table_info(%s)", table);
    sqlite3_stmt *st = rdb_prepare(db, q, err);
    if (!st) return NULL;
    size_t cap = 4096;
    char *cols = lz_calloc(cap, 1, "merge SQL"), *sel = lz_calloc(cap, 1, "merge SQL");
    int rc, first = 1;
    while ((rc = rdb_step_row(db, st, "read the table layout", err)) == 1) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        CHECK(strlen(cols) + strlen(name) + 8 < cap && strlen(sel) + strlen(name) + 16 < cap, "table %s too wide", table);
        strcat(cols, first ? "" : ", ");
        strcat(cols, name);
        strcat(sel, first ? "" : ", ");
        strcat(sel, strcmp(name, "run_id") ? name : ":new_id");
        first = 0;
    }
    sqlite3_finalize(st);
    char *sql = NULL;
    if (rc == 0) {
        sql = lz_malloc(3 * cap, "merge SQL");
        snprintf(sql, 3 * cap, "INSERT INTO main.%s (%s) SELECT %s FROM src.%s WHERE run_id = :src_id", table, cols, sel,
                 table);
    }
    free(cols);
    free(sel);
    return sql;
}

// Copies run src_id of src as new_id (runs row and every child row that src has).
static int copy_run(ResultDb *db, char *const *sql, const int *src_has, int64_t src_id, int64_t new_id, LzError *err) {
    for (int t = 0; t <= N_CHILD; t++) {
        if (t > 0 && !src_has[t - 1]) continue;
        sqlite3_stmt *st = rdb_prepare(db, sql[t], err);
        if (!st) return -1;
        rdb_bind_int64(st, ":new_id", new_id);
        rdb_bind_int64(st, ":src_id", src_id);
        int rc = rdb_step_done(db, st, "copy a run", err);
        sqlite3_finalize(st);
        if (rc) return -1;
    }
    return 0;
}

static int merge_one(ResultDb *db, const char *in, char *const *sql, DbMergeStats *stats, LzError *err) {
    char uri[2200];
    if (rdb_read_uri(in, uri, sizeof uri, err)) return -1;
    sqlite3_stmt *att = rdb_prepare(db, "ATTACH DATABASE :path AS src", err);
    if (!att) return -1;
    rdb_bind_text(att, ":path", uri);
    char what[1100];
    snprintf(what, sizeof what, "attach %s", in);
    int rc = rdb_step_done(db, att, what, err);
    sqlite3_finalize(att);
    if (rc) return -1;
    sqlite3_stmt *list = NULL, *find = NULL, *used = NULL;
    rc = -1;
    if (rdb_begin(db, err)) goto detach;
    if (rdb_exec(db,
                 "INSERT OR IGNORE INTO main.meta (key, value) SELECT key, value FROM src.meta "
                 "WHERE key IN ('experiment', 'config_sha256', 'config')",
                 "copy the experiment's identity", err))
        goto out;
    int src_has[N_CHILD];
    for (int t = 0; t < N_CHILD; t++) {
        char q[160];
        snprintf(q, sizeof q, "SELECT count(*) FROM src.sqlite_master WHERE type = 'table' AND name = '%s'",
                 child_tables[t]);
        int64_t k = 0;
        if (rdb_query_int64(db, q, &k, err)) goto out;
        src_has[t] = k > 0;
    }
    // The reference fits of stored features first (sample_features refer to
    // them). Their key is a hash of the classifier and the reference images,
    // so an id present in both databases holds the same statistics.
    if (src_has[N_CHILD - 1] &&
        rdb_exec(db,
                 "INSERT OR IGNORE INTO main.feature_references (reference, dim, count, mu, sigma) "
                 "SELECT reference, dim, count, mu, sigma FROM src.feature_references",
                 "copy the feature references", err))
        goto out;
    list = rdb_prepare(db, "SELECT run_id, experiment, name, status, config_json FROM src.runs ORDER BY run_id", err);
    find = rdb_prepare(db,
                       "SELECT run_id, status, config_json IS :config_json FROM main.runs "
                       "WHERE experiment = :experiment AND name = :name",
                       err);
    used = rdb_prepare(db, "SELECT count(*) FROM main.runs WHERE run_id = :run_id", err);
    if (!list || !find || !used) goto out;
    int row;
    while ((row = rdb_step_row(db, list, "list the input's runs", err)) == 1) {
        int64_t src_id = sqlite3_column_int64(list, 0);
        const char *experiment = (const char *)sqlite3_column_text(list, 1);
        const char *name = (const char *)sqlite3_column_text(list, 2);
        const char *status = (const char *)sqlite3_column_text(list, 3);
        const char *config = (const char *)sqlite3_column_text(list, 4);
        // A foreign database need not have the schema's NOT NULL constraints.
        if (!status || strcmp(status, "done")) {
            stats->skipped++;
            continue;
        }
        if (!experiment || !name) {
            lz_fail(err, "%s: run_id %lld is done but has no %s", in, (long long)src_id, experiment ? "name" : "experiment");
            goto out;
        }
        rdb_bind_text(find, ":experiment", experiment);
        rdb_bind_text(find, ":name", name);
        rdb_bind_text(find, ":config_json", config);
        int f = rdb_step_row(db, find, "look up the run in the output", err);
        if (f < 0) goto out;
        int replaced = 0;
        if (f == 1) {
            int64_t out_id = sqlite3_column_int64(find, 0);
            const char *out_status = (const char *)sqlite3_column_text(find, 1);
            int out_done = out_status && !strcmp(out_status, "done");
            int same_config = sqlite3_column_int(find, 2);
            sqlite3_reset(find);
            if (out_done) {
                if (!same_config) {
                    lz_fail(err, "%s: run '%s' is done in both %s and the output but with different settings "
                                 "(config_json differs); refusing to merge",
                            in, name, in);
                    goto out;
                }
                stats->present++;
                continue;
            }
            if (rdb_delete_run(db, out_id, err)) goto out;
            replaced = 1;
        }
        sqlite3_clear_bindings(find);
        int64_t new_id = src_id, n_used = 0;
        rdb_bind_int64(used, ":run_id", src_id);
        if (rdb_step_row(db, used, "check the run id", err) != 1) goto out;
        n_used = sqlite3_column_int64(used, 0);
        sqlite3_reset(used);
        if (n_used && rdb_query_int64(db, "SELECT max(run_id) + 1 FROM main.runs", &new_id, err)) goto out;
        if (copy_run(db, sql, src_has, src_id, new_id, err)) goto out;
        stats->added++;
        stats->replaced += replaced;
    }
    if (row < 0) goto out;
    if (rdb_commit(db, err)) goto out;
    rc = 0;
out:
    sqlite3_finalize(list);
    sqlite3_finalize(find);
    sqlite3_finalize(used);
    if (rc) rdb_rollback(db);
detach:;
    LzError ignored;
    rdb_exec(db, "DETACH DATABASE src", "detach the input", rc ? &ignored : err);
    return rc;
}

int db_merge(const char *out_path, const char *const *inputs, int n_inputs, DbMergeStats *stats, LzError *err) {
    memset(stats, 0, sizeof *stats);
    if (n_inputs < 1) return lz_fail(err, "merge: no input databases");
    // The file rules (model/io/file_rules.h), before SQLite opens anything:
    // inputs are regular files (a FIFO would block SQLite's open), OUT is not
    // an input (by inode too: a hard link or another path to it), nor a
    // device, FIFO, directory or symbolic link (SQLite would write through the
    // link); its directory is created if missing. OUT is updated in place, in
    // transactions, so it is not staged.
    RunFiles rf;
    run_files_init(&rf);
    int bad = 0;
    for (int i = 0; i < n_inputs && !bad; i++) bad = run_files_input(&rf, inputs[i], err);
    if (!bad) bad = run_files_output(&rf, out_path, RF_MKDIR, err);
    run_files_free(&rf);
    if (bad) return -1;
    // Check everything before writing anything.
    Identity *ids = lz_calloc((size_t)n_inputs, sizeof(Identity), "merge inputs");
    char out_real[PATH_MAX] = "";
    int out_exists = access(out_path, F_OK) == 0;
    if (out_exists && !realpath(out_path, out_real)) out_real[0] = 0;
    int rc = -1;
    for (int i = 0; i < n_inputs; i++) {
        char in_real[PATH_MAX];
        if (out_real[0] && realpath(inputs[i], in_real) && !strcmp(in_real, out_real)) {
            lz_fail(err, "%s is the output database: give it once, as OUT", inputs[i]);
            goto done;
        }
        if (read_identity(inputs[i], &ids[i], err)) goto done;
        for (int j = 0; j < i; j++)
            if (same_identity(&ids[j], inputs[j], &ids[i], inputs[i], err)) goto done;
    }
    if (out_exists) {
        Identity out;
        if (read_identity(out_path, &out, err)) goto done;
        for (int i = 0; i < n_inputs; i++)
            if (same_identity(&out, out_path, &ids[i], inputs[i], err)) goto done;
    }
    ResultDb db;
    if (rdb_open(&db, out_path, err)) goto done;
    char *sql[N_CHILD + 1] = {0};
    int ok = (sql[0] = copy_sql(&db, "runs", err)) != NULL;
    for (int t = 0; t < N_CHILD && ok; t++) ok = (sql[t + 1] = copy_sql(&db, child_tables[t], err)) != NULL;
    for (int i = 0; i < n_inputs && ok; i++) ok = merge_one(&db, inputs[i], sql, stats, err) == 0;
    for (int t = 0; t <= N_CHILD; t++) free(sql[t]);
    rdb_close(&db);
    rc = ok ? 0 : -1;
done:
    free(ids);
    return rc;
}
