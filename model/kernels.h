// kernels.h: the DiT's numerical building blocks, forward and backward.
//
// Conventions (llm.c): outputs first, then tensors saved for backward, then
// inputs, then weights, then dimensions. Inputs are const. Backward kernels
// ACCUMULATE (+=) into every gradient they produce, so a tensor used twice gets
// the sum of both contributions and callers zero gradients once per step.
// Kernels never allocate, print or read globals; scratch space is passed in.
// Linear layers store weights (out, in) like nn.Linear and run as one sgemm.
#pragma once

// out (N, OC) = in (N, IC) @ w^T (OC, IC) + b (OC); b may be NULL.
void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC);
// din (N, IC) += dout @ w; dw (OC, IC) += dout^T @ in; db (OC) += sum_n dout.
// Any of din, dw, db may be NULL to skip that gradient (frozen weights).
void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                     int IC, int OC);

// LayerNorm over the last dimension without affine parameters.
// out (N, C), mean (N), rstd (N) saved for backward; in (N, C).
void layernorm_forward(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps);
void layernorm_backward(float *din, const float *dout, const float *in, const float *mean, const float *rstd, int N,
                        int C);
// LayerNorm then adaLN modulation in one pass (the same bits as layernorm_forward
// then modulate_forward): z (B, T, D) = LN(in) * (1 + scale[b]) + shift[b];
// ln (B, T, D), mean, rstd (B, T) are saved for backward and may each be NULL.
void layernorm_modulate_forward(float *z, float *ln, float *mean, float *rstd, const float *in, const float *shift,
                                const float *scale, int B, int T, int D, int mod_stride, float eps);
// Gated residual, then LayerNorm and modulation of its result, in one pass:
// xout = xin + gate[b] * y (xout may be xin), then z, ln, mean, rstd of xout as
// in layernorm_modulate_forward. Same bits as the three separate kernels.
void residual_layernorm_modulate_forward(float *xout, float *z, float *ln, float *mean, float *rstd,
                                         const float *xin, const float *gate, const float *y, const float *shift,
                                         const float *scale, int B, int T, int D, int mod_stride, float eps);

// adaLN modulation, per sample: out (B, T, D) = in * (1 + scale[b]) + shift[b].
// shift and scale point at row 0 of per-sample vectors with stride `mod_stride`
// floats between samples (they live inside the (B, 6D) adaLN output).
void modulate_forward(float *out, const float *in, const float *shift, const float *scale, int B, int T, int D,
                      int mod_stride);
// din (B,T,D) += dout * (1 + scale); dshift (B, stride) += sum_t dout; dscale += sum_t dout * in.
void modulate_backward(float *din, float *dshift, float *dscale, const float *dout, const float *in,
                       const float *scale, int B, int T, int D, int mod_stride);

// Gated residual: x (B, T, D) += gate[b] * y (B, T, D), gate with stride mod_stride.
void gated_residual_forward(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride);
// dy (B,T,D) += gate * dx; dgate (B, stride) += sum_t dx * y. (dx passes through the residual unchanged.)
void gated_residual_backward(float *dy, float *dgate, const float *dx, const float *y, const float *gate, int B,
                             int T, int D, int mod_stride);

// GELU with the tanh approximation (nn.GELU(approximate="tanh")), computed as
// x / (1 + exp(-2u)): within 1e-6 relative + 1e-7 absolute of the
// double-precision formula over all floats; vectorised.
void gelu_tanh_forward(float *out, const float *in, long n);
void gelu_tanh_backward(float *din, const float *dout, const float *in, long n);

void silu_forward(float *out, const float *in, long n);
void silu_backward(float *din, const float *dout, const float *in, long n);

// Non-causal multi-head self-attention core (no projections).
// out (B, T, D) with head h in columns [h*hs, (h+1)*hs); att (B, H, T, T) softmax
// probabilities saved for backward; qkv (B, T, 3D) in the (3, H, hs) layout of
// the official timm Attention. Scale 1/sqrt(hs). Small heads run as direct
// register tiles, larger ones as two sgemm calls per (sample, head); see
// attention_uses_direct.
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int D, int H);
// 1 if attention_forward takes the direct path for T tokens and head size hs.
int attention_uses_direct(int T, int hs);
// dqkv (B, T, 3D) += ...; datt_scratch (T, T) is scratch space.
void attention_backward(float *dqkv, float *datt_scratch, const float *dout, const float *qkv, const float *att, int B,
                        int T, int D, int H);

// Timestep embedding frequencies: out (N, F) = [cos(t * f_i), sin(t * f_i)],
// f_i = exp(-ln(10000) * i / (F/2)), computed in float32 like the official code.
void timestep_embedding(float *out, const float *t, int N, int F);

// Patch embedding input: patches (B, T, C*p*p) from images (B, C, H, W); patch
// vector order (c, i, j) matches the Conv2d weight (D, C, p, p).
void patchify(float *patches, const float *images, int B, int C, int H, int W, int p);
void patchify_backward(float *dimages, const float *dpatches, int B, int C, int H, int W, int p);
// images (B, C, H, W) from the final linear output (B, T, p*p*C), read as (p, q, c).
void unpatchify(float *images, const float *tokens, int B, int C, int H, int W, int p);
void unpatchify_backward(float *dtokens, const float *dimages, int B, int C, int H, int W, int p);

// Reference implementations used only as test oracles (plain loops, double sums).
void linear_forward_naive(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC);
void attention_forward_naive(float *out, const float *qkv, int B, int T, int D, int H);
