// Fuzz target: policy configurations, both ways the option tables read them.
// Input starting with '{': a JSON policy object (experiment files); otherwise
// "name\0modules\0opt\0value\0..." as the CLI passes them (policy_create).
#include <cjson/cJSON.h>

#include "model/lazy/policy.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    Policy p;
    memset(&p, 0, sizeof p);
    int rc;
    if (size && data[0] == '{') {
        char *text = fuzz_string(data, size);
        cJSON *obj = cJSON_ParseWithOpts(text, NULL, 1);
        free(text);
        if (!obj) return 0;
        rc = policy_create_json(&p, obj, "fuzz", &err);
        cJSON_Delete(obj);
    } else {
        char *buf = fuzz_string(data, size);
        const char *parts[34] = {0};
        int n = 0;
        for (size_t i = 0; i <= size && n < 34;) {
            parts[n++] = buf + i;
            i += strlen(buf + i) + 1;
        }
        PolicyArg args[16];
        int nargs = 0;
        for (int i = 2; i + 1 < n && nargs < 16; i += 2) args[nargs++] = (PolicyArg){parts[i], parts[i + 1]};
        rc = policy_create(&p, parts[0], n > 1 && parts[1][0] ? parts[1] : NULL, args, nargs, &err);
        free(buf);
    }
    if (rc == 0) {
        // A created policy describes itself as JSON that parses back.
        cJSON *back = cJSON_Parse(policy_json(&p));
        if (!back) abort();
        cJSON_Delete(back);
        policy_free(&p);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
