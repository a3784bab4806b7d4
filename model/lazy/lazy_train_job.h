// lazy_train_job.h: a whole gate or router training run as a library call,
// the job behind `lazydit train-lazy` and `lazydit train-l2c`: the frozen DiT
// (with the diffusion schedule it was trained with), the dataset, the trainer
// of lazy_train.h, exact resume from <out_dir>/checkpoint.safetensors,
// periodic checkpoints, the loss CSV and progress lines (model/train_log.h),
// and the exported gate or router file (gates.h). Also the search over rho
// that brings the laziness at threshold 0.5 near a target.
//
// Outputs in out_dir: checkpoint.safetensors (weights, AdamW moments and
// counts, iteration, the options that fix the run; every checkpoint_every
// iterations and at the end), loss.csv (one row per iteration: iteration,
// step, loss, mse, lazy_attn, lazy_mlp, soft_ratio, hard_ratio, samples_per_s,
// elapsed_s); the file `out` (default out_dir/gates.safetensors or
// router.safetensors) when the run reaches its last iteration. Every file is
// declared before the work starts (model/io/file_rules.h).
#pragma once
#include "model/lazy/lazy_train.h"

typedef struct {
    const char *command;        // "train-lazy" or "train-l2c" (provenance in the exported file)
    LazyTrainHyper hp;          // hp.schedule is taken from the weights file
    const char *weights;        // the frozen DiT
    int heads;                  // attention heads if the file does not say; 0 = from the file
    const char *data;           // "train", "test" or an MNIST-layout directory (when images is NULL)
    const char *images, *labels;  // .npy or IDX files instead of data
    long iterations;
    int checkpoint_every, log_every;
    const char *out_dir;
    const char *out;            // the exported file; NULL = out_dir/gates.safetensors (router.safetensors)
    double threshold;           // written into the exported file
} LazyTrainJob;

typedef struct {
    int fresh;        // ignore an existing checkpoint
    long stop_after;  // stop (checkpointed) after this many iterations of this call; 0 = to the end
    int progress;     // progress lines on stderr
} LazyTrainRunOptions;

typedef struct {
    long resumed_from;  // iteration of the checkpoint resumed from (0 = fresh)
    long iter;          // iterations done when the call returned
    int finished;       // the file was exported
    double seconds;     // wall time of this call
    char out[1024];     // the exported file's path
} LazyTrainRunResult;

int lazy_train_run(LazyTrainRunResult *r, const LazyTrainJob *j, const LazyTrainRunOptions *o, LzError *err);

// The options that fix a run's trajectory, as one line of JSON (the resume
// key; the iteration count is not part of it: nothing in an iteration depends
// on the total, so a finished run can be extended). Caller frees (cJSON_free).
char *lazy_train_options_json(const LazyTrainJob *j, const char *model_sha256_hex);

// The search over rho (gates only): bisection in log10(rho) over [lo, hi]
// with `rounds` short trainings of `iterations` iterations each (fresh, in
// out_dir/rho_search/, logged to out_dir/rho_search.csv), each measured at
// threshold 0.5 on the calibration samples of `spec`; returns the rho whose
// ratio came closest to target. More rho, more laziness.
typedef struct {
    double target, lo, hi;
    int rounds;
    long iterations;
    long samples;     // calibration samples
    uint64_t seed;    // their run seed
    int batch;
} LazyRhoSearch;
int lazy_rho_search(double *rho, const LazyTrainJob *j, const LazyRhoSearch *s, int progress, LzError *err);
