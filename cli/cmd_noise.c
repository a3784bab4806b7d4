// lazydit noise: torch.manual_seed(S); torch.randn(shape) as float32 .npy,
// bit for bit (model/base/torch_rng.h), e.g. the initial noise of a given-noise run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/base/torch_rng.h"

// "2,4,32,32" -> dims; every dimension >= 1, at most NPY_MAX_DIMS of them.
static int parse_shape(const char *text, long *shape, long *count) {
    int nd = 0;
    *count = 1;
    char buf[32];
    for (const char *p = text;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        long v;
        if (len == 0 || len >= sizeof buf || nd == NPY_MAX_DIMS) return -1;
        memcpy(buf, p, len);
        buf[len] = 0;
        if (lz_parse_long(buf, 1, 1L << 40, &v)) return -1;  // whole, no sign, no wrap
        if (*count > (1L << 40) / v) return -1;              // 4 TiB of floats: surely a typo
        shape[nd++] = v;
        *count *= v;
        if (!end) return nd;
        p = end + 1;
    }
}

int cmd_noise(int argc, char **argv) {
    const char *shape_text = NULL, *out = NULL;
    long seed = 0;
    ArgSpec specs[] = {
        {"--seed", ARG_LONG, &seed, true, "torch.manual_seed value (>= 0; torch keeps its low 32 bits)", false},
        {"--shape", ARG_STRING, &shape_text, true, "comma-separated dimensions, e.g. 2,4,32,32", false},
        {"--out", ARG_STRING, &out, true, "output float32 .npy", false},
    };
    ArgParser p = {"noise", "--seed S --shape 2,4,32,32 --out Z.npy",
                   "Writes exactly what torch.manual_seed(S); torch.randn(shape) returns on the CPU\n"
                   "(torch 1.13, float32), e.g. the initial noise for `lazydit sample --noise`.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (seed < 0) cli_usage("noise", "--seed %ld must be >= 0", seed);
    long shape[NPY_MAX_DIMS], count;
    int nd = parse_shape(shape_text, shape, &count);
    if (nd < 0)
        cli_usage("noise", "--shape '%s' must be 1 to %d positive comma-separated integers", shape_text, NPY_MAX_DIMS);
    RunFiles rf;
    run_files_init(&rf);
    cli_output(&rf, "noise", out, RF_STAGED);
    float *z = lz_malloc(sizeof(float) * count, "noise");
    TorchRng g;
    rng_seed(&g, (uint64_t)seed);
    rng_randn(&g, z, count);  // randn(shape) equals randn(count) reshaped
    run_files_begin(&rf);
    cli_write_f32("noise", out, nd, shape, z);
    cli_publish(&rf, "noise");
    free(z);
    return 0;
}
