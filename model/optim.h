// optim.h: AdamW and EMA over flat float arrays (llm.c style: the caller owns
// params, grads and moments as single allocations).
#pragma once

typedef struct {
    double lr;            // learning rate (DiT default 1e-4)
    double beta1, beta2;  // 0.9, 0.999
    double eps;           // 1e-8
    double weight_decay;  // decoupled, 0 for DiT
} AdamWConfig;

// One AdamW update at step t (1-based) on n parameters, exactly torch.optim.AdamW:
// p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
void adamw_update(float *params, float *m, float *v, const float *grads, long n, const AdamWConfig *cfg, long t);

// ema = decay * ema + (1 - decay) * params
void ema_update(float *ema, const float *params, long n, double decay);

// Learning-rate schedule of a run of `total` optimizer steps: a linear warm-up
// over the first `warmup` steps, lr * (s + 1) / warmup at 0-based step s
// (computed as lr * ((s + 1) / warmup), so the last warm-up step gives exactly
// lr), then constant or a cosine decay to 0 over the remaining steps:
// lr * (1 + cos(pi * (s - warmup) / (total - warmup))) / 2. Shared by DiT and
// classifier training.
typedef enum { LR_DECAY_NONE = 0, LR_DECAY_COSINE = 1 } LrDecay;
typedef struct {
    double lr;      // peak learning rate
    long warmup;    // warm-up steps (0 = none)
    LrDecay decay;
    long total;     // steps of the whole schedule (cosine only)
} LrSchedule;

double lr_schedule_at(const LrSchedule *s, long step);
