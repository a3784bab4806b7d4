// run_record.h: one sampling run recorded into a result database: its runs
// row with provenance, the recorder's module_steps (and module_rows on
// request), its metrics. Shared by `lazydit sample --record` (one call,
// record_sampler_run) and the experiment runner (begin / sample / finish).
//
// Transactions: begin inserts the runs row with status 'running' and commits;
// module_rows, when requested, are committed once per sampling step; finish
// writes module_steps, weight_norms, metrics, sample_metrics, sample_features
// (on request) and completes the runs row (status 'done', times, MACs, lazy
// ratios) in ONE transaction. So a
// run that was killed leaves a 'running' row (and perhaps some module_rows),
// which the runner deletes before it redoes the run, and a finished run is
// always complete.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/frechet.h"
#include "analysis/recorder.h"
#include "analysis/result_db.h"
#include "model/sampler.h"

typedef struct {
    const char *experiment;        // runs.experiment
    const char *name;              // runs.name, unique in the experiment
    int64_t run_id;                // > 0: use this id (the runner's numbering); 0: the next free id
    const char *model_path;        // weights file, hashed unless model_sha256 is given
    const uint8_t *model_sha256;   // (32) or NULL
    const char *respacing;         // the respacing string of the run ("50", "ddim50", ...)
    long n_samples;
    const char *config_json;       // the caller's settings as a JSON object (may be NULL); "bound" is added
    RecorderOptions rec;
    const WeightNorms *weight_norms;  // the model's, if already computed (NULL: computed at begin)
} RunRecordInfo;

typedef struct {
    ResultDb *db;     // borrowed
    int64_t run_id;
    Recorder rec;
    double wall_s;    // sampling wall time
} RunRecord;

typedef struct {
    const char *name;
    double value, ci_low, ci_high;  // NaN ci = none
    long n;
} RunMetric;

typedef struct {
    long sample;
    const char *name;
    double value;
} SampleMetric;

// The per-sample FID-proxy features of a run and the reference fit they were
// measured against (table sample_features; analysis/sample_features.h).
typedef struct {
    const float *x;         // (n, dim)
    long n;
    int dim;
    const char *reference;  // sample_features_reference_id of the classifier and reference
    const GaussStats *ref;
} RunSampleFeatures;

// Inserts the runs row (status 'running') for a run of sampler s and prepares
// the recorder. A (experiment, name) that already exists is an error.
int run_record_begin(RunRecord *rr, ResultDb *db, const RunRecordInfo *info, const Sampler *s, LzError *err);
// sampler_run with the recorder chained after the policy; measures wall_s.
int run_record_sample(RunRecord *rr, Sampler *s, float *out, const int *labels, long N, const float *noise,
                      LzError *err);
// Completes the run in one transaction (see above); metrics may be empty,
// features NULL (none stored).
int run_record_finish(RunRecord *rr, const Sampler *s, const RunMetric *metrics, int n_metrics,
                      const SampleMetric *sample_metrics, long n_sample_metrics, const RunSampleFeatures *features,
                      LzError *err);
// Marks the run 'failed' with a message (best effort: the database may be the problem).
void run_record_fail(RunRecord *rr, const char *message);
void run_record_free(RunRecord *rr);

// `lazydit sample --record DB`: opens (or creates) db_path, records the run of
// sampler s as one runs row plus module_steps, and closes the database. The
// database is opened and the row inserted before sampling, so a database
// that cannot be written fails fast.
typedef struct {
    const char *db_path;
    const char *experiment;   // NULL: the database's experiment, or "sample" for a new one
    const char *name;         // NULL: "<policy>-k<steps>-seed<seed>-<UTC time>-<pid>"
    const char *model_path;
    const char *respacing;
    int argc;                 // the command line, stored as config_json {"argv": [...]}
    char **argv;
    bool rows;                // module_rows too
} SampleRecordRequest;
// What record_sampler_run wrote (for the CLI's summary line).
typedef struct {
    int64_t run_id;
    char experiment[128], name[192];
} SampleRecordResult;
// res may be NULL.
int record_sampler_run(const SampleRecordRequest *req, Sampler *s, float *out, const int *labels, long N,
                       const float *noise, SampleRecordResult *res, LzError *err);
