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
#define DIT_MODULES 2
static inline const char *dit_module_name(DitModule m) { return m == DIT_ATTN ? "attn" : "mlp"; }

// Where a forward pass sits in a sampling run. Every hook receives it, so a
// policy or a recorder needs no separate sampler callback to know the step.
// Model row b of a chunk holds sample first_sample + (b % rows); rows b >=
// cond_rows are the null-label rows of classifier-free guidance. A forward
// outside a sampling run (training, `lazydit forward`) has step == -1.
typedef struct {
    int step;            // index in execution order: 0 = the first (noisiest) step; -1 outside sampling
    int num_steps;       // K
    long timestep;       // the original DDPM timestep the model is called with
    long first_sample;   // run index of the sample in model row 0
    int rows;            // samples in the chunk
    int cond_rows;       // model rows [0, cond_rows) carry the samples' labels, [cond_rows, B) the CFG null label
    int model_rows;      // B of the forward
    const int *labels;   // (B) labels of the model rows
} DitStep;

// What a module hook sees at one module of one block. Row b of the view is
// model row row_ids[b] of the forward (the identity unless a stack hook sent
// some rows around the blocks, see DitStackView; caches index by model row).
typedef struct {
    const DitStep *step;  // NULL outside sampling
    int layer;
    DitModule module;
    int B, T, D;
    const int *row_ids;   // (B) model row of each view row
    const float *z;       // (B, T, D) modulated input Z = modulate(LN(x), shift, scale); NULL when every
                          // set of the chain declared ignores_z (Z is then computed for the kept rows only)
    float *y;             // (B, T, D) module output before the adaLN gate (a hook may repoint it, see DitHooks)
    const float *gate;    // gate of row b: gate + b * gate_stride, D values
    int gate_stride;
    unsigned char *skip;  // (B) 1 = this row reuses a cached output (its module is not run); at fill,
                          // also rows a policy's review replaced by the cache after running them
    float *score;         // (B) a policy's decision score per row (e.g. LazyDiT's sigmoid), NAN if none
} DitModuleView;

// What a stack hook sees: the whole stack of blocks, before block 0 (decide)
// and after the last block (done). Rows the decide hooks skip never enter the
// blocks: their stack output must be written into `out` by the hook that set
// the flag (e.g. x + a cached residual: TeaCache, whole-step reuse); the kept
// rows run through the blocks as a smaller batch.
typedef struct {
    const DitStep *step;  // NULL outside sampling
    int B, T, D;
    const float *x;       // (B, T, D) embedded tokens: the input of block 0
    const float *z0;      // (B, T, D) block 0's modulated attention input (TeaCache's change indicator)
    float *out;           // (B, T, D) stack output: skipped rows written at decide, every row at done
    unsigned char *skip;  // (B) 1 = this row bypasses every block
} DitStackView;

// One hook set. The forward calls the hooks of a chain in order (this set,
// then `next`, ...) at each point:
//   stack_decide  before block 0 (only if some set has it; z0 is then computed)
//   stack_done    after the last block, out = every row's stack output
//   decide        per module, after z is ready (before it, with z = NULL, if
//                 every set has ignores_z); skip[] starts at 0 and each set
//                 sees the flags of the sets before it. A set may point y at
//                 a (B, T, D) buffer of its own (the lazy runtime does so with
//                 its cache block): the forward then writes the computed rows
//                 there, and the rows the set skipped must hold their output
//                 there by the end of its fill (the cache already does: no
//                 copy in and none out). Only safe when no later set skips
//                 rows, since those would write their fill into the buffer
//   fill          per module, after the kept rows were computed (all rows, a
//                 gathered subset, or none); the set that skipped a row must
//                 write its y here, later sets see every row's final y and
//                 skip[b] = 1 for every row whose y is a reused output (also
//                 a row that was computed and then replaced by its cache, as
//                 the oracle policy does). Instead of writing rows, a set may
//                 point y at a (B, T, D) buffer of its own that already holds
//                 every row's output (the lazy runtime does so with its cache
//                 when every row reuses: no copy); later sets and the forward
//                 then read y from there and must not write it
// So a policy chained before a recorder decides and fills first, and the
// recorder observes exactly what the policy decided and what was used. Any
// pointer may be NULL; with no hooks every module runs.
//
// ignores_z = 1 promises that neither decide nor fill of the set reads v->z.
// When every set of a chain with module hooks promises it (the lazy runtime
// does for a policy whose decisions do not look at Z: FORA, random,
// SmoothCache, L2C, oracle; never for LazyDiT, whose gate reads Z), an
// inference forward decides first and computes LayerNorm + modulate only for
// the rows that run the module, straight into the packed batch they run as:
// skipped rows cost neither Z nor a gather copy. The zero default (reads Z)
// is the safe one. Results are the same bits either way.
typedef struct DitHooks {
    void *ctx;
    void (*decide)(void *ctx, DitModuleView *v);
    void (*fill)(void *ctx, DitModuleView *v);
    void (*stack_decide)(void *ctx, DitStackView *v);
    void (*stack_done)(void *ctx, DitStackView *v);
    const struct DitHooks *next;
    int ignores_z;  // 1 = decide and fill never read v->z (see above)
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
    float *stack_in;   // (B, T, D) block-0 input kept for stack hooks (inference updates res in place)
    float *stack_z0;   // (B, T, D) block 0's modulated attention input for stack_decide
    float *stack_out;  // (B, T, D) stack outputs of the rows that bypass the blocks
    float *score;      // (B) decision scores of the module view
    unsigned char *skip;  // (B)
    unsigned char *stack_skip;  // (B)
    int *kept_rows;       // (B)
    int *packed_row;      // (B) row of each view row in the packed kept batch, -1 if skipped
    int *row_ids;         // (B) model row of each row of the block stack
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
// step (may be NULL) is handed to every hook; hooks may be NULL.
void dit_forward(DitModel *m, const float *x, const float *t, const int *y, int B, const DitStep *step,
                 const DitHooks *hooks);

// forward_with_cfg(x, t, y, scale): B even; the first half of x is used for both
// halves (as upstream), y holds conditional labels then null labels. The first
// `guide_channels` output channels get uncond + s (cond - uncond) in both
// halves; the others pass through. Upstream uses 3 ("for exact
// reproducibility"), the all-epsilon-channels variant is guide_channels = C.
// Returns m->acts.cfg_out (B, Cout, H, W).
const float *dit_forward_cfg(DitModel *m, const float *x, const float *t, const int *y, int B, float scale,
                             int guide_channels, const DitStep *step, const DitHooks *hooks);

// One family of float tensors (activations, gradients): where its pointer
// lives and how many floats it has. dit.c and dit_backward.c list their
// families in a table of these and carve them out of one allocation.
typedef struct {
    float **slot;
    long floats;
} DitFamily;

// Sets every slot to its slice of one zeroed allocation (a family of 0 floats
// gets NULL) and returns the allocation; *total (may be NULL) receives the
// float count.
float *dit_families_alloc(const DitFamily *f, int n, const char *what, long *total);

// Pointer to layer l's slice of a per-layer activation family of `per_layer`
// floats (slice 0 in inference mode, where one layer's buffer is reused).
static inline float *dit_layer(const DitModel *m, float *family, int l, long per_layer) {
    return family + (m->training ? (long)l * per_layer : 0);
}
