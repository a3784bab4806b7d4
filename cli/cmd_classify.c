// lazydit classify: runs the feature classifier over a dataset, prints its
// accuracy and optionally dumps logits, probabilities and the FID/sFID-proxy
// features as .npy for the metrics.
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/classifier.h"
#include "model/io/dataset.h"

int cmd_classify(int argc, char **argv) {
    const char *weights = NULL, *data = "test", *split = "test", *images = NULL, *labels = NULL;
    const char *features_out = NULL, *spatial_out = NULL, *probs_out = NULL, *logits_out = NULL;
    int batch = 256, threads = 2;
    double min_acc = -1;
    ArgSpec specs[] = {
        {"--weights", ARG_STRING, &weights, true, "classifier safetensors (e.g. models/classifier.safetensors)", false},
        {"--data", ARG_STRING, &data, false, "test | train (Fashion-MNIST at its Debian path) or an MNIST-layout DIR (default test)", false},
        {"--split", ARG_STRING, &split, false, "split to read from a --data DIR: train or test (default test)", false},
        {"--images", ARG_STRING, &images, false, "images .npy (N, 1, H, W) uint8 or float in [-1, 1] (or IDX); overrides --data", false},
        {"--labels", ARG_STRING, &labels, false, "labels .npy (N,) for --images (optional: without it no accuracy)", false},
        {"--features-out", ARG_STRING, &features_out, false, "write penultimate features (N, hidden) .npy (FID-proxy)", false},
        {"--spatial-out", ARG_STRING, &spatial_out, false, "write spatial features (N, c3*H/4*W/4) .npy (sFID-proxy)", false},
        {"--probs-out", ARG_STRING, &probs_out, false, "write softmax probabilities (N, classes) .npy (IS-proxy)", false},
        {"--logits-out", ARG_STRING, &logits_out, false, "write logits (N, classes) .npy", false},
        {"--batch", ARG_INT, &batch, false, "images per forward chunk (default 256)", false},
        {"--threads", ARG_INT, &threads, false, "OpenBLAS threads (default 2)", false},
        {"--min-accuracy", ARG_DOUBLE, &min_acc, false, "exit 1 if the accuracy is below this (tests)", false},
    };
    ArgParser p = {"classify", "--weights W.safetensors [--data test|train|DIR] [--images X.npy [--labels Y.npy]] [...]",
                   "Runs the FID-proxy feature classifier over a dataset and prints\n"
                   "\"accuracy A (correct/N) <source>\" on stdout when labels are known.\n"
                   "Features: penultimate = relu(fc1); spatial = the last pooled conv map in\n"
                   "(C, H, W) order (see model/classifier.h).",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (batch < 1 || threads < 1) {
        fprintf(stderr, "lazydit classify: --batch and --threads must be >= 1\n");
        return 2;
    }
    if (labels && !images) {
        fprintf(stderr, "lazydit classify: --labels needs --images\n");
        return 2;
    }
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "classify", weights);
    if (images) cli_input(&rf, "classify", images);
    if (labels) cli_input(&rf, "classify", labels);
    const char *outs[] = {logits_out, probs_out, features_out, spatial_out};
    for (int i = 0; i < 4; i++)
        if (outs[i]) cli_output(&rf, "classify", outs[i], RF_STAGED);
    openblas_set_num_threads(threads);
    LzError err = {{0}};
    // Errors exit from where they are found (cli_fail_in), with every buffer
    // still referenced, which also keeps LeakSanitizer quiet under make asan.
    Classifier *m = classifier_load(weights, batch, &err);
    if (!m) cli_fail_in("classify", "%s", err.msg);
    Dataset ds;
    int rc = images ? dataset_load_files(&ds, images, labels, &err) : dataset_load_spec(&ds, data, split, &err);
    if (rc) cli_fail_in("classify", "%s", err.msg);
    if (ds.c != m->cfg.in_c || ds.h != m->cfg.h || ds.w != m->cfg.w)
        cli_fail_in("classify", "%s: images are %dx%dx%d but the classifier takes %dx%dx%d", ds.source, ds.c, ds.h,
                    ds.w, m->cfg.in_c, m->cfg.h, m->cfg.w);
    int nc, pd, sd;
    classifier_feature_dims(m, &nc, &pd, &sd);
    const long n = ds.n;
    float *logits = lz_malloc(sizeof(float) * (size_t)n * nc, "logits");
    float *pen = features_out ? lz_malloc(sizeof(float) * (size_t)n * pd, "penultimate features") : NULL;
    float *spa = spatial_out ? lz_malloc(sizeof(float) * (size_t)n * sd, "spatial features") : NULL;
    classifier_forward(m, ds.images, n, logits, pen, spa);
    int status = 0;
    if (ds.labels) {
        long correct = 0, bad = 0;
        for (long i = 0; i < n; i++) {
            const float *z = logits + i * nc;
            int best = 0;
            for (int k = 1; k < nc; k++)
                if (z[k] > z[best]) best = k;
            correct += best == ds.labels[i];
            bad += ds.labels[i] >= nc;
        }
        double acc = (double)correct / n;
        printf("accuracy %.4f (%ld/%ld) %s\n", acc, correct, n, ds.source);
        if (bad) fprintf(stderr, "lazydit classify: warning: %ld labels are >= the %d classes\n", bad, nc);
        if (min_acc >= 0 && acc < min_acc) {
            fprintf(stderr, "lazydit classify: accuracy %.4f is below --min-accuracy %.4f\n", acc, min_acc);
            status = 1;
        }
    } else if (min_acc >= 0) {
        fprintf(stderr, "lazydit classify: --min-accuracy needs labels\n");
        status = 1;
    }
    run_files_begin(&rf);
    if (logits_out) cli_write_f32(logits_out, 2, (long[]){n, nc}, logits);
    if (probs_out) {
        // softmax of the logits already computed (the same as classifier_probs)
        for (long i = 0; i < n; i++) {
            float *z = logits + i * nc;
            double mx = z[0], s = 0;
            for (int k = 1; k < nc; k++) mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < nc; k++) s += exp(z[k] - mx);
            for (int k = 0; k < nc; k++) z[k] = (float)(exp(z[k] - mx) / s);
        }
        cli_write_f32(probs_out, 2, (long[]){n, nc}, logits);
    }
    if (pen) cli_write_f32(features_out, 2, (long[]){n, pd}, pen);
    if (spa) cli_write_f32(spatial_out, 2, (long[]){n, sd}, spa);
    cli_publish(&rf, "classify");
    free(logits);
    free(pen);
    free(spa);
    dataset_free(&ds);
    classifier_free(m);
    return status;
}
