// sample_features.c: storing and reading a run's per-sample FID-proxy features
// (see sample_features.h).
#include "analysis/sample_features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/sha256.h"

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void sample_features_reference_id(char out[SAMPLE_FEATURES_REF_LEN], const uint8_t classifier_sha[32],
                                  const uint8_t reference_key[32]) {
    char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
    sha256_hex(classifier_sha, a);
    sha256_hex(reference_key, b);
    snprintf(out, SAMPLE_FEATURES_REF_LEN, "%s_%s", a, b);
}

static void bind_blob(sqlite3_stmt *st, const char *name, const void *p, size_t bytes) {
    int i = sqlite3_bind_parameter_index(st, name);
    CHECK(i > 0, "SQL statement \"%s\" has no parameter %s", sqlite3_sql(st), name);
    CHECK(bytes < (size_t)0x7fffffff, "blob of %zu bytes too large for SQLite", bytes);
    int rc = sqlite3_bind_blob(st, i, p, (int)bytes, SQLITE_TRANSIENT);
    CHECK(rc == SQLITE_OK, "binding %s: %s", name, sqlite3_errstr(rc));
}

// 1 when the stored reference `reference` equals ref, 0 when absent, -1 when
// it differs (an error) or on a database error.
static int stored_reference_matches(ResultDb *db, const char *reference, const GaussStats *ref, LzError *err) {
    sqlite3_stmt *st = rdb_prepare(db, "SELECT dim, count, mu, sigma FROM feature_references WHERE reference = :ref", err);
    if (!st) return -1;
    rdb_bind_text(st, ":ref", reference);
    int rc = rdb_step_row(db, st, "read a feature reference", err);
    if (rc == 1) {
        size_t d = (size_t)ref->dim;
        bool same = sqlite3_column_int64(st, 0) == ref->dim && sqlite3_column_double(st, 1) == ref->count &&
                    (size_t)sqlite3_column_bytes(st, 2) == 8 * d && (size_t)sqlite3_column_bytes(st, 3) == 8 * d * d &&
                    !memcmp(sqlite3_column_blob(st, 2), ref->mu, 8 * d) &&
                    !memcmp(sqlite3_column_blob(st, 3), ref->sigma, 8 * d * d);
        if (!same)
            rc = lz_fail(err, "%s: feature reference %.16s... is stored with other statistics than this run's "
                              "(a reference cache rebuilt differently?)",
                         db->path, reference);
    }
    sqlite3_finalize(st);
    return rc;
}

int sample_features_write(ResultDb *db, int64_t run_id, const float *x, long n, int dim, const char *reference,
                          const GaussStats *ref, LzError *err) {
    if (!host_is_little_endian())
        return lz_fail(err, "%s: sample features are stored little-endian; big-endian hosts are not supported", db->path);
    CHECK(ref->dim == dim && n >= 1, "sample features: %ld x %d against a reference of dim %d", n, dim, ref->dim);
    int have = stored_reference_matches(db, reference, ref, err);
    if (have < 0) return -1;
    sqlite3_stmt *st;
    if (!have) {
        st = rdb_prepare(db,
                         "INSERT INTO feature_references (reference, dim, count, mu, sigma) "
                         "VALUES (:ref, :dim, :count, :mu, :sigma)",
                         err);
        if (!st) return -1;
        rdb_bind_text(st, ":ref", reference);
        rdb_bind_int64(st, ":dim", dim);
        rdb_bind_double(st, ":count", ref->count);
        bind_blob(st, ":mu", ref->mu, sizeof(double) * (size_t)dim);
        bind_blob(st, ":sigma", ref->sigma, sizeof(double) * (size_t)dim * dim);
        int rc = rdb_step_done(db, st, "write the feature reference", err);
        sqlite3_finalize(st);
        if (rc) return -1;
    }
    st = rdb_prepare(db,
                     "INSERT INTO sample_features (run_id, reference, n, dim, features) "
                     "VALUES (:run_id, :ref, :n, :dim, :features)",
                     err);
    if (!st) return -1;
    rdb_bind_int64(st, ":run_id", run_id);
    rdb_bind_text(st, ":ref", reference);
    rdb_bind_int64(st, ":n", n);
    rdb_bind_int64(st, ":dim", dim);
    bind_blob(st, ":features", x, sizeof(float) * (size_t)n * dim);
    int rc = rdb_step_done(db, st, "write sample_features", err);
    sqlite3_finalize(st);
    return rc;
}

int sample_features_tables(ResultDb *db, bool *present, LzError *err) {
    int64_t k = 0;
    if (rdb_query_int64(db,
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                        "name IN ('sample_features', 'feature_references')",
                        &k, err))
        return -1;
    *present = k == 2;
    return 0;
}

int sample_features_read(ResultDb *db, int64_t run_id, RunFeatures *f, LzError *err) {
    memset(f, 0, sizeof *f);
    if (!host_is_little_endian())
        return lz_fail(err, "%s: sample features are stored little-endian; big-endian hosts are not supported", db->path);
    sqlite3_stmt *st = rdb_prepare(db,
                                   "SELECT s.n, s.dim, s.features, s.reference, r.dim, r.count, r.mu, r.sigma "
                                   "FROM sample_features s LEFT JOIN feature_references r USING (reference) "
                                   "WHERE s.run_id = :run_id",
                                   err);
    if (!st) return -1;
    rdb_bind_int64(st, ":run_id", run_id);
    int rc = rdb_step_row(db, st, "read sample_features", err);
    if (rc != 1) {
        sqlite3_finalize(st);
        return rc;
    }
    long n = (long)sqlite3_column_int64(st, 0);
    int64_t dim = sqlite3_column_int64(st, 1), rdim = sqlite3_column_int64(st, 4);
    const char *reference = (const char *)sqlite3_column_text(st, 3);
    size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
    if (n < 1 || dim < 1 || dim > 65536 || bytes != sizeof(float) * (size_t)n * (size_t)dim) {
        rc = lz_fail(err, "%s: sample_features of run %lld: %zu bytes for n = %ld, dim = %lld", db->path,
                     (long long)run_id, bytes, n, (long long)dim);
    } else if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
        rc = lz_fail(err, "%s: sample_features of run %lld refer to reference %.16s..., which is not stored", db->path,
                     (long long)run_id, reference);
    } else if (rdim != dim || (size_t)sqlite3_column_bytes(st, 6) != 8 * (size_t)dim ||
               (size_t)sqlite3_column_bytes(st, 7) != 8 * (size_t)dim * (size_t)dim || !(sqlite3_column_double(st, 5) > 1)) {
        rc = lz_fail(err, "%s: feature reference %.16s... does not fit the features of run %lld (dim %lld vs %lld)",
                     db->path, reference, (long long)run_id, (long long)rdim, (long long)dim);
    } else {
        size_t d = (size_t)dim;
        f->n = n;
        f->dim = (int)dim;
        f->x = lz_malloc(bytes, "stored sample features");  // (n, dim)
        memcpy(f->x, sqlite3_column_blob(st, 2), bytes);
        snprintf(f->reference, sizeof f->reference, "%s", reference);
        f->ref.dim = (int)dim;
        f->ref.count = sqlite3_column_double(st, 5);
        f->ref.mu = lz_malloc(8 * d, "stored reference mu");            // (D)
        f->ref.sigma = lz_malloc(8 * d * d, "stored reference sigma");  // (D, D)
        memcpy(f->ref.mu, sqlite3_column_blob(st, 6), 8 * d);
        memcpy(f->ref.sigma, sqlite3_column_blob(st, 7), 8 * d * d);
        rc = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

void sample_features_free(RunFeatures *f) {
    free(f->x);
    gauss_stats_free(&f->ref);
    memset(f, 0, sizeof *f);
}

int sample_features_fid_prepared(double *fid, const float *x, const double *w, long n, int dim,
                                 const FrechetPrepared *ref, LzError *err) {
    if (ref->dim != dim) return lz_fail(err, "frechet distance: feature dimensions differ (%d vs %d)", ref->dim, dim);
    GaussStats s;
    if (gauss_stats_compute_weighted(&s, x, w, n, dim, err)) return -1;
    int rc = frechet_distance_prepared(fid, NULL, ref, s.mu, s.sigma, err);
    gauss_stats_free(&s);
    return rc;
}

int sample_features_fid(double *fid, const float *x, const double *w, long n, int dim, const GaussStats *ref,
                        LzError *err) {
    FrechetPrepared p;
    if (frechet_prepare(&p, ref->mu, ref->sigma, ref->dim, err)) return -1;
    int rc = sample_features_fid_prepared(fid, x, w, n, dim, &p, err);
    frechet_prepared_free(&p);
    return rc;
}
