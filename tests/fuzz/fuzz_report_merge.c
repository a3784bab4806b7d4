// Fuzz target: a hostile result database (tests/fuzz/fuzz_db.h: the input is
// SQL run on a fresh schema-v1 database) through the two commands that read
// foreign databases, with their files: the whole `lazydit report` written
// without rendering (report_write: every table, figure script, .dat file and
// study, into a scratch directory) and `lazydit merge` into a new database,
// twice: the second merge must add and replace nothing. Slower than the
// in-memory result_db target (about 50 executions a second: two SQLite
// databases and some twenty report files per input).
#include "analysis/db_merge.h"
#include "analysis/report.h"
#include "tests/fuzz/fuzz_db.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_db_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    make_db(data, size);
    LzError err;
    // 20 paired bootstrap resamples: the pairing code runs, cheaply.
    ReportOptions o = {db_path, out_dir, NULL, NULL, 0, NULL, 20};
    if (report_write(&o, &err) && (!err.msg[0] || strchr(err.msg, '\n'))) abort();

    remove_db(out_db);
    const char *inputs[1] = {db_path};
    DbMergeStats s1, s2;
    if (db_merge(out_db, inputs, 1, &s1, &err) == 0) {
        // Merging the same input again changes nothing.
        if (db_merge(out_db, inputs, 1, &s2, &err)) abort();
        if (s2.added || s2.replaced) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
