// test_robust.c: the file, number and size rules (model/io/file_rules.h) and the
// loaders that apply them, one group per defect class of docs/robustness.md:
// inputs that are not regular files, outputs that would destroy an input or a
// device, output sets published only on success, stale temporaries, integers
// that do not fit, non-finite values, sizes bounded by the file (block indices,
// metadata sizes, IDX headers, quadratic metadata checks) and training resume
// metadata.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/base/clock.h"
#include "model/classifier.h"
#include "model/dit_params.h"
#include "model/dit_train.h"
#include "model/io/atomic_file.h"
#include "model/io/dataset.h"
#include "model/io/file_rules.h"
#include "model/io/idx.h"
#include "model/io/json_config.h"
#include "model/io/npy.h"
#include "model/io/safetensors.h"
#include "tests/file_util.h"
#include "tests/test.h"

static LzError err;

static int has(const char *needle) { return strstr(err.msg, needle) != NULL; }

// ---------------------------------------------------------------------------
// inputs that are not regular files

static void test_inputs(void) {
    const char *fifo = test_path("fifo.npy");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    const char *dir = test_path("adir.npy");
    CHECK(mkdir(dir, 0700) == 0, "mkdir");
    const char *ins[] = {fifo, dir, "/dev/null", "/dev/zero"};
    const char *what[] = {"FIFO", "directory", "character device", "character device"};
    for (int i = 0; i < 4; i++) {
        // Every reader, and none may block: a FIFO without a writer would hang a plain open.
        double t0 = lz_now_seconds();
        NpyArray a;
        StFile f;
        IdxArray x;
        int r1 = npy_read(ins[i], &a, &err);
        int ok1 = r1 && has(what[i]) && has(ins[i]);
        int r2 = st_read(ins[i], &f, &err);
        int ok2 = r2 && has(what[i]);
        int r3 = idx_read(ins[i], &x, &err);
        int ok3 = r3 && has(what[i]);
        char *text = jc_read_text(ins[i], &err);
        int ok4 = !text && has(what[i]);
        Classifier *m = classifier_load(ins[i], 1, &err);
        int ok5 = !m && has(what[i]);
        char name[96];
        snprintf(name, sizeof name, "input_%s_refused_by_every_reader", what[i]);
        TEST_CHECK(ok1 && ok2 && ok3 && ok4 && ok5 && lz_now_seconds() - t0 < 2, name, "npy %d st %d idx %d json %d cls %d: %.120s",
                   ok1, ok2, ok3, ok4, ok5, err.msg);
    }
    RunFiles rf;
    run_files_init(&rf);
    TEST_CHECK(run_files_input(&rf, fifo, &err) && has("FIFO"), "run_files_input_refuses_fifo", "%.120s", err.msg);
    TEST_CHECK(run_files_input(&rf, test_path("missing.npy"), &err) && has("missing.npy"), "run_files_input_missing",
               "%.120s", err.msg);
    run_files_free(&rf);
}

// ---------------------------------------------------------------------------
// outputs

static void write_small_npy(const char *path, float v) {
    long shape[1] = {2};
    float x[2] = {v, v};
    CHECK(npy_write(path, NPY_F32, 1, shape, x, &err) == 0, "%s", err.msg);
}

static float read_first(const char *path) {
    NpyArray a;
    if (npy_read_f32(path, &a, &err)) return NAN;
    float v = ((float *)a.data)[0];
    npy_free(&a);
    return v;
}

static void test_outputs(void) {
    char in[1400], in2[1400], hard[1400];
    snprintf(in, sizeof in, "%s", test_path("in.npy"));
    snprintf(in2, sizeof in2, "%s", test_path("in_link.npy"));
    snprintf(hard, sizeof hard, "%s", test_path("in_hard.npy"));
    write_small_npy(in, 1);
    CHECK(symlink(in, in2) == 0 && link(in, hard) == 0, "links");
    char dotted[1400];
    snprintf(dotted, sizeof dotted, "%s/./in.npy", test_dir);

    RunFiles rf;
    run_files_init(&rf);
    CHECK(run_files_input(&rf, in, &err) == 0, "%s", err.msg);
    const char *same[] = {in, dotted, hard, in2};
    const char *why[] = {"same path", "same file by another path", "hard link", "symlink to the input"};
    for (int i = 0; i < 4; i++) {
        int rc = run_files_output(&rf, same[i], 0, &err);
        char name[96];
        snprintf(name, sizeof name, "output_refused_%s", why[i]);
        TEST_CHECK(rc && (has("input of this run") || has("symbolic link")), name, "rc %d: %.120s", rc, err.msg);
    }
    char o1[1400];
    snprintf(o1, sizeof o1, "%s", test_path("o1.npy"));
    TEST_CHECK(run_files_output(&rf, o1, RF_STAGED, &err) == 0, "output_new_file_accepted", "%.120s", err.msg);
    TEST_CHECK(run_files_output(&rf, o1, RF_STAGED, &err) && has("twice"), "output_given_twice_refused", "%.120s", err.msg);
    char o1b[1400];
    snprintf(o1b, sizeof o1b, "%s/../%s/o1.npy", test_dir, strrchr(test_dir, '/') + 1);
    TEST_CHECK(run_files_output(&rf, o1b, 0, &err) && has("twice"), "output_twice_by_another_path_refused", "%.120s",
               err.msg);
    TEST_CHECK(run_files_output(&rf, "/dev/null", 0, &err) && has("character device"), "output_device_refused", "%.120s",
               err.msg);
    const char *d = test_path("adir2");
    CHECK(mkdir(d, 0700) == 0, "mkdir");
    TEST_CHECK(run_files_output(&rf, d, 0, &err) && has("directory"), "output_directory_refused", "%.120s", err.msg);
    char link_out[1400], target[1400];
    snprintf(link_out, sizeof link_out, "%s", test_path("out_link.npy"));
    snprintf(target, sizeof target, "%s", test_path("target.npy"));
    write_small_npy(target, 5);
    CHECK(symlink(target, link_out) == 0, "symlink");
    TEST_CHECK(run_files_output(&rf, link_out, 0, &err) && has("symbolic link"), "output_symlink_refused", "%.120s",
               err.msg);
    TEST_CHECK(run_files_output(&rf, test_path("nodir/x.npy"), 0, &err) && has("does not exist"),
               "output_missing_directory_refused", "%.120s", err.msg);
    TEST_CHECK(run_files_output(&rf, test_path("made/deep/x.npy"), RF_MKDIR, &err) == 0 &&
                   file_exists(test_path("made/deep")),
               "output_mkdir_creates_parents", "%.120s", err.msg);
    // An input declared after an output is checked against it too.
    TEST_CHECK(run_files_input(&rf, target, &err) == 0, "input_after_outputs_ok", "%.120s", err.msg);
    write_small_npy(o1, 9);
    TEST_CHECK(run_files_input(&rf, o1, &err) && has("output of this run"), "input_that_is_an_output_refused", "%.120s",
               err.msg);
    run_files_free(&rf);
    // The atomic writer alone also refuses to replace a link or a device.
    TEST_CHECK(npy_write(link_out, NPY_F32, 1, (long[]){2}, (float[]){0, 0}, &err) && has("refusing") &&
                   read_first(target) == 5,
               "atomic_write_keeps_symlink_target", "%.120s", err.msg);
    TEST_CHECK(npy_write("/dev/null", NPY_F32, 1, (long[]){2}, (float[]){0, 0}, &err) && has("refusing"),
               "atomic_write_refuses_device", "%.120s", err.msg);
}

// Staged outputs appear only on publication; abort and exit publish nothing and leave no temporary.
static void test_output_sets(void) {
    const char *sub = test_path("staged");
    CHECK(mkdir(sub, 0700) == 0, "mkdir");
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/a.npy", sub);
    snprintf(b, sizeof b, "%s/b.npy", sub);
    write_small_npy(a, 1);  // an existing output from an earlier run

    RunFiles rf;
    run_files_init(&rf);
    CHECK(run_files_output(&rf, a, RF_STAGED, &err) == 0 && run_files_output(&rf, b, RF_STAGED, &err) == 0, "%s",
          err.msg);
    run_files_begin(&rf);
    write_small_npy(a, 2);
    TEST_CHECK(read_first(a) == 1 && !file_exists(b), "staged_write_not_visible_before_publish", "a %g",
               (double)read_first(a));
    write_small_npy(b, 2);
    TEST_CHECK(run_files_publish(&rf, &err) == 0 && read_first(a) == 2 && read_first(b) == 2 && dir_count(sub) == 2,
               "publish_renames_all_outputs", "%.120s, %d entries", err.msg, dir_count(sub));
    run_files_free(&rf);

    run_files_init(&rf);
    CHECK(run_files_output(&rf, a, RF_STAGED, &err) == 0, "%s", err.msg);
    run_files_begin(&rf);
    write_small_npy(a, 3);
    run_files_abort(&rf);
    TEST_CHECK(read_first(a) == 2 && dir_count(sub) == 2, "abort_publishes_nothing_and_removes_temporaries",
               "a %g, %d entries", (double)read_first(a), dir_count(sub));
    run_files_free(&rf);

    run_files_init(&rf);
    CHECK(run_files_output(&rf, a, RF_STAGED, &err) == 0 && run_files_output(&rf, b, RF_STAGED, &err) == 0, "%s",
          err.msg);
    run_files_begin(&rf);
    write_small_npy(a, 4);
    TEST_CHECK(run_files_publish(&rf, &err) && has("did not write") && read_first(a) == 2 && dir_count(sub) == 2,
               "publish_refuses_when_an_output_is_missing", "%.120s", err.msg);
    run_files_free(&rf);

    // A CLI error exits from where it is found: the staged files must go with it.
    pid_t pid = fork();
    if (pid == 0) {
        RunFiles r;
        run_files_init(&r);
        if (run_files_output(&r, a, RF_STAGED, &err)) _exit(3);
        run_files_begin(&r);
        write_small_npy(a, 5);
        exit(1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    TEST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1 && read_first(a) == 2 && dir_count(sub) == 2,
               "exit_before_publish_leaves_outputs_and_no_temporary", "status %d, %d entries", status, dir_count(sub));
}

// ---------------------------------------------------------------------------
// stale temporaries

static void test_stale_temporaries(void) {
    const char *sub = test_path("stale");
    CHECK(mkdir(sub, 0700) == 0, "mkdir");
    // A process that has exited: its pid is free (until reused, which this test cannot rule out but
    // which only makes the cleanup keep a file).
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char p[1400], t1[1400], t2[1400], live[1400], other[1400], hidden[1400];
    snprintf(p, sizeof p, "%s/x.npy", sub);
    snprintf(t1, sizeof t1, "%s/.x.npy.tmp.%d.0", sub, (int)dead);
    snprintf(t2, sizeof t2, "%s/.x.npy.tmp.%d", sub, (int)dead);
    snprintf(live, sizeof live, "%s/.x.npy.tmp.%d.1", sub, (int)getppid());
    snprintf(other, sizeof other, "%s/.y.npy.tmp.%d.0", sub, (int)dead);
    snprintf(hidden, sizeof hidden, "%s/.x.npy.tmp.%d.0x", sub, (int)dead);
    const char *files[] = {t1, t2, live, other, hidden};
    for (int i = 0; i < 5; i++) CHECK(file_write_bytes(files[i], "junk", 4) == 0, "write %s", files[i]);
    write_small_npy(p, 1);
    TEST_CHECK(!file_exists(t1) && !file_exists(t2), "stale_temporaries_of_dead_writer_removed", "%.120s %.120s", t1, t2);
    TEST_CHECK(file_exists(live) && file_exists(other) && file_exists(hidden) && dir_count(sub) == 4,
               "live_and_unrelated_temporaries_kept", "%d entries", dir_count(sub));
    char *name = lz_temp_name(p, 3);
    char want[1400];
    snprintf(want, sizeof want, "%s/.x.npy.tmp.%d.3", sub, (int)getpid());
    TEST_CHECK(!strcmp(name, want), "temporary_name_format", "%.120s", name);
    free(name);
    name = lz_temp_name("bare.npy", 0);
    snprintf(want, sizeof want, ".bare.npy.tmp.%d.0", (int)getpid());
    TEST_CHECK(!strcmp(name, want), "temporary_name_without_directory", "%.120s", name);
    free(name);
}

// ---------------------------------------------------------------------------
// integers and non-finite values

static void test_numbers(void) {
    struct {
        const char *text;
        long min, max;
        int ok;
        long want;
    } cases[] = {
        {"12", 0, 100, 1, 12},  {"-4", -10, 10, 1, -4},      {"007", 0, 10, 1, 7},
        {"12x", 0, 100, 0, 0},  {" 1", 0, 10, 0, 0},         {"1 ", 0, 10, 0, 0},
        {"+1", 0, 10, 0, 0},    {"", 0, 10, 0, 0},           {"-", -10, 10, 0, 0},
        {"2junk", 0, 10, 0, 0}, {"4294967297", INT_MIN, INT_MAX, 0, 0},
        {"-4", 1, 256, 0, 0},   {"9223372036854775807", LONG_MIN, LONG_MAX, 1, LONG_MAX},
        {"9223372036854775808", LONG_MIN, LONG_MAX, 0, 0},  {"-9223372036854775808", LONG_MIN, LONG_MAX, 1, LONG_MIN},
        {"-9223372036854775809", LONG_MIN, LONG_MAX, 0, 0}, {"1e3", 0, 10000, 0, 0}, {"0x10", 0, 100, 0, 0},
    };
    int bad = -1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && bad < 0; i++) {
        long v = -12345;
        int ok = lz_parse_long(cases[i].text, cases[i].min, cases[i].max, &v) == 0;
        if (ok != cases[i].ok || (ok && v != cases[i].want)) bad = (int)i;
    }
    TEST_CHECK(bad < 0, "parse_long_whole_and_in_range", "case '%.120s'", bad >= 0 ? cases[bad].text : "");
    uint64_t u;
    TEST_CHECK(lz_parse_u64("18446744073709551615", UINT64_MAX, &u) == 0 && u == UINT64_MAX &&
                   lz_parse_u64("18446744073709551616", UINT64_MAX, &u) && lz_parse_u64("-1", UINT64_MAX, &u) &&
                   lz_parse_u64("7junk", UINT64_MAX, &u),
               "parse_u64_whole_and_in_range", " ");
    float x[4] = {1, 2, 3, 4};
    int fin = lz_check_finite("f", "w", x, 4, &err) == 0;
    x[2] = NAN;
    int nan = lz_check_finite("f", "w", x, 4, &err) && has("element 2 is NaN");
    x[2] = -INFINITY;
    int inf = lz_check_finite("f", "w", x, 4, &err) && has("-inf");
    TEST_CHECK(fin && nan && inf, "check_finite_names_element", "%.120s", err.msg);
}

// ---------------------------------------------------------------------------
// JSON configs

static int json_fails(const char *text, const char *needle, size_t len) {
    const char *p = test_path("cfg.json");
    CHECK(file_write_bytes(p, text, len ? len : strlen(text)) == 0, "write");
    cJSON *root = jc_load_file(p, &err);
    if (!root) return strstr(err.msg, needle) != NULL;
    long lv = 0;
    double dv = 0;
    JcField f[] = {{"n", JC_LONG, &lv, false, 0, -1}, {"x", JC_DOUBLE, &dv, false, 0, -1}};
    int rc = jc_read_object(root, "cfg", f, 2, &err);
    cJSON_Delete(root);
    return rc && strstr(err.msg, needle) != NULL;
}

static void test_json(void) {
    TEST_CHECK(json_fails("{\"n\": 9007199254740993}", "2^53", 0), "json_integer_beyond_2_53_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"n\": -9007199254740992}", "2^53", 0), "json_negative_integer_beyond_2_53_refused", "%.120s",
               err.msg);
    TEST_CHECK(json_fails("{\"n\": 1e300}", "integer", 0), "json_huge_integer_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"x\": 1e999}", "finite", 0), "json_infinite_number_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"x\": -1e400}", "finite", 0), "json_negative_infinite_number_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"n\": 1}\0{\"n\": 2}", "NUL", 18), "json_nul_byte_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"s\": \"\xff\xfe\"}", "UTF-8", 0), "json_invalid_utf8_refused", "%.120s", err.msg);
    TEST_CHECK(json_fails("{\"s\": \"\xed\xa0\x80\"}", "UTF-8", 0), "json_utf8_surrogate_refused", "%.120s", err.msg);
    TEST_CHECK(!json_fails("{\"n\": 9007199254740991, \"x\": 1e300}", "", 0), "json_largest_exact_values_accepted",
               "%.120s", err.msg);
}

// ---------------------------------------------------------------------------
// sizes bounded by the file

static DitConfig tiny_dit(void) {
    return (DitConfig){.input_size = 4, .patch = 2, .in_channels = 1, .hidden = 4, .depth = 1, .heads = 2,
                       .num_classes = 2, .learn_sigma = 1, .mlp_hidden = 16, .freq_dim = 256};
}

// Rewrites src with extra tensors / metadata and some values replaced.
typedef struct {
    const char *name;
    long shape0;
} Extra;

static void write_dit_variant(const char *dst, const char *const *keys, const char *const *vals, int nmeta,
                              const Extra *extra, int nextra, float poison) {
    DitConfig c = tiny_dit();
    DitTensorTable t;
    dit_tensor_table_build(&t, &c);
    float *base = lz_calloc((size_t)t.total, sizeof(float), "params");
    dit_init_random(base, &c, 3);
    base[5] = base[5] * (poison == poison ? 1 : 0) + (poison == poison ? 0 : poison);
    if (isinf(poison)) base[5] = poison;
    StWriteTensor *w = lz_calloc((size_t)(t.ntensors + nextra), sizeof *w, "write list");
    long zero[1] = {0};
    int n = 0;
    for (int i = 0; i < t.ntensors; i++)
        w[n++] = (StWriteTensor){t.tensors[i].name, t.tensors[i].ndim, t.tensors[i].shape, base + t.tensors[i].offset};
    for (int i = 0; i < nextra; i++) w[n++] = (StWriteTensor){extra[i].name, 1, zero, NULL};
    CHECK(st_write(dst, w, n, keys, vals, nmeta, &err) == 0, "%s", err.msg);
    free(w);
    free(base);
    dit_tensor_table_free(&t);
}

static void test_dit_loader(void) {
    const char *p = test_path("dit.safetensors");
    DitConfig c;
    float *params = NULL;
    const char *k[] = {"num_heads"}, *v2[] = {"2"};
    write_dit_variant(p, k, v2, 1, NULL, 0, 0);
    TEST_CHECK(dit_load(p, 0, &c, &params, &err) == 0 && c.depth == 1 && c.heads == 2, "dit_tiny_loads", "%.120s",
               err.msg);
    free(params);
    // Block indices far beyond the tensor count: refused at once, whatever the number.
    const char *big[] = {"blocks.1000000.x", "blocks.2147483648.attn.qkv.weight", "blocks.99999999999999.y",
                         "blocks.1.x"};
    for (int i = 0; i < 4; i++) {
        Extra e = {big[i], 0};
        write_dit_variant(p, k, v2, 1, &e, 1, 0);
        double t0 = lz_now_seconds();
        int rc = dit_load(p, 0, &c, &params, &err);
        double dt = lz_now_seconds() - t0;
        char name[96];
        snprintf(name, sizeof name, "dit_block_index_%s_refused_fast", i < 3 ? big[i] + 7 : "1_incomplete");
        TEST_CHECK(rc && (has("block index") || has("unexpected") || has("parameters but the file")) && dt < 0.5, name,
                   "rc %d in %.2fs: %.120s", rc, dt, err.msg);
    }
    const char *junk[] = {"2junk", "-2", " 2", "4294967298", "", "3"};
    for (int i = 0; i < 6; i++) {
        const char *vv[] = {junk[i]};
        write_dit_variant(p, k, vv, 1, NULL, 0, 0);
        int rc = dit_load(p, 0, &c, &params, &err);
        char name[96];
        snprintf(name, sizeof name, "dit_num_heads_'%s'_refused", junk[i]);
        TEST_CHECK(rc && (has("num_heads") || has("divisible")), name, "%.120s", err.msg);
    }
    float poisons[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        write_dit_variant(p, k, v2, 1, NULL, 0, poisons[i]);
        int rc = dit_load(p, 0, &c, &params, &err);
        int strict = rc && has("not finite") && has("x_embedder");
        int allowed = dit_load_ex(p, 0, DIT_LOAD_ALLOW_NONFINITE, &c, &params, NULL, &err) == 0;
        if (allowed) free(params);
        char name[64];
        snprintf(name, sizeof name, "dit_nonfinite_weight_%d_refused_unless_allowed", i);
        TEST_CHECK(strict && allowed, name, "%.120s", err.msg);
    }
}

static void test_classifier_loader(void) {
    const char *p = test_path("cls.safetensors");
    ClassifierConfig cfg = {.in_c = 1, .h = 4, .w = 4, .c1 = 1, .c2 = 1, .c3 = 1, .hidden = 2, .num_classes = 2};
    Classifier *m = classifier_create(&cfg, 1, 0);
    classifier_init(m, 1);
    CHECK(classifier_save(m, p, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    Classifier *back = classifier_load(p, 1, &err);
    TEST_CHECK(back != NULL, "classifier_tiny_loads", "%.120s", err.msg);
    classifier_free(back);
    // Metadata that claims a huge network with the same small tensors: refused
    // before anything is allocated (no "out of memory"), whatever the numbers.
    StFile f;
    CHECK(st_read(p, &f, &err) == 0, "%s", err.msg);
    const char *huge[][2] = {{"height", "1000000"}, {"c1", "999999"}, {"hidden", "1000000"}, {"height", " 4"},
                             {"width", "4x"},       {"c3", "-1"},     {"num_classes", "1"}};
    for (int h = 0; h < 7; h++) {
        const char *keys[16], *vals[16];
        for (int i = 0; i < f.nmeta; i++) {
            keys[i] = f.meta_keys[i];
            vals[i] = strcmp(f.meta_keys[i], huge[h][0]) ? f.meta_values[i] : huge[h][1];
        }
        StWriteTensor w[CLASSIFIER_NUM_PARAM_TENSORS];
        for (int i = 0; i < f.ntensors; i++)
            w[i] = (StWriteTensor){f.tensors[i].name, f.tensors[i].ndim, f.tensors[i].shape, f.tensors[i].data};
        const char *q = test_path("cls_bad.safetensors");
        CHECK(st_write(q, w, f.ntensors, keys, vals, f.nmeta, &err) == 0, "%s", err.msg);
        back = classifier_load(q, 256, &err);
        char name[96];
        snprintf(name, sizeof name, "classifier_metadata_%s=%s_refused", huge[h][0], huge[h][1]);
        TEST_CHECK(!back && has(q) && !has("out of memory"), name, "%.120s", err.msg);
        classifier_free(back);
    }
    st_free(&f);
    m->params_memory[3] = NAN;
    CHECK(classifier_save(m, p, NULL, NULL, 0, &err) == 0, "%s", err.msg);
    back = classifier_load(p, 1, &err);
    TEST_CHECK(!back && has("not finite") && has("conv1.weight"), "classifier_nan_weight_refused", "%.120s", err.msg);
    classifier_free(m);
}

// 100k metadata keys (sorted once, found by bisection) must not take seconds.
static void test_many_metadata_keys(void) {
    const int n = 100000;
    char **keys = lz_malloc(sizeof(char *) * n, "keys");
    const char **vals = lz_malloc(sizeof(char *) * n, "vals");
    for (int i = 0; i < n; i++) {
        keys[i] = lz_malloc(16, "key");
        snprintf(keys[i], 16, "k%07d", (i * 7919) % n);
        vals[i] = "v";
    }
    const char *p = test_path("meta.safetensors");
    CHECK(st_write(p, NULL, 0, (const char *const *)keys, vals, n, &err) == 0, "%s", err.msg);
    double t0 = lz_now_seconds();
    StFile f;
    int rc = st_read(p, &f, &err);
    double dt = lz_now_seconds() - t0;
    int found = rc == 0 && st_meta(&f, "k0012345") && !st_meta(&f, "k") && f.nmeta == n;
    TEST_CHECK(found && dt < 2.0, "hundred_thousand_metadata_keys_fast", "rc %d, %.2fs: %.120s", rc, dt, err.msg);
    if (rc == 0) st_free(&f);
    // The same with one duplicate key among them.
    const char *pd = test_path("meta_dup.safetensors");
    FILE *fp = fopen(pd, "wb");
    size_t cap = (size_t)n * 20 + 64, len = 0;
    char *h = lz_malloc(cap, "header");
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{");
    for (int i = 0; i < n; i++) len += (size_t)snprintf(h + len, cap - len, "%s\"k%07d\":\"v\"", i ? "," : "", i);
    len += (size_t)snprintf(h + len, cap - len, ",\"k0050000\":\"w\"}}");
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(lenbuf, 1, 8, fp);
    fwrite(h, 1, len, fp);
    fclose(fp);
    t0 = lz_now_seconds();
    rc = st_read(pd, &f, &err);
    dt = lz_now_seconds() - t0;
    TEST_CHECK(rc && has("duplicate __metadata__ key 'k0050000'") && dt < 2.0, "duplicate_among_many_keys_fast",
               "rc %d, %.2fs: %.120s", rc, dt, err.msg);
    free(h);
    for (int i = 0; i < n; i++) free(keys[i]);
    free(keys);
    free(vals);
}

static void write_idx(const char *path, const unsigned char *head, size_t hn, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    fwrite(head, 1, hn, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
}

static void test_idx_sizes(void) {
    const char *p = test_path("big.idx");
    // 3 dims of 60000 x 60000 x 250 = 9e11 bytes claimed by a 20-byte file.
    unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60, 0, 0, 0, 0xfa};
    write_idx(p, h, 16, 4);
    IdxArray a;
    double t0 = lz_now_seconds();
    int rc = idx_read(p, &a, &err);
    TEST_CHECK(rc && has("truncated") && lz_now_seconds() - t0 < 0.5, "idx_huge_header_refused_before_allocation", "%.120s",
               err.msg);
    unsigned char h2[12] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    write_idx(p, h2, 12, 5);
    TEST_CHECK(idx_read(p, &a, &err) && has("trailing"), "idx_trailing_byte_refused", "%.120s", err.msg);
    write_idx(p, h2, 12, 4);
    TEST_CHECK(idx_read(p, &a, &err) == 0 && a.count == 4, "idx_exact_size_accepted", "%.120s", err.msg);
    idx_free(&a);
    // IDX images too wide for the dataset's int sides.
    unsigned char h3[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1};
    write_idx(p, h3, 16, 65537);
    Dataset ds;
    TEST_CHECK(dataset_load_idx(&ds, p, NULL, &err) && has("65536"), "dataset_idx_side_bounded", "%.120s", err.msg);
}

static void test_dataset_nonfinite(void) {
    const char *p = test_path("imgs.npy");
    float x[2 * 4] = {0, 0.5f, -1, 1, 0, 0, 0, 0};
    x[6] = NAN;
    CHECK(npy_write(p, NPY_F32, 3, (long[]){2, 2, 2}, x, &err) == 0, "%s", err.msg);
    Dataset ds;
    TEST_CHECK(dataset_load_npy(&ds, p, NULL, &err) && has("not finite") && has("element 6"),
               "dataset_nan_pixel_refused", "%.120s", err.msg);
    double big[8] = {0, 0, 0, 0, 0, 0, 0, 1e300};
    CHECK(npy_write(p, NPY_F64, 3, (long[]){2, 2, 2}, big, &err) == 0, "%s", err.msg);
    TEST_CHECK(dataset_load_npy(&ds, p, NULL, &err) && has("inf"), "dataset_float64_overflow_refused", "%.120s", err.msg);
}

// ---------------------------------------------------------------------------
// training resume metadata

static DitTrainer tr;

static void rewrite_checkpoint(const char *src, const char *dst, const char *key, const char *value, int poison_tensor,
                               float poison) {
    StFile f;
    CHECK(st_read(src, &f, &err) == 0, "%s", err.msg);
    const char *keys[16], *vals[16];
    for (int i = 0; i < f.nmeta; i++) {
        keys[i] = f.meta_keys[i];
        vals[i] = key && !strcmp(key, f.meta_keys[i]) ? value : f.meta_values[i];
    }
    StWriteTensor w[8];
    for (int i = 0; i < f.ntensors; i++) {
        w[i] = (StWriteTensor){f.tensors[i].name, f.tensors[i].ndim, f.tensors[i].shape, f.tensors[i].data};
        if (i == poison_tensor) f.tensors[i].data[1] = poison;
    }
    CHECK(st_write(dst, w, f.ntensors, keys, vals, f.nmeta, &err) == 0, "%s", err.msg);
    st_free(&f);
}

static void test_resume_metadata(void) {
    DitConfig c = tiny_dit();
    DitTrainHyper hp = {.batch = 2, .lr = 1e-3, .ema_decay = 0.99, .class_dropout = 0.1, .seed = 7};
    float *params = lz_calloc((size_t)dit_param_count(&c), sizeof(float), "params");
    dit_init_official(params, &c, 1);
    dit_trainer_init(&tr, &c, params, &hp, 2);
    tr.step = 2;
    char ck[1400], bad[1400];
    snprintf(ck, sizeof ck, "%s", test_path("ckpt.safetensors"));
    snprintf(bad, sizeof bad, "%s", test_path("ckpt_bad.safetensors"));
    CHECK(dit_trainer_save(&tr, ck, "{}", &err) == 0, "%s", err.msg);
    tr.step = 0;
    TEST_CHECK(dit_trainer_load(&tr, ck, 10, &err) == 0 && tr.step == 2, "resume_valid_checkpoint", "%.120s", err.msg);
    struct {
        const char *key, *value, *needle, *name;
    } cases[] = {
        {"step", "-1", "step", "resume_negative_step_refused"},
        {"step", "11", "step", "resume_step_beyond_run_refused"},
        {"step", "2x", "step", "resume_step_not_a_number_refused"},
        {"step", "", "step", "resume_empty_step_refused"},
        {"step", "99999999999999999999", "step", "resume_step_overflow_refused"},
        {"seed", "7junk", "seed", "resume_seed_with_junk_refused"},
        {"seed", "8", "differs", "resume_other_seed_refused"},
        {"model", "input 4 patch 2 channels 1 hidden 4 depth 1 heads 1 classes 2 sigma 1", "model",
         "resume_other_model_refused"},
        {"format", "something", "not a lazydit training checkpoint", "resume_other_format_refused"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rewrite_checkpoint(ck, bad, cases[i].key, cases[i].value, -1, 0);
        tr.step = 0;
        int rc = dit_trainer_load(&tr, bad, 10, &err);
        TEST_CHECK(rc && has(cases[i].needle) && has(bad) && tr.step == 0, cases[i].name, "rc %d: %.120s", rc, err.msg);
    }
    // Tensors sorted by name: adam_m, adam_v, ema, params.
    rewrite_checkpoint(ck, bad, NULL, NULL, 3, NAN);
    TEST_CHECK(dit_trainer_load(&tr, bad, 10, &err) && has("params") && has("not finite"), "resume_nan_params_refused",
               "%.120s", err.msg);
    rewrite_checkpoint(ck, bad, NULL, NULL, 1, -1.0f);
    TEST_CHECK(dit_trainer_load(&tr, bad, 10, &err) && has("adam_v") && has("negative"),
               "resume_negative_second_moment_refused", "%.120s", err.msg);
    dit_trainer_free(&tr);
}

int main(void) {
    test_dir_make("test_robust");
    test_inputs();
    test_outputs();
    test_output_sets();
    test_stale_temporaries();
    test_numbers();
    test_json();
    test_dit_loader();
    test_classifier_loader();
    test_many_metadata_keys();
    test_idx_sizes();
    test_dataset_nonfinite();
    test_resume_metadata();
    test_dir_remove();
    return test_finish();
}
