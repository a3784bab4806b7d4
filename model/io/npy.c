// npy.c: NumPy .npy reader and writer (see npy.h).
//
// File layout (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor
// version byte, the header length as uint16 (v1.0) or uint32 (v2.0, v3.0)
// little-endian, then the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ending in a newline (ASCII in v1/v2, UTF-8 in v3),
// then the raw C-order data. The reader accepts exactly that dict (the three
// keys, each once, nothing else) and a data section of exactly the size the
// shape and dtype imply. Data is copied as raw bytes, so the host must be
// little-endian, like the files (checked at run time).
#include "model/io/npy.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// Bytes before a v1.0 data section are padded to this multiple, as numpy does,
// so that the data of a memory-mapped file is aligned.
#define NPY_ALIGN 64
// numpy >= 1.24 leaves this many characters for the first dimension so a file
// can grow in place; we add the same spaces to write byte-identical headers.
#define NPY_GROWTH_DIGITS 21

static const struct {
    NpyDtype dtype;
    const char *descr;  // as numpy writes it on a little-endian machine
    size_t size;
    const char *name;
} dtypes[] = {
    {NPY_F32, "<f4", 4, "float32"}, {NPY_F64, "<f8", 8, "float64"}, {NPY_I64, "<i8", 8, "int64"},
    {NPY_I32, "<i4", 4, "int32"},   {NPY_U8, "|u1", 1, "uint8"},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static int dtype_index(NpyDtype d) {
    for (int i = 0; i < NDTYPES; i++)
        if (dtypes[i].dtype == d) return i;
    return -1;
}

size_t npy_dtype_size(NpyDtype d) {
    int i = dtype_index(d);
    return i < 0 ? 0 : dtypes[i].size;
}

const char *npy_dtype_name(NpyDtype d) {
    int i = dtype_index(d);
    return i < 0 ? "invalid" : dtypes[i].name;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// "(2, 3)", "(3,)" or "()": the Python repr numpy uses, for headers and messages.
static void format_shape(char *buf, size_t cap, int ndim, const long *shape) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %ld" : "%ld", shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

// Product of the dims as an element count, or -1 if count * itemsize would not
// fit a long (then the file cannot be read or written anyway).
static long shape_count(int ndim, const long *shape, size_t itemsize) {
    long count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] && count > LONG_MAX / shape[i]) return -1;
        count *= shape[i];
    }
    if (count > LONG_MAX / (long)itemsize) return -1;
    return count;
}

// ---------------------------------------------------------------------------
// Header dict parser: just the Python literal subset numpy emits.

typedef struct {
    const char *s;
    size_t n, i;      // header length, cursor
    int allow_long;   // Python 2 era files (v1/v2) may write dims as "3L"
    const char *path;
    LzError *err;
} Cursor;

static int syntax_error(Cursor *c, const char *expected) {
    return lz_fail(c->err, "%s: malformed header at byte %zu: expected %s", c->path, c->i, expected);
}

static void skip_ws(Cursor *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int peek(Cursor *c) { return c->i < c->n ? (unsigned char)c->s[c->i] : -1; }

static int expect_char(Cursor *c, char ch, const char *what) {
    skip_ws(c);
    if (peek(c) != (unsigned char)ch) return syntax_error(c, what);
    c->i++;
    return 0;
}

// A quoted string without escapes (numpy never needs them) into out[cap].
static int parse_string(Cursor *c, char *out, size_t cap, const char *what) {
    skip_ws(c);
    int q = peek(c);
    if (q != '\'' && q != '"') return syntax_error(c, what);
    size_t start = ++c->i;
    while (c->i < c->n && c->s[c->i] != q && c->s[c->i] != '\\' && c->s[c->i] != '\n') c->i++;
    if (peek(c) != q) return syntax_error(c, "a closing quote");
    size_t len = c->i - start;
    c->i++;
    if (len >= cap)
        return lz_fail(c->err, "%s: header string '%.*s...' is too long", c->path, len < 40 ? (int)len : 40,
                       c->s + start);
    memcpy(out, c->s + start, len);
    out[len] = 0;
    return 0;
}

static int parse_bool(Cursor *c, int *out) {
    skip_ws(c);
    if (c->n - c->i >= 4 && !memcmp(c->s + c->i, "True", 4)) {
        c->i += 4;
        *out = 1;
    } else if (c->n - c->i >= 5 && !memcmp(c->s + c->i, "False", 5)) {
        c->i += 5;
        *out = 0;
    } else {
        return syntax_error(c, "True or False for 'fortran_order'");
    }
    return 0;
}

static int parse_dim(Cursor *c, long *out) {
    skip_ws(c);
    if (peek(c) == '-') return lz_fail(c->err, "%s: negative dimension in 'shape'", c->path);
    if (peek(c) < '0' || peek(c) > '9') return syntax_error(c, "a non-negative integer dimension");
    long v = 0;
    while (peek(c) >= '0' && peek(c) <= '9') {
        int d = c->s[c->i++] - '0';
        if (v > (LONG_MAX - d) / 10) return lz_fail(c->err, "%s: dimension in 'shape' is too large", c->path);
        v = v * 10 + d;
    }
    if (c->allow_long && peek(c) == 'L') c->i++;
    *out = v;
    return 0;
}

// Python tuple of ints: "()", "(3,)", "(2, 3)" or "(2, 3,)". "(3)" is an int, not a tuple.
static int parse_shape(Cursor *c, int *ndim, long *shape) {
    if (expect_char(c, '(', "a tuple for 'shape'")) return -1;
    *ndim = 0;
    skip_ws(c);
    if (peek(c) == ')') {
        c->i++;
        return 0;
    }
    for (;;) {
        if (*ndim == NPY_MAX_DIMS)
            return lz_fail(c->err, "%s: shape has more than %d dimensions", c->path, NPY_MAX_DIMS);
        if (parse_dim(c, &shape[(*ndim)++])) return -1;
        skip_ws(c);
        if (peek(c) == ')') {
            if (*ndim == 1) return syntax_error(c, "',' after the only dimension (a 1-tuple)");
            c->i++;
            return 0;
        }
        if (peek(c) != ',') return syntax_error(c, "',' or ')' in 'shape'");
        c->i++;
        skip_ws(c);
        if (peek(c) == ')') {
            c->i++;
            return 0;
        }
    }
}

// Maps a descr string to a supported dtype, or explains why not.
static int parse_descr(const char *path, const char *descr, NpyDtype *out, LzError *err) {
    // One-byte types have no byte order; numpy writes '|' but '<' and '>' mean the same.
    if (descr[0] && !strcmp(descr + 1, "u1") && strchr("|<>", descr[0])) {
        *out = NPY_U8;
        return 0;
    }
    for (int i = 0; i < NDTYPES; i++)
        if (!strcmp(descr, dtypes[i].descr)) {
            *out = dtypes[i].dtype;
            return 0;
        }
    if (descr[0] == '>')
        return lz_fail(err, "%s: big-endian dtype '%s' is not supported (save with a little-endian '<' dtype)", path,
                       descr);
    return lz_fail(err, "%s: unsupported dtype '%s' (supported: <f4 float32, <f8 float64, <i8 int64, <i4 int32, |u1 uint8)",
                   path, descr);
}

static int parse_header(const char *path, const char *h, size_t n, int major, NpyArray *out, LzError *err) {
    Cursor c = {h, n, 0, major < 3, path, err};
    char key[32], descr[32];
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, fortran = 0;
    if (expect_char(&c, '{', "'{' opening the header dict")) return -1;
    for (;;) {
        skip_ws(&c);
        if (peek(&c) == '}') {
            c.i++;
            break;
        }
        if (parse_string(&c, key, sizeof key, "a quoted key or '}'")) return -1;
        if (expect_char(&c, ':', "':' after a key")) return -1;
        int *seen = !strcmp(key, "descr") ? &seen_descr
                    : !strcmp(key, "fortran_order") ? &seen_fortran
                    : !strcmp(key, "shape") ? &seen_shape
                    : NULL;
        if (!seen) return lz_fail(err, "%s: unknown header key '%s'", path, key);
        if (*seen) return lz_fail(err, "%s: duplicate header key '%s'", path, key);
        *seen = 1;
        if (seen == &seen_descr) {
            skip_ws(&c);
            if (peek(&c) == '[' || peek(&c) == '{')
                return lz_fail(err, "%s: structured dtypes are not supported", path);
            if (parse_string(&c, descr, sizeof descr, "a quoted dtype string for 'descr'")) return -1;
        } else if (seen == &seen_fortran) {
            if (parse_bool(&c, &fortran)) return -1;
        } else {
            if (parse_shape(&c, &out->ndim, out->shape)) return -1;
        }
        skip_ws(&c);
        if (peek(&c) == ',')
            c.i++;
        else if (peek(&c) != '}')
            return syntax_error(&c, "',' or '}' after a value");
    }
    skip_ws(&c);
    if (c.i != c.n) return syntax_error(&c, "only padding after the header dict");
    const char *missing = !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : !seen_shape ? "shape" : NULL;
    if (missing) return lz_fail(err, "%s: header is missing key '%s'", path, missing);
    if (fortran) return lz_fail(err, "%s: fortran_order True is not supported (save a C-contiguous array)", path);
    return parse_descr(path, descr, &out->dtype, err);
}

// ---------------------------------------------------------------------------
// Reading

static int read_file(FILE *f, const struct stat *stp, const char *path, NpyArray *out, LzError *err) {
    struct stat st = *stp;
    long long size = (long long)st.st_size;

    unsigned char pre[12];  // magic, version, header length (2 or 4 bytes)
    if (size < 10) return lz_fail(err, "%s: file is %lld bytes, too short for a .npy header", path, size);
    if (fread(pre, 1, 8, f) != 8) return lz_fail(err, "%s: read failed", path);
    if (memcmp(pre, npy_magic, 6)) return lz_fail(err, "%s: bad magic (not a .npy file)", path);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return lz_fail(err, "%s: unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", path, major, minor);
    int lensize = major == 1 ? 2 : 4;
    if (size < 8 + lensize) return lz_fail(err, "%s: file is %lld bytes, too short for a .npy header", path, size);
    if (fread(pre + 8, 1, (size_t)lensize, f) != (size_t)lensize) return lz_fail(err, "%s: read failed", path);
    unsigned long hlen = pre[8] | (unsigned long)pre[9] << 8;
    if (lensize == 4) hlen |= (unsigned long)pre[10] << 16 | (unsigned long)pre[11] << 24;
    long long data_start = 8 + lensize + (long long)hlen;
    if (data_start > size) return lz_fail(err, "%s: header length %lu exceeds file size %lld", path, hlen, size);

    char *header = lz_malloc(hlen + 1, "npy header");
    header[hlen] = 0;  // messages quote pieces of it with %.40s, which stops at a NUL
    int rc = fread(header, 1, hlen, f) == hlen ? parse_header(path, header, hlen, major, out, err)
                                                : lz_fail(err, "%s: read failed", path);
    free(header);
    if (rc) return -1;

    size_t itemsize = npy_dtype_size(out->dtype);
    char shape_str[256];
    format_shape(shape_str, sizeof shape_str, out->ndim, out->shape);
    out->count = shape_count(out->ndim, out->shape, itemsize);
    if (out->count < 0) return lz_fail(err, "%s: shape %s is too large", path, shape_str);
    long long need = out->count * (long long)itemsize, have = size - data_start;
    if (have < need)
        return lz_fail(err, "%s: data is truncated: shape %s %s needs %lld bytes, file has %lld", path, shape_str,
                       npy_dtype_name(out->dtype), need, have);
    if (have > need)
        return lz_fail(err, "%s: %lld trailing bytes after the data (shape %s %s needs %lld bytes)", path, have - need,
                       shape_str, npy_dtype_name(out->dtype), need);
    out->data = lz_malloc((size_t)need, "npy data");
    if (fread(out->data, 1, (size_t)need, f) != (size_t)need) return lz_fail(err, "%s: read failed", path);
    return 0;
}

int npy_read(const char *path, NpyArray *out, LzError *err) {
    memset(out, 0, sizeof *out);
    if (!host_is_little_endian()) return lz_fail(err, "%s: .npy I/O needs a little-endian host", path);
    struct stat st;
    FILE *f = lz_fopen_input(path, &st, err);
    if (!f) return -1;
    int rc = read_file(f, &st, path, out, err);
    fclose(f);
    if (rc) npy_free(out);
    return rc;
}

int npy_read_f32(const char *path, NpyArray *out, LzError *err) {
    if (npy_read(path, out, err)) return -1;
    if (out->dtype == NPY_F32) return 0;
    float *dst = lz_malloc((size_t)out->count * sizeof(float), "npy float32 data");  // (count)
    for (long i = 0; i < out->count; i++) {
        switch (out->dtype) {
        case NPY_F64: {
            double v = ((const double *)out->data)[i];
            // Finite doubles beyond float range would silently become inf.
            if (isinf((float)v) && !isinf(v)) {
                free(dst);
                npy_free(out);
                return lz_fail(err, "%s: element %ld (%g) overflows float32", path, i, v);
            }
            dst[i] = (float)v;
            break;
        }
        case NPY_I64: dst[i] = (float)((const int64_t *)out->data)[i]; break;
        case NPY_I32: dst[i] = (float)((const int32_t *)out->data)[i]; break;
        case NPY_U8: dst[i] = (float)((const uint8_t *)out->data)[i]; break;
        case NPY_F32: break;
        }
    }
    free(out->data);
    out->data = dst;
    out->dtype = NPY_F32;
    return 0;
}

int npy_read_i64(const char *path, NpyArray *out, LzError *err) {
    if (npy_read(path, out, err)) return -1;
    if (out->dtype == NPY_I64) return 0;
    int64_t *dst = lz_malloc((size_t)out->count * sizeof(int64_t), "npy int64 data");  // (count)
    for (long i = 0; i < out->count; i++) {
        double v = 0;
        switch (out->dtype) {
        case NPY_I32: dst[i] = ((const int32_t *)out->data)[i]; continue;
        case NPY_U8: dst[i] = ((const uint8_t *)out->data)[i]; continue;
        case NPY_F32: v = ((const float *)out->data)[i]; break;
        case NPY_F64: v = ((const double *)out->data)[i]; break;
        case NPY_I64: break;
        }
        // Integral and inside [-2^63, 2^63); NaN fails the first comparison.
        if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != (double)(int64_t)v) {
            free(dst);
            npy_free(out);
            return lz_fail(err, "%s: element %ld (%g) is not an integer (expected an integer array)", path, i, v);
        }
        dst[i] = (int64_t)v;
    }
    free(out->data);
    out->data = dst;
    out->dtype = NPY_I64;
    return 0;
}

void npy_free(NpyArray *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

// ---------------------------------------------------------------------------
// Writing

int npy_write(const char *path, NpyDtype dtype, int ndim, const long *shape, const void *data, LzError *err) {
    int di = dtype_index(dtype);
    if (di < 0) return lz_fail(err, "%s: invalid dtype %d", path, (int)dtype);
    if (ndim < 0 || ndim > NPY_MAX_DIMS) return lz_fail(err, "%s: ndim %d outside 0..%d", path, ndim, NPY_MAX_DIMS);
    if (ndim > 0 && !shape) return lz_fail(err, "%s: shape is NULL", path);
    if (!host_is_little_endian()) return lz_fail(err, "%s: .npy I/O needs a little-endian host", path);
    char shape_str[256];
    format_shape(shape_str, sizeof shape_str, ndim, shape);
    long count = shape_count(ndim, shape, dtypes[di].size);
    if (count < 0) return lz_fail(err, "%s: invalid shape %s", path, shape_str);
    size_t bytes = (size_t)count * dtypes[di].size;
    if (bytes && !data) return lz_fail(err, "%s: data is NULL for shape %s", path, shape_str);

    // The dict exactly as numpy 1.24 writes it (keys sorted, repr values,
    // growth spaces), so files are byte-identical to np.save's.
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtypes[di].descr,
                     shape_str);
    if (ndim > 0) {
        int digits = snprintf(NULL, 0, "%ld", shape[0]);
        for (int i = digits; i < NPY_GROWTH_DIGITS; i++) header[n++] = ' ';
    }
    // numpy pads (magic + length field + header + newline) to the next multiple
    // of 64, adding a full 64 when already aligned.
    int pad = NPY_ALIGN - (10 + n + 1) % NPY_ALIGN;
    memset(header + n, ' ', (size_t)pad);
    n += pad;
    header[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};

    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    atomic_write(&af, pre, sizeof pre);
    atomic_write(&af, header, (size_t)n);
    atomic_write(&af, data, bytes);
    return atomic_commit(&af, err);
}
