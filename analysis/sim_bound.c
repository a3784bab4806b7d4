// sim_bound.c: spectral norms by power iteration and the bound's terms (see
// sim_bound.h and docs/theory.md).
#include "analysis/sim_bound.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/prng.h"

static const char *const weight_names[WN_COUNT] = {"wqk", "wv", "proj", "fc1", "fc2", "fc2fc1"};
const char *sim_bound_weight_name(WeightNormKind k) { return weight_names[k]; }
DitModule sim_bound_weight_module(WeightNormKind k) { return k <= WN_PROJ ? DIT_ATTN : DIT_MLP; }

static int in_dim(const SbFactor *f) { return f->transposed ? f->rows : f->cols; }
static int out_dim(const SbFactor *f) { return f->transposed ? f->cols : f->rows; }

// out = F x (F as stored, or its transpose when `transpose` flips it), double accumulation.
static void factor_apply(double *out, const SbFactor *f, const double *x, int transpose) {
    int t = f->transposed ^ transpose;
    if (!t) {
        // Four partial sums per row (lane k adds elements 4i + k): independent
        // chains the compiler can vectorise without reassociating anything.
        for (int r = 0; r < f->rows; r++) {
            const float *row = f->w + (long)r * f->cols;
            double s[4] = {0, 0, 0, 0};
            int c = 0;
            for (; c + 4 <= f->cols; c += 4)
                for (int k = 0; k < 4; k++) s[k] += (double)row[c + k] * x[c + k];
            for (int k = 0; c < f->cols; c++, k++) s[k] += (double)row[c] * x[c];
            out[r] = (s[0] + s[1]) + (s[2] + s[3]);
        }
    } else {
        memset(out, 0, sizeof(double) * (size_t)f->cols);
        for (int r = 0; r < f->rows; r++) {
            const float *row = f->w + (long)r * f->cols;
            double xr = x[r];
            for (int c = 0; c < f->cols; c++) out[c] += (double)row[c] * xr;
        }
    }
}

static double norm2(const double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

double sim_bound_spectral_norm(const SbFactor *f0, const SbFactor *f1, int *iterations) {
    // A = f0 f1: x (n) -> f1 x (mid) -> f0 (f1 x) (m).
    int n = f1 ? in_dim(f1) : in_dim(f0), m = out_dim(f0), mid = f1 ? out_dim(f1) : 0;
    CHECK(!f1 || in_dim(f0) == mid, "spectral norm: factor shapes %dx%d and %dx%d do not chain", out_dim(f0), in_dim(f0),
          out_dim(f1), in_dim(f1));
    int big = n > m ? n : m;
    if (mid > big) big = mid;
    double *mem = lz_malloc(sizeof(double) * 3 * (size_t)big, "power iteration vectors");
    double *v = mem, *u = mem + big, *t = mem + 2 * big;
    Prng g;
    prng_seed(&g, 0x5eed5eedull);
    for (int i = 0; i < n; i++) v[i] = prng_normal(&g);
    double nv = norm2(v, n);
    for (int i = 0; i < n; i++) v[i] /= nv;
    double sigma = 0;
    int it;
    for (it = 1; it <= 5000; it++) {
        // u = A v; |u| is the estimate (it rises monotonically to sigma_max)
        if (f1) {
            factor_apply(t, f1, v, 0);
            factor_apply(u, f0, t, 0);
        } else {
            factor_apply(u, f0, v, 0);
        }
        double s = norm2(u, m);
        // v = A^T u / |A^T u|
        if (f1) {
            factor_apply(t, f0, u, 1);
            factor_apply(v, f1, t, 1);
        } else {
            factor_apply(v, f0, u, 1);
        }
        double nw = norm2(v, n);
        if (!(nw > 0)) {  // A v = 0: a zero matrix (or a start orthogonal to everything)
            sigma = s;
            break;
        }
        for (int i = 0; i < n; i++) v[i] /= nw;
        int settled = fabs(s - sigma) <= 1e-13 * s;
        sigma = s;
        if (settled) break;
    }
    free(mem);
    if (iterations) *iterations = it > 5000 ? 5000 : it;
    return sigma;
}

void sim_bound_weight_norms(WeightNorms *w, const DitModel *m) {
    const DitConfig *c = &m->cfg;
    const DitParams *p = &m->params;
    int D = c->hidden, M = c->mlp_hidden, L = c->depth;
    CHECK(L <= 64, "sim_bound_weight_norms: depth %d above 64", L);
    memset(w, 0, sizeof *w);
    w->L = L;
    for (int l = 0; l < L; l++) {
        const float *qkv = p->qkv_w + (long)l * 3 * D * D;  // (3D, D): Wq, Wk, Wv rows
        SbFactor wq_t = {qkv, D, D, 1}, wk = {qkv + (long)D * D, D, D, 0};
        SbFactor wv = {qkv + 2L * D * D, D, D, 0};
        SbFactor proj = {p->proj_w + (long)l * D * D, D, D, 0};
        SbFactor fc1 = {p->fc1_w + (long)l * M * D, M, D, 0};
        SbFactor fc2 = {p->fc2_w + (long)l * D * M, D, M, 0};
        w->norm[l][WN_WQK] = sim_bound_spectral_norm(&wq_t, &wk, &w->iterations[l][WN_WQK]);
        w->norm[l][WN_WV] = sim_bound_spectral_norm(&wv, NULL, &w->iterations[l][WN_WV]);
        w->norm[l][WN_PROJ] = sim_bound_spectral_norm(&proj, NULL, &w->iterations[l][WN_PROJ]);
        w->norm[l][WN_FC1] = sim_bound_spectral_norm(&fc1, NULL, &w->iterations[l][WN_FC1]);
        w->norm[l][WN_FC2] = sim_bound_spectral_norm(&fc2, NULL, &w->iterations[l][WN_FC2]);
        w->norm[l][WN_FC2FC1] = sim_bound_spectral_norm(&fc2, &fc1, &w->iterations[l][WN_FC2FC1]);
    }
}

double sim_bound_weight_r(const WeightNorms *w, int layer, DitModule module) {
    const double *n = w->norm[layer];
    if (module == DIT_ATTN) return fmax(n[WN_WQK], n[WN_WV]);
    return fmax(fmax(n[WN_FC1], n[WN_FC2]), n[WN_FC2FC1]);
}

BoundTerms sim_bound_terms(DitModule module, double r_weights, double r_input, double r2, int N, int D) {
    BoundTerms b;
    b.r = fmax(1.0, fmax(r_weights, r_input));
    b.c = module == DIT_ATTN ? 5.0 * pow(b.r, 4) * N * D : b.r;
    b.r2 = r2;
    b.alpha = b.c * b.c * r2 * r2 * (N < D ? N : D) / 2.0;
    b.value = 1.0 - b.alpha;
    return b;
}
