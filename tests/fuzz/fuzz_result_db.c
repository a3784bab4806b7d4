// Fuzz target: a hostile result database (tests/fuzz/fuzz_db.h: the input is
// SQL run on a fresh schema-v1 database) as `lazydit report` loads it
// (report_db_load: runs, metrics, the module_steps grids) and every part of
// the report computed in memory: the main table, the claims and their
// verdicts, the bound study rows of each run, the linear probe, the per-layer
// lazy ratios. fuzz_report_merge.c adds the report's files and `lazydit merge`.
#include <math.h>

#include "analysis/report.h"
#include "analysis/report_claims.h"
#include "analysis/report_study.h"
#include "tests/fuzz/fuzz_db.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_db_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    make_db(data, size);
    LzError err;
    ReportData d;
    // Stored sample features get 20 paired bootstrap resamples (cheap, and the code runs).
    if (report_db_load_with(&d, db_path, 20, &err)) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();
        return 0;
    }
    // What the loader promises the report.
    for (int i = 0; i < d.n_runs; i++) {
        const ReportRun *r = &d.runs[i];
        if (!r->experiment || !r->name || !r->policy || !r->policy_json || r->steps < 1) abort();
        if (r->slots) {
            if (r->depth < 1) abort();
            for (int m = 0; m < 2; m++)
                for (int l = 0; l < r->depth; l++)
                    for (int s = 0; s < r->steps; s++) {
                        const ReportSlot *x = report_slot(r, m, l, s);
                        if (x->module != m || x->layer != l || x->step != s) abort();
                    }
        }
    }
    ReportText t;
    rt_init(&t);
    report_main_table(&t, &d);
    rt_free(&t);
    static ReportClaim claims[REPORT_N_CLAIMS];
    report_claims(&d, claims);
    ReportProbe probe;
    report_probe(&d, &probe);
    int study[4];
    int n = report_study_runs(&d, study, 4);
    if (n < 0 || n > 4) abort();
    for (int i = 0; i < d.n_runs; i++) {
        const ReportRun *r = &d.runs[i];
        if (!r->slots) continue;
        ReportBoundRow *rows = lz_calloc(2 * (size_t)r->depth, sizeof *rows, "fuzz bound rows");
        if (report_bound_rows(r, rows) > 2 * r->depth) abort();
        free(rows);
        for (int l = 0; l < r->depth; l++) (void)report_layer_lazy_ratio(r, 0, l);
    }
    report_db_free(&d);
    return 0;
}
