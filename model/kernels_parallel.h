// kernels_parallel.h: the kernels of kernels.h run as tiles on the process's
// thread pool (model/base/parallel.h), with OpenBLAS single-threaded inside
// the tiles. Same signatures as the serial kernels. Use from one thread.
//
// Results never depend on the thread count: tile boundaries are a function
// of the shapes only (see gemm_tile_grid) and each tile is computed by one
// thread. Element-wise kernels equal their serial versions bit for bit (each
// row is computed by the serial kernel's arithmetic whatever the cut); the
// GEMMs equal sgemm on each tile, which can differ from one sgemm over the
// whole matrix in the last bits (OpenBLAS picks kernels by size).
#pragma once

// Tiles of an (M, N) = (M, K) @ (K, N) product: rows split into mt blocks and
// columns into nt blocks, chosen from M, N, K only.
void gemm_tile_grid(int M, int N, int K, int *mt, int *nt);

// out (N, OC) = in (N, IC) @ w^T + b, like linear_forward.
void linear_forward_par(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC);
// g (N, OC) = GELU_tanh(h), h = in @ w^T + b, each tile's GELU applied while
// the tile is in cache. h (saved for backward) may be NULL: then only g is
// written.
void linear_gelu_forward_par(float *h, float *g, const float *in, const float *w, const float *b, int N, int IC,
                             int OC);
// Like linear_backward (accumulating): din by row tiles of dout, dw by row
// tiles of dw (each reduces over all N), db by column blocks.
void linear_backward_par(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                         int IC, int OC);

// Attention core, one tile per sample (all heads).
void attention_forward_par(float *out, float *att, const float *qkv, int B, int T, int D, int H);

// Whole modules as one parallel region where that keeps a tile in cache:
// MLP y (N, D) = fc2(GELU(fc1(z))) with h (N, M) the pre-GELU values and g
// (N, M) = GELU(h) saved for backward; the row tiles of linear_forward_par,
// so the same bits as the separate kernels. h == NULL (inference): nothing is
// kept and g is scratch (each thread reuses one row block of it, which stays
// in its cache).
void mlp_forward_par(float *y, float *h, float *g, const float *z, const float *w1, const float *b1, const float *w2,
                     const float *b2, int N, int D, int M);
// Attention module y (B, T, D) = proj(attention(qkv(z))). keep = 1: qkv (B,
// T, 3D), att (B, H, T, T), atty (B, T, D) are saved for backward; keep = 0:
// they are scratch (each thread reuses the slot of a few samples). Small
// weights: tiles of whole samples through all three steps; large: the three
// tiled kernels.
void attention_module_forward_par(float *y, float *qkv, float *att, float *atty, const float *z, const float *wqkv,
                                  const float *bqkv, const float *wproj, const float *bproj, int B, int T, int D,
                                  int H, int keep);

void layernorm_forward_par(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps);
void layernorm_backward_par(float *din, const float *dout, const float *in, const float *mean, const float *rstd,
                            int N, int C);
void layernorm_modulate_forward_par(float *z, float *ln, float *mean, float *rstd, const float *in,
                                    const float *shift, const float *scale, int B, int T, int D, int mod_stride,
                                    float eps);
void residual_layernorm_modulate_forward_par(float *xout, float *z, float *ln, float *mean, float *rstd,
                                             const float *xin, const float *gate, const float *y, const float *shift,
                                             const float *scale, int B, int T, int D, int mod_stride, float eps);
// Z of selected rows only, packed: z row k (T, D) = modulate(LN(in row
// rows[k])) with that row's shift and scale; the same bits as
// layernorm_modulate_forward_par gives those rows. For a module that runs on a
// subset of rows and whose skipped rows need no Z.
void layernorm_modulate_rows_par(float *z, const float *in, const float *shift, const float *scale, const int *rows,
                                 int n, int T, int D, int mod_stride, float eps);
// In place x (B, T, D) += gate[b] * y for every row, and Z of the rows with
// zrow[b] >= 0 into packed row zrow[b] of z (rows with zrow[b] < 0 get no Z).
// The same bits as residual_layernorm_modulate_forward_par (xout = xin) for
// those rows and as gated_residual_forward_par for the others.
void residual_layernorm_modulate_rows_par(float *x, float *z, const float *gate, const float *y, const float *shift,
                                          const float *scale, const int *zrow, int B, int T, int D, int mod_stride,
                                          float eps);
void modulate_forward_par(float *out, const float *in, const float *shift, const float *scale, int B, int T, int D,
                          int mod_stride);
void modulate_backward_par(float *din, float *dshift, float *dscale, const float *dout, const float *in,
                           const float *scale, int B, int T, int D, int mod_stride);
void gated_residual_forward_par(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride);
void gated_residual_backward_par(float *dy, float *dgate, const float *dx, const float *y, const float *gate, int B,
                                 int T, int D, int mod_stride);
void gelu_tanh_forward_par(float *out, const float *in, long n);
void gelu_tanh_backward_par(float *din, const float *dout, const float *in, long n);
