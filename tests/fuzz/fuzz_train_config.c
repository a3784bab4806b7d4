// Fuzz target: the `lazydit train` JSON config (model/dit_train_job.h): file
// reading with its size, NUL and UTF-8 rules, the JSON parser, the strict
// field tables and the cross-field checks.
#include "model/dit_train_job.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    DitTrainConfig c;
    if (dit_train_config_load(&c, fuzz_file(data, size), &err) == 0) {
        if (c.steps < 1 || c.hp.batch < 1 || !c.out_dir || dit_config_validate(&c.model, NULL)) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    dit_train_config_free(&c);
    return 0;
}
