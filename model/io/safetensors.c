// safetensors.c: safetensors reader and F32 writer (see safetensors.h).
//
// Layout: uint64 little-endian N, N bytes of UTF-8 JSON (padded with spaces),
// then the data section. The JSON maps each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// with offsets relative to the data section, plus an optional "__metadata__"
// object of string values. Like the reference implementation (huggingface/
// safetensors), the reader requires the tensors, sorted by offset, to tile the
// data section exactly: no overlap, no gap, nothing left over.
#include "model/io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"

// The reference implementation's limit: a larger header is corrupt or hostile.
#define ST_MAX_HEADER 100000000ull
// Offsets and sizes travel as JSON numbers (doubles in cJSON): exact up to 2^53.
#define ST_MAX_INT 9007199254740992.0

typedef struct {
    StTensor t;
    uint64_t begin, end;  // data_offsets, relative to the data section
} Entry;

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static size_t dtype_size(const char *dtype) {
    if (!strcmp(dtype, "F32")) return 4;
    if (!strcmp(dtype, "F16") || !strcmp(dtype, "BF16")) return 2;
    return 0;
}

// IEEE half to float: every half is exactly representable as a float.
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {  // zero and subnormals: mant * 2^-24, exact in float
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | mant << 13;  // inf, or NaN with its payload kept
    else
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;  // rebias the exponent
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// bfloat16 is the top half of a float32.
static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = lz_malloc(n, "safetensors string");
    memcpy(p, s, n);
    return p;
}

// "[2, 3]" for messages.
static void format_shape(char *buf, size_t cap, int ndim, const long *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, i ? ", %ld" : "%ld", shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static int is_exact_uint(const cJSON *x) {
    return cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= ST_MAX_INT &&
           x->valuedouble == (double)(uint64_t)x->valuedouble;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const Entry *)a)->t.name, ((const Entry *)b)->t.name);
}

static int by_offset(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

// ---------------------------------------------------------------------------
// Reading

typedef struct {
    char *key, *value;
} MetaPair;

static int by_key(const void *a, const void *b) { return strcmp(((const MetaPair *)a)->key, ((const MetaPair *)b)->key); }

// Keys end up sorted, so duplicates are found in one pass (n log n, not n^2:
// the header limit allows millions of keys) and st_meta can bisect.
static int parse_metadata(const char *path, const cJSON *meta, StFile *out, LzError *err) {
    if (!cJSON_IsObject(meta)) return lz_fail(err, "%s: __metadata__ is not a JSON object", path);
    int n = cJSON_GetArraySize(meta);
    for (const cJSON *kv = meta->child; kv; kv = kv->next)
        if (!cJSON_IsString(kv)) return lz_fail(err, "%s: __metadata__ value of '%.60s' is not a string", path, kv->string);
    MetaPair *pairs = lz_calloc((size_t)n, sizeof(MetaPair), "safetensors metadata");
    int k = 0;
    for (const cJSON *kv = meta->child; kv; kv = kv->next, k++) {
        pairs[k].key = kv->string;
        pairs[k].value = kv->valuestring;
    }
    qsort(pairs, (size_t)n, sizeof(MetaPair), by_key);
    for (int i = 1; i < n; i++)
        if (!strcmp(pairs[i - 1].key, pairs[i].key)) {
            int rc = lz_fail(err, "%s: duplicate __metadata__ key '%.60s'", path, pairs[i].key);
            free(pairs);
            return rc;
        }
    out->meta_keys = lz_calloc((size_t)n, sizeof(char *), "safetensors metadata");
    out->meta_values = lz_calloc((size_t)n, sizeof(char *), "safetensors metadata");
    for (int i = 0; i < n; i++) {
        out->meta_keys[i] = copy_string(pairs[i].key);
        out->meta_values[i] = copy_string(pairs[i].value);
    }
    out->nmeta = n;
    free(pairs);
    return 0;
}

// One tensor entry: exactly dtype, shape and data_offsets, consistent with each
// other and inside a data section of data_size bytes.
static int parse_entry(const char *path, const cJSON *item, uint64_t data_size, Entry *e, LzError *err) {
    const char *name = item->string;
    if (strlen(name) >= ST_MAX_NAME)
        return lz_fail(err, "%s: tensor name '%.60s...' is longer than %d bytes", path, name, ST_MAX_NAME - 1);
    snprintf(e->t.name, sizeof e->t.name, "%s", name);
    if (!cJSON_IsObject(item)) return lz_fail(err, "%s: entry for tensor %s is not a JSON object", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *kv = item->child; kv; kv = kv->next) {
        const cJSON **slot = !strcmp(kv->string, "dtype") ? &dtype
                             : !strcmp(kv->string, "shape") ? &shape
                             : !strcmp(kv->string, "data_offsets") ? &offsets
                             : NULL;
        if (!slot) return lz_fail(err, "%s: unknown key '%s' in tensor %s", path, kv->string, name);
        if (*slot) return lz_fail(err, "%s: duplicate key '%s' in tensor %s", path, kv->string, name);
        *slot = kv;
    }
    const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offsets ? "data_offsets" : NULL;
    if (missing) return lz_fail(err, "%s: tensor %s has no '%s'", path, name, missing);

    if (!cJSON_IsString(dtype)) return lz_fail(err, "%s: dtype of tensor %s is not a string", path, name);
    size_t itemsize = dtype_size(dtype->valuestring);
    if (!itemsize)
        return lz_fail(err, "%s: unsupported dtype %.16s for tensor %s (supported: F32, F16, BF16)", path,
                       dtype->valuestring, name);
    snprintf(e->t.dtype, sizeof e->t.dtype, "%s", dtype->valuestring);

    if (!cJSON_IsArray(shape)) return lz_fail(err, "%s: shape of tensor %s is not an array", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS) return lz_fail(err, "%s: tensor %s has %d dims (max %d)", path, name, ndim, ST_MAX_DIMS);
    e->t.ndim = ndim;
    // Bytes are bounded by the data section, so a count overflowing it is an error anyway.
    uint64_t count = 1;
    int too_big = 0;
    int d = 0;
    for (const cJSON *x = shape->child; x; x = x->next, d++) {
        if (!is_exact_uint(x))
            return lz_fail(err, "%s: shape of tensor %s has a dimension that is not a non-negative integer", path, name);
        e->t.shape[d] = (long)x->valuedouble;
        uint64_t dim = (uint64_t)x->valuedouble;
        if (dim && count > UINT64_MAX / dim) too_big = 1;
        count *= dim;
    }
    char shape_str[200];
    format_shape(shape_str, sizeof shape_str, ndim, e->t.shape);

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !is_exact_uint(offsets->child) ||
        !is_exact_uint(offsets->child->next))
        return lz_fail(err, "%s: data_offsets of tensor %s is not [begin, end] with non-negative integers", path, name);
    e->begin = (uint64_t)offsets->child->valuedouble;
    e->end = (uint64_t)offsets->child->next->valuedouble;
    if (e->end < e->begin)
        return lz_fail(err, "%s: data_offsets [%llu, %llu] of tensor %s end before they begin", path,
                       (unsigned long long)e->begin, (unsigned long long)e->end, name);
    if (e->end > data_size)
        return lz_fail(err, "%s: data_offsets [%llu, %llu] of tensor %s exceed the data section of %llu bytes", path,
                       (unsigned long long)e->begin, (unsigned long long)e->end, name, (unsigned long long)data_size);
    if (too_big || count > data_size / itemsize || count * itemsize != e->end - e->begin) {
        char need[32] = "too many";
        if (!too_big && count <= UINT64_MAX / itemsize)
            snprintf(need, sizeof need, "%llu", (unsigned long long)(count * itemsize));
        return lz_fail(err, "%s: tensor %s: shape %s %s needs %s bytes but data_offsets [%llu, %llu] span %llu", path,
                       name, shape_str, e->t.dtype, need, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin));
    }
    e->t.count = (long)count;
    return 0;
}

// Sorted by offset, the tensors must tile [0, data_size) exactly.
static int check_coverage(const char *path, const Entry *e, int n, uint64_t data_size, LzError *err) {
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].begin < at)
            return lz_fail(err, "%s: tensors %s [%llu, %llu] and %s [%llu, %llu] overlap", path, e[i - 1].t.name,
                           (unsigned long long)e[i - 1].begin, (unsigned long long)e[i - 1].end, e[i].t.name,
                           (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
        if (e[i].begin > at)
            return lz_fail(err, "%s: gap of %llu bytes before tensor %s at offset %llu (no tensor covers it)", path,
                           (unsigned long long)(e[i].begin - at), e[i].t.name, (unsigned long long)e[i].begin);
        at = e[i].end;
    }
    if (at != data_size)
        return lz_fail(err, "%s: %llu bytes at the end of the data section belong to no tensor", path,
                       (unsigned long long)(data_size - at));
    return 0;
}

// Reads each tensor (entries sorted by offset, so the file is read front to
// back) and converts it to float32.
static int read_data(FILE *f, const char *path, uint64_t data_start, Entry *e, int n, LzError *err) {
    size_t scratch_bytes = 0;  // the largest 16-bit tensor, converted through one buffer
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].t.dtype, "F32") && e[i].end - e[i].begin > scratch_bytes) scratch_bytes = e[i].end - e[i].begin;
    unsigned char *scratch = scratch_bytes ? lz_malloc(scratch_bytes, "safetensors 16-bit scratch") : NULL;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        StTensor *t = &e[i].t;
        size_t bytes = e[i].end - e[i].begin;
        t->data = lz_malloc((size_t)t->count * sizeof(float), "safetensors tensor");  // (count)
        if (!bytes) continue;
        int f32 = !strcmp(t->dtype, "F32");
        unsigned char *dst = f32 ? (unsigned char *)t->data : scratch;
        if (fseeko(f, (off_t)(data_start + e[i].begin), SEEK_SET) != 0 || fread(dst, 1, bytes, f) != bytes) {
            rc = lz_fail(err, "%s: read failed for tensor %s", path, t->name);
            break;
        }
        if (f32) continue;  // float32 little-endian on a little-endian host: already in place
        int bf16 = !strcmp(t->dtype, "BF16");
        for (long k = 0; k < t->count; k++) {
            uint16_t h = (uint16_t)(scratch[2 * k] | scratch[2 * k + 1] << 8);
            t->data[k] = bf16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
    }
    free(scratch);
    return rc;
}

static int read_file(FILE *f, const struct stat *stp, const char *path, StFile *out, LzError *err) {
    struct stat st = *stp;
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) return lz_fail(err, "%s: file is %llu bytes, too short for the 8-byte header length", path,
                                 (unsigned long long)size);
    unsigned char lenbuf[8];
    if (fread(lenbuf, 1, 8, f) != 8) return lz_fail(err, "%s: read failed", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | lenbuf[i];
    if (hlen > size - 8)
        return lz_fail(err, "%s: header length %llu exceeds file size %llu", path, (unsigned long long)hlen,
                       (unsigned long long)size);
    if (hlen > ST_MAX_HEADER)
        return lz_fail(err, "%s: header length %llu exceeds the %llu-byte limit", path, (unsigned long long)hlen,
                       ST_MAX_HEADER);
    uint64_t data_size = size - 8 - hlen;

    char *text = lz_malloc(hlen + 1, "safetensors header");
    text[hlen] = 0;
    cJSON *root = NULL;
    const char *end = NULL;
    Entry *entries = NULL;
    int n = 0, seen_meta = 0, rc = -1;
    if (fread(text, 1, hlen, f) != hlen) {
        lz_fail(err, "%s: read failed", path);
        goto done;
    }
    // cJSON stops at a NUL and does not check encodings; do both here.
    if (memchr(text, 0, hlen)) {
        lz_fail(err, "%s: header contains a NUL byte", path);
        goto done;
    }
    if (!lz_utf8_valid((const unsigned char *)text, hlen)) {
        lz_fail(err, "%s: header is not valid UTF-8", path);
        goto done;
    }
    root = cJSON_ParseWithLengthOpts(text, hlen + 1, &end, 1);  // 1: only whitespace may follow
    if (!root) {
        lz_fail(err, "%s: header is not valid JSON (error near byte %ld of %llu)", path, end ? (long)(end - text) : -1L,
                (unsigned long long)hlen);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        lz_fail(err, "%s: header is not a JSON object", path);
        goto done;
    }

    entries = lz_calloc((size_t)cJSON_GetArraySize(root), sizeof(Entry), "safetensors entries");
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (seen_meta++) {
                lz_fail(err, "%s: duplicate __metadata__", path);
                goto done;
            }
            if (parse_metadata(path, item, out, err)) goto done;
        } else if (parse_entry(path, item, data_size, &entries[n++], err)) {
            goto done;
        }
    }
    qsort(entries, (size_t)n, sizeof(Entry), by_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(entries[i - 1].t.name, entries[i].t.name)) {
            lz_fail(err, "%s: duplicate tensor name %s", path, entries[i].t.name);
            goto done;
        }
    qsort(entries, (size_t)n, sizeof(Entry), by_offset);
    if (check_coverage(path, entries, n, data_size, err)) goto done;
    rc = read_data(f, path, 8 + hlen, entries, n, err);
    // Tensors end up sorted by name, so st_find can bisect.
    qsort(entries, (size_t)n, sizeof(Entry), by_name);
    out->tensors = lz_calloc((size_t)n, sizeof(StTensor), "safetensors tensors");
    out->ntensors = n;
    for (int i = 0; i < n; i++) out->tensors[i] = entries[i].t;
    n = 0;  // ownership of the data moved to out
done:
    for (int i = 0; i < n; i++) free(entries[i].t.data);
    free(entries);
    cJSON_Delete(root);
    free(text);
    return rc;
}

int st_read(const char *path, StFile *out, LzError *err) {
    memset(out, 0, sizeof *out);
    if (!host_is_little_endian()) return lz_fail(err, "%s: safetensors I/O needs a little-endian host", path);
    struct stat st;
    FILE *f = lz_fopen_input(path, &st, err);
    if (!f) return -1;
    int rc = read_file(f, &st, path, out, err);
    fclose(f);
    if (rc) st_free(out);
    return rc;
}

const StTensor *st_find(const StFile *f, const char *name) {
    int lo = 0, hi = f->ntensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->tensors[mid].name, name);
        if (!c) return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    int lo = 0, hi = f->nmeta - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->meta_keys[mid], key);
        if (!c) return f->meta_values[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

void st_free(StFile *f) {
    for (int i = 0; i < f->ntensors; i++) free(f->tensors[i].data);
    free(f->tensors);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------------------
// Writing

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = lz_malloc(cap, "safetensors header");
        if (b->n) memcpy(p, b->p, b->n);
        free(b->p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_str(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

// A JSON string literal; UTF-8 passes through, quotes and controls are escaped.
static void buf_json_string(Buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_put(b, esc, 2);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_put(b, (const char *)&c, 1);
        }
    }
    buf_put(b, "\"", 1);
}

typedef struct {
    const StWriteTensor *t;
    uint64_t bytes;
} WriteItem;

static int write_by_name(const void *a, const void *b) {
    return strcmp(((const WriteItem *)a)->t->name, ((const WriteItem *)b)->t->name);
}

static int check_string(const char *path, const char *what, const char *s, LzError *err) {
    if (!s) return lz_fail(err, "%s: %s is NULL", path, what);
    if (!lz_utf8_valid((const unsigned char *)s, strlen(s))) return lz_fail(err, "%s: %s is not valid UTF-8", path, what);
    return 0;
}

int st_write(const char *path, const StWriteTensor *tensors, int ntensors, const char *const *meta_keys,
             const char *const *meta_values, int nmeta, LzError *err) {
    if (!host_is_little_endian()) return lz_fail(err, "%s: safetensors I/O needs a little-endian host", path);
    if (ntensors < 0 || nmeta < 0) return lz_fail(err, "%s: negative tensor or metadata count", path);
    for (int i = 0; i < nmeta; i++)
        if (check_string(path, "a metadata key", meta_keys[i], err) ||
            check_string(path, "a metadata value", meta_values[i], err))
            return -1;
    // Duplicates by sorting a copy (n log n: the reader accepts millions of keys, so may the writer).
    if (nmeta > 1) {
        MetaPair *sorted = lz_malloc(sizeof(MetaPair) * (size_t)nmeta, "safetensors metadata");
        for (int i = 0; i < nmeta; i++) sorted[i].key = (char *)meta_keys[i], sorted[i].value = NULL;
        qsort(sorted, (size_t)nmeta, sizeof(MetaPair), by_key);
        for (int i = 1; i < nmeta; i++)
            if (!strcmp(sorted[i - 1].key, sorted[i].key)) {
                int rc = lz_fail(err, "%s: duplicate metadata key '%.60s'", path, sorted[i].key);
                free(sorted);
                return rc;
            }
        free(sorted);
    }

    // Validate every tensor before creating anything on disk.
    WriteItem *items = lz_calloc((size_t)ntensors, sizeof(WriteItem), "safetensors write list");
    Buf h = {0};
    int rc = -1;
    for (int i = 0; i < ntensors; i++) {
        const StWriteTensor *t = &tensors[i];
        items[i].t = t;
        if (check_string(path, "a tensor name", t->name, err)) goto done;
        if (strlen(t->name) >= ST_MAX_NAME || !strcmp(t->name, "__metadata__")) {
            lz_fail(err, "%s: invalid tensor name '%.60s' (reserved or longer than %d bytes)", path, t->name,
                    ST_MAX_NAME - 1);
            goto done;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS || (t->ndim && !t->shape)) {
            lz_fail(err, "%s: tensor %s has an invalid ndim %d or no shape", path, t->name, t->ndim);
            goto done;
        }
        uint64_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (t->shape[d] && count > (uint64_t)(ST_MAX_INT / 4) / (uint64_t)t->shape[d])) {
                lz_fail(err, "%s: tensor %s has an invalid or too large shape", path, t->name);
                goto done;
            }
            count *= (uint64_t)t->shape[d];
        }
        if (count && !t->data) {
            lz_fail(err, "%s: tensor %s has no data", path, t->name);
            goto done;
        }
        items[i].bytes = count * sizeof(float);
    }
    qsort(items, (size_t)ntensors, sizeof(WriteItem), write_by_name);
    for (int i = 1; i < ntensors; i++)
        if (!strcmp(items[i - 1].t->name, items[i].t->name)) {
            lz_fail(err, "%s: duplicate tensor name %s", path, items[i].t->name);
            goto done;
        }

    // Header: metadata first, then tensors by name with consecutive offsets.
    buf_put(&h, "{", 1);
    if (nmeta) {
        buf_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++) {
            if (i) buf_put(&h, ",", 1);
            buf_json_string(&h, meta_keys[i]);
            buf_put(&h, ":", 1);
            buf_json_string(&h, meta_values[i]);
        }
        buf_put(&h, "}", 1);
    }
    uint64_t offset = 0;
    for (int i = 0; i < ntensors; i++) {
        const StWriteTensor *t = items[i].t;
        if (i || nmeta) buf_put(&h, ",", 1);
        buf_json_string(&h, t->name);
        buf_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) buf_printf(&h, d ? ",%ld" : "%ld", t->shape[d]);
        buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                   (unsigned long long)(offset + items[i].bytes));
        offset += items[i].bytes;
    }
    buf_put(&h, "}", 1);
    // Spaces to a multiple of 8 keep the data section 8-byte aligned, as the reference writer does.
    while (h.n % 8) buf_put(&h, " ", 1);
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)h.n >> (8 * i));

    AtomicFile af;
    if (atomic_open(&af, path, err) == 0) {
        atomic_write(&af, lenbuf, 8);
        atomic_write(&af, h.p, h.n);
        for (int i = 0; i < ntensors; i++) atomic_write(&af, items[i].t->data, items[i].bytes);
        rc = atomic_commit(&af, err);
    }
done:
    free(h.p);
    free(items);
    return rc;
}
