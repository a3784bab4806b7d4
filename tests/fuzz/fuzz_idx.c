// Fuzz target: the IDX reader, plain and gzip (magic, dtype, dimensions,
// sizes bounded by the file before allocation, truncation, trailing bytes).
#include "model/io/idx.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    IdxArray a;
    LzError err;
    if (idx_read(fuzz_file(data, size), &a, &err) == 0) {
        long count = 1;
        for (int i = 0; i < a.ndim; i++) count *= a.dims[i];
        if (count != a.count) abort();
        idx_free(&a);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
