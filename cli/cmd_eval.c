// lazydit eval: every metric of generated images against the Fashion-MNIST
// test split through the feature classifier (FID/sFID/IS-proxy, precision/
// recall, KID, class consistency with --labels, PSNR/SSIM against --reference
// from the same noise, bootstrap intervals with --bootstrap). Reference
// statistics are cached per classifier hash (analysis/refstats.h). One JSON
// object with --json, a table otherwise. See docs/metrics.md.
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "analysis/image_metrics.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "model/io/dataset.h"
#include "model/io/npy.h"
#include "model/base/clock.h"

#define EVAL_DEFAULT_CLASSIFIER "models/classifier.safetensors"

static const char *shape_str(const NpyArray *a, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < a->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%ld", i ? ", " : "", a->shape[i]);
    if (used < len) snprintf(buf + used, len - used, a->ndim == 1 ? ",)" : ")");
    return buf;
}

// Reads images (N, C, H, W) or, for one channel, (N, H, W) matching the
// classifier. float32/float64 are taken as given; uint8 is scaled x / 127.5 - 1
// like the dataset loader. Returns float32 (N, C, H, W); *n gets N.
static float *load_images(const char *path, const char *what, const ClassifierConfig *c, long *n) {
    NpyArray a;
    LzError err = {{0}};
    if (npy_read(path, &a, &err)) cli_fail_in("eval", "%s", err.msg);
    char shp[128];
    bool ok4 = a.ndim == 4 && a.shape[1] == c->in_c && a.shape[2] == c->h && a.shape[3] == c->w;
    bool ok3 = a.ndim == 3 && c->in_c == 1 && a.shape[1] == c->h && a.shape[2] == c->w;
    if (!ok4 && !ok3) {
        shape_str(&a, shp, sizeof shp);
        npy_free(&a);
        cli_fail_in("eval", "%s: %s have shape %s but the classifier takes (N, %d, %d, %d)%s", path, what, shp, c->in_c, c->h, c->w,
            c->in_c == 1 ? " or (N, H, W)" : "");
    }
    if (a.dtype != NPY_F32 && a.dtype != NPY_F64 && a.dtype != NPY_U8) {
        const char *name = npy_dtype_name(a.dtype);
        npy_free(&a);
        cli_fail_in("eval", "%s: %s have dtype %s, expected float32/float64 in [-1, 1] or uint8", path, what, name);
    }
    *n = a.shape[0];
    float *x = lz_malloc(sizeof(float) * (size_t)(a.count ? a.count : 1), "eval images");
    for (long i = 0; i < a.count; i++) {
        double v = a.dtype == NPY_F32 ? ((const float *)a.data)[i]
                   : a.dtype == NPY_F64 ? ((const double *)a.data)[i]
                                        : ((const unsigned char *)a.data)[i] / 127.5 - 1.0;
        if (!isfinite(v)) {
            long per = a.count / a.shape[0];
            npy_free(&a);
            free(x);
            cli_fail_in("eval", "%s: %s image %ld pixel %ld is not finite", path, what, i / per, i % per);
        }
        x[i] = (float)v;
    }
    npy_free(&a);
    return x;
}

// Pixels far outside [-1, 1] usually mean another convention ([0, 255] floats,
// [0, 1] is in range and cannot be told apart): warn, never clip.
static void warn_range(const char *path, const float *x, long count) {
    long out = 0;
    float lo = x[0], hi = x[0];
    for (long i = 0; i < count; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
        out += x[i] < -1.01f || x[i] > 1.01f;
    }
    if (out)
        fprintf(stderr, "lazydit eval: warning: %s: %ld pixels outside [-1, 1] (min %g, max %g); used as given\n", path,
                out, (double)lo, (double)hi);
}

static int64_t *load_labels(const char *path, long n, int num_classes) {
    NpyArray a;
    LzError err = {{0}};
    if (npy_read_i64(path, &a, &err)) cli_fail_in("eval", "%s", err.msg);
    if (a.ndim != 1) {
        char shp[128];
        shape_str(&a, shp, sizeof shp);
        npy_free(&a);
        cli_fail_in("eval", "%s: labels must be a 1-D (N,) array, got shape %s", path, shp);
    }
    if (a.count != n) {
        long got = a.count;
        npy_free(&a);
        cli_fail_in("eval", "%s: %ld labels for %ld samples", path, got, n);
    }
    int64_t *y = a.data;
    for (long i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= num_classes) {
            long long v = (long long)y[i];
            npy_free(&a);
            cli_fail_in("eval", "%s: label %lld at index %ld outside 0..%d (the classifier's classes)", path, v, i, num_classes - 1);
        }
    a.data = NULL;
    npy_free(&a);
    return y;
}

static const char *origin_name(RefStatsOrigin o) {
    return o == REFSTATS_LOADED ? "loaded" : o == REFSTATS_BUILT ? "built" : "computed";
}

static void print_json(const EvalResult *r, const RefStats *rs, const EvalConfig *cfg, const char *hash) {
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
    char *text = cJSON_PrintUnformatted(o);
    CHECK(text, "cJSON_PrintUnformatted failed (out of memory?)");
    printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static void print_table(const EvalResult *r, const RefStats *rs, const EvalConfig *cfg, const char *hash,
                        const char *samples, const char *classifier) {
    printf("samples            %s (N = %ld)\n", samples, r->n);
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
    const char *samples_path = NULL, *labels_path = NULL, *paired_path = NULL;
    const char *classifier = EVAL_DEFAULT_CLASSIFIER, *cache_dir = REFSTATS_DEFAULT_CACHE_DIR;
    int bootstrap = 0, threads = 2;
    long seed = 0;
    double min_consistency = NAN;  // NAN: no floor
    bool json = false, verbose = false;
    ArgSpec specs[] = {
        {"--samples", ARG_STRING, &samples_path, true,
         "generated images (N, 1, 28, 28) or (N, 28, 28) .npy, float in [-1, 1] (uint8 is scaled)", false},
        {"--labels", ARG_STRING, &labels_path, false, "conditioning labels (N,) .npy: adds class consistency", false},
        {"--reference", ARG_STRING, &paired_path, false,
         "images from the same noise by the full-compute sampler, same shape: adds PSNR and SSIM", false},
        {"--classifier", ARG_STRING, &classifier, false, "feature classifier (default " EVAL_DEFAULT_CLASSIFIER ")",
         false},
        {"--bootstrap", ARG_INT, &bootstrap, false, "B >= 2: 95% bootstrap intervals for FID and KID (default 0, off)",
         false},
        {"--seed", ARG_LONG, &seed, false, "seed for KID subsets and bootstrap resamples (default 0)", false},
        {"--cache-dir", ARG_STRING, &cache_dir, false,
         "reference statistics cache (default " REFSTATS_DEFAULT_CACHE_DIR ", relative to the working directory)",
         false},
        {"--threads", ARG_INT, &threads, false, "OpenBLAS threads for KID, precision/recall, FD (default 2; features always use 1)", false},
        {"--json", ARG_FLAG, &json, false, "print one JSON object instead of a table", false},
        {"--min-consistency", ARG_DOUBLE, &min_consistency, false,
         "exit 1 if class consistency (needs --labels) is below this fraction (model checks)", false},
        {"--verbose", ARG_FLAG, &verbose, false, "print the reference origin and timings to stderr", false},
    };
    ArgParser p = {"eval",
                   "--samples S.npy [--labels Y.npy] [--reference R.npy] [--classifier W.safetensors] "
                   "[--bootstrap B] [--seed S] [--cache-dir DIR] [--threads T] [--json] [--min-consistency F] [--verbose]",
                   "Evaluates generated images against the Fashion-MNIST test split with the\n"
                   "feature classifier: FID-proxy (penultimate features), sFID-proxy (first 7\n"
                   "channels of the last conv map), IS-proxy (10 splits), precision/recall and\n"
                   "density/coverage (k = 3), KID (100 subsets of min(1000, N)); with --labels\n"
                   "class consistency, with --reference PSNR/SSIM, with --bootstrap B 95%\n"
                   "intervals for FID and KID (samples resampled, reference fixed). Reference\n"
                   "statistics are cached in --cache-dir under the classifier file's SHA-256\n"
                   "and rebuilt when it changes. See docs/metrics.md.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (seed < 0) cli_fail_in("eval", "--seed %ld must be >= 0", seed);
    if (bootstrap < 0 || bootstrap == 1) cli_fail_in("eval", "--bootstrap %d: give 0 (off) or at least 2 resamples", bootstrap);
    if (threads < 1) cli_fail_in("eval", "--threads %d must be >= 1", threads);
    const bool has_floor = !isnan(min_consistency);
    if (has_floor && !(min_consistency >= 0 && min_consistency <= 1))
        cli_fail_in("eval", "--min-consistency %g is a fraction: give a value in [0, 1]", min_consistency);
    if (has_floor && !labels_path) cli_fail_in("eval", "--min-consistency needs --labels (class consistency is per label)");
    openblas_set_num_threads(threads);
    double t_start = lz_now_seconds();

    LzError err = {{0}};
    uint8_t sha[SHA256_BYTES];
    Classifier *m = eval_load_classifier(classifier, 256, sha, &err);
    if (!m) cli_fail_in("eval", "%s", err.msg);
    char hash[SHA256_HEX_LEN];
    sha256_hex(sha, hash);
    const ClassifierConfig *c = &m->cfg;

    EvalConfig cfg = eval_default_config();
    cfg.bootstrap = bootstrap;
    cfg.seed = (uint64_t)seed;
    long n = 0, np = 0;
    float *samples = load_images(samples_path, "samples", c, &n);
    if (n < cfg.is_splits || n <= cfg.k) {
        free(samples);
        cli_fail_in("eval", "%s: %ld samples, need at least %d (IS splits) and more than k = %d", samples_path, n, cfg.is_splits,
            cfg.k);
    }
    int64_t *labels = labels_path ? load_labels(labels_path, n, c->num_classes) : NULL;
    float *paired = NULL;
    if (paired_path) {
        paired = load_images(paired_path, "reference images", c, &np);
        if (np != n) {
            free(samples);
            free(paired);
            free(labels);
            cli_fail_in("eval", "%s: %ld reference images for %ld samples (shapes must match)", paired_path, np, n);
        }
    }
    const long count = n * c->in_c * c->h * c->w;
    warn_range(samples_path, samples, count);
    if (paired) warn_range(paired_path, paired, count);

    double t0 = lz_now_seconds();
    Dataset ref;
    if (dataset_load_dir(&ref, NULL, "test", &err)) cli_fail_in("eval", "%s", err.msg);
    RefStats rs;
    if (refstats_get(&rs, m, sha, &ref, EVAL_SFID_CHANNELS, cache_dir, &err)) cli_fail_in("eval", "%s", err.msg);
    dataset_free(&ref);
    if (rs.note[0]) fprintf(stderr, "lazydit eval: warning: %s\n", rs.note);
    if (verbose)
        fprintf(stderr, "eval: reference %s%s%s in %.2fs\n", origin_name(rs.origin), rs.path[0] ? " " : "", rs.path,
                lz_now_seconds() - t0);

    EvalResult r;
    if (image_metrics_compute(&r, m, &rs, samples, n, labels, paired, &cfg, &err)) cli_fail_in("eval", "%s: %s", samples_path, err.msg);
    if (verbose)
        fprintf(stderr,
                "eval: %ld samples: features %.2fs fd %.2fs is %.3fs kid %.2fs pr %.2fs fidelity %.2fs bootstrap "
                "%.2fs total %.2fs (%d threads)\n",
                n, r.t_features, r.t_fd, r.t_is, r.t_kid, r.t_pr, r.t_fidelity, r.t_bootstrap,
                lz_now_seconds() - t_start, threads);
    if (json)
        print_json(&r, &rs, &cfg, hash);
    else
        print_table(&r, &rs, &cfg, hash, samples_path, classifier);
    // Decided before freeing so the message can name the measured value.
    int status = 0;
    if (has_floor && r.class_consistency < min_consistency) {
        fprintf(stderr, "lazydit eval: class consistency %.4f is below --min-consistency %.4f (%s)\n",
                r.class_consistency, min_consistency, samples_path);
        status = 1;
    }
    refstats_free(&rs);
    free(samples);
    free(labels);
    free(paired);
    classifier_free(m);
    return status;
}
