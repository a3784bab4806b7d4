// lazy_train.h: training LazyDiT gates and Learning-to-Cache routers on a
// frozen DiT, the way the official LazyDiT code (lazy_learning_loss) and L2C
// (router_training_losses) do it. One iteration, for one sampling step index
// shared by the batch:
//
//   draw the step: the prediction step s (execution order, 1 <= s < K) and the
//     cache step s - 1, whose respaced index is t = K - s (the next step has t - 1)
//   x_t = q_sample(x0, t) from training images (one noise draw per row)
//   forward 1 (full) at t: its module outputs (pre-gate) fill the cache;
//     x_next = DDIM step (eta 0) from x_t with that output
//   forward 2 (full) at t - 1 on x_next: the target
//   forward 3 (soft-lazy) at t - 1 on x_next: every module's output becomes
//     (1 - s) F(Z) + s cache, with s = sigmoid(sum_{t,d} Z * w[m][s][l]) per row
//     (gates) or s = sigmoid(theta[m][s][l]) for every row (router)
//   loss = MSE(prediction, target) over all output channels
//        + rho_attn * mean_b sum_l (1 - s_attn) + rho_mlp * mean_b sum_l (1 - s_mlp)
//   (for a router: L2C's lambda * sum(beta), beta = 1 - s the compute score;
//   s is the same for every row, so mean_b changes nothing)
//   AdamW on the gates (or router logits) of step s only
//
// Labels: 10% (class_dropout) of the rows get the null class, the SAME rows in
// all three forwards, so the null-label rows that CFG runs at sampling time
// are trained too. No CFG doubling in training (the official code neither).
//
// Which steps train. Default for gates: every prediction step 1 .. K-1 with
// equal probability. `odd_steps_only` reproduces the shipped LazyDiT code:
// t = 2 * randint(0, K // 2) + 1, i.e. only odd respaced cache indices, so
// only the gates of steps s = K - t train (s = 1, 3, 5, ... for even K); the
// other half stay at zero, score exactly 0.5 and compute at the 0.5
// threshold: laziness cannot exceed ~50%. Routers always train that way:
// those are exactly the steps L2C's sampler lets the router decide
// (policy_l2c.c).
//
// Gradients (through model/dit_backward.h's module_grad hook, the DiT frozen):
//   dF = (1 - s) dy;  ds_b = sum(dy_b * (cache_b - F_b)) - rho_m / B
//   gates:  dw += ds_b s(1 - s) sum_t Z_b;  dZ_b += ds_b s(1 - s) w
//   router: dtheta += sum_b ds_b s(1 - s)
// AdamW keeps one step count per sampling step (PyTorch keeps one per
// parameter and skips parameters without a gradient, which are the gates of
// the other steps).
//
// Determinism: every random draw of iteration i (batch, step, noise, label
// dropout) is a pure function of (seed, i), so a checkpoint (weights, AdamW
// moments and counts, iteration) resumes bit-identically.
#pragma once
#include <stdint.h>

#include "model/diffusion.h"
#include "model/dit.h"
#include "model/dit_backward.h"
#include "model/io/dataset.h"
#include "model/lazy/gates.h"

typedef enum { LAZY_TRAIN_GATES = 0, LAZY_TRAIN_ROUTER = 1 } LazyTrainKind;

typedef struct {
    LazyTrainKind kind;
    int steps;              // K sampling steps the gates are for (>= 2)
    char respacing[64];     // their respacing ("N", "ddimN", ...); "" = steps as "N"
    int batch;
    double lr;              // AdamW learning rate
    double weight_decay;    // AdamW decoupled weight decay (LazyDiT and L2C: 0)
    double rho_attn, rho_mlp;  // laziness weights (router: L2C's lambda)
    double class_dropout;   // probability of the null label (0.1)
    uint64_t seed;
    int odd_steps_only;     // gates: the shipped code's step draw (routers: always)
    double clamp;           // router logits are clamped to [-clamp, clamp] after each update (L2C: 5); 0 = off
    DiffusionSchedule schedule;  // the frozen DiT's base schedule ({"", 0} = the official linear 1000 steps)
} LazyTrainHyper;

typedef struct {
    LazyTrainHyper hp;
    DitModel model;         // frozen, training mode (all activations kept), hp.batch rows
    DitGrads grads;         // activation gradients only
    Diffusion diffusion;    // the K-step respaced process of hp.schedule
    int K, L, T, D, G;      // G = weights per slot: D (gates) or 1 (router)
    GateFile gates;         // the weights being trained, (2, K, L, G)
    float *adam_m, *adam_v; // (2, K, L, G)
    long *adam_t;           // (K) AdamW step count of each sampling step's weights
    float *grad;            // (2, L, G) gradient of the current step's weights
    float *x0, *noise, *xt, *xnext;  // (B, C, H, W)
    float *tf;              // (B) model timesteps
    int *tidx;              // (B) respaced index of the cache step
    int *labels;            // (B) labels after dropout
    float *target;          // (B, Cout, H, W) full output at the prediction step
    float *dout;            // (B, Cout, H, W)
    float *cache;           // (L, 2, B, T, D) module outputs of the cache step
    float *fz;              // (L, 2, B, T, D) F(Z) of the soft-lazy forward
    float *score;           // (L, 2, B) s of the soft-lazy forward
    long *order;            // (N) epoch permutation
    long order_epoch, ndata;
    long iter;              // optimizer steps done
    // Of the last iteration:
    int step;               // prediction step index (execution order)
    double loss, mse, lazy_attn, lazy_mlp;  // lazy_m = mean_b sum_l (1 - s_m)
    double soft_ratio;      // mean s over rows, blocks and modules
    double hard_ratio;      // fraction of those with s > 0.5
} LazyTrainer;

// Takes ownership of params (dit_param_count floats). The weights start at zero.
void lazy_trainer_init(LazyTrainer *tr, const DitConfig *cfg, float *params, const LazyTrainHyper *hp, long ndata);
void lazy_trainer_free(LazyTrainer *tr);
// The prediction step of iteration `iter` (what lazy_trainer_step trains).
int lazy_train_draw_step(const LazyTrainHyper *hp, long iter);
// The three forwards and the loss of iteration tr->iter (its batch, step,
// noise and dropout) at the current weights; with backward, also the gradient
// of that step's weights into tr->grad (2, L, G). Changes no weight and does
// not advance: the loss as a function of the weights (for tests and
// evaluation).
void lazy_trainer_loss(LazyTrainer *tr, const Dataset *ds, int backward);
// One iteration: lazy_trainer_loss with backward, the AdamW update of the
// step's weights (and the router clamp), iter + 1. ds->n must equal ndata.
void lazy_trainer_step(LazyTrainer *tr, const Dataset *ds);

// Checkpoint: safetensors with "w", "adam_m", "adam_v" (2, K, L, G), "adam_t"
// (K) and metadata (iteration, the options JSON). Loading requires the same
// options JSON (it names the first key that differs).
int lazy_trainer_save(const LazyTrainer *tr, const char *path, const char *options_json, LzError *err);
// The checkpoint is validated whole before anything is restored: the
// iteration an integer in [0, LAZY_TRAIN_MAX_ITER], the tensors' shapes,
// finite values, adam_v >= 0, whole AdamW counts adding up to the iteration.
int lazy_trainer_load(LazyTrainer *tr, const char *path, const char *options_json, LzError *err);
// Most iterations a run may have: the AdamW counts are stored as float32,
// exact below 2^24.
#define LAZY_TRAIN_MAX_ITER 16777216L
