// torch_rng.c: torch-compatible CPU generator. See torch_rng.h for the algorithm; this file
// follows it step by step. Everything here is integer arithmetic or IEEE
// float/double arithmetic whose rounding is fixed by the C11 standard mode
// (no contraction): every fused multiply-add is an explicit fmaf() call.
#include "model/base/torch_rng.h"

#include <math.h>
#include <string.h>

#include "model/base/check.h"
#include "model/base/prng.h"

// ----------------------------------------------------------------------------
// mt19937 engine

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void rng_seed(TorchRng *g, uint64_t seed) {
    g->seed = seed;
    g->state[0] = (uint32_t)(seed & 0xffffffffu);  // torch keeps only the low word
    for (int j = 1; j < RNG_MT_N; j++) {
        uint32_t prev = g->state[j - 1];
        g->state[j] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t)j;
    }
    // torch starts with left = 1, next = 0: the first output regenerates the
    // whole state before tempering word 0.
    g->left = 1;
    g->next = 0;
    // manual_seed also resets the Box-Muller caches.
    g->has_next_normal = 0;
    g->next_normal = 0.0;
}

static inline uint32_t mt_twist(uint32_t u, uint32_t v) {
    uint32_t mixed = (u & MT_UPPER) | (v & MT_LOWER);
    return (mixed >> 1) ^ ((v & 1u) ? MT_MATRIX_A : 0u);
}

static void mt_regenerate(TorchRng *g) {
    uint32_t *s = g->state;
    int k = 0;
    for (; k < RNG_MT_N - MT_M; k++) s[k] = s[k + MT_M] ^ mt_twist(s[k], s[k + 1]);
    for (; k < RNG_MT_N - 1; k++) s[k] = s[k + MT_M - RNG_MT_N] ^ mt_twist(s[k], s[k + 1]);
    s[RNG_MT_N - 1] = s[MT_M - 1] ^ mt_twist(s[RNG_MT_N - 1], s[0]);
    g->left = RNG_MT_N;
    g->next = 0;
}

uint32_t rng_u32(TorchRng *g) {
    if (--g->left == 0) mt_regenerate(g);
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t rng_u64(TorchRng *g) {
    uint64_t hi = rng_u32(g);  // drawn first
    uint64_t lo = rng_u32(g);
    return (hi << 32) | lo;
}

// ----------------------------------------------------------------------------
// uniform and integer draws

// torch uniform_real_distribution<float>(0, 1): keep 24 bits (the float
// mantissa) so the value is exact; x * (to - from) + from is then x.
static inline float uniform_f32(TorchRng *g) {
    return (float)(rng_u32(g) & 0xffffffu) * 0x1.0p-24f;
}

// uniform_real_distribution<double>(0, 1): 53 bits from one random64().
static inline double uniform_f64(TorchRng *g) {
    return (double)(rng_u64(g) & ((1ull << 53) - 1)) * 0x1.0p-53;
}

void rng_uniform(TorchRng *g, float *out, long n) {
    for (long i = 0; i < n; i++) out[i] = uniform_f32(g);
}

void rng_randint(TorchRng *g, int64_t *out, long n, int64_t low, int64_t high) {
    CHECK(low < high, "rng_randint: empty range [%lld, %lld)", (long long)low, (long long)high);
    uint64_t range = (uint64_t)high - (uint64_t)low;
    for (long i = 0; i < n; i++) {
        uint64_t r = range >= (1ull << 32) ? rng_u64(g) : (uint64_t)rng_u32(g);
        out[i] = (int64_t)((r % range) + (uint64_t)low);
    }
}

// ----------------------------------------------------------------------------
// randn, scalar path (n < 16): float64 Box-Muller with a one-value cache

static double normal_f64(TorchRng *g) {
    if (g->has_next_normal) {
        g->has_next_normal = 0;
        return g->next_normal;
    }
    double u1 = uniform_f64(g);
    double u2 = uniform_f64(g);
    // torch 1.13 writes log(1 - u2); later versions use log1p(-u2). 1 - u2 is
    // exact for a 53-bit u2, and the two differ by at most 1 ulp of a double,
    // which survives the cast to float with probability ~2^-29.
    double radius = sqrt(-2.0 * log(1.0 - u2));
    double theta = 2.0 * M_PI * u1;
    g->next_normal = radius * sin(theta);
    g->has_next_normal = 1;
    return radius * cos(theta);
}

// ----------------------------------------------------------------------------
// randn, vectorised path: scalar re-implementation of avx_mathfun.h's
// log256_ps and sincos256_ps (Cephes single-precision polynomials).
//
// The constants are written exactly as in the Cephes sources; they are float
// in the original (arrays of float initialised from these literals), so they
// are rounded to float here too. GCC compiled torch's AVX2 kernel with FMA
// contraction: a multiply whose only use is an add/sub became one fused
// operation. The fmaf() calls below are exactly those sites, found by
// comparing against torch output; the others stay two roundings. (Sites where
// the product is exact, e.g. e * 0.693359375 with small integer e, cannot be
// told apart and are written either way.)

static inline float f32_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}
static inline uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

// Natural log for x in (0, 1] (the only inputs the sampler produces: 1 - u
// with u in [0, 1)). Splits x = m * 2^e with m in [sqrt(1/2), sqrt(2)) and
// evaluates a degree-9 polynomial in m - 1.
static float cephes_logf(float x) {
    const float min_norm = 0x1.0p-126f;
    if (x < min_norm) x = min_norm;  // _mm256_max_ps(x, min_norm_pos)
    uint32_t bits = f32_bits(x);
    int exponent = (int)(bits >> 23);
    x = f32_from_bits((bits & ~0x7f800000u) | 0x3f000000u);  // mantissa in [0.5, 1)
    float e = (float)(exponent - 0x7f);
    e = e + 1.0f;
    // if (x < SQRTHF) { e -= 1; x = x + x - 1; } else { x = x - 1; }
    int below = x < (float)0.707106781186547524;
    float tmp = below ? x : 0.0f;
    x = x - 1.0f;
    e = e - (below ? 1.0f : 0.0f);
    x = x + tmp;

    float z = x * x;
    float y = (float)7.0376836292E-2;
    y = fmaf(y, x, (float)-1.1514610310E-1);
    y = fmaf(y, x, (float)1.1676998740E-1);
    y = fmaf(y, x, (float)-1.2420140846E-1);
    y = fmaf(y, x, (float)1.4249322787E-1);
    y = fmaf(y, x, (float)-1.6668057665E-1);
    y = fmaf(y, x, (float)2.0000714765E-1);
    y = fmaf(y, x, (float)-2.4999993993E-1);
    y = fmaf(y, x, (float)3.3333331174E-1);
    y = y * x;
    // y = y*z + e*q1: the first product (y*z) is the one that was fused.
    y = fmaf(y, z, e * (float)-2.12194440e-4);
    y = fmaf(-z, 0.5f, y);  // y - z*0.5 (exact product either way)
    x = x + y;
    x = fmaf(e, 0.693359375f, x);  // x + e*q2 (exact product either way)
    return x;
}

// sin and cos of x >= 0 (here theta = 2 pi u in [0, 2 pi)). Reduces by
// multiples of pi/4 with the three-part Cody-Waite constant, then picks the
// sine or cosine polynomial per octant, as sincos256_ps does (including its
// way of combining the two polynomials with masks, which matters for the
// sign of zero results).
static void cephes_sincosf(float x, float *s, float *c) {
    uint32_t sign_sin = f32_bits(x) & 0x80000000u;
    x = fabsf(x);
    float y = x * (float)1.27323954473516;  // 4 / pi
    int j = (int)y;                          // truncation, like cvttps
    j = (j + 1) & ~1;
    y = (float)j;
    uint32_t swap_sign_sin = (uint32_t)(j & 4) << 29;
    int use_sin_poly = (j & 2) == 0;  // poly_mask
    uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    sign_sin ^= swap_sign_sin;

    // x = ((x - y*DP1) - y*DP2) - y*DP3, each step fused.
    x = fmaf(y, (float)-0.78515625, x);
    x = fmaf(y, (float)-2.4187564849853515625e-4, x);
    x = fmaf(y, (float)-3.77489497744594108e-8, x);

    float z = x * x;
    // cosine polynomial: 1 - z/2 + z^2 (p2 + z (p1 + z p0))
    float yc = (float)2.443315711809948E-005;
    yc = fmaf(yc, z, (float)-1.388731625493765E-003);
    yc = fmaf(yc, z, (float)4.166664568298827E-002);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f));  // y*z - z*0.5: the y*z product was fused
    yc = yc + 1.0f;
    // sine polynomial: x + x z (p2 + z (p1 + z p0))
    float ys = (float)-1.9515295891E-4;
    ys = fmaf(ys, z, (float)8.3321608736E-3);
    ys = fmaf(ys, z, (float)-1.6666654611E-1);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    // Mask arithmetic of sincos256_ps: the sine takes the polynomial selected
    // by the octant, the cosine the other one.
    float sin_from_s = use_sin_poly ? ys : 0.0f;
    float sin_from_c = use_sin_poly ? 0.0f : yc;
    float cos_from_s = ys - sin_from_s;
    float cos_from_c = yc - sin_from_c;
    float sin_v = sin_from_c + sin_from_s;
    float cos_v = cos_from_c + cos_from_s;
    *s = f32_from_bits(f32_bits(sin_v) ^ sign_sin);
    *c = f32_from_bits(f32_bits(cos_v) ^ sign_cos);
}

// In-place Box-Muller on 16 uniforms (normal_fill_16_AVX2 with mean 0, std 1).
static void box_muller_16(float *d) {
    const float two_pi = (float)(2.0 * M_PI);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];  // [0, 1) -> (0, 1] so the log is finite
        float u2 = d[j + 8];
        float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * u2;
        float sn, cs;
        cephes_sincosf(theta, &sn, &cs);
        // torch stores fma(n, std, mean) = fma(n, 1, 0); kept for the sign of zero.
        d[j] = fmaf(radius * cs, 1.0f, 0.0f);
        d[j + 8] = fmaf(radius * sn, 1.0f, 0.0f);
    }
}

void rng_randn(TorchRng *g, float *out, long n) {
    if (n <= 0) return;
    if (n < 16) {
        for (long i = 0; i < n; i++) out[i] = (float)normal_f64(g);
        return;
    }
    for (long i = 0; i < n; i++) out[i] = uniform_f32(g);
    for (long i = 0; i + 16 <= n; i += 16) box_muller_16(out + i);
    if (n % 16 != 0) {
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++) tail[i] = uniform_f32(g);
        box_muller_16(tail);
    }
}

// ----------------------------------------------------------------------------
// per-sample seeds

static inline uint32_t fmix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

uint64_t rng_sample_seed(uint64_t run_seed, long sample_index) {
    uint64_t state = run_seed;
    uint64_t base = splitmix64(&state);
    uint32_t x = (uint32_t)base + (uint32_t)(uint64_t)sample_index;
    return (uint64_t)fmix32(x);
}
