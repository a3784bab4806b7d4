// kernels_parallel.h: the row-parallel element-wise kernels of kernels.h split
// across threads with parallel_for (model/base/parallel.h). Same signatures and the
// same results bit for bit: each row (or sample, or element) is computed by
// one thread with the serial kernel's arithmetic. Use from one thread.
#pragma once

void layernorm_forward_par(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps);
void layernorm_backward_par(float *din, const float *dout, const float *in, const float *mean, const float *rstd,
                            int N, int C);
void modulate_forward_par(float *out, const float *in, const float *shift, const float *scale, int B, int T, int D,
                          int mod_stride);
void modulate_backward_par(float *din, float *dshift, float *dscale, const float *dout, const float *in,
                           const float *scale, int B, int T, int D, int mod_stride);
void gated_residual_forward_par(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride);
void gated_residual_backward_par(float *dy, float *dgate, const float *dx, const float *y, const float *gate, int B,
                                 int T, int D, int mod_stride);
void gelu_tanh_forward_par(float *out, const float *in, long n);
void gelu_tanh_backward_par(float *din, const float *dout, const float *in, long n);
