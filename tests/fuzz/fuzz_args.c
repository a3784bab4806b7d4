// Fuzz target: the CLI option parser (cli/args.c) with a table holding every
// option type, and the integer rules it relies on. The input is argv, split
// at NUL bytes.
#include <limits.h>
#include <math.h>
#include <stdbool.h>

#include "cli/args.h"
#include "model/io/file_rules.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[65] = {"fuzz"};
    int argc = 1;
    for (size_t i = 0; i < size && argc < 64;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    const char *weights = NULL, *out = NULL;
    int steps = 50;
    long n = 0;
    double cfg = 1.5;
    bool quiet = false;
    ArgSpec specs[] = {
        {"--weights", ARG_STRING, &weights, true, "w", false}, {"--n", ARG_LONG, &n, false, "n", false},
        {"--steps", ARG_INT, &steps, false, "s", false},       {"--cfg-scale", ARG_DOUBLE, &cfg, false, "c", false},
        {"--quiet", ARG_FLAG, &quiet, false, "q", false},      {"--out", ARG_STRING, &out, false, "o", false},
    };
    ArgParser p = {"fuzz", "usage", "about", specs, 6, 0, 2, {0}, 0};
    char msg[256];
    int rc = args_parse_status(&p, argc, argv, msg, sizeof msg);
    if (rc < 0 && (!msg[0] || strchr(msg, '\n'))) abort();
    if (rc == 0 && (!weights || !isfinite(cfg) || p.npositional > 2)) abort();
    // The integer rule on its own: whatever parses must print back identically.
    for (int i = 1; i < argc; i++) {
        long v;
        if (lz_parse_long(argv[i], LONG_MIN, LONG_MAX, &v) == 0) {
            char back[32];
            snprintf(back, sizeof back, "%ld", v);
            if (strcmp(back, argv[i]) && !(argv[i][0] == '-' && !strcmp(back, "0")) && strspn(argv[i], "-0") == 0)
                abort();
        }
    }
    free(buf);
    return 0;
}
