// The learned lazy policies in the sampler: whole lazy sampling loops against
// PyTorch (tests/ref/gen_lazy_golden.py: the official loop plus the lazy rule,
// random gates with a mix of decisions), the reported reuse counts against
// the reference's, mixed-decision batches against rows run alone, zero gates
// bit-identical to plain DDIM, the threshold option, and gate-file errors
// (one line naming the mismatch).
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "model/base/sha256.h"
#include "model/io/atomic_file.h"
#include "model/io/safetensors.h"
#include "model/lazy/gates.h"
#include "model/sampler.h"
#include "tests/golden_json.h"
#include "tests/test.h"
#include "tests/test_io.h"

#define GOLDEN "tests/ref/golden/"
#define MODEL GOLDEN "sampler_latent.safetensors"

static uint8_t model_sha[SHA256_BYTES];

typedef struct {
    long reused_attn, reused_mlp, slots;
    LazySummary sum;
} RunInfo;

// Samples n images with the given policy (NULL = none) from noise z, chunk
// size `batch`; returns 0 or -1 with err (policy init errors).
static int run(const char *policy, const PolicyArg *args, int nargs, const char *respacing, float cfg,
               const float *z, const int *y, long n, int batch, float *out, RunInfo *info, LzError *err) {
    DitModel m;
    test_load_dit(&m, MODEL, 2 * batch, 0);
    Diffusion d;
    CHECK(diffusion_create(&d, "linear", 1000, respacing, err) == 0, "%s", err->msg);
    Policy pol;
    int rc = -1, have_pol = 0;
    long ts[64];
    for (int s = 0; s < d.num_steps; s++) ts[s] = d.timestep_map[d.num_steps - 1 - s];
    if (policy) {
        if (policy_create(&pol, policy, NULL, args, nargs, err)) goto done;
        have_pol = 1;
        PolicyEnv env = {&m.cfg, d.num_steps, ts, respacing, cfg != 1.0f ? 2 * batch : batch, model_sha, 0};
        if (policy_init(&pol, &env, err)) goto done;
    }
    SamplerOptions o = sampler_default_options(&m.cfg, batch);
    o.cfg_scale = cfg;
    o.policy = policy ? &pol : NULL;
    Sampler s;
    CHECK(sampler_init(&s, &m, &d, &o, err) == 0, "%s", err->msg);
    CHECK(sampler_run(&s, out, y, n, z, NULL, NULL, NULL, err) == 0, "%s", err->msg);
    if (info) {
        const LazyAccount *a = sampler_account(&s);
        info->reused_attn = info->reused_mlp = info->slots = 0;
        for (int st = 0; st < a->K; st++)
            for (int l = 0; l < a->L; l++)
                for (int mm = 0; mm < 2; mm++) {
                    long i = lazy_account_index(a, st, l, mm);
                    info->slots += a->slots[i];
                    if (mm == 0) info->reused_attn += a->reused[i];
                    else info->reused_mlp += a->reused[i];
                }
        info->sum = lazy_account_summary(a);
    }
    sampler_free(&s);
    rc = 0;
done:
    if (have_pol) policy_free(&pol);
    diffusion_free(&d);
    dit_free(&m);
    return rc;
}

typedef struct {
    const char *name, *policy, *respacing;
    float cfg;
} Case;

// Mirrors CASES of gen_lazy_golden.py.
static const Case CASES[] = {
    {"lazydit_cfg", "lazydit", "10", 1.5f},
    {"lazydit_plain", "lazydit", "ddim8", 1.0f},
    {"l2c_cfg", "l2c", "10", 1.5f},
};

static void test_goldens(void) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const Case *c = &CASES[k];
        char path[256], gates[256], label[256];
        snprintf(path, sizeof path, GOLDEN "lazy_%s.json", c->name);
        char *text = golden_read_text(path);
        cJSON *doc = cJSON_Parse(text);
        CHECK(doc, "%s: invalid JSON", path);
        const cJSON *lab = golden_field(path, doc, "labels");
        int y[16];
        long n = cJSON_GetArraySize(lab);
        for (long i = 0; i < n; i++) y[i] = cJSON_GetArrayItem(lab, (int)i)->valueint;
        snprintf(gates, sizeof gates, GOLDEN "lazy_%s_gates.safetensors", c->name);
        snprintf(path, sizeof path, GOLDEN "lazy_%s_z.npy", c->name);
        NpyArray z = test_load_f32(path);
        snprintf(path, sizeof path, GOLDEN "lazy_%s_out.npy", c->name);
        NpyArray want = test_load_f32(path);
        PolicyArg a = {strcmp(c->policy, "l2c") ? "gates" : "router", gates};
        float *got = lz_malloc(sizeof(float) * want.count, "samples"), *one = lz_malloc(sizeof(float) * want.count, "samples");
        RunInfo info, info1;
        LzError err;
        CHECK(run(c->policy, &a, 1, c->respacing, c->cfg, z.data, y, n, (int)n, got, &info, &err) == 0, "%s", err.msg);
        double rel = test_rel_to_scale(got, want.data, want.count);
        snprintf(label, sizeof label, "%s: lazy sampling loop matches PyTorch (rel err to scale <= 1e-3)", c->name);
        TEST_CHECK(rel <= 1e-3, label, "relative error %.3g", rel);
        long ra = (long)golden_num(path, doc, "reused_attn"), rm = (long)golden_num(path, doc, "reused_mlp");
        long slots = (long)golden_num(path, doc, "slots");
        snprintf(label, sizeof label, "%s: reused slots equal the reference's decisions (attn %ld, mlp %ld of %ld)",
                 c->name, ra, rm, slots);
        TEST_CHECK(info.reused_attn == ra && info.reused_mlp == rm && info.slots == slots, label,
                   "got attn %ld mlp %ld of %ld", info.reused_attn, info.reused_mlp, info.slots);
        double want_ratio = (double)(ra + rm) / slots;
        snprintf(label, sizeof label, "%s: reported lazy ratio %.4f is the reuse count over the slots", c->name,
                 want_ratio);
        TEST_CHECK(fabs(info.sum.lazy_ratio - want_ratio) < 1e-12, label, "summary says %.6f", info.sum.lazy_ratio);
        // One sample per chunk: each row decides alone and must get the same result.
        CHECK(run(c->policy, &a, 1, c->respacing, c->cfg, z.data, y, n, 1, one, &info1, &err) == 0, "%s", err.msg);
        double rel1 = test_rel_to_scale(one, got, want.count);
        snprintf(label, sizeof label, "%s: rows run alone equal the mixed-decision batch (rel <= 1e-5, same reuses)",
                 c->name);
        TEST_CHECK(rel1 <= 1e-5 && info1.reused_attn == ra && info1.reused_mlp == rm, label,
                   "relative difference %.3g, reuses %ld/%ld", rel1, info1.reused_attn, info1.reused_mlp);
        printf("# %s: rel err %.3g vs PyTorch, %.3g batch 1 vs %ld; lazy ratio %.4f\n", c->name, rel, rel1, n,
               info.sum.lazy_ratio);
        free(got), free(one);
        npy_free(&z), npy_free(&want);
        cJSON_Delete(doc);
        free(text);
    }
}

// Writes a gate/router file of zeros (or copies of `fill`) for the golden model.
static void write_gates(const char *path, GateKind kind, int S, const char *respacing, int L, int D, float fill,
                        const char *sha_hex) {
    GateFile g;
    gates_alloc(&g, kind, S, L, D);
    for (long i = 0; i < 2L * S * L * D; i++) g.w[i] = fill;
    snprintf(g.respacing, sizeof g.respacing, "%s", respacing);
    snprintf(g.model_sha256, sizeof g.model_sha256, "%s", sha_hex);
    LzError err;
    CHECK(gates_write(&g, path, &err) == 0, "%s", err.msg);
    gates_free(&g);
}

static char tmpdir[256];

static void test_zero_gates(void) {
    char hex[SHA256_HEX_LEN], path[300];
    sha256_hex(model_sha, hex);
    NpyArray z = test_load_f32(GOLDEN "lazy_lazydit_cfg_z.npy");
    int y[3] = {1, 7, 3};
    long n = 3, count = z.count;
    float *plain = lz_malloc(sizeof(float) * count, "x"), *lazy = lz_malloc(sizeof(float) * count, "x");
    LzError err;
    CHECK(run(NULL, NULL, 0, "10", 1.5f, z.data, y, n, 3, plain, NULL, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 2; k++) {
        GateKind kind = k ? GATES_L2C : GATES_LAZYDIT;
        snprintf(path, sizeof path, "%s/zero_%d.safetensors", tmpdir, k);
        write_gates(path, kind, 10, "10", 2, k ? 1 : 32, 0.0f, hex);
        PolicyArg a = {k ? "router" : "gates", path};
        RunInfo info;
        CHECK(run(k ? "l2c" : "lazydit", &a, 1, "10", 1.5f, z.data, y, n, 3, lazy, &info, &err) == 0, "%s", err.msg);
        TEST_CHECK(!memcmp(plain, lazy, sizeof(float) * count) && info.reused_attn + info.reused_mlp == 0,
                   k ? "zero router (score 0.5, threshold 0.5): samples bit-identical to plain DDIM, nothing reused"
                     : "zero gates (score 0.5, threshold 0.5): samples bit-identical to plain DDIM, nothing reused",
                   "reused %ld, bitwise %s", info.reused_attn + info.reused_mlp,
                   memcmp(plain, lazy, sizeof(float) * count) ? "different" : "same");
        // --threshold below 0.5 turns the same zero gates lazy everywhere the rules allow.
        PolicyArg a2[2] = {a, {"threshold", "0.25"}};
        CHECK(run(k ? "l2c" : "lazydit", a2, 2, "10", 1.5f, z.data, y, n, 3, lazy, &info, &err) == 0, "%s", err.msg);
        // lazydit: every slot after step 0 (9 of 10 steps); l2c: the 5 router steps 1, 3, ..., 9.
        double want = k ? 0.5 : 0.9;
        TEST_CHECK(fabs(info.sum.lazy_ratio - want) < 1e-12,
                   k ? "router --threshold 0.25 overrides the file's 0.5: the router steps (odd s for K = 10) all reuse"
                     : "gates --threshold 0.25 overrides the file's 0.5: every slot after the first step reuses",
                   "lazy ratio %.6f, want %.6f", info.sum.lazy_ratio, want);
        if (k) continue;
        // --staleness N: at most N consecutive reuses, then a computed step. With every
        // score above the threshold, N = 1 reuses at s = 1, 3, 5, 7, 9 (5 of 10 steps),
        // N = 2 at s = 1, 2, 4, 5, 7, 8 (6 of 10).
        const char *lim[2] = {"1", "2"};
        double want_s[2] = {0.5, 0.6};
        for (int q = 0; q < 2; q++) {
            PolicyArg a3[3] = {a, {"threshold", "0.25"}, {"staleness", lim[q]}};
            CHECK(run("lazydit", a3, 3, "10", 1.5f, z.data, y, n, 3, lazy, &info, &err) == 0, "%s", err.msg);
            char label[160];
            snprintf(label, sizeof label, "gates --staleness %s: no more than %s consecutive reuses (ratio %.1f)", lim[q],
                     lim[q], want_s[q]);
            TEST_CHECK(fabs(info.sum.lazy_ratio - want_s[q]) < 1e-12, label, "lazy ratio %.6f", info.sum.lazy_ratio);
        }
    }
    free(plain), free(lazy);
    npy_free(&z);
}

// policy_init error for a file written with one field changed.
static void expect_error(const char *name, GateKind kind, int S, const char *respacing, int L, int D,
                         const char *sha_hex, const char *run_respacing, const char *want) {
    char path[300];
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    write_gates(path, kind, S, respacing, L, D, 0.0f, sha_hex);
    DitModel m;
    test_load_dit(&m, MODEL, 2, 0);
    Diffusion d;
    LzError err;
    CHECK(diffusion_create(&d, "linear", 1000, run_respacing, &err) == 0, "%s", err.msg);
    long ts[64];
    for (int s = 0; s < d.num_steps; s++) ts[s] = d.timestep_map[d.num_steps - 1 - s];
    Policy pol;
    PolicyArg a = {kind == GATES_L2C ? "router" : "gates", path};
    CHECK(policy_create(&pol, kind == GATES_L2C ? "l2c" : "lazydit", NULL, &a, 1, &err) == 0, "%s", err.msg);
    PolicyEnv env = {&m.cfg, d.num_steps, ts, run_respacing, 2, model_sha, 0};
    int rc = policy_init(&pol, &env, &err);
    char label[300];
    snprintf(label, sizeof label, "%s: one-line error naming the mismatch (\"%s\")", name, want);
    TEST_CHECK(rc != 0 && strstr(err.msg, want) && strstr(err.msg, path) && !strchr(err.msg, '\n'), label, "%s",
               rc ? err.msg : "accepted");
    policy_free(&pol);
    diffusion_free(&d);
    dit_free(&m);
}

static void test_file_errors(void) {
    char hex[SHA256_HEX_LEN], other[SHA256_HEX_LEN];
    sha256_hex(model_sha, hex);
    snprintf(other, sizeof other, "%s", hex);
    other[0] = other[0] == '0' ? '1' : '0';
    expect_error("gates for 20 steps on a 10-step run", GATES_LAZYDIT, 20, "20", 2, 32, hex, "10",
                 "trained for 20 sampling steps, this run has 10");
    expect_error("gates for respacing ddim10 on a '10' run", GATES_LAZYDIT, 10, "ddim10", 2, 32, hex, "10",
                 "respacing 'ddim10', this run uses '10'");
    expect_error("gates for depth 3 on a depth-2 model", GATES_LAZYDIT, 10, "10", 3, 32, hex, "10",
                 "trained for depth 3, the model has 2 blocks");
    expect_error("gates for width 64 on a width-32 model", GATES_LAZYDIT, 10, "10", 2, 64, hex, "10",
                 "hidden size 64, the model has 32");
    expect_error("gates for other weights (sha256)", GATES_LAZYDIT, 10, "10", 2, 32, other, "10",
                 "trained for the model with sha256");
    expect_error("router for 12 steps on a 10-step run", GATES_L2C, 12, "12", 2, 1, hex, "10",
                 "router was trained for 12 sampling steps");
    expect_error("router for depth 4", GATES_L2C, 10, "10", 4, 1, hex, "10", "trained for depth 4");
    expect_error("router for other weights (sha256)", GATES_L2C, 10, "10", 2, 1, other, "10", "sha256");

    // Malformed files: reading names the file and the problem.
    char path[300];
    LzError err;
    GateFile g;
    snprintf(path, sizeof path, "%s/router_as_gates.safetensors", tmpdir);
    write_gates(path, GATES_L2C, 10, "10", 2, 1, 0.0f, hex);
    int rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc && strstr(err.msg, "not a gates file"), "a router file given as --gates is refused", "%s",
               rc ? err.msg : "accepted");
    snprintf(path, sizeof path, "%s/no_mlp.safetensors", tmpdir);
    long shape[3] = {10, 2, 32};
    float w[640] = {0};
    StWriteTensor t[1] = {{"attn", 3, shape, w}};
    const char *k[] = {"steps", "respacing", "model_sha256", "rho_attn", "rho_mlp", "threshold"};
    const char *v[] = {"10", "10", hex, "0", "0", "0.5"};
    CHECK(st_write(path, t, 1, k, v, 6, &err) == 0, "%s", err.msg);
    rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc && strstr(err.msg, "tensor 'mlp' is missing"), "a gate file without 'mlp' is refused", "%s",
               rc ? err.msg : "accepted");
    StWriteTensor t2[2] = {{"attn", 3, shape, w}, {"mlp", 3, shape, w}};
    CHECK(st_write(path, t2, 2, k, v, 5, &err) == 0, "%s", err.msg);
    rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc && strstr(err.msg, "metadata 'threshold' is missing"), "a gate file without a threshold is refused",
               "%s", rc ? err.msg : "accepted");
    const char *v2[] = {"11", "10", hex, "0", "0", "0.5"};
    CHECK(st_write(path, t2, 2, k, v2, 6, &err) == 0, "%s", err.msg);
    rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc && strstr(err.msg, "steps = 11 but the tensors hold 10"), "metadata steps must match the tensors",
               "%s", rc ? err.msg : "accepted");
    // `modules` is optional (files written before it existed mean both) and validated when present.
    const char *k3[] = {"steps", "respacing", "model_sha256", "rho_attn", "rho_mlp", "threshold", "modules"};
    const char *v3[] = {"10", "10", hex, "0", "0", "0.5", "attention"};
    CHECK(st_write(path, t2, 2, k3, v, 6, &err) == 0, "%s", err.msg);
    rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc == 0 && g.modules == LAZY_MOD_BOTH, "a gate file without metadata 'modules' reads as both", "%s",
               rc ? err.msg : "another family");
    if (!rc) gates_free(&g);
    CHECK(st_write(path, t2, 2, k3, v3, 7, &err) == 0, "%s", err.msg);
    rc = gates_read(&g, path, GATES_LAZYDIT, &err);
    TEST_CHECK(rc && strstr(err.msg, "metadata modules 'attention' is not attn, mlp or both"),
               "a gate file with an unknown 'modules' is refused", "%s", rc ? err.msg : "accepted");
}

// Write and read back: every field survives.
static void test_round_trip(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    GateFile g, r;
    gates_alloc(&g, GATES_LAZYDIT, 3, 2, 4);
    for (int i = 0; i < 48; i++) g.w[i] = (float)i / 7.0f - 3.0f;
    snprintf(g.respacing, sizeof g.respacing, "ddim3");
    snprintf(g.model_sha256, sizeof g.model_sha256, "%064d", 7);
    g.rho_attn = 1e-5, g.rho_mlp = 2e-5, g.threshold = 0.625, g.staleness = 3;
    snprintf(g.calibration, sizeof g.calibration, "threshold");
    g.target_ratio = 0.3, g.realised_ratio = 0.2987654321, g.calibration_samples = 200, g.calibration_seed = 1;
    g.calibration_cfg = 1.5;
    g.modules = LAZY_MOD_ATTN;
    gates_set_training(&g, "{\"lr\":0.001}");
    LzError err;
    CHECK(gates_write(&g, path, &err) == 0, "%s", err.msg);
    CHECK(gates_read(&r, path, GATES_LAZYDIT, &err) == 0, "%s", err.msg);
    int same = r.S == 3 && r.L == 2 && r.D == 4 && !memcmp(r.w, g.w, sizeof(float) * 48) &&
               !strcmp(r.respacing, "ddim3") && !strcmp(r.model_sha256, g.model_sha256) && r.rho_attn == 1e-5 &&
               r.rho_mlp == 2e-5 && r.threshold == 0.625 && r.staleness == 3 && !strcmp(r.calibration, "threshold") &&
               r.target_ratio == 0.3 && r.realised_ratio == 0.2987654321 && r.calibration_samples == 200 &&
               r.calibration_seed == 1 && r.calibration_cfg == 1.5 && r.modules == LAZY_MOD_ATTN && r.training &&
               !strcmp(r.training, "{\"lr\":0.001}");
    TEST_CHECK(same, "gate file round trip keeps weights and every metadata field exactly", "a field differs");
    gates_free(&g);
    gates_free(&r);
}

int main(void) {
    LzError err;
    CHECK(sha256_file(MODEL, model_sha, &err) == 0, "%s", err.msg);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lazydit_test_lazy_policy_%d", (int)getpid());
    CHECK(lz_mkdir_p(tmpdir, &err) == 0, "%s", err.msg);
    test_goldens();
    test_zero_gates();
    test_file_errors();
    test_round_trip();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0, "cannot remove %s", tmpdir);
    return test_finish();
}
