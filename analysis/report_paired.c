// report_paired.c: stored features, replicate FIDs and paired intervals (see
// report_paired.h).
#include "analysis/report_paired.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/sample_features.h"
#include "model/base/parallel.h"
#include "model/base/prng.h"

void report_paired_counts(double *w, long n, int b) {
    Prng g;
    prng_seed(&g, ((uint64_t)REPORT_PAIRED_SEED << 32) + (uint64_t)b);
    memset(w, 0, sizeof(double) * (size_t)n);
    for (long i = 0; i < n; i++) w[prng_below(&g, (uint64_t)n)] += 1.0;
}

// B replicate FIDs of one run's features, REPLICATE_TILE per tile of the
// thread pool. Replicate b's resample depends only on (b, n), so the tiles
// may run in any order on any thread: the result is the same bits.
enum { REPLICATE_TILE = 8 };

typedef struct {
    const RunFeatures *f;
    const FrechetPrepared *ref;
    double *reps;     // (B)
    int B;
    double *scratch;  // (threads, n) counts
    int *failed;      // (tiles) nonzero when a tile failed
    LzError *errs;    // (tiles)
} ReplicateJob;

static void replicate_tile(void *ctx, long tile, int worker) {
    ReplicateJob *j = ctx;
    double *w = j->scratch + (size_t)worker * (size_t)j->f->n;
    for (int b = (int)tile * REPLICATE_TILE; b < j->B && b < (int)(tile + 1) * REPLICATE_TILE; b++) {
        report_paired_counts(w, j->f->n, b);
        if (sample_features_fid_prepared(&j->reps[b], j->f->x, w, j->f->n, j->f->dim, j->ref, &j->errs[tile])) {
            j->failed[tile] = 1;
            return;
        }
    }
}

static int replicates(struct ReportFeatures *rf, const RunFeatures *f, int B, LzError *err) {
    FrechetPrepared ref;
    if (frechet_prepare(&ref, f->ref.mu, f->ref.sigma, f->ref.dim, err)) return -1;
    long tiles = (B + REPLICATE_TILE - 1) / REPLICATE_TILE;
    rf->reps = lz_malloc(sizeof(double) * (size_t)B, "paired bootstrap replicates");  // (B)
    ReplicateJob j = {f, &ref, rf->reps, B, NULL, NULL, NULL};
    j.scratch = lz_malloc(sizeof(double) * (size_t)parallel_threads() * (size_t)f->n, "paired bootstrap counts");
    j.failed = lz_calloc((size_t)tiles, sizeof(int), "paired bootstrap tiles");
    j.errs = lz_calloc((size_t)tiles, sizeof(LzError), "paired bootstrap errors");
    parallel_tiles(tiles, replicate_tile, &j);
    int rc = 0;
    for (long t = 0; t < tiles && !rc; t++)
        if (j.failed[t]) rc = lz_fail(err, "%s", j.errs[t].msg);
    free(j.scratch);
    free(j.failed);
    free(j.errs);
    frechet_prepared_free(&ref);
    return rc;
}

int report_paired_prepare(ReportData *d, sqlite3 *handle, const char *path, int resamples, LzError *err) {
    d->paired_resamples = resamples;
    if (resamples <= 0 || !d->n_runs) return 0;
    if (resamples < 2) return lz_fail(err, "report: %d paired bootstrap resamples, need 0 (off) or at least 2", resamples);
    ResultDb db;  // the report's read-only connection, borrowed
    db.db = handle;
    snprintf(db.path, sizeof db.path, "%s", path);
    bool tables = false;
    int rc = sample_features_tables(&db, &tables, err);
    // One BLAS thread per replicate (the thread pool runs the replicates in
    // parallel): OpenBLAS results depend on its thread count in the last
    // bits, so fixing it keeps the report byte-identical whatever the
    // caller's setting.
    const int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    for (int i = 0; i < d->n_runs && !rc && tables; i++) {
        ReportRun *r = &d->runs[i];
        RunFeatures f;
        int have = sample_features_read(&db, r->run_id, &f, err);
        if (have < 0) {
            rc = -1;
            break;
        }
        if (!have) continue;
        double fid = NAN;
        rc = sample_features_fid(&fid, f.x, NULL, f.n, f.dim, &f.ref, err);
        const ReportMetric *m = &r->m[RM_FID];
        if (!rc && !(m->present && fabs(fid - m->value) <= 1e-9 * fabs(m->value) && f.n == r->n_samples)) {
            d->n_features_mismatch++;
        } else if (!rc) {
            struct ReportFeatures *rf = lz_calloc(1, sizeof *rf, "report features");
            rf->n = f.n;
            rf->dim = f.dim;
            rf->fid = fid;
            snprintf(rf->reference, sizeof rf->reference, "%s", f.reference);
            r->features = rf;
            d->n_features++;
            rc = replicates(rf, &f, resamples, err);
        }
        sample_features_free(&f);
    }
    openblas_set_num_threads(saved_threads);
    return rc ? -1 : 0;
}

void report_paired_free(ReportData *d) {
    for (int i = 0; i < d->n_runs; i++) {
        struct ReportFeatures *rf = d->runs[i].features;
        if (!rf) continue;
        free(rf->reps);
        free(rf);
        d->runs[i].features = NULL;
    }
}

static int same_text(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

ReportPaired report_paired_fid(const ReportData *d, int a, int b) {
    ReportPaired p = {0, NAN, NAN, NAN};
    const ReportRun *x = &d->runs[a], *y = &d->runs[b];
    const struct ReportFeatures *fx = x->features, *fy = y->features;
    if (!fx || !fy || !fx->reps || !fy->reps || !report_same_settings(x, y) || x->quantize != y->quantize ||
        !same_text(x->labels, y->labels) || fx->n != fy->n || fx->dim != fy->dim || strcmp(fx->reference, fy->reference))
        return p;
    int B = d->paired_resamples;
    double *diff = lz_malloc(sizeof(double) * (size_t)B, "paired differences");  // (B)
    for (int k = 0; k < B; k++) diff[k] = fx->reps[k] - fy->reps[k];
    p.ok = 1;
    p.diff = fx->fid - fy->fid;
    p.lo = quantile_linear(diff, B, 0.025);
    p.hi = quantile_linear(diff, B, 0.975);
    free(diff);
    return p;
}

ReportCmp report_compare_fid(const ReportData *d, int a, int b, ReportPaired *paired) {
    ReportPaired p = report_paired_fid(d, a, b);
    if (paired) *paired = p;
    if (!p.ok) return report_compare(&d->runs[a].m[RM_FID], &d->runs[b].m[RM_FID], 0);
    return p.hi < 0 ? CMP_A_BETTER : p.lo > 0 ? CMP_B_BETTER : CMP_UNRESOLVED;
}
