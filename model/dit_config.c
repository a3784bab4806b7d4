#include "model/dit_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *size;
    int depth, hidden, heads;
} NamedSize;

// From the official models.py: DiT_S (12, 384, 6), B (12, 768, 12), L (24, 1024, 16), XL (28, 1152, 16).
static const NamedSize named_sizes[] = {
    {"S", 12, 384, 6},
    {"B", 12, 768, 12},
    {"L", 24, 1024, 16},
    {"XL", 28, 1152, 16},
};

int dit_config_named(DitConfig *c, const char *name, LzError *err) {
    char size[8];
    int patch = 0;
    char tail = 0;
    if (sscanf(name, "DiT-%7[A-Z]/%d%c", size, &patch, &tail) != 2 || (patch != 2 && patch != 4 && patch != 8))
        return lz_fail(err, "unknown model config '%s' (expected DiT-S|B|L|XL/2|4|8)", name);
    for (size_t i = 0; i < sizeof named_sizes / sizeof named_sizes[0]; i++) {
        if (strcmp(size, named_sizes[i].size)) continue;
        c->depth = named_sizes[i].depth;
        c->hidden = named_sizes[i].hidden;
        c->heads = named_sizes[i].heads;
        c->patch = patch;
        c->mlp_hidden = 4 * c->hidden;
        c->freq_dim = 256;
        return 0;
    }
    return lz_fail(err, "unknown model size '%s' in '%s' (expected S, B, L or XL)", size, name);
}

const char *dit_config_name(const DitConfig *c, char *buf, int buflen) {
    for (size_t i = 0; i < sizeof named_sizes / sizeof named_sizes[0]; i++) {
        const NamedSize *n = &named_sizes[i];
        if (n->depth == c->depth && n->hidden == c->hidden && n->heads == c->heads &&
            (c->patch == 2 || c->patch == 4 || c->patch == 8)) {
            snprintf(buf, buflen, "DiT-%s/%d", n->size, c->patch);
            return buf;
        }
    }
    snprintf(buf, buflen, "custom");
    return buf;
}

int dit_config_validate(const DitConfig *c, LzError *err) {
    if (c->input_size <= 0 || c->patch <= 0 || c->input_size % c->patch)
        return lz_fail(err, "input size %d is not a positive multiple of patch size %d", c->input_size, c->patch);
    if (c->in_channels <= 0 || c->in_channels > 64) return lz_fail(err, "in_channels %d out of range 1..64", c->in_channels);
    if (c->hidden <= 0 || c->depth <= 0 || c->heads <= 0)
        return lz_fail(err, "hidden %d, depth %d and heads %d must be positive", c->hidden, c->depth, c->heads);
    if (c->hidden % c->heads)
        return lz_fail(err, "hidden size %d is not divisible by %d heads", c->hidden, c->heads);
    if (c->hidden % 4)
        return lz_fail(err, "hidden size %d must be a multiple of 4 for the 2-D sin-cos position embedding", c->hidden);
    if (c->num_classes <= 0) return lz_fail(err, "num_classes %d must be positive", c->num_classes);
    if (c->mlp_hidden <= 0) return lz_fail(err, "mlp hidden size %d must be positive", c->mlp_hidden);
    if (c->freq_dim <= 0 || c->freq_dim % 2)
        return lz_fail(err, "frequency embedding size %d must be positive and even", c->freq_dim);
    if (c->learn_sigma != 0 && c->learn_sigma != 1) return lz_fail(err, "learn_sigma must be 0 or 1");
    return 0;
}

DitMacs dit_macs(const DitConfig *c) {
    double D = c->hidden, T = dit_tokens(c), M = c->mlp_hidden, F = c->freq_dim;
    double linear = 0;
    linear += T * D * dit_patch_dim(c);  // patch embedding conv
    linear += F * D + D * D;             // timestep MLP
    double per_block = 6 * D * D         // adaLN modulation (per image, not per token)
                       + T * D * 3 * D   // qkv
                       + T * D * D       // attention output projection
                       + T * D * M * 2;  // fc1 and fc2
    linear += c->depth * per_block;
    linear += 2 * D * D + T * D * dit_out_patch_dim(c);  // final adaLN and linear
    double attention = c->depth * 2.0 * T * T * D;       // q k^T and att v over all heads
    DitMacs m = {linear, attention, linear + attention};
    return m;
}

long dit_param_count(const DitConfig *c) {
    long D = c->hidden, M = c->mlp_hidden, F = c->freq_dim;
    long n = 0;
    n += D * dit_patch_dim(c) + D;                // x_embedder
    n += (long)dit_tokens(c) * D;                 // pos_embed (fixed, but in the state dict)
    n += D * F + D + D * D + D;                   // t_embedder
    n += (long)(c->num_classes + 1) * D;          // y_embedder (with the null row)
    long block = 6 * D * D + 6 * D + 3 * D * D + 3 * D + D * D + D + M * D + M + D * M + D;
    n += c->depth * block;
    n += 2 * D * D + 2 * D + (long)dit_out_patch_dim(c) * D + dit_out_patch_dim(c);
    return n;
}

double dit_param_count_double(const DitConfig *c) {
    double D = c->hidden, M = c->mlp_hidden, F = c->freq_dim, T = (double)dit_grid(c) * dit_grid(c);
    double Pin = (double)c->in_channels * c->patch * c->patch, Pout = (double)dit_out_channels(c) * c->patch * c->patch;
    double block = 6 * D * D + 6 * D + 3 * D * D + 3 * D + D * D + D + M * D + M + D * M + D;
    return D * Pin + D + T * D + D * F + D + D * D + D + ((double)c->num_classes + 1) * D + c->depth * block +
           2 * D * D + 2 * D + Pout * D + Pout;
}
