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
