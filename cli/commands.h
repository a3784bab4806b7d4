// commands.h: every `lazydit` subcommand. Each lives in cli/cmd_<name>.c and
// takes argv with argv[0] = the subcommand name. Returns the process exit code.
#pragma once

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

int cmd_forward(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train_classifier(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_noise(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_train_lazy(int argc, char **argv);
int cmd_train_l2c(int argc, char **argv);
int cmd_calibrate_gates(int argc, char **argv);
