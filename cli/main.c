// lazydit: one binary, one subcommand per research task. See README.md.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const Command commands[] = {
    {"forward", cmd_forward, "run the DiT forward pass (or forward_with_cfg) on .npy inputs"},
    {"init", cmd_init, "write a freshly initialised DiT as safetensors"},
    {"info", cmd_info, "print a checkpoint's configuration, parameter count and MACs"},
    {"train", cmd_train, "train a DiT from a JSON config (checkpoints, exact resume, loss CSV)"},
    {"train-classifier", cmd_train_classifier, "train the FID-proxy feature classifier from a JSON config"},
    {"classify", cmd_classify, "classifier accuracy and FID/sFID/IS-proxy features (.npy) for a dataset"},
    {"metrics", cmd_metrics, "FD, KID, precision/recall (+ bootstrap CIs) of two feature matrices"},
    {"eval", cmd_eval, "all metrics of generated images vs the test split (FID/sFID/IS-proxy, P/R, KID, ...)"},
    {"sample", cmd_sample, "DDIM/DDPM sampling with CFG and a lazy policy to .npy (+ labels, PNG grid, MACs)"},
    {"report", cmd_report, "REPORT.md with tables, gnuplot figures and claim verdicts from a result database"},
    {"noise", cmd_noise, "write torch.manual_seed(S); torch.randn(shape) as .npy, bit-exact"},
    {"calibrate", cmd_calibrate, "fit TeaCache's polynomial or SmoothCache's error curves on calibration runs"},
    {"run", cmd_run, "run an experiment config (a sweep) into a result database, resumable, sharded"},
    {"merge", cmd_merge, "merge result databases (shards of one experiment), idempotently"},
    {"train-lazy", cmd_train_lazy, "train LazyDiT gates on a frozen DiT (optionally calibrated to a lazy ratio)"},
    {"train-l2c", cmd_train_l2c, "train a Learning-to-Cache router on a frozen DiT"},
    {"calibrate-gates", cmd_calibrate_gates, "calibrate a gate/router threshold to a lazy ratio, or measure it"},
};

static void print_usage(FILE *f) {
    fprintf(f, "usage: lazydit <command> [options]   (lazydit <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lazydit: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
