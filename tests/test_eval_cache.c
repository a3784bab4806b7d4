// test_eval_cache.c: the pieces around the metrics on generated images that
// do not need the full 10k reference:
//  - SHA-256 against the FIPS 180-2 test vectors (one-shot and split updates)
//    and sha256_file against sha256 of the same bytes;
//  - reference-statistics cache on a small reference (the first 500 test
//    images): build, load back bit-identical; a copy of the committed
//    classifier with one weight byte changed (the top mantissa bit of
//    conv1.weight[0]) gets a new hash, a new cache file, and different
//    features and FID; corrupted, truncated and mislabelled cache files are
//    rebuilt with a note; an unwritable cache directory still gives results;
//  - paired fidelity through image_metrics_compute: samples against themselves give
//    PSNR = +inf and SSIM = 1, against a noisy copy a finite PSNR equal to
//    10 log10(4 / MSE) and SSIM in (0, 1);
//  - errors: labels out of range, too few samples, non-finite pixels, a
//    missing classifier file.
#include <cblas.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "analysis/eval_job.h"
#include "model/io/image.h"
#include "model/base/prng.h"
#include "tests/file_util.h"
#include "tests/test.h"

#define CLASSIFIER_PATH "models/classifier.safetensors"
#define REF_N 500

static void check_digest(const char *name, const void *data, size_t n, const char *want) {
    uint8_t d[SHA256_BYTES];
    char hex[SHA256_HEX_LEN];
    sha256(data, n, d);
    sha256_hex(d, hex);
    TEST_CHECK(!strcmp(hex, want), name, "got %s want %s", hex, want);
}

static void test_sha256(void) {
    check_digest("sha256 empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_digest("sha256 abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_digest("sha256 two blocks", two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    check_digest("sha256 million a", a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // the same million bytes in irregular pieces
    Sha256 s;
    sha256_init(&s);
    Prng g;
    prng_seed(&g, 3);
    for (size_t off = 0; off < n;) {
        size_t take = 1 + (size_t)prng_below(&g, 200);
        if (take > n - off) take = n - off;
        sha256_update(&s, a + off, take);
        off += take;
    }
    uint8_t d1[SHA256_BYTES], d2[SHA256_BYTES], d3[SHA256_BYTES];
    sha256_final(&s, d1);
    sha256(a, n, d2);
    TEST_CHECK(!memcmp(d1, d2, SHA256_BYTES), "sha256 split updates", "digests differ");
    LzError err = {{0}};
    const char *path = test_path("million_a.bin");
    int rc = file_write_bytes(path, a, n) || sha256_file(path, d3, &err);
    TEST_CHECK(rc == 0 && !memcmp(d2, d3, SHA256_BYTES), "sha256_file", "rc %d: %.400s", rc, err.msg);
    TEST_CHECK(sha256_file(test_path("missing.bin"), d3, &err) != 0 && strstr(err.msg, "missing.bin"),
               "sha256_file missing file names it", "%s", err.msg);
    free(a);
}

// Byte offset of float element 0 of tensor `name` in a safetensors file.
static long tensor_offset(const unsigned char *bytes, size_t n, const char *name) {
    if (n < 8) return -1;
    uint64_t hlen;
    memcpy(&hlen, bytes, 8);
    if (8 + hlen > n) return -1;
    cJSON *h = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)hlen);
    cJSON *t = h ? cJSON_GetObjectItemCaseSensitive(h, name) : NULL;
    cJSON *offs = t ? cJSON_GetObjectItemCaseSensitive(t, "data_offsets") : NULL;
    long off = offs && cJSON_IsArray(offs) ? 8 + (long)hlen + (long)cJSON_GetArrayItem(offs, 0)->valuedouble : -1;
    cJSON_Delete(h);
    return off;
}

static Dataset subset(const Dataset *d, long start, long n) {
    Dataset v = *d;
    v.n = n;
    v.images = d->images + start * d->c * d->h * d->w;
    v.labels = d->labels ? d->labels + start : NULL;
    return v;
}

static int refs_identical(const RefStats *a, const RefStats *b) {
    return a->n == b->n && a->correct == b->correct && a->is_mean == b->is_mean && a->is_std == b->is_std &&
           !memcmp(a->classifier_sha, b->classifier_sha, SHA256_BYTES) &&
           !memcmp(a->pen, b->pen, sizeof(float) * (size_t)a->n * a->pen_dim) &&
           !memcmp(a->pen_stats.mu, b->pen_stats.mu, sizeof(double) * (size_t)a->pen_dim) &&
           !memcmp(a->pen_stats.sigma, b->pen_stats.sigma, sizeof(double) * (size_t)a->pen_dim * a->pen_dim) &&
           !memcmp(a->sfid_stats.mu, b->sfid_stats.mu, sizeof(double) * (size_t)a->sfid_dim) &&
           !memcmp(a->sfid_stats.sigma, b->sfid_stats.sigma, sizeof(double) * (size_t)a->sfid_dim * a->sfid_dim);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    unsigned char *b = file_read_bytes(from, &n);
    if (!b || file_write_bytes(to, b, n)) {
        printf("FAIL copy %s: cannot copy to %s\n", from, to);
        exit(1);
    }
    free(b);
}

static void test_cache(const Dataset *te) {
    LzError err = {{0}};
    size_t nbytes;
    unsigned char *bytes = file_read_bytes(CLASSIFIER_PATH, &nbytes);
    if (!test_check(bytes != NULL, "read committed classifier", CLASSIFIER_PATH)) return;
    const char *clf = test_path("clf.safetensors");
    file_write_bytes(clf, bytes, nbytes);
    char cache[1100];
    snprintf(cache, sizeof cache, "%.1000s/cache/sub", test_dir);  // created with its parent on first save

    uint8_t sha_a[SHA256_BYTES], sha_b[SHA256_BYTES];
    Classifier *ma = eval_load_classifier(clf, 256, sha_a, &err);
    if (!test_check(ma != NULL, "load classifier copy", err.msg)) return;
    Dataset ref = subset(te, 0, REF_N);
    RefStats a, a2, b, c;
    int rc = refstats_get(&a, ma, sha_a, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && a.origin == REFSTATS_BUILT && file_exists(a.path) && !a.note[0], "cache built",
               "rc %d origin %d path '%.120s' note '%.120s' %.120s", rc, (int)a.origin, a.path, a.note, err.msg);
    if (rc) return;
    char expect[1200];
    refstats_cache_path(expect, sizeof expect, cache, sha_a, a.reference_key);
    char hex[SHA256_HEX_LEN];
    sha256_hex(sha_a, hex);
    TEST_CHECK(!strcmp(expect, a.path) && strstr(a.path, "refstats_") && !strncmp(strstr(a.path, "refstats_") + 9, hex, 16),
               "cache file named by the classifier hash", "path %.300s hash %.16s", a.path, hex);
    rc = refstats_get(&a2, ma, sha_a, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && a2.origin == REFSTATS_LOADED && refs_identical(&a, &a2), "cache loaded bit-identical",
               "rc %d origin %d", rc, (int)a2.origin);
    if (!rc) refstats_free(&a2);

    // the same cache through a COMPUTED run equals the cached values
    rc = refstats_get(&c, ma, sha_a, &ref, EVAL_SFID_CHANNELS, NULL, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_COMPUTED && !c.path[0] && refs_identical(&a, &c),
               "no cache dir: computed, same values", "rc %d origin %d", rc, (int)c.origin);
    if (!rc) refstats_free(&c);

    // change one weight byte: conv1.weight[0], byte 2 bit 6 = the top mantissa bit (never inf/nan)
    long off = tensor_offset(bytes, nbytes, "conv1.weight");
    if (!test_check(off > 0 && (size_t)off + 4 <= nbytes, "find conv1.weight in the classifier", "no data offset"))
        return;
    bytes[off + 2] ^= 0x40;
    file_write_bytes(clf, bytes, nbytes);
    uint8_t file_sha[SHA256_BYTES];
    Classifier *mb = eval_load_classifier(clf, 256, sha_b, &err);
    if (!test_check(mb != NULL, "load modified classifier", err.msg)) return;
    sha256_file(clf, file_sha, &err);
    TEST_CHECK(memcmp(sha_a, sha_b, SHA256_BYTES) && !memcmp(sha_b, file_sha, SHA256_BYTES),
               "modified classifier has a new hash", "hash unchanged or not the file's");
    TEST_CHECK(mb->params.conv1_w[0] != ma->params.conv1_w[0], "the changed weight", "%g vs %g",
               (double)mb->params.conv1_w[0], (double)ma->params.conv1_w[0]);
    rc = refstats_get(&b, mb, sha_b, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && b.origin == REFSTATS_BUILT && strcmp(a.path, b.path) && file_exists(a.path) &&
                   file_exists(b.path),
               "changed classifier builds a new cache file", "rc %d origin %d paths %.200s %.200s", rc, (int)b.origin,
               a.path, b.path);
    if (rc) return;
    double maxdiff = 0;
    for (long i = 0; i < (long)REF_N * a.pen_dim; i++)
        if (fabs(a.pen[i] - b.pen[i]) > maxdiff) maxdiff = fabs(a.pen[i] - b.pen[i]);
    double fd_ab = 0;
    frechet_distance_stats(&fd_ab, NULL, &a.pen_stats, &b.pen_stats, &err);
    TEST_CHECK(maxdiff > 1e-3 && fd_ab > 1e-6, "changed classifier changes the reference",
               "max feature change %g, FD(old ref, new ref) %g", maxdiff, fd_ab);
    // the same samples evaluated with each classifier against its own reference
    EvalConfig cfg = eval_default_config();
    cfg.kid_subsets = 5;
    EvalResult ra, rb;
    const float *samples = te->images + (long)REF_N * 784;
    rc = image_metrics_compute(&ra, ma, &a, samples, 200, NULL, NULL, &cfg, &err) ||
         image_metrics_compute(&rb, mb, &b, samples, 200, NULL, NULL, &cfg, &err);
    TEST_CHECK(rc == 0 && ra.fid != rb.fid && ra.sfid != rb.sfid, "changed classifier changes the metrics",
               "rc %d fid %.9g vs %.9g sfid %.9g vs %.9g", rc, ra.fid, rb.fid, ra.sfid, rb.sfid);
    printf("# one flipped weight bit: max feature change %.4g, FD(old ref, new ref) %.4g, FID of 200 test images %.6g -> %.6g\n",
           maxdiff, fd_ab, ra.fid, rb.fid);

    // corrupted, truncated and misnamed cache files are rebuilt
    size_t fsize;
    unsigned char *fb = file_read_bytes(b.path, &fsize);
    fb[fsize / 2] ^= 1;
    file_write_bytes(b.path, fb, fsize);
    rc = refstats_get(&c, mb, sha_b, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_BUILT && strstr(c.note, "digest mismatch") && refs_identical(&b, &c),
               "corrupted cache rebuilt", "origin %d note '%.300s'", (int)c.origin, c.note);
    if (!rc) refstats_free(&c);
    rc = refstats_get(&c, mb, sha_b, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_LOADED, "rebuilt cache loads", "origin %d", (int)c.origin);
    if (!rc) refstats_free(&c);
    file_write_bytes(b.path, fb, fsize - 100);
    rc = refstats_get(&c, mb, sha_b, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_BUILT && strstr(c.note, "bytes"), "truncated cache rebuilt",
               "origin %d note '%.300s'", (int)c.origin, c.note);
    if (!rc) refstats_free(&c);
    free(fb);
    copy_file(a.path, b.path);  // classifier A's statistics under classifier B's name
    rc = refstats_get(&c, mb, sha_b, &ref, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_BUILT && strstr(c.note, "do not match") && refs_identical(&b, &c),
               "cache file of another classifier rebuilt", "origin %d note '%.300s'", (int)c.origin, c.note);
    if (!rc) refstats_free(&c);
    // a different reference set with the same classifier gets its own file
    Dataset ref2 = subset(te, REF_N, REF_N);
    rc = refstats_get(&c, mb, sha_b, &ref2, EVAL_SFID_CHANNELS, cache, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_BUILT && strcmp(c.path, b.path) && !c.note[0],
               "another reference set: own cache file", "origin %d path %.200s note %.200s", (int)c.origin, c.path,
               c.note);
    if (!rc) refstats_free(&c);

    // unwritable cache directory (below a regular file): results, no cache, a note
    char bad[1200];
    snprintf(bad, sizeof bad, "%.1000s/sub", clf);
    rc = refstats_get(&c, mb, sha_b, &ref, EVAL_SFID_CHANNELS, bad, &err);
    TEST_CHECK(rc == 0 && c.origin == REFSTATS_BUILT && !c.path[0] && strstr(c.note, "not cached") &&
                   refs_identical(&b, &c),
               "unwritable cache dir: computed with a note", "rc %d path '%.150s' note '%.250s'", rc, c.path, c.note);
    if (!rc) refstats_free(&c);

    refstats_free(&a);
    refstats_free(&b);
    classifier_free(ma);
    classifier_free(mb);
    free(bytes);
    // the nested cache directory: test_dir_remove only goes one level down
    DIR *d = opendir(cache);
    char p[2400];
    for (struct dirent *e; d && (e = readdir(d));) {
        snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(p);
    }
    if (d) closedir(d);
    rmdir(cache);
}

static void test_fidelity_and_errors(const Dataset *te) {
    LzError err = {{0}};
    uint8_t sha[SHA256_BYTES];
    Classifier *m = eval_load_classifier(CLASSIFIER_PATH, 256, sha, &err);
    if (!test_check(m != NULL, "load committed classifier", err.msg)) return;
    Dataset ref = subset(te, 0, REF_N);
    RefStats rs;
    if (!test_check(refstats_get(&rs, m, sha, &ref, EVAL_SFID_CHANNELS, NULL, &err) == 0, "small reference", err.msg))
        return;
    enum { N = 100 };
    const long per = 784;
    const float *x = te->images + 1000 * per;
    float *noisy = malloc(sizeof(float) * N * per);
    Prng g;
    prng_seed(&g, 11);
    double sq = 0;
    for (long i = 0; i < N * per; i++) {
        float v = (float)(x[i] + 0.1 * prng_normal(&g));
        noisy[i] = v < -1 ? -1 : v > 1 ? 1 : v;
        sq += ((double)noisy[i] - x[i]) * ((double)noisy[i] - x[i]);
    }
    EvalConfig cfg = eval_default_config();
    cfg.kid_subsets = 5;
    EvalResult r;
    int rc = image_metrics_compute(&r, m, &rs, x, N, NULL, x, &cfg, &err);
    TEST_CHECK(rc == 0 && r.has_fidelity && isinf(r.fidelity.psnr_mean) && r.fidelity.psnr_mean > 0 &&
                   r.fidelity.identical == N && fabs(r.fidelity.ssim_mean - 1) <= 1e-12,
               "fidelity of samples to themselves: psnr inf, ssim 1", "rc %d psnr %g identical %ld ssim %.15g", rc,
               r.fidelity.psnr_mean, r.fidelity.identical, r.fidelity.ssim_mean);
    TEST_CHECK(rc == 0 && !r.has_consistency && !r.has_bootstrap, "no labels, no bootstrap: those parts absent", "rc %d", rc);
    rc = image_metrics_compute(&r, m, &rs, x, N, NULL, noisy, &cfg, &err);
    // every image gets the same noise level, so the mean PSNR is close to the
    // PSNR of the pooled MSE (within 0.5 dB)
    double pooled = 10 * log10(4.0 / (sq / (N * per)));
    TEST_CHECK(rc == 0 && isfinite(r.fidelity.psnr_mean) && fabs(r.fidelity.psnr_mean - pooled) < 0.5 &&
                   r.fidelity.identical == 0 && r.fidelity.ssim_mean > 0 && r.fidelity.ssim_mean < 1,
               "fidelity to a noisy copy: finite psnr, ssim < 1", "rc %d psnr %g (pooled %g) ssim %g", rc,
               r.fidelity.psnr_mean, pooled, r.fidelity.ssim_mean);
    printf("# noisy copy (sigma 0.1): psnr %.3f dB, ssim %.4f\n", r.fidelity.psnr_mean, r.fidelity.ssim_mean);

    // bootstrap intervals on request
    cfg.bootstrap = 20;
    rc = image_metrics_compute(&r, m, &rs, x, N, NULL, NULL, &cfg, &err);
    TEST_CHECK(rc == 0 && r.has_bootstrap && r.fid_ci.resamples == 20 && r.fid_ci.lo <= r.fid_ci.hi &&
                   r.kid_ci.lo <= r.kid_ci.hi && fabs(r.fid_ci.point - r.fid) <= 1e-9 * fabs(r.fid),
               "bootstrap intervals", "rc %d fid %g point %g [%g, %g]", rc, r.fid, r.fid_ci.point, r.fid_ci.lo,
               r.fid_ci.hi);
    cfg.bootstrap = 0;

    // errors
    int64_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = te->labels[1000 + i];
    labels[7] = 10;
    rc = image_metrics_compute(&r, m, &rs, x, N, labels, NULL, &cfg, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "10"), "label out of range is an error", "rc %d: %.400s", rc, err.msg);
    rc = image_metrics_compute(&r, m, &rs, x, 9, NULL, NULL, &cfg, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "need at least 10"), "fewer samples than IS splits is an error", "rc %d: %.400s",
               rc, err.msg);
    memcpy(noisy, x, sizeof(float) * N * per);
    noisy[3 * per + 5] = NAN;
    rc = image_metrics_compute(&r, m, &rs, noisy, N, NULL, NULL, &cfg, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "image 3 pixel 5"), "non-finite pixel named", "rc %d: %.400s", rc, err.msg);
    ClassifierFeatures f;
    rc = classifier_features_extract(&f, m, x, N, 3, &err);
    if (rc == 0) {
        rc = image_metrics_from_features(&r, &f, &rs, NULL, &cfg, &err) == 0;
        classifier_features_free(&f);
    }
    TEST_CHECK(rc == 0 && strstr(err.msg, "do not match"), "sfid channel mismatch is an error", "%s", err.msg);
    Classifier *none = eval_load_classifier(test_path("nope.safetensors"), 16, sha, &err);
    TEST_CHECK(none == NULL && strstr(err.msg, "nope.safetensors"), "missing classifier named", "%s", err.msg);

    free(noisy);
    refstats_free(&rs);
    classifier_free(m);
}

// Writes images (n, 28, 28) in [-1, 1] (from 8-bit data) and labels as an
// MNIST-layout test split (t10k-*-ubyte, plain IDX) into dir.
static void write_idx_split(const char *dir, const Dataset *d, long n) {
    char path[1400];
    unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    head[4] = (unsigned char)(n >> 24), head[5] = (unsigned char)(n >> 16), head[6] = (unsigned char)(n >> 8),
    head[7] = (unsigned char)n;
    unsigned char *buf = malloc(16 + (size_t)n * 784);
    memcpy(buf, head, 16);
    for (long i = 0; i < n * 784; i++) buf[16 + i] = image_u8_from_pixel(d->images[i]);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    CHECK(file_write_bytes(path, buf, 16 + (size_t)n * 784) == 0, "write %s", path);
    buf[3] = 1;  // labels: magic 0x00000801, one dimension
    for (long i = 0; i < n; i++) buf[8 + i] = (unsigned char)d->labels[i];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    CHECK(file_write_bytes(path, buf, 8 + (size_t)n) == 0, "write %s", path);
    free(buf);
}

// The evaluation job (analysis/eval_job.h) against the pieces it is made of:
// its reference is the one refstats_get builds from the same images; by
// default it scores the 8-bit form of the images (so 8-bit data scores the
// same with and without rounding, and float images score like their
// image_quantize_u8 copy); one job scores several sets with one reference;
// non-finite pixels are an error before any rounding.
static void test_eval_job(const Dataset *te) {
    LzError err = {{0}};
    const char *dir = test_path("jobref");
    mkdir(dir, 0755);
    Dataset ref = subset(te, 0, REF_N);
    write_idx_split(dir, &ref, REF_N);
    EvalJobOptions o = eval_job_default_options();
    o.classifier = CLASSIFIER_PATH;
    o.cache_dir = NULL;
    o.reference_dir = dir;
    o.metrics.kid_subsets = 5;
    EvalJob job;
    if (!test_check(eval_job_open(&job, &o, &err) == 0, "eval job opens the committed classifier", err.msg)) return;
    RefStats direct;
    CHECK(refstats_get(&direct, job.classifier, job.classifier_sha, &ref, EVAL_SFID_CHANNELS, NULL, &err) == 0, "%s",
          err.msg);
    enum { N = 100 };
    const long per = 784;
    const float *x = te->images + 1000 * per;
    int64_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = te->labels[1000 + i];
    EvalResult a, b;
    int rc = eval_job_score(&job, &a, x, N, labels, NULL, &err);
    TEST_CHECK(rc == 0 && job.have_reference && refs_identical(&job.ref, &direct),
               "eval job reference = refstats_get of the same images (IDX split on disk)", "rc %d %.400s", rc, err.msg);
    rc = rc || image_metrics_compute(&b, job.classifier, &direct, x, N, labels, NULL, &o.metrics, &err);
    TEST_CHECK(rc == 0 && a.fid == b.fid && a.sfid == b.sfid && a.kid.mean == b.kid.mean && a.is_mean == b.is_mean &&
                   a.pr.precision == b.pr.precision && a.class_consistency == b.class_consistency,
               "8-bit data: the job's rounded scoring equals the unrounded metrics exactly", "fid %.17g vs %.17g",
               a.fid, b.fid);
    float *noisy = malloc(sizeof(float) * N * per), *rounded = malloc(sizeof(float) * N * per);
    Prng g;
    prng_seed(&g, 5);
    for (long i = 0; i < N * per; i++) noisy[i] = (float)(x[i] + 0.05 * prng_normal(&g));  // some beyond [-1, 1]
    memcpy(rounded, noisy, sizeof(float) * N * per);
    image_quantize_u8(rounded, N * per);
    EvalResult c, d, e;
    rc = eval_job_score(&job, &c, noisy, N, NULL, x, &err) ||
         image_metrics_compute(&d, job.classifier, &direct, rounded, N, NULL, x, &o.metrics, &err) ||
         image_metrics_compute(&e, job.classifier, &direct, noisy, N, NULL, x, &o.metrics, &err);
    TEST_CHECK(rc == 0 && c.fid == d.fid && c.sfid == d.sfid && c.fidelity.psnr_mean == d.fidelity.psnr_mean &&
                   c.fid != e.fid,
               "float images: the job scores their image_quantize_u8 copy (features and PSNR), not the floats",
               "fid %.17g vs rounded %.17g vs floats %.17g", c.fid, d.fid, e.fid);
    printf("# eval job, noisy copy: fid %.4f rounded, %.4f unrounded; psnr %.3f / %.3f dB\n", c.fid, e.fid,
           c.fidelity.psnr_mean, e.fidelity.psnr_mean);
    job.opt.quantize = false;
    rc = eval_job_score(&job, &c, noisy, N, NULL, x, &err);
    TEST_CHECK(rc == 0 && c.fid == e.fid && c.fidelity.psnr_mean == e.fidelity.psnr_mean,
               "quantize off: the job scores the floats as given", "fid %.17g vs %.17g", c.fid, e.fid);
    job.opt.quantize = true;
    noisy[3 * per + 5] = NAN;
    rc = eval_job_score(&job, &c, noisy, N, NULL, NULL, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "sample 3 pixel 5 is not finite"),
               "eval job: a non-finite pixel is an error, not rounded away", "rc %d: %.400s", rc, err.msg);
    rc = eval_job_score(&job, &c, x, 9, NULL, NULL, &err);
    TEST_CHECK(rc != 0 && strstr(err.msg, "9 samples, need at least 10"), "eval job: too few samples", "%s", err.msg);
    EvalJob bad;
    o.metrics.bootstrap = 1;
    TEST_CHECK(eval_job_open(&bad, &o, &err) != 0 && strstr(err.msg, "bootstrap 1"), "eval job: bootstrap 1 refused",
               "%s", err.msg);
    o.metrics.bootstrap = 0;
    o.sfid_channels = 65;
    TEST_CHECK(eval_job_open(&bad, &o, &err) != 0 && strstr(err.msg, "65 sFID channels outside 1..64"),
               "eval job: sFID channels beyond the classifier refused", "%s", err.msg);
    free(noisy);
    free(rounded);
    refstats_free(&direct);
    eval_job_close(&job);
}

int main(void) {
    openblas_set_num_threads(2);
    test_dir_make("eval_cache");
    test_sha256();
    Dataset te;
    LzError err = {{0}};
    if (test_check(dataset_load_dir(&te, NULL, "test", &err) == 0, "load Fashion-MNIST test split", err.msg)) {
        test_cache(&te);
        test_fidelity_and_errors(&te);
        test_eval_job(&te);
        dataset_free(&te);
    }
    test_dir_remove();
    return test_finish();
}
