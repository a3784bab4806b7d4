// classifier_features.h: what the metrics on generated images need from the feature
// classifier (model/classifier.h), extracted in one pass over the images:
//   pen    penultimate features (N, hidden)           FID-proxy, KID, precision/recall
//   sfid   the first `sfid_channels` channels of the
//          spatial map, (N, sfid_channels * H/4 * W/4) sFID-proxy
//   logits (N, num_classes)                           class consistency (argmax)
//   probs  softmax of the logits (N, num_classes)     IS-proxy
//   argmax of the logits (N), first index on ties     reference accuracy
// The sFID-proxy keeps the first 7 of the 64 channels of the last pooled conv
// map by default (343 values per image), as the ADM evaluator keeps the first
// 7 channels of Inception's mixed_6/conv map; see docs/metrics.md for why.
#pragma once
#include <stdint.h>

#include "model/base/check.h"
#include "model/classifier.h"

#define EVAL_SFID_CHANNELS 7

typedef struct {
    long n;
    int pen_dim;        // hidden
    int sfid_channels;  // channels kept from the spatial map
    int sfid_dim;       // sfid_channels * (H/4) * (W/4)
    int num_classes;
    float *pen;         // (N, pen_dim)
    float *sfid;        // (N, sfid_dim)
    float *logits;      // (N, num_classes)
    float *probs;       // (N, num_classes)
    int *argmax;        // (N) predicted class (first index on ties)
} ClassifierFeatures;

// images (n, in_c, H, W) in the classifier's input layout, pixels in [-1, 1]
// (used as given, not clipped). Needs n >= 1 and 1 <= sfid_channels <= c3.
// Non-finite pixels are an error naming the image and the pixel.
//
// The classifier runs with OpenBLAS on one thread (the caller's setting is
// restored before returning). Its GEMMs are per image and small (at most
// 64 x 196 x 576): on the shared 2-core machine 10k images took 12.0 s on one
// thread and 13.4-16.2 s on two. And OpenBLAS results depend on the thread
// count in the last bits, so fixing it makes the features, hence a cached
// reference, bit-identical whatever thread count the caller uses.
int classifier_features_extract(ClassifierFeatures *f, Classifier *m, const float *images, long n, int sfid_channels,
                          LzError *err);
void classifier_features_free(ClassifierFeatures *f);
