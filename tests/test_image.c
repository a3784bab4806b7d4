// test_image.c: the pixel maps of model/io/image.h (8-bit <-> [-1, 1], the
// 8-bit quantisation lazydit eval applies) against independent double
// formulas, and the PNG grid writer's layout read back byte for byte.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/base/prng.h"
#include "model/io/image.h"
#include "tests/file_util.h"
#include "tests/test.h"

static void test_round_trip(void) {
    int bad = -1;
    for (int x = 0; x < 256 && bad < 0; x++) {
        float v = image_pixel_from_u8((unsigned char)x);
        float q = v;
        image_quantize_u8(&q, 1);
        if (image_u8_from_pixel(v) != x || q != v || (double)v != (double)(float)(x / 127.5 - 1.0)) bad = x;
    }
    TEST_CHECK(bad < 0, "every 8-bit value survives 8-bit -> [-1, 1] -> 8-bit, and quantising a dataset pixel is exact",
               "first failure at %d", bad);
    float ends[4] = {-1.0f, 1.0f, 0.0f, 127.5f / 127.5f - 1.0f};
    unsigned char want[4] = {0, 255, 128, 128};  // 0 -> 127.5 + 0.5 = 128 (round half up)
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= image_u8_from_pixel(ends[i]) == want[i];
    TEST_CHECK(ok, "-1 -> 0, 1 -> 255, 0 -> 128 (round half up, like clamp(127.5 v + 128).to(uint8))", "%d %d %d",
               image_u8_from_pixel(-1.0f), image_u8_from_pixel(1.0f), image_u8_from_pixel(0.0f));
}

// Against round-half-up of (v + 1) * 127.5 in double, clamped, away from the
// half-way points where float and double rounding may legitimately differ.
static void test_quantize_random(void) {
    Prng g;
    prng_seed(&g, 7);
    enum { N = 100000 };
    float *x = malloc(sizeof(float) * N), *q = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = (float)(prng_uniform(&g) * 3.0 - 1.5);  // a third outside [-1, 1]
    memcpy(q, x, sizeof(float) * N);
    image_quantize_u8(q, N);
    long bad = -1, checked = 0;
    for (int i = 0; i < N && bad < 0; i++) {
        double s = ((double)x[i] + 1.0) * 127.5;
        if (fabs(s - floor(s) - 0.5) < 1e-3) continue;
        double r = floor(s + 0.5);
        r = r < 0 ? 0 : r > 255 ? 255 : r;
        checked++;
        if (q[i] != (float)(r / 127.5 - 1.0)) bad = i;
    }
    TEST_CHECK(bad < 0 && checked > 90000,
               "quantise = clamp to [-1, 1] and round (v + 1) * 127.5 half up, on 100k values in [-1.5, 1.5]",
               "value %.9g -> %.9g (checked %ld)", bad >= 0 ? x[bad] : 0.0, bad >= 0 ? q[bad] : 0.0, checked);
    float odd[3] = {NAN, INFINITY, -INFINITY};
    image_quantize_u8(odd, 3);
    TEST_CHECK(odd[0] == -1.0f && odd[1] == 1.0f && odd[2] == -1.0f, "NaN and -inf quantise to -1, +inf to 1",
               "%g %g %g", odd[0], odd[1], odd[2]);
    free(x);
    free(q);
}

static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

// PNG row filters for 1 byte per pixel (PNG spec section 9): undoes them in
// place, leaving each row's filter byte as is.
static void unfilter(unsigned char *raw, int rows, int w, int *ok) {
    for (int y = 0; y < rows; y++) {
        unsigned char *r = raw + y * (w + 1) + 1, *up = y ? raw + (y - 1) * (w + 1) + 1 : NULL;
        int f = r[-1];
        if (f > 4) *ok = 0;
        for (int x = 0; x < w; x++) {
            int a = x ? r[x - 1] : 0, b = up ? up[x] : 0, c = x && up ? up[x - 1] : 0, pred = 0;
            if (f == 1) pred = a;
            else if (f == 2) pred = b;
            else if (f == 3) pred = (a + b) / 2;
            else if (f == 4) {
                int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            r[x] = (unsigned char)(r[x] + pred);
        }
    }
}

// A 3-image grey grid, 2 per row, of 2x3 images: 2 * (3 + 2) + 2 = 12 wide,
// 2 * (2 + 2) + 2 = 10 high; decoded from the PNG's IDAT (zlib, filter bytes).
static void test_grid(void) {
    enum { N = 3, C = 1, H = 2, W = 3 };
    float x[N * C * H * W];
    for (int i = 0; i < N * H * W; i++) x[i] = -1.0f + 2.0f * (float)i / (N * H * W - 1);
    const char *path = test_path("grid.png");
    LzError err = {{0}};
    int rc = image_write_grid(path, x, N, C, H, W, 2, &err);
    TEST_CHECK(rc == 0, "image_write_grid writes a grey grid", "%s", err.msg);
    if (rc) return;
    size_t size = 0;
    unsigned char *png = file_read_bytes(path, &size);
    TEST_CHECK(png && size > 33 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8) && be32(png + 16) == 12 && be32(png + 20) == 10 &&
                   png[24] == 8 && png[25] == 0,
               "grid PNG: signature, 12x10, 8-bit grey", "size %zu", size);
    // concatenate the IDAT chunks and inflate: 10 rows of (filter byte + 12 pixels)
    unsigned char idat[4096], raw[10 * 13];
    size_t ni = 0;
    for (size_t o = 8; png && o + 12 <= size;) {
        unsigned len = be32(png + o);
        if (!memcmp(png + o + 4, "IDAT", 4) && ni + len <= sizeof idat) memcpy(idat + ni, png + o + 8, len), ni += len;
        o += 12 + len;
    }
    uLongf rawlen = sizeof raw;
    int zrc = uncompress(raw, &rawlen, idat, (uLong)ni);
    int ok = zrc == Z_OK && rawlen == sizeof raw;
    unfilter(raw, 10, 12, &ok);
    for (int y = 0; ok && y < 10; y++) {
        for (int xx = 0; ok && xx < 12; xx++) {
            int want = 0;  // border and the empty fourth cell are black
            int cx = (xx - 2) / 5, cy = (y - 2) / 4, ix = (xx - 2) % 5, iy = (y - 2) % 4;
            int n = cy * 2 + cx;
            if (xx >= 2 && y >= 2 && ix < W && iy < H && n < N) want = image_u8_from_pixel(x[(n * H + iy) * W + ix]);
            ok &= raw[y * 13 + 1 + xx] == want;
        }
    }
    TEST_CHECK(ok, "grid pixels: 2-pixel black border, images in row-major cells, values through image_u8_from_pixel",
               "zlib %d, %lu bytes", zrc, (unsigned long)rawlen);
    free(png);
    err.msg[0] = 0;
    TEST_CHECK(image_write_grid(path, x, N, 4, H, W, 2, &err) != 0 && strstr(err.msg, "1 (grey) or 3 (RGB)"),
               "a 4-channel grid is an error naming the channel rule", "%s", err.msg);
}

int main(void) {
    test_dir_make("image");
    test_round_trip();
    test_quantize_random();
    test_grid();
    test_dir_remove();
    return test_finish();
}
