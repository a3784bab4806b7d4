// Fuzz target: LazyDiT gate files and L2C router files (model/lazy/gates.h),
// each input read as both kinds: the safetensors layer, the two tensors and
// their shapes, the metadata (integers, numbers, strings, the model hash).
// A file that loads must be consistent, written back and read again to the
// same values, fit a run of its own shape, and create and initialise its
// policy (lazydit or l2c) for that run.
#include <math.h>

#include "model/lazy/gates.h"
#include "model/lazy/policy.h"
#include "tests/fuzz/fuzz_util.h"

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check_loaded(const GateFile *g, GateKind kind, const char *path) {
    if (g->kind != kind || g->S < 1 || g->L < 1 || g->D < 1 || (kind == GATES_L2C && g->D != 1)) abort();
    long n = 2L * g->S * g->L * g->D;
    for (long i = 0; i < n; i++)
        if (!isfinite(g->w[i])) abort();
    if (!(g->threshold >= 0 && g->threshold <= 1) || !(g->rho_attn >= 0) || !(g->rho_mlp >= 0) || g->staleness < 0)
        abort();
    if (strlen(g->model_sha256) != 64 || !g->respacing[0]) abort();

    // Written and read back: the same file.
    LzError err;
    const char *out = fuzz_out_path();
    if (gates_write(g, out, &err)) abort();
    GateFile h;
    if (gates_read(&h, out, kind, &err)) abort();
    if (h.S != g->S || h.L != g->L || h.D != g->D || memcmp(h.w, g->w, sizeof(float) * (size_t)n) ||
        strcmp(h.respacing, g->respacing) || strcmp(h.model_sha256, g->model_sha256) ||
        strcmp(h.calibration, g->calibration) || !same_double(h.rho_attn, g->rho_attn) ||
        !same_double(h.rho_mlp, g->rho_mlp) || !same_double(h.threshold, g->threshold) ||
        h.staleness != g->staleness || !same_double(h.target_ratio, g->target_ratio) ||
        !same_double(h.realised_ratio, g->realised_ratio) || h.calibration_samples != g->calibration_samples ||
        h.calibration_seed != g->calibration_seed || !same_double(h.calibration_cfg, g->calibration_cfg))
        abort();
    gates_free(&h);

    // A run of the file's own shape accepts it, and its policy initialises.
    DitConfig cfg = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = g->D, .depth = g->L, .heads = 1,
                     .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 4 * g->D, .freq_dim = 256};
    if (gates_check_run(g, path, g->S, g->respacing, &cfg, NULL, &err)) abort();
    if (kind == GATES_LAZYDIT && g->D > 1 && gates_check_run(g, path, g->S, g->respacing,
                                                             &(DitConfig){.hidden = g->D - 1, .depth = g->L}, NULL,
                                                             &err) == 0)
        abort();
    if (gates_check_run(g, path, g->S + 1, g->respacing, &cfg, NULL, &err) == 0) abort();
    Policy p;
    memset(&p, 0, sizeof p);
    PolicyArg arg = {kind == GATES_L2C ? "router" : "gates", path};
    if (policy_create(&p, kind == GATES_L2C ? "l2c" : "lazydit", NULL, &arg, 1, &err)) abort();
    PolicyEnv env = {.cfg = &cfg, .num_steps = g->S, .respacing = g->respacing, .max_rows = 2};
    if (policy_init(&p, &env, &err)) abort();
    policy_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    for (int k = 0; k < 2; k++) {
        GateKind kind = k ? GATES_L2C : GATES_LAZYDIT;
        GateFile g;
        LzError err;
        if (gates_read(&g, path, kind, &err) == 0) {
            check_loaded(&g, kind, path);
            gates_free(&g);
        } else if (!err.msg[0] || strchr(err.msg, '\n')) {
            abort();
        }
    }
    return 0;
}
