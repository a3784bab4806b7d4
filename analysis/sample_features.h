// sample_features.h: per-sample FID-proxy features of a run in the result
// database (tables sample_features and feature_references, analysis/
// schema.sql), and the FID-proxy computed from them.
//
// The FID-proxy of a set of sample features x against a reference fit is
// frechet_distance_stats(reference, gauss_stats(x)), the computation of
// analysis/image_metrics.c: the FID recomputed from stored features equals
// the run's metrics fid (same float32 vectors, same double statistics). With
// per-row weights (bootstrap counts) the fit is gauss_stats_compute_weighted,
// i.e. the FID of the resampled set.
//
// Blobs are little-endian (float32 features, float64 mu and sigma); a
// big-endian host refuses to write or read them.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/frechet.h"
#include "analysis/result_db.h"

#define SAMPLE_FEATURES_REF_LEN (2 * 64 + 2)  // '<64 hex>_<64 hex>' and the NUL

typedef struct {
    long n;
    int dim;
    float *x;                                // (n, dim)
    char reference[SAMPLE_FEATURES_REF_LEN];
    GaussStats ref;                          // the reference fit the FID is measured against
} RunFeatures;

// "<classifier sha hex>_<reference key hex>" into out.
void sample_features_reference_id(char out[SAMPLE_FEATURES_REF_LEN], const uint8_t classifier_sha[32],
                                  const uint8_t reference_key[32]);

// Writes run_id's features x (n, dim) and, if the database does not hold it
// yet, the reference fit under the id `reference` (an existing one must be
// identical). Inside the caller's transaction.
int sample_features_write(ResultDb *db, int64_t run_id, const float *x, long n, int dim, const char *reference,
                          const GaussStats *ref, LzError *err);

// Whether the database has the feature tables (older databases do not).
int sample_features_tables(ResultDb *db, bool *present, LzError *err);
// Reads run_id's features and their reference fit into f (owned: free with
// sample_features_free). Returns 1 when stored, 0 when the run has none (f
// zeroed), -1 on an error (a blob of the wrong size, a missing reference).
int sample_features_read(ResultDb *db, int64_t run_id, RunFeatures *f, LzError *err);
void sample_features_free(RunFeatures *f);

// The FID-proxy of x (n, dim) against ref; w (n) per-row weights or NULL.
int sample_features_fid(double *fid, const float *x, const double *w, long n, int dim, const GaussStats *ref,
                        LzError *err);
// The same against a reference prepared once (frechet_prepare of its mu and
// sigma): identical bits, without the reference's eigendecomposition per call.
int sample_features_fid_prepared(double *fid, const float *x, const double *w, long n, int dim,
                                 const FrechetPrepared *ref, LzError *err);
