// prdc.h: k-NN manifold metrics on feature matrices.
//
// Improved precision and recall (Kynkaanniemi et al. 2019), as in the ADM
// evaluator: each set's manifold is the union of balls around its points,
// the radius of point i being the distance to its k-th nearest neighbour in
// the same set (itself excluded; k = 3 by default).
//   precision = fraction of fake points inside at least one real ball
//   recall    = fraction of real points inside at least one fake ball
// "Inside" is d(x, c)^2 <= r_c^2 (closed ball, the evaluator's <=).
// Density and coverage (Naeem et al. 2020) come from the same distances and
// the real radii only:
//   density  = (1 / (k N_fake)) sum_j #{i : fake_j inside real ball i}
//   coverage = fraction of real points whose ball contains some fake point
//
// Distances are squared Euclidean |x|^2 + |y|^2 - 2 x.y from sgemm in blocks,
// clamped at 0, after subtracting the real mean from both sets (distances do
// not change, the cancellation in the formula shrinks). The k-th neighbour is
// found with a running (k+1)-smallest list per row (the row's own zero
// distance is the first), never a full sort; within a set only the blocks on
// and above the diagonal are computed (distances are symmetric).
#pragma once
#include "model/base/check.h"

typedef struct {
    double precision;
    double recall;
    double density;
    double coverage;
    int k;
} PrecisionRecall;

// radii2 (n): squared distance from each row of x (n, d) to its k-th nearest
// other row. Needs 1 <= k <= n - 1. Duplicate rows count as neighbours at
// distance 0 (as in the evaluator). x is used as given (not centred).
int knn_radii2(float *radii2, const float *x, long n, int d, int k, LzError *err);

// All four metrics of fake (nf, d) against real (nr, d).
int precision_recall(PrecisionRecall *out, const float *real, long nr, const float *fake, long nf, int d, int k,
                     LzError *err);
