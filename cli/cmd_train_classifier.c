// lazydit train-classifier: trains the FID-proxy feature classifier from a
// JSON config (model/classifier_train.h, e.g. experiments/models/classifier.json).
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/classifier_train.h"

int cmd_train_classifier(int argc, char **argv) {
    const char *config = NULL;
    int max_steps = 0;
    ArgSpec specs[] = {
        {"--config", ARG_STRING, &config, true, "JSON training config (see experiments/models/classifier.json)", false},
        {"--max-steps", ARG_INT, &max_steps, false, "stop after N steps, same schedule (smoke tests, checks; 0 = whole run)", false},
    };
    ArgParser p = {"train-classifier", "--config C.json [--max-steps N]",
                   "Trains the FID-proxy feature classifier (model/classifier.h) with AdamW on\n"
                   "Fashion-MNIST (or any MNIST-layout directory or .npy pair named in the config).\n"
                   "Prints a progress line on stderr every log_every steps, writes a CSV loss curve\n"
                   "(step,epoch,lr,train_loss,train_acc,test_acc,elapsed_s; test_acc filled at epoch\n"
                   "ends) and saves the weights as safetensors after every epoch. Config keys:\n"
                   "data_dir, train_images/train_labels, test_images/test_labels, epochs, batch_size,\n"
                   "lr, lr_schedule (cosine|constant), warmup_steps, weight_decay, beta1, beta2, eps,\n"
                   "seed, shift_px, hflip, threads, log_every, out, loss_csv, c1, c2, c3, hidden, comment.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (max_steps < 0) cli_usage("train-classifier", "--max-steps %d must be >= 0", max_steps);
    LzError err = {{0}};
    ClassifierTrainConfig c;
    if (classifier_train_config_load(&c, config, &err)) cli_fail_in("train-classifier", "%s", err.msg);
    c.max_steps = max_steps;
    ClassifierTrainResult r;
    if (classifier_train_run(&r, &c, &err)) cli_fail_in("train-classifier", "%s", err.msg);
    printf("test_accuracy %.4f\n", r.test_accuracy);
    classifier_train_config_free(&c);
    return 0;
}
