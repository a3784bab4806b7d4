// frechet.c: Gaussian statistics and the Frechet distance. See frechet.h for
// the formula and why the square root goes through symmetric eigenproblems.
#include "analysis/frechet.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"

// LAPACK's symmetric divide-and-conquer eigensolver (OpenBLAS exports the
// Fortran symbol; lapacke.h is not installed). The trailing size_t arguments
// are the hidden lengths of the two character arguments (gfortran ABI).
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t uplo_len);

// Eigenvalues (ascending) of the symmetric n x n matrix a (row-major; being
// symmetric, row- and column-major are the same matrix). With vectors, a is
// overwritten so that row k (row-major view) is the unit eigenvector of w[k];
// without, a is destroyed. Returns LAPACK's info (0 = success).
static int sym_eig(double *a, double *w, int n, bool vectors) {
    const char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int lwork = -1, liwork = -1, info = 0, iwq = 0;
    double wq = 0;
    dsyevd_(&jobz, &uplo, &n, a, &n, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);  // workspace query
    if (info != 0) return info;
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *work = lz_malloc((size_t)lwork * sizeof(double), "dsyevd work");
    int *iwork = lz_malloc((size_t)liwork * sizeof(int), "dsyevd iwork");
    dsyevd_(&jobz, &uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    return info;
}

// ----------------------------------------------------------------------------
// statistics

int gauss_stats_compute_weighted(GaussStats *s, const float *x, const double *w, long n, int d, LzError *err) {
    memset(s, 0, sizeof *s);
    if (d < 1) return lz_fail(err, "gaussian stats: feature dimension %d must be >= 1", d);
    if (n < 2) return lz_fail(err, "gaussian stats: need at least 2 samples for a covariance, got %ld", n);
    // Pass 1: total weight and mean, in double. Two passes (mean first, then
    // centred products) avoid the cancellation of E[xx^T] - mu mu^T when the
    // features have a large common offset (ReLU features are all positive).
    double total = 0;
    double *mu = lz_calloc((size_t)d, sizeof(double), "gaussian stats mu");
    for (long i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!(wi >= 0) || !isfinite(wi)) {
            free(mu);
            return lz_fail(err, "gaussian stats: weight %ld is %g (weights must be finite and >= 0)", i, wi);
        }
        const float *xi = x + (size_t)i * d;
        for (int j = 0; j < d; j++) {
            if (!isfinite(xi[j])) {
                free(mu);
                return lz_fail(err, "gaussian stats: feature row %ld column %d is %g (non-finite)", i, j, (double)xi[j]);
            }
            mu[j] += wi * (double)xi[j];
        }
        total += wi;
    }
    if (!(total > 1)) {
        free(mu);
        return lz_fail(err, "gaussian stats: total weight %g must exceed 1 for an unbiased covariance", total);
    }
    for (int j = 0; j < d; j++) mu[j] /= total;

    // Pass 2: sigma = Z^T Z over chunks of centred rows Z_i = sqrt(w_i)(x_i - mu),
    // one dsyrk per chunk into the upper triangle. The chunk keeps the double
    // copy small (ROWS x D) whatever N is.
    enum { ROWS = 256 };
    double *sigma = lz_calloc((size_t)d * d, sizeof(double), "gaussian stats sigma");
    double *z = lz_malloc((size_t)ROWS * d * sizeof(double), "gaussian stats centred chunk");  // (ROWS, D)
    long i = 0;
    while (i < n) {
        int rows = 0;
        for (; i < n && rows < ROWS; i++) {
            double wi = w ? w[i] : 1.0;
            if (wi == 0) continue;
            double sw = sqrt(wi);
            const float *xi = x + (size_t)i * d;
            double *zr = z + (size_t)rows * d;
            for (int j = 0; j < d; j++) zr[j] = sw * ((double)xi[j] - mu[j]);
            rows++;
        }
        if (rows > 0) cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, z, d, 1.0, sigma, d);
    }
    free(z);
    double scale = 1.0 / (total - 1.0);
    for (int r = 0; r < d; r++)
        for (int c = r; c < d; c++) {
            double v = sigma[(size_t)r * d + c] * scale;
            sigma[(size_t)r * d + c] = v;
            sigma[(size_t)c * d + r] = v;  // mirror so sigma is exactly symmetric
        }
    s->dim = d;
    s->count = total;
    s->mu = mu;
    s->sigma = sigma;
    return 0;
}

int gauss_stats_compute(GaussStats *s, const float *x, long n, int d, LzError *err) {
    return gauss_stats_compute_weighted(s, x, NULL, n, d, err);
}

void gauss_stats_free(GaussStats *s) {
    if (!s) return;
    free(s->mu);
    free(s->sigma);
    memset(s, 0, sizeof *s);
}

// ----------------------------------------------------------------------------
// cache files

static const char GAUSS_MAGIC[8] = {'L', 'Z', 'G', 'A', 'U', 'S', 'S', '1'};

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int gauss_stats_save(const GaussStats *s, const char *path, LzError *err) {
    if (!host_is_little_endian()) return lz_fail(err, "%s: gaussian stats files are little-endian; big-endian hosts are not supported", path);
    if (s->dim < 1 || !s->mu || !s->sigma) return lz_fail(err, "%s: refusing to save empty gaussian stats", path);
    // atomic: an interrupted save never leaves a truncated cache that a later
    // run would trust
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    uint32_t dim = (uint32_t)s->dim, reserved = 0;
    size_t d = (size_t)s->dim;
    atomic_write(&af, GAUSS_MAGIC, 8);
    atomic_write(&af, &dim, 4);
    atomic_write(&af, &reserved, 4);
    atomic_write(&af, &s->count, 8);
    atomic_write(&af, s->mu, 8 * d);
    atomic_write(&af, s->sigma, 8 * d * d);
    return atomic_commit(&af, err);
}

int gauss_stats_load(GaussStats *s, const char *path, LzError *err) {
    memset(s, 0, sizeof *s);
    if (!host_is_little_endian()) return lz_fail(err, "%s: gaussian stats files are little-endian; big-endian hosts are not supported", path);
    struct stat st;
    FILE *f = lz_fopen_input(path, &st, err);
    if (!f) return -1;
    char magic[8];
    uint32_t dim = 0, reserved = 0;
    double count = 0;
    if (fread(magic, 1, 8, f) != 8 || fread(&dim, 4, 1, f) != 1 || fread(&reserved, 4, 1, f) != 1 ||
        fread(&count, 8, 1, f) != 1) {
        fclose(f);
        return lz_fail(err, "%s: truncated gaussian stats header (need 24 bytes)", path);
    }
    if (memcmp(magic, GAUSS_MAGIC, 8) != 0) {
        fclose(f);
        return lz_fail(err, "%s: not a gaussian stats file (bad magic; expected LZGAUSS1)", path);
    }
    if (dim < 1 || dim > 65536 || reserved != 0) {
        fclose(f);
        return lz_fail(err, "%s: bad header (D = %u, reserved = %u)", path, dim, reserved);
    }
    if (!(count > 1) || !isfinite(count)) {
        fclose(f);
        return lz_fail(err, "%s: sample count %g must be finite and > 1", path, count);
    }
    size_t d = dim;
    long long expect = 24 + 8LL * (long long)d * ((long long)d + 1);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return lz_fail(err, "%s: cannot seek: %s", path, strerror(errno));
    }
    long long size = (long long)ftell(f);
    if (size != expect) {
        fclose(f);
        return lz_fail(err, "%s: file size %lld bytes, expected %lld for D = %u", path, size, expect, dim);
    }
    fseek(f, 24, SEEK_SET);
    double *mu = lz_malloc(d * sizeof(double), "gaussian stats mu");
    double *sigma = lz_malloc(d * d * sizeof(double), "gaussian stats sigma");
    bool ok = fread(mu, 8, d, f) == d && fread(sigma, 8, d * d, f) == d * d;
    fclose(f);
    if (!ok) {
        free(mu);
        free(sigma);
        return lz_fail(err, "%s: short read", path);
    }
    for (size_t i = 0; i < d; i++)
        if (!isfinite(mu[i])) {
            free(mu);
            free(sigma);
            return lz_fail(err, "%s: mu[%zu] is not finite", path, i);
        }
    for (size_t r = 0; r < d; r++)
        for (size_t c = 0; c < d; c++) {
            double v = sigma[r * d + c];
            if (!isfinite(v) || v != sigma[c * d + r]) {
                free(mu);
                free(sigma);
                return lz_fail(err, "%s: sigma[%zu][%zu] is not finite or not symmetric", path, r, c);
            }
        }
    s->dim = (int)dim;
    s->count = count;
    s->mu = mu;
    s->sigma = sigma;
    return 0;
}

// ----------------------------------------------------------------------------
// the distance

int frechet_prepare(FrechetPrepared *p, const double *mu1, const double *sigma1, int d, LzError *err) {
    memset(p, 0, sizeof *p);
    if (d < 1) return lz_fail(err, "frechet distance: dimension %d must be >= 1", d);
    size_t dd = (size_t)d * d;
    for (int j = 0; j < d; j++) p->trace1 += sigma1[(size_t)j * d + j];
    // S1 = V L V^T. After sym_eig, row k of e is eigenvector k, i.e. e = V^T.
    p->e = lz_malloc(dd * sizeof(double), "frechet eigvecs");              // (D, D)
    p->sqrt_lam = lz_malloc((size_t)d * sizeof(double), "frechet eigvals");  // (D)
    p->keep = lz_malloc((size_t)d * sizeof(int), "frechet keep");          // (D)
    p->mu = lz_malloc((size_t)d * sizeof(double), "frechet mu");           // (D)
    memcpy(p->mu, mu1, (size_t)d * sizeof(double));
    p->dim = d;
    memcpy(p->e, sigma1, dd * sizeof(double));
    int info = sym_eig(p->e, p->sqrt_lam, d, true);
    if (info != 0) {
        frechet_prepared_free(p);
        return lz_fail(err, "frechet distance: dsyevd failed on sigma1 (info %d)", info);
    }
    // A covariance is positive semidefinite; negative eigenvalues are rounding
    // (or a rank-deficient sigma). Clamping them to 0 is the projection onto
    // the PSD cone and replaces pytorch-fid's "add eps*I if sqrtm fails". The
    // rows and columns of M with lambda = 0 are exactly zero and only add
    // zero eigenvalues, so M keeps the positive ones.
    for (int k = 0; k < d; k++) {
        double lam = p->sqrt_lam[k];
        if (lam < 0) {
            if (lam < p->min_eig) p->min_eig = lam;
            p->clamped++;
            lam = 0;
        }
        if (lam > 0) p->keep[p->p++] = k;
        p->sqrt_lam[k] = sqrt(lam);
    }
    return 0;
}

void frechet_prepared_free(FrechetPrepared *p) {
    free(p->e);
    free(p->sqrt_lam);
    free(p->keep);
    free(p->mu);
    memset(p, 0, sizeof *p);
}

int frechet_distance_prepared(double *fd, FrechetTerms *terms, const FrechetPrepared *p, const double *mu2,
                              const double *sigma2, LzError *err) {
    const int d = p->dim, np = p->p;
    size_t dd = (size_t)d * d;
    FrechetTerms t = {0};
    t.trace1 = p->trace1;
    t.clamped = p->clamped;
    t.min_eig = p->min_eig;
    for (int j = 0; j < d; j++) {
        double diff = p->mu[j] - mu2[j];
        t.mean_term += diff * diff;
        t.trace2 += sigma2[(size_t)j * d + j];
    }
    if (!isfinite(t.mean_term) || !isfinite(t.trace1) || !isfinite(t.trace2))
        return lz_fail(err, "frechet distance: non-finite mean or covariance");
    // W = V^T S2 V = e S2 e^T (two dgemms), then M = L^{1/2} W L^{1/2}
    // restricted to the positive eigenvalues of S1.
    double *tmp = lz_malloc(dd * sizeof(double), "frechet tmp");  // (D, D)
    double *wm = lz_malloc(dd * sizeof(double), "frechet W");     // (D, D)
    double *lam = lz_malloc((size_t)d * sizeof(double), "frechet M eigvals");  // (D)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, p->e, d, sigma2, d, 0.0, tmp, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, tmp, d, p->e, d, 0.0, wm, d);
    double *m = tmp;  // reuse: (np, np) packed at the start
    for (int a = 0; a < np; a++) {
        double sa = p->sqrt_lam[p->keep[a]];
        for (int b = 0; b < np; b++) {
            double sb = p->sqrt_lam[p->keep[b]];
            // average W and W^T: the dgemms leave O(eps) asymmetry and dsyevd
            // reads only one triangle
            double wab = 0.5 * (wm[(size_t)p->keep[a] * d + p->keep[b]] + wm[(size_t)p->keep[b] * d + p->keep[a]]);
            m[(size_t)a * np + b] = sa * wab * sb;
        }
    }
    double tr_sqrt = 0;
    int info = 0;
    if (np > 0) {
        info = sym_eig(m, lam, np, false);
        for (int k = 0; k < np && info == 0; k++) {
            double v = lam[k];
            if (v < 0) {
                if (v < t.min_eig) t.min_eig = v;
                t.clamped++;
                v = 0;
            }
            tr_sqrt += sqrt(v);
        }
    }
    free(tmp);
    free(wm);
    free(lam);
    if (info != 0) return lz_fail(err, "frechet distance: dsyevd failed on S1^1/2 S2 S1^1/2 (info %d)", info);
    t.tr_sqrt = tr_sqrt;
    t.fd = t.mean_term + t.trace1 + t.trace2 - 2.0 * tr_sqrt;
    if (!isfinite(t.fd)) return lz_fail(err, "frechet distance: result is not finite");
    if (terms) *terms = t;
    *fd = t.fd;
    return 0;
}

int frechet_distance_raw(double *fd, FrechetTerms *terms, const double *mu1, const double *sigma1, const double *mu2,
                         const double *sigma2, int d, LzError *err) {
    if (d < 1) return lz_fail(err, "frechet distance: dimension %d must be >= 1", d);
    FrechetPrepared p;
    if (frechet_prepare(&p, mu1, sigma1, d, err)) return -1;
    int rc = frechet_distance_prepared(fd, terms, &p, mu2, sigma2, err);
    frechet_prepared_free(&p);
    return rc;
}

int frechet_distance_stats(double *fd, FrechetTerms *terms, const GaussStats *a, const GaussStats *b, LzError *err) {
    if (a->dim != b->dim)
        return lz_fail(err, "frechet distance: feature dimensions differ (%d vs %d)", a->dim, b->dim);
    return frechet_distance_raw(fd, terms, a->mu, a->sigma, b->mu, b->sigma, a->dim, err);
}

int frechet_distance_features(double *fd, const float *x1, long n1, const float *x2, long n2, int d, LzError *err) {
    GaussStats a, b;
    if (gauss_stats_compute(&a, x1, n1, d, err)) return -1;
    if (gauss_stats_compute(&b, x2, n2, d, err)) {
        gauss_stats_free(&a);
        return -1;
    }
    int rc = frechet_distance_stats(fd, NULL, &a, &b, err);
    gauss_stats_free(&a);
    gauss_stats_free(&b);
    return rc;
}
