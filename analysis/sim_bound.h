// sim_bound.h: the terms of LazyDiT's lower bound on the similarity of
// consecutive module outputs (docs/theory.md):
//   cos(Y_t, Y_{t-1}) >= 1 - alpha,   alpha = C^2 R2^2 min(N, D) / 2
// with N tokens, D hidden, R2 the distance of consecutive module inputs and C
// the module's Lipschitz constant in the paper's simplified modules:
//   attention  C = 5 R^4 N D   (softmax(X W X^T) X Wv, W = Wq Wk^T, no 1/sqrt(d), no projection)
//   MLP        C = R           (a linear map)
// where R > 1 bounds the spectral norms of W, Wv, the MLP weights and the input.
//
// Estimates (all in double):
//   weight terms  largest singular values by power iteration (sim_bound_weight_norms);
//                 attn: |Wq^T Wk|_2 and |Wv|_2, mlp: |fc1|_2, |fc2|_2 and
//                 |fc2 fc1|_2 (the linear MLP's effective weight, which C = R
//                 must bound); |proj|_2 is measured and reported, not used
//   input term    the largest |Z|_F of the rows compared (|Z|_2 <= |Z|_F, so it is
//                 a valid, looser bound of the spectral norm)
//   R             max(1, weight terms, input term)
//   R2            the largest |Z_t - Z_{t-1}|_F of the rows compared
#pragma once
#include "model/dit.h"

typedef enum {
    WN_WQK = 0,   // Wq^T Wk (D x D) of nn.Linear weights: q_i . k_j = z_i^T Wq^T Wk z_j
    WN_WV,        // Wv (D x D)
    WN_PROJ,      // attention output projection (D x D), not part of R
    WN_FC1,       // (M x D)
    WN_FC2,       // (D x M)
    WN_FC2FC1,    // fc2 fc1 (D x D)
    WN_COUNT
} WeightNormKind;

const char *sim_bound_weight_name(WeightNormKind k);  // "wqk", "wv", "proj", "fc1", "fc2", "fc2fc1"
DitModule sim_bound_weight_module(WeightNormKind k);

typedef struct {
    int L;
    double norm[64][WN_COUNT];      // spectral norm per layer and weight (L <= 64)
    int iterations[64][WN_COUNT];   // power iterations used
} WeightNorms;

// Largest singular values of every layer's matrices (power iteration on
// A^T A from a fixed pseudo-random start, stopped when the estimate changes
// by less than 1e-13 relative, at most 5000 iterations).
void sim_bound_weight_norms(WeightNorms *w, const DitModel *m);
// max(weight terms) of the module at a layer (see above).
double sim_bound_weight_r(const WeightNorms *w, int layer, DitModule module);

typedef struct {
    double r, c, r2, alpha, value;
} BoundTerms;

// Terms for one (step, layer, module): r_weights from sim_bound_weight_r,
// r_input the largest input norm, r2 the largest input distance; N tokens, D hidden.
BoundTerms sim_bound_terms(DitModule module, double r_weights, double r_input, double r2, int N, int D);

// Largest singular value of the n x n (or rows x cols) operator given as a
// product of at most two row-major float matrices; exposed for tests.
// A = f0 (rows0 x cols0, transposed if t0) times f1 (may be NULL).
typedef struct {
    const float *w;
    int rows, cols;  // as stored (row-major)
    int transposed;  // use w^T
} SbFactor;
double sim_bound_spectral_norm(const SbFactor *f0, const SbFactor *f1, int *iterations);
