// dit_backward.h: gradients of the DiT forward pass (training mode), llm.c
// style: one pass in reverse forward order, parameter gradients ACCUMULATE into
// a flat buffer laid out exactly like the parameters.
#pragma once
#include "model/dit.h"

// Per-block gradient hook for lazy-gate training: called in the backward pass
// with the gradient of the loss w.r.t. module output y (pre-gate) of `layer`,
// before it is propagated into the module. It may read and modify dy (e.g. to
// take the share of a soft blend (1 - s) F(Z) + s cache) and may add into dz,
// the gradient w.r.t. the module's modulated input, which the backward then
// propagates further (dz already holds nothing when the hook runs; the module's
// own contribution is added after).
typedef struct {
    void *ctx;
    void (*module_grad)(void *ctx, int layer, DitModule module, float *dy, float *dz, int B);
} DitBackwardHooks;

typedef struct {
    float *params_memory;  // (P) parameter gradients, or NULL when the DiT is frozen
    DitParams params;      // named views into params_memory (NULL pointers when frozen)
    // Activation gradients, one layer's worth (reused across layers), max batch B.
    float *dres;       // (B, T, D) gradient w.r.t. the residual stream
    float *dln;        // (B, T, D)
    float *dz;         // (B, T, D) gradient w.r.t. a module's modulated input
    float *dy;         // (B, T, D) gradient w.r.t. a module's output (pre-gate)
    float *datty;      // (B, T, D)
    float *dqkv;       // (B, T, 3D)
    float *datt;       // (T, T) scratch of the attention backward
    float *dfc1;       // (B, T, M)
    float *dgelu;      // (B, T, M)
    float *dmod;       // (B, 6D)
    float *dsilu_c;    // (B, D)
    float *dc;         // (B, D)
    float *dth_act;    // (B, D)
    float *dth;        // (B, D)
    float *dfmod;      // (B, 2D)
    float *dout_tokens;// (B, T, p*p*Cout)
    float *memory;     // the one allocation behind every activation gradient
    int max_batch;
} DitGrads;

// with_param_grads = 0 for a frozen DiT: only activation gradients are computed
// (they still flow through every block to reach lazy gates).
void dit_grads_build(DitGrads *g, const DitModel *m, int with_param_grads);
void dit_grads_free(DitGrads *g);
void dit_grads_zero_params(DitGrads *g, const DitModel *m);

// Backward of dit_forward for the last forward's batch (the model must be in
// training mode). dout (B, Cout, H, W) is dLoss/d(output). Accumulates
// parameter gradients (if any). hooks may be NULL.
void dit_backward(DitModel *m, DitGrads *g, const float *dout, const int *y, int B, const DitBackwardHooks *hooks);
