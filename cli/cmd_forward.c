// lazydit forward: one forward pass (or forward_with_cfg) on .npy inputs.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_forward(int argc, char **argv) {
    const char *weights = NULL, *xpath = NULL, *tpath = NULL, *ypath = NULL, *out = NULL, *guide = "3";
    double cfg_scale = 0;
    int heads = 0;
    bool allow_nonfinite = false;
    ArgSpec specs[] = {
        {"--weights", ARG_STRING, &weights, true, "DiT checkpoint (.safetensors)", false},
        {"--x", ARG_STRING, &xpath, true, "inputs (N, C, H, W) float32 .npy", false},
        {"--t", ARG_STRING, &tpath, true, "timesteps (N,) integer or float .npy", false},
        {"--y", ARG_STRING, &ypath, true, "labels (N,) integer .npy; num_classes = null class", false},
        {"--cfg-scale", ARG_DOUBLE, &cfg_scale, false,
         "run forward_with_cfg with this scale: N even, y = conditional labels then null labels", false},
        {"--guide-channels", ARG_STRING, &guide, false,
         "channels guided by CFG: 3 (official default) or 'all' (every epsilon channel)", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the file does not say (default: inferred)", false},
        {"--out", ARG_STRING, &out, true, "output (N, Cout, H, W) float32 .npy", false},
        {"--allow-nonfinite", ARG_FLAG, &allow_nonfinite, false,
         "accept NaN and infinity in the weights and in x (to trace how they propagate)", false},
    };
    ArgParser p = {"forward", "--weights W --x X.npy --t T.npy --y Y.npy [--cfg-scale S] --out OUT.npy",
                   "Runs the DiT on a batch exactly as the official model's forward(x, t, y), or\n"
                   "forward_with_cfg(x, t, y, S) when --cfg-scale is given (the first half of x is\n"
                   "used for both halves, as upstream).",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (args_seen(&p, "--heads") && heads < 1) cli_usage("forward", "--heads %d must be >= 1 (leave it out to infer)", heads);
    // Every file of the run is checked before any work: the output may be
    // none of the inputs, and it appears only once the pass has succeeded.
    RunFiles rf;
    run_files_init(&rf);
    const char *inputs[] = {weights, xpath, tpath, ypath};
    for (int i = 0; i < 4; i++) cli_input(&rf, "forward", inputs[i]);
    cli_output(&rf, "forward", out, RF_STAGED);

    NpyArray x = cli_read_f32("forward", xpath), t = cli_read_f32("forward", tpath), y = cli_read_i64("forward", ypath);
    if (x.ndim != 4)
        cli_fail_in("forward", "%s: expected x of shape (N, C, H, W), got %d dimensions", xpath, x.ndim);
    if (x.shape[0] < 1 || x.shape[0] > 65536 || x.count == 0)
        cli_fail_in("forward", "%s: batch of %ld inputs of shape (%ld, %ld, %ld), expected 1 to 65536 non-empty inputs",
                    xpath, x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    int N = (int)x.shape[0];
    if (t.ndim != 1 || t.shape[0] != N)
        cli_fail_in("forward", "%s: expected t of shape (%d,) to match x", tpath, N);
    if (y.ndim != 1 || y.shape[0] != N)
        cli_fail_in("forward", "%s: expected y of shape (%d,) to match x", ypath, N);
    cli_require_finite("forward", tpath, "timestep", t.data, t.count);
    if (!allow_nonfinite) cli_require_finite("forward", xpath, "x", x.data, x.count);
    DitModel m;
    cli_load_dit_flags("forward", &m, weights, heads, allow_nonfinite ? DIT_LOAD_ALLOW_NONFINITE : 0, N, 0, NULL);
    const DitConfig *c = &m.cfg;
    if (x.shape[1] != c->in_channels || x.shape[2] != c->input_size || x.shape[3] != c->input_size)
        cli_fail_in("forward", "%s: x has shape (%ld, %ld, %ld, %ld) but %s expects (N, %d, %d, %d)", xpath,
                    x.shape[0], x.shape[1], x.shape[2], x.shape[3], weights, c->in_channels, c->input_size,
                    c->input_size);
    int *labels = lz_malloc(sizeof(int) * N, "labels");
    for (int i = 0; i < N; i++) {
        long long v = ((long long *)y.data)[i];
        if (v < 0 || v > c->num_classes)
            cli_fail_in("forward", "%s: label %lld at index %d outside 0..%d (%d is the null class)", ypath, v, i,
                        c->num_classes, c->num_classes);
        labels[i] = (int)v;
    }
    const float *result;
    if (args_seen(&p, "--cfg-scale")) {
        if (N % 2)
            cli_fail_in("forward", "%s: --cfg-scale needs an even batch (conditional half, null half), got %d", xpath, N);
        int guide_channels = cli_parse_guide_channels("forward", guide, c);
        result = dit_forward_cfg(&m, x.data, t.data, labels, N, (float)cfg_scale, guide_channels, NULL, NULL);
    } else {
        dit_forward(&m, x.data, t.data, labels, N, NULL, NULL);
        result = m.acts.out;
    }
    long shape[4] = {N, dit_out_channels(c), c->input_size, c->input_size};
    run_files_begin(&rf);
    cli_write_f32("forward", out, 4, shape, result);
    cli_publish(&rf, "forward");
    free(labels);
    npy_free(&x);
    npy_free(&t);
    npy_free(&y);
    dit_free(&m);
    return 0;
}
