// refstats.c: reference statistics: compute, save/load (with a trailing
// SHA-256), and the cache lookup keyed by classifier and reference hashes.
#include "analysis/refstats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/inception_score.h"
#include "model/io/atomic_file.h"
#include "model/io/file_rules.h"

static const char REF_MAGIC[8] = {'L', 'Z', 'R', 'E', 'F', 'S', 'T', '1'};
enum { REF_HEADER = 120 };

void refstats_reference_key(uint8_t key[SHA256_BYTES], const float *images, long n, int c, int h, int w,
                            const int *labels, int sfid_channels) {
    Sha256 s;
    sha256_init(&s);
    static const char tag[] = "lazydit-refstats-v1";
    sha256_update(&s, tag, sizeof tag);
    int64_t dims[6] = {sfid_channels, n, c, h, w, labels != NULL};
    sha256_update(&s, dims, sizeof dims);
    sha256_update(&s, images, sizeof(float) * (size_t)n * c * h * w);
    if (labels) sha256_update(&s, labels, sizeof(int) * (size_t)n);
    sha256_final(&s, key);
}

void refstats_cache_path(char *buf, size_t len, const char *cache_dir, const uint8_t classifier_sha[SHA256_BYTES],
                         const uint8_t reference_key[SHA256_BYTES]) {
    char ch[SHA256_HEX_LEN], rh[SHA256_HEX_LEN];
    sha256_hex(classifier_sha, ch);
    sha256_hex(reference_key, rh);
    snprintf(buf, len, "%s/refstats_%.16s_%.8s.bin", cache_dir, ch, rh);
}

void refstats_free(RefStats *rs) {
    free(rs->pen);
    gauss_stats_free(&rs->pen_stats);
    gauss_stats_free(&rs->sfid_stats);
    rs->pen = NULL;
}

int refstats_compute(RefStats *rs, Classifier *m, const uint8_t classifier_sha[SHA256_BYTES], const Dataset *ref,
                     int sfid_channels, LzError *err) {
    memset(rs, 0, sizeof *rs);
    const ClassifierConfig *c = &m->cfg;
    if (ref->c != c->in_c || ref->h != c->h || ref->w != c->w)
        return lz_fail(err, "%s: reference images are %dx%dx%d but the classifier takes %dx%dx%d", ref->source, ref->c,
                       ref->h, ref->w, c->in_c, c->h, c->w);
    if (ref->n < IS_DEFAULT_SPLITS)
        return lz_fail(err, "%s: %ld reference images, need at least %d", ref->source, ref->n, IS_DEFAULT_SPLITS);
    ClassifierFeatures f;
    if (classifier_features_extract(&f, m, ref->images, ref->n, sfid_channels, err)) return -1;
    memcpy(rs->classifier_sha, classifier_sha, SHA256_BYTES);
    refstats_reference_key(rs->reference_key, ref->images, ref->n, ref->c, ref->h, ref->w, ref->labels, sfid_channels);
    rs->n = f.n;
    rs->pen_dim = f.pen_dim;
    rs->sfid_channels = f.sfid_channels;
    rs->sfid_dim = f.sfid_dim;
    rs->num_classes = f.num_classes;
    rs->correct = -1;
    int rc = 0;
    if (ref->labels) {
        rs->correct = 0;
        for (long i = 0; i < f.n; i++) {
            if (ref->labels[i] < 0 || ref->labels[i] >= f.num_classes) {
                rc = lz_fail(err, "%s: label %d of image %ld outside 0..%d", ref->source, ref->labels[i], i,
                             f.num_classes - 1);
                break;
            }
            rs->correct += f.argmax[i] == ref->labels[i];
        }
    }
    if (!rc) rc = inception_score(&rs->is_mean, &rs->is_std, f.probs, f.n, f.num_classes, IS_DEFAULT_SPLITS, err);
    if (!rc) rc = gauss_stats_compute(&rs->pen_stats, f.pen, f.n, f.pen_dim, err);
    if (!rc) rc = gauss_stats_compute(&rs->sfid_stats, f.sfid, f.n, f.sfid_dim, err);
    rs->pen = f.pen;
    f.pen = NULL;
    classifier_features_free(&f);
    if (rc) refstats_free(rs);
    return rc;
}

// ---- file I/O ----

typedef struct {
    AtomicFile af;
    Sha256 sha;
} HashedWriter;

static void put(HashedWriter *w, const void *p, size_t n) {
    atomic_write(&w->af, p, n);
    sha256_update(&w->sha, p, n);
}

static size_t payload_bytes(long n, long pd, long sd) {
    return (size_t)REF_HEADER + 4 * (size_t)(n * pd) + 8 * (size_t)(pd + pd * pd + sd + sd * sd);
}

int refstats_save(const RefStats *rs, const char *path, LzError *err) {
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1) return lz_fail(err, "%s: refstats files are little-endian; big-endian hosts are not supported", path);
    HashedWriter w;
    if (atomic_open(&w.af, path, err)) return -1;
    sha256_init(&w.sha);
    int64_t n = rs->n, correct = rs->correct;
    int32_t dims[4] = {rs->pen_dim, rs->sfid_channels, rs->sfid_dim, rs->num_classes};
    put(&w, REF_MAGIC, 8);
    put(&w, rs->classifier_sha, SHA256_BYTES);
    put(&w, rs->reference_key, SHA256_BYTES);
    put(&w, &n, 8);
    put(&w, dims, sizeof dims);
    put(&w, &correct, 8);
    put(&w, &rs->is_mean, 8);
    put(&w, &rs->is_std, 8);
    put(&w, rs->pen, 4 * (size_t)rs->n * rs->pen_dim);
    put(&w, rs->pen_stats.mu, 8 * (size_t)rs->pen_dim);
    put(&w, rs->pen_stats.sigma, 8 * (size_t)rs->pen_dim * rs->pen_dim);
    put(&w, rs->sfid_stats.mu, 8 * (size_t)rs->sfid_dim);
    put(&w, rs->sfid_stats.sigma, 8 * (size_t)rs->sfid_dim * rs->sfid_dim);
    uint8_t digest[SHA256_BYTES];
    sha256_final(&w.sha, digest);
    atomic_write(&w.af, digest, SHA256_BYTES);
    return atomic_commit(&w.af, err);
}

static int read_gauss(GaussStats *g, const uint8_t **p, int d, double count, const char *path, const char *what,
                      LzError *err) {
    g->dim = d;
    g->count = count;
    g->mu = lz_malloc(8 * (size_t)d, "refstats mu");
    g->sigma = lz_malloc(8 * (size_t)d * d, "refstats sigma");
    memcpy(g->mu, *p, 8 * (size_t)d);
    *p += 8 * (size_t)d;
    memcpy(g->sigma, *p, 8 * (size_t)d * d);
    *p += 8 * (size_t)d * d;
    for (long i = 0; i < d; i++)
        if (!isfinite(g->mu[i])) return lz_fail(err, "%s: %s mean %ld is not finite", path, what, i);
    for (long i = 0; i < d; i++)
        for (long j = 0; j < d; j++) {
            double v = g->sigma[i * d + j];
            if (!isfinite(v)) return lz_fail(err, "%s: %s covariance (%ld, %ld) is not finite", path, what, i, j);
            if (v != g->sigma[j * d + i]) return lz_fail(err, "%s: %s covariance is not symmetric at (%ld, %ld)", path, what, i, j);
        }
    return 0;
}

int refstats_load(RefStats *rs, const char *path, LzError *err) {
    memset(rs, 0, sizeof *rs);
    struct stat st = {0};
    FILE *f = lz_fopen_input(path, &st, err);
    if (!f) return -1;
    if (st.st_size < REF_HEADER + SHA256_BYTES) {
        fclose(f);
        return lz_fail(err, "%s: %lld bytes, too small for a refstats file", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = lz_malloc(size, "refstats file");
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    int rc = 0;
    if (got != size) rc = lz_fail(err, "%s: short read (%zu of %zu bytes)", path, got, size);
    if (!rc && memcmp(buf, REF_MAGIC, 8)) rc = lz_fail(err, "%s: bad magic, not a refstats file", path);
    int64_t n = 0, correct = 0;
    int32_t dims[4] = {0};
    if (!rc) {
        memcpy(rs->classifier_sha, buf + 8, SHA256_BYTES);
        memcpy(rs->reference_key, buf + 40, SHA256_BYTES);
        memcpy(&n, buf + 72, 8);
        memcpy(dims, buf + 80, 16);
        memcpy(&correct, buf + 96, 8);
        memcpy(&rs->is_mean, buf + 104, 8);
        memcpy(&rs->is_std, buf + 112, 8);
        if (n < 2 || n > (1L << 31) || dims[0] < 1 || dims[0] > 65536 || dims[1] < 1 || dims[2] < dims[1] ||
            dims[2] > 65536 || dims[3] < 1 || correct < -1 || correct > n)
            rc = lz_fail(err, "%s: header out of range (n %lld, dims %d %d %d %d, correct %lld)", path, (long long)n,
                         dims[0], dims[1], dims[2], dims[3], (long long)correct);
    }
    if (!rc && size != payload_bytes(n, dims[0], dims[2]) + SHA256_BYTES)
        rc = lz_fail(err, "%s: %zu bytes, expected %zu for n %lld, dims %d and %d", path, size,
                     payload_bytes(n, dims[0], dims[2]) + SHA256_BYTES, (long long)n, dims[0], dims[2]);
    if (!rc) {
        uint8_t digest[SHA256_BYTES];
        sha256(buf, size - SHA256_BYTES, digest);
        if (memcmp(digest, buf + size - SHA256_BYTES, SHA256_BYTES))
            rc = lz_fail(err, "%s: content digest mismatch (corrupted file)", path);
    }
    if (!rc) {
        rs->n = (long)n;
        rs->pen_dim = dims[0];
        rs->sfid_channels = dims[1];
        rs->sfid_dim = dims[2];
        rs->num_classes = dims[3];
        rs->correct = (long)correct;
        const uint8_t *p = buf + REF_HEADER;
        size_t pen_bytes = 4 * (size_t)rs->n * rs->pen_dim;
        rs->pen = lz_malloc(pen_bytes, "refstats penultimate features");
        memcpy(rs->pen, p, pen_bytes);
        p += pen_bytes;
        for (size_t i = 0; !rc && i < (size_t)rs->n * rs->pen_dim; i++)
            if (!isfinite(rs->pen[i])) rc = lz_fail(err, "%s: feature %zu is not finite", path, i);
        if (!rc) rc = read_gauss(&rs->pen_stats, &p, rs->pen_dim, (double)n, path, "penultimate", err);
        if (!rc) rc = read_gauss(&rs->sfid_stats, &p, rs->sfid_dim, (double)n, path, "sfid", err);
        if (!(isfinite(rs->is_mean) && isfinite(rs->is_std)))
            rc = rc ? rc : lz_fail(err, "%s: reference IS is not finite", path);
    }
    free(buf);
    if (rc) refstats_free(rs);
    else {
        rs->origin = REFSTATS_LOADED;
        snprintf(rs->path, sizeof rs->path, "%s", path);
    }
    return rc;
}

// ---- cache ----

int refstats_get(RefStats *rs, Classifier *m, const uint8_t classifier_sha[SHA256_BYTES], const Dataset *ref,
                 int sfid_channels, const char *cache_dir, LzError *err) {
    if (!cache_dir) {
        if (refstats_compute(rs, m, classifier_sha, ref, sfid_channels, err)) return -1;
        rs->origin = REFSTATS_COMPUTED;
        return 0;
    }
    uint8_t key[SHA256_BYTES];
    refstats_reference_key(key, ref->images, ref->n, ref->c, ref->h, ref->w, ref->labels, sfid_channels);
    char path[1024];
    refstats_cache_path(path, sizeof path, cache_dir, classifier_sha, key);
    char note[sizeof rs->note] = "";
    struct stat st;
    if (stat(path, &st) == 0) {
        LzError lerr = {{0}};
        int pd, sd, nc;
        classifier_feature_dims(m, &nc, &pd, &sd);
        if (refstats_load(rs, path, &lerr) == 0) {
            if (!memcmp(rs->classifier_sha, classifier_sha, SHA256_BYTES) && !memcmp(rs->reference_key, key, SHA256_BYTES) &&
                rs->n == ref->n && rs->pen_dim == pd && rs->sfid_channels == sfid_channels && rs->num_classes == nc)
                return 0;
            lz_fail(&lerr, "%.300s: stored hashes or shapes do not match this classifier and reference", path);
            refstats_free(rs);
        }
        snprintf(note, sizeof note, "invalid cache file rebuilt (%s)", lerr.msg);
    }
    if (refstats_compute(rs, m, classifier_sha, ref, sfid_channels, err)) return -1;
    rs->origin = REFSTATS_BUILT;
    snprintf(rs->note, sizeof rs->note, "%s", note);
    LzError serr = {{0}};
    if (lz_mkdir_p(cache_dir, &serr) || refstats_save(rs, path, &serr)) {
        size_t used = strlen(rs->note);
        snprintf(rs->note + used, sizeof rs->note - used, "%sreference statistics not cached: %s", used ? "; " : "",
                 serr.msg);
    } else {
        snprintf(rs->path, sizeof rs->path, "%s", path);
    }
    return 0;
}
