// classifier_features.c: classifier features for the metrics, in chunks so that the
// full spatial map (N, c3 * H/4 * W/4), 12.5 kB per image, is never held for
// all N at once: only its first sfid_channels channels are kept.
#include "analysis/classifier_features.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

enum { EVAL_CHUNK = 1024 };

int classifier_features_extract(ClassifierFeatures *f, Classifier *m, const float *images, long n, int sfid_channels,
                          LzError *err) {
    memset(f, 0, sizeof *f);
    const ClassifierConfig *c = &m->cfg;
    int nc, pd, sd;
    classifier_feature_dims(m, &nc, &pd, &sd);
    const int plane = (c->h / 4) * (c->w / 4);
    const long per = (long)c->in_c * c->h * c->w;
    if (n < 1) return lz_fail(err, "eval features: %ld images, need at least 1", n);
    if (sfid_channels < 1 || sfid_channels > c->c3)
        return lz_fail(err, "eval features: sfid channels %d outside 1..%d (the classifier's last conv width)",
                       sfid_channels, c->c3);
    for (long i = 0; i < n * per; i++)
        if (!isfinite(images[i]))
            return lz_fail(err, "eval features: image %ld pixel %ld is not finite (%g)", i / per, i % per,
                           (double)images[i]);
    f->n = n;
    f->pen_dim = pd;
    f->sfid_channels = sfid_channels;
    f->sfid_dim = sfid_channels * plane;
    f->num_classes = nc;
    f->pen = lz_malloc(sizeof(float) * (size_t)n * pd, "eval penultimate features");
    f->sfid = lz_malloc(sizeof(float) * (size_t)n * f->sfid_dim, "eval sfid features");
    f->logits = lz_malloc(sizeof(float) * (size_t)n * nc, "eval logits");
    f->probs = lz_malloc(sizeof(float) * (size_t)n * nc, "eval probabilities");
    f->argmax = lz_malloc(sizeof(int) * (size_t)n, "eval argmax");
    long chunk = n < EVAL_CHUNK ? n : EVAL_CHUNK;
    const int saved_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);  // see classifier_features.h
    float *spatial = lz_malloc(sizeof(float) * (size_t)chunk * sd, "eval spatial chunk");  // (chunk, sd)
    for (long s = 0; s < n; s += chunk) {
        long b = n - s < chunk ? n - s : chunk;
        classifier_forward(m, images + s * per, b, f->logits + s * nc, f->pen + s * pd, spatial);
        for (long i = 0; i < b; i++) {
            // (C, H, W) order: the first sfid_channels channels are a prefix of the row
            memcpy(f->sfid + (s + i) * f->sfid_dim, spatial + i * sd, sizeof(float) * (size_t)f->sfid_dim);
            f->argmax[s + i] = cls_argmax(f->logits + (s + i) * nc, nc);
        }
        cls_softmax(f->probs + s * nc, f->logits + s * nc, b, nc);
    }
    openblas_set_num_threads(saved_threads);
    free(spatial);
    return 0;
}

void classifier_features_free(ClassifierFeatures *f) {
    free(f->pen);
    free(f->sfid);
    free(f->logits);
    free(f->probs);
    free(f->argmax);
    memset(f, 0, sizeof *f);
}
