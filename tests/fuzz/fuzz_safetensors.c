// Fuzz target: the safetensors reader (header length, JSON header, tensor
// table, metadata, data section) through st_read and the lookups callers use.
#include "model/io/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StFile f;
    LzError err;
    if (st_read(fuzz_file(data, size), &f, &err) == 0) {
        // Every tensor must be found again by name, every metadata key by key.
        for (int i = 0; i < f.ntensors; i++)
            if (st_find(&f, f.tensors[i].name) != &f.tensors[i]) abort();
        for (int i = 0; i < f.nmeta; i++)
            if (st_meta(&f, f.meta_keys[i]) != f.meta_values[i]) abort();
        volatile float sink = 0;
        for (int i = 0; i < f.ntensors; i++)
            for (long k = 0; k < f.tensors[i].count; k++) sink += f.tensors[i].data[k];
        (void)sink;
        st_free(&f);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();  // an error must be one non-empty line
    }
    return 0;
}
