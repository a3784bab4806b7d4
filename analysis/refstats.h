// refstats.h: reference statistics for the metrics on generated images,
// computed once from real images (the Fashion-MNIST test split) with the
// feature classifier and cached on disk.
//
// Contents: the penultimate features of every reference image (KID and
// precision/recall need the points, not just a Gaussian), the Gaussian fits
// (mean, unbiased covariance, in double) of the penultimate and of the
// sFID-proxy features, the classifier's accuracy on the reference (when it has
// labels) and the reference's own IS-proxy.
//
// Cache key. A cache file is only valid for the exact classifier bytes and the
// exact reference images, so it is named
//     <cache_dir>/refstats_<classifier sha256, 16 hex>_<reference key, 8 hex>.bin
// where the classifier hash is SHA-256 of the weights file (= `sha256sum`) and
// the reference key is SHA-256 over a format tag, the sFID channel count, the
// image shape, the pixels (float32) and the labels. Both full 32-byte digests
// are stored inside the file and compared on load; a retrained classifier
// therefore gets a new file name and a fresh build. Old files are never
// deleted (they are small: ~6 MB each).
//
// File format (little-endian; `refstats_save`, written atomically):
//     0   char[8]   "LZREFST1"
//     8   u8[32]    classifier SHA-256
//     40  u8[32]    reference key
//     72  int64     n (reference images)
//     80  int32 x4  pen_dim, sfid_channels, sfid_dim, num_classes
//     96  int64     correct (argmax == label count; -1 without labels)
//     104 float64   is_mean, is_std (IS-proxy of the reference, 10 splits)
//     120 float32   pen features (n, pen_dim)
//         float64   pen mu (pen_dim), pen sigma (pen_dim, pen_dim),
//                   sfid mu (sfid_dim), sfid sigma (sfid_dim, sfid_dim)
//     end u8[32]    SHA-256 of every byte before it
// The loader checks the magic, the header ranges, the exact file size, the
// trailing digest, finiteness and symmetry; any failure means "rebuild".
#pragma once
#include <stdint.h>

#include "analysis/classifier_features.h"
#include "analysis/frechet.h"
#include "model/base/sha256.h"
#include "model/base/check.h"
#include "model/classifier.h"
#include "model/io/dataset.h"

#define REFSTATS_DEFAULT_CACHE_DIR "results/cache"

typedef enum {
    REFSTATS_COMPUTED,  // computed, no cache directory given
    REFSTATS_LOADED,    // read from a valid cache file
    REFSTATS_BUILT,     // computed and written to the cache (or writing failed: see note)
} RefStatsOrigin;

typedef struct {
    uint8_t classifier_sha[SHA256_BYTES];
    uint8_t reference_key[SHA256_BYTES];
    long n;              // reference images
    int pen_dim;         // FID-proxy / KID / PR feature width
    int sfid_channels;
    int sfid_dim;        // sFID-proxy feature width
    int num_classes;
    long correct;        // reference images classified as their label, -1 without labels
    double is_mean, is_std;
    float *pen;          // (n, pen_dim) penultimate features
    GaussStats pen_stats;
    GaussStats sfid_stats;
    RefStatsOrigin origin;
    char path[1024];     // cache file ("" without a cache directory)
    char note[LZ_ERR_LEN + 256];  // why a cache file was rebuilt or not written ("" if nothing to say)
} RefStats;

// SHA-256 key of a reference set (see above). labels may be NULL.
void refstats_reference_key(uint8_t key[SHA256_BYTES], const float *images, long n, int c, int h, int w,
                            const int *labels, int sfid_channels);
// "<cache_dir>/refstats_<16 hex>_<8 hex>.bin" into buf.
void refstats_cache_path(char *buf, size_t len, const char *cache_dir, const uint8_t classifier_sha[SHA256_BYTES],
                         const uint8_t reference_key[SHA256_BYTES]);

// Computes everything from the reference images ref (n >= 10, the IS splits).
// classifier_sha identifies the weights m was loaded from.
int refstats_compute(RefStats *rs, Classifier *m, const uint8_t classifier_sha[SHA256_BYTES], const Dataset *ref,
                     int sfid_channels, LzError *err);
int refstats_save(const RefStats *rs, const char *path, LzError *err);
int refstats_load(RefStats *rs, const char *path, LzError *err);

// The cached path: with cache_dir NULL, compute only. Otherwise load the
// cache file for (classifier_sha, reference key) if it is valid and matches
// (origin LOADED); if it is missing or invalid, compute, create cache_dir
// (and parents) and save (origin BUILT). An invalid file or a failed save is
// not an error: rs->note says what happened (callers print it as a warning).
int refstats_get(RefStats *rs, Classifier *m, const uint8_t classifier_sha[SHA256_BYTES], const Dataset *ref,
                 int sfid_channels, const char *cache_dir, LzError *err);
void refstats_free(RefStats *rs);
