// eval_job.h: the evaluation pipeline of generated images, the job behind
// `lazydit eval` and what the experiment runner calls directly:
//   1. load the feature classifier and hash its file (eval_job_open);
//   2. read the images to score (eval_read_images / eval_read_labels check
//      them against the classifier, or pass arrays from a sampling run);
//   3. load or build the reference statistics of the test split, cached under
//      the classifier's SHA-256 (analysis/refstats.h), once per job;
//   4. optionally clamp the images to [-1, 1] and round them to 8 bits
//      (model/io/image.h), the form in which the ADM evaluator reads samples
//      (uint8 arrays): on by default, `quantize = false` scores the floats as
//      given;
//   5. every metric of analysis/image_metrics.h (FID/sFID/IS-proxy, precision/
//      recall, KID, class consistency with labels, PSNR/SSIM with paired
//      images, bootstrap intervals).
// One job scores any number of sample sets against the same classifier and
// reference (eval_job_score), so a runner pays for the classifier and the
// reference once. Definitions and the measured scale: docs/metrics.md.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "analysis/image_metrics.h"

#define EVAL_DEFAULT_CLASSIFIER "models/classifier.safetensors"

typedef struct {
    const char *classifier;       // weights file (default EVAL_DEFAULT_CLASSIFIER)
    const char *cache_dir;        // reference statistics cache (default REFSTATS_DEFAULT_CACHE_DIR); NULL = no cache
    const char *reference_dir;    // MNIST-layout directory of the reference; NULL = Fashion-MNIST at its Debian path
    const char *reference_split;  // "test" (default) or "train"
    int classifier_batch;         // images per classifier forward (default 256)
    int threads;                  // OpenBLAS threads for FD, KID, precision/recall (default 2; 0 = leave as set);
                                  // features always run on one thread (analysis/classifier_features.h)
    bool quantize;                // clamp to [-1, 1] and round to 8 bits before scoring (default true)
    int sfid_channels;            // spatial channels of the sFID-proxy (default EVAL_SFID_CHANNELS)
    EvalConfig metrics;           // k, IS splits, KID subsets, bootstrap, seed, data range (eval_default_config)
} EvalJobOptions;

EvalJobOptions eval_job_default_options(void);

typedef struct {
    EvalJobOptions opt;
    Classifier *classifier;
    uint8_t classifier_sha[SHA256_BYTES];
    char classifier_hash[SHA256_HEX_LEN];
    bool have_reference;
    RefStats ref;                 // valid once have_reference (eval_job_reference)
    double t_reference;           // seconds spent loading or building it
} EvalJob;

// Validates the options and loads the classifier. Errors: bad options (batch,
// threads, bootstrap, sfid channels), the classifier file.
int eval_job_open(EvalJob *j, const EvalJobOptions *o, LzError *err);
// Loads or builds the reference statistics (a no-op after the first call).
// j->ref.note says why a cache file was rebuilt or could not be written.
int eval_job_reference(EvalJob *j, LzError *err);
// Scores n images (n, C, H, W) of the classifier's shape. labels (n) may be
// NULL (no class consistency), paired (n, C, H, W) may be NULL (no PSNR/SSIM;
// with quantize it is rounded like the samples). Needs n >= the IS splits and
// n > k; non-finite pixels are an error (before any rounding). Calls
// eval_job_reference if needed. Errors name no file: callers prefix it.
int eval_job_score(EvalJob *j, EvalResult *r, const float *samples, long n, const int64_t *labels,
                   const float *paired, LzError *err);
void eval_job_close(EvalJob *j);

// Reads images for the classifier c from .npy: (N, C, H, W), or (N, H, W) for
// one channel; float32/float64 taken as given, uint8 through
// image_pixel_from_u8. `what` names them in messages ("samples"). Wrong shape
// or dtype and non-finite pixels are errors naming the file. Returns float32
// (N, C, H, W) (caller frees), *n = N.
float *eval_read_images(const char *path, const char *what, const ClassifierConfig *c, long *n, LzError *err);
// Reads n labels (N,) of any integer dtype, each in [0, num_classes).
int64_t *eval_read_labels(const char *path, long n, int num_classes, LzError *err);
// Pixels outside [-1.01, 1.01] (a [0, 255] float array is the usual cause;
// [0, 1] cannot be told apart); *lo and *hi receive the extremes.
long eval_count_out_of_range(const float *x, long count, float *lo, float *hi);
