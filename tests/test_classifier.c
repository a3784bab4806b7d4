// test_classifier.c: the feature classifier's kernels and network.
//
// Every backward is checked against central finite differences of a float
// forward, with the scalar objective accumulated in double:
//  - conv, linear, maxpool and relu are piecewise linear in each input, so
//    L = sum(out * R) for a fixed random R has an exact central difference
//    whatever the step; a large step (0.5) makes float rounding negligible.
//    ReLU inputs are kept >= 0.1 away from the kink with step 0.01, maxpool
//    inputs are distinct by >= 0.05 with step 0.01, so no switch flips.
//    Tolerance |analytic - fd| <= 1e-3 |fd| + 1e-4.
//  - softmax cross-entropy is smooth: step 1e-2 (truncation ~ eps^2 ~ 1e-4
//    relative) and tolerance 2e-3 |fd| + 2e-4.
//  - the whole network (tiny config, every parameter): step 3e-3, balancing
//    float rounding of the loss (~1e-7 relative, i.e. ~1e-4 in the quotient)
//    against switch flips; coordinates whose perturbation flips a ReLU mask or
//    a pooling argmax are skipped (the function is not differentiable across
//    them; at most 5% may be, 9 of 481 here); tolerance 1e-2 |fd| + 3e-4 for
//    gradients of magnitude ~1e-2..1e-1.
// Also: forward vs naive loops, chunked inference, save/load round trip, and a
// PyTorch golden (tests/ref/gen_classifier_ref.py) within 1e-4 of scale.
#include <string.h>

#include "model/classifier.h"
#include "model/kernels.h"
#include "model/io/npy.h"
#include "model/base/prng.h"
#include "tests/test.h"

static Prng rng;
static float urand(float lo, float hi) { return lo + (hi - lo) * (float)prng_uniform(&rng); }
static void fill(float *x, long n, float lo, float hi) {
    for (long i = 0; i < n; i++) x[i] = urand(lo, hi);
}
static double dot(const float *a, const float *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// Compares analytic gradient g (n) with FD values fd (n): |g - fd| <= rtol|fd| + atol.
static void check_grad(const char *name, const float *g, const double *fd, long n, double rtol, double atol) {
    double worst = 0;
    long wi = -1;
    for (long i = 0; i < n; i++) {
        double d = fabs(g[i] - fd[i]), lim = rtol * fabs(fd[i]) + atol;
        if (!(d <= lim) && (wi < 0 || d - lim > worst)) {
            worst = d - lim;
            wi = i;
        }
    }
    double maxerr = 0;
    for (long i = 0; i < n; i++)
        if (fabs(g[i] - fd[i]) > maxerr) maxerr = fabs(g[i] - fd[i]);
    if (wi >= 0)
        TEST_CHECK(0, name, "element %ld: analytic %.8g fd %.8g (max abs err %.3g)", wi, g[wi], fd[wi], maxerr);
    else
        TEST_CHECK(1, name, "max abs err %.3g", maxerr);
    printf("# %s: %ld coordinates, max |analytic - fd| = %.3g\n", name, n, maxerr);
}

// ---- conv3x3 ----

static void conv_naive(float *out, const float *x, const float *w, const float *b, int B, int Ci, int H, int W, int Co) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < Co; o++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    double s = b[o];
                    for (int c = 0; c < Ci; c++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int sy = y + kh - 1, sx = xx + kw - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                s += (double)w[((o * Ci + c) * 3 + kh) * 3 + kw] * x[((n * Ci + c) * H + sy) * W + sx];
                            }
                    out[((n * Co + o) * H + y) * W + xx] = (float)s;
                }
}

static void test_conv(void) {
    const int B = 3, Ci = 3, H = 5, W = 6, Co = 4;
    const long nx = B * Ci * H * W, nw = Co * Ci * 9, ny = B * Co * H * W;
    float x[nx], w[nw], b[Co], R[ny], y[ny], yref[ny], col[Ci * 9 * H * W];
    float dx[nx], dw[nw], db[Co], g0x[nx], g0w[nw], g0b[Co];
    fill(x, nx, -1, 1);
    fill(w, nw, -1, 1);
    fill(b, Co, -1, 1);
    fill(R, ny, -1, 1);
    cls_conv3x3_forward(y, col, x, w, b, B, Ci, H, W, Co);
    conv_naive(yref, x, w, b, B, Ci, H, W, Co);
    test_close("conv3x3 forward vs naive", y, yref, ny, 1e-5, 1e-5);

    // start the gradients from random values: backward must ADD to them
    fill(g0x, nx, -1, 1);
    fill(g0w, nw, -1, 1);
    fill(g0b, Co, -1, 1);
    memcpy(dx, g0x, sizeof dx);
    memcpy(dw, g0w, sizeof dw);
    memcpy(db, g0b, sizeof db);
    cls_conv3x3_backward(dx, dw, db, col, R, x, w, B, Ci, H, W, Co);
    for (long i = 0; i < nx; i++) dx[i] -= g0x[i];
    for (long i = 0; i < nw; i++) dw[i] -= g0w[i];
    for (int i = 0; i < Co; i++) db[i] -= g0b[i];

    const float eps = 0.5f;
    double fdx[nx], fdw[nw], fdb[Co];
    float *vars[3] = {x, w, b};
    double *fds[3] = {fdx, fdw, fdb};
    long ns[3] = {nx, nw, Co};
    for (int v = 0; v < 3; v++)
        for (long i = 0; i < ns[v]; i++) {
            float keep = vars[v][i];
            vars[v][i] = keep + eps;
            cls_conv3x3_forward(y, col, x, w, b, B, Ci, H, W, Co);
            double lp = dot(y, R, ny);
            vars[v][i] = keep - eps;
            cls_conv3x3_forward(y, col, x, w, b, B, Ci, H, W, Co);
            double lm = dot(y, R, ny);
            vars[v][i] = keep;
            fds[v][i] = (lp - lm) / (2.0 * eps);
        }
    check_grad("conv3x3 backward dinp (accumulating) vs fd", dx, fdx, nx, 1e-3, 1e-4);
    check_grad("conv3x3 backward dweight vs fd", dw, fdw, nw, 1e-3, 1e-4);
    check_grad("conv3x3 backward dbias vs fd", db, fdb, Co, 1e-3, 1e-4);

    // dinp = NULL skips the input gradient and leaves the rest identical
    float dw2[nw], db2[Co];
    memset(dw2, 0, sizeof dw2);
    memset(db2, 0, sizeof db2);
    cls_conv3x3_backward(NULL, dw2, db2, col, R, x, w, B, Ci, H, W, Co);
    test_close("conv3x3 backward without dinp: same dweight", dw2, dw, nw, 1e-5, 1e-5);
}

// ---- relu, maxpool ----

static void test_relu(void) {
    enum { N = 64 };
    float x[N], y[N], R[N], dx[N];
    double fd[N];
    for (int i = 0; i < N; i++) {
        x[i] = urand(0.1f, 1.0f) * (i % 2 ? 1.0f : -1.0f);  // |x| >= 0.1: away from the kink
        R[i] = urand(-1, 1);
        dx[i] = 0.25f;
    }
    cls_relu_forward(y, x, N);
    cls_relu_backward(dx, R, y, N);
    for (int i = 0; i < N; i++) dx[i] -= 0.25f;
    const float eps = 0.01f;
    for (int i = 0; i < N; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        cls_relu_forward(y, x, N);
        double lp = dot(y, R, N);
        x[i] = keep - eps;
        cls_relu_forward(y, x, N);
        double lm = dot(y, R, N);
        x[i] = keep;
        fd[i] = (lp - lm) / (2.0 * eps);
    }
    check_grad("relu backward (accumulating) vs fd", dx, fd, N, 1e-3, 1e-4);
}

static void test_maxpool(void) {
    const int B = 2, C = 3, H = 4, W = 6;
    const long nx = B * C * H * W, ny = nx / 4;
    float x[nx], y[ny], R[ny], dx[nx];
    int idx[ny];
    double fd[nx];
    // distinct values 0.05 apart in a shuffled order: no ties, no switch under eps
    for (long i = 0; i < nx; i++) x[i] = 0.05f * (float)i - 3.0f;
    for (long i = nx - 1; i > 0; i--) {
        long j = (long)prng_below(&rng, (uint64_t)i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    fill(R, ny, -1, 1);
    memset(dx, 0, sizeof dx);
    cls_maxpool2_forward(y, idx, x, B, C, H, W);
    int ok = 1;
    for (int p = 0; p < B * C; p++)
        for (int i = 0; i < H / 2; i++)
            for (int j = 0; j < W / 2; j++) {
                const float *q = x + (long)p * H * W;
                float m = q[2 * i * W + 2 * j];
                if (q[2 * i * W + 2 * j + 1] > m) m = q[2 * i * W + 2 * j + 1];
                if (q[(2 * i + 1) * W + 2 * j] > m) m = q[(2 * i + 1) * W + 2 * j];
                if (q[(2 * i + 1) * W + 2 * j + 1] > m) m = q[(2 * i + 1) * W + 2 * j + 1];
                ok &= y[(p * (H / 2) + i) * (W / 2) + j] == m;
            }
    TEST_CHECK(ok, "maxpool2 forward vs naive", "a pooled value differs from the window max");
    cls_maxpool2_backward(dx, R, idx, B, C, H, W);
    const float eps = 0.01f;
    for (long i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        cls_maxpool2_forward(y, idx, x, B, C, H, W);
        double lp = dot(y, R, ny);
        x[i] = keep - eps;
        cls_maxpool2_forward(y, idx, x, B, C, H, W);
        double lm = dot(y, R, ny);
        x[i] = keep;
        fd[i] = (lp - lm) / (2.0 * eps);
    }
    check_grad("maxpool2 backward vs fd", dx, fd, nx, 1e-3, 1e-4);
    // ties: torch keeps the first maximum in row-major order
    float t[4] = {1, 1, 1, 1}, ty;
    int ti;
    cls_maxpool2_forward(&ty, &ti, t, 1, 1, 2, 2);
    TEST_CHECK(ti == 0, "maxpool2 ties pick the first element", "argmax %d", ti);
}

// ---- linear (model/kernels.c, checked here in the classifier's shapes) ----

static void test_linear(void) {
    const int B = 3, I = 7, O = 5;
    float x[B * I], w[O * I], b[O], y[B * O], R[B * O], dx[B * I], dw[O * I], db[O];
    double fdx[B * I], fdw[O * I], fdb[O];
    fill(x, B * I, -1, 1);
    fill(w, O * I, -1, 1);
    fill(b, O, -1, 1);
    fill(R, B * O, -1, 1);
    memset(dx, 0, sizeof dx);
    memset(dw, 0, sizeof dw);
    memset(db, 0, sizeof db);
    linear_backward(dx, dw, db, R, x, w, B, I, O);
    const float eps = 0.5f;
    float *vars[3] = {x, w, b};
    double *fds[3] = {fdx, fdw, fdb};
    long ns[3] = {B * I, O * I, O};
    for (int v = 0; v < 3; v++)
        for (long i = 0; i < ns[v]; i++) {
            float keep = vars[v][i];
            vars[v][i] = keep + eps;
            linear_forward(y, x, w, b, B, I, O);
            double lp = dot(y, R, B * O);
            vars[v][i] = keep - eps;
            linear_forward(y, x, w, b, B, I, O);
            double lm = dot(y, R, B * O);
            vars[v][i] = keep;
            fds[v][i] = (lp - lm) / (2.0 * eps);
        }
    check_grad("linear backward dinp vs fd", dx, fdx, B * I, 1e-3, 1e-4);
    check_grad("linear backward dweight vs fd", dw, fdw, O * I, 1e-3, 1e-4);
    check_grad("linear backward dbias vs fd", db, fdb, O, 1e-3, 1e-4);
}

// ---- softmax cross-entropy ----

static void test_xent(void) {
    enum { B = 4, K = 6 };
    float z[B * K], p[B * K], l[B], dz[B * K];
    int lab[B] = {0, 5, 2, 2};
    double fd[B * K];
    fill(z, B * K, -3, 3);
    z[K + 1] = 40.0f;  // a large logit: the max subtraction must keep exp finite
    memset(dz, 0, sizeof dz);
    cls_softmax_xent_forward(l, p, z, lab, B, K);
    double dloss = 1.0 / B;
    cls_softmax_xent_backward(dz, p, lab, dloss, B, K);
    double ref0 = 0, mx = z[0];
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < K; k++) ref0 += exp(z[k] - mx);
    ref0 = log(ref0) + mx - z[lab[0]];
    TEST_CHECK(fabs(l[0] - ref0) < 1e-6 && isfinite(l[1]), "softmax xent forward", "loss %g want %g", l[0], ref0);
    const float eps = 1e-2f;
    for (int i = 0; i < B * K; i++) {
        float keep = z[i];
        double lp = 0, lm = 0;
        z[i] = keep + eps;
        cls_softmax_xent_forward(l, p, z, lab, B, K);
        for (int b = 0; b < B; b++) lp += dloss * l[b];
        z[i] = keep - eps;
        cls_softmax_xent_forward(l, p, z, lab, B, K);
        for (int b = 0; b < B; b++) lm += dloss * l[b];
        z[i] = keep;
        fd[i] = (lp - lm) / (2.0 * eps);
    }
    check_grad("softmax xent backward vs fd", dz, fd, B * K, 2e-3, 2e-4);

    // cls_softmax: the probabilities of the cross-entropy, in place as well;
    // rows sum to 1 and the large logit's row is nearly one-hot
    float q[B * K], r[B * K];
    cls_softmax_xent_forward(l, p, z, lab, B, K);
    cls_softmax(q, z, B, K);
    memcpy(r, z, sizeof r);
    cls_softmax(r, r, B, K);
    double s1 = 0;
    for (int k = 0; k < K; k++) s1 += q[K + k];
    TEST_CHECK(!memcmp(q, p, sizeof q) && !memcmp(r, p, sizeof r) && fabs(s1 - 1) < 1e-6 && q[K + 1] > 0.999f,
               "cls_softmax equals the cross-entropy's probabilities (also in place)", "row sum %g", s1);
    float ties[5] = {1, 3, 3, -2, 3}, nan_first[3] = {NAN, 5, 1};
    TEST_CHECK(cls_argmax(ties, 5) == 1 && cls_argmax(z + K, K) == 1 && cls_argmax(nan_first, 3) == 0,
               "cls_argmax: first index on ties, a leading NaN stays (class consistency rejects NaN first)", "%d %d %d",
               cls_argmax(ties, 5), cls_argmax(z + K, K), cls_argmax(nan_first, 3));
}

// ---- whole network ----

// A fingerprint of every non-differentiable decision of the last forward.
static uint64_t switches(const Classifier *m) {
    const ClassifierConfig *c = &m->cfg;
    const int n = m->batch;
    long HW = (long)c->h * c->w;
    uint64_t h = 1469598103934665603ull;
    const float *masks[4] = {m->acts.conv1, m->acts.conv2, m->acts.conv3, m->acts.fc1};
    long sizes[4] = {n * c->c1 * HW, n * c->c2 * HW / 4, n * c->c3 * HW / 4, (long)n * c->hidden};
    for (int k = 0; k < 4; k++)
        for (long i = 0; i < sizes[k]; i++) h = (h ^ (uint64_t)(masks[k][i] > 0)) * 1099511628211ull;
    for (long i = 0; i < n * c->c1 * HW / 4; i++) h = (h ^ (uint64_t)m->pool1_idx[i]) * 1099511628211ull;
    for (long i = 0; i < n * c->c3 * HW / 16; i++) h = (h ^ (uint64_t)m->pool2_idx[i]) * 1099511628211ull;
    return h;
}

static void test_network_grad(void) {
    ClassifierConfig cfg = {.in_c = 1, .h = 8, .w = 8, .c1 = 3, .c2 = 4, .c3 = 5, .hidden = 6, .num_classes = 4};
    enum { B = 3 };
    prng_seed(&rng, 7);  // independent of how many numbers earlier tests drew
    Classifier *m = classifier_create(&cfg, B, 1);
    classifier_init(m, 11);
    // random biases too, so that no parameter is checked only at zero
    ClassifierTensorInfo t[CLASSIFIER_NUM_PARAM_TENSORS];
    classifier_tensor_info(&cfg, t);
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++)
        if (t[i].ndim == 1) fill(m->params_memory + t[i].offset, t[i].size, -0.3f, 0.3f);
    float x[B * 64];
    fill(x, B * 64, -1, 1);
    int lab[B] = {1, 3, 0};
    classifier_forward_train(m, x, lab, B, NULL);
    classifier_backward(m, lab);
    const long np = m->num_params;
    float *g = lz_malloc(sizeof(float) * np, "g");
    double *fd = lz_malloc(sizeof(double) * np, "fd");
    memcpy(g, m->grads_memory, sizeof(float) * np);
    uint64_t base = switches(m);
    const float eps = 3e-3f;
    long skipped = 0;
    for (long i = 0; i < np; i++) {
        float keep = m->params_memory[i];
        m->params_memory[i] = keep + eps;
        double lp = classifier_forward_train(m, x, lab, B, NULL);
        uint64_t sp = switches(m);
        m->params_memory[i] = keep - eps;
        double lm = classifier_forward_train(m, x, lab, B, NULL);
        uint64_t sm = switches(m);
        m->params_memory[i] = keep;
        if (sp != base || sm != base) {
            fd[i] = g[i];  // not differentiable across the segment: excluded
            skipped++;
            continue;
        }
        fd[i] = (lp - lm) / (2.0 * eps);
    }
    printf("# network fd: %ld parameters, %ld skipped (a ReLU or pooling switch flipped)\n", np, skipped);
    TEST_CHECK(skipped <= np / 20, "network fd: at most 5 percent of coordinates skipped", "%ld of %ld", skipped, np);
    for (int i = 0; i < CLASSIFIER_NUM_PARAM_TENSORS; i++) {
        char name[96];
        snprintf(name, sizeof name, "network backward d%s vs fd", t[i].name);
        check_grad(name, g + t[i].offset, fd + t[i].offset, t[i].size, 1e-2, 3e-4);
    }
    // a second backward from the same forward gives the same gradients (zeroing works)
    classifier_forward_train(m, x, lab, B, NULL);
    classifier_backward(m, lab);
    classifier_backward(m, lab);
    test_close("network backward zeroes grads each call", m->grads_memory, g, np, 1e-6, 1e-7);
    free(g);
    free(fd);
    classifier_free(m);
}

// chunked inference equals one big batch; save/load round trip
static void test_chunks_and_io(void) {
    ClassifierConfig cfg = {.in_c = 1, .h = 12, .w = 8, .c1 = 3, .c2 = 4, .c3 = 5, .hidden = 6, .num_classes = 4};
    const int N = 5;
    Classifier *a = classifier_create(&cfg, N, 0), *b = classifier_create(&cfg, 2, 0);
    classifier_init(a, 3);
    memcpy(b->params_memory, a->params_memory, sizeof(float) * a->num_params);
    float x[N * 96], la[N * 4], lb[N * 4], pa[N * 6], pb[N * 6], sa[N * 30], sb[N * 30], pr[N * 4];
    fill(x, N * 96, -1, 1);
    int nc, pd, sd;
    classifier_feature_dims(a, &nc, &pd, &sd);
    TEST_CHECK(nc == 4 && pd == 6 && sd == 5 * 3 * 2, "classifier_feature_dims", "%d %d %d", nc, pd, sd);
    classifier_forward(a, x, N, la, pa, sa);
    classifier_forward(b, x, N, lb, pb, sb);
    test_close("chunked forward: logits", lb, la, N * 4, 1e-6, 1e-6);
    test_close("chunked forward: penultimate", pb, pa, N * 6, 1e-6, 1e-6);
    test_close("chunked forward: spatial", sb, sa, N * 30, 1e-6, 1e-6);
    classifier_probs(b, x, N, pr);
    double s = 0;
    for (int k = 0; k < 4; k++) s += pr[k];
    TEST_CHECK(fabs(s - 1) < 1e-6, "classifier_probs rows sum to 1", "sum %g", s);

    char path[512];
    const char *tmp = getenv("TEST_TMP");
    snprintf(path, sizeof path, "%s/cls_roundtrip.safetensors", tmp ? tmp : "/tmp");
    LzError err = {{0}};
    const char *k[1] = {"note"}, *v[1] = {"round trip"};
    TEST_CHECK(classifier_save(a, path, k, v, 1, &err) == 0, "classifier_save", "%s", err.msg);
    Classifier *c = classifier_load(path, 4, &err);
    TEST_CHECK(c != NULL, "classifier_load of a saved model", "%s", err.msg);
    if (c) {
        TEST_CHECK(c->cfg.h == 12 && c->cfg.w == 8 && c->cfg.c3 == 5 && c->num_params == a->num_params,
                   "classifier_load restores the config", "h %d w %d", c->cfg.h, c->cfg.w);
        test_close("classifier_load restores the parameters", c->params_memory, a->params_memory, a->num_params, 0, 0);
        classifier_free(c);
    }
    Classifier *bad = classifier_load("tests/ref/golden/dit_a.safetensors", 4, &err);
    TEST_CHECK(!bad && strstr(err.msg, "dit_a.safetensors") && strstr(err.msg, "format"),
               "classifier_load rejects a non-classifier checkpoint with a named error", "%s", err.msg);
    classifier_free(bad);
    classifier_free(a);
    classifier_free(b);
}

static void test_torch_golden(void) {
    LzError err = {{0}};
    const char *dir = "tests/ref/golden/";
    Classifier *m = classifier_load("tests/ref/golden/classifier_tiny.safetensors", 2, &err);
    TEST_CHECK(m != NULL, "golden: load tiny classifier", "%s", err.msg);
    if (!m) return;
    NpyArray x, lg, pe, sp;
    char p[256];
    int ok = 1;
    snprintf(p, sizeof p, "%sclassifier_x.npy", dir);
    ok &= npy_read_f32(p, &x, &err) == 0;
    snprintf(p, sizeof p, "%sclassifier_logits.npy", dir);
    ok &= ok && npy_read_f32(p, &lg, &err) == 0;
    snprintf(p, sizeof p, "%sclassifier_penultimate.npy", dir);
    ok &= ok && npy_read_f32(p, &pe, &err) == 0;
    snprintf(p, sizeof p, "%sclassifier_spatial.npy", dir);
    ok &= ok && npy_read_f32(p, &sp, &err) == 0;
    TEST_CHECK(ok, "golden: read npy files", "%s", err.msg);
    if (!ok) return;
    long n = x.shape[0];
    int nc, pd, sd;
    classifier_feature_dims(m, &nc, &pd, &sd);
    TEST_CHECK(lg.count == n * nc && pe.count == n * pd && sp.count == n * sd, "golden: shapes", "n %ld", n);
    float *l = lz_malloc(sizeof(float) * lg.count, "l"), *q = lz_malloc(sizeof(float) * pe.count, "q"),
          *s = lz_malloc(sizeof(float) * sp.count, "s");
    classifier_forward(m, x.data, n, l, q, s);  // max_batch 2 < n: exercises chunking too
    double el = test_rel_to_scale(l, lg.data, lg.count), ep = test_rel_to_scale(q, pe.data, pe.count),
           es = test_rel_to_scale(s, sp.data, sp.count);
    TEST_CHECK(el <= 1e-4, "golden: logits match torch within 1e-4 of scale", "rel err %.3g", el);
    TEST_CHECK(ep <= 1e-4, "golden: penultimate matches torch within 1e-4 of scale", "rel err %.3g", ep);
    TEST_CHECK(es <= 1e-4, "golden: spatial matches torch within 1e-4 of scale", "rel err %.3g", es);
    printf("# golden rel-to-scale errors: logits %.3g penultimate %.3g spatial %.3g\n", el, ep, es);
    free(l);
    free(q);
    free(s);
    npy_free(&x);
    npy_free(&lg);
    npy_free(&pe);
    npy_free(&sp);
    classifier_free(m);
}

int main(void) {
    prng_seed(&rng, 20241212);
    test_conv();
    test_relu();
    test_maxpool();
    test_linear();
    test_xent();
    test_network_grad();
    test_chunks_and_io();
    test_torch_golden();
    return test_finish();
}
