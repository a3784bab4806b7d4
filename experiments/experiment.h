// experiment.h: experiment configs (JSON) and their expansion into runs.
// The format is documented in docs/experiments.md. In short: top-level
// settings (model, sample count, batch, labels, sampler settings, metrics)
// and a list of run groups; in a group (and at the top level, as defaults)
// the fields policy, steps, respacing, sampler, eta, cfg_scale and seed take
// one value or a list, and a group expands into the cartesian product of its
// lists. Every run gets a stable name and a stable index (its run_id is
// index + 1), so resumed runs, shards and merged shard databases agree.
//
// Parsing is strict (like model/io/json_config.h): unknown keys, wrong types,
// duplicate keys, out-of-range values and missing required fields are errors
// of one line that names the file and the JSON path:
//   experiments/x.json: runs[2].steps[1]: must be an integer between 1 and 1000
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/base/check.h"
#include "model/sampler.h"

typedef enum {
    MET_FID = 0,
    MET_SFID,
    MET_IS,
    MET_PRECISION,
    MET_RECALL,
    MET_DENSITY,
    MET_COVERAGE,
    MET_KID,
    MET_CLASS_CONSISTENCY,
    MET_PSNR,
    MET_SSIM,
    MET_COUNT
} MetricId;
// The metric's name in configs and in the metrics table.
const char *experiment_metric_name(MetricId m);

typedef enum { EXP_LABELS_CYCLE = 0, EXP_LABELS_RANDOM = 1 } ExpLabels;

typedef struct {
    bool want[MET_COUNT];
    bool any;               // some metric requested
    int bootstrap;          // resamples for 95% intervals (0 = none)
    uint64_t seed;          // KID subsets and bootstrap resamples
    const char *classifier; // feature classifier weights
    const char *cache_dir;  // reference statistics cache
    int reference_steps;    // PSNR/SSIM reference: full-compute run with this many steps (0 = the run's own)
    bool per_sample;        // sample_metrics: psnr, ssim, predicted_label per sample
    bool quantize;          // score the 8-bit form of the samples (default true, as lazydit eval)
    bool sample_features;   // store every sample's FID-proxy features (table sample_features; needs fid)
} ExpMetrics;

typedef struct {
    int index;                // position in the expansion; run_id = index + 1
    int group;                // runs[group] of the config
    char name[256];           // unique in the experiment
    const cJSON *policy;      // the policy object (pass to policy_create_json)
    char policy_where[96];    // its JSON path, for messages
    char *policy_json;        // resolved policy config (canonical JSON)
    int steps;
    char respacing[32];       // "50" (even) or "ddim50"
    SamplerKind sampler;
    double eta, cfg_scale;
    uint64_t seed;
    char *config_json;        // every resolved setting of the run (runs.config_json)
} ExpRun;

typedef struct {
    char path[1024];
    const char *name, *model, *gates;  // point into root
    int heads;                // 0 = inferred from the weights
    long n_samples;
    int batch;
    ExpLabels labels;
    bool record_rows;
    ExpMetrics metrics;
    int n_runs;
    ExpRun *runs;
    char config_sha256[65];   // of the canonical (whitespace-free) config text
    cJSON *root;              // the parsed file; everything above points into it
    cJSON *extra;             // policy objects completed with the top-level "gates"
} Experiment;

// Reads and expands a config file.
int experiment_load(Experiment *e, const char *path, LzError *err);
// The same from text; `where` names it in messages (a file name).
int experiment_parse(Experiment *e, const char *text, const char *where, LzError *err);
void experiment_free(Experiment *e);

// "i/N" -> shard i of N (0 <= i < N). Run k belongs to shard k % N.
int experiment_parse_shard(const char *text, int *index, int *count, LzError *err);
static inline bool experiment_in_shard(const ExpRun *r, int index, int count) { return r->index % count == index; }
