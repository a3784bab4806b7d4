#include "model/kernels_parallel.h"

#include <stddef.h>

#include "model/kernels.h"
#include "model/base/parallel.h"

// Below these sizes a wake-up costs more than the work it would move.
#define MIN_ROWS 32        // LayerNorm rows of D floats
#define MIN_SAMPLES 1      // samples of T x D floats
#define MIN_ELEMENTS 16384 // GELU elements

// One argument block for every kernel; each wrapper uses the fields it needs.
typedef struct {
    float *out, *out2, *out3;
    const float *in, *in2, *in3, *in4;
    int N, C, B, T, D, stride;
    float eps;
} Args;

// Offset pointer that stays NULL for optional outputs (frozen gradients).
#define AT(p, k) ((p) ? (p) + (k) : NULL)

static void ln_fwd_range(void *v, long b, long e) {
    Args *a = v;
    long C = a->C;
    layernorm_forward(a->out + b * C, AT(a->out2, b), AT(a->out3, b), a->in + b * C, (int)(e - b), a->C, a->eps);
}

void layernorm_forward_par(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps) {
    Args a = {.out = out, .out2 = mean, .out3 = rstd, .in = in, .N = N, .C = C, .eps = eps};
    parallel_for(N, MIN_ROWS, ln_fwd_range, &a);
}

static void ln_bwd_range(void *v, long b, long e) {
    Args *a = v;
    long C = a->C;
    layernorm_backward(a->out + b * C, a->in + b * C, a->in2 + b * C, a->in3 + b, a->in4 + b, (int)(e - b), a->C);
}

void layernorm_backward_par(float *din, const float *dout, const float *in, const float *mean, const float *rstd,
                            int N, int C) {
    Args a = {.out = din, .in = dout, .in2 = in, .in3 = mean, .in4 = rstd, .N = N, .C = C};
    parallel_for(N, MIN_ROWS, ln_bwd_range, &a);
}

static void mod_fwd_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    modulate_forward(a->out + b * row, a->in + b * row, a->in2 + b * s, a->in3 + b * s, (int)(e - b), a->T, a->D,
                     a->stride);
}

void modulate_forward_par(float *out, const float *in, const float *shift, const float *scale, int B, int T, int D,
                          int mod_stride) {
    Args a = {.out = out, .in = in, .in2 = shift, .in3 = scale, .B = B, .T = T, .D = D, .stride = mod_stride};
    parallel_for(B, MIN_SAMPLES, mod_fwd_range, &a);
}

static void mod_bwd_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    modulate_backward(AT(a->out, b * row), AT(a->out2, b * s), AT(a->out3, b * s), a->in + b * row,
                      a->in2 + b * row, a->in3 + b * s, (int)(e - b), a->T, a->D, a->stride);
}

void modulate_backward_par(float *din, float *dshift, float *dscale, const float *dout, const float *in,
                           const float *scale, int B, int T, int D, int mod_stride) {
    Args a = {.out = din, .out2 = dshift, .out3 = dscale, .in = dout, .in2 = in, .in3 = scale, .B = B, .T = T,
              .D = D, .stride = mod_stride};
    parallel_for(B, MIN_SAMPLES, mod_bwd_range, &a);
}

static void gate_fwd_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    gated_residual_forward(a->out + b * row, a->in + b * s, a->in2 + b * row, (int)(e - b), a->T, a->D, a->stride);
}

void gated_residual_forward_par(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride) {
    Args a = {.out = x, .in = gate, .in2 = y, .B = B, .T = T, .D = D, .stride = mod_stride};
    parallel_for(B, MIN_SAMPLES, gate_fwd_range, &a);
}

static void gate_bwd_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    gated_residual_backward(AT(a->out, b * row), AT(a->out2, b * s), a->in + b * row, a->in2 + b * row,
                            a->in3 + b * s, (int)(e - b), a->T, a->D, a->stride);
}

void gated_residual_backward_par(float *dy, float *dgate, const float *dx, const float *y, const float *gate, int B,
                                 int T, int D, int mod_stride) {
    Args a = {.out = dy, .out2 = dgate, .in = dx, .in2 = y, .in3 = gate, .B = B, .T = T, .D = D,
              .stride = mod_stride};
    parallel_for(B, MIN_SAMPLES, gate_bwd_range, &a);
}

static void gelu_fwd_range(void *v, long b, long e) {
    Args *a = v;
    gelu_tanh_forward(a->out + b, a->in + b, e - b);
}

void gelu_tanh_forward_par(float *out, const float *in, long n) {
    Args a = {.out = out, .in = in};
    parallel_for(n, MIN_ELEMENTS, gelu_fwd_range, &a);
}

static void gelu_bwd_range(void *v, long b, long e) {
    Args *a = v;
    gelu_tanh_backward(a->out + b, a->in + b, a->in2 + b, e - b);
}

void gelu_tanh_backward_par(float *din, const float *dout, const float *in, long n) {
    Args a = {.out = din, .in = dout, .in2 = in};
    parallel_for(n, MIN_ELEMENTS, gelu_bwd_range, &a);
}
