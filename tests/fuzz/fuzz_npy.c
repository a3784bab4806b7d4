// Fuzz target: the .npy reader (magic, version, header dict, dtype, shape,
// data size) and its float32 / int64 conversions.
#include "model/io/npy.h"
#include "tests/fuzz/fuzz_util.h"

static void check_err(const LzError *err) {
    if (!err->msg[0] || strchr(err->msg, '\n')) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    NpyArray a;
    LzError err;
    if (npy_read(path, &a, &err) == 0) {
        long count = 1;
        for (int i = 0; i < a.ndim; i++) count *= a.shape[i];
        if (count != a.count) abort();
        npy_free(&a);
    } else {
        check_err(&err);
        return 0;  // the conversions read the same file first and would fail the same way
    }
    if (npy_read_f32(path, &a, &err) == 0) npy_free(&a);
    else check_err(&err);
    if (npy_read_i64(path, &a, &err) == 0) npy_free(&a);
    else check_err(&err);
    return 0;
}
