// lazydit classify: the feature classifier over a dataset (analysis/classify_job.h):
// accuracy, and optionally logits, probabilities and the FID/sFID-proxy
// features as .npy for the metrics.
#include <stdbool.h>
#include <stdio.h>

#include "analysis/classify_job.h"
#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_classify(int argc, char **argv) {
    ClassifyOptions o = classify_default_options();
    const char *features_out = NULL, *spatial_out = NULL, *probs_out = NULL, *logits_out = NULL;
    double min_acc = -1;
    ArgSpec specs[] = {
        {"--weights", ARG_STRING, &o.weights, true, "classifier safetensors (e.g. models/classifier.safetensors)", false},
        {"--data", ARG_STRING, &o.data, false, "test | train (Fashion-MNIST at its Debian path) or an MNIST-layout DIR (default test)", false},
        {"--split", ARG_STRING, &o.split, false, "split to read from a --data DIR: train or test (default test)", false},
        {"--images", ARG_STRING, &o.images, false, "images .npy (N, 1, H, W) uint8 or float in [-1, 1] (or IDX); overrides --data", false},
        {"--labels", ARG_STRING, &o.labels, false, "labels .npy (N,) for --images (optional: without it no accuracy)", false},
        {"--features-out", ARG_STRING, &features_out, false, "write penultimate features (N, hidden) .npy (FID-proxy)", false},
        {"--spatial-out", ARG_STRING, &spatial_out, false, "write spatial features (N, c3*H/4*W/4) .npy (sFID-proxy)", false},
        {"--probs-out", ARG_STRING, &probs_out, false, "write softmax probabilities (N, classes) .npy (IS-proxy)", false},
        {"--logits-out", ARG_STRING, &logits_out, false, "write logits (N, classes) .npy", false},
        {"--batch", ARG_INT, &o.batch, false, "images per forward chunk (default 256)", false},
        {"--threads", ARG_INT, &o.threads, false, "OpenBLAS threads (default 2)", false},
        {"--min-accuracy", ARG_DOUBLE, &min_acc, false, "exit 1 if the accuracy is below this (tests)", false},
    };
    ArgParser p = {"classify", "--weights W.safetensors [--data test|train|DIR] [--images X.npy [--labels Y.npy]] [...]",
                   "Runs the FID-proxy feature classifier over a dataset and prints\n"
                   "\"accuracy A (correct/N) <source>\" on stdout when labels are known.\n"
                   "Features: penultimate = relu(fc1); spatial = the last pooled conv map in\n"
                   "(C, H, W) order (see model/classifier.h).",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (o.batch < 1) cli_usage("classify", "--batch %d must be >= 1", o.batch);
    if (o.threads < 1) cli_usage("classify", "--threads %d must be >= 1", o.threads);
    if (o.labels && !o.images) cli_usage("classify", "--labels needs --images");
    o.want_logits = logits_out != NULL;
    o.want_probs = probs_out != NULL;
    o.want_penultimate = features_out != NULL;
    o.want_spatial = spatial_out != NULL;

    // Inputs and outputs are checked before any work; the outputs appear
    // together once every one of them is written.
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "classify", o.weights);
    if (o.images) cli_input(&rf, "classify", o.images);
    if (o.labels) cli_input(&rf, "classify", o.labels);
    const char *outs[] = {logits_out, probs_out, features_out, spatial_out};
    for (int i = 0; i < 4; i++)
        if (outs[i]) cli_output(&rf, "classify", outs[i], RF_STAGED);

    LzError err = {{0}};
    ClassifyResult r;
    if (classify_run(&r, &o, &err)) cli_fail_in("classify", "%s", err.msg);
    const long n = r.n;
    run_files_begin(&rf);
    if (logits_out) cli_write_f32("classify", logits_out, 2, (long[]){n, r.num_classes}, r.logits);
    if (probs_out) cli_write_f32("classify", probs_out, 2, (long[]){n, r.num_classes}, r.probs);
    if (features_out) cli_write_f32("classify", features_out, 2, (long[]){n, r.pen_dim}, r.penultimate);
    if (spatial_out) cli_write_f32("classify", spatial_out, 2, (long[]){n, r.spatial_dim}, r.spatial);
    cli_publish(&rf, "classify");
    if (r.has_labels) {
        double acc = (double)r.correct / (double)n;
        printf("accuracy %.4f (%ld/%ld) %s\n", acc, r.correct, n, r.source);
        if (r.labels_beyond)
            fprintf(stderr, "lazydit classify: warning: %ld labels are >= the %d classes\n", r.labels_beyond,
                    r.num_classes);
        if (min_acc >= 0 && acc < min_acc)
            cli_fail_in("classify", "accuracy %.4f is below --min-accuracy %.4f", acc, min_acc);
    } else if (min_acc >= 0) {
        cli_fail_in("classify", "--min-accuracy needs labels (%s has none)", r.source);
    }
    classify_result_free(&r);
    return 0;
}
