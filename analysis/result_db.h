// result_db.h: the SQLite result database (schema: analysis/schema.sql, which
// is compiled into the binary). Opening creates the schema in a new file and
// checks the schema version of an existing one; every write goes through
// prepared statements bound by name and is checked, and every error is one
// line naming the database file, what was being done and SQLite's message.
//
// Durability: WAL journal with synchronous=NORMAL. A killed process (kill -9)
// loses at most the transaction it was in, never a committed one, and never
// leaves a half-written row; a full disk or a read-only directory makes the
// failing transaction roll back and leaves the file as it was.
#pragma once
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/base/check.h"

#define RDB_SCHEMA_VERSION 1

typedef struct {
    sqlite3 *db;
    char path[1024];
} ResultDb;

// Opens (creating if needed) the database at path: WAL, foreign keys on, a
// busy timeout (so a reader such as sqlite3 does not make a write fail), and
// the schema created in a new or empty file. An existing file of another
// schema version, or one that is not a lazydit result database, is an error.
// The first write happens here, so a read-only directory or a full disk fails
// now, before any sampling.
int rdb_open(ResultDb *r, const char *path, LzError *err);
// Opens an existing database for reading only (merge inputs); checks the
// schema version like rdb_open but never writes. Works in a read-only
// directory too (see rdb_read_uri).
int rdb_open_readonly(ResultDb *r, const char *path, LzError *err);
// The name to open or ATTACH path for reading: the path itself, or, in a
// directory that cannot be written (so no -shm file can be made and nobody
// can be writing there), "file:PATH?immutable=1". A -wal file next to it in
// such a directory is an error (immutable would not see its pages).
int rdb_read_uri(const char *path, char *uri, size_t len, LzError *err);
void rdb_close(ResultDb *r);

// Runs SQL without results (may hold several statements).
int rdb_exec(ResultDb *r, const char *sql, const char *what, LzError *err);
int rdb_begin(ResultDb *r, LzError *err);   // BEGIN IMMEDIATE
int rdb_commit(ResultDb *r, LzError *err);
void rdb_rollback(ResultDb *r);             // best effort, after an error

// meta table: value of key into buf ("" and 0 if absent; 1 if present).
int rdb_meta_get(ResultDb *r, const char *key, char *buf, size_t len, LzError *err);
int rdb_meta_set(ResultDb *r, const char *key, const char *value, LzError *err);

// Prepared statements. rdb_prepare fails with the SQL text in the message.
sqlite3_stmt *rdb_prepare(ResultDb *r, const char *sql, LzError *err);
// Binding by parameter name (":name"); a name the statement does not have is
// a programming error (CHECK), a value is never silently dropped. NaN and
// infinities are stored as NULL (SQLite has no NaN; NULL means "not defined").
void rdb_bind_int64(sqlite3_stmt *st, const char *name, int64_t v);
void rdb_bind_double(sqlite3_stmt *st, const char *name, double v);
void rdb_bind_text(sqlite3_stmt *st, const char *name, const char *v);  // NULL binds NULL
void rdb_bind_null(sqlite3_stmt *st, const char *name);
// Steps a statement that returns no rows, then resets it and clears its
// bindings. Errors name the database, `what` and the SQL.
int rdb_step_done(ResultDb *r, sqlite3_stmt *st, const char *what, LzError *err);
// Steps a query: 1 = a row is ready, 0 = done (statement reset), -1 = error.
int rdb_step_row(ResultDb *r, sqlite3_stmt *st, const char *what, LzError *err);
// Formats "<path>: <what>: <sqlite message>[ hint]" into err; returns -1.
int rdb_fail(ResultDb *r, int rc, const char *what, LzError *err);

// One integer from a query without parameters (e.g. a count). Returns -1 on error.
int rdb_query_int64(ResultDb *r, const char *sql, int64_t *out, LzError *err);

// Deletes a run and every row that refers to it (module_steps, module_rows,
// metrics, sample_metrics, weight_norms, sample_features), inside the
// caller's transaction. (feature_references rows are shared by runs and stay.)
int rdb_delete_run(ResultDb *r, int64_t run_id, LzError *err);
