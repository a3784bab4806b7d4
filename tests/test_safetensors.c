// test_safetensors.c: round trips, the exact header the writer emits, exhaustive
// F16/BF16 conversion against an independent formula, every malformed-header
// error (each must name the file and the problem) and atomic writes.
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "model/io/safetensors.h"
#include "tests/file_util.h"
#include "tests/test.h"

// Writes a safetensors file from a header text and raw data bytes.
static void write_st(const char *path, const char *json, const void *data, size_t ndata) {
    size_t n = strlen(json);
    unsigned char *buf = malloc(8 + n + ndata + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    if (ndata) memcpy(buf + 8 + n, data, ndata);
    CHECK(file_write_bytes(path, buf, 8 + n + ndata) == 0, "cannot write %s", path);
    free(buf);
}

// st_read must fail with one line that names the file and contains `what`.
static void expect_fail(const char *name, const char *path, const char *what) {
    LzError err = {{0}};
    StFile f;
    int rc = st_read(path, &f, &err);
    TEST_CHECK(rc != 0 && !strncmp(err.msg, path, strlen(path)) && err.msg[strlen(path)] == ':' &&
                   strstr(err.msg, what) && !strchr(err.msg, '\n') && f.ntensors == 0 && f.tensors == NULL,
               name, "rc %d, message '%.400s' should start with the path and say '%s'", rc, err.msg, what);
    if (!rc) st_free(&f);
}

// Records a check that an operation succeeded, with its error message otherwise.
static int expect_ok(int rc, const char *name, const LzError *err) { return test_check(rc == 0, name, err->msg); }

// A json header with zero-filled data of the size the offsets need.
static void expect_fail_json(const char *name, const char *json, size_t ndata, const char *what) {
    static unsigned char zeros[256];
    CHECK(ndata <= sizeof zeros, "test data too large");
    const char *path = test_path("bad.safetensors");
    write_st(path, json, zeros, ndata);
    expect_fail(name, path, what);
}

static void test_round_trip(void) {
    static const long s1[1] = {1}, s7[1] = {7}, s23[2] = {2, 3}, s2345[4] = {2, 3, 4, 5}, s03[2] = {0, 3},
                      s8d[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    static float data[7][120];
    for (int t = 0; t < 7; t++)
        for (int i = 0; i < 120; i++) data[t][i] = (float)(t * 1000 + i) * (i % 2 ? -0.123f : 0.77f);
    data[3][0] = NAN;
    data[3][1] = -INFINITY;
    data[3][2] = -0.0f;
    data[3][3] = 1e-45f;
    // Names given out of order, with a JSON-special character and UTF-8.
    StWriteTensor in[] = {
        {"scalar", 0, NULL, data[0]},         {"one", 1, s1, data[1]},      {"blocks.0.q\"uote\\d", 1, s7, data[2]},
        {"\xc3\xb1" "a", 2, s23, data[3]},    {"four_d", 4, s2345, data[4]}, {"empty", 2, s03, NULL},
        {"eight_d", 8, s8d, data[6]},
    };
    const int n = (int)(sizeof in / sizeof in[0]);
    const char *keys[] = {"source", "note"}, *values[] = {"DiT-XL-2-256x256.pt", "tab\there \"q\" \xe2\x82\xac"};
    const char *path = test_path("rt.safetensors");
    LzError err = {{0}};
    StFile f;
    int rc = st_write(path, in, n, keys, values, 2, &err) || st_read(path, &f, &err);
    if (!expect_ok(rc, "st_round_trip_reads_back", &err)) return;
    TEST_CHECK(f.ntensors == n, "st_round_trip_count", "%d tensors, want %d", f.ntensors, n);
    for (int i = 0; i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "st_round_trip_tensor_%d", i);
        const StTensor *t = st_find(&f, in[i].name);
        long count = 1;
        for (int d = 0; d < in[i].ndim; d++) count *= in[i].shape[d];
        int ok = t && !strcmp(t->dtype, "F32") && t->ndim == in[i].ndim && t->count == count &&
                 (in[i].ndim == 0 || !memcmp(t->shape, in[i].shape, sizeof(long) * (size_t)in[i].ndim)) &&
                 (count == 0 || !memcmp(t->data, in[i].data, sizeof(float) * (size_t)count));
        TEST_CHECK(ok, name, "tensor '%s' %s", in[i].name, t ? "differs" : "not found");
    }
    int sorted = 1;
    for (int i = 1; i < f.ntensors; i++) sorted &= strcmp(f.tensors[i - 1].name, f.tensors[i].name) < 0;
    TEST_CHECK(sorted, "st_read_tensors_sorted_by_name", "tensors are not in name order");
    TEST_CHECK(st_find(&f, "missing") == NULL && st_find(&f, "") == NULL, "st_find_missing_is_null", "found a ghost");
    TEST_CHECK(f.nmeta == 2 && st_meta(&f, "source") && !strcmp(st_meta(&f, "source"), values[0]) &&
                   st_meta(&f, "note") && !strcmp(st_meta(&f, "note"), values[1]) && !st_meta(&f, "nope"),
               "st_round_trip_metadata", "nmeta %d", f.nmeta);
    st_free(&f);

    // No tensors, no metadata: "{}" padded, empty data section.
    rc = st_write(path, NULL, 0, NULL, NULL, 0, &err) || st_read(path, &f, &err);
    TEST_CHECK(!rc && f.ntensors == 0 && f.nmeta == 0, "st_round_trip_empty_file", "%.400s", err.msg);
    if (!rc) st_free(&f);
}

// The exact bytes: metadata first, tensors sorted by name with consecutive
// offsets, compact JSON, spaces up to a multiple of 8.
static void test_writer_format(void) {
    const long sb[1] = {2}, sa[2] = {1, 1};
    const float db[2] = {1.0f, 2.0f}, da[1] = {3.0f};
    StWriteTensor in[] = {{"b", 1, sb, db}, {"a", 2, sa, da}};
    const char *k[] = {"num_heads"}, *v[] = {"6"};  // 143 header bytes: 1 byte of padding
    const char *path = test_path("fmt.safetensors");
    LzError err = {{0}};
    int rc = st_write(path, in, 2, k, v, 1, &err);
    size_t n = 0;
    unsigned char *b = file_read_bytes(path, &n);
    const char *want = "{\"__metadata__\":{\"num_heads\":\"6\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    size_t wl = strlen(want), padded = (wl + 7) / 8 * 8;
    uint64_t hlen = 0;
    for (int i = 7; b && n >= 8 && i >= 0; i--) hlen = hlen << 8 | b[i];
    int ok = !rc && b && n == 8 + padded + 12 && hlen == padded && !memcmp(b + 8, want, wl);
    for (size_t i = wl; ok && i < padded; i++) ok = b[8 + i] == ' ';
    ok = ok && !memcmp(b + 8 + padded, da, 4) && !memcmp(b + 8 + padded + 4, db, 8);
    TEST_CHECK(ok, "st_writer_exact_bytes", "rc %d, %zu bytes, header length %llu (want %zu)", rc, n,
               (unsigned long long)hlen, padded);
    free(b);
}

// Independent references: the value from the bit fields by arithmetic.
static double ref_f16(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return h >> 15 ? -v : v;
}

static double ref_bf16(uint16_t h) {
    int e = (h >> 7) & 255, m = h & 127;
    double v = e == 255 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return h >> 15 ? -v : v;
}

static void test_half_conversions(void) {
    static unsigned char bytes[2 * 65536 * 2];  // every F16 pattern, then every BF16 pattern
    for (int i = 0; i < 65536; i++) {
        bytes[2 * i] = bytes[131072 + 2 * i] = (unsigned char)(i & 0xff);
        bytes[2 * i + 1] = bytes[131072 + 2 * i + 1] = (unsigned char)(i >> 8);
    }
    const char *path = test_path("half.safetensors");
    write_st(path,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]},"
             "\"bf\":{\"data_offsets\":[131072,262144],\"shape\":[256,256],\"dtype\":\"BF16\"}}",
             bytes, sizeof bytes);
    LzError err = {{0}};
    StFile f;
    if (!expect_ok(st_read(path, &f, &err), "st_half_file_reads", &err)) return;
    const StTensor *h = st_find(&f, "h"), *bf = st_find(&f, "bf");
    TEST_CHECK(h && bf && !strcmp(h->dtype, "F16") && !strcmp(bf->dtype, "BF16") && bf->ndim == 2 &&
                   bf->count == 65536,
               "st_half_tensors_present", "missing or wrong dtype/shape");
    if (!h || !bf) return;
    for (int which = 0; which < 2; which++) {
        const StTensor *t = which ? bf : h;
        int bad = -1;
        for (int i = 0; i < 65536 && bad < 0; i++) {
            double want = which ? ref_bf16((uint16_t)i) : ref_f16((uint16_t)i);
            float got = t->data[i];
            int ok = isnan(want) ? isnan(got) && !!signbit(got) == !!(i >> 15)
                                 : got == (float)want && !!signbit(got) == !!signbit(want);
            if (!ok) bad = i;
        }
        TEST_CHECK(bad < 0, which ? "st_bf16_all_65536_patterns" : "st_f16_all_65536_patterns",
                   "pattern 0x%04x -> %.9g, want %.9g", bad, bad >= 0 ? (double)t->data[bad] : 0.0,
                   bad >= 0 ? (which ? ref_bf16((uint16_t)bad) : ref_f16((uint16_t)bad)) : 0.0);
    }
    // A few landmarks in case the reference formula and the code share a mistake.
    TEST_CHECK(h->data[0x3c00] == 1.0f && h->data[0xc000] == -2.0f && h->data[0x7bff] == 65504.0f &&
                   h->data[0x0001] == 0x1p-24f && h->data[0x03ff] == 1023 * 0x1p-24f && h->data[0x0400] == 0x1p-14f &&
                   isinf(h->data[0xfc00]) && h->data[0xfc00] < 0 && isnan(h->data[0x7e00]) && isnan(h->data[0x7c01]) &&
                   signbit(h->data[0x8000]) && h->data[0x8000] == 0,
               "st_f16_landmarks", "one of 1, -2, 65504, subnormals, -inf, nan, -0 is wrong");
    TEST_CHECK(bf->data[0x3f80] == 1.0f && bf->data[0xc040] == -3.0f && bf->data[0x0001] == 0x1p-133f &&
                   isinf(bf->data[0x7f80]) && isnan(bf->data[0x7fc0]),
               "st_bf16_landmarks", "one of 1, -3, subnormal, inf, nan is wrong");
    st_free(&f);

    // Mixed dtypes at unaligned offsets.
    unsigned char mixed[6 + 8];
    const uint16_t hv[3] = {0x3c00, 0x4000, 0xbc00};  // 1, 2, -1
    for (int i = 0; i < 3; i++) mixed[2 * i] = (unsigned char)hv[i], mixed[2 * i + 1] = (unsigned char)(hv[i] >> 8);
    const float fv[2] = {0.25f, -8.0f};
    memcpy(mixed + 6, fv, 8);
    write_st(path,
             "{\"x\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
             "\"y\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[6,14]}}",
             mixed, sizeof mixed);
    int rc = st_read(path, &f, &err);
    const StTensor *x = rc ? NULL : st_find(&f, "x"), *y = rc ? NULL : st_find(&f, "y");
    TEST_CHECK(x && y && x->data[0] == 1 && x->data[1] == 2 && x->data[2] == -1 && y->data[0] == 0.25f &&
                   y->data[1] == -8.0f,
               "st_mixed_dtypes_unaligned", "%.400s", rc ? err.msg : "wrong values");
    if (!rc) st_free(&f);
}

#define T1(name, dtype, shape, b, e) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static void test_malformed(void) {
    const char *path = test_path("bad.safetensors");
    // Sanity: the crafting helper makes readable files, with padding after the JSON.
    expect_fail_json("st_sanity_bad_json_fails", "{", 0, "not valid JSON");
    {
        LzError err = {{0}};
        StFile f;
        write_st(path, "{" T1("a", "F32", "[2]", "0", "8") "}   ", "\0\0\0\0\0\0\0\0", 8);
        if (!expect_ok(st_read(path, &f, &err), "st_crafted_valid_file_reads", &err)) return;
        st_free(&f);
    }

    file_write_bytes(path, "\x10\0\0", 3);
    expect_fail("st_file_shorter_than_8_bytes", path, "file is 3 bytes, too short for the 8-byte header length");
    {
        unsigned char b[12] = {0x9f, 0x86, 0x01, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};  // claims 99999
        file_write_bytes(path, b, sizeof b);
    }
    expect_fail("st_lying_header_length", path, "header length 99999 exceeds file size 12");
    {  // a sparse file just big enough for a header length over the 100 MB limit
        unsigned char b[8] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0};  // 100000001
        int fd = open(path, O_WRONLY | O_TRUNC);
        int ok = fd >= 0 && write(fd, b, 8) == 8 && ftruncate(fd, 100000100) == 0;
        if (fd >= 0) close(fd);
        if (ok) expect_fail("st_header_over_100MB", path, "header length 100000001 exceeds the 100000000-byte limit");
    }
    expect_fail_json("st_bad_json", "{\"a\": {\"dtype\": \"F32\",", 0, "not valid JSON");
    expect_fail_json("st_garbage_after_json", "{} x", 0, "not valid JSON");
    expect_fail_json("st_root_not_object", "[1, 2]", 0, "header is not a JSON object");
    {
        const char nul[] = "{}\0 x";  // a NUL would hide what follows from cJSON
        unsigned char b[8 + 5] = {5};
        memcpy(b + 8, nul, 5);
        file_write_bytes(path, b, sizeof b);
    }
    expect_fail("st_nul_in_header", path, "NUL byte");
    expect_fail_json("st_invalid_utf8", "{\"\xc3\x28\":{}}", 0, "not valid UTF-8");
    expect_fail_json("st_overlong_utf8", "{\"\xc0\xaf\":{}}", 0, "not valid UTF-8");

    expect_fail_json("st_entry_not_object", "{\"a\":[1]}", 0, "entry for tensor a is not a JSON object");
    expect_fail_json("st_missing_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor a has no 'dtype'");
    expect_fail_json("st_missing_offsets", "{\"a\":{\"shape\":[1],\"dtype\":\"F32\"}}", 4,
                     "tensor a has no 'data_offsets'");
    expect_fail_json("st_unknown_entry_key",
                     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"offset\":0}}", 4,
                     "unknown key 'offset' in tensor a");
    expect_fail_json("st_duplicate_entry_key",
                     "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                     "duplicate key 'dtype' in tensor a");
    expect_fail_json("st_dtype_not_string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                     "dtype of tensor a is not a string");
    expect_fail_json("st_unsupported_dtype_f64", "{" T1("w.x", "F64", "[1]", "0", "8") "}", 8,
                     "unsupported dtype F64 for tensor w.x");
    expect_fail_json("st_unsupported_dtype_i64", "{" T1("steps", "I64", "[1]", "0", "8") "}", 8,
                     "unsupported dtype I64 for tensor steps");
    expect_fail_json("st_unknown_dtype", "{" T1("a", "Q4", "[1]", "0", "1") "}", 1, "unsupported dtype Q4 for tensor a");
    expect_fail_json("st_shape_not_array", "{" T1("a", "F32", "2", "0", "8") "}", 8, "shape of tensor a is not an array");
    expect_fail_json("st_negative_dim", "{" T1("a", "F32", "[-2]", "0", "8") "}", 8, "not a non-negative integer");
    expect_fail_json("st_fractional_dim", "{" T1("a", "F32", "[1.5]", "0", "8") "}", 8, "not a non-negative integer");
    expect_fail_json("st_string_dim", "{" T1("a", "F32", "[\"2\"]", "0", "8") "}", 8, "not a non-negative integer");
    expect_fail_json("st_too_many_dims", "{" T1("a", "F32", "[1,1,1,1,1,1,1,1,1]", "0", "4") "}", 4,
                     "tensor a has 9 dims (max 8)");
    expect_fail_json("st_offsets_wrong_arity", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
                     8, "data_offsets of tensor a is not [begin, end]");
    expect_fail_json("st_offsets_negative", "{" T1("a", "F32", "[1]", "-4", "0") "}", 0,
                     "data_offsets of tensor a is not [begin, end]");
    expect_fail_json("st_offsets_reversed", "{" T1("a", "F32", "[0]", "4", "0") "}", 4, "end before they begin");
    expect_fail_json("st_offsets_out_of_range", "{" T1("a", "F32", "[4]", "0", "16") "}", 8,
                     "data_offsets [0, 16] of tensor a exceed the data section of 8 bytes");
    expect_fail_json("st_truncated_data", "{" T1("a", "F32", "[2]", "0", "8") "," T1("b", "F32", "[2]", "8", "16") "}",
                     12, "data_offsets [8, 16] of tensor b exceed the data section of 12 bytes");
    expect_fail_json("st_shape_offsets_mismatch", "{" T1("a", "F32", "[2,3]", "0", "20") "}", 20,
                     "tensor a: shape [2, 3] F32 needs 24 bytes but data_offsets [0, 20] span 20");
    expect_fail_json("st_shape_offsets_mismatch_f16", "{" T1("a", "F16", "[3]", "0", "8") "}", 8,
                     "shape [3] F16 needs 6 bytes");
    expect_fail_json("st_overlap",
                     "{" T1("a", "F32", "[2]", "0", "8") "," T1("b", "F32", "[2]", "4", "12") "}", 12,
                     "tensors a [0, 8] and b [4, 12] overlap");
    expect_fail_json("st_overlap_identical",
                     "{" T1("a", "F32", "[2]", "0", "8") "," T1("b", "F32", "[2]", "0", "8") "}", 8, "overlap");
    expect_fail_json("st_gap_between_tensors",
                     "{" T1("a", "F32", "[1]", "0", "4") "," T1("b", "F32", "[1]", "8", "12") "}", 12,
                     "gap of 4 bytes before tensor b at offset 8");
    expect_fail_json("st_gap_at_start", "{" T1("a", "F32", "[1]", "4", "8") "}", 8,
                     "gap of 4 bytes before tensor a at offset 4");
    expect_fail_json("st_uncovered_tail", "{" T1("a", "F32", "[1]", "0", "4") "}", 8,
                     "4 bytes at the end of the data section belong to no tensor");
    expect_fail_json("st_data_without_tensors", "{}", 4, "4 bytes at the end");
    expect_fail_json("st_duplicate_name",
                     "{" T1("a", "F32", "[1]", "0", "4") "," T1("a", "F32", "[1]", "4", "8") "}", 8,
                     "duplicate tensor name a");
    expect_fail_json("st_metadata_not_object", "{\"__metadata__\":[\"x\"]}", 0, "__metadata__ is not a JSON object");
    expect_fail_json("st_metadata_value_not_string", "{\"__metadata__\":{\"heads\":16}}", 0,
                     "__metadata__ value of 'heads' is not a string");
    expect_fail_json("st_metadata_duplicate_key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
                     "duplicate __metadata__ key 'k'");
    expect_fail_json("st_metadata_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate __metadata__");
    {
        char json[512], name[300];
        memset(name, 'n', 299);
        name[299] = 0;
        snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", name);
        expect_fail_json("st_name_too_long", json, 4, "is longer than 255 bytes");
    }
    expect_fail("st_missing_file", test_path("nope.safetensors"), "cannot open");
    expect_fail("st_directory_is_not_a_file", test_dir, "not a regular file");
}

static void test_atomic_write(void) {
    static float big[1000];
    const long s[1] = {1000}, s2[1] = {2};
    const float small[2] = {1, 2};
    LzError err = {{0}};
    StWriteTensor t_big = {"w", 1, s, big}, t_small = {"w", 1, s2, small};

    const char *missing = test_path("no_such_dir/x.safetensors");
    int rc = st_write(missing, &t_small, 1, NULL, NULL, 0, &err);
    TEST_CHECK(rc && strstr(err.msg, missing) && strstr(err.msg, "No such file") && !file_exists(missing),
               "st_write_into_missing_dir_fails_cleanly", "rc %d msg '%.400s'", rc, err.msg);

    const char *sub = test_path("atomic");
    CHECK(mkdir(sub, 0777) == 0, "cannot create %s", sub);
    char target[1400];
    snprintf(target, sizeof target, "%s/keep.safetensors", sub);
    CHECK(st_write(target, &t_small, 1, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = file_read_bytes(target, &n0);

    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 300;  // the header fits, the data does not
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = st_write(target, &t_big, 1, NULL, NULL, 0, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    unsigned char *after = file_read_bytes(target, &n1);
    TEST_CHECK(rc && strstr(err.msg, target) && strstr(err.msg, "failed"), "st_failed_write_reports_error",
               "rc %d msg '%.400s'", rc, err.msg);
    TEST_CHECK(after && n1 == n0 && !memcmp(before, after, n0), "st_failed_write_keeps_existing_target",
               "target now %zu bytes, was %zu", n1, n0);
    TEST_CHECK(dir_count(sub) == 1, "st_failed_write_leaves_no_temporary", "%d entries in %s", dir_count(sub), sub);
    free(after);

    char dirtarget[1400];
    snprintf(dirtarget, sizeof dirtarget, "%s/adir.safetensors", sub);
    CHECK(mkdir(dirtarget, 0777) == 0, "cannot create %s", dirtarget);
    rc = st_write(dirtarget, &t_small, 1, NULL, NULL, 0, &err);
    TEST_CHECK(rc && strstr(err.msg, "refusing to replace") && dir_count(sub) == 2, "st_failed_rename_leaves_no_temporary",
               "rc %d msg '%.400s', %d entries", rc, err.msg, dir_count(sub));
    rmdir(dirtarget);

    // Rejected inputs: nothing is created and the target keeps its content.
    const long neg[1] = {-3};
    StWriteTensor dup[2] = {{"a", 1, s2, small}, {"a", 1, s2, small}};
    StWriteTensor reserved = {"__metadata__", 1, s2, small}, negshape = {"a", 1, neg, small},
                  nodata = {"a", 1, s2, NULL}, badname = {"\xff", 1, s2, small};
    const char *k2[] = {"k", "k"}, *v2[] = {"1", "2"};
    const struct {
        const char *name, *what;
        const StWriteTensor *tensors;
        int ntensors, nmeta;
    } cases[] = {
        {"st_write_rejects_duplicate_names", "duplicate tensor name a", dup, 2, 0},
        {"st_write_rejects_reserved_name", "invalid tensor name '__metadata__'", &reserved, 1, 0},
        {"st_write_rejects_negative_dim", "invalid or too large shape", &negshape, 1, 0},
        {"st_write_rejects_null_data", "tensor a has no data", &nodata, 1, 0},
        {"st_write_rejects_invalid_utf8_name", "not valid UTF-8", &badname, 1, 0},
        {"st_write_rejects_duplicate_metadata", "duplicate metadata key 'k'", &t_small, 1, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc = st_write(target, cases[i].tensors, cases[i].ntensors, k2, v2, cases[i].nmeta, &err);
        TEST_CHECK(rc && strstr(err.msg, target) && strstr(err.msg, cases[i].what), cases[i].name,
                   "rc %d msg '%.400s'", rc, err.msg);
    }
    after = file_read_bytes(target, &n1);
    TEST_CHECK(after && n1 == n0 && !memcmp(before, after, n0) && dir_count(sub) == 1, "st_rejected_write_keeps_target",
               "target %zu bytes, %d entries", n1, dir_count(sub));
    free(after);
    free(before);
}

int main(void) {
    test_dir_make("test_safetensors");
    test_round_trip();
    test_writer_format();
    test_half_conversions();
    test_malformed();
    test_atomic_write();
    test_dir_remove();
    return test_finish();
}
