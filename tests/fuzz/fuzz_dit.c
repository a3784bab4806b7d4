// Fuzz target: the DiT checkpoint loader (configuration inferred from the
// tensor table, names in both directions, metadata, finite values).
#include "model/dit_params.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    DitConfig c;
    float *params = NULL;
    LzError err;
    if (dit_load(fuzz_file(data, size), 0, &c, &params, &err) == 0) {
        // What `info` prints from a loaded file must be computable.
        if (dit_param_count(&c) <= 0 || dit_macs(&c).total <= 0) abort();
        free(params);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
