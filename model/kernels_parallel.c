#include "model/kernels_parallel.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>

#include "model/base/parallel.h"
#include "model/kernels.h"

// --- tiles ---------------------------------------------------------------------

// Each GEMM tile is one single-threaded sgemm that packs its own copy of the
// weight panel, so a tile needs enough rows to amortise that copy: about 256
// rows (512 when the weights no longer fit a core's L2 cache). Products with
// few rows are also cut by columns, into blocks of at least 128, so both
// cores get work (the adaLN projections: a handful of rows, 6D columns).
#define GEMM_ROWS 256
#define GEMM_ROWS_BIG_W 512
#define GEMM_BIG_W_FLOATS (1L << 18)  // 1 MB of weights
#define GEMM_MIN_TILES 4
#define GEMM_MIN_COLS 128
#define GEMM_SERIAL_MACS (1L << 19)  // below this a product runs as one tile

// How n rows (or samples) are cut for tiles of about `size`: an even number
// of equal blocks (even counts split evenly over 2 or 4 threads), at least
// min_blocks when n allows. Depends on n, size and min_blocks only.
typedef struct {
    int n, parts;
} RowCut;

static RowCut row_cut(int n, int size, int min_blocks) {
    RowCut c = {n, (n + size / 2) / size};
    if (c.parts > 1 && c.parts % 2) c.parts++;
    if (c.parts < min_blocks) c.parts = min_blocks < n ? min_blocks : n;
    if (c.parts < 1) c.parts = 1;
    return c;
}

static int row_cut_count(RowCut c) { return c.parts; }

static void row_cut_block(RowCut c, int k, int *b, int *e) {
    *b = (int)((long)c.n * k / c.parts);
    *e = (int)((long)c.n * (k + 1) / c.parts);
}

// Rows of the largest block.
static int row_cut_max(RowCut c) { return (c.n + c.parts - 1) / c.parts; }

static RowCut gemm_row_cut(int M, int N, int K) {
    if ((long)M * N * K < GEMM_SERIAL_MACS) return row_cut(M, M > 0 ? M : 1, 1);  // one block
    return row_cut(M, (long)N * K >= GEMM_BIG_W_FLOATS ? GEMM_ROWS_BIG_W : GEMM_ROWS, 1);
}

void gemm_tile_grid(int M, int N, int K, int *mt, int *nt) {
    *mt = row_cut_count(gemm_row_cut(M, N, K));
    *nt = 1;
    if ((long)M * N * K >= GEMM_SERIAL_MACS && *mt < GEMM_MIN_TILES) {
        int want = (GEMM_MIN_TILES + *mt - 1) / *mt, most = N / GEMM_MIN_COLS;
        *nt = want < most ? want : most;
        if (*nt < 1) *nt = 1;
    }
}

typedef struct {
    float *out, *out2;
    const float *in, *w, *b;
    int M, N, K, mt, nt;
    RowCut rows;      // the mt row blocks
    int trans_w;      // 1: w is (N, K) (nn.Linear weights); 0: w is (K, N)
    int lda;          // leading dimension of `in` (K unless reading a transposed view)
    int a_trans;      // 1: `in` is (K, M) read transposed (dw = dout^T @ in)
    float beta;
    int gelu;         // 1: apply GELU to the tile (out2 receives it)
} GemmJob;

static void gemm_tile(void *v, long tile, int worker) {
    (void)worker;
    GemmJob *j = v;
    int r0, r1, c0, c1;
    row_cut_block(j->rows, (int)(tile / j->nt), &r0, &r1);
    row_cut_block((RowCut){j->N, j->nt}, (int)(tile % j->nt), &c0, &c1);
    int rows = r1 - r0, cols = c1 - c0;
    if (rows <= 0 || cols <= 0) return;
    float *c = j->out + (long)r0 * j->N + c0;
    if (j->b)
        for (int r = 0; r < rows; r++) memcpy(c + (long)r * j->N, j->b + c0, sizeof(float) * cols);
    const float *a = j->a_trans ? j->in + r0 : j->in + (long)r0 * j->lda;
    const float *w = j->trans_w ? j->w + (long)c0 * j->K : j->w + c0;
    int ldw = j->trans_w ? j->K : j->N;
    float beta = j->b ? 1.0f : j->beta;
    cblas_sgemm(CblasRowMajor, j->a_trans ? CblasTrans : CblasNoTrans, j->trans_w ? CblasTrans : CblasNoTrans, rows,
                cols, j->K, 1.0f, a, j->lda, w, ldw, beta, c, j->N);
    if (j->gelu) {
        float *g = j->out2 + (long)r0 * j->N + c0;
        for (int r = 0; r < rows; r++) gelu_tanh_forward(g + (long)r * j->N, c + (long)r * j->N, cols);
    }
}

static void run_gemm(GemmJob *j) {
    gemm_tile_grid(j->M, j->N, j->K, &j->mt, &j->nt);
    j->rows = gemm_row_cut(j->M, j->N, j->K);
    parallel_tiles((long)j->mt * j->nt, gemm_tile, j);
}

void linear_forward_par(float *out, const float *in, const float *w, const float *b, int N, int IC, int OC) {
    GemmJob j = {.out = out, .in = in, .w = w, .b = b, .M = N, .N = OC, .K = IC, .trans_w = 1, .lda = IC};
    run_gemm(&j);
}

void linear_gelu_forward_par(float *h, float *g, const float *in, const float *w, const float *b, int N, int IC,
                             int OC) {
    // Without h the product lands in g and GELU runs in place.
    GemmJob j = {.out = h ? h : g, .out2 = g, .in = in, .w = w, .b = b, .M = N, .N = OC, .K = IC, .trans_w = 1,
                 .lda = IC, .gelu = 1};
    run_gemm(&j);
}

typedef struct {
    float *db;
    const float *dout;
    int N, OC;
} BiasJob;

static void bias_tile(void *v, long tile, int worker) {
    (void)worker;
    BiasJob *j = v;
    int o0 = (int)tile * 64, w = j->OC - o0 < 64 ? j->OC - o0 : 64;
    // The serial kernel's arithmetic: 64 columns, rows in order, double sums.
    double acc[64] = {0};
    for (int n = 0; n < j->N; n++) {
        const float *row = j->dout + (long)n * j->OC + o0;
        for (int k = 0; k < w; k++) acc[k] += row[k];
    }
    for (int k = 0; k < w; k++) j->db[o0 + k] += (float)acc[k];
}

void linear_backward_par(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int N,
                         int IC, int OC) {
    if (din) {  // din (N, IC) += dout (N, OC) @ w (OC, IC)
        GemmJob j = {.out = din, .in = dout, .w = w, .M = N, .N = IC, .K = OC, .trans_w = 0, .lda = OC, .beta = 1};
        run_gemm(&j);
    }
    if (dw) {  // dw (OC, IC) += dout^T (OC, N) @ in (N, IC)
        GemmJob j = {.out = dw, .in = dout, .w = in, .M = OC, .N = IC, .K = N, .trans_w = 0, .lda = OC,
                     .a_trans = 1, .beta = 1};
        run_gemm(&j);
    }
    if (db) {
        BiasJob j = {db, dout, N, OC};
        parallel_tiles((OC + 63) / 64, bias_tile, &j);
    }
}

// --- attention -------------------------------------------------------------------

typedef struct {
    float *out, *att;
    const float *qkv;
    int T, D, H;
} AttJob;

static void attention_tile(void *v, long b, int worker) {
    (void)worker;
    AttJob *j = v;
    long TD = (long)j->T * j->D;
    attention_forward(j->out + b * TD, j->att + b * j->H * j->T * j->T, j->qkv + b * 3 * TD, 1, j->T, j->D, j->H);
}

void attention_forward_par(float *out, float *att, const float *qkv, int B, int T, int D, int H) {
    AttJob j = {out, att, qkv, T, D, H};
    parallel_tiles(B, attention_tile, &j);
}

// --- whole modules ------------------------------------------------------------------

// out (rows, OC) = in (rows, IC) @ w^T + b for one row block (row strides OC
// and IC): the body of one row tile, the same call linear_forward_par makes.
static void linear_block(float *out, const float *in, const float *w, const float *b, int rows, int IC, int OC) {
    for (int r = 0; r < rows; r++) memcpy(out + (long)r * OC, b, sizeof(float) * OC);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, OC, IC, 1.0f, in, IC, w, IC, 1.0f, out, OC);
}

typedef struct {
    float *y, *h, *g, *qkv, *att, *atty;
    const float *z, *w1, *b1, *w2, *b2;
    int N, D, M;         // MLP: N rows, hidden M
    RowCut cut;          // MLP: row blocks; attention: sample blocks
    int T, H, B;         // attention: tokens, heads, samples
    int scratch;         // 1: intermediates go to a per-thread slot (row block `worker`), not to their rows
} ModuleJob;

static void mlp_tile(void *v, long tile, int worker) {
    ModuleJob *j = v;
    int r0, r1;
    row_cut_block(j->cut, (int)tile, &r0, &r1);
    int rows = r1 - r0, M = j->M, D = j->D;
    if (rows <= 0) return;
    // Training keeps h and g per row; inference runs GELU in place, in this
    // thread's slot of g when there is room (it stays in the core's cache).
    long slot = j->scratch ? (long)worker * row_cut_max(j->cut) : r0;
    float *g = j->g + slot * M, *h = j->h ? j->h + (long)r0 * M : g;
    linear_block(h, j->z + (long)r0 * D, j->w1, j->b1, rows, D, M);
    gelu_tanh_forward(g, h, (long)rows * M);
    linear_block(j->y + (long)r0 * D, g, j->w2, j->b2, rows, M, D);
}

void mlp_forward_par(float *y, float *h, float *g, const float *z, const float *w1, const float *b1, const float *w2,
                     const float *b2, int N, int D, int M) {
    int mt1, nt1, mt2, nt2;
    gemm_tile_grid(N, M, D, &mt1, &nt1);
    gemm_tile_grid(N, D, M, &mt2, &nt2);
    if (nt1 != 1 || nt2 != 1 || mt1 != mt2) {  // column tiles: fc2 needs whole rows of g
        linear_gelu_forward_par(h, g, z, w1, b1, N, D, M);
        linear_forward_par(y, g, w2, b2, N, M, D);
        return;
    }
    // The same row tiles and sgemm calls as the two separate kernels (so the
    // same bits), but each tile goes through fc1, GELU and fc2 while in cache.
    ModuleJob j = {.y = y, .h = h, .g = g, .z = z, .w1 = w1, .b1 = b1, .w2 = w2, .b2 = b2, .N = N, .D = D, .M = M,
                   .cut = gemm_row_cut(N, M, D)};
    j.scratch = !h && (long)parallel_threads() * row_cut_max(j.cut) <= N;
    parallel_tiles(mt1, mlp_tile, &j);
}

// Samples per fused attention tile: blocks of about 256 token rows, at least
// 4 of them when the batch allows (so small batches still use every core).
static RowCut attention_sample_cut(int B, int T) {
    int size = (256 + T / 2) / T;
    return row_cut(B, size < 1 ? 1 : size, 4);
}

static void attention_module_tile(void *v, long tile, int worker) {
    ModuleJob *j = v;
    int s0, s1;
    row_cut_block(j->cut, (int)tile, &s0, &s1);
    int r0 = s0 * j->T, r1 = s1 * j->T, D = j->D;
    long slot = j->scratch ? (long)worker * row_cut_max(j->cut) : s0;  // this thread's slot, or the tile's samples
    float *qkv = j->qkv + slot * j->T * 3 * D, *atty = j->atty + slot * j->T * D;
    float *att = j->att + slot * j->H * j->T * j->T;
    linear_block(qkv, j->z + (long)r0 * D, j->w1, j->b1, r1 - r0, D, 3 * D);
    attention_forward(atty, att, qkv, s1 - s0, j->T, D, j->H);
    linear_block(j->y + (long)r0 * D, atty, j->w2, j->b2, r1 - r0, D, D);
}

void attention_module_forward_par(float *y, float *qkv, float *att, float *atty, const float *z, const float *wqkv,
                                  const float *bqkv, const float *wproj, const float *bproj, int B, int T, int D,
                                  int H, int keep) {
    if (3L * D * D >= GEMM_BIG_W_FLOATS) {  // large weights: bigger GEMM tiles pay off more than locality
        linear_forward_par(qkv, z, wqkv, bqkv, B * T, D, 3 * D);
        attention_forward_par(atty, att, qkv, B, T, D, H);
        linear_forward_par(y, atty, wproj, bproj, B * T, D, D);
        return;
    }
    // Small weights: whole samples per tile, qkv -> attention -> proj in cache.
    ModuleJob j = {.y = y, .qkv = qkv, .att = att, .atty = atty, .z = z, .w1 = wqkv, .b1 = bqkv, .w2 = wproj,
                   .b2 = bproj, .D = D, .T = T, .H = H, .B = B, .cut = attention_sample_cut(B, T)};
    j.scratch = !keep && (long)parallel_threads() * row_cut_max(j.cut) <= B;
    parallel_tiles(row_cut_count(j.cut), attention_module_tile, &j);
}

// --- element-wise ------------------------------------------------------------------

#define LN_ROWS 64         // LayerNorm rows per tile
#define GELU_ELEMENTS 16384

// One argument block for the element-wise wrappers; each uses the fields it needs.
typedef struct {
    float *out, *out2, *out3, *out4, *out5;
    const float *in, *in2, *in3, *in4, *in5;
    const int *rows;
    int N, C, B, T, D, stride;
    float eps;
} Args;

// Offset pointer that stays NULL for optional outputs (frozen gradients, unsaved activations).
#define AT(p, k) ((p) ? (p) + (k) : NULL)

static void ln_fwd_range(void *v, long b, long e) {
    Args *a = v;
    long C = a->C;
    layernorm_forward(a->out + b * C, AT(a->out2, b), AT(a->out3, b), a->in + b * C, (int)(e - b), a->C, a->eps);
}

void layernorm_forward_par(float *out, float *mean, float *rstd, const float *in, int N, int C, float eps) {
    Args a = {.out = out, .out2 = mean, .out3 = rstd, .in = in, .N = N, .C = C, .eps = eps};
    parallel_for(N, LN_ROWS, ln_fwd_range, &a);
}

static void ln_bwd_range(void *v, long b, long e) {
    Args *a = v;
    long C = a->C;
    layernorm_backward(a->out + b * C, a->in + b * C, a->in2 + b * C, a->in3 + b, a->in4 + b, (int)(e - b), a->C);
}

void layernorm_backward_par(float *din, const float *dout, const float *in, const float *mean, const float *rstd,
                            int N, int C) {
    Args a = {.out = din, .in = dout, .in2 = in, .in3 = mean, .in4 = rstd, .N = N, .C = C};
    parallel_for(N, LN_ROWS, ln_bwd_range, &a);
}

static void ln_mod_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride, bt = b * a->T;
    layernorm_modulate_forward(a->out + b * row, AT(a->out2, b * row), AT(a->out3, bt), AT(a->out4, bt),
                               a->in + b * row, a->in2 + b * s, a->in3 + b * s, (int)(e - b), a->T, a->D, a->stride,
                               a->eps);
}

void layernorm_modulate_forward_par(float *z, float *ln, float *mean, float *rstd, const float *in,
                                    const float *shift, const float *scale, int B, int T, int D, int mod_stride,
                                    float eps) {
    Args a = {.out = z, .out2 = ln, .out3 = mean, .out4 = rstd, .in = in, .in2 = shift, .in3 = scale, .B = B,
              .T = T, .D = D, .stride = mod_stride, .eps = eps};
    parallel_for(B, 1, ln_mod_range, &a);
}

static void res_ln_mod_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride, bt = b * a->T;
    residual_layernorm_modulate_forward(a->out + b * row, a->out2 + b * row, AT(a->out3, b * row), AT(a->out4, bt),
                                        AT(a->out5, bt), a->in + b * row, a->in2 + b * s, a->in3 + b * row,
                                        a->in4 + b * s, a->in5 + b * s, (int)(e - b), a->T, a->D, a->stride, a->eps);
}

void residual_layernorm_modulate_forward_par(float *xout, float *z, float *ln, float *mean, float *rstd,
                                             const float *xin, const float *gate, const float *y, const float *shift,
                                             const float *scale, int B, int T, int D, int mod_stride, float eps) {
    Args a = {.out = xout, .out2 = z, .out3 = ln, .out4 = mean, .out5 = rstd, .in = xin, .in2 = gate, .in3 = y,
              .in4 = shift, .in5 = scale, .B = B, .T = T, .D = D, .stride = mod_stride, .eps = eps};
    parallel_for(B, 1, res_ln_mod_range, &a);
}

// One row per call of the serial kernel (B = 1): a row's bits do not depend
// on which other rows are in the call.
static void ln_mod_rows_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    for (long k = b; k < e; k++) {
        long r = a->rows[k];
        layernorm_modulate_forward(a->out + k * row, NULL, NULL, NULL, a->in + r * row, a->in2 + r * s,
                                   a->in3 + r * s, 1, a->T, a->D, a->stride, a->eps);
    }
}

void layernorm_modulate_rows_par(float *z, const float *in, const float *shift, const float *scale, const int *rows,
                                 int n, int T, int D, int mod_stride, float eps) {
    Args a = {.out = z, .in = in, .in2 = shift, .in3 = scale, .rows = rows, .T = T, .D = D, .stride = mod_stride,
              .eps = eps};
    parallel_for(n, 1, ln_mod_rows_range, &a);
}

static void res_ln_mod_rows_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    for (long r = b; r < e; r++) {
        int k = a->rows[r];
        if (k >= 0)
            residual_layernorm_modulate_forward(a->out + r * row, a->out2 + k * row, NULL, NULL, NULL, a->out + r * row,
                                                a->in + r * s, a->in2 + r * row, a->in3 + r * s, a->in4 + r * s, 1,
                                                a->T, a->D, a->stride, a->eps);
        else
            gated_residual_forward(a->out + r * row, a->in + r * s, a->in2 + r * row, 1, a->T, a->D, a->stride);
    }
}

void residual_layernorm_modulate_rows_par(float *x, float *z, const float *gate, const float *y, const float *shift,
                                          const float *scale, const int *zrow, int B, int T, int D, int mod_stride,
                                          float eps) {
    Args a = {.out = x, .out2 = z, .in = gate, .in2 = y, .in3 = shift, .in4 = scale, .rows = zrow, .B = B, .T = T,
              .D = D, .stride = mod_stride, .eps = eps};
    parallel_for(B, 1, res_ln_mod_rows_range, &a);
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
    parallel_for(B, 1, mod_fwd_range, &a);
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
    parallel_for(B, 1, mod_bwd_range, &a);
}

static void gate_fwd_range(void *v, long b, long e) {
    Args *a = v;
    long row = (long)a->T * a->D, s = a->stride;
    gated_residual_forward(a->out + b * row, a->in + b * s, a->in2 + b * row, (int)(e - b), a->T, a->D, a->stride);
}

void gated_residual_forward_par(float *x, const float *gate, const float *y, int B, int T, int D, int mod_stride) {
    Args a = {.out = x, .in = gate, .in2 = y, .B = B, .T = T, .D = D, .stride = mod_stride};
    parallel_for(B, 1, gate_fwd_range, &a);
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
    parallel_for(B, 1, gate_bwd_range, &a);
}

static void gelu_fwd_range(void *v, long b, long e) {
    Args *a = v;
    gelu_tanh_forward(a->out + b, a->in + b, e - b);
}

void gelu_tanh_forward_par(float *out, const float *in, long n) {
    Args a = {.out = out, .in = in};
    parallel_for(n, GELU_ELEMENTS, gelu_fwd_range, &a);
}

static void gelu_bwd_range(void *v, long b, long e) {
    Args *a = v;
    gelu_tanh_backward(a->out + b, a->in + b, a->in2 + b, e - b);
}

void gelu_tanh_backward_par(float *din, const float *dout, const float *in, long n) {
    Args a = {.out = din, .in = dout, .in2 = in};
    parallel_for(n, GELU_ELEMENTS, gelu_bwd_range, &a);
}
