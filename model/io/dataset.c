// dataset.c: loaders, deterministic epoch orders and augmentation (see dataset.h).
#include "model/io/dataset.h"

#include <string.h>
#include <sys/stat.h>

#include "model/io/file_rules.h"
#include "model/io/idx.h"
#include "model/io/image.h"
#include "model/io/npy.h"
#include "model/base/prng.h"

static void set_labels(Dataset *ds, int *labels) {
    ds->labels = labels;
    int mx = -1;
    if (labels)
        for (long i = 0; i < ds->n; i++)
            if (labels[i] > mx) mx = labels[i];
    ds->num_classes = mx + 1;
}

int dataset_load_idx(Dataset *ds, const char *images_path, const char *labels_path, LzError *err) {
    memset(ds, 0, sizeof *ds);
    IdxArray im;
    if (idx_read(images_path, &im, err)) return -1;
    if (im.ndim != 3) {
        idx_free(&im);
        return lz_fail(err, "%s: IDX images must have 3 dimensions (N, H, W), got %d", images_path, im.ndim);
    }
    long n = im.dims[0];
    if (im.dims[1] > 65536 || im.dims[2] > 65536) {
        long h = im.dims[1], w = im.dims[2];
        idx_free(&im);
        return lz_fail(err, "%s: IDX images of %ldx%ld pixels (at most 65536 per side)", images_path, h, w);
    }
    int *labels = NULL;
    if (labels_path) {
        IdxArray lb;
        if (idx_read(labels_path, &lb, err)) {
            idx_free(&im);
            return -1;
        }
        if (lb.ndim != 1 || lb.dims[0] != n) {
            long got = lb.dims[0];
            int nd = lb.ndim;
            idx_free(&im);
            idx_free(&lb);
            return lz_fail(err, "%s: IDX labels must be 1-D with %ld entries to match %s, got %d dims, first %ld",
                           labels_path, n, images_path, nd, got);
        }
        labels = lz_malloc(sizeof(int) * (size_t)n, "dataset labels");
        for (long i = 0; i < n; i++) labels[i] = lb.data[i];
        idx_free(&lb);
    }
    ds->n = n;
    ds->c = 1;
    ds->h = (int)im.dims[1];
    ds->w = (int)im.dims[2];
    ds->images = lz_malloc(sizeof(float) * (size_t)im.count, "dataset images");
    // 0..255 -> [-1, 1]: the same affine map as torchvision ToTensor + Normalize(0.5, 0.5).
    image_from_u8(ds->images, im.data, im.count);
    idx_free(&im);
    set_labels(ds, labels);
    snprintf(ds->source, sizeof ds->source, "%s", images_path);
    return 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

// Finds "<dir>/<prefix>-<kind>-ubyte.gz" or the uncompressed name.
static int find_idx(char *out, size_t cap, const char *dir, const char *prefix, const char *kind, LzError *err) {
    snprintf(out, cap, "%s/%s-%s-ubyte.gz", dir, prefix, kind);
    if (file_exists(out)) return 0;
    snprintf(out, cap, "%s/%s-%s-ubyte", dir, prefix, kind);
    if (file_exists(out)) return 0;
    return lz_fail(err, "%s: no %s-%s-ubyte[.gz] in this directory (expected the MNIST file layout)", dir, prefix, kind);
}

int dataset_load_dir(Dataset *ds, const char *dir, const char *split, LzError *err) {
    memset(ds, 0, sizeof *ds);
    if (!dir) dir = DATASET_FASHION_MNIST_DIR;
    const char *prefix;
    if (!strcmp(split, "train"))
        prefix = "train";
    else if (!strcmp(split, "test") || !strcmp(split, "t10k"))
        prefix = "t10k";
    else
        return lz_fail(err, "%s: unknown split '%s' (expected train or test)", dir, split);
    char ip[1024], lp[1024];
    if (find_idx(ip, sizeof ip, dir, prefix, "images-idx3", err)) return -1;
    if (find_idx(lp, sizeof lp, dir, prefix, "labels-idx1", err)) return -1;
    return dataset_load_idx(ds, ip, lp, err);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int dataset_load_npy(Dataset *ds, const char *images_path, const char *labels_path, LzError *err) {
    memset(ds, 0, sizeof *ds);
    NpyArray im;
    if (npy_read(images_path, &im, err)) return -1;
    if (im.ndim != 3 && im.ndim != 4) {
        int nd = im.ndim;
        npy_free(&im);
        return lz_fail(err, "%s: images must be (N, C, H, W) or (N, H, W), got %d dims", images_path, nd);
    }
    if (im.dtype != NPY_U8 && im.dtype != NPY_F32 && im.dtype != NPY_F64) {
        const char *dn = npy_dtype_name(im.dtype);
        npy_free(&im);
        return lz_fail(err, "%s: images must be uint8 (scaled to [-1, 1]) or float (taken as is), got %s", images_path, dn);
    }
    long n = im.shape[0];
    long cl = im.ndim == 4 ? im.shape[1] : 1, hl = im.shape[im.ndim - 2], wl = im.shape[im.ndim - 1];
    if (n <= 0 || cl <= 0 || hl <= 0 || wl <= 0 || cl > 65536 || hl > 65536 || wl > 65536) {
        npy_free(&im);
        return lz_fail(err, "%s: images have an empty dimension or one larger than 65536", images_path);
    }
    int c = (int)cl, h = (int)hl, w = (int)wl;
    int *labels = NULL;
    if (labels_path) {
        NpyArray lb;
        if (npy_read_i64(labels_path, &lb, err)) {
            npy_free(&im);
            return -1;
        }
        if (lb.ndim != 1 || lb.shape[0] != n) {
            int nd = lb.ndim;
            long first = nd ? lb.shape[0] : 0;
            npy_free(&im);
            npy_free(&lb);
            return lz_fail(err, "%s: labels must be 1-D with %ld entries to match %s, got %d dims, first %ld",
                           labels_path, n, images_path, nd, first);
        }
        labels = lz_malloc(sizeof(int) * (size_t)n, "dataset labels");
        const int64_t *l = lb.data;
        for (long i = 0; i < n; i++) {
            if (l[i] < 0 || l[i] > 1000000) {
                long bad = (long)l[i];
                free(labels);
                npy_free(&im);
                npy_free(&lb);
                return lz_fail(err, "%s: label %ld at index %ld is not a class index in 0..1000000", labels_path, bad, i);
            }
            labels[i] = (int)l[i];
        }
        npy_free(&lb);
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->images = lz_malloc(sizeof(float) * (size_t)im.count, "dataset images");
    if (im.dtype == NPY_U8) {
        image_from_u8(ds->images, im.data, im.count);
    } else if (im.dtype == NPY_F32) {
        memcpy(ds->images, im.data, sizeof(float) * (size_t)im.count);
    } else {
        const double *p = im.data;
        for (long i = 0; i < im.count; i++) ds->images[i] = (float)p[i];
    }
    npy_free(&im);
    // Float images are taken as is, so NaN and infinity (also float64 values
    // beyond float32's range) are refused here rather than poisoning a run.
    if (lz_check_finite(images_path, "image pixel", ds->images, n * c * h * w, err)) {
        free(labels);
        dataset_free(ds);
        return -1;
    }
    set_labels(ds, labels);
    snprintf(ds->source, sizeof ds->source, "%s", images_path);
    return 0;
}

int dataset_load_files(Dataset *ds, const char *images_path, const char *labels_path, LzError *err) {
    if (ends_with(images_path, ".npy")) return dataset_load_npy(ds, images_path, labels_path, err);
    return dataset_load_idx(ds, images_path, labels_path, err);
}

int dataset_load_spec(Dataset *ds, const char *spec, const char *split, LzError *err) {
    if (!strcmp(spec, "train") || !strcmp(spec, "test")) return dataset_load_dir(ds, NULL, spec, err);
    return dataset_load_dir(ds, spec, split, err);
}

void dataset_free(Dataset *ds) {
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

uint64_t dataset_stream_seed(uint64_t seed, uint64_t stream, uint64_t index) {
    // Each word is folded into a splitmix64 state and scrambled before the next
    // one, so nearby (seed, stream, index) triples give unrelated outputs.
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ stream;
    h = splitmix64(&x);
    x = h ^ index;
    return splitmix64(&x);
}

void dataset_epoch_order(long *order, long n, uint64_t seed, long epoch) {
    Prng g;
    prng_seed(&g, dataset_stream_seed(seed, 1, (uint64_t)epoch));
    for (long i = 0; i < n; i++) order[i] = i;
    // Fisher-Yates from the top: every permutation equally likely.
    for (long i = n - 1; i > 0; i--) {
        long j = (long)prng_below(&g, (uint64_t)i + 1);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void dataset_gather(const Dataset *ds, const long *order, int b, float *dst, int *labels_dst) {
    size_t per = (size_t)ds->c * ds->h * ds->w;
    for (int i = 0; i < b; i++) {
        memcpy(dst + per * i, ds->images + per * order[i], sizeof(float) * per);
        if (labels_dst && ds->labels) labels_dst[i] = ds->labels[order[i]];
    }
}

void dataset_augment(float *x, int b, int c, int h, int w, int max_shift, int hflip, uint64_t seed, float *scratch) {
    Prng g;
    prng_seed(&g, seed);
    size_t per = (size_t)c * h * w;
    for (int i = 0; i < b; i++) {
        // Draw all three numbers for every image, used or not, so that the
        // stream (and thus every later image) does not depend on the options.
        int dy = (int)prng_below(&g, 2 * (uint64_t)max_shift + 1) - max_shift;
        int dx = (int)prng_below(&g, 2 * (uint64_t)max_shift + 1) - max_shift;
        int flip = hflip && (prng_next(&g) >> 63);
        if (dy == 0 && dx == 0 && !flip) continue;
        float *img = x + per * i;
        memcpy(scratch, img, sizeof(float) * per);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    int sy = y - dy;
                    int sx0 = xx - dx;
                    int sx = flip ? w - 1 - sx0 : sx0;
                    float v = -1.0f;  // background of images in [-1, 1]
                    if (sy >= 0 && sy < h && sx0 >= 0 && sx0 < w) v = scratch[((size_t)ch * h + sy) * w + sx];
                    img[((size_t)ch * h + y) * w + xx] = v;
                }
    }
}
