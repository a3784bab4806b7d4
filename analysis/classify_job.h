// classify_job.h: the feature classifier over a whole dataset, the job behind
// `lazydit classify`: accuracy when the images have labels, and on request
// the logits, softmax probabilities (IS-proxy), penultimate features
// (FID-proxy) and spatial features (sFID-proxy, all channels in (C, H, W)
// order) of every image.
#pragma once
#include <stdbool.h>

#include "model/base/check.h"

typedef struct {
    const char *weights;   // classifier safetensors
    const char *data;      // "test" | "train" (Fashion-MNIST at its Debian path) or an MNIST-layout directory
    const char *split;     // split of a `data` directory: "train" or "test"
    const char *images;    // images file (.npy or IDX); overrides data
    const char *labels;    // labels file for `images` (may be NULL: no accuracy)
    int batch;             // images per forward chunk (default 256)
    int threads;           // OpenBLAS threads (default 2)
    bool want_logits, want_probs, want_penultimate, want_spatial;
} ClassifyOptions;

ClassifyOptions classify_default_options(void);

typedef struct {
    long n;
    int num_classes, pen_dim, spatial_dim;
    char source[512];      // where the images came from
    bool has_labels;
    long correct;          // argmax == label (has_labels)
    long labels_beyond;    // labels >= num_classes (they can never be right)
    float *logits;         // (n, num_classes) if wanted
    float *probs;          // (n, num_classes) if wanted
    float *penultimate;    // (n, pen_dim) if wanted
    float *spatial;        // (n, spatial_dim) if wanted
} ClassifyResult;

// Errors: the weights or the images cannot be read, the images do not have the
// classifier's shape, batch or threads < 1.
int classify_run(ClassifyResult *r, const ClassifyOptions *o, LzError *err);
void classify_result_free(ClassifyResult *r);
