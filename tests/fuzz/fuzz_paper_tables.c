// Fuzz target: the paper-table CSV that `lazydit report --paper-tables` reads
// (analysis/report_paper.h): file reading with its size cap, the line and
// quoted-field splitter, the header, the number fields and their ranges.
// Loaded rows must hold what the parser promises.
#include <math.h>

#include "analysis/report_paper.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    PaperRow *rows = NULL;
    int n = 0;
    LzError err;
    if (paper_rows_load(fuzz_file(data, size), &rows, &n, &err) == 0) {
        if (n < 1) abort();
        for (int i = 0; i < n; i++) {
            const PaperRow *r = &rows[i];
            int ddim = !strcmp(r->method, "ddim");
            if ((!ddim && strcmp(r->method, "lazydit")) || r->steps < 1 || r->steps > 1000) abort();
            if (memchr(r->table, 0, sizeof r->table) == NULL || memchr(r->model, 0, sizeof r->model) == NULL) abort();
            if (!ddim && !(r->lazy_ratio >= 0 && r->lazy_ratio < 1)) abort();
            if (!isfinite(r->fid) || !isfinite(r->sfid) || !isfinite(r->is) || !isfinite(r->precision) ||
                !isfinite(r->recall))
                abort();
        }
        free(rows);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
