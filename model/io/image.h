// image.h: the one place where float pixels meet 8-bit pixels, and image files.
//
// The DiT, the datasets and the feature classifier work on float pixels in
// [-1, 1]; datasets on disk, PNG files and the ADM evaluator's sample batches
// hold 8-bit values. The two maps, used everywhere (dataset loaders, lazydit
// eval, the PNG grid):
//   8-bit -> float   v = x / 127.5 - 1, computed in double and rounded once to
//                    float (torchvision ToTensor + Normalize(0.5, 0.5))
//   float -> 8-bit   x = floor((v + 1) * 127.5 + 0.5) in float, clamped to
//                    [0, 255] (NaN -> 0): round half up, what torchvision's
//                    save_image(normalize=True, value_range=(-1, 1)) writes and
//                    what the DiT sampling script's clamp(127.5 v + 128, 0, 255)
//                    .to(uint8) computes
// For every 8-bit x, float -> 8-bit of (8-bit -> float of x) is x again, so a
// dataset image survives image_quantize_u8 unchanged (tested).
#pragma once
#include "model/base/check.h"

static inline float image_pixel_from_u8(unsigned char x) { return (float)(x / 127.5 - 1.0); }

static inline unsigned char image_u8_from_pixel(float v) {
    float f = (v + 1.0f) * 127.5f + 0.5f;
    f = f >= 0 ? (f <= 255 ? f : 255) : 0;  // also maps NaN to 0
    return (unsigned char)f;
}

// out (n) = image_pixel_from_u8(in (n)).
void image_from_u8(float *out, const unsigned char *in, long n);

// In place, x (n): clamp to [-1, 1] and round to the 256 levels of an 8-bit
// image, v -> image_pixel_from_u8(image_u8_from_pixel(v)). This is the form in
// which the ADM evaluator reads samples (uint8 arrays); lazydit eval scores
// samples this way by default. Non-finite values map to -1: callers that must
// reject them check first.
void image_quantize_u8(float *x, long n);

// Writes an 8-bit PNG, grey (channels 1) or RGB (channels 3), width w, height
// h, rows of w * channels bytes, atomically (model/io/atomic_file.h).
int image_write_png(const char *path, const unsigned char *pixels, int w, int h, int channels, LzError *err);

// A grid of N images x (N, C, H, W) in [-1, 1], C = 1 or 3, `cols` per row,
// with a 2-pixel black border around and between images (torchvision
// make_grid's padding), pixels through image_u8_from_pixel. Grids beyond
// 1,000,000 pixels a side are an error.
int image_write_grid(const char *path, const float *x, long N, int C, int H, int W, int cols, LzError *err);
