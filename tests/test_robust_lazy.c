// test_robust_lazy.c: the loaders of the lazy-policy files and of foreign
// result databases against hostile content (docs/robustness.md): gate and
// router metadata, calibration files, and databases whose tables lack the
// schema's constraints, read by `lazydit report` and `lazydit merge`. Each
// defect the fuzzers found (tests/fuzz/) has its test here, with new
// instances beside the fuzzer's input.
#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "analysis/db_merge.h"
#include "analysis/report_db.h"
#include "analysis/result_db.h"
#include "experiments/experiment.h"
#include "model/lazy/calibration.h"
#include "model/dit_params.h"
#include "model/lazy/gates.h"
#include "model/lazy/lazy_train.h"
#include "model/io/safetensors.h"
#include "tests/file_util.h"
#include "tests/test.h"

static LzError err;

static int has(const char *needle) { return strstr(err.msg, needle) != NULL; }

// --- gate and router files ---------------------------------------------------

static const char *const SHA = "91e068195e7ee39ebf912e940caa8438d6e4b2a82fdb095d9b3b962a1eb26b84";

// A 2-step, 1-block, hidden-2 gate file with the required metadata, one key
// replaced by (key, value) when key is not NULL.
static void write_gates(const char *path, const char *key, const char *value) {
    float w[4] = {0.1f, -0.2f, 0.3f, 0.4f};
    long shape[3] = {2, 1, 2};
    StWriteTensor t[2] = {{"attn", 3, shape, w}, {"mlp", 3, shape, w}};
    const char *keys[8] = {"steps", "respacing", "model_sha256", "rho_attn", "rho_mlp", "threshold", "staleness",
                           "calibration_samples"};
    const char *vals[8] = {"2", "2", SHA, "0.5", "0.5", "0.5", "1", "4"};
    for (int i = 0; key && i < 8; i++)
        if (!strcmp(keys[i], key)) vals[i] = value;
    if (st_write(path, t, 2, keys, vals, 8, &err)) {
        printf("FAIL write gates: %s\n", err.msg);
        exit(1);
    }
}

static void test_gate_metadata(void) {
    const char *p = test_path("g.safetensors");
    GateFile g;
    write_gates(p, NULL, NULL);
    int ok = gates_read(&g, p, GATES_LAZYDIT, &err) == 0;
    TEST_CHECK(ok && g.S == 2 && g.staleness == 1 && g.calibration_samples == 4, "gates: a valid file loads", "%s",
               ok ? "wrong values" : err.msg);
    if (ok) gates_free(&g);
    // Integers are parsed whole, as everywhere else (strtol took " 2", "+1").
    static const char *const bad_ints[][2] = {{"steps", " 2"},       {"steps", "+2"},     {"steps", "2x"},
                                              {"staleness", "+1"},    {"staleness", "1 "}, {"staleness", "0x1"},
                                              {"calibration_samples", "-4"}};
    for (int i = 0; i < 7; i++) {
        write_gates(p, bad_ints[i][0], bad_ints[i][1]);
        char name[128];
        snprintf(name, sizeof name, "gates: metadata %s = '%s' refused", bad_ints[i][0], bad_ints[i][1]);
        TEST_CHECK(gates_read(&g, p, GATES_LAZYDIT, &err) == -1 && has(bad_ints[i][0]), name, "%s", err.msg);
    }
    write_gates(p, "threshold", " 0.5");
    TEST_CHECK(gates_read(&g, p, GATES_LAZYDIT, &err) == -1 && has("threshold"), "gates: threshold ' 0.5' refused",
               "%s", err.msg);
}

// --- calibration files ---------------------------------------------------------

static const char *teacache_json(char *buf, size_t cap, const char *steps, const char *timesteps, const char *x_min,
                                 const char *x_max, const char *r2) {
    snprintf(buf, cap,
             "{\"format\": \"lazydit-calibration\", \"version\": 1, \"policy\": \"teacache\", \"steps\": %s,"
             " \"respacing\": \"2\", \"timesteps\": %s, \"model_sha256\": \"%s\", \"samples\": 4, \"seed\": 0,"
             " \"sample_offset\": 2147483648, \"cfg_scale\": 1.5, \"teacache\": {\"target\": \"stack_residual\","
             " \"coefficients\": [0, 0, 0, 1, 0], \"points\": 8, \"r2\": %s, \"x_min\": %s, \"x_max\": %s}}",
             steps, timesteps, SHA, r2, x_min, x_max);
    return buf;
}

static int load_teacache(const char *text) {
    const char *p = test_path("c.json");
    file_write_bytes(p, text, strlen(text));
    LazyCalibration c;
    int rc = lazy_calibration_load(p, "teacache", NULL, &c, &err);
    if (!rc) lazy_calibration_free(&c);
    return rc;
}

static void test_calibration(void) {
    char buf[2048];
    TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "2", "[999, 0]", "0.1", "0.9", "0.95")) == 0,
               "calibration: a valid teacache file loads", "%s", err.msg);
    // The fuzzer's input: x_min above x_max (the policy clamps x into the
    // range, so every x became x_max); and new instances.
    static const char *const ranges[][2] = {{"1.0093171242885054933", "0.35504225721569699"}, {"2", "1"}, {"1e30", "0"}};
    for (int i = 0; i < 3; i++) {
        char name[128];
        snprintf(name, sizeof name, "calibration: x_min %s above x_max %s refused", ranges[i][0], ranges[i][1]);
        TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "2", "[999, 0]", ranges[i][0], ranges[i][1], "0.9")) ==
                           -1 && has("x_min"),
                   name, "%s", err.msg);
    }
    TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "2", "[999, 0]", "0.5", "0.5", "0.9")) == 0,
               "calibration: x_min equal to x_max loads", "%s", err.msg);
    TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "2", "[999, 0]", "0", "1", "1.5")) == -1 && has("r2"),
               "calibration: r2 above 1 refused", "%s", err.msg);
    // Timesteps that do not fit a long (UBSan: float-cast-overflow before).
    static const char *const ts[] = {"[1e300, 0]", "[999, 1e19]", "[999, 1000001]", "[999, -1]", "[999, 0.5]"};
    for (int i = 0; i < 5; i++) {
        char name[128];
        snprintf(name, sizeof name, "calibration: timesteps %s refused", ts[i]);
        TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "2", ts[i], "0", "1", "0.9")) == -1 &&
                       has("timesteps["),
                   name, "%s", err.msg);
    }
    // "steps" alone does not size an allocation: the array is checked first.
    TEST_CHECK(load_teacache(teacache_json(buf, sizeof buf, "1000000", "[999, 0]", "0", "1", "0.9")) == -1 &&
                   has("2 entries for 1000000 steps"),
               "calibration: a step count the timesteps do not hold refused", "%s", err.msg);
}

// --- foreign result databases ----------------------------------------------------

// A database made by someone else: the schema-v1 tables recreated without
// their NOT NULL and CHECK constraints, then `sql`.
static const char *foreign_db(const char *name, const char *sql) {
    const char *p = test_path(name);
    ResultDb db;
    if (rdb_open(&db, p, &err)) {
        printf("FAIL foreign db: %s\n", err.msg);
        exit(1);
    }
    const char *loose =
        "DROP TABLE module_steps; DROP TABLE module_rows; DROP TABLE metrics; DROP TABLE sample_metrics;"
        "DROP TABLE weight_norms; DROP TABLE runs;"
        "CREATE TABLE runs (run_id INTEGER PRIMARY KEY, experiment, name, model_sha256, policy, policy_json, steps,"
        " respacing, sampler, eta, cfg_scale, seed, n_samples, batch, git_rev, threads, blas_core, host, started_at,"
        " finished_at, status, wall_s, macs_all, macs_linear, lazy_ratio, lazy_ratio_attn, lazy_ratio_mlp,"
        " config_json, error);"
        "CREATE TABLE module_steps (run_id, step, timestep, layer, module, skip_rate, gate_mean, cos_mean, cos_min,"
        " cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz, bound_alpha, bound_value, bound_r, bound_c, bound_r2);"
        "CREATE TABLE module_rows (run_id, sample, null_half, step, layer, module, skipped, score, cos, rel_l2,"
        " z_dist, z_rel_dist, lipschitz);"
        "CREATE TABLE metrics (run_id, name, value, ci_low, ci_high, n);"
        "CREATE TABLE sample_metrics (run_id, sample, name, value);"
        "CREATE TABLE weight_norms (run_id, layer, module, weight, spectral_norm, iterations);";
    if (rdb_exec(&db, loose, "loosen the schema", &err) || rdb_exec(&db, sql, "fill", &err)) {
        printf("FAIL foreign db %s: %s\n", name, err.msg);
        exit(1);
    }
    rdb_close(&db);
    return p;
}

#define RUN_VALUES(experiment, name, policy_json, status)                                                     \
    "INSERT INTO runs VALUES (1, " experiment ", " name ", 'ab', 'ddim', " policy_json ", 4, '4', 'ddim', 0, " \
    "1.5, 0, 8, 8, NULL, 1, 'x', 'h', 't', 't', " status ", 1, 1, 1, 0, 0, 0, '{}', NULL);"

static void test_report_db(void) {
    ReportData d;
    // The fuzzer's input: policy_json whose "modules" is not attn, mlp or
    // both. The message quoted the string after the JSON holding it was
    // freed (ASan: heap-use-after-free).
    static const char *const modules[] = {"'{\"modules\":\"neither\"}'", "'{\"modules\":\"attnx\"}'",
                                          "'{\"modules\":\"\"}'"};
    for (int i = 0; i < 3; i++) {
        char sql[512], name[64];
        snprintf(sql, sizeof sql, RUN_VALUES("'e'", "'r'", "%s", "'done'"), modules[i]);
        snprintf(name, sizeof name, "m%d.db", i);
        const char *p = foreign_db(name, sql);
        char check[128];
        snprintf(check, sizeof check, "report: policy_json modules %s refused", modules[i]);
        TEST_CHECK(report_db_load(&d, p, &err) == -1 && has("is not attn, mlp or both"), check, "%s", err.msg);
    }
    // A NULL experiment in a done run (no NOT NULL in a foreign table): the
    // loader took the first run's experiment with strlen(NULL).
    const char *p = foreign_db("null_experiment.db", RUN_VALUES("NULL", "'r'", "'{}'", "'done'"));
    TEST_CHECK(report_db_load(&d, p, &err) == -1 && has("NULL"), "report: a NULL experiment refused", "%s", err.msg);
    p = foreign_db("null_name.db", RUN_VALUES("'e'", "NULL", "'{}'", "'done'"));
    TEST_CHECK(report_db_load(&d, p, &err) == -1 && has("NULL"), "report: a NULL name refused", "%s", err.msg);
    // Numbers outside what a run records: they reached integer conversions
    // (equal-budget steps, ratio columns, log-axis ticks) as undefined
    // behaviour, or read as other values (sqlite3_column_int keeps 32 bits).
    static const char *const updates[][2] = {
        {"UPDATE runs SET lazy_ratio = 1e300", "lazy_ratio"},
        {"UPDATE runs SET lazy_ratio_attn = -0.5", "lazy_ratio_attn"},
        {"UPDATE runs SET lazy_ratio_mlp = 1e999", "lazy_ratio_mlp"},
        {"UPDATE runs SET macs_all = 0", "macs_all"},
        {"UPDATE runs SET macs_linear = -1e9", "macs_linear"},
        {"UPDATE runs SET n_samples = 0", "n_samples"},
        {"UPDATE runs SET cfg_scale = -1e999", "cfg_scale"},
        {"UPDATE runs SET steps = 4294967300", "4294967300 steps"},
        {"UPDATE runs SET steps = 0", "0 steps"},
        {"INSERT INTO metrics VALUES (1, 'fid', 1e999, NULL, NULL, 8)", "fid is not finite"},
        {"INSERT INTO metrics VALUES (1, 'is', 2, -1e999, 3, 8)", "is is not finite"},
        {"INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate) "
         "VALUES (1, 4294967296, 999, 0, 'attn', 0)", "step 4294967296"},
        {"INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate) "
         "VALUES (1, 0, 999, 4294967296, 'attn', 0)", "layer 4294967296"},
        {"INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate, cos_mean) "
         "VALUES (1, 1, 999, 0, 'attn', 0, 1e999)", "infinite"},
    };
    for (int i = 0; i < 14; i++) {
        char sql[1024], name[64], check[200];
        snprintf(sql, sizeof sql, RUN_VALUES("'e'", "'r'", "'{}'", "'done'") "%s;", updates[i][0]);
        snprintf(name, sizeof name, "num%d.db", i);
        p = foreign_db(name, sql);
        snprintf(check, sizeof check, "report: %s refused", updates[i][0]);
        TEST_CHECK(report_db_load(&d, p, &err) == -1 && has(updates[i][1]), check, "%s", err.msg);
    }
    p = foreign_db("ok.db", RUN_VALUES("'e'", "'r'", "'{}'", "'done'"));
    int ok = report_db_load(&d, p, &err) == 0;
    TEST_CHECK(ok && d.n_runs == 1 && !strcmp(d.runs[0].modules, "both"), "report: a loose but complete database loads",
               "%s", ok ? "wrong content" : err.msg);
    if (ok) report_db_free(&d);
}

static void test_merge_db(void) {
    DbMergeStats st;
    // A NULL status (strcmp(NULL) before): such a run is not done, so it is left out.
    const char *in = foreign_db("null_status.db", RUN_VALUES("'e'", "'r'", "'{}'", "NULL"));
    const char *ins[1] = {in};
    TEST_CHECK(db_merge(test_path("out1.db"), ins, 1, &st, &err) == 0 && st.added == 0 && st.skipped == 1,
               "merge: a run with a NULL status is left out", "%.200s (added %ld, skipped %ld)", err.msg, st.added,
               st.skipped);
    static const char *const nulls[][2] = {{"NULL", "'r'"}, {"'e'", "NULL"}};
    for (int i = 0; i < 2; i++) {
        char sql[512], name[64], out[64], check[96];
        snprintf(sql, sizeof sql, RUN_VALUES("%s", "%s", "'{}'", "'done'"), nulls[i][0], nulls[i][1]);
        snprintf(name, sizeof name, "null_%d.db", i);
        snprintf(out, sizeof out, "out_null_%d.db", i);
        ins[0] = foreign_db(name, sql);
        snprintf(check, sizeof check, "merge: a done run without %s refused", i ? "a name" : "an experiment");
        TEST_CHECK(db_merge(test_path(out), ins, 1, &st, &err) == -1 && has(i ? "no name" : "no experiment"), check,
                   "%s", err.msg);
    }
    // The output is not an input, by another path or a hard link either, and
    // never a FIFO (SQLite's open would block) or a symbolic link.
    char in_db[1280];  // test_path's buffers rotate
    snprintf(in_db, sizeof in_db, "%s", foreign_db("in.db", RUN_VALUES("'e'", "'r'", "'{}'", "'done'")));
    ins[0] = in_db;
    TEST_CHECK(link(ins[0], test_path("hard.db")) == 0 && db_merge(test_path("hard.db"), ins, 1, &st, &err) == -1 &&
                   has("also an input"),
               "merge: OUT a hard link to an input refused", "%s", err.msg);
    TEST_CHECK(mkfifo(test_path("fifo.db"), 0600) == 0 && db_merge(test_path("fifo.db"), ins, 1, &st, &err) == -1 &&
                   has("FIFO"),
               "merge: OUT a FIFO refused at once", "%s", err.msg);
    const char *fifo_in[1] = {test_path("fifo.db")};
    TEST_CHECK(db_merge(test_path("out2.db"), fifo_in, 1, &st, &err) == -1 && has("FIFO"),
               "merge: an input FIFO refused at once", "%s", err.msg);
    TEST_CHECK(symlink("out3.db", test_path("link.db")) == 0 && db_merge(test_path("link.db"), ins, 1, &st, &err) == -1 &&
                   has("symbolic link"),
               "merge: OUT a symbolic link refused", "%s", err.msg);
    TEST_CHECK(db_merge(test_path("out4.db"), ins, 1, &st, &err) == 0 && st.added == 1, "merge: the loose database merges",
               "%s", err.msg);
}

// --- train-lazy / train-l2c checkpoints -----------------------------------------

// A checkpoint for a 4-step, 1-block, hidden-4 gate trainer with options
// {"o":1}: iteration `iter`, adam_t `t`, one element of `bad_name` set to `bad`
// (NULL: none), and an extra tensor when `extra`.
static void write_lazy_ckpt(const char *path, const char *iter, const float t[4], const char *bad_name, float bad,
                            int extra) {
    static float w[32], m[32], v[32], tt[4], x[1];
    for (int i = 0; i < 32; i++) w[i] = 0.01f * (float)i, m[i] = 1e-4f, v[i] = 1e-8f;
    memcpy(tt, t, sizeof tt);
    if (bad_name) (!strcmp(bad_name, "w") ? w : !strcmp(bad_name, "adam_m") ? m : v)[5] = bad;
    long shape[4] = {2, 4, 1, 4}, tshape[1] = {4}, xshape[1] = {1};
    StWriteTensor ts[5] = {{"w", 4, shape, w}, {"adam_m", 4, shape, m}, {"adam_v", 4, shape, v},
                           {"adam_t", 1, tshape, tt}, {"extra", 1, xshape, x}};
    const char *keys[3] = {"format", "iteration", "options"};
    const char *vals[3] = {"lazydit-lazy-train-checkpoint", iter, "{\"o\":1}"};
    if (st_write(path, ts, extra ? 5 : 4, keys, vals, 3, &err)) {
        printf("FAIL write checkpoint: %s\n", err.msg);
        exit(1);
    }
}

static void test_lazy_checkpoint(void) {
    DitConfig c = {.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 4, .depth = 1, .heads = 2,
                   .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 16, .freq_dim = 256};
    LazyTrainHyper hp = {.kind = LAZY_TRAIN_GATES, .steps = 4, .respacing = "4", .batch = 2, .lr = 1e-3,
                         .rho_attn = 1e-5, .rho_mlp = 1e-5, .class_dropout = 0.1, .seed = 7};
    float *params = lz_calloc((size_t)dit_param_count(&c), sizeof(float), "params");
    dit_init_official(params, &c, 1);
    LazyTrainer tr;
    lazy_trainer_init(&tr, &c, params, &hp, 2);
    const char *p = test_path("ck.safetensors");
    const float t3[4] = {0, 2, 0, 1};
    write_lazy_ckpt(p, "3", t3, NULL, 0, 0);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == 0 && tr.iter == 3 && tr.adam_t[1] == 2,
               "lazy checkpoint: a valid one loads", "%s", err.msg);
    // A negative iteration indexed the epoch permutation out of bounds on the
    // next step (ASan: heap-buffer-overflow); strtol also took junk as 0.
    static const char *const iters[] = {"-5", "-1", "abc", " 3", "3x", "+3", "99999999999999999999", "16777217"};
    for (int i = 0; i < 8; i++) {
        tr.iter = 0;
        write_lazy_ckpt(p, iters[i], t3, NULL, 0, 0);
        char name[96];
        snprintf(name, sizeof name, "lazy checkpoint: iteration '%s' refused, nothing restored", iters[i]);
        TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("iteration") && tr.iter == 0, name,
                   "%s", err.msg);
    }
    write_lazy_ckpt(p, "4", t3, NULL, 0, 0);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("add up to 3"),
               "lazy checkpoint: AdamW counts that do not add up to the iteration refused", "%s", err.msg);
    const float half[4] = {0, 1.5f, 0, 1.5f}, neg[4] = {-1, 3, 0, 1};
    write_lazy_ckpt(p, "3", half, NULL, 0, 0);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("adam_t[1]"),
               "lazy checkpoint: a fractional AdamW count refused", "%s", err.msg);
    write_lazy_ckpt(p, "3", neg, NULL, 0, 0);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("adam_t[0]"),
               "lazy checkpoint: a negative AdamW count refused", "%s", err.msg);
    static const char *const names[] = {"w", "adam_m", "adam_v"};
    for (int i = 0; i < 3; i++) {
        write_lazy_ckpt(p, "3", t3, names[i], NAN, 0);
        char name[96];
        snprintf(name, sizeof name, "lazy checkpoint: NaN in %s refused", names[i]);
        TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has(names[i]), name, "%s", err.msg);
    }
    write_lazy_ckpt(p, "3", t3, "adam_v", -1e-9f, 0);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("negative"),
               "lazy checkpoint: a negative second moment refused", "%s", err.msg);
    write_lazy_ckpt(p, "3", t3, NULL, 0, 1);
    TEST_CHECK(lazy_trainer_load(&tr, p, "{\"o\":1}", &err) == -1 && has("5 tensors"),
               "lazy checkpoint: an extra tensor refused", "%s", err.msg);
    lazy_trainer_free(&tr);
}

// `run --shard i/N`: both numbers whole, as every integer option.
static void test_shard_text(void) {
    static const char *const bad[] = {" 1/4", "+1/4", "1/ 4", "1/4x", "1/+4", "0x1/4", "4/4", "99999999999999999999/4"};
    int i = -1, n = -1, rejected = 0;
    for (int k = 0; k < 8; k++) rejected += experiment_parse_shard(bad[k], &i, &n, &err) == -1;
    TEST_CHECK(rejected == 8, "shard: spaces, signs, hex, trailing text and overflow refused", "%d of 8", rejected);
    TEST_CHECK(experiment_parse_shard("3/4", &i, &n, &err) == 0 && i == 3 && n == 4 &&
                   experiment_parse_shard("0/100000", &i, &n, &err) == 0 && n == 100000,
               "shard: 3/4 and 0/100000 accepted", "%s", err.msg);
}

int main(void) {
    test_dir_make("robust_lazy");
    test_gate_metadata();
    test_calibration();
    test_report_db();
    test_merge_db();
    test_shard_text();
    test_lazy_checkpoint();
    test_dir_remove();
    return test_failures ? 1 : 0;
}
