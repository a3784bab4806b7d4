// fidelity.h: paired fidelity of a cached/lazy sample to the full-compute
// sample from the same noise (PSNR, SSIM; docs/metrics.md).
//
// Images are (C, H, W) float, any value range; data_range is max - min of
// that range (2 for images in [-1, 1], 1 for [0, 1], 255 for bytes).
//
// PSNR = 10 log10(data_range^2 / MSE) per pair; +INFINITY for identical pairs.
//
// SSIM (Wang et al. 2004) with the reference settings (Wang's ssim.m,
// skimage structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False)): an 11 x 11 Gaussian window, sigma 1.5,
// normalised to sum 1; K1 = 0.01, K2 = 0.03, C1 = (K1 L)^2, C2 = (K2 L)^2;
// local statistics are weighted means, the variances biased (no N/(N-1)).
// Borders: 'valid' - the SSIM map covers only the (H-10) x (W-10) positions
// where the whole window lies inside the image (Wang's filter2(..., 'valid');
// skimage computes a padded map and then crops the same 5-pixel border, so
// the mean is the same). Images smaller than 11 x 11 are an error. The score
// of an image is the mean of its map, averaged over channels.
#pragma once
#include "model/base/check.h"

#define SSIM_WIN 11
#define SSIM_SIGMA 1.5
#define SSIM_K1 0.01
#define SSIM_K2 0.03

typedef struct {
    double psnr_mean;  // mean of per-pair PSNR (+INFINITY if any pair is identical)
    double mse_mean;   // mean per-pair MSE (finite even when pairs are identical)
    double ssim_mean;  // mean of per-pair SSIM
    long pairs;
    long identical;    // pairs with MSE == 0
} FidelityResult;

// PSNR of x against y, n values each. data_range > 0.
double psnr(const float *x, const float *y, long n, double data_range);

// SSIM of one (c, h, w) pair.
int ssim_image(double *out, const float *x, const float *y, int c, int h, int w, double data_range, LzError *err);

// Both metrics for a batch x, y (b, c, h, w); psnr_each and ssim_each (b)
// may be NULL.
int fidelity_batch(FidelityResult *out, double *psnr_each, double *ssim_each, const float *x, const float *y, long b,
                   int c, int h, int w, double data_range, LzError *err);
