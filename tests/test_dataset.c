// test_dataset.c: IDX reader (plain and gzip, every validation error), the
// dataset loaders (IDX, MNIST-layout directories, .npy), the real
// Fashion-MNIST files, deterministic epoch orders and augmentation.
#include <string.h>
#include <zlib.h>

#include "model/io/dataset.h"
#include "model/io/idx.h"
#include "model/io/npy.h"
#include "tests/file_util.h"
#include "tests/test.h"

// Builds an IDX byte image: header (dtype, dims) + data.
static size_t make_idx(unsigned char *buf, int dtype, int ndim, const unsigned *dims, const unsigned char *data, size_t n) {
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = (unsigned char)dtype;
    buf[k++] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++) {
        buf[k++] = (unsigned char)(dims[d] >> 24);
        buf[k++] = (unsigned char)(dims[d] >> 16);
        buf[k++] = (unsigned char)(dims[d] >> 8);
        buf[k++] = (unsigned char)dims[d];
    }
    if (n) memcpy(buf + k, data, n);  // data may be NULL when n == 0
    return k + n;
}

static int write_gz(const char *path, const void *data, size_t n) {
    gzFile f = gzopen(path, "wb");
    if (!f) return -1;
    int w = gzwrite(f, data, (unsigned)n);
    return gzclose(f) == Z_OK && (size_t)w == n ? 0 : -1;
}

// Expects idx_read(path) to fail with a message containing both the path and `what`.
static void expect_idx_error(const char *name, const char *path, const char *what) {
    IdxArray a;
    LzError err = {{0}};
    int rc = idx_read(path, &a, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, path) && strstr(err.msg, what) && !strchr(err.msg, '\n'), name,
               "rc %d, message '%.300s' (want the path and '%s')", rc, err.msg, what);
    if (rc == 0) idx_free(&a);
}

static unsigned char pix[5 * 4 * 3];
static const unsigned img_dims[3] = {5, 4, 3};
static unsigned char lab[5] = {3, 0, 9, 1, 3};
static const unsigned lab_dims[1] = {5};

static void test_idx(void) {
    unsigned char buf[512];
    for (int i = 0; i < 60; i++) pix[i] = (unsigned char)(i * 4 + 3);
    pix[0] = 0;
    pix[1] = 255;
    size_t n = make_idx(buf, 0x08, 3, img_dims, pix, sizeof pix);
    file_write_bytes(test_path("raw-images-idx3-ubyte"), buf, n);
    write_gz(test_path("gz-images-idx3-ubyte.gz"), buf, n);
    const char *paths[2] = {test_path("raw-images-idx3-ubyte"), test_path("gz-images-idx3-ubyte.gz")};
    for (int k = 0; k < 2; k++) {
        IdxArray a;
        LzError err = {{0}};
        int rc = idx_read(paths[k], &a, &err);
        int ok = rc == 0 && a.ndim == 3 && a.dims[0] == 5 && a.dims[1] == 4 && a.dims[2] == 3 && a.count == 60 &&
                 a.gzipped == k && !memcmp(a.data, pix, 60);
        TEST_CHECK(ok, k ? "idx: gzip file reads back" : "idx: plain file reads back", "rc %d %.300s", rc, err.msg);
        if (rc == 0) idx_free(&a);
    }
    // truncated data, trailing bytes, both encodings
    file_write_bytes(test_path("trunc"), buf, n - 1);
    expect_idx_error("idx: truncated plain file", test_path("trunc"), "truncated");
    write_gz(test_path("trunc.gz"), buf, n - 1);
    expect_idx_error("idx: truncated data inside gzip", test_path("trunc.gz"), "truncated");
    buf[n] = 7;
    file_write_bytes(test_path("trail"), buf, n + 1);
    expect_idx_error("idx: trailing byte", test_path("trail"), "1 trailing bytes");
    write_gz(test_path("trail.gz"), buf, n + 1);
    expect_idx_error("idx: trailing byte inside gzip", test_path("trail.gz"), "trailing");
    // a gzip stream cut in the middle (corrupt compressed file)
    size_t gn = 0;
    unsigned char *gz = file_read_bytes(test_path("gz-images-idx3-ubyte.gz"), &gn);
    file_write_bytes(test_path("cut.gz"), gz, gn / 2);
    free(gz);
    expect_idx_error("idx: gzip stream cut short", test_path("cut.gz"), "gzip IDX file");
    // header problems
    unsigned char bad[64];
    size_t bn = make_idx(bad, 0x08, 3, img_dims, pix, 0);
    bad[0] = 1;
    file_write_bytes(test_path("magic"), bad, bn);
    expect_idx_error("idx: bad magic", test_path("magic"), "magic");
    bn = make_idx(bad, 0x0D, 1, lab_dims, lab, 5);
    file_write_bytes(test_path("dtype"), bad, bn);
    expect_idx_error("idx: float dtype unsupported", test_path("dtype"), "dtype 0x0d");
    bn = make_idx(bad, 0x08, 0, NULL, NULL, 0);
    file_write_bytes(test_path("ndim0"), bad, bn);
    expect_idx_error("idx: zero dimensions", test_path("ndim0"), "dimension count 0");
    const unsigned zd[2] = {3, 0};
    bn = make_idx(bad, 0x08, 2, zd, NULL, 0);
    file_write_bytes(test_path("zerodim"), bad, bn);
    expect_idx_error("idx: a zero-sized dimension", test_path("zerodim"), "dimension 1 is zero");
    file_write_bytes(test_path("short"), bad, 3);
    expect_idx_error("idx: shorter than the magic", test_path("short"), "too short");
    bn = make_idx(bad, 0x08, 3, img_dims, pix, 0);
    file_write_bytes(test_path("dimcut"), bad, 10);
    expect_idx_error("idx: cut inside the dimensions", test_path("dimcut"), "dimension sizes");
    expect_idx_error("idx: missing file", test_path("nope"), "cannot open");
}

static void test_dataset_idx(void) {
    unsigned char buf[512];
    // an MNIST-layout directory: train as gzip, t10k plain
    size_t n = make_idx(buf, 0x08, 3, img_dims, pix, sizeof pix);
    write_gz(test_path("train-images-idx3-ubyte.gz"), buf, n);
    file_write_bytes(test_path("t10k-images-idx3-ubyte"), buf, n);
    n = make_idx(buf, 0x08, 1, lab_dims, lab, 5);
    write_gz(test_path("train-labels-idx1-ubyte.gz"), buf, n);
    file_write_bytes(test_path("t10k-labels-idx1-ubyte"), buf, n);
    const char *splits[2] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        Dataset d;
        LzError err = {{0}};
        int rc = dataset_load_dir(&d, test_dir, splits[k], &err);
        int ok = rc == 0 && d.n == 5 && d.c == 1 && d.h == 4 && d.w == 3 && d.num_classes == 10 && d.labels[2] == 9 &&
                 d.images[0] == -1.0f && d.images[1] == 1.0f && fabsf(d.images[7] - (float)(pix[7] / 127.5 - 1)) == 0;
        TEST_CHECK(ok, k ? "dataset: MNIST-layout dir, test split (plain)" : "dataset: MNIST-layout dir, train split (gzip)",
                   "rc %d %.300s", rc, err.msg);
        if (rc == 0) dataset_free(&d);
    }
    Dataset d;
    LzError err = {{0}};
    int rc = dataset_load_dir(&d, test_dir, "valid", &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "unknown split 'valid'"), "dataset: unknown split rejected", "%s", err.msg);
    rc = dataset_load_dir(&d, "/nonexistent/dir", "train", &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "/nonexistent/dir") && strstr(err.msg, "train-images-idx3"),
               "dataset: missing files named", "%s", err.msg);
    // label count mismatch
    const unsigned four[1] = {4};
    n = make_idx(buf, 0x08, 1, four, lab, 4);
    file_write_bytes(test_path("l4"), buf, n);
    rc = dataset_load_idx(&d, test_path("t10k-images-idx3-ubyte"), test_path("l4"), &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "l4") && strstr(err.msg, "5 entries"), "dataset: label count mismatch",
               "%s", err.msg);
}

static void test_dataset_npy(void) {
    LzError err = {{0}};
    long s4[4] = {5, 1, 4, 3}, s3[3] = {5, 4, 3}, s1[1] = {5};
    npy_write(test_path("u8.npy"), NPY_U8, 4, s4, pix, &err);
    float f[60];
    for (int i = 0; i < 60; i++) f[i] = 0.01f * i - 0.3f;
    npy_write(test_path("f32.npy"), NPY_F32, 3, s3, f, &err);
    int64_t l64[5] = {1, 2, 3, 4, 0};
    npy_write(test_path("lab.npy"), NPY_I64, 1, s1, l64, &err);
    Dataset d;
    int rc = dataset_load_files(&d, test_path("u8.npy"), test_path("lab.npy"), &err);
    TEST_CHECK(rc == 0 && d.n == 5 && d.c == 1 && d.h == 4 && d.w == 3 && d.images[1] == 1.0f && d.images[0] == -1.0f &&
                   d.labels[3] == 4 && d.num_classes == 5,
               "dataset: uint8 .npy scaled to [-1, 1] with labels", "rc %d %.300s", rc, err.msg);
    if (rc == 0) dataset_free(&d);
    rc = dataset_load_files(&d, test_path("f32.npy"), NULL, &err);
    TEST_CHECK(rc == 0 && d.n == 5 && d.c == 1 && !memcmp(d.images, f, sizeof f) && !d.labels && d.num_classes == 0,
               "dataset: float (N, H, W) .npy taken as is, no labels", "rc %d %.300s", rc, err.msg);
    if (rc == 0) dataset_free(&d);
    long s2[1] = {4};
    npy_write(test_path("lab4.npy"), NPY_I64, 1, s2, l64, &err);
    rc = dataset_load_npy(&d, test_path("u8.npy"), test_path("lab4.npy"), &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "lab4.npy") && strstr(err.msg, "5 entries"), "dataset: .npy label count mismatch",
               "%s", err.msg);
    long sbad[2] = {5, 12};
    npy_write(test_path("flat.npy"), NPY_F32, 2, sbad, f, &err);
    rc = dataset_load_npy(&d, test_path("flat.npy"), NULL, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "flat.npy") && strstr(err.msg, "(N, C, H, W)"), "dataset: 2-D images rejected",
               "%s", err.msg);
    int64_t neg[5] = {1, -2, 3, 4, 0};
    npy_write(test_path("neg.npy"), NPY_I64, 1, s1, neg, &err);
    rc = dataset_load_npy(&d, test_path("u8.npy"), test_path("neg.npy"), &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "neg.npy") && strstr(err.msg, "index 1"), "dataset: negative label rejected",
               "%s", err.msg);
}

static void test_fashion_mnist(void) {
    Dataset d;
    LzError err = {{0}};
    int rc = dataset_load_spec(&d, "test", NULL, &err);
    TEST_CHECK(rc == 0, "fashion-mnist: test split loads from " DATASET_FASHION_MNIST_DIR, "%s", err.msg);
    if (rc) return;
    double sum = 0;
    long per_class[10] = {0};
    for (long i = 0; i < d.n * 784; i++) sum += (double)lround(((double)d.images[i] + 1.0) * 127.5);
    for (long i = 0; i < d.n; i++) per_class[d.labels[i]]++;
    int balanced = 1;
    for (int k = 0; k < 10; k++) balanced &= per_class[k] == 1000;
    // reference values from Python's gzip + numpy on the same files
    TEST_CHECK(d.n == 10000 && d.h == 28 && d.w == 28 && d.num_classes == 10 && balanced && d.labels[0] == 9 &&
                   d.labels[4] == 6 && fabs(sum - 573469082.0) < 1.0,
               "fashion-mnist: test split shape, labels and pixel sum", "n %ld sum %.1f", d.n, sum);
    dataset_free(&d);
}

static void test_order_and_augment(void) {
    enum { N = 1000 };
    static long a[N], b[N], c[N];
    dataset_epoch_order(a, N, 42, 3);
    int seen[N] = {0}, perm = 1;
    for (int i = 0; i < N; i++) {
        if (a[i] < 0 || a[i] >= N || seen[a[i]]) perm = 0;
        else seen[a[i]] = 1;
    }
    TEST_CHECK(perm, "epoch order is a permutation", "not a permutation");
    dataset_epoch_order(b, N, 42, 0);
    dataset_epoch_order(c, N, 42, 3);
    TEST_CHECK(!memcmp(a, c, sizeof a), "epoch order is a pure function of (seed, epoch)", "differs on a second call");
    TEST_CHECK(memcmp(a, b, sizeof a) != 0, "different epochs give different orders", "epochs 0 and 3 equal");
    dataset_epoch_order(b, N, 43, 3);
    TEST_CHECK(memcmp(a, b, sizeof a) != 0, "different seeds give different orders", "seeds 42 and 43 equal");
    // the first element of epoch e spread over positions: crude uniformity check
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += a[i] == i;
    TEST_CHECK(fixed < 10, "epoch order moves almost every element", "%d fixed points", fixed);

    // augmentation: one bright pixel moves by at most max_shift, background stays -1
    enum { H = 9, W = 7, B = 64 };
    static float x[B * H * W], x2[B * H * W], scratch[H * W];
    for (int i = 0; i < B * H * W; i++) x[i] = -1.0f;
    for (int k = 0; k < B; k++) x[k * H * W + 4 * W + 3] = 1.0f;
    memcpy(x2, x, sizeof x);
    dataset_augment(x, B, 1, H, W, 2, 0, 99, scratch);
    int ok = 1, moved = 0, hist[5][5] = {{0}};
    for (int k = 0; k < B; k++) {
        int ones = 0, py = -1, px = -1;
        for (int i = 0; i < H * W; i++) {
            float v = x[k * H * W + i];
            if (v == 1.0f) {
                ones++;
                py = i / W;
                px = i % W;
            } else if (v != -1.0f)
                ok = 0;
        }
        ok &= ones == 1 && abs(py - 4) <= 2 && abs(px - 3) <= 2;
        if (ones == 1) {
            moved += py != 4 || px != 3;
            hist[py - 4 + 2][px - 3 + 2]++;
        }
    }
    TEST_CHECK(ok && moved > B / 2, "augment: shifts within +-2 px, background -1", "ok %d moved %d", ok, moved);
    dataset_augment(x2, B, 1, H, W, 2, 0, 99, scratch);
    TEST_CHECK(!memcmp(x, x2, sizeof x), "augment: deterministic for a seed", "two runs differ");
    // flip: a pixel at column 0 of an unshifted image goes to column W-1
    float one[H * W];
    for (int i = 0; i < H * W; i++) one[i] = -1.0f;
    one[2 * W] = 1.0f;
    int flipped = 0;
    for (uint64_t s = 0; s < 16 && !flipped; s++) {
        float t[H * W];
        memcpy(t, one, sizeof t);
        dataset_augment(t, 1, 1, H, W, 0, 1, s, scratch);
        flipped = t[2 * W + W - 1] == 1.0f && t[2 * W] == -1.0f;
    }
    TEST_CHECK(flipped, "augment: hflip mirrors columns", "no flip in 16 seeds");
}

int main(void) {
    test_dir_make("dataset");
    test_idx();
    test_dataset_idx();
    test_dataset_npy();
    test_fashion_mnist();
    test_order_and_augment();
    test_dir_remove();
    return test_finish();
}
