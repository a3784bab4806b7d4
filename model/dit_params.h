// dit_params.h: the DiT parameters as one float allocation, the table that maps
// every official state-dict name to its slice, initialisation, and loading and
// saving through safetensors with the name set validated in both directions.
#pragma once
#include <stdint.h>

#include "model/diffusion.h"
#include "model/dit_config.h"

// Pointers into one flat allocation. Per-block tensors of all L blocks are
// contiguous (llm.c layout), so block l's qkv weight is qkv_w + l * 3D * D.
typedef struct {
    float *x_embed_w;    // (D, C, p, p)   x_embedder.proj.weight
    float *x_embed_b;    // (D)
    float *pos_embed;    // (1, T, D)      fixed 2-D sin-cos, stored in checkpoints
    float *t_fc1_w;      // (D, F)         t_embedder.mlp.0
    float *t_fc1_b;      // (D)
    float *t_fc2_w;      // (D, D)         t_embedder.mlp.2
    float *t_fc2_b;      // (D)
    float *y_table;      // (K + 1, D)     y_embedder.embedding_table, last row = null class
    float *ada_w;        // (L, 6D, D)     blocks.l.adaLN_modulation.1
    float *ada_b;        // (L, 6D)
    float *qkv_w;        // (L, 3D, D)     blocks.l.attn.qkv
    float *qkv_b;        // (L, 3D)
    float *proj_w;       // (L, D, D)      blocks.l.attn.proj
    float *proj_b;       // (L, D)
    float *fc1_w;        // (L, M, D)      blocks.l.mlp.fc1
    float *fc1_b;        // (L, M)
    float *fc2_w;        // (L, D, M)      blocks.l.mlp.fc2
    float *fc2_b;        // (L, D)
    float *final_ada_w;  // (2D, D)        final_layer.adaLN_modulation.1
    float *final_ada_b;  // (2D)
    float *final_w;      // (p*p*Cout, D)  final_layer.linear
    float *final_b;      // (p*p*Cout)
} DitParams;

// One entry per state-dict tensor.
typedef struct {
    char name[64];
    int ndim;
    long shape[4];
    long offset;     // in floats from the start of the flat allocation
    long count;
    int trainable;   // 0 for pos_embed (a fixed buffer, requires_grad=False upstream)
} DitTensorInfo;

typedef struct {
    int ntensors;
    DitTensorInfo *tensors;  // ntensors entries, in state-dict order
    long total;              // floats in the flat allocation
} DitTensorTable;

void dit_tensor_table_build(DitTensorTable *table, const DitConfig *c);
void dit_tensor_table_free(DitTensorTable *table);
// Carves the named pointers out of `base` (total floats long).
void dit_params_layout(DitParams *p, float *base, const DitConfig *c);

// Official initialisation (models.py initialize_weights): xavier-uniform linear
// weights and zero biases, fixed sin-cos pos_embed, N(0, 0.02) label table and
// timestep MLP weights, zero adaLN and zero final layer (the model outputs 0).
void dit_init_official(float *base, const DitConfig *c, uint64_t seed);
// Every parameter random (pos_embed included) at scales that keep activations
// O(1): for reference tests and benchmarks, where zero-initialised layers would
// hide bugs.
void dit_init_random(float *base, const DitConfig *c, uint64_t seed);
// The fixed 2-D sin-cos position embedding (1, grid*grid, D), computed in double.
void dit_pos_embed_sincos(float *out, int hidden, int grid);

// Loads a safetensors checkpoint: infers the configuration from the tensor shapes
// (patch, channels, hidden, depth, classes, learn_sigma, input size from
// pos_embed); heads come from `heads` if > 0, else the file's "num_heads"
// metadata, else the named config with that depth and width. Every expected
// name must be present with its exact shape and no other tensor may be present.
// Every size is checked against what the file holds before anything is
// allocated, and every value must be finite (NaN or infinity: an error naming
// the tensor). On success *base is a new allocation of table->total floats.
int dit_load(const char *path, int heads, DitConfig *c, float **base, LzError *err);
// dit_load that also reads the diffusion schedule the model was trained with
// from the metadata (model/diffusion.h: missing = the official linear
// 1000-step schedule; an unknown schedule is an error). Samplers use this.
int dit_load_with_schedule(const char *path, int heads, DitConfig *c, float **base, DiffusionSchedule *schedule,
                           LzError *err);
// Both with flags: DIT_LOAD_ALLOW_NONFINITE keeps NaN and infinite weights
// (for inspecting a diverged checkpoint). schedule may be NULL.
#define DIT_LOAD_ALLOW_NONFINITE 1
int dit_load_ex(const char *path, int heads, int flags, DitConfig *c, float **base, DiffusionSchedule *schedule,
                LzError *err);
// Writes all tensors (F32) with metadata num_heads and the config name.
int dit_save(const char *path, const DitConfig *c, const float *base, LzError *err);
// dit_save plus the training schedule as metadata "diffusion_schedule" and
// "diffusion_steps" (what `lazydit train` exports).
int dit_save_with_schedule(const char *path, const DitConfig *c, const float *base, const DiffusionSchedule *schedule,
                           LzError *err);
