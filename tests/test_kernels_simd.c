// The vectorised element-wise kernels: GELU and exp against double precision
// over a dense sweep of every float range (denormals, extremes, +-inf, NaN
// included), the GELU gradient against its double-precision derivative, the
// fused LayerNorm kernels against the separate ones (bit for bit), and the
// attention core (both paths) against the naive double oracle.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/base/check.h"
#include "model/base/prng.h"
#include "model/kernels.h"
#include "model/simd.h"
#include "tests/test.h"

#define SWEEP_STRIDE 251u  // every 251st float bit pattern: 17 million values, all exponents
#define BLOCK 4096

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// Values every sweep must include on top of the strided patterns.
static const uint32_t SPECIAL_BITS[] = {
    0x00000000u, 0x80000000u,  // +-0
    0x00000001u, 0x80000001u,  // smallest denormals
    0x007fffffu, 0x807fffffu,  // largest denormals
    0x00800000u, 0x80800000u,  // FLT_MIN
    0x7f7fffffu, 0xff7fffffu,  // FLT_MAX
    0x7f800000u, 0xff800000u,  // +-inf
    0x7fc00000u, 0xffc00000u, 0x7f800001u,  // NaNs (quiet, negative, signalling)
};
#define NSPECIAL (sizeof SPECIAL_BITS / sizeof SPECIAL_BITS[0])

// Fills x with the next block of the sweep (specials first); returns the count.
static int sweep_block(float *x, uint64_t *pos) {
    int n = 0;
    while (n < BLOCK && *pos < NSPECIAL) x[n++] = from_bits(SPECIAL_BITS[(*pos)++]);
    while (n < BLOCK && *pos - NSPECIAL < (1ull << 32) / SWEEP_STRIDE) {
        x[n++] = from_bits((uint32_t)((*pos - NSPECIAL) * SWEEP_STRIDE));
        (*pos)++;
    }
    return n;
}

static double gelu_ref(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

static void test_gelu_sweep(void) {
    float x[BLOCK], g[BLOCK];
    uint64_t pos = 0;
    long n_total = 0, bad = 0, bad_special = 0;
    double worst = 0;
    float worst_x = 0;
    int n;
    while ((n = sweep_block(x, &pos)) > 0) {
        gelu_tanh_forward(g, x, n);
        for (int i = 0; i < n; i++) {
            double xd = x[i];
            n_total++;
            if (isnan(xd) || isinf(xd)) {
                // NaN -> NaN; +inf -> +inf; -inf -> -0 (the limit; the formula is NaN there).
                int ok = isnan(xd) ? isnan(g[i]) : xd > 0 ? g[i] == INFINITY : (g[i] == 0 && signbit(g[i]));
                bad_special += !ok;
                continue;
            }
            double ref = gelu_ref(xd), q = fabs(g[i] - ref) / (1e-6 * fabs(ref) + 1e-7);
            if (!(q <= 1)) bad++;
            if (!(q <= worst)) worst = q, worst_x = x[i];
        }
    }
    printf("# gelu: %ld values, worst error %.3f of the tolerance at x = %.9g\n", n_total, worst, (double)worst_x);
    TEST_CHECK(bad == 0, "GELU within 1e-6 rel + 1e-7 abs of the double tanh formula over a dense float sweep",
               "%ld of %ld values outside; worst %.3g of the tolerance at x = %.9g", bad, n_total, worst,
               (double)worst_x);
    TEST_CHECK(bad_special == 0, "GELU: NaN -> NaN, +inf -> +inf, -inf -> -0", "%ld wrong", bad_special);
    // Monotone tail checks that a sweep could step over.
    float t[4] = {-20.0f, -9.0f, 9.0f, 20.0f}, gt[4];
    gelu_tanh_forward(gt, t, 4);
    TEST_CHECK(gt[0] <= 0 && gt[0] > -1e-30f && gt[2] == 9.0f && gt[3] == 20.0f, "GELU tails: -20 -> ~0, 9 -> 9",
               "got %g %g %g %g", (double)gt[0], (double)gt[1], (double)gt[2], (double)gt[3]);
}

__attribute__((target("avx2"))) static void exp_avx2(float *y, const float *x, int n) {
    for (int i = 0; i + 8 <= n; i += 8) v8_store(y + i, v8_exp(v8_load(x + i)));
}
static void exp_base(float *y, const float *x, int n) {
    for (int i = 0; i + 8 <= n; i += 8) v8_store(y + i, v8_exp(v8_load(x + i)));
}

static void test_exp_sweep(void) {
    float x[BLOCK], y[BLOCK], y2[BLOCK];
    uint64_t pos = 0;
    long n_total = 0, bad = 0, differ = 0;
    double worst_ulp = 0;
    float worst_x = 0;
    int n, have_avx2 = __builtin_cpu_supports("avx2");
    while ((n = sweep_block(x, &pos)) > 0) {
        n -= n % 8;
        exp_base(y, x, n);
        if (have_avx2) {
            exp_avx2(y2, x, n);
            differ += memcmp(y, y2, sizeof(float) * n) != 0;
        }
        for (int i = 0; i < n; i++) {
            double xd = x[i], ref = exp(xd);
            n_total++;
            if (isnan(xd)) {
                bad += !isnan(y[i]);
                continue;
            }
            if (ref > FLT_MAX) {  // overflow: +inf
                bad += y[i] != INFINITY;
                continue;
            }
            if (xd < -87.0) {  // flushed to 0 (no denormal arithmetic)
                bad += y[i] != 0;
                continue;
            }
            float rf = (float)ref;
            double ulp = (double)nextafterf(rf, INFINITY) - rf, e = fabs(y[i] - ref) / ulp;
            if (!(e <= 1.0)) bad++;
            if (e > worst_ulp) worst_ulp = e, worst_x = x[i];
        }
    }
    printf("# exp: %ld values, worst %.3f ulp at x = %.9g\n", n_total, worst_ulp, (double)worst_x);
    TEST_CHECK(bad == 0, "vector exp within 1 ulp over a dense float sweep (inf on overflow, 0 below e^-87, NaN kept)",
               "%ld of %ld wrong; worst %.3f ulp at %.9g", bad, n_total, worst_ulp, (double)worst_x);
    TEST_CHECK(differ == 0, "vector exp: the AVX2 and the baseline x86-64 code give the same bits",
               "%ld blocks differ", differ);
}

// d/dx of 0.5 x (1 + tanh(u)) in double.
static double gelu_grad_ref(double x) {
    const double k = 0.7978845608028654;
    double u = k * (x + 0.044715 * x * x * x), th = tanh(u);
    return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x);
}

static void test_gelu_grad(void) {
    enum { N = 20001 };
    static float x[N], din[N], dout[N], want[N];
    for (int i = 0; i < N; i++) {
        x[i] = -25.0f + 50.0f * (float)i / (N - 1);
        din[i] = 0.5f;  // backward accumulates
        dout[i] = 1.0f - 2.0f * (float)(i % 3);
        want[i] = (float)(0.5 + dout[i] * gelu_grad_ref(x[i]));
    }
    gelu_tanh_backward(din, dout, x, N);
    test_close("GELU backward (accumulating) equals the double-precision derivative on [-25, 25]", din, want, N, 2e-6,
               2e-6);
}

static float *randn(Prng *g, long n) {
    float *x = lz_malloc(sizeof(float) * n, "test data");
    for (long i = 0; i < n; i++) x[i] = (float)prng_normal(g);
    return x;
}

static void test_fused_layernorm(void) {
    Prng g;
    prng_seed(&g, 7);
    int shapes[][3] = {{3, 49, 128}, {2, 7, 30}, {1, 5, 3}};
    for (int s = 0; s < 3; s++) {
        int B = shapes[s][0], T = shapes[s][1], D = shapes[s][2], S = 6 * D;
        long n = (long)B * T * D;
        float *x = randn(&g, n), *y = randn(&g, n), *mod = randn(&g, (long)B * S);
        float *ln1 = randn(&g, n), *z1 = randn(&g, n), *ln2 = randn(&g, n), *z2 = randn(&g, n);
        float *m1 = randn(&g, B * T), *r1 = randn(&g, B * T), *m2 = randn(&g, B * T), *r2 = randn(&g, B * T);
        float *x1 = randn(&g, n), *x2 = randn(&g, n);
        // separate kernels
        layernorm_forward(ln1, m1, r1, x, B * T, D, 1e-6f);
        modulate_forward(z1, ln1, mod, mod + D, B, T, D, S);
        layernorm_modulate_forward(z2, ln2, m2, r2, x, mod, mod + D, B, T, D, S, 1e-6f);
        char label[160];
        snprintf(label, sizeof label, "fused LayerNorm+modulate equals the two kernels bit for bit (B %d T %d D %d)",
                 B, T, D);
        TEST_CHECK(!memcmp(z1, z2, sizeof(float) * n) && !memcmp(ln1, ln2, sizeof(float) * n) &&
                       !memcmp(m1, m2, sizeof(float) * B * T) && !memcmp(r1, r2, sizeof(float) * B * T),
                   label, "outputs differ");
        layernorm_modulate_forward(z2, NULL, NULL, NULL, x, mod, mod + D, B, T, D, S, 1e-6f);
        TEST_CHECK(!memcmp(z1, z2, sizeof(float) * n), "fused LayerNorm+modulate without saved outputs: same z",
                   "z differs");
        // residual + LN + modulate: out of place and in place
        memcpy(x1, x, sizeof(float) * n);
        gated_residual_forward(x1, mod + 2 * D, y, B, T, D, S);
        layernorm_forward(ln1, m1, r1, x1, B * T, D, 1e-6f);
        modulate_forward(z1, ln1, mod + 3 * D, mod + 4 * D, B, T, D, S);
        residual_layernorm_modulate_forward(x2, z2, ln2, m2, r2, x, mod + 2 * D, y, mod + 3 * D, mod + 4 * D, B, T, D,
                                            S, 1e-6f);
        snprintf(label, sizeof label, "fused residual+LayerNorm+modulate equals the three kernels (B %d T %d D %d)",
                 B, T, D);
        TEST_CHECK(!memcmp(x1, x2, sizeof(float) * n) && !memcmp(z1, z2, sizeof(float) * n) &&
                       !memcmp(ln1, ln2, sizeof(float) * n) && !memcmp(m1, m2, sizeof(float) * B * T),
                   label, "outputs differ");
        memcpy(x2, x, sizeof(float) * n);
        residual_layernorm_modulate_forward(x2, z2, NULL, NULL, NULL, x2, mod + 2 * D, y, mod + 3 * D, mod + 4 * D, B,
                                            T, D, S, 1e-6f);
        TEST_CHECK(!memcmp(x1, x2, sizeof(float) * n) && !memcmp(z1, z2, sizeof(float) * n),
                   "fused residual+LayerNorm+modulate in place (x_out = x_in)", "outputs differ");
        float *xs[] = {x, y, mod, ln1, z1, ln2, z2, m1, r1, m2, r2, x1, x2};
        for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) free(xs[k]);
    }
}

static void test_layernorm_oracle(void) {
    Prng g;
    prng_seed(&g, 8);
    int N = 50, C = 77;
    float *x = randn(&g, (long)N * C), *o = randn(&g, (long)N * C), *want = randn(&g, (long)N * C);
    for (long i = 0; i < (long)N * C; i++) x[i] = x[i] * 3 + 5;  // an offset mean stresses the variance
    layernorm_forward(o, NULL, NULL, x, N, C, 1e-6f);
    for (int r = 0; r < N; r++) {
        double mu = 0, var = 0;
        for (int i = 0; i < C; i++) mu += x[r * C + i];
        mu /= C;
        for (int i = 0; i < C; i++) var += (x[r * C + i] - mu) * (x[r * C + i] - mu);
        double rs = 1 / sqrt(var / C + 1e-6);
        for (int i = 0; i < C; i++) want[r * C + i] = (float)((x[r * C + i] - mu) * rs);
    }
    test_close("vectorised LayerNorm equals the double two-pass oracle (C = 77, tail lanes)", o, want, (long)N * C,
               1e-6, 1e-6);
    free(x), free(o), free(want);
}

static void test_attention_paths(void) {
    Prng g;
    prng_seed(&g, 9);
    // (T, D, H): direct path (head size a multiple of 8, T <= 128) with every
    // T % 8, and the sgemm path (odd head size, long sequences).
    int shapes[][3] = {{49, 128, 4}, {1, 16, 2}, {8, 64, 2}, {9, 64, 1}, {13, 96, 3}, {64, 256, 2},
                       {128, 64, 1}, {7, 30, 3}, {130, 64, 2}, {49, 120, 4}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int B = 2, T = shapes[s][0], D = shapes[s][1], H = shapes[s][2];
        long n = (long)B * T * D;
        float *qkv = randn(&g, 3 * n), *o1 = randn(&g, n), *o2 = randn(&g, n);
        float *att = randn(&g, (long)B * H * T * T);
        attention_forward(o1, att, qkv, B, T, D, H);
        attention_forward_naive(o2, qkv, B, T, D, H);
        char label[160];
        snprintf(label, sizeof label, "attention (%s, T %d, head size %d) equals the naive oracle",
                 attention_uses_direct(T, D / H) ? "direct tiles" : "sgemm per head", T, D / H);
        test_close(label, o1, o2, n, 1e-5, 1e-5);
        // att rows are probabilities: non-negative, summing to 1
        double worst = 0;
        for (long r = 0; r < (long)B * H * T; r++) {
            double sum = 0;
            for (int j = 0; j < T; j++) {
                sum += att[r * T + j];
                if (att[r * T + j] < 0) worst = 1;
            }
            worst = fmax(worst, fabs(sum - 1));
        }
        snprintf(label, sizeof label, "attention (T %d, head size %d): saved probabilities sum to 1", T, D / H);
        TEST_CHECK(worst < 1e-5, label, "worst |sum - 1| %.3g", worst);
        free(qkv), free(o1), free(o2), free(att);
    }
}

int main(void) {
    test_gelu_sweep();
    test_exp_sweep();
    test_gelu_grad();
    test_fused_layernorm();
    test_layernorm_oracle();
    test_attention_paths();
    return test_finish();
}
