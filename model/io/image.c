// image.c: pixel conversions and the PNG writer (libpng) of image.h.
#include "model/io/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/io/atomic_file.h"

void image_from_u8(float *out, const unsigned char *in, long n) {
    for (long i = 0; i < n; i++) out[i] = image_pixel_from_u8(in[i]);
}

void image_quantize_u8(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = image_pixel_from_u8(image_u8_from_pixel(x[i]));
}

// ---------------------------------------------------------------------------
// PNG through libpng. libpng reports errors by longjmp to the error handler's
// jmp_buf; the calls sit in their own function so that nothing a caller holds
// lives across setjmp.

typedef struct {
    jmp_buf jmp;
    char msg[200];
} PngErr;

static void png_on_error(png_structp png, png_const_charp msg) {
    PngErr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}
static void png_on_write(png_structp png, png_bytep data, size_t n) { atomic_write(png_get_io_ptr(png), data, n); }
static void png_on_flush(png_structp png) { (void)png; }

int image_write_png(const char *path, const unsigned char *pixels, int w, int h, int channels, LzError *err) {
    if (channels != 1 && channels != 3)
        return lz_fail(err, "%s: PNG images have 1 (grey) or 3 (RGB) channels, not %d", path, channels);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    PngErr pe;
    pe.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        atomic_abort(&af);
        return lz_fail(err, "%s: cannot initialise libpng", path);
    }
    if (setjmp(pe.jmp)) {
        png_destroy_write_struct(&png, &info);
        atomic_abort(&af);
        return lz_fail(err, "%s: libpng: %s", path, pe.msg);
    }
    png_set_write_fn(png, &af, png_on_write, png_on_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * w * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return atomic_commit(&af, err);
}

int image_write_grid(const char *path, const float *x, long N, int C, int H, int W, int cols, LzError *err) {
    const int pad = 2;
    if (N < 1 || cols < 1) return lz_fail(err, "%s: a grid needs at least one image and one column", path);
    if (C != 1 && C != 3) return lz_fail(err, "%s: a PNG grid needs 1 (grey) or 3 (RGB) channels, not %d", path, C);
    if (cols > N) cols = (int)N;
    long rows = (N + cols - 1) / cols;
    long gw = (long)cols * (W + pad) + pad, gh = rows * (H + pad) + pad;
    if (gw > 1000000 || gh > 1000000) return lz_fail(err, "%s: grid %ldx%ld pixels is too large", path, gw, gh);
    unsigned char *pix = lz_calloc((size_t)(gw * gh * C), 1, "PNG grid");  // (gh, gw, C), black
    for (long n = 0; n < N; n++) {
        long ox = pad + (n % cols) * (W + pad), oy = pad + (n / cols) * (H + pad);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    pix[((oy + i) * gw + ox + j) * C + c] = image_u8_from_pixel(x[((n * C + c) * H + i) * W + j]);
    }
    int rc = image_write_png(path, pix, (int)gw, (int)gh, C, err);
    free(pix);
    return rc;
}
