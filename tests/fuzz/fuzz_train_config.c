// Fuzz target: the `lazydit train` JSON config (file reading with its size,
// NUL and UTF-8 rules, the JSON parser, the strict field tables).
#include "model/io/json_config.h"
#include "model/train_config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    cJSON *root = jc_load_file(fuzz_file(data, size), &err);
    if (!root) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();
        return 0;
    }
    TrainConfig tc;
    if (train_config_parse(&tc, root, "fuzz.json", &err) == 0) {
        if (tc.steps < 1 || tc.hp.batch < 1 || dit_config_validate(&tc.model, NULL)) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    cJSON_Delete(root);
    return 0;
}
