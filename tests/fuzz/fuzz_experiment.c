// Fuzz target: the `lazydit run` experiment config (experiments/experiment.h):
// file reading with its size, NUL and UTF-8 rules, the JSON parser, the strict
// top-level, metrics and group tables, the sweep expansion with its run names
// and per-run checks, and every policy object through policy_create_json.
#include <cjson/cJSON.h>

#include "experiments/experiment.h"
#include "tests/fuzz/fuzz_util.h"

// A resolved JSON string of a run must parse back.
static void parses(const char *text) {
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    if (!back) abort();
    cJSON_Delete(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LzError err;
    Experiment e;
    if (experiment_load(&e, fuzz_file(data, size), &err) == 0) {
        // A loaded experiment is consistent: runs numbered in order, names
        // unique, settings inside the documented ranges, its hash a digest.
        if (e.n_runs < 1 || e.n_runs > 100000 || !e.name || !e.model || e.n_samples < 1 || e.batch < 1 ||
            e.batch > e.n_samples || strlen(e.config_sha256) != 64)
            abort();
        for (int i = 0; i < e.n_runs; i++) {
            const ExpRun *r = &e.runs[i];
            if (r->index != i || !r->name[0] || r->steps < 1 || r->steps > 1000 || !(r->eta >= 0) ||
                !(r->cfg_scale >= 0) || !cJSON_IsObject(r->policy))
                abort();
            if (r->sampler == SAMPLER_DDPM && r->eta != 0) abort();
            parses(r->policy_json);
            parses(r->config_json);
            for (int k = 0; k < i; k++)
                if (!strcmp(e.runs[k].name, r->name)) abort();
        }
        experiment_free(&e);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
