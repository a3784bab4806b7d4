// dataset.h: a labelled image dataset held in memory as float pixels in [-1, 1],
// the range the DiT and the feature classifier consume.
//
// Sources:
//  - IDX pairs (MNIST / Fashion-MNIST layout, .gz or plain): uint8 pixels are
//    scaled x / 127.5 - 1. A directory holds "<prefix>-images-idx3-ubyte[.gz]"
//    and "<prefix>-labels-idx1-ubyte[.gz]" with prefix "train" or "t10k"
//    (split "train" or "test"). Fashion-MNIST's Debian location is the default.
//  - .npy pairs: images (N, C, H, W) or (N, H, W) as uint8 (scaled like IDX)
//    or float32/float64 (taken as is, e.g. generated samples; NaN and infinity
//    are errors); labels (N,) of
//    any integer dtype in a separate .npy, optional.
//
// Shuffling is deterministic: the order of epoch e is a pure function of
// (seed, e) (see dataset_epoch_order), so a run resumed at epoch e sees exactly
// the batches an uninterrupted run would have seen.
#pragma once
#include <stdint.h>

#include "model/base/check.h"

#define DATASET_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    long n;           // number of images
    int c, h, w;      // image shape
    float *images;    // (N, C, H, W) in [-1, 1] for uint8 sources
    int *labels;      // (N,) class indices >= 0, or NULL when the source has no labels
    int num_classes;  // max label + 1 (0 without labels)
    char source[512]; // where the images came from, for logs and provenance
} Dataset;

// One IDX images file (N, H, W) and, if labels_path is not NULL, one IDX labels file (N,).
int dataset_load_idx(Dataset *ds, const char *images_path, const char *labels_path, LzError *err);
// A directory in the MNIST layout; dir NULL means DATASET_FASHION_MNIST_DIR.
// split is "train" or "test" ("t10k" is accepted as a synonym of "test").
int dataset_load_dir(Dataset *ds, const char *dir, const char *split, LzError *err);
// .npy images and optional .npy labels (labels_path may be NULL).
int dataset_load_npy(Dataset *ds, const char *images_path, const char *labels_path, LzError *err);
// Dispatches on the images file name: "*.npy" -> dataset_load_npy, else IDX.
int dataset_load_files(Dataset *ds, const char *images_path, const char *labels_path, LzError *err);
// The CLI's "--data" convention: "train" or "test" (Fashion-MNIST at its Debian
// location, split = the name) or a directory (split given separately).
int dataset_load_spec(Dataset *ds, const char *spec, const char *split, LzError *err);
void dataset_free(Dataset *ds);

// Writes a permutation of 0..n-1 into order (n entries): Fisher-Yates driven by
// xoshiro256** (model/base/prng.h) seeded with dataset_stream_seed(seed, 1, epoch).
void dataset_epoch_order(long *order, long n, uint64_t seed, long epoch);
// Derives an independent 64-bit seed for (seed, stream, index) by chaining
// splitmix64 over the three words: used for epoch orders (stream 1) and for
// per-batch augmentation (stream 2, index = global step), so every random
// decision of training is a pure function of the config seed and the position.
uint64_t dataset_stream_seed(uint64_t seed, uint64_t stream, uint64_t index);

// Copies images order[0..b) into dst (b, C, H, W) and their labels into
// labels_dst (if not NULL and the dataset has labels).
void dataset_gather(const Dataset *ds, const long *order, int b, float *dst, int *labels_dst);

// In-place augmentation of a batch x (b, C, H, W) whose background is -1:
// each image is translated by (dy, dx) uniform in [-max_shift, max_shift]
// (pixels shifted in from outside are -1) and, if hflip, mirrored left-right
// with probability 1/2. Randomness comes from xoshiro256** seeded with `seed`
// (callers pass dataset_stream_seed(cfg_seed, 2, step)). scratch holds C*H*W floats.
void dataset_augment(float *x, int b, int c, int h, int w, int max_shift, int hflip, uint64_t seed, float *scratch);
