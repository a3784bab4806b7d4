// lazydit metrics: FD, KID, precision/recall (and density/coverage) of two
// feature matrices, e.g. classifier features of reference images and of
// samples. One JSON object with --json, a table otherwise.
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "analysis/feature_metrics.h"
#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/base/clock.h"

int cmd_metrics(int argc, char **argv) {
    const char *real_path = NULL, *fake_path = NULL;
    int k = 3, kid_subsets = KID_DEFAULT_SUBSETS, bootstrap = 0;
    long kid_subset_size = KID_DEFAULT_SUBSET_SIZE, seed = 0;
    bool json = false, verbose = false;
    ArgSpec specs[] = {
        {"--real", ARG_STRING, &real_path, true, "reference features, (N, D) float32/float64 .npy", false},
        {"--fake", ARG_STRING, &fake_path, true, "sample features, (N, D) float32/float64 .npy, same D", false},
        {"--k", ARG_INT, &k, false, "neighbours for the precision/recall manifolds (default 3)", false},
        {"--kid-subsets", ARG_INT, &kid_subsets, false, "KID subsets to average (default 100)", false},
        {"--kid-subset-size", ARG_LONG, &kid_subset_size, false,
         "rows per KID subset (default 1000, capped at the smaller set)", false},
        {"--seed", ARG_LONG, &seed, false, "seed for KID subsets and bootstrap resamples (default 0)", false},
        {"--bootstrap", ARG_INT, &bootstrap, false, "B > 0: 95% percentile bootstrap intervals for FD and KID", false},
        {"--json", ARG_FLAG, &json, false, "print one JSON object instead of a table", false},
        {"--verbose", ARG_FLAG, &verbose, false, "print per-metric timings to stderr", false},
    };
    ArgParser p = {"metrics",
                   "--real R.npy --fake F.npy [--k 3] [--kid-subsets 100] [--kid-subset-size 1000] [--seed S] "
                   "[--bootstrap B] [--json] [--verbose]",
                   "Compares two feature matrices (e.g. classifier features of reference images\n"
                   "and of samples): Frechet distance of their Gaussian fits (FID-proxy), KID\n"
                   "(unbiased cubic-kernel MMD^2 over random subsets, mean and std), k-NN\n"
                   "precision and recall (Kynkaanniemi et al.) plus density and coverage, and\n"
                   "with --bootstrap B percentile intervals for FD and KID. See docs/metrics.md.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if (k < 1) cli_usage("metrics", "--k %d must be >= 1", k);
    if (kid_subsets < 1) cli_usage("metrics", "--kid-subsets %d must be >= 1", kid_subsets);
    if (kid_subset_size < 2) cli_usage("metrics", "--kid-subset-size %ld must be >= 2", kid_subset_size);
    if (seed < 0) cli_usage("metrics", "--seed %ld must be >= 0", seed);
    if (bootstrap < 0 || bootstrap == 1)
        cli_usage("metrics", "--bootstrap %d: give 0 (off) or at least 2 resamples", bootstrap);

    LzError err = {{0}};
    double t_start = lz_now_seconds();
    FeaturePair in;
    if (feature_pair_read(&in, real_path, fake_path, k, &err)) cli_fail_in("metrics", "%s", err.msg);
    const long nr = in.nr, nf = in.nf;
    const int d = in.d;
    FeatureMetricsOptions fo = {k, kid_subsets, kid_subset_size, bootstrap, (uint64_t)seed};
    FeatureMetrics r;
    if (feature_metrics_compute(&r, in.real, nr, in.fake, nf, d, &fo, &err)) cli_fail_in("metrics", "%s", err.msg);
    const FrechetTerms terms = r.fd_terms;
    const KidResult kid = r.kid;
    const PrecisionRecall pr = r.pr;
    const BootstrapCI fd_ci = r.fd_ci, kid_ci = r.kid_ci;
    const double fd = r.fd;
    if (verbose)
        fprintf(stderr, "metrics: real %ld x %d, fake %ld x %d: fd %.3fs kid %.3fs prdc %.3fs bootstrap %.3fs total %.3fs\n",
                nr, d, nf, d, r.t_fd, r.t_kid, r.t_pr, r.t_bootstrap, lz_now_seconds() - t_start);

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n_real", (double)nr);
        cJSON_AddNumberToObject(o, "n_fake", (double)nf);
        cJSON_AddNumberToObject(o, "dim", d);
        cJSON_AddNumberToObject(o, "fd", fd);
        cJSON_AddNumberToObject(o, "fd_mean_term", terms.mean_term);
        cJSON_AddNumberToObject(o, "kid_mean", kid.mean);
        cJSON_AddNumberToObject(o, "kid_std", kid.std);
        cJSON_AddNumberToObject(o, "kid_subsets", kid.subsets);
        cJSON_AddNumberToObject(o, "kid_subset_size", (double)kid.subset_size);
        cJSON_AddNumberToObject(o, "precision", pr.precision);
        cJSON_AddNumberToObject(o, "recall", pr.recall);
        cJSON_AddNumberToObject(o, "density", pr.density);
        cJSON_AddNumberToObject(o, "coverage", pr.coverage);
        cJSON_AddNumberToObject(o, "k", k);
        cJSON_AddNumberToObject(o, "seed", (double)seed);
        if (bootstrap > 0) {
            cJSON_AddNumberToObject(o, "bootstrap", bootstrap);
            cJSON_AddNumberToObject(o, "ci_level", fd_ci.level);
            // bias-adjusted percentile intervals (see analysis/bootstrap.h), then
            // the plain percentile ones and the bootstrap bias estimates
            cJSON_AddItemToObject(o, "fd_ci", cli_json_pair(fd_ci.lo, fd_ci.hi));
            cJSON_AddItemToObject(o, "kid_ci", cli_json_pair(kid_ci.lo, kid_ci.hi));
            cJSON_AddItemToObject(o, "fd_ci_raw", cli_json_pair(fd_ci.raw_lo, fd_ci.raw_hi));
            cJSON_AddItemToObject(o, "kid_ci_raw", cli_json_pair(kid_ci.raw_lo, kid_ci.raw_hi));
            cJSON_AddNumberToObject(o, "fd_boot_bias", fd_ci.bias);
            cJSON_AddNumberToObject(o, "kid_boot_bias", kid_ci.bias);
            cJSON_AddNumberToObject(o, "kid_full", kid_ci.point);  // full-set MMD^2_u the KID interval is built on
        }
        cli_print_json(o);
    } else {
        printf("real       %s (%ld x %d)\nfake       %s (%ld x %d)\n", real_path, nr, d, fake_path, nf, d);
        printf("fd         %.6g", fd);
        if (bootstrap > 0)
            printf("   [%.6g, %.6g] %g%% bootstrap, B = %d (bias %.3g; raw [%.6g, %.6g])", fd_ci.lo, fd_ci.hi,
                   100 * fd_ci.level, bootstrap, fd_ci.bias, fd_ci.raw_lo, fd_ci.raw_hi);
        printf("\nkid        %.6g +- %.3g (%d subsets of %ld)", kid.mean, kid.std, kid.subsets, kid.subset_size);
        if (bootstrap > 0) printf("   [%.6g, %.6g] (full-set %.6g)", kid_ci.lo, kid_ci.hi, kid_ci.point);
        printf("\nprecision  %.4f   (k = %d)\nrecall     %.4f\ndensity    %.4f\ncoverage   %.4f\n", pr.precision, k,
               pr.recall, pr.density, pr.coverage);
    }
    feature_pair_free(&in);
    return 0;
}
