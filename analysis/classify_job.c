// classify_job.c: the classifier over a dataset (see classify_job.h).
#include "analysis/classify_job.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "model/classifier.h"
#include "model/io/dataset.h"

ClassifyOptions classify_default_options(void) {
    ClassifyOptions o = {0};
    o.data = "test";
    o.split = "test";
    o.batch = 256;
    o.threads = 2;
    return o;
}

int classify_run(ClassifyResult *r, const ClassifyOptions *o, LzError *err) {
    memset(r, 0, sizeof *r);
    if (o->batch < 1 || o->threads < 1)
        return lz_fail(err, "classify: batch %d and threads %d must be >= 1", o->batch, o->threads);
    openblas_set_num_threads(o->threads);
    Classifier *m = classifier_load(o->weights, o->batch, err);
    if (!m) return -1;
    Dataset ds;
    int rc = o->images ? dataset_load_files(&ds, o->images, o->labels, err) : dataset_load_spec(&ds, o->data, o->split, err);
    if (rc) {
        classifier_free(m);
        return -1;
    }
    if (ds.c != m->cfg.in_c || ds.h != m->cfg.h || ds.w != m->cfg.w) {
        lz_fail(err, "%s: images are %dx%dx%d but the classifier takes %dx%dx%d", ds.source, ds.c, ds.h, ds.w,
                m->cfg.in_c, m->cfg.h, m->cfg.w);
        dataset_free(&ds);
        classifier_free(m);
        return -1;
    }
    classifier_feature_dims(m, &r->num_classes, &r->pen_dim, &r->spatial_dim);
    const long n = ds.n;
    const int K = r->num_classes;
    r->n = n;
    snprintf(r->source, sizeof r->source, "%s", ds.source);
    // logits are always computed (accuracy, probabilities); kept only if wanted
    float *logits = lz_malloc(sizeof(float) * (size_t)n * K, "classifier logits");  // (n, K)
    if (o->want_penultimate) r->penultimate = lz_malloc(sizeof(float) * (size_t)n * r->pen_dim, "penultimate features");
    if (o->want_spatial) r->spatial = lz_malloc(sizeof(float) * (size_t)n * r->spatial_dim, "spatial features");
    classifier_forward(m, ds.images, n, logits, r->penultimate, r->spatial);
    if (ds.labels) {
        r->has_labels = true;
        for (long i = 0; i < n; i++) {
            r->correct += cls_argmax(logits + i * K, K) == ds.labels[i];
            r->labels_beyond += ds.labels[i] >= K;
        }
    }
    if (o->want_probs) {
        r->probs = lz_malloc(sizeof(float) * (size_t)n * K, "classifier probabilities");
        cls_softmax(r->probs, logits, n, K);
    }
    if (o->want_logits) r->logits = logits;
    else free(logits);
    dataset_free(&ds);
    classifier_free(m);
    return 0;
}

void classify_result_free(ClassifyResult *r) {
    free(r->logits);
    free(r->probs);
    free(r->penultimate);
    free(r->spatial);
    memset(r, 0, sizeof *r);
}
