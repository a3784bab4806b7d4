// dit.h: the Diffusion Transformer (facebookresearch/DiT models.py), forward
// pass with per-module hook points for lazy policies and similarity recording.
//
// Forward order (read dit.c top to bottom in the same order):
//   patches = patchify(x); tokens = patches @ Wx^T + bx + pos_embed
//   c = MLP(timestep_embedding(t)) + y_table[y]; silu_c = SiLU(c)
//   per block l: mod = silu_c @ Wada^T + bada  -> shift/scale/gate (msa), shift/scale/gate (mlp)
//     z1 = modulate(LN(x), shift_msa, scale_msa); y1 = Attn(z1); x += gate_msa * y1
//     z2 = modulate(LN(x), shift_mlp, scale_mlp); y2 = MLP(z2);  x += gate_mlp * y2
//   final: z = modulate(LN(x), shift, scale); out = unpatchify(z @ Wf^T + bf)
#pragma once
#include <stdint.h>

#include "model/dit_config.h"
#include "model/dit_params.h"

typedef enum { DIT_ATTN = 0, DIT_MLP = 1 } DitModule;

// What a hook sees at one module of one block, for the B rows of the batch.
typedef struct {
    int layer;
    DitModule module;
    int B, T, D;
    const float *z;       // (B, T, D) modulated input Z = modulate(LN(x), shift, scale)
    float *y;             // (B, T, D) module output before the adaLN gate
    const float *gate;    // gate of row b: gate + b * gate_stride, D values
    int gate_stride;
    unsigned char *skip;  // (B) 1 = reuse a cached output for this row
} DitModuleView;

// Hook points. `decide` runs after z is ready and may set skip[b] = 1 (all 0 on
// entry). The forward then computes y only for rows that are not skipped (in a
// mixed batch the kept rows are gathered and run as a smaller batch), and calls
// `fill`, which must write y for the skipped rows (e.g. from a cache) and may
// read the computed rows (to update caches or record similarities). Either
// pointer may be NULL. With no hooks, every module runs.
typedef struct {
    void *ctx;
    void (*decide)(void *ctx, DitModuleView *v);
    void (*fill)(void *ctx, DitModuleView *v);
} DitHooks;

// Activations. Per-layer tensors have a leading L dimension in training mode
// (everything saved for backward) and 1 in inference mode (one layer's worth,
// reused). Shapes below are for training mode; B is the maximum batch.
typedef struct {
    float *patches;    // (B, T, C*p*p)
    float *tfreq;      // (B, F) timestep frequencies
    float *th;         // (B, D) t_embedder.mlp.0 output (pre-SiLU)
    float *th_act;     // (B, D) SiLU(th)
    float *c;          // (B, D) t_emb + y_emb
    float *silu_c;     // (B, D)
    float *res;        // (L + 1, B, T, D) residual stream: res[0] = embedded tokens, res[l+1] = block l output
    float *mid;        // (L, B, T, D) residual after the attention branch of block l
    float *mod;        // (L, B, 6D) adaLN outputs of every block (always all layers: small)
    float *ln1;        // (L, B, T, D) LN(x) before attention
    float *ln1_mean;   // (L, B, T)
    float *ln1_rstd;   // (L, B, T)
    float *z1;         // (L, B, T, D) modulated attention input
    float *qkv;        // (L, B, T, 3D)
    float *att;        // (L, B, H, T, T) softmax probabilities
    float *atty;       // (L, B, T, D) attention output before proj
    float *y1;         // (L, B, T, D) attention module output (pre-gate)
    float *ln2;        // (L, B, T, D)
    float *ln2_mean;   // (L, B, T)
    float *ln2_rstd;   // (L, B, T)
    float *z2;         // (L, B, T, D) modulated MLP input
    float *fc1;        // (L, B, T, M) fc1 output (pre-GELU)
    float *gelu;       // (L, B, T, M)
    float *y2;         // (L, B, T, D) MLP module output (pre-gate)
    float *fmod;       // (B, 2D) final adaLN: shift, scale
    float *lnf;        // (B, T, D)
    float *lnf_mean;   // (B, T)
    float *lnf_rstd;   // (B, T)
    float *zf;         // (B, T, D)
    float *out_tokens; // (B, T, p*p*Cout)
    float *out;        // (B, Cout, H, W) model output
    float *cfg_in;     // (B, C, H, W) doubled-half input of forward_with_cfg
    float *cfg_out;    // (B, Cout, H, W)
    float *gather_z;   // (B, T, D) kept rows of a mixed batch
    float *gather_y;   // (B, T, D)
    unsigned char *skip;  // (B)
    int *kept_rows;       // (B)
} DitActs;

typedef struct {
    DitConfig cfg;
    float *params_memory;  // one allocation of dit_param_count floats
    DitParams params;      // named views into params_memory
    int max_batch;
    int training;          // 1: all layers' activations are kept for backward
    float *acts_memory;    // one allocation for all float activations
    long acts_floats;
    DitActs acts;
} DitModel;

// Builds a model around loaded or initialised parameters (takes ownership of
// params, a dit_param_count float allocation) and allocates every activation
// for batches up to max_batch.
void dit_build(DitModel *m, const DitConfig *cfg, float *params, int max_batch, int training);
void dit_free(DitModel *m);
// Bytes of activation memory dit_build would allocate.
long dit_acts_bytes(const DitConfig *cfg, int max_batch, int training);

// forward(x, t, y): x (B, C, H, W), t (B) timesteps (may be fractional), y (B)
// labels in [0, num_classes] (num_classes = the null class). Output in m->acts.out.
void dit_forward(DitModel *m, const float *x, const float *t, const int *y, int B, const DitHooks *hooks);

// forward_with_cfg(x, t, y, scale): B even; the first half of x is used for both
// halves (as upstream), y holds conditional labels then null labels. The first
// `guide_channels` output channels get uncond + s (cond - uncond) in both
// halves; the others pass through. Upstream uses 3 ("for exact
// reproducibility"), the all-epsilon-channels variant is guide_channels = C.
// Returns m->acts.cfg_out (B, Cout, H, W).
const float *dit_forward_cfg(DitModel *m, const float *x, const float *t, const int *y, int B, float scale,
                             int guide_channels, const DitHooks *hooks);

// Pointer to layer l's slice of a per-layer activation family of `per_layer`
// floats (slice 0 in inference mode, where one layer's buffer is reused).
static inline float *dit_layer(const DitModel *m, float *family, int l, long per_layer) {
    return family + (m->training ? (long)l * per_layer : 0);
}
