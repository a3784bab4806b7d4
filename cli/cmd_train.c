// lazydit train: trains a DiT from a JSON config (model/dit_train_job.h): progress,
// periodic checkpoints, exact resume, a CSV loss curve, the EMA export.
#include <stdbool.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/dit_train_job.h"

int cmd_train(int argc, char **argv) {
    const char *config_path = NULL;
    bool fresh = false;
    long stop_after = 0;
    ArgSpec specs[] = {
        {"--config", ARG_STRING, &config_path, true, "training config (JSON), e.g. experiments/models/fmnist_dit.json",
         false},
        {"--fresh", ARG_FLAG, &fresh, false, "ignore an existing checkpoint in out_dir and start from step 0", false},
        {"--stop-after", ARG_LONG, &stop_after, false,
         "stop (with a checkpoint) after this many steps in this invocation; resume later", false},
    };
    ArgParser p = {"train", "--config CONFIG.json [--fresh] [--stop-after N]",
                   "Trains a class-conditional DiT with the official objective (epsilon MSE + VB term\n"
                   "for learn_sigma), AdamW and an EMA of the weights. Resumes from\n"
                   "<out_dir>/checkpoint.safetensors when it exists; a resumed run ends bit-identical\n"
                   "to an uninterrupted one. Writes <out_dir>/loss.csv, <out_dir>/ema.safetensors and,\n"
                   "if the config names one, the exported EMA weights; DiT files record the diffusion\n"
                   "schedule (train.diffusion_schedule / diffusion_steps, default linear 1000), which\n"
                   "`lazydit sample` reads back. Config keys: model/dit_train_job.h.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (stop_after < 0) cli_usage("train", "--stop-after %ld must be >= 0", stop_after);
    LzError err = {{0}};
    DitTrainConfig c;
    if (dit_train_config_load(&c, config_path, &err)) cli_fail_in("train", "%s", err.msg);
    DitTrainRunOptions o = {.fresh = fresh, .stop_after = stop_after, .progress = 1};
    DitTrainRunResult r;
    if (dit_train_run(&r, &c, &o, &err)) cli_fail_in("train", "%s", err.msg);
    dit_train_config_free(&c);
    return 0;
}
