// The similarity recorder: module_steps against PyTorch on the official model
// code path (tests/ref/gen_recorder_golden.py: same weights, noise, labels),
// weight spectral norms against torch.linalg.matrix_norm, the per-row kernel
// against a naive loop, chunking invariance, bit-identical samples with and
// without recording, the "used output" semantics under reuse (FORA) and
// stack-level bypass, module_rows against module_steps (mean, min, nearest-
// rank 5th percentile), and the bound's formula.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/recorder.h"
#include "analysis/result_db.h"
#include "analysis/run_record.h"
#include "analysis/sim_bound.h"
#include "analysis/similarity.h"
#include "model/base/prng.h"
#include "model/io/npy.h"
#include "model/lazy/policy.h"
#include "model/sampler.h"
#include "tests/golden_json.h"
#include "tests/test.h"
#include "tests/test_io.h"

#define GOLDEN "tests/ref/golden/"

// Mirrors CASES of gen_recorder_golden.py.
typedef struct {
    const char *name, *weights, *z, *y, *respacing;
    float cfg;
    int guide;
} RecCase;
static const RecCase CASES[] = {
    {"cfg", "sampler_latent", "sampler_ddim_cfg_z", "sampler_ddim_cfg_y", "10", 1.5f, 3},
    {"plain", "sampler_pixel", "recorder_plain_z", "recorder_plain_y", "ddim8", 1.0f, 1},
};

static int close_to(double got, double want, double rtol, double atol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

typedef struct {
    DitModel m;
    Diffusion d;
    NpyArray z;
    int y[64];
    long n;
    long ts[1000];
} CaseData;

static void load_case(CaseData *cd, const RecCase *c, int max_rows) {
    char path[256];
    snprintf(path, sizeof path, GOLDEN "%s.safetensors", c->weights);
    test_load_dit(&cd->m, path, max_rows, 0);
    LzError err;
    CHECK(diffusion_create(&cd->d, "linear", 1000, c->respacing, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, GOLDEN "%s.npy", c->z);
    cd->z = test_load_f32(path);
    snprintf(path, sizeof path, GOLDEN "%s.npy", c->y);
    NpyArray a;
    CHECK(npy_read_i64(path, &a, &err) == 0, "%s", err.msg);
    cd->n = a.count;
    for (long i = 0; i < a.count; i++) cd->y[i] = (int)((long long *)a.data)[i];
    npy_free(&a);
    int K = cd->d.num_steps;
    for (int i = 0; i < K; i++) cd->ts[i] = cd->d.timestep_map[K - 1 - i];
}

static void free_case(CaseData *cd) {
    dit_free(&cd->m);
    diffusion_free(&cd->d);
    npy_free(&cd->z);
}

static SamplerOptions case_options(const RecCase *c, const DitModel *m, int batch) {
    SamplerOptions o = sampler_default_options(&m->cfg, batch);
    o.cfg_scale = c->cfg;
    o.guide_channels = c->guide;
    return o;
}

// Samples case c with chunk size `batch`, recording into rec (initialised here); out gets the samples.
static void record_case(CaseData *cd, const RecCase *c, int batch, Recorder *rec, Sampler *s, float *out) {
    SamplerOptions o = case_options(c, &cd->m, batch);
    LzError err;
    CHECK(sampler_init(s, &cd->m, &cd->d, &o, &err) == 0, "%s", err.msg);
    RecorderOptions ro = {false};
    int rows = s->use_cfg ? 2 * batch : batch;
    CHECK(recorder_init(rec, &cd->m, cd->ts, cd->d.num_steps, rows, cd->n, s->use_cfg, NULL, &ro, &err) == 0, "%s",
          err.msg);
    CHECK(sampler_run(s, out, cd->y, cd->n, cd->z.data, recorder_hooks(rec), recorder_step, rec, &err) == 0, "%s",
          err.msg);
}

static void test_golden(const RecCase *c) {
    char gpath[256], name[128];
    snprintf(gpath, sizeof gpath, GOLDEN "recorder_%s.json", c->name);
    char *text = golden_read_text(gpath);
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc, "%s: invalid JSON", gpath);
    CaseData cd;
    load_case(&cd, c, 2 * (int)8);
    long img = (long)cd.m.cfg.in_channels * cd.m.cfg.input_size * cd.m.cfg.input_size;
    float *out = lz_malloc(sizeof(float) * cd.n * img, "samples");
    Recorder rec;
    Sampler s;
    record_case(&cd, c, (int)cd.n, &rec, &s, out);
    const LazyAccount *acc = sampler_account(&s);
    const cJSON *rows = golden_field(gpath, doc, "module_steps");
    int checked = 0, bad = 0;
    double worst_sim = 0, worst_bound = 0;  // largest |diff| of a similarity, largest relative diff of a bound term
    char detail[400] = "";
    static const char *const cols[] = {"cos_mean", "cos_min",  "cos_p05",  "rel_l2",      "z_dist",     "z_rel_dist",
                                       "lipschitz", "bound_r", "bound_c", "bound_r2", "bound_alpha", "bound_value"};
    for (const cJSON *g = rows->child; g; g = g->next) {
        int step = (int)golden_num(gpath, g, "step"), layer = (int)golden_num(gpath, g, "layer");
        DitModule mod = strcmp(golden_field(gpath, g, "module")->valuestring, "attn") ? DIT_MLP : DIT_ATTN;
        ModuleStepRow r = recorder_module_step(&rec, acc, step, layer, mod);
        if (r.timestep != (long)golden_num(gpath, g, "timestep") || r.skip_rate != 0) bad++;
        if (step == 0) {
            // NULL at step 0: nothing to compare with
            if (!isnan(r.cos_mean) || !isnan(r.bound.alpha) || r.compared != 0) bad++;
            continue;
        }
        double got[] = {r.cos_mean, r.cos_min, r.cos_p05, r.rel_l2, r.z_dist, r.z_rel_dist, r.lipschitz,
                        r.bound.r,  r.bound.c, r.bound.r2, r.bound.alpha, r.bound.value};
        for (int k = 0; k < (int)(sizeof cols / sizeof cols[0]); k++) {
            double want = golden_num(gpath, g, cols[k]);
            // Similarities to 1e-4 (the bar); the bound's terms are
            // powers of norms (R^10 in alpha), so they get 1e-4 relative.
            int ok = k < 7 ? close_to(got[k], want, 1e-4, 1e-4) : close_to(got[k], want, 1e-4, 0);
            if (k < 7) worst_sim = fmax(worst_sim, fabs(got[k] - want));
            else worst_bound = fmax(worst_bound, fabs(got[k] - want) / fabs(want));
            checked++;
            if (!ok && !bad++)
                snprintf(detail, sizeof detail, "step %d layer %d %s %s: got %.9g want %.9g", step, layer,
                         dit_module_name(mod), cols[k], got[k], want);
        }
    }
    printf("# %s: largest |C - torch| of a similarity column %.3g, largest relative difference of a bound term %.3g\n",
           c->name, worst_sim, worst_bound);
    snprintf(name, sizeof name, "recorder_%s_module_steps_vs_torch", c->name);
    TEST_CHECK(bad == 0 && checked > 0, name, "%d of %d values off; first: %s", bad, checked, detail);

    // Weight norms: power iteration vs torch.linalg.matrix_norm(ord=2) in float64.
    const cJSON *norms = golden_field(gpath, doc, "weight_norms");
    bad = 0;
    detail[0] = 0;
    for (const cJSON *g = norms->child; g; g = g->next) {
        int l = (int)golden_num(gpath, g, "layer");
        for (int k = 0; k < WN_COUNT; k++) {
            double want = golden_num(gpath, g, sim_bound_weight_name((WeightNormKind)k));
            if (!close_to(rec.wn.norm[l][k], want, 1e-9, 0) && !bad++)
                snprintf(detail, sizeof detail, "layer %d %s: got %.15g want %.15g (%d iterations)", l,
                         sim_bound_weight_name((WeightNormKind)k), rec.wn.norm[l][k], want, rec.wn.iterations[l][k]);
        }
    }
    snprintf(name, sizeof name, "recorder_%s_weight_norms_vs_torch", c->name);
    TEST_CHECK(bad == 0, name, "%s", detail);

    // Chunking: one sample per chunk gives the same aggregates up to the
    // float rounding of GEMMs of another row count (the samples themselves
    // agree only to ~1e-6 across batch sizes: OpenBLAS blocks by M).
    Recorder rec1;
    Sampler s1;
    float *out1 = lz_malloc(sizeof(float) * cd.n * img, "samples");
    record_case(&cd, c, 1, &rec1, &s1, out1);
    bad = 0;
    detail[0] = 0;
    for (int st = 1; st < cd.d.num_steps; st++)
        for (int l = 0; l < cd.m.cfg.depth; l++)
            for (int m = 0; m < 2; m++) {
                ModuleStepRow a = recorder_module_step(&rec, acc, st, l, (DitModule)m);
                ModuleStepRow b = recorder_module_step(&rec1, sampler_account(&s1), st, l, (DitModule)m);
                int off = !close_to(b.cos_mean, a.cos_mean, 1e-6, 1e-6) || !close_to(b.cos_min, a.cos_min, 1e-6, 1e-6) ||
                          !close_to(b.cos_p05, a.cos_p05, 1e-6, 1e-6) || !close_to(b.lipschitz, a.lipschitz, 1e-5, 1e-6) ||
                          !close_to(b.bound.alpha, a.bound.alpha, 1e-4, 0) || b.compared != a.compared;
                if (off && !bad++)
                    snprintf(detail, sizeof detail, "step %d layer %d %s: cos_mean %.12g vs %.12g", st, l,
                             dit_module_name((DitModule)m), b.cos_mean, a.cos_mean);
            }
    snprintf(name, sizeof name, "recorder_%s_chunking_invariant", c->name);
    TEST_CHECK(bad == 0, name, "%d (step, layer, module) rows differ between batch %ld and batch 1; first: %s", bad, cd.n,
               detail);

    // Bit-identical samples with and without the recorder.
    Sampler s2;
    SamplerOptions o = case_options(c, &cd.m, (int)cd.n);
    LzError err;
    CHECK(sampler_init(&s2, &cd.m, &cd.d, &o, &err) == 0, "%s", err.msg);
    float *out2 = lz_malloc(sizeof(float) * cd.n * img, "samples");
    CHECK(sampler_run(&s2, out2, cd.y, cd.n, cd.z.data, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    snprintf(name, sizeof name, "recorder_%s_samples_bit_identical", c->name);
    TEST_CHECK(!memcmp(out, out2, sizeof(float) * cd.n * img), name, "recording changed the samples");

    free(out);
    free(out1);
    free(out2);
    sampler_free(&s);
    sampler_free(&s1);
    sampler_free(&s2);
    recorder_free(&rec);
    recorder_free(&rec1);
    free_case(&cd);
    cJSON_Delete(doc);
    free(text);
}

// The row kernel against a naive double loop, odd length (lane tail).
static void test_row_kernel(void) {
    enum { N = 1003 };
    static float y[N], p[N], z[N], q[N], pc[N], qc[N];
    Prng g;
    prng_seed(&g, 7);
    for (int i = 0; i < N; i++) {
        y[i] = (float)prng_normal(&g);
        p[i] = y[i] + 0.1f * (float)prng_normal(&g);
        z[i] = (float)prng_normal(&g);
        q[i] = z[i] + 0.3f * (float)prng_normal(&g);
    }
    memcpy(pc, p, sizeof p);
    memcpy(qc, q, sizeof q);
    double yy = 0, pp = 0, yp = 0, dy = 0, zz = 0, qq = 0, dz = 0;
    for (int i = 0; i < N; i++) {
        yy += (double)y[i] * y[i];
        pp += (double)p[i] * p[i];
        yp += (double)y[i] * p[i];
        dy += ((double)y[i] - p[i]) * ((double)y[i] - p[i]);
        zz += (double)z[i] * z[i];
        qq += (double)q[i] * q[i];
        dz += ((double)z[i] - q[i]) * ((double)z[i] - q[i]);
    }
    SimSums s;
    sim_row_update(&s, y, pc, z, qc, N);
    SimRow r = sim_row_finish(&s);
    int ok = close_to(r.cos, yp / sqrt(yy * pp), 1e-13, 0) && close_to(r.rel_l2, sqrt(dy / pp), 1e-13, 0) &&
             close_to(r.z_dist, sqrt(dz), 1e-13, 0) && close_to(r.z_rel_dist, sqrt(dz / qq), 1e-13, 0) &&
             close_to(r.lipschitz, sqrt(dy / dz), 1e-13, 0) && close_to(r.z_norm, sqrt(zz), 1e-13, 0);
    TEST_CHECK(ok, "similarity_row_vs_naive", "cos %.17g vs %.17g", r.cos, yp / sqrt(yy * pp));
    TEST_CHECK(!memcmp(pc, y, sizeof y) && !memcmp(qc, z, sizeof z), "similarity_row_stores_previous",
               "prev buffers do not hold the new values");
    // Identical outputs: exactly 1 and 0; zero input change: Lipschitz undefined.
    sim_row_update(&s, y, pc, z, qc, N);
    r = sim_row_finish(&s);
    TEST_CHECK(r.cos == 1.0 && r.rel_l2 == 0.0 && isnan(r.lipschitz), "similarity_identical_rows",
               "cos %.17g rel %g lip %g", r.cos, r.rel_l2, r.lipschitz);
}

static void test_spectral_norm(void) {
    // diag(3, -5, 2) (2x3 with a zero row appended as 3x3): sigma = 5.
    float a[9] = {3, 0, 0, 0, -5, 0, 0, 0, 2};
    SbFactor f = {a, 3, 3, 0};
    int it;
    double s = sim_bound_spectral_norm(&f, NULL, &it);
    TEST_CHECK(close_to(s, 5.0, 1e-12, 0), "spectral_norm_diagonal", "got %.17g in %d iterations", s, it);
    // Product of a 2x3 and its transpose-shaped partner: A = B^T B with B = [[1,2,2],[0,0,0]] -> sigma = 9.
    float b[6] = {1, 2, 2, 0, 0, 0};
    SbFactor bt = {b, 2, 3, 1}, bb = {b, 2, 3, 0};
    s = sim_bound_spectral_norm(&bt, &bb, &it);
    TEST_CHECK(close_to(s, 9.0, 1e-12, 0), "spectral_norm_product", "got %.17g in %d iterations", s, it);
}

static void test_bound_formula(void) {
    BoundTerms a = sim_bound_terms(DIT_ATTN, 2.0, 3.0, 0.5, 49, 128);
    double C = 5 * pow(3.0, 4) * 49 * 128, alpha = C * C * 0.25 * 49 / 2;
    TEST_CHECK(a.r == 3.0 && close_to(a.c, C, 1e-15, 0) && close_to(a.alpha, alpha, 1e-15, 0) &&
                   close_to(a.value, 1 - alpha, 1e-15, 0),
               "bound_attn_formula", "r %g c %g alpha %g", a.r, a.c, a.alpha);
    BoundTerms m = sim_bound_terms(DIT_MLP, 0.5, 0.25, 1e-3, 16, 8);  // R clamps to 1; min(N, D) = 8
    TEST_CHECK(m.r == 1.0 && m.c == 1.0 && close_to(m.alpha, 1e-6 * 8 / 2, 1e-15, 0), "bound_mlp_formula_r_at_least_1",
               "r %g c %g alpha %g", m.r, m.c, m.alpha);
}

// ---------------------------------------------------------------------------
// reuse semantics, module_rows and the database path

// A stack-level test policy: model row 0 bypasses the block stack at odd steps.
static void bypass_row0(Policy *p, const DitStackView *v, unsigned char *skip) {
    (void)p;
    if (v->step->step % 2 == 1) skip[0] = 1;
}
static const PolicyClass bypass_class = {.name = "bypass_row0", .summary = "test", .stack_decide = bypass_row0};

static double q1(ResultDb *db, const char *sql) {
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db->db));
    CHECK(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void tmp_db(char *path, size_t len, const char *tag) {
    const char *dir = getenv("TEST_TMP");
    snprintf(path, len, "%s/test_recorder_%s_%ld.db", dir ? dir : "/tmp", tag, (long)getpid());
    unlink(path);
}

static void test_reuse_and_rows(void) {
    // Pixel model, 24 samples, no CFG: 24 rows per step, so the nearest-rank
    // 5th percentile is the 2nd smallest cos (not the minimum).
    DitModel m;
    test_load_dit(&m, GOLDEN "sampler_pixel.safetensors", 24, 0);
    Diffusion d;
    LzError err;
    CHECK(diffusion_create(&d, "linear", 1000, "6", &err) == 0, "%s", err.msg);
    enum { N = 24 };
    int y[N];
    for (int i = 0; i < N; i++) y[i] = i % m.cfg.num_classes;
    long img = (long)m.cfg.in_channels * m.cfg.input_size * m.cfg.input_size;
    float *a = lz_malloc(sizeof(float) * N * img * 2, "samples"), *b = a + N * img;

    Policy fora;
    PolicyArg arg = {"interval", "2"};
    CHECK(policy_create(&fora, "fora", NULL, &arg, 1, &err) == 0, "%s", err.msg);
    long ts[6];
    for (int i = 0; i < 6; i++) ts[i] = d.timestep_map[5 - i];
    PolicyEnv env = {&m.cfg, 6, ts, "6", N, NULL, 0};
    CHECK(policy_init(&fora, &env, &err) == 0, "%s", err.msg);
    SamplerOptions o = sampler_default_options(&m.cfg, N);
    o.cfg_scale = 1.0f;
    o.seed = 3;
    o.policy = &fora;
    Sampler s;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);

    char path[512];
    tmp_db(path, sizeof path, "rows");
    ResultDb db;
    CHECK(rdb_open(&db, path, &err) == 0, "%s", err.msg);
    RunRecordInfo info = {"t", "fora", 0, GOLDEN "sampler_pixel.safetensors", NULL, "6", N, NULL, {true}, NULL};
    RunRecord rr;
    CHECK(run_record_begin(&rr, &db, &info, &s, &err) == 0, "%s", err.msg);
    CHECK(run_record_sample(&rr, &s, a, y, N, NULL, &err) == 0, "%s", err.msg);
    CHECK(run_record_finish(&rr, &s, NULL, 0, NULL, 0, NULL, &err) == 0, "%s", err.msg);
    run_record_free(&rr);
    CHECK(sampler_run(&s, b, y, N, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    TEST_CHECK(!memcmp(a, b, sizeof(float) * N * img), "recorder_fora_samples_bit_identical",
               "recording with module_rows changed the samples");

    int L = m.cfg.depth;
    double n_steps = q1(&db, "SELECT count(*) FROM module_steps");
    double n_rows = q1(&db, "SELECT count(*) FROM module_rows");
    TEST_CHECK(n_steps == 6 * L * 2 && n_rows == 6 * L * 2 * N, "recorder_row_counts", "%g module_steps, %g module_rows",
               n_steps, n_rows);
    // Reused steps (odd, interval 2): the used output is the cache -> cos 1, rel_l2 0, skip_rate 1.
    double bad_reuse = q1(&db, "SELECT count(*) FROM module_steps WHERE step % 2 = 1 AND (skip_rate != 1 OR "
                               "cos_mean != 1 OR cos_min != 1 OR rel_l2 != 0)");
    double bad_compute = q1(&db, "SELECT count(*) FROM module_steps WHERE step % 2 = 0 AND step > 0 AND (skip_rate != 0 "
                                 "OR cos_mean >= 1 OR rel_l2 <= 0)");
    TEST_CHECK(bad_reuse == 0 && bad_compute == 0, "recorder_reuse_compares_used_output",
               "%g reused and %g computed (step, layer, module) rows wrong", bad_reuse, bad_compute);
    double lazy = q1(&db, "SELECT lazy_ratio FROM runs");
    double mean_skip = q1(&db, "SELECT avg(skip_rate) FROM module_steps");
    TEST_CHECK(close_to(lazy, 0.5, 0, 1e-15) && close_to(mean_skip, lazy, 0, 1e-15), "recorder_skip_rate_matches_account",
               "lazy_ratio %g, mean skip_rate %g", lazy, mean_skip);
    // module_steps aggregates from module_rows: mean, min, 2nd smallest (nearest rank of 24).
    double bad_agg = q1(
        &db,
        "SELECT count(*) FROM module_steps s WHERE s.step > 0 AND ("
        " abs(s.cos_mean - (SELECT avg(cos) FROM module_rows r WHERE r.step = s.step AND r.layer = s.layer AND r.module = "
        "s.module)) > 1e-12 OR"
        " s.cos_min != (SELECT min(cos) FROM module_rows r WHERE r.step = s.step AND r.layer = s.layer AND r.module = "
        "s.module) OR"
        " s.cos_p05 != (SELECT cos FROM module_rows r WHERE r.step = s.step AND r.layer = s.layer AND r.module = s.module "
        "ORDER BY cos LIMIT 1 OFFSET 1) OR"
        " abs(s.z_dist - (SELECT avg(z_dist) FROM module_rows r WHERE r.step = s.step AND r.layer = s.layer AND "
        "r.module = s.module)) > 1e-12)");
    double p05_is_min = q1(&db, "SELECT count(*) FROM module_steps WHERE step % 2 = 0 AND step > 0 AND cos_p05 = cos_min");
    TEST_CHECK(bad_agg == 0 && p05_is_min == 0, "recorder_rows_agree_with_steps",
               "%g aggregates disagree with module_rows; %g p05 equal to the min", bad_agg, p05_is_min);
    rdb_close(&db);
    unlink(path);
    sampler_free(&s);
    policy_free(&fora);

    // Stack-level bypass of row 0 at odd steps: it counts as skipped (all
    // modules), has no similarity there, and is compared with its last
    // computed step at the next one.
    Policy byp;
    memset(&byp, 0, sizeof byp);
    byp.cls = &bypass_class;
    byp.modules = LAZY_MOD_BOTH;
    o.policy = &byp;
    CHECK(sampler_init(&s, &m, &d, &o, &err) == 0, "%s", err.msg);
    tmp_db(path, sizeof path, "bypass");
    CHECK(rdb_open(&db, path, &err) == 0, "%s", err.msg);
    info.name = "bypass";
    CHECK(run_record_begin(&rr, &db, &info, &s, &err) == 0, "%s", err.msg);
    CHECK(run_record_sample(&rr, &s, a, y, N, NULL, &err) == 0, "%s", err.msg);
    CHECK(run_record_finish(&rr, &s, NULL, 0, NULL, 0, NULL, &err) == 0, "%s", err.msg);
    run_record_free(&rr);
    double r0_odd = q1(&db, "SELECT count(*) FROM module_rows WHERE sample = 0 AND step % 2 = 1 AND skipped = 1 AND cos "
                            "IS NULL");
    double r0_even = q1(&db, "SELECT count(*) FROM module_rows WHERE sample = 0 AND step % 2 = 0 AND step > 0 AND "
                             "skipped = 0 AND cos IS NOT NULL");
    double skip_odd = q1(&db, "SELECT min(skip_rate) = max(skip_rate) AND min(skip_rate) = 1.0 / 24 FROM module_steps "
                              "WHERE step % 2 = 1");
    TEST_CHECK(r0_odd == 3 * L * 2 && r0_even == 2 * L * 2 && skip_odd == 1, "recorder_stack_bypass_rows",
               "%g odd bypass records, %g even compared records, skip rate ok %g", r0_odd, r0_even, skip_odd);
    rdb_close(&db);
    unlink(path);
    sampler_free(&s);
    free(a);
    diffusion_free(&d);
    dit_free(&m);
}

int main(void) {
    test_row_kernel();
    test_spectral_norm();
    test_bound_formula();
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) test_golden(&CASES[i]);
    test_reuse_and_rows();
    return test_finish();
}
