// The thread pool and the tiled kernels (model/kernels_parallel.h):
// element-wise kernels equal the serial ones bit for bit; tiled GEMMs match
// the double oracle; and nothing depends on the thread count -- neither the
// pool's (1, 2, 3 threads) nor OpenBLAS's -- up to a whole DiT forward pass
// (plain, with a mixed batch of skipped rows, and in training mode).
#include <math.h>
#include <string.h>

#include "model/base/check.h"
#include "model/dit.h"
#include "model/kernels.h"
#include "model/kernels_parallel.h"
#include "model/base/parallel.h"
#include "model/base/prng.h"
#include "tests/test.h"
#include "tests/test_io.h"

extern void openblas_set_num_threads(int);

static Prng rng;

static float *randn(long n) {
    float *x = lz_malloc(sizeof(float) * n, "test data");
    for (long i = 0; i < n; i++) x[i] = (float)prng_normal(&rng);
    return x;
}

static float *copy(const float *x, long n) {
    float *y = lz_malloc(sizeof(float) * n, "test copy");
    memcpy(y, x, sizeof(float) * n);
    return y;
}

static void same(const char *name, const float *a, const float *b, long n) {
    TEST_CHECK(memcmp(a, b, sizeof(float) * n) == 0, name, "results differ in some bits (n = %ld)", n);
}

static void count_range(void *ctx, long b, long e) {
    int *hits = ctx;
    for (long i = b; i < e; i++) hits[i]++;
}

static void check_sizes(int B, int T, int D) {
    char label[160];
    long n = (long)B * T * D, S = 6L * D;
    float *x = randn(n), *dout = randn(n), *mod = randn(B * S);
    float *o1 = randn(n), *o2 = copy(o1, n);
    float mean1[4096], rstd1[4096], mean2[4096], rstd2[4096];
    layernorm_forward(o1, mean1, rstd1, x, B * T, D, 1e-6f);
    layernorm_forward_par(o2, mean2, rstd2, x, B * T, D, 1e-6f);
    snprintf(label, sizeof label, "layernorm forward parallel == serial (B %d, T %d, D %d)", B, T, D);
    same(label, o1, o2, n);
    float *g1 = randn(n), *g2 = copy(g1, n);  // backward accumulates into non-zero gradients
    layernorm_backward(g1, dout, x, mean1, rstd1, B * T, D);
    layernorm_backward_par(g2, dout, x, mean1, rstd1, B * T, D);
    snprintf(label, sizeof label, "layernorm backward parallel == serial (B %d, T %d, D %d)", B, T, D);
    same(label, g1, g2, n);

    modulate_forward(o1, x, mod, mod + D, B, T, D, (int)S);
    modulate_forward_par(o2, x, mod, mod + D, B, T, D, (int)S);
    snprintf(label, sizeof label, "modulate forward parallel == serial (B %d)", B);
    same(label, o1, o2, n);
    float *dm1 = randn(B * S), *dm2 = copy(dm1, B * S);
    memcpy(g2, g1, sizeof(float) * n);
    modulate_backward(g1, dm1, dm1 + D, dout, x, mod + D, B, T, D, (int)S);
    modulate_backward_par(g2, dm2, dm2 + D, dout, x, mod + D, B, T, D, (int)S);
    snprintf(label, sizeof label, "modulate backward parallel == serial (B %d)", B);
    same(label, g1, g2, n);
    same("modulate backward: shift and scale gradients", dm1, dm2, B * S);

    memcpy(o2, o1, sizeof(float) * n);
    gated_residual_forward(o1, mod + 2 * D, x, B, T, D, (int)S);
    gated_residual_forward_par(o2, mod + 2 * D, x, B, T, D, (int)S);
    snprintf(label, sizeof label, "gated residual forward parallel == serial (B %d)", B);
    same(label, o1, o2, n);
    memcpy(g2, g1, sizeof(float) * n);
    memcpy(dm2, dm1, sizeof(float) * B * S);
    gated_residual_backward(g1, dm1 + 2 * D, dout, x, mod + 2 * D, B, T, D, (int)S);
    gated_residual_backward_par(g2, dm2 + 2 * D, dout, x, mod + 2 * D, B, T, D, (int)S);
    snprintf(label, sizeof label, "gated residual backward parallel == serial (B %d)", B);
    same(label, g1, g2, n);
    same("gated residual backward: gate gradients", dm1, dm2, B * S);

    gelu_tanh_forward(o1, x, n);
    gelu_tanh_forward_par(o2, x, n);
    snprintf(label, sizeof label, "gelu forward parallel == serial (n %ld)", n);
    same(label, o1, o2, n);
    memcpy(g2, g1, sizeof(float) * n);
    gelu_tanh_backward(g1, dout, x, n);
    gelu_tanh_backward_par(g2, dout, x, n);
    snprintf(label, sizeof label, "gelu backward parallel == serial (n %ld)", n);
    same(label, g1, g2, n);
    free(x), free(dout), free(mod), free(o1), free(o2), free(g1), free(g2), free(dm1), free(dm2);
}

static void count_tile(void *ctx, long t, int worker) {
    int *hits = ctx;
    hits[t] += 1;
    CHECK(worker >= 0 && worker < parallel_threads(), "worker index %d", worker);
}

static void test_tiles(void) {
    for (int nt = 1; nt <= 5; nt += 2) {
        parallel_set_threads(nt);
        int hits[300] = {0}, ok = 1;
        parallel_tiles(300, count_tile, hits);
        for (int i = 0; i < 300; i++) ok &= hits[i] == 1;
        char label[80];
        snprintf(label, sizeof label, "parallel_tiles runs each of 300 tiles once (%d threads)", nt);
        TEST_CHECK(ok, label, "a tile was missed or repeated");
    }
    parallel_set_threads(2);
}

// Runs f under pool thread counts 1, 2, 3 and OpenBLAS thread counts 1, 2
// and reports whether every run wrote the same bits to out[0 .. n).
typedef void (*RunFn)(void *ctx);
static int same_for_all_thread_counts(RunFn f, void *ctx, const float *out, long n) {
    float *first = lz_malloc(sizeof(float) * n, "first result");
    int same_all = 1, runs = 0;
    for (int blas = 1; blas <= 2; blas++)
        for (int nt = 1; nt <= 3; nt++) {
            openblas_set_num_threads(blas);
            parallel_set_threads(nt);
            f(ctx);
            if (runs++ == 0) memcpy(first, out, sizeof(float) * n);
            else same_all &= !memcmp(first, out, sizeof(float) * n);
        }
    openblas_set_num_threads(2);
    parallel_set_threads(2);
    free(first);
    return same_all;
}

typedef struct {
    float *out, *h, *g, *din, *dw, *db;
    const float *in, *w, *b, *dout;
    int N, IC, OC;
} GemmCase;

static void run_linear(void *v) {
    GemmCase *c = v;
    linear_forward_par(c->out, c->in, c->w, c->b, c->N, c->IC, c->OC);
}

static void test_gemm(int N, int IC, int OC) {
    char label[160];
    float *in = randn((long)N * IC), *w = randn((long)OC * IC), *b = randn(OC), *dout = randn((long)N * OC);
    float *o1 = randn((long)N * OC), *o2 = randn((long)N * OC), *h = randn((long)N * OC), *g = randn((long)N * OC);
    GemmCase c = {.out = o1, .in = in, .w = w, .b = b, .N = N, .IC = IC, .OC = OC};
    int mt, nt;
    gemm_tile_grid(N, OC, IC, &mt, &nt);
    snprintf(label, sizeof label, "tiled linear (%d x %d x %d, %d x %d tiles): same bits for 1-3 pool threads and 1-2 "
             "OpenBLAS threads", N, IC, OC, mt, nt);
    TEST_CHECK(same_for_all_thread_counts(run_linear, &c, o1, (long)N * OC), label, "results differ");
    linear_forward_naive(o2, in, w, b, N, IC, OC);
    snprintf(label, sizeof label, "tiled linear (%d x %d x %d) equals the double oracle", N, IC, OC);
    test_close(label, o1, o2, (long)N * OC, 1e-5, 1e-5 * sqrt(IC));
    // fc1 + GELU epilogue: GELU of exactly the tiled product, with and without h
    linear_gelu_forward_par(h, g, in, w, b, N, IC, OC);
    gelu_tanh_forward(o2, o1, (long)N * OC);
    snprintf(label, sizeof label, "linear+GELU (%d x %d x %d): h and g equal linear then GELU bit for bit", N, IC, OC);
    same(label, g, o2, (long)N * OC);
    same("linear+GELU: saved pre-activation", h, o1, (long)N * OC);
    linear_gelu_forward_par(NULL, h, in, w, b, N, IC, OC);
    same("linear+GELU without the pre-activation: same g", h, o2, (long)N * OC);
    // backward (accumulating) against the serial kernel
    float *din1 = randn((long)N * IC), *din2 = copy(din1, (long)N * IC);
    float *dw1 = randn((long)OC * IC), *dw2 = copy(dw1, (long)OC * IC), *db1 = randn(OC), *db2 = copy(db1, OC);
    linear_backward(din1, dw1, db1, dout, in, w, N, IC, OC);
    linear_backward_par(din2, dw2, db2, dout, in, w, N, IC, OC);
    snprintf(label, sizeof label, "tiled linear backward (%d x %d x %d): din, dw close to the serial kernel", N, IC, OC);
    int ok = test_rel_to_scale(din2, din1, (long)N * IC) < 1e-6 && test_rel_to_scale(dw2, dw1, (long)OC * IC) < 1e-6;
    TEST_CHECK(ok, label, "din %.3g dw %.3g", test_rel_to_scale(din2, din1, (long)N * IC),
               test_rel_to_scale(dw2, dw1, (long)OC * IC));
    same("tiled linear backward: bias gradient bit for bit", db1, db2, OC);
    free(in), free(w), free(b), free(dout), free(o1), free(o2), free(h), free(g);
    free(din1), free(din2), free(dw1), free(dw2), free(db1), free(db2);
}

// The fused module kernels against the separate tiled kernels (MLP: the same
// tiles, so the same bits) and against the naive oracles (attention module).
static void test_modules(int B, int T, int D, int H) {
    char label[160];
    int M = 4 * D, N = B * T;
    float *z = randn((long)N * D), *w1 = randn((long)M * D), *b1 = randn(M), *w2 = randn((long)D * M), *b2 = randn(D);
    for (long i = 0; i < (long)M * D; i++) w1[i] *= 0.1f, w2[i] *= 0.05f;
    float *y1 = randn((long)N * D), *y2 = randn((long)N * D), *h1 = randn((long)N * M), *g1 = randn((long)N * M);
    float *h2 = randn((long)N * M), *g2 = randn((long)N * M);
    linear_gelu_forward_par(h1, g1, z, w1, b1, N, D, M);
    linear_forward_par(y1, g1, w2, b2, N, M, D);
    mlp_forward_par(y2, h2, g2, z, w1, b1, w2, b2, N, D, M);
    snprintf(label, sizeof label, "fused MLP module equals fc1+GELU then fc2 bit for bit (%d rows, D %d)", N, D);
    TEST_CHECK(!memcmp(y1, y2, sizeof(float) * N * D) && !memcmp(g1, g2, sizeof(float) * N * M) &&
                   !memcmp(h1, h2, sizeof(float) * N * M), label, "outputs differ");
    mlp_forward_par(y2, NULL, g2, z, w1, b1, w2, b2, N, D, M);
    same("fused MLP module without the pre-activation: same output", y1, y2, (long)N * D);
    // attention module against naive linear + attention + linear
    float *wq = randn(3L * D * D), *bq = randn(3 * D), *wp = randn((long)D * D), *bp = randn(D);
    for (long i = 0; i < 3L * D * D; i++) wq[i] *= 0.1f;
    for (long i = 0; i < (long)D * D; i++) wp[i] *= 0.1f;
    float *qkv = randn(3L * N * D), *att = randn((long)B * H * T * T), *atty = randn((long)N * D);
    float *qkv2 = randn(3L * N * D), *atty2 = randn((long)N * D);
    attention_module_forward_par(y1, qkv, att, atty, z, wq, bq, wp, bp, B, T, D, H, 1);
    linear_forward_naive(qkv2, z, wq, bq, N, D, 3 * D);
    attention_forward_naive(atty2, qkv2, B, T, D, H);
    linear_forward_naive(y2, atty2, wp, bp, N, D, D);
    snprintf(label, sizeof label, "attention module (B %d, T %d, D %d, %d heads) equals the naive oracles", B, T, D, H);
    test_close(label, y1, y2, (long)N * D, 1e-4, 1e-4);
    memcpy(y2, y1, sizeof(float) * N * D);
    attention_module_forward_par(y1, qkv, att, atty, z, wq, bq, wp, bp, B, T, D, H, 0);
    same("attention module without saved intermediates (per-thread scratch): same output", y1, y2, (long)N * D);
    free(z), free(w1), free(b1), free(w2), free(b2), free(y1), free(y2), free(h1), free(g1), free(h2), free(g2);
    free(wq), free(bq), free(wp), free(bp), free(qkv), free(att), free(atty), free(qkv2), free(atty2);
}

// A whole forward pass of the default DiT (T = 49, D = 128, 4 heads) on a
// batch of 12 rows: plain, with a mixed batch (odd rows skipped and filled by
// a hook, so modules run on gathered subsets), and in training mode.
typedef struct {
    DitModel *m;
    const float *x, *t;
    const int *y;
    int B;
    const DitHooks *hooks;
} ForwardCase;

static void skip_odd(void *ctx, DitModuleView *v) {
    (void)ctx;
    for (int b = 0; b < v->B; b++) v->skip[b] = (unsigned char)(b % 2);
}

static void fill_constant(void *ctx, DitModuleView *v) {
    (void)ctx;
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++)
        if (v->skip[b])
            for (long i = 0; i < row; i++) v->y[b * row + i] = 0.01f * (float)(i % 7);
}

// Stack hook: rows b % 3 == 1 bypass every block (their stack output is the
// block-0 input), so the blocks run on a compacted batch of 8 rows.
static void stack_skip_some(void *ctx, DitStackView *v) {
    (void)ctx;
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++)
        if (b % 3 == 1) {
            v->skip[b] = 1;
            memcpy(v->out + b * row, v->x + b * row, sizeof(float) * row);
        }
}

static void run_forward(void *v) {
    ForwardCase *c = v;
    dit_forward(c->m, c->x, c->t, c->y, c->B, NULL, c->hooks);
}

static void test_forward_threads(void) {
    enum { B = 12 };
    DitModel inf, tr;
    test_load_dit(&inf, "models/fmnist_dit.safetensors", B, 0);
    float *copy_params = copy(inf.params_memory, dit_param_count(&inf.cfg));
    dit_build(&tr, &inf.cfg, copy_params, B, 1);
    long img = (long)inf.cfg.in_channels * inf.cfg.input_size * inf.cfg.input_size;
    long nout = (long)B * dit_out_channels(&inf.cfg) * inf.cfg.input_size * inf.cfg.input_size;
    float *x = randn(B * img), t[B];
    int y[B];
    for (int b = 0; b < B; b++) t[b] = (float)(b * 83 % 1000), y[b] = b % 11;
    DitHooks hooks = {.decide = skip_odd, .fill = fill_constant};
    ForwardCase c = {&inf, x, t, y, B, NULL};
    TEST_CHECK(same_for_all_thread_counts(run_forward, &c, inf.acts.out, nout),
               "default DiT forward (12 rows): same bits for 1-3 pool threads and 1-2 OpenBLAS threads",
               "outputs differ");
    c.hooks = &hooks;
    TEST_CHECK(same_for_all_thread_counts(run_forward, &c, inf.acts.out, nout),
               "default DiT forward, mixed batch (6 rows run as a gathered sub-batch): same bits for every thread count",
               "outputs differ");
    DitHooks stack = {.stack_decide = stack_skip_some};
    c.hooks = &stack;
    TEST_CHECK(same_for_all_thread_counts(run_forward, &c, inf.acts.out, nout),
               "default DiT forward, 4 of 12 rows around the blocks (stack hook): same bits for every thread count",
               "outputs differ");
    ForwardCase ct = {&tr, x, t, y, B, NULL};
    TEST_CHECK(same_for_all_thread_counts(run_forward, &ct, tr.acts.out, nout),
               "default DiT forward in training mode: same bits for every thread count", "outputs differ");
    c.hooks = NULL;
    run_forward(&c);
    TEST_CHECK(!memcmp(inf.acts.out, tr.acts.out, sizeof(float) * nout),
               "inference and training mode forwards give the same bits", "outputs differ");
    free(x);
    dit_free(&inf);
    dit_free(&tr);
}

int main(void) {
    prng_seed(&rng, 5);
    TEST_CHECK(parallel_threads() >= 1, "parallel_threads() is at least 1", "%d", parallel_threads());
    for (long n = 0; n < 100; n += 7) {
        int hits[100] = {0};
        parallel_for(n, 1, count_range, hits);
        int ok = 1;
        for (long i = 0; i < 100; i++) ok &= hits[i] == (i < n);
        char label[64];
        snprintf(label, sizeof label, "parallel_for covers [0, %ld) exactly once", n);
        TEST_CHECK(ok, label, "some index missed or repeated");
    }
    check_sizes(1, 3, 8);       // below every threshold: serial path
    check_sizes(3, 49, 128);    // the default model's shapes: split
    check_sizes(8, 64, 96);
    parallel_set_threads(3);  // an odd split of the same work
    check_sizes(3, 49, 128);
    parallel_set_threads(2);
    test_tiles();
    test_gemm(3136, 128, 512);  // the default model's fc1 at batch 64
    test_gemm(300, 128, 768);   // few rows: column tiles (adaLN-like)
    test_gemm(97, 33, 65);      // below the tiling threshold, odd sizes
    test_gemm(1000, 512, 128);  // fc2-like, K = 512
    test_modules(64, 49, 128, 4);  // the default model at batch 64: fused tiles
    test_modules(3, 49, 128, 4);   // a small batch: column tiles, unfused MLP
    test_modules(2, 16, 384, 6);   // large weights: the separate kernels
    test_forward_threads();
    return test_finish();
}
