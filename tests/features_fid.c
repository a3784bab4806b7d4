// features_fid.c: test helper for tests/test_runner.sh (not a test binary by
// itself, hence not named test_*.c; the shell test compiles it against
// liblazydit.a).
//
//   features_fid DB
//
// For every run of DB with stored sample_features, recomputes the FID-proxy
// from the features and the stored reference fit (sample_features_fid) and
// compares it with the run's metrics fid: prints "<runs> ok" and exits 0 when
// every one agrees to 1e-9 relative, else one line per disagreement and exit 1.
#include <math.h>
#include <stdio.h>

#include "analysis/sample_features.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: features_fid DB\n");
        return 2;
    }
    LzError err;
    ResultDb db;
    if (rdb_open_readonly(&db, argv[1], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    sqlite3_stmt *st = rdb_prepare(&db,
                                   "SELECT s.run_id, m.value FROM sample_features s LEFT JOIN metrics m "
                                   "ON m.run_id = s.run_id AND m.name = 'fid' ORDER BY s.run_id",
                                   &err);
    int runs = 0, bad = 0, rc;
    while (st && (rc = rdb_step_row(&db, st, "list runs", &err)) == 1) {
        int64_t run_id = sqlite3_column_int64(st, 0);
        double stored = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1);
        RunFeatures f;
        double fid = NAN;
        if (sample_features_read(&db, run_id, &f, &err) != 1 ||
            sample_features_fid(&fid, f.x, NULL, f.n, f.dim, &f.ref, &err)) {
            printf("run %lld: %s\n", (long long)run_id, err.msg);
            bad++;
        } else if (!(fabs(fid - stored) <= 1e-9 * fabs(stored))) {
            printf("run %lld: fid from features %.17g, metrics fid %.17g\n", (long long)run_id, fid, stored);
            bad++;
        }
        sample_features_free(&f);
        runs++;
    }
    if (!st || rc < 0) {
        printf("%s\n", err.msg);
        bad++;
    }
    sqlite3_finalize(st);
    rdb_close(&db);
    if (!bad) printf("%d ok\n", runs);
    return bad ? 1 : 0;
}
