// fuzz_db.h: shared by the result-database fuzz targets (fuzz_result_db.c,
// fuzz_report_merge.c). A result database made by someone else is mostly
// SQLite's own format, which SQLite validates; what lazydit must survive is
// the content: NULLs, wrong types, absurd numbers, missing or extra rows and
// tables. So the input is SQL text, run on a fresh schema-v1 database (INSERTs
// of a small real database in the seeds; the fuzzer may also drop and
// recreate tables without the schema's constraints).
//
// The script runs under limits so that it cannot touch other files or run
// forever: no ATTACH (nor VACUUM INTO, which attaches), no PRAGMA, values of
// at most 100 kB, and an interrupt after a few million virtual machine steps.
#pragma once
#include <sqlite3.h>
#include <sys/stat.h>

#include "analysis/result_db.h"
#include "tests/fuzz/fuzz_util.h"


static unsigned char *template_db;  // a fresh database made by rdb_open
static size_t template_len;
static char db_path[300], out_db[300], out_dir[300];

static void remove_db(const char *path) {
    char side[320];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void cleanup(void) {
    remove_db(db_path);
    remove_db(out_db);
    // The report's files (one level, names chosen by the report).
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out_dir);
    if (system(cmd)) {
    }
}

// Makes the template database and the scratch names (call from LLVMFuzzerInitialize).
static void fuzz_db_init(void) {
    const char *base = fuzz_out_path();  // "<scratch>.out", unique per process
    snprintf(db_path, sizeof db_path, "%s.db", base);
    snprintf(out_db, sizeof out_db, "%s.merged.db", base);
    snprintf(out_dir, sizeof out_dir, "%s.report", base);
    atexit(cleanup);
    // No lookaside buffers: each of the connections an input opens would
    // otherwise allocate (and ASan poison) 120 kB of them.
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
    LzError err;
    ResultDb db;
    remove_db(db_path);
    if (rdb_open(&db, db_path, &err)) {
        fprintf(stderr, "fuzz_result_db: %s\n", err.msg);
        abort();
    }
    // A rollback journal instead of WAL: no -wal and -shm files (and no
    // shared-memory mapping) per input, 2x faster; readers do not care.
    if (rdb_exec(&db, "PRAGMA journal_mode = DELETE", "template journal", &err)) abort();
    rdb_close(&db);
    FILE *f = fopen(db_path, "rb");
    if (!f) abort();
    struct stat st;
    if (fstat(fileno(f), &st)) abort();
    template_len = (size_t)st.st_size;
    template_db = malloc(template_len);
    if (!template_db || fread(template_db, 1, template_len, f) != template_len) abort();
    fclose(f);
}

static int deny_outside(void *user, int action, const char *a, const char *b, const char *c, const char *d) {
    (void)user, (void)a, (void)b, (void)c, (void)d;
    return action == SQLITE_ATTACH || action == SQLITE_DETACH || action == SQLITE_PRAGMA ? SQLITE_DENY : SQLITE_OK;
}

static int stop_after(void *user) { return ++*(int *)user > 3000; }

// The database the input describes, at db_path.
static void make_db(const uint8_t *data, size_t size) {
    remove_db(db_path);
    FILE *f = fopen(db_path, "wb");
    if (!f || fwrite(template_db, 1, template_len, f) != template_len || fclose(f)) abort();
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) abort();
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 100000);
    sqlite3_set_authorizer(db, deny_outside, NULL);
    int ticks = 0;
    sqlite3_progress_handler(db, 1000, stop_after, &ticks);
    char *sql = fuzz_string(data, size);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_exec(db, sql, NULL, NULL, NULL);  // errors end the script; what ran stays
    ticks = 0;
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    free(sql);
    if (sqlite3_close(db) != SQLITE_OK) abort();
}

