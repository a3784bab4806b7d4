// Fuzz target: the `lazydit train-classifier` JSON config (file rules, JSON
// parser, strict field table, cross-field checks).
#include "model/classifier_train_config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    ClassifierTrainConfig c;
    cJSON *json = NULL;
    if (classifier_train_config_load(fuzz_file(data, size), &c, &json, &err) == 0) {
        if (c.epochs < 1 || c.batch_size < 1 || !c.out || !(c.lr > 0)) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    cJSON_Delete(json);
    return 0;
}
