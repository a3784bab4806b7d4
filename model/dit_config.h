// dit_config.h: DiT hyper-parameters, the named configurations of the official
// code (DiT-S/B/L/XL x /2 /4 /8) and the exact MAC count of one forward pass.
#pragma once
#include "model/base/check.h"

typedef struct {
    int input_size;   // H = W of the input (latent or pixel), e.g. 32 for a 256x256 image
    int patch;        // patch size p: 2, 4 or 8 (any divisor of input_size works)
    int in_channels;  // C, e.g. 4 for SD-VAE latents, 1 for Fashion-MNIST pixels
    int hidden;       // D
    int depth;        // L, number of DiT blocks
    int heads;        // H, attention heads (D % H == 0)
    int num_classes;  // label table has num_classes + 1 rows: the last is the CFG null class
    int learn_sigma;  // 1: output channels = 2C (epsilon and variance interpolation)
    int mlp_hidden;   // 4D (official mlp_ratio 4.0)
    int freq_dim;     // 256 timestep frequencies
} DitConfig;

// Derived sizes.
static inline int dit_out_channels(const DitConfig *c) { return c->learn_sigma ? 2 * c->in_channels : c->in_channels; }
static inline int dit_grid(const DitConfig *c) { return c->input_size / c->patch; }
static inline int dit_tokens(const DitConfig *c) { return dit_grid(c) * dit_grid(c); }
static inline int dit_patch_dim(const DitConfig *c) { return c->in_channels * c->patch * c->patch; }
static inline int dit_out_patch_dim(const DitConfig *c) { return dit_out_channels(c) * c->patch * c->patch; }
static inline int dit_head_size(const DitConfig *c) { return c->hidden / c->heads; }

// Fills depth, hidden and heads from a name like "DiT-XL/2" (patch from the suffix).
// The other fields are left as they are. Returns -1 with a message for an unknown name.
int dit_config_named(DitConfig *c, const char *name, LzError *err);
// Checks every field and their consistency (divisibility, head size, ranges).
int dit_config_validate(const DitConfig *c, LzError *err);
// "DiT-XL/2" if the (depth, hidden, heads, patch) match a named config, else "custom".
const char *dit_config_name(const DitConfig *c, char *buf, int buflen);

// Multiply-accumulates of one forward pass of ONE image (batch 1, no CFG doubling).
typedef struct {
    double linear;     // every nn.Linear and the patch-embedding convolution
    double attention;  // q k^T and att v matmuls
    double total;      // linear + attention: the DiT paper's "Gflops" convention (fvcore
                       // counts matmuls and convolutions, not element-wise work)
} DitMacs;
DitMacs dit_macs(const DitConfig *c);
// Parameter count (all tensors of the state dict).
long dit_param_count(const DitConfig *c);
// The same in double arithmetic: exact below 2^53 and never wrapping, for
// checking a configuration read from a file against the file's size.
double dit_param_count_double(const DitConfig *c);
