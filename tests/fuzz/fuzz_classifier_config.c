// Fuzz target: the `lazydit train-classifier` JSON config
// (model/classifier_train.h): file rules, JSON parser, strict field table,
// cross-field checks.
#include "model/classifier_train.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    ClassifierTrainConfig c;
    if (classifier_train_config_load(&c, fuzz_file(data, size), &err) == 0) {
        if (c.epochs < 1 || c.batch_size < 1 || !c.out || !(c.lr > 0)) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    classifier_train_config_free(&c);
    return 0;
}
