// test_io.h: loading goldens in tests. A golden that is missing or malformed is
// a broken checkout, not a failed comparison, so these stop the test binary
// with the loader's message (CHECK) instead of recording a FAIL line.
#pragma once
#include "model/base/check.h"
#include "model/dit.h"
#include "model/io/npy.h"

static inline NpyArray test_load_f32(const char *path) {
    NpyArray a;
    LzError err;
    CHECK(npy_read_f32(path, &a, &err) == 0, "%s", err.msg);
    return a;
}

// Builds m from a safetensors file; the model owns params from here on.
static inline void test_load_dit(DitModel *m, const char *path, int max_batch, int training) {
    DitConfig cfg;
    float *params;
    LzError err;
    CHECK(dit_load(path, 0, &cfg, &params, &err) == 0, "%s", err.msg);
    dit_build(m, &cfg, params, max_batch, training);
}
