// dit_train_job.h: a whole DiT training run from a JSON config (e.g.
// experiments/models/fmnist_dit.json), the job behind `lazydit train`: the
// dataset, the trainer of model/dit_train.h, exact resume from
// <out_dir>/checkpoint.safetensors, periodic checkpoints, the loss CSV and
// progress lines (model/train_log.h), and the EMA export.
//
// Config (strict JSON, model/io/json_config.h: unknown keys, wrong types and
// values out of range are errors):
//   model  input_size, patch, in_channels, hidden, depth, heads, num_classes,
//          learn_sigma, init_seed (all required)
//   data   dir + split (an MNIST-layout directory, default Fashion-MNIST train)
//          or images (+ labels): .npy or IDX files
//   train  steps, seed (required); batch, lr, weight_decay, lr_warmup,
//          grad_clip, ema_decay, ema_warmup, class_dropout, max_shift, hflip,
//          checkpoint_every, log_every, diffusion_schedule ("linear" or
//          "cosine", default linear), diffusion_steps (default 1000)
//   out_dir (required), export (optional), comment
//
// Outputs in out_dir: checkpoint.safetensors (weights, EMA, AdamW moments,
// step; every checkpoint_every steps and at the end), ema.safetensors (the EMA
// weights as a DiT, at every checkpoint), loss.csv (step, loss, mse, vb,
// grad_norm, lr, samples_per_s, elapsed_s every log_every steps); the EMA also
// goes to `export` when the run reaches its last step. Every DiT file written
// carries the diffusion schedule in its metadata ("diffusion_schedule",
// "diffusion_steps"), which the sampler reads back (dit_load_with_schedule).
#pragma once
#include <cjson/cJSON.h>

#include "model/dit_train.h"

typedef struct {
    DitConfig model;
    long init_seed;
    const char *data_dir, *split, *images, *labels;
    DitTrainHyper hp;
    long steps;
    int checkpoint_every, log_every;
    const char *out_dir, *export_path;
    char *config_text;  // the file as read (checkpoint provenance)
    cJSON *json_;       // the parsed file: owns the strings above
} DitTrainConfig;

// Reads and validates a config file. Free with dit_train_config_free (also after an error).
int dit_train_config_load(DitTrainConfig *c, const char *path, LzError *err);
void dit_train_config_free(DitTrainConfig *c);

typedef struct {
    int fresh;         // ignore an existing checkpoint and start from step 0
    long stop_after;   // stop (with a checkpoint) after this many steps of this call; 0 = run to the end
    int progress;      // progress lines on stderr
} DitTrainRunOptions;

typedef struct {
    long resumed_from;  // step of the checkpoint resumed from (0 = fresh start)
    long step;          // steps done when the call returned
    int finished;       // step == config steps (the EMA was exported if the config names a path)
    double seconds;     // wall time of this call
} DitTrainRunResult;

int dit_train_run(DitTrainRunResult *r, const DitTrainConfig *c, const DitTrainRunOptions *o, LzError *err);
