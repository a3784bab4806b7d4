// lazydit info: configuration, parameter count and MACs of a checkpoint.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_info(int argc, char **argv) {
    int heads = 0, steps = 50;
    bool allow_nonfinite = false;
    ArgSpec specs[] = {
        {"--heads", ARG_INT, &heads, false, "attention heads if the file does not say", false},
        {"--steps", ARG_INT, &steps, false, "sampling steps for the per-sample MAC total (default 50)", false},
        {"--allow-nonfinite", ARG_FLAG, &allow_nonfinite, false,
         "describe a checkpoint even if it holds NaN or infinite weights (e.g. a diverged run)", false},
    };
    ArgParser p = {"info", "W.safetensors [--heads H] [--steps 50]",
                   "Prints the configuration inferred from the tensors, the parameter count and\n"
                   "the multiply-accumulates of one forward pass per image, counted two ways:\n"
                   "all matmuls (linear, conv, attention; the DiT paper's Gflops) and linear and\n"
                   "conv layers only (LazyDiT's TMACs).",
                   specs, sizeof specs / sizeof specs[0], 1, 1, {0}, 0};
    args_parse(&p, argc, argv);
    const char *path = p.positional[0];
    DitConfig c;
    float *params;
    LzError err;
    if (heads < 0) cli_usage("info", "--heads %d must be >= 1 (or 0: inferred)", heads);
    if (steps < 1) cli_usage("info", "--steps %d must be >= 1", steps);
    DiffusionSchedule sched;
    if (dit_load_ex(path, heads, allow_nonfinite ? DIT_LOAD_ALLOW_NONFINITE : 0, &c, &params, &sched, &err))
        cli_fail_in("info", "%s", err.msg);
    free(params);
    char name[32], b1[32], b2[32], b3[32], b4[32];
    DitMacs m = dit_macs(&c);
    printf("file            %s\n", path);
    printf("config          %s\n", dit_config_name(&c, name, sizeof name));
    printf("input           %d x %d x %d (patch %d, %d tokens)\n", c.in_channels, c.input_size, c.input_size, c.patch,
           dit_tokens(&c));
    printf("hidden          %d, depth %d, heads %d (head size %d), mlp %d\n", c.hidden, c.depth, c.heads,
           dit_head_size(&c), c.mlp_hidden);
    printf("classes         %d (+1 null row for CFG)\n", c.num_classes);
    printf("learn_sigma     %s (output channels %d)\n", c.learn_sigma ? "yes" : "no", dit_out_channels(&c));
    printf("diffusion       %s, %d steps (the schedule it was trained with)\n", sched.name, sched.steps);
    printf("parameters      %ld (%s)\n", dit_param_count(&c), cli_si((double)dit_param_count(&c), b1, sizeof b1));
    printf("MACs/forward    all %sMAC, linear+conv %sMAC, attention %sMAC\n", cli_si(m.total, b1, sizeof b1),
           cli_si(m.linear, b2, sizeof b2), cli_si(m.attention, b3, sizeof b3));
    printf("MACs/sample     %d steps: all %sMAC, linear+conv %sMAC (x2 with CFG)\n", steps,
           cli_si(steps * m.total, b1, sizeof b1), cli_si(steps * m.linear, b4, sizeof b4));
    return 0;
}
