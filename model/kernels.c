#include "model/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/simd.h"

// --- linear ----------------------------------------------------------------

void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC) {
    // Seed the output with the bias so the bias add rides on sgemm's beta = 1.
    if (b) {
        for (int n = 0; n < N; n++) memcpy(out + (long)n * OC, b, sizeof(float) * OC);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, in, IC, w, IC, b ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                     int IC, int OC) {
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, din, IC);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, in, IC, 1.0f, dw, IC);
    if (db) {
        // Column sums of dout in double, 64 columns at a time so the rows are
        // read contiguously (a column-at-a-time loop strides through memory).
        for (int o0 = 0; o0 < OC; o0 += 64) {
            int w = OC - o0 < 64 ? OC - o0 : 64;
            double acc[64] = {0};
            for (int n = 0; n < N; n++) {
                const float *row = dout + (long)n * OC + o0;
                for (int k = 0; k < w; k++) acc[k] += row[k];
            }
            for (int k = 0; k < w; k++) db[o0 + k] += (float)acc[k];
        }
    }
}

void linear_forward_naive(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < IC; i++) s += (double)in[(long)n * IC + i] * w[(long)o * IC + i];
            out[(long)n * OC + o] = (float)s;
        }
}

// --- layernorm -------------------------------------------------------------

// Mean and 1 / sqrt(var + eps) of one row in double (biased variance, like
// torch). Four double lanes per half of each 8-float block; the order is fixed
// by C alone.
SIMD_INLINE void ln_row_stats(const float *x, int C, float eps, double *mean, double *rstd) {
    f64x4 s0 = {0}, s1 = {0};
    int i = 0;
    for (; i + 8 <= C; i += 8) {
        f32x4 a, b;
        memcpy(&a, x + i, sizeof a);
        memcpy(&b, x + i + 4, sizeof b);
        s0 += __builtin_convertvector(a, f64x4);
        s1 += __builtin_convertvector(b, f64x4);
    }
    f64x4 s4 = s0 + s1;
    double s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    for (; i < C; i++) s += x[i];
    double m = s / C;
    f64x4 v0 = {0}, v1 = {0};
    i = 0;
    for (; i + 8 <= C; i += 8) {
        f32x4 a, b;
        memcpy(&a, x + i, sizeof a);
        memcpy(&b, x + i + 4, sizeof b);
        f64x4 da = __builtin_convertvector(a, f64x4) - m, db = __builtin_convertvector(b, f64x4) - m;
        v0 += da * da;
        v1 += db * db;
    }
    f64x4 v4 = v0 + v1;
    double v = (v4[0] + v4[1]) + (v4[2] + v4[3]);
    for (; i < C; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *rstd = 1.0 / sqrt(v / C + eps);
}

// One row of LN(x), optionally modulated: ln = (float)((x - m) r) (ln may be
// NULL), z = ln * (1 + scale) + shift (z may be NULL; then shift and scale
// are not read). The float operations are exactly those of layernorm_forward
// followed by modulate_forward, so the fused and the separate kernels agree
// bit for bit.
SIMD_INLINE void ln_row_out(float *ln, float *z, const float *x, int C, double m, double r, const float *shift,
                            const float *scale) {
    int i = 0;
    for (; i + 4 <= C; i += 4) {
        f32x4 a;
        memcpy(&a, x + i, sizeof a);
        f32x4 o = __builtin_convertvector((__builtin_convertvector(a, f64x4) - m) * r, f32x4);
        if (ln) memcpy(ln + i, &o, sizeof o);
        if (z) {
            f32x4 sh, sc;
            memcpy(&sh, shift + i, sizeof sh);
            memcpy(&sc, scale + i, sizeof sc);
            f32x4 zz = o * (1.0f + sc) + sh;
            memcpy(z + i, &zz, sizeof zz);
        }
    }
    for (; i < C; i++) {
        float o = (float)((x[i] - m) * r);
        if (ln) ln[i] = o;
        if (z) z[i] = o * (1.0f + scale[i]) + shift[i];
    }
}

SIMD_CLONES void layernorm_forward(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        double m, r;
        ln_row_stats(in + (long)n * C, C, eps, &m, &r);
        ln_row_out(out + (long)n * C, NULL, in + (long)n * C, C, m, r, NULL, NULL);
        if (mean) mean[n] = (float)m;
        if (rstd) rstd[n] = (float)r;
    }
}

SIMD_CLONES void layernorm_modulate_forward(float *z, float *ln, float *mean, float *rstd, const float *in,
                                           const float *shift, const float *scale, int B, int T, int D,
                                           int mod_stride, float eps) {
    for (int b = 0; b < B; b++) {
        const float *sh = shift + (long)b * mod_stride, *sc = scale + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            long n = (long)b * T + t;
            double m, r;
            ln_row_stats(in + n * D, D, eps, &m, &r);
            ln_row_out(ln ? ln + n * D : NULL, z + n * D, in + n * D, D, m, r, sh, sc);
            if (mean) mean[n] = (float)m;
            if (rstd) rstd[n] = (float)r;
        }
    }
}

SIMD_CLONES void residual_layernorm_modulate_forward(float *xout, float *z, float *ln, float *mean, float *rstd,
                                                    const float *xin, const float *gate, const float *y,
                                                    const float *shift, const float *scale, int B, int T, int D,
                                                    int mod_stride, float eps) {
    for (int b = 0; b < B; b++) {
        const float *g = gate + (long)b * mod_stride;
        const float *sh = shift + (long)b * mod_stride, *sc = scale + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            long n = (long)b * T + t;
            float *xo = xout + n * D;
            const float *xi = xin + n * D, *yr = y + n * D;
            int i = 0;
            for (; i + 8 <= D; i += 8) v8_store(xo + i, v8_load(xi + i) + v8_load(g + i) * v8_load(yr + i));
            for (; i < D; i++) xo[i] = xi[i] + g[i] * yr[i];
            double m, r;
            ln_row_stats(xo, D, eps, &m, &r);
            ln_row_out(ln ? ln + n * D : NULL, z + n * D, xo, D, m, r, sh, sc);
            if (mean) mean[n] = (float)m;
            if (rstd) rstd[n] = (float)r;
        }
    }
}

void layernorm_backward(float *din, const float *dout, const float *in, const float *mean, const float *rstd, int N,
                        int C) {
    // With xhat = (x - m) r: dx = r * (dy - mean(dy) - xhat * mean(dy * xhat)).
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * C, *dy = dout + (long)n * C;
        double m = mean[n], r = rstd[n];
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < C; i++) {
            double xhat = (x[i] - m) * r;
            sdy += dy[i];
            sdyx += dy[i] * xhat;
        }
        sdy /= C;
        sdyx /= C;
        float *dx = din + (long)n * C;
        for (int i = 0; i < C; i++) {
            double xhat = (x[i] - m) * r;
            dx[i] += (float)(r * (dy[i] - sdy - xhat * sdyx));
        }
    }
}

// --- modulation and gated residual -----------------------------------------

SIMD_CLONES void modulate_forward(float *out, const float *in, const float *shift, const float *scale, int B, int T,
                                 int D, int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *sh = shift + (long)b * mod_stride, *sc = scale + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            const float *x = in + ((long)b * T + t) * D;
            float *o = out + ((long)b * T + t) * D;
            int i = 0;
            for (; i + 8 <= D; i += 8)
                v8_store(o + i, v8_load(x + i) * (1.0f + v8_load(sc + i)) + v8_load(sh + i));
            for (; i < D; i++) o[i] = x[i] * (1.0f + sc[i]) + sh[i];
        }
    }
}

void modulate_backward(float *din, float *dshift, float *dscale, const float *dout, const float *in,
                       const float *scale, int B, int T, int D, int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *sc = scale + (long)b * mod_stride;
        for (int i = 0; i < D; i++) {
            double ssh = 0, ssc = 0;
            for (int t = 0; t < T; t++) {
                long k = ((long)b * T + t) * D + i;
                ssh += dout[k];
                ssc += (double)dout[k] * in[k];
                if (din) din[k] += dout[k] * (1.0f + sc[i]);
            }
            if (dshift) dshift[(long)b * mod_stride + i] += (float)ssh;
            if (dscale) dscale[(long)b * mod_stride + i] += (float)ssc;
        }
    }
}

SIMD_CLONES void gated_residual_forward(float *x, const float *gate, const float *y, int B, int T, int D,
                                       int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *g = gate + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            float *xr = x + ((long)b * T + t) * D;
            const float *yr = y + ((long)b * T + t) * D;
            int i = 0;
            for (; i + 8 <= D; i += 8) v8_store(xr + i, v8_load(xr + i) + v8_load(g + i) * v8_load(yr + i));
            for (; i < D; i++) xr[i] += g[i] * yr[i];
        }
    }
}

void gated_residual_backward(float *dy, float *dgate, const float *dx, const float *y, const float *gate, int B,
                             int T, int D, int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *g = gate + (long)b * mod_stride;
        for (int i = 0; i < D; i++) {
            double s = 0;
            for (int t = 0; t < T; t++) {
                long k = ((long)b * T + t) * D + i;
                s += (double)dx[k] * y[k];
                if (dy) dy[k] += g[i] * dx[k];
            }
            if (dgate) dgate[(long)b * mod_stride + i] += (float)s;
        }
    }
}

// --- activations -----------------------------------------------------------

// GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
// With 1 + tanh(u) = 2 / (1 + exp(-2u)) it is x / (1 + exp(v)), v = -2u =
// x (A + B x^2): one exp and one division, no cancellation for negative x
// (where 1 + tanh(u) would lose every digit), and vectorisable. Within 1e-6
// relative + 1e-7 absolute of the double-precision tanh formula for every
// float (checked exhaustively once, by a dense sweep in the tests); at -inf it
// returns the limit -0 (the formula itself gives NaN there), +inf stays +inf.
#define GELU_A -1.59576916695f        // -2 sqrt(2/pi)
#define GELU_B -0.0713548138737679f   // -2 sqrt(2/pi) 0.044715

SIMD_INLINE f32x8 gelu_v(f32x8 x) {
    f32x8 v = x * (GELU_A + GELU_B * (x * x));
    f32x8 g = x / (1.0f + v8_exp(v));
    // v > 88: exp(v) = inf, so g = x / inf = -0 already, except x = -inf (NaN).
    return v8_select(v > 88.0f, v8_splat(-0.0f), g);
}

// d/dx [x s], s = 1 / (1 + exp(v)) = sigmoid(2u): s + x s (1 - s) 2 du/dx,
// 2 du/dx = -A (1 + 3 * 0.044715 x^2).
SIMD_INLINE f32x8 gelu_grad_v(f32x8 x) {
    f32x8 s = 1.0f / (1.0f + v8_exp(x * (GELU_A + GELU_B * (x * x))));
    return s + x * s * (1.0f - s) * (-GELU_A * (1.0f + 0.134145f * (x * x)));
}

SIMD_CLONES void gelu_tanh_forward(float *out, const float *in, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) v8_store(out + i, gelu_v(v8_load(in + i)));
    if (i < n) {  // tail: the same lanes on a zero-padded vector
        float buf[8] = {0};
        memcpy(buf, in + i, sizeof(float) * (n - i));
        f32x8 g = gelu_v(v8_load(buf));
        memcpy(out + i, &g, sizeof(float) * (n - i));
    }
}

SIMD_CLONES void gelu_tanh_backward(float *din, const float *dout, const float *in, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        v8_store(din + i, v8_load(din + i) + v8_load(dout + i) * gelu_grad_v(v8_load(in + i)));
    for (; i < n; i++) {
        float buf[8] = {in[i]};
        din[i] += dout[i] * gelu_grad_v(v8_load(buf))[0];
    }
}

void silu_forward(float *out, const float *in, long n) {
    for (long i = 0; i < n; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
}

void silu_backward(float *din, const float *dout, const float *in, long n) {
    for (long i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-in[i]));
        din[i] += dout[i] * s * (1.0f + in[i] * (1.0f - s));
    }
}

// --- embeddings and patch orders ---------------------------------------------

void timestep_embedding(float *out, const float *t, int N, int F) {
    // Official: freqs = exp(-log(10000) * arange(half, float32) / half), args =
    // t.float() * freqs, emb = cat([cos(args), sin(args)]). Every step is a
    // float32 operation there, so it is here too (expf, then one rounding per op).
    int half = F / 2;
    const float neg_log = (float)-9.210340371976184;  // -ln(10000) rounded to float32
    for (int n = 0; n < N; n++) {
        float *o = out + (long)n * F;
        for (int i = 0; i < half; i++) {
            float e = neg_log * (float)i;
            e = e / (float)half;
            float arg = t[n] * expf(e);
            o[i] = cosf(arg);
            o[half + i] = sinf(arg);
        }
    }
}

void patchify(float *patches, const float *images, int B, int C, int H, int W, int p) {
    int gh = H / p, gw = W / p, pd = C * p * p;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++) {
                float *v = patches + ((long)b * gh * gw + (long)y * gw + x) * pd;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < p; i++)
                        for (int j = 0; j < p; j++)
                            v[(c * p + i) * p + j] = images[(((long)b * C + c) * H + y * p + i) * W + x * p + j];
            }
}

void patchify_backward(float *dimages, const float *dpatches, int B, int C, int H, int W, int p) {
    int gh = H / p, gw = W / p, pd = C * p * p;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++) {
                const float *v = dpatches + ((long)b * gh * gw + (long)y * gw + x) * pd;
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < p; i++)
                        for (int j = 0; j < p; j++)
                            dimages[(((long)b * C + c) * H + y * p + i) * W + x * p + j] += v[(c * p + i) * p + j];
            }
}

void unpatchify(float *images, const float *tokens, int B, int C, int H, int W, int p) {
    // Official: x.reshape(N, h, w, p, p, c) then einsum("nhwpqc->nchpwq").
    int gh = H / p, gw = W / p, pd = C * p * p;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++) {
                const float *v = tokens + ((long)b * gh * gw + (long)y * gw + x) * pd;
                for (int i = 0; i < p; i++)
                    for (int j = 0; j < p; j++)
                        for (int c = 0; c < C; c++)
                            images[(((long)b * C + c) * H + y * p + i) * W + x * p + j] = v[(i * p + j) * C + c];
            }
}

void unpatchify_backward(float *dtokens, const float *dimages, int B, int C, int H, int W, int p) {
    int gh = H / p, gw = W / p, pd = C * p * p;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++) {
                float *v = dtokens + ((long)b * gh * gw + (long)y * gw + x) * pd;
                for (int i = 0; i < p; i++)
                    for (int j = 0; j < p; j++)
                        for (int c = 0; c < C; c++)
                            v[(i * p + j) * C + c] += dimages[(((long)b * C + c) * H + y * p + i) * W + x * p + j];
            }
}
