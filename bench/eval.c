// bench/eval: every metric of 10,000 generated images against the Fashion-
// MNIST test split with the committed classifier (models/classifier.safetensors),
// through the evaluation job of `lazydit eval` (analysis/eval_job.h, default
// options: 8-bit rounding, then feature extraction (penultimate, sFID
// channels, softmax), FID-proxy, sFID-proxy, KID (100 x 1000), precision/recall
// (+ density/coverage), IS-proxy, class consistency). Stand-ins for generated
// images: the last 10,000 training images (disjoint from the test split: the
// floor of the scale; 8-bit data, unchanged by the rounding) and 10,000
// uniform-noise images in [-1, 1] (the ceiling; scored in their 8-bit form).
// Also times the one-off reference build.
//
// Validates before timing: the classifier beats chance on the test split,
// FD(reference, reference) ~ 0, 1,000 training images give a small FID-proxy,
// 1,000 noise images a large one, class consistency equals
// classifier_count_correct. After timing, the floor must stay small and the
// ceiling > 10x the floor. Target: the 10k evaluation <= 30 s on 2 cores.
// Usage: build/bench/eval [B]  (B > 0 adds a bootstrap timing, default 0)
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/eval_job.h"
#include "bench/bench_common.h"
#include "model/base/prng.h"

static void print_row(const char *tag, const EvalResult *r) {
    printf("  %-8s n %5ld  fid %9.4f  sfid %8.4f  is %6.3f +- %.3f  precision %.4f  recall %.4f  density %.3f  "
           "coverage %.4f  kid %.4g +- %.2g",
           tag, r->n, r->fid, r->sfid, r->is_mean, r->is_std, r->pr.precision, r->pr.recall, r->pr.density,
           r->pr.coverage, r->kid.mean, r->kid.std);
    if (r->has_consistency) printf("  consistency %.4f", r->class_consistency);
    printf("\n");
}

static void print_times(const EvalResult *r, double total) {
    printf("  time: features %.2f s, fd+sfid %.2f s, kid %.2f s, p/r %.2f s, is+consistency %.3f s, bootstrap %.2f s"
           " -> total %.2f s\n",
           r->t_features, r->t_fd, r->t_kid, r->t_pr, r->t_is, r->t_bootstrap, total);
}

int main(int argc, char **argv) {
    int boot = argc > 1 ? atoi(argv[1]) : 0;
    bench_print_env("eval");
    printf("# sgemm peak now: %.1f GFLOP/s (1024^3, best of 5)\n", bench_sgemm_peak(1024, 5));
    LzError err = {{0}};
    EvalJobOptions o = eval_job_default_options();
    o.cache_dir = NULL;  // computed, not cached, so that the reference build is timed
    EvalJob job;
    REQUIRE(!eval_job_open(&job, &o, &err), "%s", err.msg);
    Classifier *m = job.classifier;
    printf("# classifier %s sha256 %.16s\n", o.classifier, job.classifier_hash);
    Dataset tr;
    REQUIRE(!dataset_load_dir(&tr, NULL, "train", &err), "%s", err.msg);
    REQUIRE(!eval_job_reference(&job, &err), "%s", err.msg);
    const RefStats *rsp = &job.ref;
    printf("reference build (10,000 test images, features + statistics): %.2f s; accuracy %.4f, IS %.3f\n",
           job.t_reference, (double)rsp->correct / rsp->n, rsp->is_mean);
    const RefStats rs = *rsp;
    double t0;

    // ---- validation ----
    REQUIRE(rs.correct > rs.n / 2, "classifier accuracy %g on the test split", (double)rs.correct / rs.n);
    double fd0;
    FrechetTerms ft;
    REQUIRE(!frechet_distance_stats(&fd0, &ft, &rs.pen_stats, &rs.pen_stats, &err), "%s", err.msg);
    REQUIRE(fabs(fd0) < 1e-8 * (ft.trace1 + ft.trace2), "FD(ref, ref) = %g", fd0);
    enum { NV = 1000, N = 10000 };
    const float *real = tr.images + 50000L * 784;  // training images 50000..59999
    Prng g;
    prng_seed(&g, 1);
    float *noise = malloc(sizeof(float) * N * 784);
    for (long i = 0; i < (long)N * 784; i++) noise[i] = (float)(2 * prng_uniform(&g) - 1);
    int64_t *labels = malloc(sizeof(int64_t) * N);
    for (long i = 0; i < N; i++) labels[i] = tr.labels[50000 + i];
    EvalConfig cfg = o.metrics;
    job.opt.metrics.kid_subsets = 10;  // quick validation
    EvalResult vr, vn;
    REQUIRE(!eval_job_score(&job, &vr, real, NV, labels, NULL, &err), "%s", err.msg);
    REQUIRE(!eval_job_score(&job, &vn, noise, NV, NULL, NULL, &err), "%s", err.msg);
    job.opt.metrics = cfg;
    REQUIRE(vr.fid < 5 && vn.fid > 10 * vr.fid, "1k training images FID %g, 1k noise FID %g", vr.fid, vn.fid);
    long correct = classifier_count_correct(m, real, tr.labels + 50000, NV);
    REQUIRE(vr.class_consistency == (double)correct / NV, "consistency %g vs count_correct %ld", vr.class_consistency,
            correct);
    printf("validated: FD(ref, ref) = %.2g, 1k train FID %.3f, 1k noise FID %.1f, consistency = count_correct\n", fd0,
           vr.fid, vn.fid);

    // ---- timed: 10k "generated" images ----
    printf("10,000 samples, all metrics (KID %d x %ld, k = %d):\n", cfg.kid_subsets, cfg.kid_subset_size, cfg.k);
    EvalResult fr, cr;
    t0 = lz_now_seconds();
    REQUIRE(!eval_job_score(&job, &fr, real, N, labels, NULL, &err), "%s", err.msg);
    double t_floor = lz_now_seconds() - t0;
    print_row("floor", &fr);
    print_times(&fr, t_floor);
    t0 = lz_now_seconds();
    REQUIRE(!eval_job_score(&job, &cr, noise, N, NULL, NULL, &err), "%s", err.msg);
    double t_ceil = lz_now_seconds() - t0;
    print_row("ceiling", &cr);
    print_times(&cr, t_ceil);
    REQUIRE(fr.fid < 2 && fr.sfid < 3, "floor FID %g sFID %g", fr.fid, fr.sfid);
    REQUIRE(cr.fid > 10 * fr.fid && cr.sfid > 10 * fr.sfid, "ceiling FID %g sFID %g", cr.fid, cr.sfid);
    printf("ceiling / floor: fid %.0fx, sfid %.0fx; target <= 30 s per 10k evaluation: %s (%.1f s)\n", cr.fid / fr.fid,
           cr.sfid / fr.sfid, t_floor <= 30 ? "met" : "MISSED", t_floor);

    if (boot > 0) {
        EvalConfig bc = cfg;
        bc.bootstrap = boot;
        ClassifierFeatures f;
        REQUIRE(!classifier_features_extract(&f, m, real, N, EVAL_SFID_CHANNELS, &err), "%s", err.msg);
        EvalResult br;
        REQUIRE(!image_metrics_from_features(&br, &f, &rs, NULL, &bc, &err), "%s", err.msg);
        printf("bootstrap B = %d (reference fixed): %.2f s; fid %.4f [%.4f, %.4f], kid %.4g [%.4g, %.4g]\n", boot,
               br.t_bootstrap, br.fid, br.fid_ci.lo, br.fid_ci.hi, br.kid.mean, br.kid_ci.lo, br.kid_ci.hi);
        classifier_features_free(&f);
    }
    free(noise);
    free(labels);
    dataset_free(&tr);
    eval_job_close(&job);
    return 0;
}
