// Fuzz target: the feature-classifier checkpoint loader (metadata integers,
// sizes checked against the file before allocation, names, shapes, values).
#include "model/classifier.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    Classifier *m = classifier_load(fuzz_file(data, size), 2, &err);
    if (m)
        classifier_free(m);
    else if (!err.msg[0] || strchr(err.msg, '\n'))
        abort();
    return 0;
}
