// The C DiT against the PyTorch reference (tests/ref/gen_dit_golden.py), plus
// unit tests of every embedding and patch order, the kernels against naive
// oracles, the skip-rows protocol and the MAC counter.
#include <math.h>
#include <string.h>

#include "model/dit.h"
#include "model/kernels.h"
#include "model/io/npy.h"
#include "model/base/prng.h"
#include "tests/test.h"
#include "tests/test_io.h"

#define GOLDEN "tests/ref/golden/"


static void labels_from(const char *path, int *y, long n) {
    NpyArray a;
    LzError err;
    CHECK(npy_read_i64(path, &a, &err) == 0, "%s", err.msg);
    CHECK(a.count == n, "%s: %ld labels, expected %ld", path, a.count, n);
    for (long i = 0; i < n; i++) y[i] = (int)((long long *)a.data)[i];
    npy_free(&a);
}

static void test_golden_case(const char *name, int ncfg, const int *cfg_channels, const float *cfg_scales) {
    char path[256];
    DitModel m;
    snprintf(path, sizeof path, GOLDEN "%s.safetensors", name);
    test_load_dit(&m, path, 8, 0);
    snprintf(path, sizeof path, GOLDEN "%s_x.npy", name);
    NpyArray x = test_load_f32(path);
    snprintf(path, sizeof path, GOLDEN "%s_t.npy", name);
    NpyArray t = test_load_f32(path);
    snprintf(path, sizeof path, GOLDEN "%s_out.npy", name);
    NpyArray want = test_load_f32(path);
    int B = (int)x.shape[0], y[8];
    snprintf(path, sizeof path, GOLDEN "%s_y.npy", name);
    labels_from(path, y, B);
    dit_forward(&m, x.data, t.data, y, B, NULL, NULL);
    double rel = test_rel_to_scale(m.acts.out, want.data, want.count);
    char label[128];
    snprintf(label, sizeof label, "%s forward matches PyTorch (rel err to scale <= 1e-4)", name);
    TEST_CHECK(rel <= 1e-4, label, "relative error %.3g", rel);

    // Same model in training mode (all layers kept) gives the same output.
    DitModel mt;
    float *copy = lz_malloc(sizeof(float) * dit_param_count(&m.cfg), "param copy");
    memcpy(copy, m.params_memory, sizeof(float) * dit_param_count(&m.cfg));
    dit_build(&mt, &m.cfg, copy, B, 1);
    dit_forward(&mt, x.data, t.data, y, B, NULL, NULL);
    snprintf(label, sizeof label, "%s training-mode forward equals inference-mode forward", name);
    test_close(label, mt.acts.out, m.acts.out, want.count, 0, 0);
    dit_free(&mt);

    for (int k = 0; k < ncfg; k++) {
        snprintf(path, sizeof path, GOLDEN "%s_cfgy.npy", name);
        int ycfg[8];
        int Bc = B / 2 * 2;
        labels_from(path, ycfg, Bc);
        snprintf(path, sizeof path, GOLDEN "%s_cfg%d_out.npy", name, cfg_channels[k]);
        NpyArray wc = test_load_f32(path);
        const float *o = dit_forward_cfg(&m, x.data, t.data, ycfg, Bc, cfg_scales[k], cfg_channels[k], NULL, NULL);
        rel = test_rel_to_scale(o, wc.data, wc.count);
        snprintf(label, sizeof label, "%s forward_with_cfg (scale %.1f, %d guided channels) matches PyTorch", name,
                 cfg_scales[k], cfg_channels[k]);
        TEST_CHECK(rel <= 1e-4, label, "relative error %.3g", rel);
        npy_free(&wc);
    }
    npy_free(&x);
    npy_free(&t);
    npy_free(&want);
    dit_free(&m);
}

static void test_embeddings(void) {
    NpyArray t = test_load_f32(GOLDEN "tfreq_t.npy"), want = test_load_f32(GOLDEN "tfreq.npy");
    float out[5 * 256];
    timestep_embedding(out, t.data, (int)t.count, 256);
    // The arguments t * f_i are float32 products as upstream, but torch's
    // vectorised exp may round f_i one ulp differently from libm's expf, which
    // moves the argument by up to |t| * 2^-23 (3e-5 at t = 999) and cos/sin by
    // as much. So each row gets atol 1e-6 + 1.5 |t| 2^-23: exact frequencies and
    // order are still pinned down (a swapped half or a wrong frequency is O(1)).
    for (long r = 0; r < t.count; r++) {
        float tr = ((float *)t.data)[r];
        char label[128];
        snprintf(label, sizeof label, "timestep embedding at t=%g: [cos, sin] order, float32 frequencies", tr);
        test_close(label, out + r * 256, (float *)want.data + r * 256, 256, 0, 1e-6 + 1.5 * fabs(tr) * 0x1p-23);
    }
    npy_free(&t);
    npy_free(&want);

    NpyArray pe = test_load_f32(GOLDEN "pos_embed_16x4.npy");
    float mine[16 * 16];
    dit_pos_embed_sincos(mine, 16, 4);
    test_close("2-D sin-cos pos_embed (w first, [sin, cos] halves) matches the numpy formula", mine, pe.data,
               pe.count, 0, 1e-6);
    // Spot-check the layout by hand: token (row i=1, col j=2), D = 16, quarter 4.
    // channel 0 = sin(j * 1) (w coordinate), channel 8 = sin(i * 1) (h coordinate).
    float tok = mine[(1 * 4 + 2) * 16 + 0], tok_h = mine[(1 * 4 + 2) * 16 + 8], tok_c = mine[(1 * 4 + 2) * 16 + 4];
    TEST_CHECK(fabsf(tok - sinf(2.0f)) < 1e-6 && fabsf(tok_h - sinf(1.0f)) < 1e-6 && fabsf(tok_c - cosf(2.0f)) < 1e-6,
               "pos_embed: first half encodes the column, second half the row", "got %g %g %g", tok, tok_h, tok_c);
    npy_free(&pe);
}

static void test_patch_orders(void) {
    // Image (B=1, C=2, H=4, W=4) with value = c*100 + h*10 + w, patch 2.
    enum { C = 2, S = 4, P = 2 };
    float img[C * S * S], patches[4 * C * P * P], back[C * S * S];
    for (int c = 0; c < C; c++)
        for (int h = 0; h < S; h++)
            for (int w = 0; w < S; w++) img[(c * S + h) * S + w] = c * 100 + h * 10 + w;
    patchify(patches, img, 1, C, S, S, P);
    // token 1 is grid (row 0, col 1); its vector is (c, i, j): element (c=1, i=1, j=0) -> 1*4 + 1*2 + 0 = 6
    float got = patches[1 * C * P * P + 6];
    TEST_CHECK(got == 100 + 1 * 10 + 2, "patchify: token order row-major over the grid, vector order (c, i, j)",
               "got %g want 112", got);
    // unpatchify reads (p, q, c): build tokens whose element (i, j, c) = 1000 t + 100 c + 10 i + j
    float tokens[4 * P * P * C], out[C * S * S];
    for (int tk = 0; tk < 4; tk++)
        for (int i = 0; i < P; i++)
            for (int j = 0; j < P; j++)
                for (int c = 0; c < C; c++) tokens[tk * P * P * C + (i * P + j) * C + c] = 1000 * tk + 100 * c + 10 * i + j;
    unpatchify(out, tokens, 1, C, S, S, P);
    // pixel (c=1, h=3, w=2) is token (1, 1) = 3, i = 1, j = 0
    got = out[(1 * S + 3) * S + 2];
    TEST_CHECK(got == 3000 + 100 + 10, "unpatchify: token element order (p, q, c)", "got %g want 3110", got);
    // patchify followed by a (c,i,j)->(i,j,c) permutation then unpatchify is the identity
    float perm[4 * C * P * P];
    for (int tk = 0; tk < 4; tk++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < P; i++)
                for (int j = 0; j < P; j++)
                    perm[tk * C * P * P + (i * P + j) * C + c] = patches[tk * C * P * P + (c * P + i) * P + j];
    unpatchify(back, perm, 1, C, S, S, P);
    test_close("patchify and unpatchify are inverse up to the (c,i,j)/(i,j,c) order", back, img, C * S * S, 0, 0);
}

static void test_kernels_vs_naive(void) {
    Prng g;
    prng_seed(&g, 7);
    enum { N = 13, IC = 37, OC = 29 };
    float in[N * IC], w[OC * IC], b[OC], o1[N * OC], o2[N * OC];
    for (int i = 0; i < N * IC; i++) in[i] = (float)prng_normal(&g);
    for (int i = 0; i < OC * IC; i++) w[i] = (float)prng_normal(&g);
    for (int i = 0; i < OC; i++) b[i] = (float)prng_normal(&g);
    linear_forward(o1, in, w, b, N, IC, OC);
    linear_forward_naive(o2, in, w, b, N, IC, OC);
    test_close("linear (sgemm) equals the naive double-sum oracle", o1, o2, N * OC, 1e-5, 1e-5);

    enum { B = 2, T = 7, D = 30, H = 3 };
    float qkv[B * T * 3 * D], a1[B * T * D], a2[B * T * D], att[B * H * T * T];
    for (int i = 0; i < B * T * 3 * D; i++) qkv[i] = (float)prng_normal(&g);
    attention_forward(a1, att, qkv, B, T, D, H);
    attention_forward_naive(a2, qkv, B, T, D, H);
    test_close("attention (strided sgemm, head size 10) equals the naive oracle", a1, a2, B * T * D, 1e-5, 1e-5);
}

// Hooks that skip odd rows and fill them from a reference run: the output must
// equal the full computation exactly (kept rows computed as a smaller batch).
typedef struct {
    const DitModel *ref;  // training-mode model holding every layer of a full run
    int calls;
} SkipCtx;

static void skip_odd(void *ctx, DitModuleView *v) {
    (void)ctx;
    for (int b = 0; b < v->B; b++) v->skip[b] = (unsigned char)(b % 2);
}

static void fill_from_ref(void *vctx, DitModuleView *v) {
    SkipCtx *ctx = vctx;
    const DitModel *r = ctx->ref;
    long row = (long)v->T * v->D, BTD = (long)r->max_batch * row;
    const float *src = (v->module == DIT_ATTN ? r->acts.y1 : r->acts.y2) + (long)v->layer * BTD;
    for (int b = 0; b < v->B; b++)
        if (v->skip[b]) memcpy(v->y + b * row, src + b * row, sizeof(float) * row);
    ctx->calls++;
}

static void test_skip_rows(void) {
    DitModel m, ref;
    test_load_dit(&m, GOLDEN "dit_a.safetensors", 8, 0);
    float *copy = lz_malloc(sizeof(float) * dit_param_count(&m.cfg), "param copy");
    memcpy(copy, m.params_memory, sizeof(float) * dit_param_count(&m.cfg));
    dit_build(&ref, &m.cfg, copy, 4, 1);
    NpyArray x = test_load_f32(GOLDEN "dit_a_x.npy"), t = test_load_f32(GOLDEN "dit_a_t.npy");
    int y[4] = {1, 2, 3, 10};
    dit_forward(&ref, x.data, t.data, y, 4, NULL, NULL);
    SkipCtx ctx = {&ref, 0};
    DitHooks hooks = {.ctx = &ctx, .decide = skip_odd, .fill = fill_from_ref};
    dit_forward(&m, x.data, t.data, y, 4, NULL, &hooks);
    long n = 4L * dit_out_channels(&m.cfg) * m.cfg.input_size * m.cfg.input_size;
    test_close("mixed batch: skipped rows filled from cache, kept rows run as a sub-batch, output unchanged",
               m.acts.out, ref.acts.out, n, 1e-6, 1e-6);
    TEST_CHECK(ctx.calls == 2 * m.cfg.depth, "fill hook runs once per module and block", "%d calls", ctx.calls);
    npy_free(&x);
    npy_free(&t);
    dit_free(&m);
    dit_free(&ref);
}

static void test_macs(void) {
    DitConfig c = {.input_size = 32, .in_channels = 4, .num_classes = 1000, .learn_sigma = 1};
    CHECK(dit_config_named(&c, "DiT-XL/2", NULL) == 0, "named config");
    DitMacs m = dit_macs(&c);
    TEST_CHECK(fabs(m.total / 1e9 - 118.6) < 0.1, "DiT-XL/2 256x256: 118.6 GMACs per image (all matmuls)",
               "got %.3f G", m.total / 1e9);
    TEST_CHECK(fabs(m.linear / 1e9 - 114.4) < 0.1, "DiT-XL/2 256x256: 114.4 GMACs per image (linear and conv)",
               "got %.3f G", m.linear / 1e9);
    TEST_CHECK(fabs(50 * m.linear / 1e12 - 5.72) < 0.01, "DiT-XL/2 50 steps = 5.72 TMACs (LazyDiT's convention)",
               "got %.4f T", 50 * m.linear / 1e12);
    // Parameter count printed by the official train.py for DiT-XL/2: 675,129,632.
    TEST_CHECK(dit_param_count(&c) == 675129632L, "DiT-XL/2 parameter count equals the official 675,129,632",
               "got %ld", dit_param_count(&c));
    DitConfig s = {.input_size = 32, .in_channels = 4, .num_classes = 1000, .learn_sigma = 1};
    dit_config_named(&s, "DiT-S/2", NULL);
    TEST_CHECK(fabs(dit_macs(&s).total / 1e9 - 6.06) < 0.05, "DiT-S/2 256x256: 6.06 GMACs (DiT paper table 1)",
               "got %.3f G", dit_macs(&s).total / 1e9);
}

static void test_init(void) {
    DitConfig c = {.input_size = 8, .in_channels = 4, .num_classes = 10, .learn_sigma = 1};
    dit_config_named(&c, "DiT-S/4", NULL);
    c.depth = 2;
    float *p = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_official(p, &c, 1);
    DitModel m;
    dit_build(&m, &c, p, 2, 0);
    float x[2 * 4 * 64], t[2] = {10, 500};
    int y[2] = {3, 10};
    Prng g;
    prng_seed(&g, 3);
    for (int i = 0; i < 2 * 4 * 64; i++) x[i] = (float)prng_normal(&g);
    dit_forward(&m, x, t, y, 2, NULL, NULL);
    double maxabs = 0;
    for (int i = 0; i < 2 * 8 * 64; i++) maxabs = fmax(maxabs, fabs(m.acts.out[i]));
    TEST_CHECK(maxabs == 0.0, "official initialisation: a fresh model outputs exactly zero", "max |out| = %g", maxabs);
    dit_free(&m);
}

int main(void) {
    int cfg_a_channels[2] = {3, 4};
    float cfg_a_scales[2] = {1.5f, 4.0f};
    int cfg_c_channels[1] = {1};
    float cfg_c_scales[1] = {1.5f};
    test_golden_case("dit_a", 2, cfg_a_channels, cfg_a_scales);
    test_golden_case("dit_b", 0, NULL, NULL);
    test_golden_case("dit_c", 1, cfg_c_channels, cfg_c_scales);
    test_embeddings();
    test_patch_orders();
    test_kernels_vs_naive();
    test_skip_rows();
    test_macs();
    test_init();
    return test_finish();
}
