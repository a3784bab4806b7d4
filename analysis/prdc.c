// prdc.c: blocked pairwise distances, k-th neighbour radii, manifold tests.
#include "analysis/prdc.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// Block of RB rows x CB columns of squared distances (RB*CB floats = 4 MB):
// big enough for sgemm to run near peak, small enough to stay cached while
// the selection loop reads it back.
enum { RB = 512, CB = 2048 };

static void row_norms(float *norms, const float *x, long n, int d) {
    for (long i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)xi[j] * xi[j];
        norms[i] = (float)s;
    }
}

// dist (bi, bj) = max(|a_i|^2 + |b_j|^2 - 2 a_i.b_j, 0) for the row blocks
// a (bi, d) and b (bj, d) with precomputed norms.
static void sq_dist_block(float *dist, const float *a, const float *na, int bi, const float *b, const float *nb, int bj,
                          int d) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, -2.0f, a, d, b, d, 0.0f, dist, bj);
    for (int r = 0; r < bi; r++) {
        float *dr = dist + (size_t)r * bj;
        float nr = na[r];
        for (int c = 0; c < bj; c++) {
            float v = dr[c] + nr + nb[c];
            dr[c] = v > 0 ? v : 0;
        }
    }
}

static int check_set(const char *what, const float *x, long n, int d, int k, LzError *err) {
    if (d < 1) return lz_fail(err, "precision/recall: feature dimension %d must be >= 1", d);
    if (k < 1) return lz_fail(err, "precision/recall: k = %d must be >= 1", k);
    if (n < (long)k + 1)
        return lz_fail(err, "precision/recall: %s set has %ld rows, need more than k = %d", what, n, k);
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(x[i]))
            return lz_fail(err, "precision/recall: %s feature row %zu column %zu is not finite", what, i / (size_t)d,
                           i % (size_t)d);
    return 0;
}

// Inserts v into the ascending list br[0..kk) if it is smaller than the last
// entry (the list keeps the kk smallest values seen).
static inline void keep_smallest(float *br, int kk, float v) {
    if (v >= br[kk - 1]) return;  // the common case once the list has filled
    int p = kk - 1;
    while (p > 0 && br[p - 1] > v) {
        br[p] = br[p - 1];
        p--;
    }
    br[p] = v;
}

// Radii from already-prepared rows and norms. best (n, k+1) holds the running
// list of the k+1 smallest distances of every row, ascending; entry k is the
// k-th neighbour once the row's own distance (exactly 0) takes entry 0.
// Distances are symmetric, so only blocks (I, J) with J >= I are computed and
// an off-diagonal block updates the lists of its rows and of its columns:
// half the sgemm work of the full matrix. dist holds SB x SB floats.
enum { SB = 1024 };
static void radii_core(float *radii2, const float *x, const float *norms, long n, int d, int k, float *dist,
                       float *best) {
    int kk = k + 1;
    for (size_t e = 0; e < (size_t)n * kk; e++) best[e] = INFINITY;
    for (long i0 = 0; i0 < n; i0 += SB) {
        int bi = (int)(n - i0 < SB ? n - i0 : SB);
        for (long j0 = i0; j0 < n; j0 += SB) {
            int bj = (int)(n - j0 < SB ? n - j0 : SB);
            sq_dist_block(dist, x + (size_t)i0 * d, norms + i0, bi, x + (size_t)j0 * d, norms + j0, bj, d);
            if (j0 == i0) {
                // the full square block holds both orders of every pair
                for (int r = 0; r < bi; r++) {
                    float *dr = dist + (size_t)r * bj;
                    dr[r] = 0;  // exact, not |x|^2 + |x|^2 - 2 x.x rounding
                    float *br = best + (size_t)(i0 + r) * kk;
                    for (int c = 0; c < bj; c++) keep_smallest(br, kk, dr[c]);
                }
                continue;
            }
            float *bcol = best + (size_t)j0 * kk;
            for (int r = 0; r < bi; r++) {
                const float *dr = dist + (size_t)r * bj;
                float *br = best + (size_t)(i0 + r) * kk;
                for (int c = 0; c < bj; c++) {
                    float v = dr[c];
                    keep_smallest(br, kk, v);
                    keep_smallest(bcol + (size_t)c * kk, kk, v);
                }
            }
        }
    }
    for (long i = 0; i < n; i++) radii2[i] = best[(size_t)i * kk + k];
}

int knn_radii2(float *radii2, const float *x, long n, int d, int k, LzError *err) {
    if (check_set("input", x, n, d, k, err)) return -1;
    float *norms = lz_malloc((size_t)n * sizeof(float), "knn norms");
    float *dist = lz_malloc((size_t)SB * SB * sizeof(float), "knn distance block");
    float *best = lz_malloc((size_t)n * (k + 1) * sizeof(float), "knn best lists");
    row_norms(norms, x, n, d);
    radii_core(radii2, x, norms, n, d, k, dist, best);
    free(norms);
    free(dist);
    free(best);
    return 0;
}

int precision_recall(PrecisionRecall *out, const float *real, long nr, const float *fake, long nf, int d, int k,
                     LzError *err) {
    if (check_set("real", real, nr, d, k, err) || check_set("fake", fake, nf, d, k, err)) return -1;
    // Centre both sets on the real mean (in double): the same distances with
    // smaller norms, so less cancellation in |x|^2 + |y|^2 - 2 x.y.
    double *mean = lz_calloc((size_t)d, sizeof(double), "prdc mean");
    for (long i = 0; i < nr; i++)
        for (int j = 0; j < d; j++) mean[j] += real[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= (double)nr;
    float *rc = lz_malloc((size_t)nr * d * sizeof(float), "prdc centred real");  // (nr, d)
    float *fc = lz_malloc((size_t)nf * d * sizeof(float), "prdc centred fake");  // (nf, d)
    for (size_t e = 0; e < (size_t)nr * d; e++) rc[e] = (float)((double)real[e] - mean[e % (size_t)d]);
    for (size_t e = 0; e < (size_t)nf * d; e++) fc[e] = (float)((double)fake[e] - mean[e % (size_t)d]);
    free(mean);

    float *nrm_r = lz_malloc((size_t)nr * sizeof(float), "prdc real norms");
    float *nrm_f = lz_malloc((size_t)nf * sizeof(float), "prdc fake norms");
    float *rad_r = lz_malloc((size_t)nr * sizeof(float), "prdc real radii");
    float *rad_f = lz_malloc((size_t)nf * sizeof(float), "prdc fake radii");
    // one buffer for both the square radius blocks and the RB x CB blocks below
    size_t dist_len = (size_t)SB * SB > (size_t)RB * CB ? (size_t)SB * SB : (size_t)RB * CB;
    float *dist = lz_malloc(dist_len * sizeof(float), "prdc distance block");
    float *best = lz_malloc((size_t)(nr > nf ? nr : nf) * (k + 1) * sizeof(float), "prdc best lists");
    row_norms(nrm_r, rc, nr, d);
    row_norms(nrm_f, fc, nf, d);
    radii_core(rad_r, rc, nrm_r, nr, d, k, dist, best);
    radii_core(rad_f, fc, nrm_f, nf, d, k, dist, best);

    // One pass over the fake x real distances answers all four questions.
    unsigned char *fake_in = lz_calloc((size_t)nf, 1, "prdc fake status");  // fake j inside some real ball
    unsigned char *real_in = lz_calloc((size_t)nr, 1, "prdc real status");  // real i inside some fake ball
    unsigned char *real_cov = lz_calloc((size_t)nr, 1, "prdc coverage");    // real ball i holds a fake point
    double density_count = 0;
    for (long i0 = 0; i0 < nf; i0 += RB) {
        int bi = (int)(nf - i0 < RB ? nf - i0 : RB);
        for (long j0 = 0; j0 < nr; j0 += CB) {
            int bj = (int)(nr - j0 < CB ? nr - j0 : CB);
            sq_dist_block(dist, fc + (size_t)i0 * d, nrm_f + i0, bi, rc + (size_t)j0 * d, nrm_r + j0, bj, d);
            const float *rr = rad_r + j0;
            unsigned char *rin = real_in + j0, *rcov = real_cov + j0;
            for (int r = 0; r < bi; r++) {
                const float *dr = dist + (size_t)r * bj;
                float rf = rad_f[i0 + r];
                long inside = 0;
                for (int c = 0; c < bj; c++) {
                    float v = dr[c];
                    int in_real = v <= rr[c];
                    inside += in_real;
                    rcov[c] |= (unsigned char)in_real;
                    rin[c] |= (unsigned char)(v <= rf);
                }
                if (inside) fake_in[i0 + r] = 1;
                density_count += (double)inside;
            }
        }
    }
    long nprec = 0, nrec = 0, ncov = 0;
    for (long j = 0; j < nf; j++) nprec += fake_in[j];
    for (long i = 0; i < nr; i++) {
        nrec += real_in[i];
        ncov += real_cov[i];
    }
    out->precision = (double)nprec / (double)nf;
    out->recall = (double)nrec / (double)nr;
    out->density = density_count / ((double)k * (double)nf);
    out->coverage = (double)ncov / (double)nr;
    out->k = k;
    free(rc);
    free(fc);
    free(nrm_r);
    free(nrm_f);
    free(rad_r);
    free(rad_f);
    free(dist);
    free(best);
    free(fake_in);
    free(real_in);
    free(real_cov);
    return 0;
}
