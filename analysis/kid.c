// kid.c: KID by blocked kernel sums. See kid.h for the estimator.
#include "analysis/kid.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/base/prng.h"

// Rows per kernel block: a default 1000-row subset is one block, and the
// kernel buffer stays at KB x KB doubles (8 MB) whatever the set sizes.
enum { KB = 1024 };

KidConfig kid_default_config(void) {
    KidConfig c = {KID_DEFAULT_SUBSETS, KID_DEFAULT_SUBSET_SIZE, 0};
    return c;
}

// Partial Fisher-Yates: afterwards perm[0..m) is a uniformly random m-subset
// of the values in perm[0..n), in random order. perm must hold a permutation;
// it is not reset between subsets (a uniform shuffle of any permutation is
// still uniform), which saves O(n) per subset.
static void random_subset(Prng *g, long *perm, long n, long m) {
    for (long i = 0; i < m; i++) {
        long j = i + (long)prng_below(g, (uint64_t)(n - i));
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static inline double poly3(double dot, double inv_d) {
    double v = dot * inv_d + 1.0;
    return v * v * v;
}

static void to_double(double *dst, const float *src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = (double)src[i];
}

// Sum of k(a_i, a_j) over i != j for a (n, d), in blocks. kbuf holds KB*KB.
static double kernel_sum_within(const double *a, long n, int d, double *kbuf) {
    double inv_d = 1.0 / d, total = 0;
    for (long i0 = 0; i0 < n; i0 += KB) {
        int bi = (int)(n - i0 < KB ? n - i0 : KB);
        const double *ai = a + (size_t)i0 * d;
        // diagonal block: dsyrk fills the upper triangle; the strict upper
        // part counts twice (k is symmetric) and the diagonal not at all
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, bi, d, 1.0, ai, d, 0.0, kbuf, bi);
        double s = 0;
        for (int r = 0; r < bi; r++)
            for (int c = r + 1; c < bi; c++) s += poly3(kbuf[(size_t)r * bi + c], inv_d);
        total += 2.0 * s;
        for (long j0 = i0 + KB; j0 < n; j0 += KB) {
            int bj = (int)(n - j0 < KB ? n - j0 : KB);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0, ai, d, a + (size_t)j0 * d, d, 0.0,
                        kbuf, bj);
            double t = 0;
            for (size_t e = 0; e < (size_t)bi * bj; e++) t += poly3(kbuf[e], inv_d);
            total += 2.0 * t;
        }
    }
    return total;
}

// Sum of k(a_i, b_j) over all i, j.
static double kernel_sum_cross(const double *a, long na, const double *b, long nb, int d, double *kbuf) {
    double inv_d = 1.0 / d, total = 0;
    for (long i0 = 0; i0 < na; i0 += KB) {
        int bi = (int)(na - i0 < KB ? na - i0 : KB);
        for (long j0 = 0; j0 < nb; j0 += KB) {
            int bj = (int)(nb - j0 < KB ? nb - j0 : KB);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0, a + (size_t)i0 * d, d,
                        b + (size_t)j0 * d, d, 0.0, kbuf, bj);
            double t = 0;
            for (size_t e = 0; e < (size_t)bi * bj; e++) t += poly3(kbuf[e], inv_d);
            total += t;
        }
    }
    return total;
}

static double mmd2_from_double(const double *x, long m, const double *y, long n, int d, double *kbuf) {
    double kxx = kernel_sum_within(x, m, d, kbuf);
    double kyy = kernel_sum_within(y, n, d, kbuf);
    double kxy = kernel_sum_cross(x, m, y, n, d, kbuf);
    return kxx / ((double)m * (m - 1)) + kyy / ((double)n * (n - 1)) - 2.0 * kxy / ((double)m * n);
}

static int check_inputs(const char *what, const float *x, long n, int d, LzError *err) {
    if (d < 1) return lz_fail(err, "kid: feature dimension %d must be >= 1", d);
    if (n < 2) return lz_fail(err, "kid: %s set has %ld rows, need at least 2", what, n);
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(x[i]))
            return lz_fail(err, "kid: %s feature row %zu column %zu is not finite", what, i / (size_t)d, i % (size_t)d);
    return 0;
}

int kid_mmd2_unbiased(double *out, const float *x, long m, const float *y, long n, int d, LzError *err) {
    if (check_inputs("first", x, m, d, err) || check_inputs("second", y, n, d, err)) return -1;
    double *xd = lz_malloc((size_t)m * d * sizeof(double), "kid x");  // (m, d)
    double *yd = lz_malloc((size_t)n * d * sizeof(double), "kid y");  // (n, d)
    double *kbuf = lz_malloc((size_t)KB * KB * sizeof(double), "kid kernel block");
    to_double(xd, x, (size_t)m * d);
    to_double(yd, y, (size_t)n * d);
    *out = mmd2_from_double(xd, m, yd, n, d, kbuf);
    free(xd);
    free(yd);
    free(kbuf);
    return 0;
}

int kid_compute(KidResult *out, const float *x, long nx, const float *y, long ny, int d, const KidConfig *cfg,
                LzError *err) {
    if (cfg->subsets < 1) return lz_fail(err, "kid: number of subsets %d must be >= 1", cfg->subsets);
    if (cfg->subset_size < 2) return lz_fail(err, "kid: subset size %ld must be >= 2", cfg->subset_size);
    if (check_inputs("real", x, nx, d, err) || check_inputs("fake", y, ny, d, err)) return -1;
    long m = cfg->subset_size;
    if (m > nx) m = nx;
    if (m > ny) m = ny;
    // With m == N for both sets every subset is a permutation of the full
    // sets and the estimator is permutation invariant: compute it once.
    int subsets = (m == nx && m == ny) ? 1 : cfg->subsets;

    long *px = lz_malloc((size_t)nx * sizeof(long), "kid perm x");
    long *py = lz_malloc((size_t)ny * sizeof(long), "kid perm y");
    for (long i = 0; i < nx; i++) px[i] = i;
    for (long i = 0; i < ny; i++) py[i] = i;
    double *xs = lz_malloc((size_t)m * d * sizeof(double), "kid subset x");  // (m, d)
    double *ys = lz_malloc((size_t)m * d * sizeof(double), "kid subset y");  // (m, d)
    double *kbuf = lz_malloc((size_t)KB * KB * sizeof(double), "kid kernel block");
    double *vals = lz_malloc((size_t)subsets * sizeof(double), "kid subset values");
    Prng rng;
    prng_seed(&rng, cfg->seed);
    for (int s = 0; s < subsets; s++) {
        random_subset(&rng, px, nx, m);
        random_subset(&rng, py, ny, m);
        for (long r = 0; r < m; r++) {
            to_double(xs + (size_t)r * d, x + (size_t)px[r] * d, (size_t)d);
            to_double(ys + (size_t)r * d, y + (size_t)py[r] * d, (size_t)d);
        }
        vals[s] = mmd2_from_double(xs, m, ys, m, d, kbuf);
    }
    double mean = 0, var = 0;
    for (int s = 0; s < subsets; s++) mean += vals[s];
    mean /= subsets;
    for (int s = 0; s < subsets; s++) var += (vals[s] - mean) * (vals[s] - mean);
    var /= subsets;
    out->mean = mean;
    out->std = sqrt(var);
    out->subsets = subsets;
    out->subset_size = m;
    free(px);
    free(py);
    free(xs);
    free(ys);
    free(kbuf);
    free(vals);
    return 0;
}

// ----------------------------------------------------------------------------
// weighted (bootstrap) sums

// acc[b] += f * sum_{i in I, j in J} C[b, i] K_IJ[i, j] C2[b, j], for all b,
// via T = C[:, I] K_IJ (nw x bj, one dgemm) and a row-wise dot with C2[:, J].
static void weighted_block(double *acc, double f, const double *kblk, int bi, int bj, const double *ci,
                           const double *cj, long ldc_i, long ldc_j, int nw, double *tbuf) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nw, bj, bi, 1.0, ci, (int)ldc_i, kblk, bj, 0.0, tbuf, bj);
    for (int b = 0; b < nw; b++) {
        const double *tr = tbuf + (size_t)b * bj;
        const double *cr = cj + (size_t)b * ldc_j;
        double s = 0;
        for (int j = 0; j < bj; j++) s += tr[j] * cr[j];
        acc[b] += f * s;
    }
}

// For each weight row b: c^T K c - sum_a c_a^2 K_aa over a (n, d); and the
// normaliser (sum c)^2 - sum c^2.
static void weighted_within(double *num, double *den, const double *a, long n, const double *c, int nw, int d,
                            double *kbuf, double *tbuf) {
    double inv_d = 1.0 / d;
    for (int b = 0; b < nw; b++) num[b] = 0;
    for (long i0 = 0; i0 < n; i0 += KB) {
        int bi = (int)(n - i0 < KB ? n - i0 : KB);
        const double *ai = a + (size_t)i0 * d;
        for (long j0 = i0; j0 < n; j0 += KB) {
            int bj = (int)(n - j0 < KB ? n - j0 : KB);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0, ai, d, a + (size_t)j0 * d, d, 0.0,
                        kbuf, bj);
            for (size_t e = 0; e < (size_t)bi * bj; e++) kbuf[e] = poly3(kbuf[e], inv_d);
            if (j0 == i0)  // remove the self pairs k(a, a) before they enter c^T K c
                for (int r = 0; r < bi; r++) kbuf[(size_t)r * bj + r] = 0;
            weighted_block(num, j0 == i0 ? 1.0 : 2.0, kbuf, bi, bj, c + i0, c + j0, n, n, nw, tbuf);
        }
    }
    // The diagonal was zeroed, so num already is sum_{a != b} c_a c_b K_ab;
    // the normaliser counts the same ordered pairs.
    for (int b = 0; b < nw; b++) {
        const double *cr = c + (size_t)b * n;
        double s = 0, s2 = 0;
        for (long i = 0; i < n; i++) {
            s += cr[i];
            s2 += cr[i] * cr[i];
        }
        den[b] = s * s - s2;
    }
}

int kid_mmd2_weighted(double *out, const float *x, long nx, const double *wx, const float *y, long ny,
                      const double *wy, int nw, int d, LzError *err) {
    if (nw < 1) return lz_fail(err, "kid: need at least one weight vector, got %d", nw);
    if (check_inputs("real", x, nx, d, err) || check_inputs("fake", y, ny, d, err)) return -1;
    for (size_t i = 0; i < (size_t)nw * nx; i++)
        if (!(wx[i] >= 0)) return lz_fail(err, "kid: weight %zu of the first set is negative or NaN", i);
    for (size_t i = 0; i < (size_t)nw * ny; i++)
        if (!(wy[i] >= 0)) return lz_fail(err, "kid: weight %zu of the second set is negative or NaN", i);
    double *xd = lz_malloc((size_t)nx * d * sizeof(double), "kid x");
    double *yd = lz_malloc((size_t)ny * d * sizeof(double), "kid y");
    to_double(xd, x, (size_t)nx * d);
    to_double(yd, y, (size_t)ny * d);
    double *kbuf = lz_malloc((size_t)KB * KB * sizeof(double), "kid kernel block");
    double *tbuf = lz_malloc((size_t)nw * KB * sizeof(double), "kid weighted block");
    double *nxx = lz_malloc((size_t)nw * 6 * sizeof(double), "kid weighted sums");
    double *dxx = nxx + nw, *nyy = nxx + 2 * nw, *dyy = nxx + 3 * nw, *nxy = nxx + 4 * nw, *sy = nxx + 5 * nw;
    weighted_within(nxx, dxx, xd, nx, wx, nw, d, kbuf, tbuf);
    weighted_within(nyy, dyy, yd, ny, wy, nw, d, kbuf, tbuf);
    double inv_d = 1.0 / d;
    for (int b = 0; b < nw; b++) nxy[b] = 0;
    for (long i0 = 0; i0 < nx; i0 += KB) {
        int bi = (int)(nx - i0 < KB ? nx - i0 : KB);
        for (long j0 = 0; j0 < ny; j0 += KB) {
            int bj = (int)(ny - j0 < KB ? ny - j0 : KB);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0, xd + (size_t)i0 * d, d,
                        yd + (size_t)j0 * d, d, 0.0, kbuf, bj);
            for (size_t e = 0; e < (size_t)bi * bj; e++) kbuf[e] = poly3(kbuf[e], inv_d);
            weighted_block(nxy, 1.0, kbuf, bi, bj, wx + i0, wy + j0, nx, ny, nw, tbuf);
        }
    }
    int rc = 0;
    for (int b = 0; b < nw; b++) {
        double sx = 0;
        sy[b] = 0;
        for (long i = 0; i < nx; i++) sx += wx[(size_t)b * nx + i];
        for (long i = 0; i < ny; i++) sy[b] += wy[(size_t)b * ny + i];
        if (!(dxx[b] > 0) || !(dyy[b] > 0)) {
            rc = lz_fail(err, "kid: weight vector %d leaves fewer than 2 distinct rows in a set", b);
            break;
        }
        out[b] = nxx[b] / dxx[b] + nyy[b] / dyy[b] - 2.0 * nxy[b] / (sx * sy[b]);
    }
    free(xd);
    free(yd);
    free(kbuf);
    free(tbuf);
    free(nxx);
    return rc;
}
