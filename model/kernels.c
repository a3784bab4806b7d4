#include "model/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

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

void layernorm_forward(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * C;
        double s = 0;
        for (int i = 0; i < C; i++) s += x[i];
        double m = s / C;
        double v = 0;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        double r = 1.0 / sqrt(v / C + eps);  // biased variance, like torch
        float *o = out + (long)n * C;
        for (int i = 0; i < C; i++) o[i] = (float)((x[i] - m) * r);
        if (mean) mean[n] = (float)m;
        if (rstd) rstd[n] = (float)r;
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

void modulate_forward(float *out, const float *in, const float *shift, const float *scale, int B, int T, int D,
                      int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *sh = shift + (long)b * mod_stride, *sc = scale + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            const float *x = in + ((long)b * T + t) * D;
            float *o = out + ((long)b * T + t) * D;
            for (int i = 0; i < D; i++) o[i] = x[i] * (1.0f + sc[i]) + sh[i];
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

void gated_residual_forward(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride) {
    for (int b = 0; b < B; b++) {
        const float *g = gate + (long)b * mod_stride;
        for (int t = 0; t < T; t++) {
            float *xr = x + ((long)b * T + t) * D;
            const float *yr = y + ((long)b * T + t) * D;
            for (int i = 0; i < D; i++) xr[i] += g[i] * yr[i];
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

#define GELU_K 0.7978845608028654f  // sqrt(2 / pi)

// tanh as a clamped rational function x P(x^2) / Q(x^2) (the 13/6 minimax
// approximation used by Eigen and XLA; max error a few float ulps). glibc's
// tanhf goes through expm1f and took a fifth of the training time; this
// version has no calls or branches, so the compiler vectorises the loops.
static inline float tanh_rational(float x) {
    const float clamp = 7.90531110763549805f;  // tanh(x) rounds to +-1 beyond
    x = x > clamp ? clamp : (x < -clamp ? -clamp : x);
    float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

void gelu_tanh_forward(float *out, const float *in, long n) {
    for (long i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + tanh_rational(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

void gelu_tanh_backward(float *din, const float *dout, const float *in, long n) {
    for (long i = 0; i < n; i++) {
        float x = in[i];
        float th = tanh_rational(GELU_K * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - th * th;
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        din[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * sech2 * du);
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

// --- attention -------------------------------------------------------------

static void softmax_rows(float *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        float *row = x + (long)r * cols;
        float mx = row[0];
        for (int c = 1; c < cols; c++) mx = row[c] > mx ? row[c] : mx;
        double s = 0;
        for (int c = 0; c < cols; c++) {
            row[c] = expf(row[c] - mx);
            s += row[c];
        }
        float inv = (float)(1.0 / s);
        for (int c = 0; c < cols; c++) row[c] *= inv;
    }
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H) {
    int hs = D / H;
    float scale = 1.0f / sqrtf((float)hs);
    int ld = 3 * D;  // q, k, v of one head are strided views of qkv: no copies
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (long)b * T * ld + h * hs;
            const float *k = q + D;
            const float *v = q + 2 * D;
            float *a = att + ((long)b * H + h) * T * T;
            // a (T, T) = scale * q (T, hs) @ k^T (hs, T)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, ld, k, ld, 0.0f, a, T);
            softmax_rows(a, T, T);
            // out (T, hs) = a (T, T) @ v (T, hs)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, ld, 0.0f,
                        out + (long)b * T * D + h * hs, D);
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
