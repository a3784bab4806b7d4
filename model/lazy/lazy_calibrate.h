// lazy_calibrate.h: measuring the realised lazy ratio of a learned policy and
// calibrating its inference threshold to a requested ratio.
//
// The realised ratio is what model/lazy/lazy_account.h counts: reused slots
// over all (model row, step, block, module) slots of a real sampling run (the
// sampler with the policy in its lazy runtime), attention and MLP together,
// CFG null rows included. Restricted to one module family (--modules attn or
// mlp: the policy decides only those modules, the others always compute) the
// ratio is that family's: reused attention slots / attention slots for attn. A measurement samples N images with labels
// i % num_classes and per-sample seeds rng_sample_seed(seed, i).
//
// Seed rule. Calibration runs use run seed LAZY_CALIB_SEED (1) by default and
// evaluation runs use seed 0 (the project's evaluation convention). Sample
// i's noise seed is fmix32(low32(splitmix64(run seed)) + i), a bijection of a
// 32-bit counter, so the two sets of noise seeds are disjoint as long as the
// two counter ranges do not overlap; lazy_seeds_disjoint checks exactly that
// for the sizes at hand, and `calibrate-gates` refuses a calibration seed
// whose samples would share noise with the first LAZY_EVAL_MAX samples of
// seed 0.
//
// Threshold calibration. The ratio falls (weakly) as the threshold rises
// (threshold 1 never reuses); decisions feed back into later inputs, so it is
// monotone only in practice, not by construction. Every measurement also
// records the decision scores of all decided slots, and the first guess for a
// target is the threshold that would make exactly that share of the slots
// reuse among the recorded scores of the measurement closest to the target
// (exact for a static router, whose scores do not depend on the trajectory).
// Later guesses are the secant of the bracket once both its ends are measured
// (quantiles otherwise), pulled at least 10% (in logit) away from the
// measured ends of the bracket [lo, hi] with ratio(lo) >= target >=
// ratio(hi), so the bracket shrinks geometrically (like bisection) even
// where the guesses are poor (e.g. under --staleness, which vetoes some
// reuses); logit space reaches thresholds near 0 or 1 in a few rounds. A target is done once a measurement is within `tol`, after
// `max_rounds` measurements for it, or when the bracket is narrower than
// 1e-7. Several targets share their measurements (one run of the sampler per
// round), so calibrating 0.2 .. 0.5 costs little more than one target.
#pragma once
#include <stdint.h>

#include "model/diffusion.h"
#include "model/dit.h"
#include "model/lazy/gates.h"
#include "model/lazy/lazy_account.h"
#include "model/lazy/policy.h"

#define LAZY_CALIB_SEED 1
#define LAZY_EVAL_MAX 100000L

typedef struct {
    long samples;      // N
    uint64_t seed;     // run seed of the per-sample noise
    int batch;         // samples per chunk (model rows 2 x batch under CFG)
    float cfg_scale;   // 1.5 (LazyDiT's evaluation setting)
    int quiet;
    LazyModules modules;  // the policy's --modules (LAZY_MOD_BOTH for the published method)
} LazyMeasureSpec;

// The realised ratio of a summary over the module family m (lazy_ratio for
// both, lazy_ratio_attn or lazy_ratio_mlp), and that family's slot count.
double lazy_family_ratio(const LazySummary *s, LazyModules m);
long lazy_family_slots(const LazySummary *s, LazyModules m);

// 1 if the per-sample noise seeds of samples [0, n_a) of run seed a and
// [0, n_b) of run seed b are all different.
int lazy_seeds_disjoint(uint64_t a, long n_a, uint64_t b, long n_b);

// Decision scores of a measurement (every slot the policy scored, in any order).
typedef struct {
    float *v;
    long n, cap;
} LazyScores;

// Samples spec->samples images from m (built for inference with at least 2 x
// batch rows) on the respaced process d with the policy `name` and its
// options, and returns the accounting summary. sha: SHA-256 of the weights
// file (checked against gate files), or NULL. out (N, C, H, W) may be NULL;
// labels (N) receives i % num_classes if not NULL.
// scores (may be NULL) receives the decision scores (the buffer grows as needed).
int lazy_measure(DitModel *m, const uint8_t *sha, const Diffusion *d, const char *respacing, const char *name,
                 const PolicyArg *args, int nargs, const LazyMeasureSpec *spec, float *out, int *labels,
                 LazySummary *sum, LazyScores *scores, LzError *err);

typedef struct {
    double tol;        // a target is met when |ratio - target| <= tol (0.005)
    int max_rounds;    // measurements per target at most (8)
    LazyMeasureSpec spec;
    const PolicyArg *extra;  // more policy options for every measurement (e.g. staleness), may be NULL
    int nextra;
} LazyCalibOptions;

// Calibrates the threshold of the gate (or router) file at `path` for model
// m to each of the n targets, as ratios of the family o->spec.modules. thresholds[i] and sums[i] hold the best round
// for target i (closest to it); the caller decides whether it is close enough.
int lazy_calibrate_thresholds(DitModel *m, const uint8_t *sha, const Diffusion *d, GateKind kind, const char *path,
                              const double *targets, int n, const LazyCalibOptions *o, double *thresholds,
                              LazySummary *sums, LzError *err);

// The calibration job behind `lazydit calibrate-gates` (and --target-ratio of
// train-lazy/train-l2c): loads the DiT (with its diffusion schedule), reads
// the file, calibrates its threshold to every target and writes one file per
// target met, with threshold, calibration method, target, realised ratio (of
// the calibrated module family), the family and how it was measured in the
// metadata. Returns -1 naming a target missed by
// more than 2 points (the files of the others are written) or any other
// error; a calibration seed whose samples would share noise with the first
// LAZY_EVAL_MAX evaluation samples of seed 0 is an error before any work.
typedef struct {
    const char *weights;
    int heads;                // 0 = from the file
    GateKind kind;
    const char *path;         // the gate or router file
    const double *targets;
    int ntargets;
    const char *out;          // output; "{r}" is replaced by the target in percent (needed for several)
    long samples;             // calibration samples (200)
    uint64_t seed;            // their run seed (LAZY_CALIB_SEED)
    int batch;                // samples per chunk
    double tol;               // 0.005
    int rounds;               // per target (8)
    int staleness;            // gates: calibrate under and record this bound; -1 = the file's
    const char *method;       // recorded; NULL = "threshold"
    int progress;             // round lines on stderr
    LazyModules modules;      // the family to make lazy and whose ratio to calibrate (recorded as `modules`)
} LazyCalibJob;

int lazy_calibrate_run(const LazyCalibJob *j, LzError *err);
// The output path of target r: `out` with "{r}" replaced by round(100 r) ("30").
void lazy_calib_out_path(char *buf, size_t cap, const char *out, double r);
