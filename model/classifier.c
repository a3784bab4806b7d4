// classifier.c: the FID-proxy feature CNN (see classifier.h): kernels, the
// network in forward order, its backward in reverse order, checkpoints.
#include "model/classifier.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/kernels.h"
#include "model/base/prng.h"
#include "model/io/file_rules.h"
#include "model/io/safetensors.h"

// ---------------------------------------------------------------------------
// kernels

// col (Ci*9, H*W): row (ci, kh, kw) holds inp[ci, y+kh-1, x+kw-1] (0 outside),
// so that the weight (Co, Ci, 3, 3) read as (Co, Ci*9) multiplies it directly.
static void im2col3x3(float *col, const float *inp, int Ci, int H, int W) {
    const long HW = (long)H * W;
    for (int ci = 0; ci < Ci; ci++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
                float *row = col + ((long)ci * 9 + kh * 3 + kw) * HW;
                const float *plane = inp + (long)ci * HW;
                int dx = kw - 1;
                // valid x: 0 <= x + dx < W
                int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                for (int y = 0; y < H; y++) {
                    float *r = row + (long)y * W;
                    int sy = y + kh - 1;
                    if (sy < 0 || sy >= H) {
                        memset(r, 0, sizeof(float) * W);
                        continue;
                    }
                    for (int x = 0; x < x0; x++) r[x] = 0;
                    memcpy(r + x0, plane + (long)sy * W + x0 + dx, sizeof(float) * (x1 - x0));
                    for (int x = x1; x < W; x++) r[x] = 0;
                }
            }
}

// The adjoint of im2col3x3: dinp += the scattering of dcol.
static void col2im3x3_add(float *dinp, const float *dcol, int Ci, int H, int W) {
    const long HW = (long)H * W;
    for (int ci = 0; ci < Ci; ci++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
                const float *row = dcol + ((long)ci * 9 + kh * 3 + kw) * HW;
                float *plane = dinp + (long)ci * HW;
                int dx = kw - 1;
                int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                for (int y = 0; y < H; y++) {
                    int sy = y + kh - 1;
                    if (sy < 0 || sy >= H) continue;
                    const float *r = row + (long)y * W;
                    float *d = plane + (long)sy * W + dx;
                    for (int x = x0; x < x1; x++) d[x] += r[x];
                }
            }
}

// One GEMM per image keeps the columns (at most 576 x 196 floats, 450 KB) in
// cache. Grouping 32 images into one wider GEMM was measured slower on this
// 2-core machine (the 14 MB column matrix streams from memory), so OpenBLAS
// mostly runs these on one thread.
void cls_conv3x3_forward(float *out, float *col, const float *inp, const float *weight, const float *bias, int B, int Ci,
                         int H, int W, int Co) {
    const long HW = (long)H * W, K = (long)Ci * 9;
    for (int b = 0; b < B; b++) {
        const float *x = inp + (long)b * Ci * HW;
        float *y = out + (long)b * Co * HW;  // (Co, H*W)
        im2col3x3(col, x, Ci, H, W);
        for (int co = 0; co < Co; co++)
            for (long i = 0; i < HW; i++) y[co * HW + i] = bias[co];
        // y (Co, HW) += weight (Co, K) @ col (K, HW)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)HW, (int)K, 1.0f, weight, (int)K, col,
                    (int)HW, 1.0f, y, (int)HW);
    }
}

void cls_conv3x3_backward(float *dinp, float *dweight, float *dbias, float *col, const float *dout, const float *inp,
                          const float *weight, int B, int Ci, int H, int W, int Co) {
    const long HW = (long)H * W, K = (long)Ci * 9;
    for (int co = 0; co < Co; co++) {
        double s = 0;  // B*H*W terms: sum in double
        for (int b = 0; b < B; b++) {
            const float *g = dout + ((long)b * Co + co) * HW;
            for (long i = 0; i < HW; i++) s += g[i];
        }
        dbias[co] += (float)s;
    }
    for (int b = 0; b < B; b++) {
        const float *x = inp + (long)b * Ci * HW;
        const float *g = dout + (long)b * Co * HW;  // (Co, HW)
        // Rebuilding the columns costs far less than the GEMMs and avoids
        // keeping B copies of the (K, HW) matrix alive from the forward.
        im2col3x3(col, x, Ci, H, W);
        // dweight (Co, K) += dout (Co, HW) @ col^T (HW, K)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, (int)K, (int)HW, 1.0f, g, (int)HW, col, (int)HW,
                    1.0f, dweight, (int)K);
        if (dinp) {
            // dcol (K, HW) = weight^T (K, Co) @ dout (Co, HW), written over col (no longer needed)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)HW, Co, 1.0f, weight, (int)K, g,
                        (int)HW, 0.0f, col, (int)HW);
            col2im3x3_add(dinp + (long)b * Ci * HW, col, Ci, H, W);
        }
    }
}

void cls_relu_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}

void cls_relu_backward(float *dinp, const float *dout, const float *out, long n) {
    // out > 0 exactly where inp > 0; the kink at 0 gets gradient 0, like torch.
    for (long i = 0; i < n; i++)
        if (out[i] > 0) dinp[i] += dout[i];
}

void cls_maxpool2_forward(float *out, int *idx, const float *inp, int B, int C, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    for (long p = 0; p < (long)B * C; p++) {
        const float *x = inp + p * H * W;
        float *y = out + p * Ho * Wo;
        int *ix = idx + p * Ho * Wo;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                int best = (2 * i) * W + 2 * j;
                float bv = x[best];
                const int cand[3] = {(2 * i) * W + 2 * j + 1, (2 * i + 1) * W + 2 * j, (2 * i + 1) * W + 2 * j + 1};
                for (int k = 0; k < 3; k++)
                    if (x[cand[k]] > bv) {  // strict: the first maximum wins ties
                        bv = x[cand[k]];
                        best = cand[k];
                    }
                y[i * Wo + j] = bv;
                ix[i * Wo + j] = best;
            }
    }
}

void cls_maxpool2_backward(float *dinp, const float *dout, const int *idx, int B, int C, int H, int W) {
    const int Ho = H / 2, Wo = W / 2;
    for (long p = 0; p < (long)B * C; p++) {
        float *dx = dinp + p * H * W;
        const float *dy = dout + p * Ho * Wo;
        const int *ix = idx + p * Ho * Wo;
        for (int k = 0; k < Ho * Wo; k++) dx[ix[k]] += dy[k];
    }
}

// Softmax of one row, max-subtracted (keeps exp() finite) and summed in
// double; returns log(sum exp(z)) for the cross-entropy. p may alias z.
static double softmax_row(float *p, const float *z, int K) {
    double mx = z[0];
    for (int k = 1; k < K; k++)
        if (z[k] > mx) mx = z[k];
    double sum = 0;
    for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
    for (int k = 0; k < K; k++) p[k] = (float)(exp(z[k] - mx) / sum);
    return log(sum) + mx;
}

void cls_softmax(float *probs, const float *logits, long B, int K) {
    for (long b = 0; b < B; b++) softmax_row(probs + b * K, logits + b * K, K);
}

int cls_argmax(const float *z, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

void cls_softmax_xent_forward(float *losses, float *probs, const float *logits, const int *labels, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (long)b * K;
        double target = losses ? z[labels[b]] : 0;  // read before probs is written (it may alias)
        double lse = softmax_row(probs + (long)b * K, z, K);
        if (losses) losses[b] = (float)(lse - target);
    }
}

void cls_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, double dloss, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *p = probs + (long)b * K;
        float *d = dlogits + (long)b * K;
        for (int k = 0; k < K; k++) d[k] += (float)(dloss * ((double)p[k] - (k == labels[b] ? 1.0 : 0.0)));
    }
}

// ---------------------------------------------------------------------------
// network

ClassifierConfig classifier_default_config(void) {
    ClassifierConfig c = {.in_c = 1, .h = 28, .w = 28, .c1 = 32, .c2 = 64, .c3 = 64, .hidden = 128, .num_classes = 10};
    return c;
}

static long flat_dim(const ClassifierConfig *c) { return (long)c->c3 * (c->h / 4) * (c->w / 4); }

void classifier_tensor_info(const ClassifierConfig *c, ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS]) {
    const ClassifierTensorInfo tab[CLASSIFIER_NUM_PARAM_TENSORS] = {
        {"conv1.weight", 4, {c->c1, c->in_c, 3, 3}, 0, 0},
        {"conv1.bias", 1, {c->c1}, 0, 0},
        {"conv2.weight", 4, {c->c2, c->c1, 3, 3}, 0, 0},
        {"conv2.bias", 1, {c->c2}, 0, 0},
        {"conv3.weight", 4, {c->c3, c->c2, 3, 3}, 0, 0},
        {"conv3.bias", 1, {c->c3}, 0, 0},
        {"fc1.weight", 2, {c->hidden, flat_dim(c)}, 0, 0},
        {"fc1.bias", 1, {c->hidden}, 0, 0},
        {"fc2.weight", 2, {c->num_classes, c->hidden}, 0, 0},
        {"fc2.bias", 1, {c->num_classes}, 0, 0},
    };
    long off = 0;
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) {
        t[i] = tab[i];
        t[i].size = 1;
        for (int d = 0; d < t[i].ndim; d++) t[i].size *= t[i].shape[d];
        t[i].offset = off;
        off += t[i].size;
    }
}

static void point_params(ClassifierParams *p, float *mem, const ClassifierConfig *cfg) {
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(cfg, t);
    float **ptrs[CLASSIFIER_NUM_PARAM_TENSORS] = {&p->conv1_w, &p->conv1_b, &p->conv2_w, &p->conv2_b, &p->conv3_w,
                                                  &p->conv3_b, &p->fc1_w,   &p->fc1_b,   &p->fc2_w,   &p->fc2_b};
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) *ptrs[i] = mem + t[i].offset;
}

// Activation sizes for B rows, in the field order of ClassifierActs.
#define CLS_NUM_ACTS 14
static void act_sizes(const ClassifierConfig *c, long B, long s[CLS_NUM_ACTS]) {
    long HW = (long)c->h * c->w, HW2 = HW / 4, HW4 = HW / 16;
    s[0] = B * c->in_c * HW;
    s[1] = s[2] = B * c->c1 * HW;
    s[3] = B * c->c1 * HW2;
    s[4] = s[5] = B * c->c2 * HW2;
    s[6] = s[7] = B * c->c3 * HW2;
    s[8] = B * c->c3 * HW4;
    s[9] = s[10] = B * c->hidden;
    s[11] = s[12] = B * c->num_classes;
    s[13] = B;
}

static float *point_acts(ClassifierActs *a, const ClassifierConfig *cfg, long B, const char *what) {
    long s[CLS_NUM_ACTS], total = 0;
    act_sizes(cfg, B, s);
    for (int i = 0; i < CLS_NUM_ACTS; i++) total += s[i];
    float *mem = lz_calloc((size_t)total, sizeof(float), what);
    float **ptrs[CLS_NUM_ACTS] = {&a->in, &a->conv1, &a->a1, &a->p1,  &a->conv2,  &a->a2,    &a->conv3,
                                  &a->a3, &a->p2,    &a->fc1, &a->a4, &a->logits, &a->probs, &a->losses};
    float *p = mem;
    for (int i = 0; i < CLS_NUM_ACTS; i++) {
        *ptrs[i] = p;
        p += s[i];
    }
    return mem;
}

Classifier *classifier_create(const ClassifierConfig *cfg, int max_batch, int training) {
    CHECK(cfg->in_c > 0 && cfg->c1 > 0 && cfg->c2 > 0 && cfg->c3 > 0 && cfg->hidden > 0 && cfg->num_classes > 1,
          "classifier config: every channel count must be positive and num_classes >= 2");
    CHECK(cfg->h >= 4 && cfg->w >= 4 && cfg->h % 4 == 0 && cfg->w % 4 == 0,
          "classifier config: image size %dx%d must be a positive multiple of 4 (two 2x2 poolings)", cfg->h, cfg->w);
    CHECK(max_batch > 0, "classifier: max_batch %d must be positive", max_batch);
    Classifier *m = lz_calloc(1, sizeof *m, "classifier");
    m->cfg = *cfg;
    m->max_batch = max_batch;
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(cfg, t);
    m->num_params = t[CLASSIFIER_NUM_PARAM_TENSORS - 1].offset + t[CLASSIFIER_NUM_PARAM_TENSORS - 1].size;
    m->params_memory = lz_calloc((size_t)m->num_params, sizeof(float), "classifier params");
    point_params(&m->params, m->params_memory, cfg);
    m->acts_memory = point_acts(&m->acts, cfg, max_batch, "classifier activations");
    if (training) {
        m->grads_memory = lz_calloc((size_t)m->num_params, sizeof(float), "classifier grads");
        point_params(&m->grads, m->grads_memory, cfg);
        m->dacts_memory = point_acts(&m->dacts, cfg, max_batch, "classifier activation grads");
    }
    long HW = (long)cfg->h * cfg->w;
    long n1 = (long)max_batch * cfg->c1 * HW / 4, n2 = (long)max_batch * cfg->c3 * HW / 16;
    m->idx_memory = lz_malloc(sizeof(int) * (size_t)(n1 + n2), "classifier pool indices");
    m->pool1_idx = m->idx_memory;
    m->pool2_idx = m->idx_memory + n1;
    // im2col scratch: the largest (Ci*9, H*W) over the three convolutions
    long c1 = (long)cfg->in_c * 9 * HW, c2 = (long)cfg->c1 * 9 * HW / 4, c3 = (long)cfg->c2 * 9 * HW / 4;
    long cmax = c1 > c2 ? c1 : c2;
    if (c3 > cmax) cmax = c3;
    m->col = lz_malloc(sizeof(float) * (size_t)cmax, "classifier im2col scratch");
    return m;
}

void classifier_free(Classifier *m) {
    if (!m) return;
    free(m->params_memory);
    free(m->grads_memory);
    free(m->acts_memory);
    free(m->dacts_memory);
    free(m->idx_memory);
    free(m->col);
    free(m);
}

void classifier_init(Classifier *m, uint64_t seed) {
    Prng g;
    prng_seed(&g, seed);
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(&m->cfg, t);
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) {
        float *p = m->params_memory + t[i].offset;
        if (t[i].ndim == 1) {
            memset(p, 0, sizeof(float) * t[i].size);
            continue;
        }
        long fan_in = t[i].size / t[i].shape[0];
        double bound = sqrt(6.0 / (double)fan_in);
        for (long k = 0; k < t[i].size; k++) p[k] = (float)((2.0 * prng_uniform(&g) - 1.0) * bound);
    }
}

// Forward of n <= max_batch rows already copied into acts.in.
static void forward_rows(Classifier *m, int n) {
    const ClassifierConfig *c = &m->cfg;
    ClassifierActs *a = &m->acts;
    ClassifierParams *p = &m->params;
    const int H = c->h, W = c->w, H2 = H / 2, W2 = W / 2;
    cls_conv3x3_forward(a->conv1, m->col, a->in, p->conv1_w, p->conv1_b, n, c->in_c, H, W, c->c1);
    cls_relu_forward(a->a1, a->conv1, (long)n * c->c1 * H * W);
    cls_maxpool2_forward(a->p1, m->pool1_idx, a->a1, n, c->c1, H, W);
    cls_conv3x3_forward(a->conv2, m->col, a->p1, p->conv2_w, p->conv2_b, n, c->c1, H2, W2, c->c2);
    cls_relu_forward(a->a2, a->conv2, (long)n * c->c2 * H2 * W2);
    cls_conv3x3_forward(a->conv3, m->col, a->a2, p->conv3_w, p->conv3_b, n, c->c2, H2, W2, c->c3);
    cls_relu_forward(a->a3, a->conv3, (long)n * c->c3 * H2 * W2);
    cls_maxpool2_forward(a->p2, m->pool2_idx, a->a3, n, c->c3, H2, W2);
    // (n, c3, H4, W4) is already the (n, c3*H4*W4) flatten in torch's order
    linear_forward(a->fc1, a->p2, p->fc1_w, p->fc1_b, n, (int)flat_dim(c), c->hidden);
    cls_relu_forward(a->a4, a->fc1, (long)n * c->hidden);
    linear_forward(a->logits, a->a4, p->fc2_w, p->fc2_b, n, c->hidden, c->num_classes);
    m->batch = n;
}

void classifier_feature_dims(const Classifier *m, int *num_classes, int *penultimate_dim, int *spatial_dim) {
    if (num_classes) *num_classes = m->cfg.num_classes;
    if (penultimate_dim) *penultimate_dim = m->cfg.hidden;
    if (spatial_dim) *spatial_dim = (int)flat_dim(&m->cfg);
}

static void forward_chunked(Classifier *m, const float *images, long n, float *logits, float *probs,
                            float *penultimate, float *spatial) {
    const ClassifierConfig *c = &m->cfg;
    const long per = (long)c->in_c * c->h * c->w, K = c->num_classes, D = c->hidden, S = flat_dim(c);
    for (long s = 0; s < n; s += m->max_batch) {
        int b = (int)(n - s < m->max_batch ? n - s : m->max_batch);
        memcpy(m->acts.in, images + s * per, sizeof(float) * (size_t)(b * per));
        forward_rows(m, b);
        if (logits) memcpy(logits + s * K, m->acts.logits, sizeof(float) * (size_t)(b * K));
        if (probs) cls_softmax(probs + s * K, m->acts.logits, b, (int)K);
        if (penultimate) memcpy(penultimate + s * D, m->acts.a4, sizeof(float) * (size_t)(b * D));
        if (spatial) memcpy(spatial + s * S, m->acts.p2, sizeof(float) * (size_t)(b * S));
    }
}

void classifier_forward(Classifier *m, const float *images, long n, float *logits, float *penultimate, float *spatial) {
    forward_chunked(m, images, n, logits, NULL, penultimate, spatial);
}

void classifier_probs(Classifier *m, const float *images, long n, float *probs) {
    forward_chunked(m, images, n, NULL, probs, NULL, NULL);
}

long classifier_count_correct(Classifier *m, const float *images, const int *labels, long n) {
    const ClassifierConfig *c = &m->cfg;
    const long per = (long)c->in_c * c->h * c->w;
    long correct = 0;
    for (long s = 0; s < n; s += m->max_batch) {
        int b = (int)(n - s < m->max_batch ? n - s : m->max_batch);
        memcpy(m->acts.in, images + s * per, sizeof(float) * (size_t)(b * per));
        forward_rows(m, b);
        for (int i = 0; i < b; i++) correct += cls_argmax(m->acts.logits + (long)i * c->num_classes, c->num_classes) == labels[s + i];
    }
    return correct;
}

double classifier_forward_train(Classifier *m, const float *images, const int *labels, int n, long *correct) {
    const ClassifierConfig *c = &m->cfg;
    CHECK(n > 0 && n <= m->max_batch, "classifier_forward_train: batch %d outside 1..%d", n, m->max_batch);
    for (int i = 0; i < n; i++)
        CHECK(labels[i] >= 0 && labels[i] < c->num_classes, "classifier: label %d of row %d outside 0..%d", labels[i],
              i, c->num_classes - 1);
    memcpy(m->acts.in, images, sizeof(float) * (size_t)n * c->in_c * c->h * c->w);
    forward_rows(m, n);
    cls_softmax_xent_forward(m->acts.losses, m->acts.probs, m->acts.logits, labels, n, c->num_classes);
    double loss = 0;
    long ok = 0;
    for (int i = 0; i < n; i++) {
        loss += m->acts.losses[i];
        ok += cls_argmax(m->acts.logits + (long)i * c->num_classes, c->num_classes) == labels[i];
    }
    if (correct) *correct = ok;
    return loss / n;
}

void classifier_backward(Classifier *m, const int *labels) {
    CHECK(m->grads_memory, "classifier_backward: model was created without training buffers");
    const ClassifierConfig *c = &m->cfg;
    ClassifierActs *a = &m->acts, *d = &m->dacts;
    ClassifierParams *p = &m->params, *g = &m->grads;
    const int n = m->batch, H = c->h, W = c->w, H2 = H / 2, W2 = W / 2;
    // Every backward kernel accumulates, so the step starts from zero. Only the
    // first n rows of each activation gradient are touched: zero just those.
    memset(m->grads_memory, 0, sizeof(float) * (size_t)m->num_params);
    long s[CLS_NUM_ACTS];
    act_sizes(c, n, s);
    float *dptrs[CLS_NUM_ACTS] = {d->in, d->conv1, d->a1, d->p1, d->conv2, d->a2, d->conv3,
                                  d->a3, d->p2, d->fc1, d->a4, d->logits, d->probs, d->losses};
    for (int i = 0; i < CLS_NUM_ACTS; i++) memset(dptrs[i], 0, sizeof(float) * (size_t)s[i]);

    cls_softmax_xent_backward(d->logits, a->probs, labels, 1.0 / n, n, c->num_classes);
    linear_backward(d->a4, g->fc2_w, g->fc2_b, d->logits, a->a4, p->fc2_w, n, c->hidden, c->num_classes);
    cls_relu_backward(d->fc1, d->a4, a->a4, (long)n * c->hidden);
    linear_backward(d->p2, g->fc1_w, g->fc1_b, d->fc1, a->p2, p->fc1_w, n, (int)flat_dim(c), c->hidden);
    cls_maxpool2_backward(d->a3, d->p2, m->pool2_idx, n, c->c3, H2, W2);
    cls_relu_backward(d->conv3, d->a3, a->a3, (long)n * c->c3 * H2 * W2);
    cls_conv3x3_backward(d->a2, g->conv3_w, g->conv3_b, m->col, d->conv3, a->a2, p->conv3_w, n, c->c2, H2, W2, c->c3);
    cls_relu_backward(d->conv2, d->a2, a->a2, (long)n * c->c2 * H2 * W2);
    cls_conv3x3_backward(d->p1, g->conv2_w, g->conv2_b, m->col, d->conv2, a->p1, p->conv2_w, n, c->c1, H2, W2, c->c2);
    cls_maxpool2_backward(d->a1, d->p1, m->pool1_idx, n, c->c1, H, W);
    cls_relu_backward(d->conv1, d->a1, a->a1, (long)n * c->c1 * H * W);
    // the input gradient is not needed: pass NULL and skip its GEMM
    cls_conv3x3_backward(NULL, g->conv1_w, g->conv1_b, m->col, d->conv1, a->in, p->conv1_w, n, c->in_c, H, W, c->c1);
}

// ---------------------------------------------------------------------------
// checkpoints

#define CLS_FORMAT "lazydit-classifier"

static const char *const cfg_keys[8] = {"in_channels", "height", "width", "c1", "c2", "c3", "hidden", "num_classes"};

static void cfg_fields(ClassifierConfig *c, int *f[8]) {
    f[0] = &c->in_c;
    f[1] = &c->h;
    f[2] = &c->w;
    f[3] = &c->c1;
    f[4] = &c->c2;
    f[5] = &c->c3;
    f[6] = &c->hidden;
    f[7] = &c->num_classes;
}

int classifier_save(const Classifier *m, const char *path, const char *const *extra_keys,
                    const char *const *extra_values, int nextra, LzError *err) {
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(&m->cfg, t);
    StWriteTensor w[CLASSIFIER_NUM_PARAM_TENSORS];
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++)
        w[i] = (StWriteTensor){t[i].name, t[i].ndim, t[i].shape, m->params_memory + t[i].offset};
    enum { NBASE = 11 };
    const int nmeta = NBASE + nextra;
    const char **keys = lz_malloc(sizeof(char *) * (size_t)nmeta, "metadata keys");
    const char **vals = lz_malloc(sizeof(char *) * (size_t)nmeta, "metadata values");
    char num[8][24];
    ClassifierConfig cfg = m->cfg;
    int *f[8];
    cfg_fields(&cfg, f);
    keys[0] = "format";
    vals[0] = CLS_FORMAT;
    for (int i = 0; i < 8; i++) {
        snprintf(num[i], sizeof num[i], "%d", *f[i]);
        keys[1 + i] = cfg_keys[i];
        vals[1 + i] = num[i];
    }
    keys[9] = "penultimate_feature";
    vals[9] = "relu(fc1), (N, hidden)";
    keys[10] = "spatial_feature";
    vals[10] = "maxpool(relu(conv3)), (N, c3*H/4*W/4) in (C, H, W) order";
    for (int i = 0; i < nextra; i++) {
        keys[NBASE + i] = extra_keys[i];
        vals[NBASE + i] = extra_values[i];
    }
    int rc = st_write(path, w, CLASSIFIER_NUM_PARAM_TENSORS, keys, vals, nmeta, err);
    free(keys);
    free(vals);
    return rc;
}

static int parse_meta_int(const StFile *f, const char *path, const char *key, int *out, LzError *err) {
    const char *v = st_meta(f, key);
    if (!v) return lz_fail(err, "%s: classifier metadata lacks \"%s\"", path, key);
    if (lz_parse_int(v, 1, 1000000, out))
        return lz_fail(err, "%s: classifier metadata \"%s\" = \"%.40s\" is not an integer in 1..1000000", path, key, v);
    return 0;
}

// Activation floats of one image (double: no wrap), to bound what a
// checkpoint's metadata can make classifier_create allocate.
static double acts_per_image_double(const ClassifierConfig *c) {
    double HW = (double)c->h * c->w;
    return HW * (c->in_c + 2.0 * c->c1) + HW / 4 * (c->c1 + 2.0 * c->c2 + 2.0 * c->c3) + HW / 16 * c->c3 +
           2.0 * c->hidden + 3.0 * c->num_classes + 1;
}

// Largest activation footprint a loaded classifier may have per image: 2^26
// floats (256 MiB), some 500 times the default network's.
#define CLS_MAX_ACTS_PER_IMAGE 67108864.0

Classifier *classifier_load(const char *path, int max_batch, LzError *err) {
    StFile f;
    if (st_read(path, &f, err)) return NULL;
    Classifier *m = NULL;
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, CLS_FORMAT)) {
        lz_fail(err, "%s: metadata format is %s%.40s%s, expected \"" CLS_FORMAT "\" (not a classifier checkpoint?)",
                path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "");
        goto done;
    }
    ClassifierConfig cfg;
    int *fields[8];
    cfg_fields(&cfg, fields);
    for (int i = 0; i < 8; i++)
        if (parse_meta_int(&f, path, cfg_keys[i], fields[i], err)) goto done;
    if (cfg.h % 4 || cfg.w % 4 || cfg.num_classes < 2) {
        lz_fail(err, "%s: classifier metadata has image %dx%d (must be multiples of 4) and %d classes (>= 2)", path,
                cfg.h, cfg.w, cfg.num_classes);
        goto done;
    }
    // Sizes from the metadata are checked against the file before any use:
    // each expected tensor's element count (in double, so nothing wraps) must
    // be exactly the count the file holds under that name.
    double flat = (double)cfg.c3 * (cfg.h / 4) * (cfg.w / 4);
    const struct {
        const char *name;
        double count;
    } expect[CLASSIFIER_NUM_PARAM_TENSORS] = {
        {"conv1.weight", (double)cfg.c1 * cfg.in_c * 9}, {"conv1.bias", cfg.c1},
        {"conv2.weight", (double)cfg.c2 * cfg.c1 * 9},   {"conv2.bias", cfg.c2},
        {"conv3.weight", (double)cfg.c3 * cfg.c2 * 9},   {"conv3.bias", cfg.c3},
        {"fc1.weight", cfg.hidden * flat},               {"fc1.bias", cfg.hidden},
        {"fc2.weight", (double)cfg.num_classes * cfg.hidden}, {"fc2.bias", cfg.num_classes},
    };
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) {
        const StTensor *st = st_find(&f, expect[i].name);
        if (!st || (double)st->count != expect[i].count) {
            lz_fail(err, "%s: tensor \"%s\" %s, expected %.0f values from the metadata", path, expect[i].name,
                    st ? "has another size" : "is missing", expect[i].count);
            goto done;
        }
    }
    // names in both directions: all 10 are present and names are unique, so any other tensor is extra
    if (f.ntensors != CLASSIFIER_NUM_PARAM_TENSORS) {
        for (int k = 0; k < f.ntensors; k++) {
            int known = 0;
            for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) known |= !strcmp(f.tensors[k].name, expect[i].name);
            if (!known) {
                lz_fail(err, "%s: unexpected tensor \"%.80s\" in a classifier checkpoint", path, f.tensors[k].name);
                goto done;
            }
        }
    }
    if (acts_per_image_double(&cfg) > CLS_MAX_ACTS_PER_IMAGE) {
        lz_fail(err, "%s: a %dx%d input with channels %d/%d/%d needs %.3g activation floats per image (limit %.3g)",
                path, cfg.h, cfg.w, cfg.c1, cfg.c2, cfg.c3, acts_per_image_double(&cfg), CLS_MAX_ACTS_PER_IMAGE);
        goto done;
    }
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(&cfg, t);
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) {
        const StTensor *st = st_find(&f, t[i].name);
        int ok = st->ndim == t[i].ndim;
        for (int d = 0; ok && d < t[i].ndim; d++) ok = st->shape[d] == t[i].shape[d];
        if (!ok) {
            char want[96];
            snprintf(want, sizeof want, "(%ld", t[i].shape[0]);
            for (int d = 1; d < t[i].ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), ", %ld", t[i].shape[d]);
            snprintf(want + strlen(want), sizeof want - strlen(want), ")");
            lz_fail(err, "%s: tensor \"%s\" has another shape, expected shape %s from the metadata", path, t[i].name,
                    want);
            goto done;
        }
        if (lz_check_finite(path, t[i].name, st->data, st->count, err)) goto done;
    }
    m = classifier_create(&cfg, max_batch, 0);
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++)
        memcpy(m->params_memory + t[i].offset, st_find(&f, t[i].name)->data, sizeof(float) * (size_t)t[i].size);
done:
    st_free(&f);
    return m;
}
