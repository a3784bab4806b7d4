// The thread-split kernels (model/kernels_parallel.h) must equal the serial
// kernels bit for bit, for sizes below and above the split thresholds, and
// parallel_for must cover every index exactly once.
#include <string.h>

#include "model/base/check.h"
#include "model/kernels.h"
#include "model/kernels_parallel.h"
#include "model/base/parallel.h"
#include "model/base/prng.h"
#include "tests/test.h"

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
    return test_finish();
}
