// dit_train.h: training a DiT with the official objective (facebookresearch/DiT
// train.py + diffusion.training_losses): uniform timesteps, epsilon MSE plus,
// for learn_sigma models, the variational-bound term with the mean detached
// (the "hybrid" loss); class labels dropped to the null class with
// probability class_dropout; AdamW; EMA of the weights.
//
// Determinism: every random decision of step s (batch composition, timesteps,
// noise, label dropout, augmentation) is a pure function of (seed, s), so a
// checkpoint needs only the step, the weights, the EMA and the AdamW moments
// to resume bit-identically (same build, same BLAS thread count).
#pragma once
#include <stdint.h>

#include "model/io/dataset.h"
#include "model/diffusion.h"
#include "model/dit.h"
#include "model/dit_backward.h"
#include "model/optim.h"

typedef struct {
    int batch;             // samples per step
    double lr;             // peak learning rate (official 1e-4)
    double weight_decay;   // AdamW decoupled weight decay (official 0)
    int lr_warmup;         // linear warm-up steps (0 = none)
    double grad_clip;      // clip the global gradient norm to this (0 = off)
    double ema_decay;      // official 0.9999
    int ema_warmup;        // 1: decay_s = min(ema_decay, (1 + s) / (10 + s))
    double class_dropout;  // probability of the null label (official 0.1)
    uint64_t seed;
    int max_shift;         // augmentation: random translation in pixels (0 = off)
    int hflip;             // augmentation: random horizontal flips
    DiffusionSchedule schedule;  // base noise schedule ({"", 0} = the official linear 1000 steps)
} DitTrainHyper;

typedef struct {
    DitModel model;        // training mode, built for hp.batch rows
    DitGrads grads;
    Diffusion diffusion;   // hp.schedule, no respacing
    DitTensorTable table;
    DitTrainHyper hp;
    float *opt_memory;     // (3, P): AdamW m, AdamW v, EMA weights
    float *adam_m, *adam_v, *ema;
    float *x0;             // (B, C, H, W) clean images
    float *noise;          // (B, C, H, W)
    float *xt;             // (B, C, H, W)
    float *tf;             // (B) timesteps as floats for the model
    float *dout;           // (B, Cout, H, W) dLoss/d(output)
    float *vb;             // (B)
    float *dvar;           // (B, C, H, W)
    float *aug_scratch;    // (C, H, W)
    int *t;                // (B)
    int *labels;           // (B)
    long *order;           // (N) permutation of the current epoch
    long order_epoch;      // epoch `order` belongs to (-1: none)
    long ndata;
    long step;             // optimizer steps done
    double loss, mse, vbterm, grad_norm, lr_now;  // of the last step
} DitTrainer;

// Takes ownership of params (dit_param_count floats); EMA starts as a copy.
// The caller has validated the inputs: batch <= ndata, a known schedule.
void dit_trainer_init(DitTrainer *tr, const DitConfig *cfg, float *params, const DitTrainHyper *hp, long ndata);
void dit_trainer_free(DitTrainer *tr);
// One optimizer step on a batch drawn from ds (ds->n must equal ndata).
void dit_trainer_step(DitTrainer *tr, const Dataset *ds);

// Checkpoint: a safetensors file with flat tensors "params", "ema", "adam_m",
// "adam_v" and metadata (step, seed, heads, config, diffusion schedule, the
// training config text).
int dit_trainer_save(const DitTrainer *tr, const char *path, const char *config_text, LzError *err);
// Restores weights, EMA, moments and step. The metadata is validated whole
// before anything is restored: the format, the step (an integer in
// 0..max_step, the run's length), the seed, the model shape and the diffusion
// schedule must match the trainer's (a checkpoint without schedule metadata was
// trained with the official linear 1000 steps); the four tensors must have the
// model's size, finite values and non-negative second moments, and nothing else
// may be in the file.
int dit_trainer_load(DitTrainer *tr, const char *path, long max_step, LzError *err);
