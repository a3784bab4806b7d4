// test_npy.c: .npy round trips for every dtype and edge shape, compatibility
// with files written by numpy (tests/ref/golden/npy_*.npy, see
// tests/ref/gen_npy_golden.py), every malformed-file error and atomic writes.
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "model/io/npy.h"
#include "tests/file_util.h"
#include "tests/test.h"

#define GOLDEN "tests/ref/golden/"

static const NpyDtype all_dtypes[] = {NPY_F32, NPY_F64, NPY_I64, NPY_I32, NPY_U8};

// Deterministic, dtype-specific values that exercise signs and extremes.
static void fill(NpyDtype d, void *data, long n) {
    for (long i = 0; i < n; i++) {
        switch (d) {
        case NPY_F32: ((float *)data)[i] = (float)(i % 2 ? -1.0 : 1.0) * (float)i * 0.37f + 1e-30f; break;
        case NPY_F64: ((double *)data)[i] = (i % 2 ? -1.0 : 1.0) * (double)i * 1.1e200 + 1e-300; break;
        case NPY_I64: ((int64_t *)data)[i] = (i % 2 ? INT64_MIN : INT64_MAX) + (i % 2 ? i : -i); break;
        case NPY_I32: ((int32_t *)data)[i] = (i % 2 ? INT32_MIN : INT32_MAX) + (int32_t)(i % 2 ? i : -i); break;
        case NPY_U8: ((uint8_t *)data)[i] = (uint8_t)(i * 37 + 255); break;
        }
    }
}

static void test_round_trips(void) {
    static const struct {
        int ndim;
        long shape[NPY_MAX_DIMS];
        const char *label;
    } shapes[] = {
        {0, {0}, "0-d"},          {1, {1}, "(1,)"},         {1, {7}, "(7,)"},
        {2, {2, 3}, "(2,3)"},     {3, {2, 3, 4}, "(2,3,4)"}, {2, {0, 3}, "(0,3) empty"},
        {8, {1, 2, 1, 2, 1, 2, 1, 2}, "8-d"},
    };
    static int64_t data[64];  // up to 64 elements of up to 8 bytes, aligned for every dtype
    for (int di = 0; di < 5; di++) {
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            NpyDtype d = all_dtypes[di];
            long count = 1;
            for (int k = 0; k < shapes[si].ndim; k++) count *= shapes[si].shape[k];
            fill(d, data, count);
            char name[96];
            snprintf(name, sizeof name, "npy_roundtrip_%s_%s", npy_dtype_name(d), shapes[si].label);
            LzError err = {{0}};
            NpyArray a;
            const char *path = test_path("rt.npy");
            if (npy_write(path, d, shapes[si].ndim, shapes[si].shape, data, &err) || npy_read(path, &a, &err)) {
                TEST_CHECK(0, name, "%.400s", err.msg);
                continue;
            }
            int ok = a.dtype == d && a.ndim == shapes[si].ndim && a.count == count &&
                     !memcmp(a.shape, shapes[si].shape, sizeof(long) * (size_t)a.ndim) &&
                     !memcmp(a.data, data, (size_t)count * npy_dtype_size(d));
            TEST_CHECK(ok, name, "dtype %s ndim %d count %ld differ after the round trip", npy_dtype_name(a.dtype),
                       a.ndim, a.count);
            npy_free(&a);
        }
    }
}

static const float golden_f32[6] = {0.5f, -1.25f, 3.0e38f, 1.4e-45f, -0.0f, INFINITY};

static int same_bits(const void *a, const void *b, size_t n) { return !memcmp(a, b, n); }

// Reads the numpy-written files and checks shapes and values bit for bit.
static void test_numpy_golden_read(void) {
    LzError err = {{0}};
    NpyArray a;
    const char *v[] = {GOLDEN "npy_f32_2x3.npy", GOLDEN "npy_v2_f32_2x3.npy", GOLDEN "npy_v3_f32_2x3.npy"};
    const char *names[] = {"npy_golden_v1_f32_2x3", "npy_golden_v2_f32_2x3", "npy_golden_v3_f32_2x3"};
    for (int i = 0; i < 3; i++) {
        int rc = npy_read(v[i], &a, &err);
        TEST_CHECK(!rc && a.dtype == NPY_F32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6 &&
                       same_bits(a.data, golden_f32, sizeof golden_f32),
                   names[i], "%.400s", rc ? err.msg : "wrong shape or values");
        npy_free(&a);
    }

    int rc = npy_read(GOLDEN "npy_f32_1.npy", &a, &err);
    TEST_CHECK(!rc && a.ndim == 1 && a.shape[0] == 1 && ((float *)a.data)[0] == 42.0f, "npy_golden_f32_1", "%.400s",
               rc ? err.msg : "wrong value");
    npy_free(&a);
    rc = npy_read(GOLDEN "npy_f32_0x3.npy", &a, &err);
    TEST_CHECK(!rc && a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.count == 0, "npy_golden_f32_0x3", "%.400s",
               rc ? err.msg : "wrong shape");
    npy_free(&a);
    rc = npy_read(GOLDEN "npy_f64_scalar.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_F64 && a.ndim == 0 && a.count == 1 && ((double *)a.data)[0] == -2.5,
               "npy_golden_f64_scalar", "%.400s", rc ? err.msg : "wrong value");
    npy_free(&a);
    const int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    rc = npy_read(GOLDEN "npy_i64_4.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_I64 && a.count == 4 && same_bits(a.data, i64, sizeof i64), "npy_golden_i64", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    const int32_t i32[4] = {INT32_MIN, -1, 7, INT32_MAX};
    rc = npy_read(GOLDEN "npy_i32_2x2.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_I32 && a.count == 4 && same_bits(a.data, i32, sizeof i32), "npy_golden_i32", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    const uint8_t u8[3] = {0, 128, 255};
    rc = npy_read(GOLDEN "npy_u8_3.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_U8 && a.count == 3 && same_bits(a.data, u8, sizeof u8), "npy_golden_u8", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
}

// Our writer must produce exactly the bytes np.save produced (v1.0 header,
// 64-byte alignment, numpy's growth padding).
static void test_numpy_golden_write(void) {
    static const long s23[2] = {2, 3}, s1[1] = {1}, s03[2] = {0, 3}, s4[1] = {4}, s22[2] = {2, 2}, s3[1] = {3};
    const float f1[1] = {42.0f};
    const double scalar = -2.5, f64[3] = {0.1, -2.0, 1e300};
    const int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    const int32_t i32[4] = {INT32_MIN, -1, 7, INT32_MAX};
    const uint8_t u8[3] = {0, 128, 255};
    const struct {
        const char *golden;
        NpyDtype d;
        int ndim;
        const long *shape;
        const void *data;
    } cases[] = {
        {"npy_f32_2x3.npy", NPY_F32, 2, s23, golden_f32}, {"npy_f32_1.npy", NPY_F32, 1, s1, f1},
        {"npy_f32_0x3.npy", NPY_F32, 2, s03, NULL},       {"npy_f64_scalar.npy", NPY_F64, 0, NULL, &scalar},
        {"npy_f64_3.npy", NPY_F64, 1, s3, f64},           {"npy_i64_4.npy", NPY_I64, 1, s4, i64},
        {"npy_i32_2x2.npy", NPY_I32, 2, s22, i32},        {"npy_u8_3.npy", NPY_U8, 1, s3, u8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char gpath[256], name[96];
        snprintf(gpath, sizeof gpath, GOLDEN "%s", cases[i].golden);
        snprintf(name, sizeof name, "npy_write_matches_numpy_%s", cases[i].golden);
        LzError err = {{0}};
        const char *out = test_path("w.npy");
        if (npy_write(out, cases[i].d, cases[i].ndim, cases[i].shape, cases[i].data, &err)) {
            TEST_CHECK(0, name, "%.400s", err.msg);
            continue;
        }
        size_t na = 0, nb = 0;
        unsigned char *a = file_read_bytes(out, &na), *b = file_read_bytes(gpath, &nb);
        TEST_CHECK(a && b && na == nb && !memcmp(a, b, na), name, "%zu bytes vs numpy's %zu (golden %s readable: %s)",
                   na, nb, gpath, b ? "yes" : "no");
        free(a);
        free(b);
    }
}

static void test_conversions(void) {
    LzError err = {{0}};
    NpyArray a;
    const float want_i64[4] = {(float)INT64_MIN, -1.0f, 0.0f, (float)INT64_MAX};
    int rc = npy_read_f32(GOLDEN "npy_i64_4.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_F32 && same_bits(a.data, want_i64, sizeof want_i64), "npy_f32_from_i64", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    const float want_u8[3] = {0, 128, 255};
    rc = npy_read_f32(GOLDEN "npy_u8_3.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_F32 && same_bits(a.data, want_u8, sizeof want_u8), "npy_f32_from_u8", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    const float want_i32[4] = {(float)INT32_MIN, -1, 7, (float)INT32_MAX};
    rc = npy_read_f32(GOLDEN "npy_i32_2x2.npy", &a, &err);
    TEST_CHECK(!rc && a.ndim == 2 && same_bits(a.data, want_i32, sizeof want_i32), "npy_f32_from_i32", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    rc = npy_read_f32(GOLDEN "npy_f64_scalar.npy", &a, &err);
    TEST_CHECK(!rc && a.ndim == 0 && ((float *)a.data)[0] == -2.5f, "npy_f32_from_f64", "%.400s",
               rc ? err.msg : "wrong value");
    npy_free(&a);
    rc = npy_read_f32(GOLDEN "npy_f64_3.npy", &a, &err);
    TEST_CHECK(rc && strstr(err.msg, "npy_f64_3.npy: element 2") && strstr(err.msg, "overflows float32") && !a.data,
               "npy_f32_from_f64_overflow_is_error", "got rc %d msg '%.400s'", rc, err.msg);

    const int64_t want_small[3] = {0, 128, 255};
    rc = npy_read_i64(GOLDEN "npy_u8_3.npy", &a, &err);
    TEST_CHECK(!rc && a.dtype == NPY_I64 && same_bits(a.data, want_small, sizeof want_small), "npy_i64_from_u8", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    const int64_t want_i32_64[4] = {INT32_MIN, -1, 7, INT32_MAX};
    rc = npy_read_i64(GOLDEN "npy_i32_2x2.npy", &a, &err);
    TEST_CHECK(!rc && same_bits(a.data, want_i32_64, sizeof want_i32_64), "npy_i64_from_i32", "%.400s",
               rc ? err.msg : "wrong values");
    npy_free(&a);
    rc = npy_read_i64(GOLDEN "npy_f32_1.npy", &a, &err);
    TEST_CHECK(!rc && ((int64_t *)a.data)[0] == 42, "npy_i64_from_integral_f32", "%.400s", rc ? err.msg : "wrong value");
    npy_free(&a);
    rc = npy_read_i64(GOLDEN "npy_f64_3.npy", &a, &err);
    TEST_CHECK(rc && strstr(err.msg, "npy_f64_3.npy: element 0") && strstr(err.msg, "not an integer"),
               "npy_i64_from_fractional_f64_is_error", "got rc %d msg '%.400s'", rc, err.msg);
    rc = npy_read_i64(GOLDEN "npy_f32_2x3.npy", &a, &err);  // 0.5 at element 0
    TEST_CHECK(rc && strstr(err.msg, "element 0") && strstr(err.msg, "not an integer"),
               "npy_i64_from_fractional_f32_is_error", "got rc %d msg '%.400s'", rc, err.msg);
    // inf and nan are not integers either
    const float inf[2] = {1.0f, INFINITY};
    const long s2[1] = {2};
    npy_write(test_path("inf.npy"), NPY_F32, 1, s2, inf, &err);
    rc = npy_read_i64(test_path("inf.npy"), &a, &err);
    TEST_CHECK(rc && strstr(err.msg, "element 1"), "npy_i64_from_inf_is_error", "got rc %d msg '%.400s'", rc, err.msg);
}

// ---------------------------------------------------------------------------
// Malformed files

// A .npy file with the given version and header text (padding and newline
// added), followed by nbytes of data.
static void write_raw(const char *path, int major, const char *dict, size_t nbytes) {
    unsigned char buf[1024] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    size_t pre = major == 1 ? 10 : 12, h = strlen(dict);
    memcpy(buf + pre, dict, h);
    buf[pre + h++] = '\n';
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memset(buf + pre + h, 0x3f, nbytes);
    CHECK(file_write_bytes(path, buf, pre + h + nbytes) == 0, "cannot write %s", path);
}

// The read must fail with one line naming the file and containing `what`.
static void expect_fail(const char *name, const char *path, const char *what) {
    LzError err = {{0}};
    NpyArray a;
    int rc = npy_read(path, &a, &err);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    TEST_CHECK(rc != 0 && strstr(err.msg, path) && strstr(err.msg, base) && strstr(err.msg, what) &&
                   !strchr(err.msg, '\n') && a.data == NULL,
               name, "rc %d, message '%.400s' should name %s and say '%s'", rc, err.msg, path, what);
    if (!rc) npy_free(&a);
}

#define D23 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

static void test_malformed(void) {
    // Sanity: the crafting helper makes readable files, so failures below are the intended ones.
    LzError err = {{0}};
    NpyArray a;
    write_raw(test_path("ok.npy"), 1, D23, 24);
    int rc = npy_read(test_path("ok.npy"), &a, &err);
    TEST_CHECK(!rc && a.count == 6, "npy_crafted_valid_file_reads", "%.400s", err.msg);
    npy_free(&a);
    write_raw(test_path("ok2.npy"), 2, "{\"shape\": (2,3,), \"descr\": \"<f4\", \"fortran_order\": False}", 24);
    rc = npy_read(test_path("ok2.npy"), &a, &err);
    TEST_CHECK(!rc && a.count == 6, "npy_crafted_v2_any_key_order_reads", "%.400s", err.msg);
    npy_free(&a);
    // Python 2 era numpy wrote long dims as "3L"; numpy still reads them in v1/v2.
    write_raw(test_path("long.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 24);
    rc = npy_read(test_path("long.npy"), &a, &err);
    TEST_CHECK(!rc && a.count == 6, "npy_python2_long_dims_read", "%.400s", err.msg);
    npy_free(&a);

    file_write_bytes(test_path("empty.npy"), "", 0);
    expect_fail("npy_empty_file", test_path("empty.npy"), "too short");
    file_write_bytes(test_path("short.npy"), "\x93NUMPY\x01", 7);
    expect_fail("npy_truncated_file", test_path("short.npy"), "too short");
    write_raw(test_path("magic.npy"), 1, D23, 24);
    {
        size_t n;
        unsigned char *b = file_read_bytes(test_path("magic.npy"), &n);
        b[1] = 'X';
        file_write_bytes(test_path("magic.npy"), b, n);
        free(b);
    }
    expect_fail("npy_bad_magic", test_path("magic.npy"), "bad magic");
    write_raw(test_path("v4.npy"), 4, D23, 24);
    expect_fail("npy_bad_version", test_path("v4.npy"), "unsupported .npy format version 4.0");
    {  // header length field larger than the file
        unsigned char b[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x7f, '{', '}'};
        file_write_bytes(test_path("lie.npy"), b, 12);
    }
    expect_fail("npy_lying_header_length", test_path("lie.npy"), "header length 32767 exceeds file size 12");
    write_raw(test_path("trunc.npy"), 1, D23, 20);
    expect_fail("npy_truncated_data", test_path("trunc.npy"), "data is truncated: shape (2, 3) float32 needs 24 bytes, file has 20");
    write_raw(test_path("trail.npy"), 1, D23, 28);
    expect_fail("npy_trailing_bytes", test_path("trail.npy"), "4 trailing bytes");
    expect_fail("npy_fortran_order", GOLDEN "npy_bad_fortran.npy", "fortran_order True is not supported");
    expect_fail("npy_big_endian", GOLDEN "npy_bad_bigendian.npy", "big-endian dtype '>f4'");
    expect_fail("npy_unsupported_dtype_f16", GOLDEN "npy_bad_f16.npy", "unsupported dtype '<f2'");
    expect_fail("npy_structured_dtype", GOLDEN "npy_bad_structured.npy", "structured dtypes are not supported");
    write_raw(test_path("obj.npy"), 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16);
    expect_fail("npy_object_dtype", test_path("obj.npy"), "unsupported dtype '|O'");

    write_raw(test_path("nokey.npy"), 1, "{'descr': '<f4', 'fortran_order': False, }", 4);
    expect_fail("npy_missing_shape", test_path("nokey.npy"), "missing key 'shape'");
    write_raw(test_path("extra.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", 4);
    expect_fail("npy_unknown_key", test_path("extra.npy"), "unknown header key 'x'");
    write_raw(test_path("dup.npy"), 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4);
    expect_fail("npy_duplicate_key", test_path("dup.npy"), "duplicate header key 'descr'");
    write_raw(test_path("int.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12);
    expect_fail("npy_shape_not_tuple", test_path("int.npy"), "1-tuple");
    write_raw(test_path("neg.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 0);
    expect_fail("npy_negative_dim", test_path("neg.npy"), "negative dimension");
    write_raw(test_path("fo.npy"), 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (), }", 4);
    expect_fail("npy_fortran_order_not_bool", test_path("fo.npy"), "True or False");
    write_raw(test_path("junk.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), } x", 4);
    expect_fail("npy_junk_after_dict", test_path("junk.npy"), "only padding after the header dict");
    write_raw(test_path("l3.npy"), 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 24);
    expect_fail("npy_v3_rejects_long_dims", test_path("l3.npy"), "malformed header");
    write_raw(test_path("dims9.npy"), 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 1);
    expect_fail("npy_too_many_dims", test_path("dims9.npy"), "more than 8 dimensions");
    write_raw(test_path("huge.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0);
    expect_fail("npy_shape_overflow", test_path("huge.npy"), "too large");
    expect_fail("npy_missing_file", test_path("nope.npy"), "cannot open");
    expect_fail("npy_directory_is_not_a_file", test_dir, "not a regular file");
}

// ---------------------------------------------------------------------------
// Atomic writes: a failure leaves no file at the target and no temporary, and
// never touches an existing target.

static void test_atomic_write(void) {
    const long s[1] = {1000};
    static float big[1000];
    LzError err = {{0}};

    const char *missing = test_path("no_such_dir/x.npy");
    int rc = npy_write(missing, NPY_F32, 1, s, big, &err);
    TEST_CHECK(rc && strstr(err.msg, missing) && strstr(err.msg, "No such file") && !file_exists(missing),
               "npy_write_into_missing_dir_fails_cleanly", "rc %d msg '%.400s'", rc, err.msg);

    // A separate directory so that leftovers are easy to count.
    const char *sub = test_path("atomic");
    CHECK(mkdir(sub, 0777) == 0, "cannot create %s", sub);
    char target[1400];
    snprintf(target, sizeof target, "%s/keep.npy", sub);
    const float old[2] = {1.0f, 2.0f};
    const long s2[1] = {2};
    CHECK(npy_write(target, NPY_F32, 1, s2, old, &err) == 0, "%.400s", err.msg);
    size_t n0;
    unsigned char *before = file_read_bytes(target, &n0);

    // Overwriting works and replaces the content.
    const float newer[2] = {3.0f, 4.0f};
    NpyArray a;
    rc = npy_write(target, NPY_F32, 1, s2, newer, &err) || npy_read(target, &a, &err);
    TEST_CHECK(!rc && ((float *)a.data)[0] == 3.0f && dir_count(sub) == 1, "npy_write_replaces_existing_file", "%.400s",
               err.msg);
    if (!rc) npy_free(&a);
    CHECK(file_write_bytes(target, before, n0) == 0, "cannot restore %s", target);

    // Make the data write itself fail: a 200-byte file size limit (SIGXFSZ
    // ignored so write() reports EFBIG instead of killing us).
    struct rlimit saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    struct rlimit small = saved;
    small.rlim_cur = 200;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &small);
    rc = npy_write(target, NPY_F32, 1, s, big, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    size_t n1 = 0;
    unsigned char *after = file_read_bytes(target, &n1);
    TEST_CHECK(rc && strstr(err.msg, target) && strstr(err.msg, "failed"), "npy_failed_write_reports_error",
               "rc %d msg '%.400s'", rc, err.msg);
    TEST_CHECK(after && n1 == n0 && !memcmp(before, after, n0), "npy_failed_write_keeps_existing_target",
               "target now %zu bytes, was %zu", n1, n0);
    TEST_CHECK(dir_count(sub) == 1, "npy_failed_write_leaves_no_temporary", "%d entries in %s", dir_count(sub), sub);
    free(after);

    // A directory target is refused before any temporary is made.
    char dirtarget[1400];
    snprintf(dirtarget, sizeof dirtarget, "%s/adir.npy", sub);
    CHECK(mkdir(dirtarget, 0777) == 0, "cannot create %s", dirtarget);
    rc = npy_write(dirtarget, NPY_F32, 1, s2, old, &err);
    TEST_CHECK(rc && strstr(err.msg, "refusing to replace") && dir_count(sub) == 2 && dir_count(dirtarget) == 0,
               "npy_failed_rename_leaves_no_temporary", "rc %d msg '%.400s', %d entries", rc, err.msg, dir_count(sub));
    rmdir(dirtarget);

    // Invalid arguments fail before anything is created.
    const long bad[1] = {-1};
    rc = npy_write(target, NPY_F32, 1, bad, old, &err);
    TEST_CHECK(rc && strstr(err.msg, "invalid shape (-1,)"), "npy_write_rejects_negative_dim", "msg '%.400s'", err.msg);
    rc = npy_write(target, NPY_F32, 9, s2, old, &err);
    TEST_CHECK(rc && strstr(err.msg, "ndim 9"), "npy_write_rejects_9_dims", "msg '%.400s'", err.msg);
    rc = npy_write(target, NPY_F32, 1, s2, NULL, &err);
    TEST_CHECK(rc && strstr(err.msg, "data is NULL"), "npy_write_rejects_null_data", "msg '%.400s'", err.msg);
    after = file_read_bytes(target, &n1);
    TEST_CHECK(after && n1 == n0 && !memcmp(before, after, n0) && dir_count(sub) == 1,
               "npy_rejected_write_keeps_target", "target %zu bytes, %d entries", n1, dir_count(sub));
    free(after);
    free(before);
}

int main(void) {
    test_dir_make("test_npy");
    test_round_trips();
    test_numpy_golden_read();
    test_numpy_golden_write();
    test_conversions();
    test_malformed();
    test_atomic_write();
    test_dir_remove();
    return test_finish();
}
