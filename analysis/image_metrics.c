// image_metrics.c: runs the metrics of analysis/ on classifier features of
// generated images against cached reference statistics.
#include "analysis/image_metrics.h"

#include <string.h>
#include <time.h>

#include "analysis/inception_score.h"
#include "model/base/clock.h"

EvalConfig eval_default_config(void) {
    EvalConfig c = {IS_DEFAULT_SPLITS, 3, KID_DEFAULT_SUBSETS, KID_DEFAULT_SUBSET_SIZE, 0, 0, 2.0};
    return c;
}

int image_metrics_from_features(EvalResult *out, const ClassifierFeatures *f, const RefStats *ref, const int64_t *labels,
                          const EvalConfig *cfg, LzError *err) {
    memset(out, 0, sizeof *out);
    const long n = f->n;
    if (f->pen_dim != ref->pen_dim || f->sfid_dim != ref->sfid_dim || f->num_classes != ref->num_classes)
        return lz_fail(err, "eval: sample features (pen %d, sfid %d, classes %d) do not match the reference (%d, %d, %d)",
                       f->pen_dim, f->sfid_dim, f->num_classes, ref->pen_dim, ref->sfid_dim, ref->num_classes);
    if (n < cfg->is_splits || n <= cfg->k)
        return lz_fail(err, "eval: %ld samples, need at least %d (IS splits) and more than k = %d", n, cfg->is_splits,
                       cfg->k);
    out->n = n;
    double t0 = lz_now_seconds();
    GaussStats s;
    if (gauss_stats_compute(&s, f->pen, n, f->pen_dim, err)) return -1;
    int rc = frechet_distance_stats(&out->fid, &out->fid_terms, &ref->pen_stats, &s, err);
    gauss_stats_free(&s);
    if (rc) return -1;
    if (gauss_stats_compute(&s, f->sfid, n, f->sfid_dim, err)) return -1;
    rc = frechet_distance_stats(&out->sfid, &out->sfid_terms, &ref->sfid_stats, &s, err);
    gauss_stats_free(&s);
    if (rc) return -1;
    out->t_fd = lz_now_seconds() - t0;

    t0 = lz_now_seconds();
    if (inception_score(&out->is_mean, &out->is_std, f->probs, n, f->num_classes, cfg->is_splits, err)) return -1;
    if (labels) {
        if (class_consistency(&out->class_consistency, f->logits, labels, n, f->num_classes, err)) return -1;
        out->has_consistency = true;
    }
    out->t_is = lz_now_seconds() - t0;

    t0 = lz_now_seconds();
    KidConfig kc = {cfg->kid_subsets, cfg->kid_subset_size, cfg->seed};
    if (kid_compute(&out->kid, ref->pen, ref->n, f->pen, n, f->pen_dim, &kc, err)) return -1;
    out->t_kid = lz_now_seconds() - t0;

    t0 = lz_now_seconds();
    if (precision_recall(&out->pr, ref->pen, ref->n, f->pen, n, f->pen_dim, cfg->k, err)) return -1;
    out->t_pr = lz_now_seconds() - t0;

    if (cfg->bootstrap) {
        t0 = lz_now_seconds();
        BootstrapConfig bc = bootstrap_default_config(cfg->bootstrap, cfg->seed);
        bc.resample_real = false;  // the cached reference is the same for every run compared
        if (bootstrap_fd(&out->fid_ci, ref->pen, ref->n, f->pen, n, f->pen_dim, &bc, err) ||
            bootstrap_kid(&out->kid_ci, ref->pen, ref->n, f->pen, n, f->pen_dim, &bc, err))
            return -1;
        out->has_bootstrap = true;
        out->t_bootstrap = lz_now_seconds() - t0;
    }
    return 0;
}

int image_metrics_compute(EvalResult *out, Classifier *m, const RefStats *ref, const float *images, long n,
                 const int64_t *labels, const float *paired, const EvalConfig *cfg, LzError *err) {
    double t0 = lz_now_seconds();
    ClassifierFeatures f;
    if (classifier_features_extract(&f, m, images, n, ref->sfid_channels, err)) return -1;
    double t_features = lz_now_seconds() - t0;
    int rc = image_metrics_from_features(out, &f, ref, labels, cfg, err);
    classifier_features_free(&f);
    if (rc) return -1;
    out->t_features = t_features;
    if (paired) {
        t0 = lz_now_seconds();
        const ClassifierConfig *c = &m->cfg;
        if (fidelity_batch(&out->fidelity, NULL, NULL, images, paired, n, c->in_c, c->h, c->w, cfg->data_range, err))
            return -1;
        out->has_fidelity = true;
        out->t_fidelity = lz_now_seconds() - t0;
    }
    return 0;
}

Classifier *eval_load_classifier(const char *path, int max_batch, uint8_t sha[SHA256_BYTES], LzError *err) {
    uint8_t after[SHA256_BYTES];
    if (sha256_file(path, sha, err)) return NULL;
    Classifier *m = classifier_load(path, max_batch, err);
    if (!m) return NULL;
    if (sha256_file(path, after, err)) {
        classifier_free(m);
        return NULL;
    }
    if (memcmp(sha, after, SHA256_BYTES)) {
        classifier_free(m);
        lz_fail(err, "%s: the file changed while it was being loaded (is a training run writing it?); retry", path);
        return NULL;
    }
    return m;
}
