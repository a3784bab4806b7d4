// Backward passes: every kernel against central finite differences, the whole
// DiT against finite differences on a sample of every parameter tensor, and
// against PyTorch autograd (tests/ref/gen_dit_golden.py, dit_c_grads).
//
// Finite differences run the float32 forward with the loss L = sum(out * R)
// accumulated in double; step h = 1e-2 for kernels (O(1) inputs), so the
// truncation error O(h^2) and the float32 rounding O(1e-7 |L| / h) both stay
// below the tolerance |fd - analytic| <= 2e-3 + 2e-2 |fd|.
#include <math.h>
#include <string.h>

#include "model/dit_backward.h"
#include "model/kernels.h"
#include "model/io/npy.h"
#include "model/base/prng.h"
#include "model/io/safetensors.h"
#include "tests/test.h"
#include "tests/test_io.h"

#define FD_RTOL 2e-2
#define FD_ATOL 2e-3

static Prng rng;

static void randn(float *x, long n, double std) {
    for (long i = 0; i < n; i++) x[i] = (float)(prng_normal(&rng) * std);
}

static double dot(const float *a, const float *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// A kernel under test: runs forward on the current inputs into out.
typedef void (*ForwardFn)(void *ctx);

typedef struct {
    const char *name;
    ForwardFn fwd;
    void *ctx;
    float *out;
    const float *R;
    long nout;
} FdCase;

// Compares analytic gradient `grad` of input `x` (n elements) with central
// differences of L = <out, R>; checks every element (kernels are small).
static void fd_check(const FdCase *c, const char *input, float *x, const float *grad, long n, double h) {
    double worst = 0;
    long worst_i = -1;
    double worst_fd = 0;
    for (long i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + (float)h;
        c->fwd(c->ctx);
        double lp = dot(c->out, c->R, c->nout);
        x[i] = keep - (float)h;
        c->fwd(c->ctx);
        double lm = dot(c->out, c->R, c->nout);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double excess = fabs(fd - grad[i]) - (FD_ATOL + FD_RTOL * fabs(fd));
        if (excess > 0 && (worst_i < 0 || excess > worst)) worst = excess, worst_i = i, worst_fd = fd;
    }
    c->fwd(c->ctx);
    char label[160];
    snprintf(label, sizeof label, "%s backward: d/d%s matches central differences", c->name, input);
    TEST_CHECK(worst_i < 0, label, "element %ld: analytic %.6g, finite difference %.6g", worst_i,
               worst_i >= 0 ? grad[worst_i] : 0.0, worst_fd);
}

// --- kernel cases ---------------------------------------------------------------

enum { N = 5, IC = 6, OC = 4, B = 2, T = 3, D = 8, H = 2, MODS = 24 };

typedef struct {
    float in[N * IC], w[OC * IC], b[OC], out[N * OC];
} LinearCtx;
static void linear_fwd(void *p) {
    LinearCtx *c = p;
    linear_forward(c->out, c->in, c->w, c->b, N, IC, OC);
}

static void test_linear(void) {
    LinearCtx c;
    randn(c.in, N * IC, 1), randn(c.w, OC * IC, 1), randn(c.b, OC, 1);
    float R[N * OC], din[N * IC] = {0}, dw[OC * IC] = {0}, db[OC] = {0};
    randn(R, N * OC, 1);
    linear_fwd(&c);
    linear_backward(din, dw, db, R, c.in, c.w, N, IC, OC);
    FdCase fc = {"linear", linear_fwd, &c, c.out, R, N * OC};
    fd_check(&fc, "in", c.in, din, N * IC, 1e-2);
    fd_check(&fc, "weight", c.w, dw, OC * IC, 1e-2);
    fd_check(&fc, "bias", c.b, db, OC, 1e-2);
    // accumulation: a second backward doubles every gradient
    float dw2[OC * IC];
    memcpy(dw2, dw, sizeof dw);
    linear_backward(NULL, dw2, NULL, R, c.in, c.w, N, IC, OC);
    for (int i = 0; i < OC * IC; i++) dw[i] *= 2;
    test_close("linear backward accumulates (+=) into weight gradients", dw2, dw, OC * IC, 1e-6, 1e-6);
}

typedef struct {
    float in[B * T * D], out[B * T * D], mean[B * T], rstd[B * T];
} LnCtx;
static void ln_fwd(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->in, B * T, D, 1e-6f);
}

static void test_layernorm(void) {
    LnCtx c;
    randn(c.in, B * T * D, 2);
    float R[B * T * D], din[B * T * D] = {0};
    randn(R, B * T * D, 1);
    ln_fwd(&c);
    layernorm_backward(din, R, c.in, c.mean, c.rstd, B * T, D);
    FdCase fc = {"layernorm", ln_fwd, &c, c.out, R, B * T * D};
    fd_check(&fc, "in", c.in, din, B * T * D, 1e-2);
}

typedef struct {
    float in[B * T * D], mod[B * MODS], out[B * T * D], x[B * T * D], y[B * T * D];
} ModCtx;
static void mod_fwd(void *p) {
    ModCtx *c = p;
    modulate_forward(c->out, c->in, c->mod + 3, c->mod + 3 + D, B, T, D, MODS);
}
static void gate_fwd(void *p) {
    ModCtx *c = p;
    memcpy(c->out, c->x, sizeof c->x);
    gated_residual_forward(c->out, c->mod + 5, c->y, B, T, D, MODS);
}

static void test_modulate_and_gate(void) {
    ModCtx c;
    randn(c.in, B * T * D, 1), randn(c.mod, B * MODS, 0.5), randn(c.x, B * T * D, 1), randn(c.y, B * T * D, 1);
    float R[B * T * D], din[B * T * D] = {0}, dmod[B * MODS] = {0};
    randn(R, B * T * D, 1);
    mod_fwd(&c);
    modulate_backward(din, dmod + 3, dmod + 3 + D, R, c.in, c.mod + 3 + D, B, T, D, MODS);
    FdCase fc = {"modulate", mod_fwd, &c, c.out, R, B * T * D};
    fd_check(&fc, "in", c.in, din, B * T * D, 1e-2);
    fd_check(&fc, "shift,scale", c.mod, dmod, B * MODS, 1e-2);

    float dy[B * T * D] = {0}, dgate[B * MODS] = {0};
    gate_fwd(&c);
    gated_residual_backward(dy, dgate + 5, R, c.y, c.mod + 5, B, T, D, MODS);
    FdCase fg = {"gated residual", gate_fwd, &c, c.out, R, B * T * D};
    fd_check(&fg, "y", c.y, dy, B * T * D, 1e-2);
    fd_check(&fg, "gate", c.mod, dgate, B * MODS, 1e-2);
}

typedef struct {
    float in[64], out[64];
    int gelu;
} ActCtx;
static void act_fwd(void *p) {
    ActCtx *c = p;
    if (c->gelu) gelu_tanh_forward(c->out, c->in, 64);
    else silu_forward(c->out, c->in, 64);
}

static void test_activations(void) {
    for (int gelu = 0; gelu < 2; gelu++) {
        ActCtx c = {.gelu = gelu};
        randn(c.in, 64, 2);
        float R[64], din[64] = {0};
        randn(R, 64, 1);
        act_fwd(&c);
        if (gelu) gelu_tanh_backward(din, R, c.in, 64);
        else silu_backward(din, R, c.in, 64);
        FdCase fc = {gelu ? "gelu_tanh" : "silu", act_fwd, &c, c.out, R, 64};
        fd_check(&fc, "in", c.in, din, 64, 1e-3);
    }
}

typedef struct {
    float qkv[B * T * 3 * D], out[B * T * D], att[B * H * T * T];
} AttCtx;
static void att_fwd(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->qkv, B, T, D, H);
}

static void test_attention(void) {
    AttCtx c;
    randn(c.qkv, B * T * 3 * D, 1);
    float R[B * T * D], dqkv[B * T * 3 * D] = {0}, scratch[T * T];
    randn(R, B * T * D, 1);
    att_fwd(&c);
    attention_backward(dqkv, scratch, R, c.qkv, c.att, B, T, D, H);
    FdCase fc = {"attention", att_fwd, &c, c.out, R, B * T * D};
    fd_check(&fc, "qkv", c.qkv, dqkv, B * T * 3 * D, 1e-2);
}

typedef struct {
    float img[2 * 3 * 4 * 4], tok[2 * 4 * 12];
    int unpatch;
} PatchCtx;
static void patch_fwd(void *p) {
    PatchCtx *c = p;
    if (c->unpatch) unpatchify(c->img, c->tok, 2, 3, 4, 4, 2);
    else patchify(c->tok, c->img, 2, 3, 4, 4, 2);
}

static void test_patch_backward(void) {
    PatchCtx c = {.unpatch = 0};
    randn(c.img, 96, 1);
    float R[96], dimg[96] = {0}, dtok[96] = {0};
    randn(R, 96, 1);
    patch_fwd(&c);
    patchify_backward(dimg, R, 2, 3, 4, 4, 2);
    FdCase fc = {"patchify", patch_fwd, &c, c.tok, R, 96};
    fd_check(&fc, "images", c.img, dimg, 96, 1e-2);
    c.unpatch = 1;
    randn(c.tok, 96, 1);
    patch_fwd(&c);
    unpatchify_backward(dtok, R, 2, 3, 4, 4, 2);
    FdCase fu = {"unpatchify", patch_fwd, &c, c.img, R, 96};
    fd_check(&fu, "tokens", c.tok, dtok, 96, 1e-2);
}

// --- the whole model -------------------------------------------------------------

typedef struct {
    DitModel *m;
    const float *x, *t;
    const int *y;
    int B;
} ModelCtx;
static void model_fwd(void *p) {
    ModelCtx *c = p;
    dit_forward(c->m, c->x, c->t, c->y, c->B, NULL, NULL);
}

static void test_whole_model_fd(void) {
    DitConfig cfg = {.input_size = 8, .patch = 4, .in_channels = 2, .hidden = 12, .depth = 2, .heads = 2,
                     .num_classes = 3, .learn_sigma = 1, .mlp_hidden = 48, .freq_dim = 16};
    float *params = lz_malloc(sizeof(float) * dit_param_count(&cfg), "params");
    dit_init_random(params, &cfg, 11);
    DitModel m;
    dit_build(&m, &cfg, params, 3, 1);
    DitGrads g;
    dit_grads_build(&g, &m, 1);
    enum { MB = 3 };
    float x[MB * 2 * 64], t[MB] = {3, 250, 999}, R[MB * 4 * 64];
    int y[MB] = {0, 2, 3};
    randn(x, MB * 2 * 64, 1);
    randn(R, MB * 4 * 64, 1);
    ModelCtx mc = {&m, x, t, y, MB};
    model_fwd(&mc);
    dit_grads_zero_params(&g, &m);
    dit_backward(&m, &g, R, y, MB, NULL);
    DitTensorTable table;
    dit_tensor_table_build(&table, &cfg);
    int bad = 0, checked = 0;
    char first_bad[256] = "";
    for (int i = 0; i < table.ntensors; i++) {
        const DitTensorInfo *e = &table.tensors[i];
        if (!e->trainable) continue;
        // four entries spread over the tensor (first, last and two inside)
        long idx[4] = {0, e->count / 3, (2 * e->count) / 3, e->count - 1};
        for (int k = 0; k < 4; k++) {
            float *p = params + e->offset + idx[k];
            float keep = *p;
            double h = 1e-2;
            *p = keep + (float)h;
            model_fwd(&mc);
            double lp = dot(m.acts.out, R, MB * 4 * 64);
            *p = keep - (float)h;
            model_fwd(&mc);
            double lm = dot(m.acts.out, R, MB * 4 * 64);
            *p = keep;
            double fd = (lp - lm) / (2 * h), an = g.params_memory[e->offset + idx[k]];
            checked++;
            if (fabs(fd - an) > 5e-3 + 3e-2 * fabs(fd)) {
                if (!bad++)
                    snprintf(first_bad, sizeof first_bad, "%s[%ld]: analytic %.6g, finite difference %.6g", e->name,
                             idx[k], an, fd);
            }
        }
    }
    TEST_CHECK(bad == 0, "whole DiT backward matches central differences on 4 entries of every trainable tensor",
               "%d of %d mismatched; first %s", bad, checked, first_bad);

    // Frozen DiT: no parameter gradients, activation gradients identical.
    DitGrads frozen;
    dit_grads_build(&frozen, &m, 0);
    model_fwd(&mc);
    dit_backward(&m, &frozen, R, y, MB, NULL);
    TEST_CHECK(frozen.params_memory == NULL, "frozen backward allocates no parameter gradients", "%p",
               (void *)frozen.params_memory);
    test_close("frozen backward still propagates the same activation gradients to block 0", frozen.dres, g.dres,
               MB * 4 * 12, 1e-6, 1e-6);
    dit_grads_free(&frozen);
    dit_tensor_table_free(&table);
    dit_grads_free(&g);
    dit_free(&m);
}

// --- the gradient hook of the backward pass -----------------------------------
//
// A LazyDiT-style soft blend on every module of every block: with the gate
// logit a_b = sum_{t,d} Z[b,t,d] w[d] of the module's modulated input and
// s_b = sigmoid(a_b), the module output becomes y' = (1 - s_b) y + s_b c for a
// constant "cache" c. The forward applies it in a fill hook (DitHooks); the
// backward hook (DitBackwardHooks) receives dL/dy' and must
//   scale dy:   dL/dy = (1 - s) dL/dy'
//   add into dz: dL/dZ += s (1 - s) (sum_{t,d} dL/dy' (c - y)) w     (per token)
// and accumulate dL/dw = s (1 - s) (sum dL/dy' (c - y)) sum_t Z. dL/dw and
// dL/dx (x the input image, through every block, the blends included) are
// checked against central differences of L = <out, R>. Tolerance
// |fd - analytic| <= 5e-3 + 3e-2 |fd| with h = 1e-2, the whole-model check's:
// the float32 forward's rounding is ~1e-7 |L| / h and the O(h^2) truncation
// is ~1e-5 here, while a missing term is O(0.1) (the test also checks that
// dropping the dz term or the dy scaling breaks the match).

enum { BL_L = 2, BL_B = 3, BL_T = 4, BL_D = 12 };

typedef struct {
    float w[BL_L][2][BL_D];               // gate weights (the learnable part)
    float cache[BL_L][2][BL_T * BL_D];    // the constant c, shared by the rows
    float s[BL_L][2][BL_B];               // sigmoid per row, saved by the forward
    float y[BL_L][2][BL_B * BL_T * BL_D]; // module outputs before the blend
    float z[BL_L][2][BL_B * BL_T * BL_D]; // modulated inputs
    double dw[BL_L][2][BL_D];             // accumulated by the backward hook
    int drop_dz, drop_scale;              // deliberately broken variants
} Blend;

static void blend_fill(void *ctx, DitModuleView *v) {
    Blend *h = ctx;
    int l = v->layer, mo = v->module;
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++) {
        const float *z = v->z + b * row;
        double a = 0;
        for (long i = 0; i < row; i++) a += (double)z[i] * h->w[l][mo][i % v->D];
        float s = (float)(1.0 / (1.0 + exp(-a)));
        h->s[l][mo][b] = s;
        memcpy(h->z[l][mo] + b * row, z, sizeof(float) * row);
        memcpy(h->y[l][mo] + b * row, v->y + b * row, sizeof(float) * row);
        for (long i = 0; i < row; i++) v->y[b * row + i] = (1 - s) * v->y[b * row + i] + s * h->cache[l][mo][i];
    }
}

static void blend_grad(void *ctx, int l, DitModule mo, float *dy, float *dz, int B) {
    Blend *h = ctx;
    long row = (long)BL_T * BL_D;
    for (int b = 0; b < B; b++) {
        float s = h->s[l][mo][b];
        const float *y = h->y[l][mo] + b * row, *z = h->z[l][mo] + b * row, *c = h->cache[l][mo];
        float *g = dy + b * row;
        double ds = 0;
        for (long i = 0; i < row; i++) ds += (double)g[i] * (c[i] - y[i]);
        double da = ds * s * (1 - s);
        for (long i = 0; i < row; i++) {
            h->dw[l][mo][i % BL_D] += da * z[i];
            if (!h->drop_dz) dz[b * row + i] += (float)(da * h->w[l][mo][i % BL_D]);
            if (!h->drop_scale) g[i] *= 1 - s;
        }
    }
}

typedef struct {
    DitModel *m;
    const float *x, *t;
    const int *y;
    const DitHooks *hooks;
} BlendCtx;
static double blend_loss(BlendCtx *c, const float *R, long nout) {
    dit_forward(c->m, c->x, c->t, c->y, BL_B, NULL, c->hooks);
    return dot(c->m->acts.out, R, nout);
}

// Central differences (h = 1e-2) of the loss in each of the n values v,
// against `analytic`; returns the number outside the tolerance and describes
// the first in `first`.
static int blend_fd(BlendCtx *bc, const float *R, long nout, float *v, const double *analytic, int n, const char *name,
                    char *first, size_t len) {
    const double hstep = 1e-2;
    int bad = 0;
    first[0] = 0;
    for (int i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + (float)hstep;
        double lp = blend_loss(bc, R, nout);
        v[i] = keep - (float)hstep;
        double lm = blend_loss(bc, R, nout);
        v[i] = keep;
        double fd = (lp - lm) / (2 * hstep);
        if (fabs(fd - analytic[i]) > 5e-3 + 3e-2 * fabs(fd) && !bad++)
            snprintf(first, len, "%s[%d]: analytic %.6g, finite difference %.6g", name, i, analytic[i], fd);
    }
    return bad;
}

// Analytic dL/dw and dL/dx with the hook as configured in h.
static void blend_analytic(DitModel *m, DitGrads *g, Blend *h, BlendCtx *bc, const float *R, double *dw, float *dx) {
    const DitConfig *c = &m->cfg;
    int T = dit_tokens(c), D = c->hidden;
    memset(h->dw, 0, sizeof h->dw);
    dit_forward(m, bc->x, bc->t, bc->y, BL_B, NULL, bc->hooks);
    dit_grads_zero_params(g, m);
    DitBackwardHooks bh = {h, blend_grad};
    dit_backward(m, g, R, bc->y, BL_B, &bh);
    memcpy(dw, h->dw, sizeof h->dw);
    // dL/dx: g->dres is dL/d(embedded tokens); back through the patch embedding
    float dpatch[BL_B * BL_T * 32];
    memset(dpatch, 0, sizeof dpatch);
    linear_backward(dpatch, NULL, NULL, g->dres, m->acts.patches, m->params.x_embed_w, BL_B * T, dit_patch_dim(c), D);
    memset(dx, 0, sizeof(float) * BL_B * c->in_channels * c->input_size * c->input_size);
    patchify_backward(dx, dpatch, BL_B, c->in_channels, c->input_size, c->input_size, c->patch);
}

static void test_module_grad_hook(void) {
    DitConfig cfg = {.input_size = 8, .patch = 4, .in_channels = 2, .hidden = BL_D, .depth = BL_L, .heads = 2,
                     .num_classes = 3, .learn_sigma = 1, .mlp_hidden = 48, .freq_dim = 16};
    CHECK(dit_tokens(&cfg) == BL_T && dit_patch_dim(&cfg) == 32, "blend test sizes");
    float *params = lz_malloc(sizeof(float) * dit_param_count(&cfg), "params");
    dit_init_random(params, &cfg, 23);
    DitModel m;
    dit_build(&m, &cfg, params, BL_B, 1);
    DitGrads g;
    dit_grads_build(&g, &m, 0);  // frozen DiT, as in gate training
    static Blend h;
    memset(&h, 0, sizeof h);
    randn(&h.w[0][0][0], BL_L * 2 * BL_D, 0.1);
    randn(&h.cache[0][0][0], BL_L * 2 * BL_T * BL_D, 1);
    DitHooks hooks = {.ctx = &h, .fill = blend_fill};
    enum { NX = BL_B * 2 * 64, NOUT = BL_B * 4 * 64 };
    float x[NX], t[BL_B] = {10, 500, 990}, R[NOUT], dx[NX];
    int y[BL_B] = {0, 1, 3};
    randn(x, NX, 1);
    randn(R, NOUT, 1);
    BlendCtx bc = {&m, x, t, y, &hooks};
    static double dw[BL_L][2][BL_D];
    blend_analytic(&m, &g, &h, &bc, R, &dw[0][0][0], dx);
    double smin = 1, smax = 0;
    for (int i = 0; i < BL_L * 2 * BL_B; i++) {
        double s = (&h.s[0][0][0])[i];
        smin = s < smin ? s : smin, smax = s > smax ? s : smax;
    }
    printf("# blend gates s in [%.3f, %.3f]\n", smin, smax);

    double dxd[NX];
    for (int i = 0; i < NX; i++) dxd[i] = dx[i];
    char first[200];
    int bad = blend_fd(&bc, R, NOUT, &h.w[0][0][0], &dw[0][0][0], BL_L * 2 * BL_D, "w", first, sizeof first);
    TEST_CHECK(bad == 0, "gradient hook: dL/dw of a soft blend gate matches central differences (every w)",
               "%d of %d; first %s", bad, BL_L * 2 * BL_D, first);
    bad = blend_fd(&bc, R, NOUT, x, dxd, NX, "x", first, sizeof first);
    TEST_CHECK(bad == 0, "gradient hook: dL/dx through blended blocks matches central differences (every pixel)",
               "%d of %d; first %s", bad, NX, first);

    // The check can fail: without the dz term or without scaling dy the input
    // gradient is wrong by far more than the tolerance.
    float dx_broken[NX];
    double dw_broken[BL_L][2][BL_D];
    for (int variant = 0; variant < 2; variant++) {
        h.drop_dz = variant == 0, h.drop_scale = variant == 1;
        blend_analytic(&m, &g, &h, &bc, R, &dw_broken[0][0][0], dx_broken);
        double diff = 0;
        for (int i = 0; i < NX; i++) diff = fmax(diff, fabs(dx_broken[i] - dx[i]) - (5e-3 + 3e-2 * fabs(dx[i])));
        TEST_CHECK(diff > 0, variant == 0 ? "gradient hook: dropping the dz term is detected by the dL/dx check"
                                          : "gradient hook: not scaling dy is detected by the dL/dx check",
                   "max excess %g", diff);
    }
    h.drop_dz = h.drop_scale = 0;
    dit_grads_free(&g);
    dit_free(&m);
}

static void test_against_pytorch(void) {
    DitModel m;
    test_load_dit(&m, "tests/ref/golden/dit_c.safetensors", 2, 1);
    LzError err;
    DitGrads g;
    dit_grads_build(&g, &m, 1);
    NpyArray x, t, yv, R;
    CHECK(!npy_read_f32("tests/ref/golden/dit_c_x.npy", &x, &err), "%s", err.msg);
    CHECK(!npy_read_f32("tests/ref/golden/dit_c_t.npy", &t, &err), "%s", err.msg);
    CHECK(!npy_read_i64("tests/ref/golden/dit_c_y.npy", &yv, &err), "%s", err.msg);
    CHECK(!npy_read_f32("tests/ref/golden/dit_c_dout.npy", &R, &err), "%s", err.msg);
    int y[2] = {(int)((long long *)yv.data)[0], (int)((long long *)yv.data)[1]};
    dit_forward(&m, x.data, t.data, y, 2, NULL, NULL);
    dit_backward(&m, &g, R.data, y, 2, NULL);
    StFile want;
    CHECK(!st_read("tests/ref/golden/dit_c_grads.safetensors", &want, &err), "%s", err.msg);
    DitTensorTable table;
    dit_tensor_table_build(&table, &m.cfg);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < table.ntensors; i++) {
        const DitTensorInfo *e = &table.tensors[i];
        if (!e->trainable) continue;
        const StTensor *w = st_find(&want, e->name);
        CHECK(w && w->count == e->count, "golden gradient %s missing or wrong size", e->name);
        double rel = test_rel_to_scale(g.params_memory + e->offset, w->data, e->count);
        if (rel > worst) worst = rel, worst_name = e->name;
    }
    TEST_CHECK(worst <= 1e-3, "whole DiT gradients match PyTorch autograd per tensor (rel to scale <= 1e-3)",
               "worst %s: %.3g", worst_name, worst);
    st_free(&want);
    dit_tensor_table_free(&table);
    npy_free(&x), npy_free(&t), npy_free(&yv), npy_free(&R);
    dit_grads_free(&g);
    dit_free(&m);
}

int main(void) {
    prng_seed(&rng, 42);
    test_linear();
    test_layernorm();
    test_modulate_and_gate();
    test_activations();
    test_attention();
    test_patch_backward();
    test_whole_model_fd();
    test_module_grad_hook();
    test_against_pytorch();
    return test_finish();
}
