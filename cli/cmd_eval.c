// lazydit eval: every metric of generated images against the Fashion-MNIST
// test split through the feature classifier (analysis/eval_job.h: FID/sFID/
// IS-proxy, precision/recall, KID, class consistency with --labels, PSNR/SSIM
// against --reference from the same noise, bootstrap intervals with
// --bootstrap), on the 8-bit form of the images unless --no-quantize. One
// JSON object with --json, a table otherwise. See docs/metrics.md.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/eval_job.h"
#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/base/clock.h"

static const char *origin_name(RefStatsOrigin o) {
    return o == REFSTATS_LOADED ? "loaded" : o == REFSTATS_BUILT ? "built" : "computed";
}

static void print_json(const EvalResult *r, const RefStats *rs, const EvalConfig *cfg, const char *hash, bool quantized) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)r->n);
    cJSON_AddNumberToObject(o, "fid", r->fid);
    cJSON_AddNumberToObject(o, "sfid", r->sfid);
    cJSON_AddNumberToObject(o, "is_mean", r->is_mean);
    cJSON_AddNumberToObject(o, "is_std", r->is_std);
    cJSON_AddNumberToObject(o, "precision", r->pr.precision);
    cJSON_AddNumberToObject(o, "recall", r->pr.recall);
    cJSON_AddNumberToObject(o, "density", r->pr.density);
    cJSON_AddNumberToObject(o, "coverage", r->pr.coverage);
    cJSON_AddNumberToObject(o, "kid_mean", r->kid.mean);
    cJSON_AddNumberToObject(o, "kid_std", r->kid.std);
    cJSON_AddNumberToObject(o, "kid_subsets", r->kid.subsets);
    cJSON_AddNumberToObject(o, "kid_subset_size", (double)r->kid.subset_size);
    if (r->has_consistency) cJSON_AddNumberToObject(o, "class_consistency", r->class_consistency);
    if (r->has_fidelity) {
        // JSON has no infinity: identical pairs make the mean PSNR +inf -> null
        if (isfinite(r->fidelity.psnr_mean))
            cJSON_AddNumberToObject(o, "psnr", r->fidelity.psnr_mean);
        else
            cJSON_AddNullToObject(o, "psnr");
        cJSON_AddNumberToObject(o, "ssim", r->fidelity.ssim_mean);
        cJSON_AddNumberToObject(o, "mse", r->fidelity.mse_mean);
        cJSON_AddNumberToObject(o, "identical_pairs", (double)r->fidelity.identical);
    }
    if (r->has_bootstrap) {
        cJSON_AddNumberToObject(o, "bootstrap", cfg->bootstrap);
        cJSON_AddNumberToObject(o, "ci_level", r->fid_ci.level);
        cJSON_AddItemToObject(o, "fid_ci", cli_json_pair(r->fid_ci.lo, r->fid_ci.hi));
        cJSON_AddItemToObject(o, "kid_ci", cli_json_pair(r->kid_ci.lo, r->kid_ci.hi));
        cJSON_AddItemToObject(o, "fid_ci_raw", cli_json_pair(r->fid_ci.raw_lo, r->fid_ci.raw_hi));
        cJSON_AddItemToObject(o, "kid_ci_raw", cli_json_pair(r->kid_ci.raw_lo, r->kid_ci.raw_hi));
        cJSON_AddNumberToObject(o, "kid_full", r->kid_ci.point);
    }
    cJSON_AddNumberToObject(o, "k", cfg->k);
    cJSON_AddNumberToObject(o, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(o, "sfid_channels", rs->sfid_channels);
    cJSON_AddNumberToObject(o, "sfid_dim", rs->sfid_dim);
    cJSON_AddNumberToObject(o, "ref_n", (double)rs->n);
    if (rs->correct >= 0) cJSON_AddNumberToObject(o, "ref_accuracy", (double)rs->correct / (double)rs->n);
    cJSON_AddNumberToObject(o, "ref_is_mean", rs->is_mean);
    cJSON_AddStringToObject(o, "ref_cache", origin_name(rs->origin));
    cJSON_AddStringToObject(o, "classifier_hash", hash);
    cJSON_AddBoolToObject(o, "quantized", quantized);
    cli_print_json(o);
}

static void print_table(const EvalResult *r, const RefStats *rs, const EvalConfig *cfg, const char *hash,
                        const char *samples, const char *classifier, bool quantized) {
    printf("samples            %s (N = %ld)\n", samples, r->n);
    printf("pixels             %s\n", quantized ? "8-bit: clamped to [-1, 1] and rounded to 256 levels (as saved images)"
                                                   : "as given (--no-quantize)");
    printf("classifier         %s (sha256 %.16s)\n", classifier, hash);
    printf("reference          Fashion-MNIST test split, %ld images (%s%s%s)\n", rs->n, origin_name(rs->origin),
           rs->path[0] ? " " : "", rs->path);
    printf("fid                %.6g", r->fid);
    if (r->has_bootstrap)
        printf("   [%.6g, %.6g] %g%% bootstrap, B = %d", r->fid_ci.lo, r->fid_ci.hi, 100 * r->fid_ci.level,
               cfg->bootstrap);
    printf("\nsfid               %.6g   (first %d channels, %d dims)\n", r->sfid, rs->sfid_channels, rs->sfid_dim);
    printf("is                 %.4f +- %.3g   (reference %.4f)\n", r->is_mean, r->is_std, rs->is_mean);
    printf("precision          %.4f   (k = %d)\nrecall             %.4f\n", r->pr.precision, cfg->k, r->pr.recall);
    printf("density            %.4f\ncoverage           %.4f\n", r->pr.density, r->pr.coverage);
    printf("kid                %.6g +- %.3g (%d subsets of %ld)", r->kid.mean, r->kid.std, r->kid.subsets,
           r->kid.subset_size);
    if (r->has_bootstrap) printf("   [%.6g, %.6g] (full-set %.6g)", r->kid_ci.lo, r->kid_ci.hi, r->kid_ci.point);
    printf("\n");
    if (r->has_consistency) {
        printf("class consistency  %.4f", r->class_consistency);
        if (rs->correct >= 0) printf("   (classifier accuracy on the reference %.4f)", (double)rs->correct / rs->n);
        printf("\n");
    }
    if (r->has_fidelity) {
        if (isfinite(r->fidelity.psnr_mean))
            printf("psnr               %.4f dB\n", r->fidelity.psnr_mean);
        else
            printf("psnr               inf   (%ld of %ld pairs identical; mse %.3g)\n", r->fidelity.identical,
                   r->fidelity.pairs, r->fidelity.mse_mean);
        printf("ssim               %.6f\n", r->fidelity.ssim_mean);
    }
}

int cmd_eval(int argc, char **argv) {
    EvalJobOptions o = eval_job_default_options();
    const char *samples_path = NULL, *labels_path = NULL, *paired_path = NULL;
    int bootstrap = 0;
    long seed = 0;
    double min_consistency = NAN;  // NAN: no floor
    bool json = false, verbose = false, no_quantize = false;
    ArgSpec specs[] = {
        {"--samples", ARG_STRING, &samples_path, true,
         "generated images (N, 1, 28, 28) or (N, 28, 28) .npy, float in [-1, 1] (uint8 is scaled)", false},
        {"--labels", ARG_STRING, &labels_path, false, "conditioning labels (N,) .npy: adds class consistency", false},
        {"--reference", ARG_STRING, &paired_path, false,
         "images from the same noise by the full-compute sampler, same shape: adds PSNR and SSIM", false},
        {"--classifier", ARG_STRING, &o.classifier, false, "feature classifier (default " EVAL_DEFAULT_CLASSIFIER ")",
         false},
        {"--bootstrap", ARG_INT, &bootstrap, false, "B >= 2: 95% bootstrap intervals for FID and KID (default 0, off)",
         false},
        {"--seed", ARG_LONG, &seed, false, "seed for KID subsets and bootstrap resamples (default 0)", false},
        {"--cache-dir", ARG_STRING, &o.cache_dir, false,
         "reference statistics cache (default " REFSTATS_DEFAULT_CACHE_DIR ", relative to the working directory)",
         false},
        {"--threads", ARG_INT, &o.threads, false, "OpenBLAS threads for KID, precision/recall, FD (default 2; features always use 1)", false},
        {"--classifier-batch", ARG_INT, &o.classifier_batch, false, "images per classifier forward (default 256)", false},
        {"--no-quantize", ARG_FLAG, &no_quantize, false,
         "score the floats as given (default: clamp to [-1, 1] and round to 8 bits first, like saved images)", false},
        {"--json", ARG_FLAG, &json, false, "print one JSON object instead of a table", false},
        {"--min-consistency", ARG_DOUBLE, &min_consistency, false,
         "exit 1 if class consistency (needs --labels) is below this fraction (model checks)", false},
        {"--verbose", ARG_FLAG, &verbose, false, "print the reference origin and timings to stderr", false},
    };
    ArgParser p = {"eval",
                   "--samples S.npy [--labels Y.npy] [--reference R.npy] [--classifier W.safetensors] "
                   "[--bootstrap B] [--seed S] [--cache-dir DIR] [--threads T] [--no-quantize] [--json] "
                   "[--min-consistency F] [--verbose]",
                   "Evaluates generated images against the Fashion-MNIST test split with the\n"
                   "feature classifier: FID-proxy (penultimate features), sFID-proxy (first 7\n"
                   "channels of the last conv map), IS-proxy (10 splits), precision/recall and\n"
                   "density/coverage (k = 3), KID (100 subsets of min(1000, N)); with --labels\n"
                   "class consistency, with --reference PSNR/SSIM, with --bootstrap B 95%\n"
                   "intervals for FID and KID (samples resampled, reference fixed). Images are\n"
                   "clamped to [-1, 1] and rounded to 8 bits first (the form the ADM evaluator\n"
                   "reads; --no-quantize keeps the floats). Reference statistics are cached in\n"
                   "--cache-dir under the classifier file's SHA-256 and rebuilt when it changes.\n"
                   "See docs/metrics.md.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (seed < 0) cli_usage("eval", "--seed %ld must be >= 0", seed);
    if (bootstrap < 0 || bootstrap == 1) cli_usage("eval", "--bootstrap %d: give 0 (off) or at least 2 resamples", bootstrap);
    if (o.threads < 1) cli_usage("eval", "--threads %d must be >= 1", o.threads);
    if (o.classifier_batch < 1) cli_usage("eval", "--classifier-batch %d must be >= 1", o.classifier_batch);
    const bool has_floor = !isnan(min_consistency);
    if (has_floor && !(min_consistency >= 0 && min_consistency <= 1))
        cli_usage("eval", "--min-consistency %g is a fraction: give a value in [0, 1]", min_consistency);
    if (has_floor && !labels_path) cli_usage("eval", "--min-consistency needs --labels (class consistency is per label)");
    o.quantize = !no_quantize;
    o.metrics.bootstrap = bootstrap;
    o.metrics.seed = (uint64_t)seed;
    double t_start = lz_now_seconds();

    LzError err = {{0}};
    EvalJob job;
    if (eval_job_open(&job, &o, &err)) cli_fail_in("eval", "%s", err.msg);
    const ClassifierConfig *c = &job.classifier->cfg;
    long n = 0, np = 0;
    float *samples = eval_read_images(samples_path, "samples", c, &n, &err);
    if (!samples) cli_fail_in("eval", "%s", err.msg);
    if (n < o.metrics.is_splits || n <= o.metrics.k)
        cli_fail_in("eval", "%s: %ld samples, need at least %d (IS splits) and more than k = %d", samples_path, n,
                    o.metrics.is_splits, o.metrics.k);
    int64_t *labels = NULL;
    if (labels_path && !(labels = eval_read_labels(labels_path, n, c->num_classes, &err)))
        cli_fail_in("eval", "%s", err.msg);
    float *paired = NULL;
    if (paired_path) {
        if (!(paired = eval_read_images(paired_path, "reference images", c, &np, &err))) cli_fail_in("eval", "%s", err.msg);
        if (np != n) cli_fail_in("eval", "%s: %ld reference images for %ld samples (shapes must match)", paired_path, np, n);
    }
    const long count = n * c->in_c * c->h * c->w;
    const char *paths[2] = {samples_path, paired_path};
    const float *sets[2] = {samples, paired};
    for (int s = 0; s < 2; s++) {
        float lo, hi;
        long out = sets[s] ? eval_count_out_of_range(sets[s], count, &lo, &hi) : 0;
        if (out)
            fprintf(stderr, "lazydit eval: warning: %s: %ld pixels outside [-1, 1] (min %g, max %g); %s\n", paths[s],
                    out, (double)lo, (double)hi, o.quantize ? "clamped by the 8-bit rounding" : "used as given");
    }

    if (eval_job_reference(&job, &err)) cli_fail_in("eval", "%s", err.msg);
    const RefStats *rs = &job.ref;
    if (rs->note[0]) fprintf(stderr, "lazydit eval: warning: %s\n", rs->note);
    if (verbose)
        fprintf(stderr, "eval: reference %s%s%s in %.2fs\n", origin_name(rs->origin), rs->path[0] ? " " : "", rs->path,
                job.t_reference);
    EvalResult r;
    if (eval_job_score(&job, &r, samples, n, labels, paired, &err)) cli_fail_in("eval", "%s: %s", samples_path, err.msg);
    if (verbose)
        fprintf(stderr,
                "eval: %ld samples: features %.2fs fd %.2fs is %.3fs kid %.2fs pr %.2fs fidelity %.2fs bootstrap "
                "%.2fs total %.2fs (%d threads)\n",
                n, r.t_features, r.t_fd, r.t_is, r.t_kid, r.t_pr, r.t_fidelity, r.t_bootstrap,
                lz_now_seconds() - t_start, o.threads);
    if (json)
        print_json(&r, rs, &o.metrics, job.classifier_hash, o.quantize);
    else
        print_table(&r, rs, &o.metrics, job.classifier_hash, samples_path, o.classifier, o.quantize);
    if (has_floor && r.class_consistency < min_consistency)
        cli_fail_in("eval", "class consistency %.4f is below --min-consistency %.4f (%s)", r.class_consistency,
                    min_consistency, samples_path);
    eval_job_close(&job);
    free(samples);
    free(labels);
    free(paired);
    return 0;
}
