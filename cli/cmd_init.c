// lazydit init: a freshly initialised DiT as safetensors.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL;
    int input_size = 32, in_channels = 4, classes = 1000, depth = 0, hidden = 0, heads = 0;
    long seed = 0;
    bool learn_sigma = false, randomize_all = false;
    ArgSpec specs[] = {
        {"--config", ARG_STRING, &config, true, "DiT-S|B|L|XL/2|4|8", false},
        {"--input-size", ARG_INT, &input_size, false, "input height = width (default 32, a 256x256 latent)", false},
        {"--in-channels", ARG_INT, &in_channels, false, "input channels (default 4)", false},
        {"--classes", ARG_INT, &classes, false, "number of classes (default 1000; +1 null row)", false},
        {"--learn-sigma", ARG_FLAG, &learn_sigma, false, "output 2C channels (epsilon and variance)", false},
        {"--depth", ARG_INT, &depth, false, "override the named config's depth", false},
        {"--hidden", ARG_INT, &hidden, false, "override the named config's hidden size", false},
        {"--heads", ARG_INT, &heads, false, "override the named config's head count", false},
        {"--seed", ARG_LONG, &seed, true, "initialisation seed", false},
        {"--randomize-all", ARG_FLAG, &randomize_all, false,
         "randomise every parameter (tests, benchmarks) instead of the official zero-init", false},
        {"--out", ARG_STRING, &out, true, "output .safetensors", false},
    };
    ArgParser p = {"init", "--config DiT-S/2 --seed S --out W.safetensors [options]",
                   "Writes a DiT with the official initialisation (adaLN and final layer zero: the\n"
                   "model outputs exactly 0) or, with --randomize-all, every parameter random.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    DitConfig c = {.input_size = input_size, .in_channels = in_channels, .num_classes = classes,
                   .learn_sigma = learn_sigma};
    LzError err;
    if (dit_config_named(&c, config, &err)) cli_usage("init", "--config: %s", err.msg);
    const char *names[3] = {"--depth", "--hidden", "--heads"};
    const int vals[3] = {depth, hidden, heads};
    for (int i = 0; i < 3; i++)
        if (args_seen(&p, names[i]) && vals[i] < 1) cli_usage("init", "%s %d must be >= 1", names[i], vals[i]);
    RunFiles rf;
    run_files_init(&rf);
    cli_output(&rf, "init", out, 0);
    run_files_free(&rf);
    if (depth) c.depth = depth;
    if (hidden) c.hidden = hidden, c.mlp_hidden = 4 * hidden;
    if (heads) c.heads = heads;
    if (dit_config_validate(&c, &err)) cli_usage("init", "%s", err.msg);
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "DiT parameters");
    if (randomize_all) dit_init_random(params, &c, (uint64_t)seed);
    else dit_init_official(params, &c, (uint64_t)seed);
    if (dit_save(out, &c, params, &err)) cli_fail_in("init", "%s", err.msg);
    free(params);
    return 0;
}
