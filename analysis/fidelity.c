// fidelity.c: PSNR and SSIM. See fidelity.h for the exact definitions.
#include "analysis/fidelity.h"

#include <math.h>

double psnr(const float *x, const float *y, long n, double data_range) {
    double se = 0;
    for (long i = 0; i < n; i++) {
        double diff = (double)x[i] - (double)y[i];
        se += diff * diff;
    }
    double mse = se / (double)n;
    if (mse == 0) return INFINITY;
    return 10.0 * log10(data_range * data_range / mse);
}

static void gaussian_window(double *g) {
    double s = 0;
    for (int i = 0; i < SSIM_WIN; i++) {
        double t = i - SSIM_WIN / 2;
        g[i] = exp(-t * t / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
        s += g[i];
    }
    for (int i = 0; i < SSIM_WIN; i++) g[i] /= s;
}

// SSIM of one channel plane (h, w). ws holds 5 * h * (w - 10) doubles: the
// horizontally filtered x, y, x^2, y^2, xy; the separable Gaussian is applied
// along rows first, then down the columns, both 'valid'.
static double ssim_plane(const float *x, const float *y, int h, int w, double c1, double c2, const double *g,
                         double *ws) {
    int wv = w - (SSIM_WIN - 1), hv = h - (SSIM_WIN - 1);
    size_t plane = (size_t)h * wv;
    double *fx = ws, *fy = ws + plane, *fxx = ws + 2 * plane, *fyy = ws + 3 * plane, *fxy = ws + 4 * plane;
    for (int r = 0; r < h; r++) {
        const float *xr = x + (size_t)r * w, *yr = y + (size_t)r * w;
        for (int c = 0; c < wv; c++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int t = 0; t < SSIM_WIN; t++) {
                double a = xr[c + t], b = yr[c + t], gt = g[t];
                sx += gt * a;
                sy += gt * b;
                sxx += gt * a * a;
                syy += gt * b * b;
                sxy += gt * a * b;
            }
            size_t o = (size_t)r * wv + c;
            fx[o] = sx;
            fy[o] = sy;
            fxx[o] = sxx;
            fyy[o] = syy;
            fxy[o] = sxy;
        }
    }
    double total = 0;
    for (int r = 0; r < hv; r++)
        for (int c = 0; c < wv; c++) {
            double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
            for (int t = 0; t < SSIM_WIN; t++) {
                size_t o = (size_t)(r + t) * wv + c;
                double gt = g[t];
                mx += gt * fx[o];
                my += gt * fy[o];
                exx += gt * fxx[o];
                eyy += gt * fyy[o];
                exy += gt * fxy[o];
            }
            double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
            total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    return total / ((double)hv * wv);
}

static int check_dims(int c, int h, int w, double data_range, LzError *err) {
    if (c < 1) return lz_fail(err, "ssim: %d channels, need at least 1", c);
    if (h < SSIM_WIN || w < SSIM_WIN)
        return lz_fail(err, "ssim: image %dx%d is smaller than the %dx%d window", h, w, SSIM_WIN, SSIM_WIN);
    if (!(data_range > 0) || !isfinite(data_range)) return lz_fail(err, "ssim: data range %g must be > 0", data_range);
    return 0;
}

int ssim_image(double *out, const float *x, const float *y, int c, int h, int w, double data_range, LzError *err) {
    FidelityResult r;
    double s;
    if (fidelity_batch(&r, NULL, &s, x, y, 1, c, h, w, data_range, err)) return -1;
    *out = s;
    return 0;
}

int fidelity_batch(FidelityResult *out, double *psnr_each, double *ssim_each, const float *x, const float *y, long b,
                   int c, int h, int w, double data_range, LzError *err) {
    if (check_dims(c, h, w, data_range, err)) return -1;
    if (b < 1) return lz_fail(err, "fidelity: empty batch");
    size_t img = (size_t)c * h * w;
    for (size_t i = 0; i < (size_t)b * img; i++)
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return lz_fail(err, "fidelity: image %zu has a non-finite value at offset %zu", i / img, i % img);
    double g[SSIM_WIN];
    gaussian_window(g);
    double c1 = (SSIM_K1 * data_range) * (SSIM_K1 * data_range);
    double c2 = (SSIM_K2 * data_range) * (SSIM_K2 * data_range);
    double *ws = lz_malloc(5 * (size_t)h * (w - (SSIM_WIN - 1)) * sizeof(double), "ssim workspace");
    FidelityResult r = {0};
    r.pairs = b;
    for (long i = 0; i < b; i++) {
        const float *xi = x + (size_t)i * img, *yi = y + (size_t)i * img;
        double se = 0;
        for (size_t e = 0; e < img; e++) {
            double diff = (double)xi[e] - (double)yi[e];
            se += diff * diff;
        }
        double mse = se / (double)img;
        double p = mse == 0 ? INFINITY : 10.0 * log10(data_range * data_range / mse);
        if (mse == 0) r.identical++;
        double s = 0;
        for (int ch = 0; ch < c; ch++)
            s += ssim_plane(xi + (size_t)ch * h * w, yi + (size_t)ch * h * w, h, w, c1, c2, g, ws);
        s /= c;
        if (psnr_each) psnr_each[i] = p;
        if (ssim_each) ssim_each[i] = s;
        r.mse_mean += mse;
        r.psnr_mean += p;
        r.ssim_mean += s;
    }
    free(ws);
    r.mse_mean /= (double)b;
    r.psnr_mean /= (double)b;
    r.ssim_mean /= (double)b;
    *out = r;
    return 0;
}
