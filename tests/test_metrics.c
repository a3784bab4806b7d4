// test_metrics.c: the feature-matrix metrics (FD, KID, precision/recall,
// IS, PSNR/SSIM, bootstrap) against closed forms, hand-checked point sets and
// independent O(N^2) / iterative oracles written here in plain double loops.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analysis/bootstrap.h"
#include "analysis/fidelity.h"
#include "analysis/frechet.h"
#include "analysis/inception_score.h"
#include "analysis/kid.h"
#include "analysis/prdc.h"
#include "model/base/prng.h"
#include "tests/test.h"

// ----------------------------------------------------------------------------
// helpers

static Prng seeded(uint64_t seed) {
    Prng g;
    prng_seed(&g, seed);
    return g;
}

static double gauss(Prng *r) { return prng_normal(r); }

// x (n, d) = shift + z A^T with z standard normal: rows ~ N(shift, A A^T).
static float *gaussian_rows(long n, int d, const double *a, double shift, uint64_t seed) {
    Prng r = seeded(seed);
    float *x = malloc((size_t)n * d * sizeof(float));
    double *z = malloc((size_t)d * sizeof(double));
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) z[j] = gauss(&r);
        for (int j = 0; j < d; j++) {
            double s = shift;
            if (a)
                for (int t = 0; t < d; t++) s += a[(size_t)j * d + t] * z[t];
            else
                s += z[j];
            x[(size_t)i * d + j] = (float)s;
        }
    }
    free(z);
    return x;
}

static void matmul(double *c, const double *a, const double *b, int n) {  // c = a b, (n, n)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
}

// Gauss-Jordan inverse with partial pivoting (test oracle only).
static void invert(double *inv, const double *a, int n) {
    double *m = malloc((size_t)n * 2 * n * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2 * n; j++) m[i * 2 * n + j] = j < n ? a[i * n + j] : (j - n == i);
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(m[r * 2 * n + c]) > fabs(m[p * 2 * n + c])) p = r;
        for (int j = 0; j < 2 * n; j++) {
            double t = m[c * 2 * n + j];
            m[c * 2 * n + j] = m[p * 2 * n + j];
            m[p * 2 * n + j] = t;
        }
        double piv = m[c * 2 * n + c];
        for (int j = 0; j < 2 * n; j++) m[c * 2 * n + j] /= piv;
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double f = m[r * 2 * n + c];
            for (int j = 0; j < 2 * n; j++) m[r * 2 * n + j] -= f * m[c * 2 * n + j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) inv[i * n + j] = m[i * 2 * n + n + j];
    free(m);
}

// tr sqrt(A) for A with positive real eigenvalues by the Denman-Beavers
// iteration Y <- (Y + Z^-1)/2, Z <- (Z + Y^-1)/2 (Y -> A^1/2): no
// eigendecomposition, so it is independent of the code under test.
static double trace_sqrt_db(const double *a, int n) {
    size_t nn = (size_t)n * n;
    double *y = malloc(nn * 8), *z = malloc(nn * 8), *yi = malloc(nn * 8), *zi = malloc(nn * 8);
    memcpy(y, a, nn * 8);
    for (size_t i = 0; i < nn; i++) z[i] = (i % (n + 1)) == 0;
    for (int it = 0; it < 60; it++) {
        invert(yi, y, n);
        invert(zi, z, n);
        for (size_t i = 0; i < nn; i++) {
            y[i] = 0.5 * (y[i] + zi[i]);
            z[i] = 0.5 * (z[i] + yi[i]);
        }
    }
    double t = 0;
    for (int i = 0; i < n; i++) t += y[i * n + i];
    free(y);
    free(z);
    free(yi);
    free(zi);
    return t;
}

// Random orthogonal q (n, n): Gram-Schmidt (twice) of a Gaussian matrix.
static void random_orthogonal(double *q, int n, uint64_t seed) {
    Prng r = seeded(seed);
    for (int i = 0; i < n * n; i++) q[i] = gauss(&r);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            double *qi = q + i * n;
            for (int j = 0; j < i; j++) {
                double d = 0;
                for (int k = 0; k < n; k++) d += qi[k] * q[j * n + k];
                for (int k = 0; k < n; k++) qi[k] -= d * q[j * n + k];
            }
            double nrm = 0;
            for (int k = 0; k < n; k++) nrm += qi[k] * qi[k];
            nrm = sqrt(nrm);
            for (int k = 0; k < n; k++) qi[k] /= nrm;
        }
}

// s = q diag(l) q^T with q's rows as the basis vectors.
static void from_eigen(double *s, const double *q, const double *l, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = 0;
            for (int k = 0; k < n; k++) v += q[k * n + i] * l[k] * q[k * n + j];
            s[i * n + j] = v;
        }
}

static int close_rel(double a, double b, double rtol, double atol) { return fabs(a - b) <= atol + rtol * fabs(b); }

// ----------------------------------------------------------------------------
// Frechet distance

static void test_frechet_closed_forms(void) {
    enum { D = 8 };
    double mu1[D], mu2[D], a[D], b[D], s1[D * D] = {0}, s2[D * D] = {0};
    double mean_term = 0, cov_term = 0;
    for (int i = 0; i < D; i++) {
        mu1[i] = 0.3 * i;
        mu2[i] = 1.0 - 0.2 * i;
        a[i] = 0.5 + i;
        b[i] = 2.0 / (1 + i);
        mean_term += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        cov_term += (sqrt(a[i]) - sqrt(b[i])) * (sqrt(a[i]) - sqrt(b[i]));
        s1[i * D + i] = a[i];
        s2[i * D + i] = b[i];
    }
    // diagonal covariances: FD = |mu1-mu2|^2 + sum (sqrt a - sqrt b)^2
    double fd = 0;
    FrechetTerms t;
    LzError err = {{0}};
    int rc = frechet_distance_raw(&fd, &t, mu1, s1, mu2, s2, D, &err);
    TEST_CHECK(rc == 0 && close_rel(fd, mean_term + cov_term, 1e-12, 1e-12), "fd_diagonal_closed_form",
               "rc %d fd %.15g want %.15g (%.200s)", rc, fd, mean_term + cov_term, err.msg);
    TEST_CHECK(close_rel(t.mean_term, mean_term, 1e-14, 0) && t.clamped == 0, "fd_terms", "mean term %.15g clamped %d",
               t.mean_term, t.clamped);

    // commuting covariances Q diag(a) Q^T, Q diag(b) Q^T: the same closed form
    double q[D * D];
    random_orthogonal(q, D, 7);
    from_eigen(s1, q, a, D);
    from_eigen(s2, q, b, D);
    rc = frechet_distance_raw(&fd, NULL, mu1, s1, mu2, s2, D, &err);
    TEST_CHECK(rc == 0 && close_rel(fd, mean_term + cov_term, 1e-10, 1e-12), "fd_commuting_closed_form",
               "fd %.15g want %.15g", fd, mean_term + cov_term);

    // general SPD pair: against Denman-Beavers on the non-symmetric S1 S2
    // (tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2): similar matrices)
    Prng r = seeded(11);
    double g1[D * D], g2[D * D], prod[D * D];
    for (int i = 0; i < D * D; i++) {
        g1[i] = gauss(&r);
        g2[i] = gauss(&r);
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double v1 = 0, v2 = 0;
            for (int k = 0; k < D; k++) {
                v1 += g1[i * D + k] * g1[j * D + k];
                v2 += g2[i * D + k] * g2[j * D + k];
            }
            s1[i * D + j] = v1 + (i == j) * 0.1;
            s2[i * D + j] = v2 + (i == j) * 0.1;
        }
    matmul(prod, s1, s2, D);
    double tr1 = 0, tr2 = 0;
    for (int i = 0; i < D; i++) {
        tr1 += s1[i * D + i];
        tr2 += s2[i * D + i];
    }
    double want = mean_term + tr1 + tr2 - 2 * trace_sqrt_db(prod, D);
    rc = frechet_distance_raw(&fd, &t, mu1, s1, mu2, s2, D, &err);
    TEST_CHECK(rc == 0 && close_rel(fd, want, 1e-9, 1e-10), "fd_general_vs_denman_beavers",
               "fd %.15g want %.15g (tr_sqrt %.15g)", fd, want, t.tr_sqrt);
}

static void test_frechet_features(void) {
    enum { N = 3000, D = 24 };
    // correlated features with a large common offset (like ReLU features)
    double a[D * D];
    Prng r = seeded(3);
    for (int i = 0; i < D * D; i++) a[i] = 0.3 * gauss(&r) + (i % (D + 1) == 0);
    float *x = gaussian_rows(N, D, a, 5.0, 101);
    float *y = gaussian_rows(N, D, a, 5.3, 202);
    LzError err = {{0}};

    // statistics against np.cov semantics in a direct double loop
    GaussStats s;
    int rc = gauss_stats_compute(&s, x, N, D, &err);
    double mu[D] = {0}, worst = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) mu[j] += x[i * D + j];
    for (int j = 0; j < D; j++) mu[j] /= N;
    for (int p = 0; p < D; p++)
        for (int q = 0; q < D; q++) {
            double c = 0;
            for (int i = 0; i < N; i++) c += (x[i * D + p] - mu[p]) * (x[i * D + q] - mu[q]);
            c /= N - 1;
            double e = fabs(c - s.sigma[p * D + q]) / (fabs(c) + 1e-3);
            if (e > worst) worst = e;
        }
    for (int j = 0; j < D; j++) {
        double e = fabs(mu[j] - s.mu[j]) / fabs(mu[j]);
        if (e > worst) worst = e;
    }
    TEST_CHECK(rc == 0 && worst < 1e-11, "gauss_stats_match_np_cov", "worst rel err %.3g (%.200s)", worst, err.msg);

    // FD(X, X) = 0 relative to the traces
    double fd = 1;
    FrechetTerms t;
    rc = frechet_distance_stats(&fd, &t, &s, &s, &err);
    double rel = fabs(fd) / (t.trace1 + t.trace2);
    TEST_CHECK(rc == 0 && rel < 1e-8, "fd_self_zero", "fd %.3g relative %.3g", fd, rel);

    // permutation of the rows (and of the feature columns in both sets)
    double fd_xy;
    rc = frechet_distance_features(&fd_xy, x, N, y, N, D, &err);
    float *yp = malloc(sizeof(float) * N * D), *xc = malloc(sizeof(float) * N * D),
          *yc = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N; i++) memcpy(yp + (size_t)i * D, y + (size_t)((i * 7 + 3) % N) * D, sizeof(float) * D);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            xc[i * D + j] = x[i * D + (D - 1 - j)];
            yc[i * D + j] = y[i * D + (D - 1 - j)];
        }
    double fd_perm, fd_cols;
    rc |= frechet_distance_features(&fd_perm, x, N, yp, N, D, &err);
    rc |= frechet_distance_features(&fd_cols, xc, N, yc, N, D, &err);
    TEST_CHECK(rc == 0 && fd_xy > 0.5 && close_rel(fd_perm, fd_xy, 1e-9, 0) && close_rel(fd_cols, fd_xy, 1e-9, 0),
               "fd_permutation_invariant", "fd %.12g rows-permuted %.12g cols-permuted %.12g", fd_xy, fd_perm, fd_cols);
    // a pure shift of 0.3 in every coordinate: the mean term is D * 0.09 and
    // the covariance terms are sampling noise
    TEST_CHECK(fabs(fd_xy - D * 0.09) < 0.25 * D * 0.09, "fd_shift_magnitude", "fd %.4g expected about %.4g", fd_xy,
               D * 0.09);

    // singular covariance (N < D): finite, and FD(X, X) still ~ 0
    GaussStats small;
    rc = gauss_stats_compute(&small, x, 10, D, &err);
    rc |= frechet_distance_stats(&fd, &t, &small, &small, &err);
    rel = fabs(fd) / (t.trace1 + t.trace2);
    TEST_CHECK(rc == 0 && isfinite(fd) && rel < 1e-6, "fd_singular_covariance", "fd %.3g rel %.3g clamped %d", fd, rel,
               t.clamped);
    gauss_stats_free(&small);

    // weighted statistics == statistics of the explicitly repeated rows
    enum { M = 50 };
    double w[M];
    long total = 0;
    for (int i = 0; i < M; i++) {
        w[i] = (i * 5) % 4;  // 0, 1, 2, 3 copies
        total += (long)w[i];
    }
    float *rep = malloc(sizeof(float) * total * D);
    long at = 0;
    for (int i = 0; i < M; i++)
        for (int c = 0; c < (int)w[i]; c++) memcpy(rep + (size_t)(at++) * D, x + (size_t)i * D, sizeof(float) * D);
    GaussStats sw, sr;
    rc = gauss_stats_compute_weighted(&sw, x, w, M, D, &err);
    rc |= gauss_stats_compute(&sr, rep, total, D, &err);
    worst = 0;
    for (int e = 0; e < D * D; e++) worst = fmax(worst, fabs(sw.sigma[e] - sr.sigma[e]));
    for (int e = 0; e < D; e++) worst = fmax(worst, fabs(sw.mu[e] - sr.mu[e]));
    TEST_CHECK(rc == 0 && worst < 1e-12, "gauss_stats_weighted_equals_repeated", "worst abs diff %.3g", worst);
    gauss_stats_free(&sw);
    gauss_stats_free(&sr);
    free(rep);

    // save / load round trip and corrupted files
    char path[512], bad[512];
    const char *tmpdir = getenv("TEST_TMP") ? getenv("TEST_TMP") : "/tmp";
    snprintf(path, sizeof path, "%s/test_metrics_stats_%d.bin", tmpdir, (int)getpid());
    snprintf(bad, sizeof bad, "%s/test_metrics_bad_%d.bin", tmpdir, (int)getpid());
    GaussStats l;
    rc = gauss_stats_save(&s, path, &err);
    rc |= gauss_stats_load(&l, path, &err);
    TEST_CHECK(rc == 0 && l.dim == D && l.count == N && !memcmp(l.mu, s.mu, sizeof(double) * D) &&
                   !memcmp(l.sigma, s.sigma, sizeof(double) * D * D),
               "gauss_stats_save_load", "rc %d (%.200s)", rc, err.msg);
    gauss_stats_free(&l);
    FILE *f = fopen(path, "rb"), *g = fopen(bad, "wb");
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, f);
    fwrite(buf, 1, got - 8, g);  // drop the last value
    fclose(f);
    fclose(g);
    rc = gauss_stats_load(&l, bad, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "file size"), "gauss_stats_load_truncated", "%.300s", err.msg);
    g = fopen(bad, "wb");
    buf[0] = 'X';
    fwrite(buf, 1, got, g);
    fclose(g);
    rc = gauss_stats_load(&l, bad, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "magic"), "gauss_stats_load_bad_magic", "%.300s", err.msg);
    remove(path);
    remove(bad);

    // errors: one row, NaN
    rc = gauss_stats_compute(&l, x, 1, D, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "at least 2"), "gauss_stats_one_row_error", "%.300s", err.msg);
    float saved = x[5 * D + 2];
    x[5 * D + 2] = NAN;
    rc = gauss_stats_compute(&l, x, N, D, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "row 5 column 2"), "gauss_stats_nan_error", "%.300s", err.msg);
    x[5 * D + 2] = saved;

    gauss_stats_free(&s);
    free(x);
    free(y);
    free(yp);
    free(xc);
    free(yc);
}

// ----------------------------------------------------------------------------
// KID

static double kpoly(const float *a, const float *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)a[j] * b[j];
    double v = s / d + 1;
    return v * v * v;
}

// MMD^2_u over index lists with multiplicity: pairs (p, q) of positions whose
// original rows differ (the bootstrap definition); with distinct indices this
// is the plain unbiased estimator.
static double mmd2_direct(const float *x, const long *ix, long m, const float *y, const long *iy, long n, int d) {
    double sxx = 0, syy = 0, sxy = 0, cxx = 0, cyy = 0;
    for (long p = 0; p < m; p++)
        for (long q = 0; q < m; q++)
            if (ix[p] != ix[q]) {
                sxx += kpoly(x + ix[p] * d, x + ix[q] * d, d);
                cxx++;
            }
    for (long p = 0; p < n; p++)
        for (long q = 0; q < n; q++)
            if (iy[p] != iy[q]) {
                syy += kpoly(y + iy[p] * d, y + iy[q] * d, d);
                cyy++;
            }
    for (long p = 0; p < m; p++)
        for (long q = 0; q < n; q++) sxy += kpoly(x + ix[p] * d, y + iy[q] * d, d);
    return sxx / cxx + syy / cyy - 2 * sxy / ((double)m * n);
}

static void test_kid(void) {
    LzError err = {{0}};
    // the blocked estimator against the double loop; 1100 rows cross the
    // 1024-row block boundary
    enum { M = 1100, N = 300, D = 6 };
    float *x = gaussian_rows(M, D, NULL, 0.0, 5);
    float *y = gaussian_rows(N, D, NULL, 0.4, 6);
    long *ix = malloc(sizeof(long) * M), *iy = malloc(sizeof(long) * N);
    for (long i = 0; i < M; i++) ix[i] = i;
    for (long i = 0; i < N; i++) iy[i] = i;
    double want = mmd2_direct(x, ix, M, y, iy, N, D), got = 0;
    int rc = kid_mmd2_unbiased(&got, x, M, y, N, D, &err);
    TEST_CHECK(rc == 0 && close_rel(got, want, 1e-9, 1e-12), "kid_unbiased_vs_double_loop", "got %.15g want %.15g", got,
               want);

    // one subset covering both sets is the same number, std 0
    KidConfig cfg = kid_default_config();
    KidResult kr;
    rc = kid_compute(&kr, x, N, y, N, D, &cfg, &err);
    double full;
    rc |= kid_mmd2_unbiased(&full, x, N, y, N, D, &err);
    TEST_CHECK(rc == 0 && close_rel(kr.mean, full, 1e-10, 1e-14) && kr.std == 0 && kr.subset_size == N,
               "kid_full_subset", "mean %.12g full %.12g std %g m %ld", kr.mean, full, kr.std, kr.subset_size);

    // weighted (bootstrap) form against the direct loop on an expanded list
    enum { W = 3 };
    double wx[W * M], wy[W * N];
    Prng r = seeded(9);
    for (int b = 0; b < W; b++) {
        for (long i = 0; i < M; i++) wx[b * M + i] = 0;
        for (long i = 0; i < N; i++) wy[b * N + i] = 0;
        if (b == 0) {
            for (long i = 0; i < M; i++) wx[i] = 1;
            for (long i = 0; i < N; i++) wy[i] = 1;
            continue;
        }
        for (long i = 0; i < M; i++) wx[b * M + prng_below(&r, M)] += 1;
        for (long i = 0; i < N; i++) wy[b * N + prng_below(&r, N)] += 1;
    }
    double out[W];
    rc = kid_mmd2_weighted(out, x, M, wx, y, N, wy, W, D, &err);
    int ok = rc == 0 && close_rel(out[0], want, 1e-9, 1e-12);
    double worst_w = 0;
    for (int b = 1; b < W; b++) {
        long *ex = malloc(sizeof(long) * M), *ey = malloc(sizeof(long) * N), a = 0, c = 0;
        for (long i = 0; i < M; i++)
            for (int k = 0; k < (int)wx[b * M + i]; k++) ex[a++] = i;
        for (long i = 0; i < N; i++)
            for (int k = 0; k < (int)wy[b * N + i]; k++) ey[c++] = i;
        double wb = mmd2_direct(x, ex, a, y, ey, c, D);
        worst_w = fmax(worst_w, fabs(out[b] - wb) / (fabs(wb) + 1e-12));
        free(ex);
        free(ey);
    }
    TEST_CHECK(ok && worst_w < 1e-9, "kid_weighted_vs_expanded_loop", "rc %d out0 %.12g want %.12g worst rel %.3g", rc,
               out[0], want, worst_w);
    free(ix);
    free(iy);
    free(x);
    free(y);

    // same distribution: near 0; shifted: clearly positive
    enum { NK = 2000, DK = 16 };
    float *p = gaussian_rows(NK, DK, NULL, 0.0, 21);
    float *q = gaussian_rows(NK, DK, NULL, 0.0, 22);
    float *s = gaussian_rows(NK, DK, NULL, 0.5, 23);
    cfg.subsets = 20;
    cfg.subset_size = 500;
    cfg.seed = 1;
    KidResult same, shifted, again, other_seed;
    rc = kid_compute(&same, p, NK, q, NK, DK, &cfg, &err);
    rc |= kid_compute(&shifted, p, NK, s, NK, DK, &cfg, &err);
    rc |= kid_compute(&again, p, NK, s, NK, DK, &cfg, &err);
    cfg.seed = 2;
    rc |= kid_compute(&other_seed, p, NK, s, NK, DK, &cfg, &err);
    TEST_CHECK(rc == 0 && fabs(same.mean) < 3 * same.std && same.std > 0, "kid_same_distribution_near_zero",
               "mean %.3g std %.3g", same.mean, same.std);
    // N(0, I) vs N(0.5 * 1, I) in d = 16 gives KID about 1.0 (+- 0.05 over
    // subsets); require it far above the same-distribution spread
    TEST_CHECK(rc == 0 && shifted.mean > 0.05 && shifted.mean > 10 * shifted.std &&
                   shifted.mean > 20 * fabs(same.mean) + 20 * same.std,
               "kid_shifted_positive", "shifted %.4g +- %.3g, same %.3g +- %.3g", shifted.mean, shifted.std, same.mean,
               same.std);
    TEST_CHECK(again.mean == shifted.mean && other_seed.mean != shifted.mean, "kid_seeded",
               "same seed %.15g vs %.15g, other seed %.15g", again.mean, shifted.mean, other_seed.mean);
    cfg.subsets = 0;
    rc = kid_compute(&same, p, NK, q, NK, DK, &cfg, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "subsets"), "kid_bad_config_error", "%.300s", err.msg);
    free(p);
    free(q);
    free(s);
}

// ----------------------------------------------------------------------------
// precision / recall

static int cmp_f(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_prdc(void) {
    LzError err = {{0}};
    PrecisionRecall pr;
    // 100 real points on a line at 0..99 and 50 fake ones at 0.25..49.25.
    // k = 3: interior radii 2, end points 3 (neighbours at 1, 2, 3).
    // precision: every fake point is 0.25 from a real one -> 1.
    // recall: fake ball of 49.25 (an end point) has radius 3 -> reals 0..52
    //   are inside some fake ball -> 53 / 100.
    // coverage: real 51 (radius 2) holds 49.25, real 52 does not -> 52 / 100.
    // density: fake 0.25 lies in the balls of reals 0, 1, 2 (real 3 is 2.75
    //   away, radius 2); fake 2.25 in five (reals 1..4 and real 0, whose end
    //   radius 3 reaches it); every other fake in four (the reals within 2)
    //   -> (3 + 5 + 48 * 4) / (3 * 50) = 200 / 150.
    enum { NR = 100, NF = 50 };
    float real[NR * 2], fake[NF * 2];
    for (int i = 0; i < NR; i++) {
        real[2 * i] = (float)i;
        real[2 * i + 1] = 0;
    }
    for (int i = 0; i < NF; i++) {
        fake[2 * i] = (float)i + 0.25f;
        fake[2 * i + 1] = 0;
    }
    int rc = precision_recall(&pr, real, NR, fake, NF, 2, 3, &err);
    TEST_CHECK(rc == 0 && pr.precision == 1.0 && pr.recall == 0.53, "prdc_half_manifold", "precision %.4g recall %.4g",
               pr.precision, pr.recall);
    TEST_CHECK(rc == 0 && pr.coverage == 0.52 && close_rel(pr.density, 200.0 / 150.0, 1e-12, 0), "prdc_density_coverage",
               "density %.6g (want %.6g) coverage %.4g", pr.density, 200.0 / 150.0, pr.coverage);

    // identical sets -> 1, 1; disjoint far clusters -> 0, 0
    enum { NC = 700, DC = 10 };  // NC > 512 crosses a row block
    float *a = gaussian_rows(NC, DC, NULL, 0.0, 31);
    float *b = gaussian_rows(NC, DC, NULL, 100.0, 32);
    rc = precision_recall(&pr, a, NC, a, NC, DC, 3, &err);
    TEST_CHECK(rc == 0 && pr.precision == 1 && pr.recall == 1 && pr.coverage == 1, "prdc_identical_sets",
               "precision %.4g recall %.4g coverage %.4g", pr.precision, pr.recall, pr.coverage);
    rc = precision_recall(&pr, a, NC, b, NC, DC, 3, &err);
    TEST_CHECK(rc == 0 && pr.precision == 0 && pr.recall == 0 && pr.density == 0, "prdc_disjoint_sets",
               "precision %.4g recall %.4g", pr.precision, pr.recall);
    free(b);

    // k-NN radii against a full sort of double distances, 2500 rows (crosses
    // the 2048-column block)
    enum { NK = 2500, DK = 5 };
    float *x = gaussian_rows(NK, DK, NULL, 3.0, 41);
    float *rad = malloc(sizeof(float) * NK);
    double *row = malloc(sizeof(double) * NK), worst = 0;
    rc = knn_radii2(rad, x, NK, DK, 3, &err);
    for (int i = 0; i < NK; i += 7) {
        for (int j = 0; j < NK; j++) {
            double s = 0;
            for (int t = 0; t < DK; t++) s += ((double)x[i * DK + t] - x[j * DK + t]) * ((double)x[i * DK + t] - x[j * DK + t]);
            row[j] = s;
        }
        qsort(row, NK, sizeof(double), cmp_f);
        worst = fmax(worst, fabs(rad[i] - row[3]) / row[3]);
    }
    TEST_CHECK(rc == 0 && worst < 1e-4, "knn_radii_vs_sort", "worst rel err %.3g", worst);
    free(row);
    free(rad);
    free(x);

    // precision / recall of two overlapping clouds against a brute-force double
    // evaluation of the same definition
    enum { NP = 300, DP = 4 };
    float *r1 = gaussian_rows(NP, DP, NULL, 0.0, 51), *f1 = gaussian_rows(NP, DP, NULL, 0.7, 52);
    double rr[NP], rf[NP], dist[NP];
    for (int s = 0; s < 2; s++) {
        const float *set = s ? f1 : r1;
        double *out = s ? rf : rr;
        for (int i = 0; i < NP; i++) {
            for (int j = 0; j < NP; j++) {
                double v = 0;
                for (int t = 0; t < DP; t++) v += ((double)set[i * DP + t] - set[j * DP + t]) * ((double)set[i * DP + t] - set[j * DP + t]);
                dist[j] = v;
            }
            qsort(dist, NP, sizeof(double), cmp_f);
            out[i] = dist[3];
        }
    }
    int prec = 0, rec = 0;
    for (int j = 0; j < NP; j++) {
        int in = 0;
        for (int i = 0; i < NP && !in; i++) {
            double v = 0;
            for (int t = 0; t < DP; t++) v += ((double)f1[j * DP + t] - r1[i * DP + t]) * ((double)f1[j * DP + t] - r1[i * DP + t]);
            in = v <= rr[i];
        }
        prec += in;
    }
    for (int i = 0; i < NP; i++) {
        int in = 0;
        for (int j = 0; j < NP && !in; j++) {
            double v = 0;
            for (int t = 0; t < DP; t++) v += ((double)f1[j * DP + t] - r1[i * DP + t]) * ((double)f1[j * DP + t] - r1[i * DP + t]);
            in = v <= rf[j];
        }
        rec += in;
    }
    rc = precision_recall(&pr, r1, NP, f1, NP, DP, 3, &err);
    TEST_CHECK(rc == 0 && pr.precision == prec / (double)NP && pr.recall == rec / (double)NP, "prdc_vs_brute_force",
               "precision %.4g want %.4g recall %.4g want %.4g", pr.precision, prec / (double)NP, pr.recall,
               rec / (double)NP);
    free(r1);
    free(f1);

    rc = precision_recall(&pr, a, 3, a, NC, DC, 3, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "need more than k"), "prdc_too_few_rows_error", "%.300s", err.msg);
    free(a);
}

// ----------------------------------------------------------------------------
// inception score, class consistency

static void test_inception_score(void) {
    LzError err = {{0}};
    enum { N = 1000, K = 10 };
    float *p = malloc(sizeof(float) * N * K);
    for (int i = 0; i < N * K; i++) p[i] = 1.0f / K;
    double m, s;
    int rc = inception_score(&m, &s, p, N, K, IS_DEFAULT_SPLITS, &err);
    TEST_CHECK(rc == 0 && fabs(m - 1) < 1e-12 && s < 1e-12, "is_uniform_is_one", "mean %.15g std %.3g", m, s);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < K; c++) p[i * K + c] = (c == i % K);
    rc = inception_score(&m, &s, p, N, K, IS_DEFAULT_SPLITS, &err);
    TEST_CHECK(rc == 0 && fabs(m - K) < 1e-9 && s < 1e-9, "is_one_hot_balanced_is_k", "mean %.15g std %.3g", m, s);

    // hand-computed: rows (0.9, 0.1) and (0.1, 0.9) alternating, one split:
    // p(y) = (0.5, 0.5), KL = 0.9 ln 1.8 + 0.1 ln 0.2 for every row
    float two[8] = {0.9f, 0.1f, 0.1f, 0.9f, 0.9f, 0.1f, 0.1f, 0.9f};
    rc = inception_score(&m, &s, two, 4, 2, 1, &err);
    double want = exp(0.9 * log(1.8) + 0.1 * log(0.2));
    TEST_CHECK(rc == 0 && close_rel(m, want, 1e-6, 0), "is_two_class_hand", "mean %.9g want %.9g", m, want);

    p[3] = 0.5f;  // row 0 no longer sums to 1
    rc = inception_score(&m, &s, p, N, K, IS_DEFAULT_SPLITS, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "row 0"), "is_unnormalised_error", "%.300s", err.msg);
    free(p);

    float sc[6] = {0.1f, 0.7f, 0.2f, 2.0f, -1.0f, 0.5f};
    int64_t lab[2] = {1, 2};
    double cc = 0;
    rc = class_consistency(&cc, sc, lab, 2, 3, &err);
    TEST_CHECK(rc == 0 && cc == 0.5, "class_consistency", "got %g", cc);
    lab[1] = 3;
    rc = class_consistency(&cc, sc, lab, 2, 3, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "outside"), "class_consistency_bad_label", "%.300s", err.msg);
}

// ----------------------------------------------------------------------------
// PSNR / SSIM

static void test_fidelity(void) {
    LzError err = {{0}};
    enum { C = 2, H = 20, W = 17 };
    size_t n = (size_t)C * H * W;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    Prng r = seeded(61);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(0.5 * sin(0.3 * i) + 0.3 * (prng_uniform(&r) - 0.5));
        y[i] = x[i] + 0.125f;  // exact in float for these magnitudes
    }
    // PSNR of a constant offset: MSE = 0.125^2, range 2 -> 10 log10(4 / 0.015625)
    double p = psnr(x, y, (long)n, 2.0), want = 10 * log10(4.0 / (0.125 * 0.125));
    TEST_CHECK(close_rel(p, want, 1e-9, 0), "psnr_constant_offset", "got %.12g want %.12g", p, want);
    TEST_CHECK(isinf(psnr(x, x, (long)n, 2.0)), "psnr_identical_inf", "not infinite");

    double s = 0;
    int rc = ssim_image(&s, x, x, C, H, W, 2.0, &err);
    TEST_CHECK(rc == 0 && fabs(s - 1) < 1e-12, "ssim_self_is_one", "ssim %.15g", s);

    // constant image a against a + c: every window gives the luminance term
    // (2 a (a + c) + C1) / (a^2 + (a + c)^2 + C1) times (0 + C2) / (0 + C2)
    float *ca = malloc(sizeof(float) * n), *cb = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        ca[i] = 0.2f;
        cb[i] = 0.3f;
    }
    double c1 = (0.01 * 2) * (0.01 * 2), a = 0.2f, b = 0.3f;
    want = (2 * a * b + c1) / (a * a + b * b + c1);
    rc = ssim_image(&s, ca, cb, C, H, W, 2.0, &err);
    TEST_CHECK(rc == 0 && close_rel(s, want, 1e-9, 0), "ssim_constant_shift_hand", "ssim %.12g want %.12g", s, want);

    // textured x against x + 0.125: variances and covariance are equal, so
    // each window's value is its luminance term at the window mean; the means
    // are computed here with a direct 2-D Gaussian sum (no separable filter)
    double g[11], gs = 0;
    for (int i = 0; i < 11; i++) gs += g[i] = exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5));
    for (int i = 0; i < 11; i++) g[i] /= gs;
    double acc = 0;
    int cnt = 0;
    for (int ch = 0; ch < C; ch++)
        for (int r0 = 0; r0 + 11 <= H; r0++)
            for (int c0 = 0; c0 + 11 <= W; c0++) {
                double mx = 0, my = 0;
                for (int u = 0; u < 11; u++)
                    for (int v = 0; v < 11; v++) {
                        size_t o = (size_t)ch * H * W + (size_t)(r0 + u) * W + c0 + v;
                        mx += g[u] * g[v] * x[o];
                        my += g[u] * g[v] * y[o];
                    }
                acc += (2 * mx * my + c1) / (mx * mx + my * my + c1);
                cnt++;
            }
    want = acc / cnt;
    rc = ssim_image(&s, x, y, C, H, W, 2.0, &err);
    TEST_CHECK(rc == 0 && close_rel(s, want, 1e-6, 1e-9), "ssim_shift_vs_direct_windows", "ssim %.12g want %.12g", s,
               want);

    // a general pair (x against a noisy, scaled copy): all five local
    // statistics by direct 2-D window sums
    float *z = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) z[i] = (float)(0.7 * x[i] + 0.2 * (prng_uniform(&r) - 0.5) + 0.05);
    double c2 = (0.03 * 2) * (0.03 * 2);
    acc = 0;
    cnt = 0;
    for (int ch = 0; ch < C; ch++)
        for (int r0 = 0; r0 + 11 <= H; r0++)
            for (int c0 = 0; c0 + 11 <= W; c0++) {
                double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
                for (int u = 0; u < 11; u++)
                    for (int v = 0; v < 11; v++) {
                        size_t o = (size_t)ch * H * W + (size_t)(r0 + u) * W + c0 + v;
                        double wgt = g[u] * g[v];
                        mx += wgt * x[o];
                        my += wgt * z[o];
                        sxx += wgt * x[o] * x[o];
                        syy += wgt * z[o] * z[o];
                        sxy += wgt * x[o] * z[o];
                    }
                double vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my;
                acc += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                cnt++;
            }
    want = acc / cnt;
    rc = ssim_image(&s, x, z, C, H, W, 2.0, &err);
    TEST_CHECK(rc == 0 && close_rel(s, want, 1e-9, 1e-12) && s < 0.99 && s > 0.2, "ssim_general_vs_direct_windows",
               "ssim %.12g want %.12g", s, want);
    free(z);

    // batch means
    float *bx = malloc(sizeof(float) * 2 * n), *by = malloc(sizeof(float) * 2 * n);
    memcpy(bx, x, sizeof(float) * n);
    memcpy(bx + n, ca, sizeof(float) * n);
    memcpy(by, y, sizeof(float) * n);
    memcpy(by + n, cb, sizeof(float) * n);
    FidelityResult fr;
    double pe[2], se[2];
    rc = fidelity_batch(&fr, pe, se, bx, by, 2, C, H, W, 2.0, &err);
    double s0, s1;
    ssim_image(&s0, x, y, C, H, W, 2.0, &err);
    ssim_image(&s1, ca, cb, C, H, W, 2.0, &err);
    TEST_CHECK(rc == 0 && close_rel(fr.ssim_mean, 0.5 * (s0 + s1), 1e-12, 0) &&
                   close_rel(fr.psnr_mean, 0.5 * (pe[0] + pe[1]), 1e-12, 0) && fr.identical == 0 && se[1] == s1,
               "fidelity_batch_means", "ssim mean %.12g psnr mean %.12g", fr.ssim_mean, fr.psnr_mean);
    rc = ssim_image(&s, x, y, 1, 10, 10, 2.0, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "smaller"), "ssim_small_image_error", "%.300s", err.msg);
    free(x);
    free(y);
    free(ca);
    free(cb);
    free(bx);
    free(by);
}

// ----------------------------------------------------------------------------
// bootstrap

static void test_bootstrap(void) {
    LzError err = {{0}};
    double v[5] = {5, 1, 4, 2, 3};
    double q1 = quantile_linear(v, 5, 0.25), q2 = quantile_linear(v, 5, 0.1), q3 = quantile_linear(v, 5, 1.0);
    TEST_CHECK(q1 == 2.0 && fabs(q2 - 1.4) < 1e-12 && q3 == 5.0, "quantile_linear_numpy", "q25 %g q10 %g q100 %g", q1,
               q2, q3);

    enum { N = 400, D = 8 };
    float *x = gaussian_rows(N, D, NULL, 0.0, 71), *y = gaussian_rows(N, D, NULL, 0.3, 72);
    BootstrapConfig cfg = bootstrap_default_config(200, 5);
    BootstrapCI fd, fd2, kd;
    int rc = bootstrap_fd(&fd, x, N, y, N, D, &cfg, &err);
    rc |= bootstrap_fd(&fd2, x, N, y, N, D, &cfg, &err);
    double fd_point;
    rc |= frechet_distance_features(&fd_point, x, N, y, N, D, &err);
    TEST_CHECK(rc == 0 && fd.point == fd_point && fd.lo < fd.point && fd.point < fd.hi && fd.std > 0,
               "bootstrap_fd_contains_point", "point %.5g ci [%.5g, %.5g] std %.3g (%.200s)", fd.point, fd.lo, fd.hi,
               fd.std, err.msg);
    TEST_CHECK(fd2.lo == fd.lo && fd2.hi == fd.hi, "bootstrap_fd_seeded", "[%.9g %.9g] vs [%.9g %.9g]", fd.lo, fd.hi,
               fd2.lo, fd2.hi);

    cfg.resamples = 100;
    rc = bootstrap_kid(&kd, x, N, y, N, D, &cfg, &err);
    double full;
    rc |= kid_mmd2_unbiased(&full, x, N, y, N, D, &err);
    TEST_CHECK(rc == 0 && close_rel(kd.point, full, 1e-10, 1e-14) && kd.lo < kd.point && kd.point < kd.hi,
               "bootstrap_kid_contains_point", "point %.5g (full %.5g) ci [%.5g, %.5g] (%.200s)", kd.point, full, kd.lo,
               kd.hi, err.msg);

    TEST_CHECK(fabs(kd.bias) < 0.5 * kd.std, "bootstrap_kid_unbiased_replicates", "bias %.3g std %.3g", kd.bias,
               kd.std);

    // FD's upward O(D/N) bias doubles in the resamples: for two samples of one
    // Gaussian at N = 300, D = 32 the plain percentile interval lies above the
    // estimate; the bias-adjusted one is centred on it
    enum { NB = 300, DB = 32 };
    float *u = gaussian_rows(NB, DB, NULL, 0.0, 73), *v2 = gaussian_rows(NB, DB, NULL, 0.0, 74);
    BootstrapConfig c2 = bootstrap_default_config(100, 8);
    BootstrapCI fb;
    rc = bootstrap_fd(&fb, u, NB, v2, NB, DB, &c2, &err);
    TEST_CHECK(rc == 0 && fb.raw_lo > fb.point && fb.bias > 0.5 * fb.point && fb.lo < fb.point && fb.point < fb.hi &&
                   close_rel(fb.hi - fb.lo, fb.raw_hi - fb.raw_lo, 1e-12, 1e-12),
               "bootstrap_fd_bias_adjusted", "point %.4g raw [%.4g, %.4g] bias %.4g adjusted [%.4g, %.4g]", fb.point,
               fb.raw_lo, fb.raw_hi, fb.bias, fb.lo, fb.hi);
    free(u);
    free(v2);

    cfg.resample_real = false;
    BootstrapCI fixed;
    rc = bootstrap_fd(&fixed, x, N, y, N, D, &cfg, &err);
    TEST_CHECK(rc == 0 && fixed.lo < fixed.point && fixed.point < fixed.hi && fixed.std < fd.std,
               "bootstrap_fd_fixed_reference", "ci [%.5g, %.5g] std %.3g vs both-resampled %.3g", fixed.lo, fixed.hi,
               fixed.std, fd.std);
    cfg.resamples = 1;
    rc = bootstrap_fd(&fixed, x, N, y, N, D, &cfg, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "resamples"), "bootstrap_bad_config_error", "%.300s", err.msg);
    free(x);
    free(y);
}

int main(void) {
    test_frechet_closed_forms();
    test_frechet_features();
    test_kid();
    test_prdc();
    test_inception_score();
    test_fidelity();
    test_bootstrap();
    return test_finish();
}
