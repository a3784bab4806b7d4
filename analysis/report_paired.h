// report_paired.h: the paired bootstrap of the FID-proxy difference between
// two runs, from their stored per-sample features (table sample_features).
//
// Every run of an experiment starts sample i from the same noise and label, so
// two runs' samples are pairs, and their FID-proxies move together under the
// sampling noise. A replicate b draws one resample of the n sample indices
// (report_paired_counts: counts from Prng(seed * 2^32 + b), the same draws for
// every run with the same n) and
// recomputes the FID-proxy of BOTH runs on it (sample_features_fid: weighted
// Gaussian fit against the fixed reference fit); the difference of the two is
// one replicate of FID(a) - FID(b). The 95% interval is the plain percentile
// interval [q(0.025), q(0.975)] of the B differences (quantile_linear). The
// replicate FIDs of a run depend on the run alone (given n, seed, B), so they
// are computed once per run and any pair is a subtraction.
//
// Two runs are paired when they have the same settings (report_same_settings:
// model, sampler, eta, CFG, sample count, seed), the same labels and scoring
// recorded in config_json, features of the same n, dimension and reference,
// and the FID recomputed from each run's features equals its metrics fid to
// 1e-9 relative (else the features are not the ones the metric came from and
// the run is left unpaired, counted in ReportData.n_features_mismatch).
//
// Cost: per run B weighted covariances (n x D^2) and Frechet distances against
// the reference prepared once (two D^3 products and one symmetric eigenvalue
// problem), spread over the thread pool with one BLAS thread each.
#pragma once
#include <sqlite3.h>
#include <stdint.h>

#include "analysis/report_compare.h"
#include "analysis/report_db.h"

#define REPORT_PAIRED_RESAMPLES 1000
#define REPORT_PAIRED_SEED 1

// A run's stored features, reduced to what pairing needs.
struct ReportFeatures {
    long n;
    int dim;
    char reference[160];
    double fid;     // recomputed from the features
    double *reps;   // (B) replicate FID-proxies
};

typedef struct {
    int ok;               // a paired interval exists
    double diff, lo, hi;  // FID(a) - FID(b) and its 95% percentile interval
} ReportPaired;

// Loads the stored features of every reported run (if the database has the
// tables) through the report's open read-only connection `db` (of file
// `path`, for messages), checks them against the metrics fid, and computes B
// replicate FIDs per run (B = 0: no paired intervals). Called by
// report_db_load_with.
int report_paired_prepare(ReportData *d, sqlite3 *db, const char *path, int resamples, LzError *err);
void report_paired_free(ReportData *d);

// The paired interval of FID(run a) - FID(run b) (indices into d->runs).
ReportPaired report_paired_fid(const ReportData *d, int a, int b);
// Counts w (n) of replicate b's resample of n indices with replacement.
void report_paired_counts(double *w, long n, int b);
// FID-proxy of run a against run b: by the paired interval when the runs are
// paired (excludes 0: resolved), else by the two 95% intervals (report_compare).
// *paired (may be NULL) receives the paired result.
ReportCmp report_compare_fid(const ReportData *d, int a, int b, ReportPaired *paired);
