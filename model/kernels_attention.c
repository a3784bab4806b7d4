// kernels_attention.c: the multi-head self-attention core (no projections),
// forward and backward. See kernels.h for shapes.
//
// Forward, two paths with the same semantics:
//  * small heads (T <= ATT_DIRECT_MAX_T, head size a multiple of 8 up to
//    ATT_DIRECT_MAX_HS; the default DiT has T = 49, head size 32): direct
//    8x8 register tiles. Two sgemm calls per (sample, head) would cost more
//    in call overhead and packing than the 2 T^2 hs multiply-adds they do.
//  * larger heads: two sgemm calls per (sample, head), q k^T and att v, on
//    strided views of qkv (no copies).
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/kernels.h"
#include "model/simd.h"

#define ATT_DIRECT_MAX_T 128
#define ATT_DIRECT_MAX_HS 128

SIMD_INLINE f32x4 v8_low(f32x8 v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3); }
SIMD_INLINE f32x4 v8_high(f32x8 v) { return __builtin_shufflevector(v, v, 4, 5, 6, 7); }
SIMD_INLINE f32x8 v8_maxv(f32x8 a, f32x8 b) { return v8_select(a > b, a, b); }
SIMD_INLINE float v8_hmax_tree(f32x8 m) {
    m = v8_maxv(m, __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3));
    m = v8_maxv(m, __builtin_shufflevector(m, m, 2, 3, 0, 1, 6, 7, 4, 5));
    m = v8_maxv(m, __builtin_shufflevector(m, m, 1, 0, 3, 2, 5, 4, 7, 6));
    return m[0];
}
// Sum of 8 floats into two double accumulators.
SIMD_INLINE void v8_sum_f64(f64x4 *s0, f64x4 *s1, f32x8 v) {
    *s0 += __builtin_convertvector(v8_low(v), f64x4);
    *s1 += __builtin_convertvector(v8_high(v), f64x4);
}
SIMD_INLINE double f64x4_hsum(f64x4 a, f64x4 b) {
    f64x4 s = a + b;
    return (s[0] + s[1]) + (s[2] + s[3]);
}

// exp for the arguments of a max-subtracted softmax (x <= 0, or -inf): the
// same bits as v8_exp there, with less work: no overflow to guard, and 2^n
// for n in [-126, 0] is one exact scaling.
SIMD_INLINE f32x8 v8_exp_nonpos(f32x8 x) {
    i32x8 tiny = x < -87.0f;
    x = v8_max(x, v8_splat(-87.0f));
    const float magic = 12582912.0f;
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
    y = y * v8_pow2i(__builtin_convertvector(n, i32x8));
    return v8_select(tiny, v8_splat(0.0f), y);
}

// Softmax of row[0 .. n) (dst may be src): exp(s - max) then a double sum,
// like torch.softmax's max-subtracted form.
SIMD_INLINE void softmax_row(float *dst, const float *src, int n) {
    float mx = src[0];
    int i = 0;
    if (n >= 8) {
        f32x8 m8 = v8_load(src);
        for (i = 8; i + 8 <= n; i += 8) m8 = v8_maxv(m8, v8_load(src + i));
        mx = v8_hmax_tree(m8);
    } else {
        i = 1;
    }
    for (; i < n; i++) mx = src[i] > mx ? src[i] : mx;
    f64x4 s0 = {0}, s1 = {0};
    double s = 0;
    for (i = 0; i + 8 <= n; i += 8) {
        f32x8 e = v8_exp_nonpos(v8_load(src + i) - mx);
        v8_store(dst + i, e);
        v8_sum_f64(&s0, &s1, e);
    }
    for (; i < n; i++) {
        dst[i] = exp_scalar(src[i] - mx);
        s += dst[i];
    }
    s += f64x4_hsum(s0, s1);
    float inv = (float)(1.0 / s);
    for (i = 0; i + 8 <= n; i += 8) v8_store(dst + i, v8_load(dst + i) * inv);
    for (; i < n; i++) dst[i] *= inv;
}

// The same on a row of scores padded to TP (a multiple of 8) entries: p[0
// .. T) gets the probabilities of s[0 .. T) (s's padding is overwritten with
// -inf first). Every operation is an 8-lane one; only the stores of the last
// block are cut to the T % 8 real entries.
SIMD_INLINE void softmax_row_padded(float *p, float *s, int T, int TP) {
    const i32x8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
    int last = TP - 8;
    v8_store(s + last, v8_select(lane + last < T, v8_load(s + last), v8_splat(-INFINITY)));
    f32x8 m8 = v8_load(s);
    for (int j = 8; j < TP; j += 8) m8 = v8_maxv(m8, v8_load(s + j));
    float mx = v8_hmax_tree(m8);
    f64x4 s0 = {0}, s1 = {0};
    for (int j = 0; j < TP; j += 8) {
        f32x8 e = v8_exp_nonpos(v8_load(s + j) - mx);
        v8_store(s + j, e);
        v8_sum_f64(&s0, &s1, e);
    }
    float inv = (float)(1.0 / f64x4_hsum(s0, s1));
    for (int j = 0; j < last; j += 8) v8_store(p + j, v8_load(s + j) * inv);
    f32x8 tail = v8_load(s + last) * inv;
    for (int j = last; j < T; j++) p[j] = tail[j - last];
}

// dst rows r (8 of them, stride ldd) = scale * src column block: dst[r][i] =
// scale * src[i][r] for an 8x8 block of src (rows with stride lds).
SIMD_INLINE void transpose_8x8_scaled(float *dst, int ldd, const float *src, int lds, float scale) {
    f32x8 r0 = v8_load(src), r1 = v8_load(src + lds), r2 = v8_load(src + 2 * lds), r3 = v8_load(src + 3 * lds);
    f32x8 r4 = v8_load(src + 4 * lds), r5 = v8_load(src + 5 * lds), r6 = v8_load(src + 6 * lds);
    f32x8 r7 = v8_load(src + 7 * lds);
    f32x8 t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);
    f32x8 t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    f32x8 t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);
    f32x8 t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    f32x8 t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13);
    f32x8 t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
    f32x8 t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13);
    f32x8 t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
    f32x8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    f32x8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    f32x8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    f32x8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    f32x8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    f32x8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    f32x8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    f32x8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    v8_store(dst, __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11) * scale);
    v8_store(dst + ldd, __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11) * scale);
    v8_store(dst + 2 * ldd, __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11) * scale);
    v8_store(dst + 3 * ldd, __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11) * scale);
    v8_store(dst + 4 * ldd, __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15) * scale);
    v8_store(dst + 5 * ldd, __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15) * scale);
    v8_store(dst + 6 * ldd, __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15) * scale);
    v8_store(dst + 7 * ldd, __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15) * scale);
}

// c (8, 8) = a (8, K) @ b (K, 8): rows of a with stride lda, rows of b and c
// with strides ldb and ldc. Eight independent accumulators, one multiply and
// one add per element and k, k in order.
SIMD_INLINE void tile_8x8(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int K) {
    f32x8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    const float *a4 = a + 4 * lda, *a5 = a + 5 * lda, *a6 = a + 6 * lda, *a7 = a + 7 * lda;
    for (int k = 0; k < K; k++) {
        f32x8 bk = v8_load(b + (long)k * ldb);
        c0 += a0[k] * bk;
        c1 += a1[k] * bk;
        c2 += a2[k] * bk;
        c3 += a3[k] * bk;
        c4 += a4[k] * bk;
        c5 += a5[k] * bk;
        c6 += a6[k] * bk;
        c7 += a7[k] * bk;
    }
    v8_store(c, c0);
    v8_store(c + ldc, c1);
    v8_store(c + 2 * ldc, c2);
    v8_store(c + 3 * ldc, c3);
    v8_store(c + 4 * ldc, c4);
    v8_store(c + 5 * ldc, c5);
    v8_store(c + 6 * ldc, c6);
    v8_store(c + 7 * ldc, c7);
}

// The same for one row (the T % 8 remainder rows): identical per-element arithmetic.
SIMD_INLINE void tile_1x8(float *c, const float *a, const float *b, int ldb, int K) {
    f32x8 c0 = {0};
    for (int k = 0; k < K; k++) c0 += a[k] * v8_load(b + (long)k * ldb);
    v8_store(c, c0);
}

// One (sample, head): q, k, v (T, hs) strided views with row stride ld; out
// (T, hs) with row stride ldo; att (T, T) contiguous.
SIMD_CLONES static void attention_head_direct(float *out, int ldo, float *att, const float *q, const float *k,
                                              const float *v, int ld, int T, int hs, float scale) {
    enum { TPMAX = (ATT_DIRECT_MAX_T + 7) / 8 * 8 };
    float kt[ATT_DIRECT_MAX_HS * TPMAX];  // (hs, TP) scale * k^T, zero beyond T
    float s[8 * TPMAX];                   // (8, TP) scores of one row block
    int TP = (T + 7) / 8 * 8;
    // q . (scale k) equals torch's (scale q) . k up to rounding; folding the
    // scale into the transposed copy of k costs nothing.
    int j = 0;
    for (; j + 8 <= T; j += 8)
        for (int c = 0; c < hs; c += 8) transpose_8x8_scaled(kt + (long)c * TP + j, TP, k + (long)j * ld + c, ld, scale);
    for (int c = 0; c < hs; c++) {
        float *row = kt + (long)c * TP;
        for (int jj = j; jj < T; jj++) row[jj] = k[(long)jj * ld + c] * scale;
        for (int jj = T; jj < TP; jj++) row[jj] = 0.0f;
    }
    // Per block of 8 query rows: scores, softmax straight into att, att @ v.
    int i = 0;
    for (; i + 8 <= T; i += 8) {
        for (int jb = 0; jb < TP; jb += 8) tile_8x8(s + jb, TP, q + (long)i * ld, ld, kt + jb, TP, hs);
        for (int r = 0; r < 8; r++) softmax_row_padded(att + (long)(i + r) * T, s + (long)r * TP, T, TP);
        for (int c = 0; c < hs; c += 8) tile_8x8(out + (long)i * ldo + c, ldo, att + (long)i * T, T, v + c, ld, T);
    }
    for (; i < T; i++) {
        for (int jb = 0; jb < TP; jb += 8) tile_1x8(s + jb, q + (long)i * ld, kt + jb, TP, hs);
        softmax_row_padded(att + (long)i * T, s, T, TP);
        for (int c = 0; c < hs; c += 8) tile_1x8(out + (long)i * ldo + c, att + (long)i * T, v + c, ld, T);
    }
}

SIMD_CLONES static void softmax_rows(float *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) softmax_row(x + (long)r * cols, x + (long)r * cols, cols);
}

int attention_uses_direct(int T, int hs) {
    return T <= ATT_DIRECT_MAX_T && hs <= ATT_DIRECT_MAX_HS && hs % 8 == 0;
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H) {
    int hs = D / H;
    float scale = 1.0f / sqrtf((float)hs);
    int ld = 3 * D;  // q, k, v of one head are strided views of qkv: no copies
    int direct = attention_uses_direct(T, hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (long)b * T * ld + h * hs;
            const float *k = q + D;
            const float *v = q + 2 * D;
            float *a = att + ((long)b * H + h) * T * T;
            float *o = out + (long)b * T * D + h * hs;
            if (direct) {
                attention_head_direct(o, D, a, q, k, v, ld, T, hs, scale);
                continue;
            }
            // a (T, T) = scale * q (T, hs) @ k^T (hs, T)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, ld, k, ld, 0.0f, a, T);
            softmax_rows(a, T, T);
            // out (T, hs) = a (T, T) @ v (T, hs)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, ld, 0.0f, o, D);
        }
}

void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int T, int D, int H) {
    int hs = D / H;
    float scale = 1.0f / sqrtf((float)hs);
    int ld = 3 * D;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (long)b * T * ld + h * hs;
            const float *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + (long)b * T * ld + h * hs;
            float *dk = dq + D, *dv = dq + 2 * D;
            const float *a = att + ((long)b * H + h) * T * T;
            const float *dy = dout + (long)b * T * D + h * hs;
            // dv (T, hs) += a^T (T, T) @ dy (T, hs)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, dy, D, 1.0f, dv, ld);
            // datt (T, T) = dy (T, hs) @ v^T (hs, T)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, D, v, ld, 0.0f, datt, T);
            // softmax backward in place: ds = a * (datt - sum_j datt * a)
            for (int r = 0; r < T; r++) {
                const float *ar = a + (long)r * T;
                float *dr = datt + (long)r * T;
                double s = 0;
                for (int c = 0; c < T; c++) s += (double)dr[c] * ar[c];
                for (int c = 0; c < T; c++) dr[c] = ar[c] * (dr[c] - (float)s);
            }
            // scores = scale q k^T: dq += scale ds @ k; dk += scale ds^T @ q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, datt, T, k, ld, 1.0f, dq, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, datt, T, q, ld, 1.0f, dk, ld);
        }
}

void attention_forward_naive(float *out, const float *qkv, int B, int T, int D, int H) {
    int hs = D / H;
    double scale = 1.0 / sqrt((double)hs);
    double s[T];  // VLA: oracle only, small T in tests
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((long)b * T + i) * 3 * D + h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((long)b * T + j) * 3 * D + D + h * hs;
                    double d = 0;
                    for (int c = 0; c < hs; c++) d += (double)q[c] * k[c];
                    s[j] = d * scale;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < T; j++) sum += (s[j] = exp(s[j] - mx));
                for (int c = 0; c < hs; c++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++) acc += s[j] / sum * qkv[((long)b * T + j) * 3 * D + 2 * D + h * hs + c];
                    out[((long)b * T + i) * D + h * hs + c] = (float)acc;
                }
            }
}

