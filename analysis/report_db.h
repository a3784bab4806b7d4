// report_db.h: a result database (analysis/schema.sql, schema version 1) read
// into memory for `lazydit report`: the finished runs with their metrics, and
// their per-step per-layer module records. Only runs with status 'done' are
// reported; the others are counted. NULL numbers are read as NaN.
#pragma once
#include "model/base/check.h"

// The metrics the report tabulates, in table order.
typedef enum {
    RM_FID,
    RM_SFID,
    RM_IS,
    RM_PRECISION,
    RM_RECALL,
    RM_CLASS_CONSISTENCY,
    RM_KID,
    RM_PSNR,
    RM_SSIM,
    RM_COUNT
} ReportMetricId;

typedef struct {
    const char *name;    // the metrics.name in the database: "fid"
    const char *label;   // for tables and axes: "FID-proxy"
    const char *abbrev;  // for the comparison column: "FID"
    int higher_better;   // 1: IS, precision, ...; 0: FID, sFID, KID
    const char *fmt;     // printf format of values and interval ends
} ReportMetricInfo;

extern const ReportMetricInfo report_metric_info[RM_COUNT];

typedef struct {
    int present;
    double value, lo, hi;  // lo, hi: the 95% interval (NaN when not computed)
    long n;
} ReportMetric;

typedef enum { RMOD_ATTN = 0, RMOD_MLP = 1 } ReportModule;

// One module_steps row.
typedef struct {
    int step, timestep, layer, module;  // module: ReportModule
    double skip_rate, gate_mean, cos_mean, cos_min, cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz, bound_alpha,
        bound_value;
    // The bound's estimates (R, the Lipschitz constant C, R2), when the
    // database records them (columns bound_r, bound_c, bound_r2); else NaN.
    double bound_r, bound_c, bound_r2;
} ReportSlot;

typedef struct {
    long run_id;
    char *experiment, *name, *model_sha256, *policy, *policy_json, *respacing, *sampler, *git_rev;
    char modules[8];  // "attn", "mlp" or "both": the policy's --modules (from policy_json; "both" if absent)
    int quantize;     // config_json "quantize": 1 samples clamped and rounded to 8 bits before scoring, 0 scored as floats, -1 not recorded
    int steps;
    double eta, cfg_scale;
    long seed, n_samples, batch;
    double wall_s, macs_all, macs_linear, lazy_ratio, lazy_ratio_attn, lazy_ratio_mlp;  // NaN when NULL
    ReportMetric m[RM_COUNT];
    // module_steps: the complete (module, layer, step) grid or nothing.
    int depth;               // L (0 when the run has no usable module records)
    const ReportSlot *slots; // (2, L, steps) in (module, layer, step) order, into ReportData.slots
    long n_slot_rows;        // rows the database holds for the run (for the incomplete-grid note)
    int full_compute;        // recorded, and no module slot reused anything (max skip_rate == 0)
    int has_similarity;      // recorded cos_mean at steps >= 1
    char *labels;            // config_json "labels" ("cycle", "random"); NULL if not recorded
    struct ReportFeatures *features;  // stored per-sample features for the paired bootstrap (analysis/report_paired.h); NULL if none
} ReportRun;

typedef struct {
    char *experiment;      // meta 'experiment' (or the runs' experiment name)
    char *config_sha256;   // meta 'config_sha256', NULL if absent
    ReportRun *runs;       // status 'done', ordered by (experiment, name)
    int n_runs;
    int n_running, n_failed;  // runs not reported
    ReportSlot *slots;     // every module_steps row of the reported runs
    long n_slots;
    int n_incomplete;      // done runs whose module_steps grid is incomplete (left out of the studies)
    int paired_resamples;  // B of the paired bootstrap (0: off)
    int n_features;        // runs with usable stored features
    int n_features_mismatch;  // runs whose stored features do not give back their metrics fid (not paired)
} ReportData;

// Loads the database; runs with stored sample features get B = paired_resamples
// replicate FIDs for the paired bootstrap (0: none). report_db_load uses
// REPORT_PAIRED_RESAMPLES.
int report_db_load_with(ReportData *d, const char *path, int paired_resamples, LzError *err);
int report_db_load(ReportData *d, const char *path, LzError *err);
void report_db_free(ReportData *d);

// The run's slot at (module, layer, step); NULL if the run has no grid.
static inline const ReportSlot *report_slot(const ReportRun *r, int module, int layer, int step) {
    if (!r->slots) return 0;
    return &r->slots[((long)module * r->depth + layer) * r->steps + step];
}
// Mean over steps of the skip rate of one layer and module (the per-layer lazy ratio).
double report_layer_lazy_ratio(const ReportRun *r, int module, int layer);
