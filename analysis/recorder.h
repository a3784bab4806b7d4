// recorder.h: per-step, per-layer, per-module similarity recording of one
// sampling run (the module_steps table of analysis/schema.sql, and module_rows
// on request).
//
// How it attaches: recorder_hooks() is a DitHooks set with only a `fill` hook,
// passed as the `hooks` of sampler_run, which chains it after the policy
// runtime; so at fill it sees every row's decision (skip flags, scores) and
// the output Y that was USED (computed, or the reused cache). It never writes
// to the model's buffers: samples are bit-identical with and without it.
// recorder_step (a SamplerCallback) writes the per-row records of each step.
//
// Per model row it keeps the previous step's Y and Z of every (layer, module)
// (one allocation at init, no allocation while sampling) and computes, in
// double, cos, rel_l2, z_dist, z_rel_dist and |dY| / |dZ| (analysis/
// similarity.h). Per (step, layer, module) it aggregates over every model row
// of the run, across chunks, CFG null-label rows included: means, cos_min,
// cos_p05 (nearest rank; 1 - cos is kept per row as float, which holds it to
// ~1e-7 of its own size), and the bound's terms (analysis/sim_bound.h). skip_rate and
// gate_mean come from the run's slot accounting (model/lazy/lazy_account.h),
// so they agree with the run's lazy ratio exactly.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/result_db.h"
#include "analysis/sim_bound.h"
#include "analysis/similarity.h"
#include "model/lazy/lazy_account.h"
#include "model/sampler.h"

typedef struct {
    bool rows;  // write module_rows (one record per model row, step, layer and module)
} RecorderOptions;

// This step's result of one (layer, module, model row).
typedef struct {
    int step;            // step it was measured at, -1 = not yet in this chunk
    unsigned char skipped, has_prev;
    float score;         // NaN if none
    SimRow sim;          // valid when has_prev
} RecRow;

// Run-wide accumulators of one (step, layer, module).
typedef struct {
    long n;                // rows compared (had a previous value)
    double cos_sum, cos_min, rel_sum, zd_sum, zr_sum, lip_sum;
    long n_cos, n_rel, n_zr, n_lip;
    double r2_max, zin_max;  // largest |Z_t - Z_{t-1}|_F, largest |Z_t|_F or |Z_{t-1}|_F
} RecAgg;

typedef struct {
    DitConfig cfg;
    int L, T, D, K, max_rows, use_cfg;
    long n_samples, run_rows;   // run_rows = n_samples x (2 under CFG)
    RecorderOptions opt;
    WeightNorms wn;
    // One allocation (mem_) behind:
    long *timesteps;       // (K) original timestep of each step in execution order
    float *prev_y;         // (L, 2, max_rows, T, D) used output at the row's last step
    float *prev_z;         // (L, 2, max_rows, T, D) modulated input at the row's last step
    RecRow *now;           // (L, 2, max_rows)
    RecAgg *agg;           // (K, L, 2)
    double *row_cos;       // (K, L, 2, run_rows) every row's cos, NaN = row not compared at that step
    double *scratch;       // (run_rows) quantile scratch
    void *mem_;
    // The view being processed by the parallel row job.
    const DitModuleView *view;
    // Per-row records (opt.rows): where they go; the first error is kept
    // because a sampler callback cannot fail the run (recorder_error reports it).
    ResultDb *db;
    int64_t run_id;
    sqlite3_stmt *ins_row;
    int failed;
    LzError err;
    double t_fill, t_step;  // seconds spent in the fill hook and in recorder_step (the recorder's own cost)
    DitHooks hooks;
} Recorder;

// Prepares recording of a run of n_samples samples with a K-step schedule
// (timesteps in execution order) on forwards of at most max_rows model rows
// (2 x batch under CFG). wn: the model's weight norms if already computed
// (copied), NULL to compute them here. Errors: a run too large to keep the
// per-row similarities for the percentile (more than 2^27 values, 1 GB).
int recorder_init(Recorder *r, const DitModel *m, const long *timesteps, int K, int max_rows, long n_samples,
                  int use_cfg, const WeightNorms *wn, const RecorderOptions *opt, LzError *err);
void recorder_free(Recorder *r);
// Clears the run-wide accumulators (a new run with the same shape).
void recorder_reset(Recorder *r);
// Where module_rows go (opt.rows): prepares the insert statement.
int recorder_attach_db(Recorder *r, ResultDb *db, int64_t run_id, LzError *err);

// The hook set to pass to sampler_run (chained after the policy runtime).
const DitHooks *recorder_hooks(Recorder *r);
// The sampler callback (ctx = the Recorder): writes module_rows of a step.
void recorder_step(void *ctx, const SamplerStep *s);
// The first error of recorder_step, if any (0 = none).
int recorder_error(const Recorder *r, LzError *err);

// One aggregated row of module_steps.
typedef struct {
    int step, layer;
    DitModule module;
    long timestep;
    double skip_rate, gate_mean;  // gate_mean NaN when no row had a score
    long compared;                // rows compared (0 at step 0: the similarity columns are NaN)
    double cos_mean, cos_min, cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz;
    BoundTerms bound;             // NaN at step 0
} ModuleStepRow;
// Aggregates (step, layer, module) after the run; acc is the run's account.
ModuleStepRow recorder_module_step(Recorder *r, const LazyAccount *acc, int step, int layer, DitModule module);
// Writes every module_steps row and the weight_norms of run_id (inside the
// caller's transaction).
int recorder_write(Recorder *r, ResultDb *db, int64_t run_id, const LazyAccount *acc, LzError *err);
