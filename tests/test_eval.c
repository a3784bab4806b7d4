// test_eval.c: metrics of generated images on real data with the committed
// classifier (models/classifier.safetensors), whatever its accuracy:
//  - reference statistics of the full Fashion-MNIST test split: built (or
//    found) in $TEST_TMP/eval_refcache, then loaded back bit-identical. The
//    directory is shared with test_eval_cache and test_eval_cli.sh within one
//    tests/run.sh run, so the 10k-image reference is extracted once per suite
//    (the cache is keyed by content hashes, so sharing cannot mix results);
//  - the floor of the scale: the last 10,000 training images (disjoint from
//    the test split) as "samples": FID-proxy < 2 and sFID-proxy < 3 (measured
//    0.2-0.4 with the classifiers trained so far; the bound leaves room for a
//    retrained classifier), precision and recall > 0.75, KID (20 subsets)
//    within 4 standard errors of 0 (+ 0.01), IS within 10% of the
//    reference's own IS;
//  - the ceiling: 1,000 uniform-noise images in [-1, 1]: FID, sFID and KID
//    more than 10x the floor, recall < 0.05, IS < 2;
//  - class consistency of the first 1,000 test images with their labels
//    equals classifier_count_correct / 1000 exactly.
// The numbers are printed as "# scale ..." lines (docs/metrics.md quotes the
// 10k-sample floor and ceiling measured by build/bench/eval, KID over 100
// subsets). Run time on the shared 2-core machine under load: ~30 s when it
// builds the reference, ~20 s when the reference is already cached.
#include <cblas.h>
#include <string.h>
#include <time.h>

#include "analysis/image_metrics.h"
#include "model/base/prng.h"
#include "tests/file_util.h"
#include "tests/test.h"
#include "model/base/clock.h"

#define CLASSIFIER_PATH "models/classifier.safetensors"
#define FLOOR_FID_MAX 2.0
#define FLOOR_SFID_MAX 3.0
#define FLOOR_PR_MIN 0.75
#define NOISE_N 1000
#define CONSIST_N 1000

static const char *shared_cache_dir(void) {
    static char dir[1024];
    const char *base = getenv("TEST_TMP");
    if (base && *base) {
        snprintf(dir, sizeof dir, "%s/eval_refcache", base);
    } else {
        test_dir_make("eval");
        snprintf(dir, sizeof dir, "%.1000s/refcache", test_dir);
    }
    return dir;
}

static int same_floats(const float *a, const float *b, long n) { return !memcmp(a, b, sizeof(float) * (size_t)n); }
static int same_doubles(const double *a, const double *b, long n) { return !memcmp(a, b, sizeof(double) * (size_t)n); }

static void print_result(const char *tag, const EvalResult *r) {
    printf("# scale %-8s n %5ld fid %.4f sfid %.4f is %.3f precision %.4f recall %.4f density %.3f coverage %.4f "
           "kid %.4g +- %.2g\n",
           tag, r->n, r->fid, r->sfid, r->is_mean, r->pr.precision, r->pr.recall, r->pr.density, r->pr.coverage,
           r->kid.mean, r->kid.std);
}

int main(void) {
    openblas_set_num_threads(2);
    LzError err = {{0}};
    uint8_t sha[SHA256_BYTES];
    Classifier *m = eval_load_classifier(CLASSIFIER_PATH, 256, sha, &err);
    if (!test_check(m != NULL, "load committed classifier", err.msg)) return test_finish();
    char hex[SHA256_HEX_LEN];
    sha256_hex(sha, hex);
    printf("# classifier %s sha256 %s\n", CLASSIFIER_PATH, hex);
    Dataset te, tr;
    if (!test_check(dataset_load_dir(&te, NULL, "test", &err) == 0 && dataset_load_dir(&tr, NULL, "train", &err) == 0,
                    "load Fashion-MNIST", err.msg))
        return test_finish();

    // ---- reference statistics: build or find, then load back ----
    const char *cache = shared_cache_dir();
    double t0 = lz_now_seconds();
    RefStats rs, again;
    int rc = refstats_get(&rs, m, sha, &te, EVAL_SFID_CHANNELS, cache, &err);
    if (!test_check(rc == 0, "reference statistics of the test split", err.msg)) return test_finish();
    printf("# reference: %s %s in %.2fs (n %ld, pen %d, sfid %d, accuracy %.4f, IS %.3f)\n",
           rs.origin == REFSTATS_LOADED ? "loaded" : "built", rs.path, lz_now_seconds() - t0, rs.n, rs.pen_dim, rs.sfid_dim,
           (double)rs.correct / rs.n, rs.is_mean);
    TEST_CHECK(rs.path[0] && rs.note[0] == 0, "reference cached without warnings", "path '%.200s' note '%.250s'", rs.path,
               rs.note);
    TEST_CHECK(rs.n == 10000 && rs.sfid_channels == 7 && rs.sfid_dim == 343 && rs.correct >= 0,
               "reference shape", "n %ld channels %d dim %d correct %ld", rs.n, rs.sfid_channels, rs.sfid_dim,
               rs.correct);
    rc = refstats_get(&again, m, sha, &te, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && again.origin == REFSTATS_LOADED, "second lookup loads the cache", "rc %d origin %d: %.400s", rc,
               (int)again.origin, err.msg);
    if (rc == 0) {
        int same = again.n == rs.n && again.correct == rs.correct && again.is_mean == rs.is_mean &&
                   same_floats(again.pen, rs.pen, rs.n * rs.pen_dim) &&
                   same_doubles(again.pen_stats.mu, rs.pen_stats.mu, rs.pen_dim) &&
                   same_doubles(again.pen_stats.sigma, rs.pen_stats.sigma, (long)rs.pen_dim * rs.pen_dim) &&
                   same_doubles(again.sfid_stats.sigma, rs.sfid_stats.sigma, (long)rs.sfid_dim * rs.sfid_dim);
        TEST_CHECK(same, "cached reference is bit-identical", "features or statistics differ after the round trip");
        refstats_free(&again);
    }

    // ---- floor: 10k training images (disjoint from the test split) ----
    EvalConfig cfg = eval_default_config();
    cfg.kid_subsets = 20;  // build/bench/eval uses the default 100; 20 keeps this test short
    EvalResult floor_r, noise_r;
    t0 = lz_now_seconds();
    rc = image_metrics_compute(&floor_r, m, &rs, tr.images + 50000L * 784, 10000, NULL, NULL, &cfg, &err);
    if (!test_check(rc == 0, "evaluate 10k training images", err.msg)) return test_finish();
    print_result("floor", &floor_r);
    printf("# floor timings: features %.2fs fd %.2fs kid %.2fs pr %.2fs total %.2fs\n", floor_r.t_features, floor_r.t_fd,
           floor_r.t_kid, floor_r.t_pr, lz_now_seconds() - t0);
    TEST_CHECK(floor_r.fid >= -1e-9 && floor_r.fid < FLOOR_FID_MAX, "floor FID-proxy small", "fid %g, bound %g",
               floor_r.fid, FLOOR_FID_MAX);
    TEST_CHECK(floor_r.sfid >= -1e-9 && floor_r.sfid < FLOOR_SFID_MAX, "floor sFID-proxy small", "sfid %g, bound %g",
               floor_r.sfid, FLOOR_SFID_MAX);
    TEST_CHECK(floor_r.pr.precision > FLOOR_PR_MIN && floor_r.pr.recall > FLOOR_PR_MIN, "floor precision/recall high",
               "precision %g recall %g, bound %g", floor_r.pr.precision, floor_r.pr.recall, FLOOR_PR_MIN);
    // zero within 4 standard errors of the subset mean (subsets overlap, so
    // this overstates the error a little) plus 0.01
    double kid_bound = 4 * floor_r.kid.std / sqrt((double)floor_r.kid.subsets) + 0.01;
    TEST_CHECK(fabs(floor_r.kid.mean) < kid_bound, "floor KID near 0", "kid %g +- %g over %d subsets, bound %g",
               floor_r.kid.mean, floor_r.kid.std, floor_r.kid.subsets, kid_bound);
    TEST_CHECK(fabs(floor_r.is_mean - rs.is_mean) < 0.1 * rs.is_mean, "floor IS near the reference IS",
               "is %g reference %g", floor_r.is_mean, rs.is_mean);

    // ---- ceiling: uniform noise ----
    float *noise = lz_malloc(sizeof(float) * NOISE_N * 784, "noise images");
    Prng g;
    prng_seed(&g, 1);
    for (long i = 0; i < (long)NOISE_N * 784; i++) noise[i] = (float)(2 * prng_uniform(&g) - 1);
    EvalConfig fast = cfg;
    fast.kid_subsets = 10;
    rc = image_metrics_compute(&noise_r, m, &rs, noise, NOISE_N, NULL, NULL, &fast, &err);
    if (!test_check(rc == 0, "evaluate noise images", err.msg)) return test_finish();
    print_result("ceiling", &noise_r);
    printf("# scale ratio ceiling/floor: fid %.0fx sfid %.0fx\n", noise_r.fid / floor_r.fid, noise_r.sfid / floor_r.sfid);
    TEST_CHECK(noise_r.fid > 10 * floor_r.fid, "noise FID-proxy > 10x floor", "noise %g floor %g", noise_r.fid,
               floor_r.fid);
    TEST_CHECK(noise_r.sfid > 10 * floor_r.sfid, "noise sFID-proxy > 10x floor", "noise %g floor %g", noise_r.sfid,
               floor_r.sfid);
    double kid_floor = fabs(floor_r.kid.mean) > 0.01 ? fabs(floor_r.kid.mean) : 0.01;
    TEST_CHECK(noise_r.kid.mean > 10 * kid_floor, "noise KID > 10x floor", "noise %g floor %g", noise_r.kid.mean,
               floor_r.kid.mean);
    TEST_CHECK(noise_r.pr.recall < 0.05, "noise recall ~ 0", "recall %g", noise_r.pr.recall);
    TEST_CHECK(noise_r.is_mean < 2, "noise IS-proxy ~ 1", "is %g", noise_r.is_mean);
    free(noise);

    // ---- class consistency of real test images = classifier accuracy on them ----
    int64_t *labels = lz_malloc(sizeof(int64_t) * CONSIST_N, "labels");
    for (int i = 0; i < CONSIST_N; i++) labels[i] = te.labels[i];
    EvalResult cr;
    fast.kid_subsets = 5;
    rc = image_metrics_compute(&cr, m, &rs, te.images, CONSIST_N, labels, NULL, &fast, &err);
    if (test_check(rc == 0 && cr.has_consistency, "evaluate test images with labels", err.msg)) {
        // on one thread, like the feature extraction: logits then agree bit for bit
        openblas_set_num_threads(1);
        long correct = classifier_count_correct(m, te.images, te.labels, CONSIST_N);
        openblas_set_num_threads(2);
        TEST_CHECK(cr.class_consistency == (double)correct / CONSIST_N, "class consistency == accuracy",
                   "consistency %.6f, classifier_count_correct %ld/%d", cr.class_consistency, correct, CONSIST_N);
        printf("# class consistency of the first %d test images %.4f (whole test split accuracy %.4f)\n", CONSIST_N,
               cr.class_consistency, (double)rs.correct / rs.n);
    }
    free(labels);

    refstats_free(&rs);
    dataset_free(&te);
    dataset_free(&tr);
    classifier_free(m);
    if (test_dir[0]) test_dir_remove();  // run by hand: our own scratch directory
    return test_finish();
}
