// bench/metrics: every feature metric on 10,000 x 10,000 random samples at
// D = 128 (FID-proxy-like) and D = 512 (sFID-proxy-like), plus IS on a
// (10000, 10) probability matrix and PSNR/SSIM on 10,000 28x28 image pairs.
// Validates before timing (FD(X, X) ~ 0, precision/recall(X, X) = 1, KID
// against a direct double loop on a small slice, SSIM(x, x) = 1), then prints
// seconds per metric, the total, OpenBLAS's thread count and core, and the
// in-process sgemm peak (the machine is shared: read times against it).
// Target: the core metrics (FD + KID + P/R) at D = 128 well under 30 s on
// 2 cores.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/fidelity.h"
#include "analysis/frechet.h"
#include "analysis/inception_score.h"
#include "analysis/kid.h"
#include "analysis/prdc.h"
#include "bench/bench_common.h"
#include "model/base/prng.h"

static double now(void) { return lz_now_seconds(); }

// x (n, d): correlated Gaussian rows, x = shift + z A^T with a fixed random
// A = I + 0.1 G, so covariances are full rank but not diagonal.
static float *features(long n, int d, double shift, uint64_t seed) {
    Prng g;
    prng_seed(&g, 1234);
    float *a = malloc(sizeof(float) * d * d);
    for (int i = 0; i < d * d; i++) a[i] = (float)(0.1 * prng_normal(&g) / sqrt(d) * 4 + (i % (d + 1) == 0));
    prng_seed(&g, seed);
    float *z = malloc(sizeof(float) * n * d), *x = malloc(sizeof(float) * n * d);
    for (long i = 0; i < n * d; i++) z[i] = (float)prng_normal(&g);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, d, d, 1.0f, z, d, a, d, 0.0f, x, d);
    for (long i = 0; i < n * d; i++) x[i] += (float)shift;
    free(a);
    free(z);
    return x;
}

static double kid_direct(const float *x, const float *y, int m, int d) {
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double a = 0, b = 0, c = 0;
            for (int t = 0; t < d; t++) {
                a += (double)x[i * d + t] * x[j * d + t];
                b += (double)y[i * d + t] * y[j * d + t];
                c += (double)x[i * d + t] * y[j * d + t];
            }
            a = pow(a / d + 1, 3), b = pow(b / d + 1, 3), c = pow(c / d + 1, 3);
            if (i != j) sxx += a, syy += b;
            sxy += c;
        }
    return (sxx + syy) / ((double)m * (m - 1)) - 2 * sxy / ((double)m * m);
}

static void bench_features(long n, int d, int boot) {
    LzError err = {{0}};
    float *x = features(n, d, 0.0, 1), *y = features(n, d, 0.05, 2);

    // validation
    double fd;
    FrechetTerms t;
    GaussStats sx;
    REQUIRE(!gauss_stats_compute(&sx, x, n, d, &err) && !frechet_distance_stats(&fd, &t, &sx, &sx, &err), "%s", err.msg);
    REQUIRE(fabs(fd) < 1e-8 * (t.trace1 + t.trace2), "FD(X,X) = %g, traces %g", fd, t.trace1 + t.trace2);
    printf("validated D = %d: |FD(X,X)| / (tr S1 + tr S2) = %.2g, P/R(X,X) = 1, KID = direct loop\n", d,
           fabs(fd) / (t.trace1 + t.trace2));
    gauss_stats_free(&sx);
    PrecisionRecall pr;
    REQUIRE(!precision_recall(&pr, x, 2000, x, 2000, d, 3, &err), "%s", err.msg);
    REQUIRE(pr.precision == 1 && pr.recall == 1, "P/R(X,X) = %g, %g", pr.precision, pr.recall);
    double mmd;
    REQUIRE(!kid_mmd2_unbiased(&mmd, x, 300, y, 300, d, &err), "%s", err.msg);
    double want = kid_direct(x, y, 300, d);
    REQUIRE(fabs(mmd - want) <= 1e-9 * fabs(want) + 1e-12, "KID %g vs direct %g", mmd, want);

    printf("features %ld x %ld, D = %d\n", n, n, d);
    double t0 = now(), total = 0;
    REQUIRE(!frechet_distance_features(&fd, x, n, y, n, d, &err), "%s", err.msg);
    double tf = now() - t0;
    total += tf;
    printf("  fd                  %8.3f s   fd = %.6g\n", tf, fd);

    t0 = now();
    KidConfig kc = kid_default_config();
    KidResult kr;
    REQUIRE(!kid_compute(&kr, x, n, y, n, d, &kc, &err), "%s", err.msg);
    double tk = now() - t0;
    total += tk;
    printf("  kid (100 x 1000)    %8.3f s   kid = %.4g +- %.2g\n", tk, kr.mean, kr.std);

    t0 = now();
    REQUIRE(!precision_recall(&pr, x, n, y, n, d, 3, &err), "%s", err.msg);
    double tp = now() - t0;
    total += tp;
    printf("  precision/recall    %8.3f s   P = %.4f R = %.4f density %.3f coverage %.3f\n", tp, pr.precision,
           pr.recall, pr.density, pr.coverage);
    printf("  total (fd+kid+p/r)  %8.3f s\n", total);

    if (boot > 0) {
        BootstrapConfig bc = bootstrap_default_config(boot, 7);
        BootstrapCI cf, ck;
        t0 = now();
        REQUIRE(!bootstrap_fd(&cf, x, n, y, n, d, &bc, &err), "%s", err.msg);
        double tbf = now() - t0;
        t0 = now();
        REQUIRE(!bootstrap_kid(&ck, x, n, y, n, d, &bc, &err), "%s", err.msg);
        double tbk = now() - t0;
        printf("  bootstrap fd  B=%-3d %8.3f s   [%.4g, %.4g]\n", boot, tbf, cf.lo, cf.hi);
        printf("  bootstrap kid B=%-3d %8.3f s   [%.4g, %.4g] (full-set %.4g)\n", boot, tbk, ck.lo, ck.hi, ck.point);
    }
    free(x);
    free(y);
}

static void bench_probs_images(void) {
    LzError err = {{0}};
    enum { N = 10000, K = 10, H = 28, W = 28 };
    Prng g;
    prng_seed(&g, 5);
    float *p = malloc(sizeof(float) * N * K);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int c = 0; c < K; c++) s += p[i * K + c] = (float)exp(3 * prng_normal(&g));
        for (int c = 0; c < K; c++) p[i * K + c] = (float)(p[i * K + c] / s);
    }
    double m, sd;
    double t0 = now();
    REQUIRE(!inception_score(&m, &sd, p, N, K, IS_DEFAULT_SPLITS, &err), "%s", err.msg);
    printf("inception score %d x %d   %8.3f s   IS = %.4f +- %.3f\n", N, K, now() - t0, m, sd);
    free(p);

    float *x = malloc(sizeof(float) * N * H * W), *y = malloc(sizeof(float) * N * H * W);
    for (long i = 0; i < (long)N * H * W; i++) {
        x[i] = (float)(2 * prng_uniform(&g) - 1);
        y[i] = x[i] + (float)(0.1 * prng_normal(&g));
    }
    double s1;
    REQUIRE(!ssim_image(&s1, x, x, 1, H, W, 2.0, &err) && fabs(s1 - 1) < 1e-12, "SSIM(x,x) = %g", s1);
    FidelityResult fr;
    t0 = now();
    REQUIRE(!fidelity_batch(&fr, NULL, NULL, x, y, N, 1, H, W, 2.0, &err), "%s", err.msg);
    printf("psnr+ssim %d x 1x%dx%d  %8.3f s   PSNR = %.3f dB SSIM = %.4f\n", N, H, W, now() - t0, fr.psnr_mean,
           fr.ssim_mean);
    free(x);
    free(y);
}

int main(int argc, char **argv) {
    // bench/metrics [boot]: bootstrap resamples for the CI timing at D = 128
    // (default 100; 0 skips it)
    int boot = argc > 1 ? atoi(argv[1]) : 100;
    bench_print_env("metrics");
    printf("# sgemm peak now: %.1f GFLOP/s (1024^3, best of 5)\n", bench_sgemm_peak(1024, 5));
    double t0 = now();
    bench_features(10000, 128, boot);
    bench_features(10000, 512, 0);  // bootstrap at D = 512 costs ~2 N D^2 B for FD alone: run it at D = 128 only
    bench_probs_images();
    printf("bench total %.3f s\n", now() - t0);
    return 0;
}
