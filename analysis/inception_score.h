// inception_score.h: metrics of the classifier's output probabilities
// (IS-proxy and class consistency; docs/metrics.md).
//
// Inception score (Salimans et al. 2016), the common implementation
// (improved-gan, torchmetrics): split the N rows in order into `splits`
// consecutive parts (part s = rows [s N / splits, (s + 1) N / splits)); per
// part, p(y) = mean of the rows, score_s = exp(mean_i KL(p(y|x_i) || p(y)))
// with KL = sum_k p_k (log p_k - log p(y)_k) and 0 log 0 = 0; return the mean
// and the population std (ddof 0, like np.std) of the scores.
// Uniform rows give 1; balanced one-hot rows over K classes give K.
#pragma once
#include <stdint.h>

#include "model/base/check.h"

#define IS_DEFAULT_SPLITS 10

// probs (n, k): rows of non-negative probabilities summing to 1 (within 1e-3;
// anything else is an error: pass softmax outputs, not logits). Needs
// n >= splits >= 1.
int inception_score(double *mean, double *std, const float *probs, long n, int k, int splits, LzError *err);

// Fraction of rows whose argmax (first on ties) equals labels[i]. scores
// (n, k) may be probabilities or logits. Labels outside [0, k) are an error.
int class_consistency(double *out, const float *scores, const int64_t *labels, long n, int k, LzError *err);
