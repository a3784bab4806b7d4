// classifier.h: the feature classifier behind the FID-proxy family of metrics
// (docs/metrics.md), a small VGG-style CNN trained on Fashion-MNIST.
//
// Network (PyTorch order shapes, defaults in brackets; all convs 3x3, stride 1, pad 1):
//   x        (N, in_c, H, W)            [1, 28, 28], pixels in [-1, 1]
//   conv1    -> ReLU (N, c1, H, W)       [32]
//   maxpool2 -> (N, c1, H/2, W/2)
//   conv2    -> ReLU (N, c2, H/2, W/2)   [64]
//   conv3    -> ReLU (N, c3, H/2, W/2)   [64]
//   maxpool2 -> (N, c3, H/4, W/4)        = SPATIAL feature (sFID-proxy), flattened in
//                                          (C, H, W) order: (N, 64*7*7 = 3136)
//   flatten, fc1 -> ReLU (N, hidden)     = PENULTIMATE feature (FID-proxy) [128]
//   fc2      -> logits (N, num_classes)  [10]; softmax gives IS-proxy probabilities
// It is exactly torch's nn.Sequential(Conv2d, ReLU, MaxPool2d(2), Conv2d, ReLU,
// Conv2d, ReLU, MaxPool2d(2), Flatten, Linear, ReLU, Linear) (see
// tests/ref/gen_classifier_ref.py). Two convolutions run at H/2 rather than the
// more usual two at full resolution: that halves the cost of an epoch (about
// 11 MMACs per image) for about the same accuracy.
//
// The spatial feature is the whole pooled map. To mimic the ADM evaluator's
// sFID (first 7 channels of an Inception map), a metric may keep only the first
// k channels: with (C, H, W) order that is the first k*49 values of each row.
//
// Weights are safetensors with torch state-dict names (conv1.weight, conv1.bias,
// conv2.*, conv3.*, fc1.*, fc2.*) and metadata format=lazydit-classifier plus
// the integer fields of ClassifierConfig, which classifier_load requires.
#pragma once
#include <stdint.h>

#include "model/base/check.h"

typedef struct {
    int in_c, h, w;   // input image shape; h and w divisible by 4
    int c1, c2, c3;   // conv channels
    int hidden;       // penultimate width
    int num_classes;
} ClassifierConfig;

ClassifierConfig classifier_default_config(void);  // 1x28x28, 32/64/64, 128, 10

#define CLASSIFIER_NUM_PARAM_TENSORS 10

typedef struct {
    float *conv1_w;  // (c1, in_c, 3, 3)
    float *conv1_b;  // (c1)
    float *conv2_w;  // (c2, c1, 3, 3)
    float *conv2_b;  // (c2)
    float *conv3_w;  // (c3, c2, 3, 3)
    float *conv3_b;  // (c3)
    float *fc1_w;    // (hidden, c3 * h/4 * w/4)
    float *fc1_b;    // (hidden)
    float *fc2_w;    // (num_classes, hidden)
    float *fc2_b;    // (num_classes)
} ClassifierParams;

// Activations for B = max_batch rows (H2 = H/2, H4 = H/4).
typedef struct {
    float *in;      // (B, in_c, H, W) copy of the input (conv1's backward needs it)
    float *conv1;   // (B, c1, H, W) pre-activation
    float *a1;      // (B, c1, H, W) ReLU
    float *p1;      // (B, c1, H2, W2)
    float *conv2;   // (B, c2, H2, W2)
    float *a2;      // (B, c2, H2, W2)
    float *conv3;   // (B, c3, H2, W2)
    float *a3;      // (B, c3, H2, W2)
    float *p2;      // (B, c3, H4, W4) spatial feature
    float *fc1;     // (B, hidden)
    float *a4;      // (B, hidden) penultimate feature
    float *logits;  // (B, num_classes)
    float *probs;   // (B, num_classes) softmax
    float *losses;  // (B) per-row cross-entropy
} ClassifierActs;

typedef struct {
    ClassifierConfig cfg;
    int max_batch;
    long num_params;
    ClassifierParams params;
    float *params_memory;  // (num_params) one allocation
    ClassifierParams grads;
    float *grads_memory;   // (num_params), NULL unless created for training
    ClassifierActs acts;
    float *acts_memory;
    ClassifierActs dacts;  // gradients w.r.t. activations, training only
    float *dacts_memory;
    int *pool1_idx;        // (B, c1, H2, W2) argmax inside each input plane
    int *pool2_idx;        // (B, c3, H4, W4)
    int *idx_memory;
    float *col;            // im2col scratch, (max_l Cin_l*9, H_l*W_l) for one image
    int batch;             // rows held by acts since the last forward
} Classifier;

// Validates cfg (CHECK) and allocates parameters, activations and scratch;
// training adds gradients. Parameters are zero until init or load.
Classifier *classifier_create(const ClassifierConfig *cfg, int max_batch, int training);
// He-uniform weights (bound sqrt(6 / fan_in), right for ReLU), zero biases, from
// xoshiro256** seeded with `seed`.
void classifier_init(Classifier *m, uint64_t seed);
// Reads weights written by classifier_save (or tests/ref/gen_classifier_ref.py).
// Checks metadata (strict integers), names in both directions, sizes against
// the file before any allocation, shapes and values (NaN or infinity is an
// error naming the tensor). NULL on error.
Classifier *classifier_load(const char *path, int max_batch, LzError *err);
// Writes F32 safetensors; extra metadata (training provenance) is appended.
int classifier_save(const Classifier *m, const char *path, const char *const *extra_keys,
                    const char *const *extra_values, int nextra, LzError *err);
void classifier_free(Classifier *m);

// Feature sizes per image: num_classes, penultimate (hidden), spatial (c3*H/4*W/4).
void classifier_feature_dims(const Classifier *m, int *num_classes, int *penultimate_dim, int *spatial_dim);
// Inference on any n (processed in chunks of max_batch). images (n, in_c, H, W);
// outputs (n, num_classes), (n, hidden), (n, spatial_dim); any output may be NULL.
void classifier_forward(Classifier *m, const float *images, long n, float *logits, float *penultimate, float *spatial);
// Same, returning softmax probabilities (n, num_classes) instead of logits.
void classifier_probs(Classifier *m, const float *images, long n, float *probs);
// Number of argmax(logits) == label over n images.
long classifier_count_correct(Classifier *m, const float *images, const int *labels, long n);

// Training: forward of n <= max_batch rows keeping activations; returns the mean
// cross-entropy and, if correct is not NULL, the number of correct argmaxes.
double classifier_forward_train(Classifier *m, const float *images, const int *labels, int n, long *correct);
// Zeroes the gradients, then backpropagates the mean cross-entropy of the last
// forward_train into m->grads.
void classifier_backward(Classifier *m, const int *labels);

// Parameter table, for checkpoints and tests: name, shape and offset into
// params_memory of tensor i in state-dict order.
typedef struct {
    const char *name;
    int ndim;
    long shape[4];
    long size;
    long offset;
} ClassifierTensorInfo;
void classifier_tensor_info(const ClassifierConfig *cfg, ClassifierTensorInfo out[CLASSIFIER_NUM_PARAM_TENSORS]);

// ---- kernels (NCHW; backward ACCUMULATES into every gradient it is given) ----

// 3x3 convolution, stride 1, zero padding 1 (output H, W = input H, W).
// col: scratch of Ci*9*H*W floats. One im2col + one sgemm per image.
void cls_conv3x3_forward(float *out, float *col, const float *inp, const float *weight, const float *bias, int B, int Ci,
                         int H, int W, int Co);
// dinp may be NULL (first layer). col is the same scratch (rebuilt from inp).
void cls_conv3x3_backward(float *dinp, float *dweight, float *dbias, float *col, const float *dout, const float *inp,
                          const float *weight, int B, int Ci, int H, int W, int Co);
void cls_relu_forward(float *out, const float *inp, long n);
void cls_relu_backward(float *dinp, const float *dout, const float *out, long n);
// 2x2 max pooling, stride 2 (H, W even). idx: argmax position inside its (H, W)
// input plane; ties go to the first element in row-major order, like torch.
void cls_maxpool2_forward(float *out, int *idx, const float *inp, int B, int C, int H, int W);
void cls_maxpool2_backward(float *dinp, const float *dout, const int *idx, int B, int C, int H, int W);
// Linear layers use linear_forward / linear_backward from model/kernels.h.
// probs (B, K) = softmax(logits (B, K)), max-subtracted, summed in double
// (probs may alias logits). The one softmax of the classifier's outputs: IS-proxy
// probabilities, `lazydit classify --probs-out`, training.
void cls_softmax(float *probs, const float *logits, long B, int K);
// Index of the largest of z[0..K), the first on ties (a NaN entry never wins
// over an earlier one). The one argmax: accuracy, class consistency.
int cls_argmax(const float *z, int K);
// losses (B) = -log softmax(logits)[label]; probs (B, K) = softmax(logits).
void cls_softmax_xent_forward(float *losses, float *probs, const float *logits, const int *labels, int B, int K);
// dlogits += dloss * (probs - onehot(label)), dloss the gradient of each row's loss (1/B for the mean).
void cls_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, double dloss, int B, int K);
