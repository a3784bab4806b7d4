// The sampling loop against PyTorch (tests/ref/gen_sampler_golden.py: the
// official loop with the doubled CFG batch stepped whole), the noise rules
// (given-noise stream slices, per-sample seeds), determinism, chunking,
// callbacks and hook pass-through, and option validation.
#include <math.h>
#include <string.h>

#include "model/io/npy.h"
#include "model/sampler.h"
#include "tests/test.h"
#include "tests/test_io.h"

#define GOLDEN "tests/ref/golden/"

// Builds the sampler golden model "sampler_<name>.safetensors".
static void load_model(DitModel *m, const char *name, int max_batch) {
    char path[256];
    snprintf(path, sizeof path, GOLDEN "sampler_%s.safetensors", name);
    test_load_dit(m, path, max_batch, 0);
}

static void make_diffusion(Diffusion *d, const char *respacing) {
    LzError err;
    CHECK(diffusion_create(d, "linear", 1000, respacing, &err) == 0, "%s", err.msg);
}

// Mirrors CASES of gen_sampler_golden.py.
typedef struct {
    const char *name, *model, *respacing;
    SamplerKind kind;
    float eta;
    int clip;
    float cfg;
    int guide;
    int given;  // 1: initial noise from <name>_z.npy, else per-sample seeds
    uint64_t seed;
} GoldenCase;

static const GoldenCase CASES[] = {
    {"ddim_cfg", "latent", "10", SAMPLER_DDIM, 0.0f, 0, 1.5f, 3, 1, 11},
    {"ddim_eta", "latent", "10", SAMPLER_DDIM, 0.8f, 0, 1.5f, 3, 1, 11},
    {"ddpm_cfg", "latent", "10", SAMPLER_DDPM, 0.0f, 0, 1.5f, 4, 1, 11},
    {"ddpm_seeds", "pixel", "ddim10", SAMPLER_DDPM, 0.0f, 1, 1.0f, 1, 0, 5},
    {"ddim_seeds", "pixel", "12", SAMPLER_DDIM, 0.5f, 1, 2.0f, 1, 0, 5},
};

static void read_labels(const char *name, int *y, long *n) {
    char path[256];
    snprintf(path, sizeof path, GOLDEN "sampler_%s_y.npy", name);
    NpyArray a;
    LzError err;
    CHECK(npy_read_i64(path, &a, &err) == 0, "%s", err.msg);
    *n = a.count;
    for (long i = 0; i < a.count; i++) y[i] = (int)((long long *)a.data)[i];
    npy_free(&a);
}

static SamplerOptions case_options(const GoldenCase *gc, const DitModel *m, int batch) {
    SamplerOptions o = sampler_default_options(&m->cfg, batch);
    o.kind = gc->kind;
    o.eta = gc->eta;
    o.clip_denoised = gc->clip;
    o.cfg_scale = gc->cfg;
    o.guide_channels = gc->guide;
    o.seed = gc->seed;
    return o;
}

// Runs a golden case with the given chunk size into out; returns the sample count.
static long run_case(const GoldenCase *gc, int batch, float *out) {
    DitModel m;
    load_model(&m, gc->model, 2 * batch);
    Diffusion d;
    make_diffusion(&d, gc->respacing);
    int y[16];
    long n;
    read_labels(gc->name, y, &n);
    NpyArray z = {0};
    if (gc->given) {
        char path[256];
        snprintf(path, sizeof path, GOLDEN "sampler_%s_z.npy", gc->name);
        z = test_load_f32(path);
    }
    SamplerOptions o = case_options(gc, &m, batch);
    Sampler s;
    LzError err;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    CHECK(sampler_run(&s, out, y, n, gc->given ? z.data : NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    sampler_free(&s);
    if (gc->given) npy_free(&z);
    diffusion_free(&d);
    dit_free(&m);
    return n;
}

static void test_goldens(void) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const GoldenCase *gc = &CASES[k];
        char path[256], label[200];
        snprintf(path, sizeof path, GOLDEN "sampler_%s_out.npy", gc->name);
        NpyArray want = test_load_f32(path);
        float *got = lz_malloc(sizeof(float) * want.count, "samples");
        long n = run_case(gc, 3, got);
        CHECK(n * (want.count / n) == want.count, "golden size");
        double rel = test_rel_to_scale(got, want.data, want.count);
        snprintf(label, sizeof label, "%s: whole loop matches PyTorch (rel err to scale <= 1e-3)", gc->name);
        TEST_CHECK(rel <= 1e-3, label, "relative error %.3g", rel);
        printf("# %s: relative error to scale %.3g\n", gc->name, rel);
        // Chunking must not change the result: one sample per chunk.
        float *one = lz_malloc(sizeof(float) * want.count, "samples");
        run_case(gc, 1, one);
        double rel1 = test_rel_to_scale(one, got, want.count);
        int bitwise = !memcmp(one, got, sizeof(float) * want.count);
        snprintf(label, sizeof label, "%s: batch 1 equals batch 3 (rel <= 1e-5)", gc->name);
        TEST_CHECK(rel1 <= 1e-5, label, "relative difference %.3g", rel1);
        printf("# %s: batch 1 vs 3 relative difference %.3g (%s)\n", gc->name, rel1,
               bitwise ? "bit-identical" : "not bit-identical");
        free(one);
        free(got);
        npy_free(&want);
    }
}

// Same seed twice: bit-identical (nothing in the loop depends on time or
// allocation addresses; OpenBLAS on a fixed thread count is deterministic).
static void test_repeatable(void) {
    const GoldenCase *gc = &CASES[4];
    float a[3 * 64], b[3 * 64];
    run_case(gc, 3, a);
    run_case(gc, 3, b);
    TEST_CHECK(!memcmp(a, b, sizeof a), "same seed twice gives bit-identical samples", "outputs differ");
}

// Per-sample seeds with N = 7 in chunks of 1, 3 (3 + 3 + 1) and 7: the initial
// noise of every sample is the same and the samples agree.
typedef struct {
    float *x0;  // (N, C, H, W) x_T seen at the first BEGIN of each chunk
    long img;
    int begins, ends, bad_order;
    int last_step;
} Probe;

static void probe_cb(void *ctx, const SamplerStep *s) {
    Probe *p = ctx;
    if (s->phase == SAMPLER_STEP_BEGIN) {
        if (s->step == 0) memcpy(p->x0 + s->first_sample * p->img, s->x, sizeof(float) * s->rows * p->img);
        if (s->step != (s->step == 0 ? 0 : p->last_step + 1) || s->t != s->num_steps - 1 - s->step ||
            s->model_out != NULL)
            p->bad_order++;
        p->begins++;
    } else {
        if (s->step != p->last_step && s->step != 0) p->bad_order++;
        if (!s->model_out) p->bad_order++;
        p->ends++;
    }
    p->last_step = s->step;
}

static void test_batch_independence(void) {
    DitModel m;
    load_model(&m, "latent", 14);
    Diffusion d;
    make_diffusion(&d, "6");
    enum { N = 7 };
    long img = 4 * 64;
    int y[N] = {0, 1, 2, 3, 4, 5, 9};
    static float out[3][N * 256], x0[3][N * 256];
    int batches[3] = {1, 3, 7};
    Probe probes[3];
    for (int k = 0; k < 3; k++) {
        SamplerOptions o = sampler_default_options(&m.cfg, batches[k]);
        o.kind = SAMPLER_DDIM;
        o.eta = 1.0f;  // per-sample step noise is used too
        o.seed = 1234;
        Sampler s;
        LzError err;
        CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
        probes[k] = (Probe){x0[k], img, 0, 0, 0, 0};
        CHECK(sampler_run(&s, out[k], y, N, NULL, NULL, probe_cb, &probes[k], &err) == 0, "%s", err.msg);
        sampler_free(&s);
    }
    float want0[N * 256];
    sampler_sample_noise(want0, 1234, 0, N, img);
    for (int k = 0; k < 3; k++) {
        char label[160];
        snprintf(label, sizeof label, "per-sample seeds, batch %d: initial noise is rng_sample_seed's", batches[k]);
        TEST_CHECK(!memcmp(x0[k], want0, sizeof want0), label, "x_T differs");
        int chunks = (N + batches[k] - 1) / batches[k];
        snprintf(label, sizeof label, "batch %d: callback BEGIN/END once per step per chunk, in order", batches[k]);
        TEST_CHECK(probes[k].begins == chunks * 6 && probes[k].ends == chunks * 6 && !probes[k].bad_order, label,
                   "begins %d ends %d (want %d) out of order %d", probes[k].begins, probes[k].ends, chunks * 6,
                   probes[k].bad_order);
    }
    for (int k = 0; k < 2; k++) {
        double rel = test_rel_to_scale(out[k], out[2], N * img);
        int bitwise = !memcmp(out[k], out[2], sizeof out[2]);
        char label[160];
        snprintf(label, sizeof label, "per-sample seeds: batch %d equals batch %d (rel <= 1e-5)", batches[k], N);
        TEST_CHECK(rel <= 1e-5, label, "relative difference %.3g", rel);
        printf("# batch %d vs %d: relative difference %.3g (%s)\n", batches[k], N, rel,
               bitwise ? "bit-identical" : "not bit-identical");
    }
    // Samples 0..2 of a 3-sample run equal the first three of the 7-sample run.
    static float part[3 * 256];
    SamplerOptions o = sampler_default_options(&m.cfg, 2);
    o.eta = 1.0f;
    o.seed = 1234;
    Sampler s;
    LzError err;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    CHECK(sampler_run(&s, part, y, 3, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    double rel = test_rel_to_scale(part, out[2], 3 * img);
    TEST_CHECK(rel <= 1e-5, "per-sample seeds: a 3-sample run equals the first 3 of a 7-sample run", "rel %.3g", rel);
    sampler_free(&s);
    diffusion_free(&d);
    dit_free(&m);
}

// sampler_randn_slice against whole torch.randn(n) draws: every slice of
// several sizes (scalar path, exact blocks, tails), and the generator state
// afterwards (the next draw matches).
static void test_randn_slice(void) {
    long sizes[] = {5, 16, 17, 40, 64, 100};
    int bad = 0, cases = 0;
    float full[128], next_full[32], got[128], next_got[32], scratch[160];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long n = sizes[k];
        for (long a = 0; a <= n; a += (n > 20 ? 3 : 1))
            for (long len = 0; a + len <= n; len += (n > 20 ? 5 : 1)) {
                TorchRng g1, g2;
                rng_seed(&g1, 77);
                rng_seed(&g2, 77);
                // A scalar draw first leaves a cached normal behind: the slice
                // must leave it for the next scalar draw exactly like torch.
                rng_randn(&g1, full, 3);
                rng_randn(&g2, full, 3);
                rng_randn(&g1, full, n);
                rng_randn(&g1, next_full, 5);
                memset(got, 0, sizeof got);
                sampler_randn_slice(&g2, got, n, a, len, scratch);
                rng_randn(&g2, next_got, 5);
                if (memcmp(got, full + a, sizeof(float) * len) || memcmp(next_full, next_got, sizeof(float) * 5)) bad++;
                cases++;
            }
    }
    TEST_CHECK(!bad, "randn slices equal the slices of the whole draw and advance the generator alike",
               "%d of %d slices wrong", bad, cases);
}

// Given-noise stream with guidance: chunk b reads rows [i0, i0+rows) of each
// step's randn(2N, C, H, W). Checked through the results: N = 5 in chunks of
// 2 and of 5 with eta 1 (the ddim_eta golden covers the rule itself).
static void test_given_noise_chunks(void) {
    DitModel m;
    load_model(&m, "latent", 10);
    Diffusion d;
    make_diffusion(&d, "5");
    enum { N = 5 };
    long img = 256;
    static float z[N * 256], a[N * 256], b[N * 256];
    TorchRng g;
    rng_seed(&g, 3);
    rng_randn(&g, z, N * img);
    int y[N] = {3, 1, 4, 1, 5};
    float *outs[2] = {a, b};
    int batches[2] = {2, 5};
    for (int k = 0; k < 2; k++) {
        SamplerOptions o = sampler_default_options(&m.cfg, batches[k]);
        o.kind = SAMPLER_DDPM;
        o.seed = 3;
        Sampler s;
        LzError err;
        CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
        CHECK(sampler_run(&s, outs[k], y, N, z, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
        sampler_free(&s);
    }
    double rel = test_rel_to_scale(a, b, N * img);
    TEST_CHECK(rel <= 1e-5, "given noise, DDPM: chunks of 2 equal one chunk of 5", "relative difference %.3g", rel);
    diffusion_free(&d);
    dit_free(&m);
}

// Hooks reach every model call: decide runs per (layer, module) per step, on
// the doubled batch under guidance.
typedef struct {
    int calls, bad_rows;
    int want_rows;
} HookCount;
static void count_decide(void *ctx, DitModuleView *v) {
    HookCount *h = ctx;
    h->calls++;
    if (v->B != h->want_rows) h->bad_rows++;
}

static void test_hooks(void) {
    DitModel m;
    load_model(&m, "latent", 4);
    Diffusion d;
    make_diffusion(&d, "4");
    SamplerOptions o = sampler_default_options(&m.cfg, 2);
    Sampler s;
    LzError err;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    HookCount h = {0, 0, 4};
    DitHooks hooks = {.ctx = &h, .decide = count_decide};
    float out[2 * 256];
    int y[2] = {1, 2};
    CHECK(sampler_run(&s, out, y, 2, NULL, &hooks, NULL, NULL, &err) == 0, "%s", err.msg);
    TEST_CHECK(h.calls == 4 * 2 * m.cfg.depth && !h.bad_rows, "hooks see every module of every step (CFG rows)",
               "%d calls (want %d), %d with the wrong batch", h.calls, 4 * 2 * m.cfg.depth, h.bad_rows);
    sampler_free(&s);
    diffusion_free(&d);
    dit_free(&m);
}

static void test_errors(void) {
    DitModel m;
    load_model(&m, "latent", 4);
    Diffusion d;
    make_diffusion(&d, "4");
    LzError err;
    Sampler s;
    SamplerOptions o = sampler_default_options(&m.cfg, 3);  // 6 model rows > 4
    TEST_CHECK(sampler_init(&s, &m, &d, &o, &err) != 0 && strstr(err.msg, "model rows"),
               "batch beyond the model's capacity is an error", "%s", err.msg);
    o = sampler_default_options(&m.cfg, 2);
    o.kind = SAMPLER_DDPM;
    o.var = DIFF_VAR_FIXED_LARGE;
    TEST_CHECK(sampler_init(&s, &m, &d, &o, &err) != 0 && strstr(err.msg, "learn_sigma"),
               "fixed variance on a learn_sigma model is an error", "%s", err.msg);
    o = sampler_default_options(&m.cfg, 2);
    o.eta = -1;
    TEST_CHECK(sampler_init(&s, &m, &d, &o, &err) != 0, "negative eta is an error", "%s", err.msg);
    o = sampler_default_options(&m.cfg, 2);
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    TEST_CHECK(s.guide_channels == 3, "default guidance: 3 channels on a 4-channel model", "got %d", s.guide_channels);
    float out[2 * 256];
    int y[2] = {1, 10};
    TEST_CHECK(sampler_run(&s, out, y, 2, NULL, NULL, NULL, NULL, &err) != 0 && strstr(err.msg, "label 10"),
               "label == num_classes is an error", "%s", err.msg);
    TEST_CHECK(sampler_run(&s, out, y, 0, NULL, NULL, NULL, NULL, &err) != 0, "N = 0 is an error", "%s", err.msg);
    sampler_free(&s);
    diffusion_free(&d);
    dit_free(&m);
}

int main(void) {
    test_randn_slice();
    test_goldens();
    test_repeatable();
    test_batch_independence();
    test_given_noise_chunks();
    test_hooks();
    test_errors();
    return test_finish();
}
