// Experiment configs: the cartesian expansion (order, names, values), the
// canonical config hash, shards, and every class of config error with the
// JSON path it must name.
#include <stdlib.h>
#include <string.h>

#include "experiments/experiment.h"
#include "tests/test.h"

#define BASE "\"name\": \"t\", \"model\": \"m.safetensors\", \"n_samples\": 4, "

static void expect_error(const char *label, const char *text, const char *want) {
    Experiment e;
    LzError err = {{0}};
    int rc = experiment_parse(&e, text, "x.json", &err);
    if (rc == 0) experiment_free(&e);
    int ok = rc != 0 && strstr(err.msg, want) != NULL && !strncmp(err.msg, "x.json: ", 8) && !strchr(err.msg, '\n');
    char name[160];
    snprintf(name, sizeof name, "config_error_%s", label);
    TEST_CHECK(ok, name, "rc %d, message '%.300s', expected it to contain '%.100s'", rc, err.msg, want);
}

static void test_errors(void) {
    expect_error("invalid_json", "{\"name\": ", "invalid JSON near line 1");
    expect_error("not_object", "[1, 2]", "the config must be a JSON object");
    // unknown keys, at every level
    expect_error("unknown_top_key", "{" BASE "\"polcy\": {}, \"runs\": [{\"name\": \"a\"}]}", "polcy: unknown key (known: ");
    expect_error("unknown_group_key", "{" BASE "\"runs\": [{\"name\": \"a\"}, {\"name\": \"b\", \"stpes\": 5}]}",
                 "runs[1].stpes: unknown key");
    expect_error("unknown_metrics_key", "{" BASE "\"metrics\": {\"compute\": [], \"boot\": 2}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.boot: unknown key");
    expect_error("unknown_policy_option",
                 "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": [{\"name\": \"fora\", \"interval\": 2}, "
                 "{\"name\": \"fora\", \"intervall\": 3}]}]}",
                 "runs[0].policy[1].intervall: unknown option of policy fora");
    expect_error("unknown_policy", "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": {\"name\": \"nope\"}}]}",
                 "runs[0].policy.name: unknown policy 'nope'");
    // duplicate keys
    expect_error("duplicate_key", "{" BASE "\"runs\": [{\"name\": \"a\", \"steps\": 5, \"steps\": 6}]}",
                 "runs[0].steps: given twice");
    // missing fields
    expect_error("missing_name", "{\"model\": \"m\", \"n_samples\": 4, \"runs\": [{\"name\": \"a\"}]}", "name: missing");
    expect_error("missing_model", "{\"name\": \"t\", \"n_samples\": 4, \"runs\": [{\"name\": \"a\"}]}", "model: missing");
    expect_error("missing_n_samples", "{\"name\": \"t\", \"model\": \"m\", \"runs\": [{\"name\": \"a\"}]}",
                 "n_samples: missing");
    expect_error("missing_runs", "{" BASE "\"steps\": 5}", "runs: missing");
    expect_error("missing_group_name", "{" BASE "\"runs\": [{\"steps\": 5}]}", "runs[0].name: missing");
    expect_error("missing_metric_list", "{" BASE "\"metrics\": {\"bootstrap\": 0}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.compute: missing");
    expect_error("missing_required_policy_option", "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": {\"name\": \"fora\"}}]}",
                 "runs[0].policy: policy fora: --interval is required");
    // wrong types
    expect_error("type_n_samples", "{\"name\": \"t\", \"model\": \"m\", \"n_samples\": \"4\", \"runs\": [{\"name\": \"a\"}]}",
                 "n_samples: must be an integer between 1 and 10000000");
    expect_error("type_float_for_int", "{" BASE "\"batch\": 2.5, \"runs\": [{\"name\": \"a\"}]}",
                 "batch: must be an integer between 1 and 4096");
    expect_error("type_bool", "{" BASE "\"record_rows\": 1, \"runs\": [{\"name\": \"a\"}]}",
                 "record_rows: must be true or false");
    expect_error("type_model", "{\"name\": \"t\", \"model\": 3, \"n_samples\": 4, \"runs\": [{\"name\": \"a\"}]}",
                 "model: must be a non-empty string");
    expect_error("type_runs", "{" BASE "\"runs\": {\"name\": \"a\"}}", "runs: must be a non-empty list of run groups");
    expect_error("type_group", "{" BASE "\"runs\": [5]}", "runs[0]: must be an object");
    expect_error("type_sweep_object", "{" BASE "\"runs\": [{\"name\": \"a\", \"steps\": {\"n\": 5}}]}",
                 "runs[0].steps: must be an integer or a list of them");
    expect_error("type_sweep_item", "{" BASE "\"runs\": [{\"name\": \"a\", \"cfg_scale\": [1.5, \"2\"]}]}",
                 "runs[0].cfg_scale[1]: must be a finite number >= 0");
    expect_error("type_policy", "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": \"fora\"}]}",
                 "runs[0].policy: must be a policy object");
    expect_error("type_policy_option", "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": {\"name\": \"fora\", \"interval\": \"2\"}}]}",
                 "runs[0].policy.interval: must be a number");
    expect_error("type_top_default", "{" BASE "\"seed\": [0, -1], \"runs\": [{\"name\": \"a\", \"seed\": 3}]}",
                 "seed[1]: must be an integer between 0 and 9007199254740991");
    // ranges and values
    expect_error("range_steps_in_list",
                 "{" BASE "\"runs\": [{\"name\": \"a\"}, {\"name\": \"b\"}, {\"name\": \"c\", \"steps\": [10, 0]}]}",
                 "runs[2].steps[1]: must be an integer between 1 and 1000");
    expect_error("range_steps_high", "{" BASE "\"steps\": 1001, \"runs\": [{\"name\": \"a\"}]}",
                 "steps: must be an integer between 1 and 1000");
    expect_error("range_eta", "{" BASE "\"runs\": [{\"name\": \"a\", \"eta\": -0.1}]}", "runs[0].eta: must be a finite number >= 0");
    expect_error("range_policy_option", "{" BASE "\"runs\": [{\"name\": \"a\", \"policy\": {\"name\": \"random\", \"rate\": 1.5}}]}",
                 "runs[0].policy.rate: policy random: --rate: 1.5 is outside [0, 1]");
    expect_error("empty_list", "{" BASE "\"runs\": [{\"name\": \"a\", \"seed\": []}]}",
                 "runs[0].seed: must be an integer or a non-empty list of them");
    expect_error("empty_runs", "{" BASE "\"runs\": []}", "runs: must be a non-empty list of run groups");
    expect_error("bad_respacing", "{" BASE "\"runs\": [{\"name\": \"a\", \"respacing\": \"uniform\"}]}",
                 "runs[0].respacing: must be \"even\"");
    expect_error("impossible_ddim_respacing", "{" BASE "\"runs\": [{\"name\": \"a\", \"respacing\": \"ddim\", \"steps\": 999}]}",
                 "runs[0]: run \"a\": respacing 'ddim999'");
    expect_error("bad_sampler", "{" BASE "\"sampler\": \"euler\", \"runs\": [{\"name\": \"a\"}]}",
                 "sampler: must be \"ddim\" or \"ddpm\"");
    expect_error("eta_with_ddpm", "{" BASE "\"runs\": [{\"name\": \"a\", \"sampler\": \"ddpm\", \"eta\": 0.5}]}",
                 "eta 0.5 applies to sampler \"ddim\" only");
    expect_error("bad_labels", "{" BASE "\"labels\": \"sorted\", \"runs\": [{\"name\": \"a\"}]}", "labels: must be \"cycle\"");
    expect_error("bad_name", "{\"name\": \"a b\", \"model\": \"m\", \"n_samples\": 4, \"runs\": [{\"name\": \"a\"}]}",
                 "name: must be a name of letters, digits");
    expect_error("bad_group_name", "{" BASE "\"runs\": [{\"name\": \"a/b\"}]}", "runs[0].name: must be a name of letters");
    expect_error("duplicate_run_names", "{" BASE "\"runs\": [{\"name\": \"a\"}, {\"name\": \"a\", \"steps\": 5}]}",
                 "runs[1]: run name \"a\" is also produced by runs[0]");
    expect_error("unknown_metric", "{" BASE "\"metrics\": {\"compute\": [\"fid\", \"fidd\"]}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.compute[1]: must be one of fid, sfid");
    expect_error("metric_twice", "{" BASE "\"metrics\": {\"compute\": [\"kid\", \"kid\"]}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.compute[1]: \"kid\" is listed twice");
    expect_error("bootstrap_one", "{" BASE "\"metrics\": {\"compute\": [], \"bootstrap\": 1}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.bootstrap: give 0");
    expect_error("metrics_need_samples", "{" BASE "\"metrics\": {\"compute\": [\"fid\"]}, \"runs\": [{\"name\": \"a\"}]}",
                 "n_samples: 4 samples: the image metrics need at least 10");
    expect_error("sample_features_need_fid",
                 "{" BASE "\"metrics\": {\"compute\": [\"kid\"], \"sample_features\": true}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.sample_features: stores the FID-proxy features: add \"fid\" to metrics.compute");
    expect_error("type_sample_features",
                 "{" BASE "\"metrics\": {\"compute\": [\"fid\"], \"sample_features\": 1}, \"runs\": [{\"name\": \"a\"}]}",
                 "metrics.sample_features: must be true or false");
    // a sweep too large to be meant
    char big[16384];
    int used = snprintf(big, sizeof big, "{" BASE "\"runs\": [{\"name\": \"a\", \"seed\": [");
    for (int i = 0; i < 1001; i++) used += snprintf(big + used, sizeof big - (size_t)used, "%s%d", i ? "," : "", i);
    used += snprintf(big + used, sizeof big - (size_t)used, "], \"steps\": [");
    for (int i = 1; i <= 101; i++) used += snprintf(big + used, sizeof big - (size_t)used, "%s%d", i > 1 ? "," : "", i);
    snprintf(big + used, sizeof big - (size_t)used, "]}]}");
    expect_error("too_many_runs", big, "runs[0]: the experiment expands to more than 100000 runs");
    // Four lists of 2^16 values: the product 2^64 must be refused, not wrapped
    // to 0 (which let the expansion write past its run table).
    const char *const fields[4] = {"steps", "seed", "eta", "cfg_scale"};
    const size_t cap = 4 * 65536 * 2 + 256;
    char *huge = malloc(cap);
    used = snprintf(huge, cap, "{" BASE "\"runs\": [{\"name\": \"a\"");
    for (int f = 0; f < 4; f++) {
        used += snprintf(huge + used, cap - (size_t)used, ", \"%s\": [", fields[f]);
        for (int i = 0; i < 65536; i++) huge[used++] = i ? ',' : ' ', huge[used++] = '1';
        huge[used++] = ']';
    }
    snprintf(huge + used, cap - (size_t)used, "}]}");
    expect_error("sweep_product_wraps", huge, "runs[0]: the experiment expands to more than 100000 runs");
    free(huge);
}

static void test_expansion(void) {
    const char *text =
        "{\"name\": \"sweep\", \"model\": \"m.safetensors\", \"n_samples\": 40, \"batch\": 64, \"seed\": [1, 2],\n"
        " \"cfg_scale\": 1.5, \"runs\": [\n"
        "  {\"name\": \"ddim\", \"steps\": [10, 20], \"respacing\": \"ddim\"},\n"
        "  {\"name\": \"fora\", \"policy\": [{\"name\": \"fora\", \"interval\": 2}, {\"name\": \"fora\", \"modules\": "
        "\"mlp\", \"interval\": 3}], \"seed\": 7, \"cfg_scale\": [1, 4]}]}";
    Experiment e;
    LzError err = {{0}};
    int rc = experiment_parse(&e, text, "x.json", &err);
    TEST_CHECK(rc == 0, "config_parses", "%s", err.msg);
    if (rc) return;
    static const char *const names[] = {
        "ddim/steps=10/seed=1", "ddim/steps=10/seed=2", "ddim/steps=20/seed=1", "ddim/steps=20/seed=2",
        "fora/policy=fora(interval=2)/cfg_scale=1", "fora/policy=fora(interval=2)/cfg_scale=4",
        "fora/policy=fora(modules=mlp,interval=3)/cfg_scale=1", "fora/policy=fora(modules=mlp,interval=3)/cfg_scale=4"};
    int ok = e.n_runs == 8;
    for (int i = 0; ok && i < 8; i++) ok = !strcmp(e.runs[i].name, names[i]) && e.runs[i].index == i;
    TEST_CHECK(ok, "config_expansion_order_and_names", "%d runs; run 4 '%s'", e.n_runs, e.n_runs > 4 ? e.runs[4].name : "");
    const ExpRun *r = &e.runs[2], *f = &e.runs[7];
    ok = r->steps == 20 && !strcmp(r->respacing, "ddim20") && r->seed == 1 && r->cfg_scale == 1.5 &&
         r->sampler == SAMPLER_DDIM && f->seed == 7 && f->cfg_scale == 4 && !strcmp(f->respacing, "50") &&
         strstr(f->policy_json, "\"modules\":\"mlp\"") && strstr(f->policy_json, "\"interval\":3") &&
         strstr(r->policy_json, "\"name\":\"ddim\"") && e.batch == 40 && e.n_samples == 40;
    TEST_CHECK(ok, "config_expansion_values", "run 3: steps %d respacing %s seed %llu; run 8 policy %s", r->steps,
               r->respacing, (unsigned long long)r->seed, f->policy_json);
    TEST_CHECK(strstr(r->config_json, "\"respacing\":\"ddim20\"") && strstr(r->config_json, "\"seed\":1"),
               "config_run_json", "%s", r->config_json);
    // Whitespace does not change the config hash; a value does.
    char sha[65];
    memcpy(sha, e.config_sha256, sizeof sha);
    experiment_free(&e);
    char spaced[2048], changed[2048];
    snprintf(spaced, sizeof spaced, "\n\n  %s  \n", text);
    snprintf(changed, sizeof changed, "%s", text);
    *strstr(changed, "[10, 20]") = '[';
    memcpy(strstr(changed, "10, 20]"), "10, 30]", 7);
    CHECK(experiment_parse(&e, spaced, "x.json", &err) == 0, "%s", err.msg);
    int same = !strcmp(sha, e.config_sha256);
    experiment_free(&e);
    CHECK(experiment_parse(&e, changed, "x.json", &err) == 0, "%s", err.msg);
    int differs = strcmp(sha, e.config_sha256) != 0;
    experiment_free(&e);
    TEST_CHECK(same && differs, "config_sha256_canonical", "same %d differs %d", same, differs);
}

static void test_shards(void) {
    int i = -1, n = -1;
    LzError err;
    TEST_CHECK(experiment_parse_shard("1/3", &i, &n, &err) == 0 && i == 1 && n == 3, "shard_parse", "%d/%d", i, n);
    static const char *const bad[] = {"3/3", "0/0", "-1/2", "1/2x", "a/b", "2", ""};
    int rejected = 0;
    for (int k = 0; k < 7; k++) rejected += experiment_parse_shard(bad[k], &i, &n, &err) != 0;
    TEST_CHECK(rejected == 7 && strstr(err.msg, "--shard"), "shard_parse_errors", "%d of 7 rejected: %.300s", rejected, err.msg);
    // Every run in exactly one shard.
    ExpRun runs[10];
    int count[3] = {0};
    for (int k = 0; k < 10; k++) {
        runs[k].index = k;
        for (int s = 0; s < 3; s++) count[s] += experiment_in_shard(&runs[k], s, 3);
    }
    TEST_CHECK(count[0] + count[1] + count[2] == 10 && count[0] == 4 && count[2] == 3, "shard_partition", "%d %d %d",
               count[0], count[1], count[2]);
}

// The top-level "gates" fills in the gates file of every policy that takes
// one and does not name its own; other policies are left alone.
static void test_gates_default(void) {
    const char *text =
        "{\"name\": \"g\", \"model\": \"m.safetensors\", \"gates\": \"top.safetensors\", \"n_samples\": 4,"
        " \"runs\": [{\"name\": \"lazy\", \"policy\": [{\"name\": \"lazydit\"}, {\"name\": \"lazydit\", \"gates\":"
        " \"own.safetensors\"}]}, {\"name\": \"fora\", \"policy\": {\"name\": \"fora\", \"interval\": 2}}]}";
    Experiment e;
    LzError err = {{0}};
    int rc = experiment_parse(&e, text, "x.json", &err);
    TEST_CHECK(rc == 0, "config_gates_parses", "%s", err.msg);
    if (rc) return;
    int ok = e.n_runs == 3 && strstr(e.runs[0].policy_json, "\"gates\":\"top.safetensors\"") &&
             strstr(e.runs[1].policy_json, "\"gates\":\"own.safetensors\"") && !strstr(e.runs[2].policy_json, "gates");
    TEST_CHECK(ok, "config_gates_default_filled_in", "%s | %s | %s", e.n_runs > 0 ? e.runs[0].policy_json : "",
               e.n_runs > 1 ? e.runs[1].policy_json : "", e.n_runs > 2 ? e.runs[2].policy_json : "");
    experiment_free(&e);
}

int main(void) {
    test_errors();
    test_expansion();
    test_shards();
    test_gates_default();
    return test_finish();
}
