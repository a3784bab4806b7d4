// golden_json.h: reading the JSON goldens of tests/ref/ (cJSON) and comparing
// floats in units in the last place. Shared by the tests whose goldens are
// JSON (test_rng.c, test_diffusion.c); every accessor stops the test with a
// message naming the golden file and the key when the golden is malformed.
#pragma once
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/base/check.h"

static inline char *golden_read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f, "cannot open %s (run the tests from the repository root)", path);
    CHECK(fseek(f, 0, SEEK_END) == 0, "%s: seek failed", path);
    long size = ftell(f);
    CHECK(size > 0, "%s: empty file", path);
    rewind(f);
    char *text = lz_malloc((size_t)size + 1, "golden json");
    CHECK(fread(text, 1, (size_t)size, f) == (size_t)size, "%s: short read", path);
    text[size] = 0;
    fclose(f);
    return text;
}

static inline const cJSON *golden_field(const char *golden, const cJSON *obj, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    CHECK(v, "%s: missing key '%s'", golden, name);
    return v;
}

static inline double golden_num(const char *golden, const cJSON *obj, const char *name) {
    const cJSON *v = golden_field(golden, obj, name);
    CHECK(cJSON_IsNumber(v), "%s: key '%s' is not a number", golden, name);
    return v->valuedouble;
}

// Ordered distance between two float32 bit patterns in units in the last place.
static inline int64_t ulp32_bits(uint32_t a, uint32_t b) {
    int64_t ia = (a & 0x80000000u) ? -(int64_t)(a & 0x7fffffffu) : (int64_t)a;
    int64_t ib = (b & 0x80000000u) ? -(int64_t)(b & 0x7fffffffu) : (int64_t)b;
    return ia > ib ? ia - ib : ib - ia;
}

static inline int64_t ulp32(float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ulp32_bits(ua, ub);
}

// FNV-1a over bytes: the goldens store it for long arrays instead of every value.
static inline uint32_t fnv1a32(const void *p, size_t n) {
    const unsigned char *c = p;
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x01000193u;
    }
    return h;
}
