// simd.h: 8-wide float vectors (GCC/Clang vector extensions) for the
// element-wise kernels, and a vectorisable exp.
//
// Kernels written with these types compile to AVX2 in their "avx2" clone and
// to pairs of SSE2 instructions in the "default" clone (see SIMD_CLONES):
// the same IEEE operations in the same order, so both clones give the same
// bits. Nothing here uses fused multiply-add (C11 mode keeps GCC from
// contracting a * b + c), for the same reason. Loads and stores go through
// memcpy: no alignment or aliasing assumptions.
//
// Build note: GCC notes that passing a 32-byte vector to a function would
// change the calling convention without AVX; the helpers below are always
// inlined, so the Makefile silences that note with -Wno-psabi.
#pragma once
#include <string.h>

typedef float f32x8 __attribute__((vector_size(32)));
typedef int i32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x4 __attribute__((vector_size(32)));

// Clone a kernel for AVX2 and for any x86-64 (chosen once at load time by the
// dynamic linker), or compile it once elsewhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

#define SIMD_INLINE static inline __attribute__((always_inline))

SIMD_INLINE f32x8 v8_load(const float *p) {
    f32x8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
SIMD_INLINE void v8_store(float *p, f32x8 v) { memcpy(p, &v, sizeof v); }
SIMD_INLINE f32x8 v8_splat(float x) { return (f32x8){x, x, x, x, x, x, x, x}; }
// mask ? a : b for a mask from a vector comparison (all ones or all zeros per lane).
SIMD_INLINE f32x8 v8_select(i32x8 mask, f32x8 a, f32x8 b) { return (f32x8)((mask & (i32x8)a) | (~mask & (i32x8)b)); }
// min/max that keep a NaN in x (a comparison with NaN is false).
SIMD_INLINE f32x8 v8_min(f32x8 x, f32x8 bound) { return v8_select(x > bound, bound, x); }
SIMD_INLINE f32x8 v8_max(f32x8 x, f32x8 bound) { return v8_select(x < bound, bound, x); }
SIMD_INLINE float v8_hmax(f32x8 v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] > m ? v[i] : m;
    return m;
}

// 2^k for integer lanes k in [-126, 127], built from the exponent bits.
SIMD_INLINE f32x8 v8_pow2i(i32x8 k) { return (f32x8)((k + 127) << 23); }

// exp(x) per lane, within 1 ulp of the true value for results down to
// e^-87 = 1.6e-38 (checked against the double exp over a dense sweep of the
// float range in tests/test_kernels_simd.c); below that the result is 0:
// producing denormals takes microcode assists that make the whole vector
// several times slower (softmax rows padded with -inf would hit them on
// every row). Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split in
// a 9-bit head and a tail, so n * head is exact), then the degree-7
// Cephes-style polynomial 1 + r + r^2 P(r), then the scaling by 2^n in two
// exact halves so n may reach 128: overflow gives +inf, NaN stays NaN.
SIMD_INLINE f32x8 v8_exp(f32x8 x) {
    const float lowest = -87.0f;  // e^-87 * (1 - ulp) is still a normal float
    i32x8 tiny = x < lowest;
    x = v8_min(x, v8_splat(89.0f));  // beyond: inf anyway, and n stays small
    x = v8_max(x, v8_splat(lowest));
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    f32x8 n = (x * 1.44269502163f + magic) - magic;
    f32x8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    f32x8 p = v8_splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    f32x8 y = p * (r * r) + r + 1.0f;
    i32x8 k = __builtin_convertvector(n, i32x8);
    i32x8 k1 = k >> 1;
    y = y * v8_pow2i(k1);
    y = y * v8_pow2i(k - k1);
    return v8_select(tiny, v8_splat(0.0f), y);
}

// The same function on one float (tails of arrays): identical operations.
static inline float exp_scalar(float x) {
    f32x8 v = v8_splat(x);
    return v8_exp(v)[0];
}
