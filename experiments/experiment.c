// experiment.c: strict parsing of experiment configs and their expansion
// into runs (see experiment.h and docs/experiments.md).
#include "experiments/experiment.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/eval_job.h"
#include "model/base/sha256.h"
#include "model/diffusion.h"
#include "model/io/file_rules.h"
#include "model/io/json_config.h"
#include "model/lazy/policy.h"

static const char *const metric_names[MET_COUNT] = {"fid",      "sfid",     "is",  "precision",         "recall", "density",
                                                    "coverage", "kid", "class_consistency", "psnr",   "ssim"};
const char *experiment_metric_name(MetricId m) { return metric_names[m]; }

#define MAX_RUNS 100000
#define MAX_SEED 9007199254740991.0  // 2^53 - 1: every seed survives a round trip through JSON and SQLite

// Where an error is reported: "<file>: <path>: <problem>".
typedef struct {
    const char *file;
    LzError *err;
} Ctx;

static int perr(Ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(Ctx *c, const char *path, const char *fmt, ...) {
    char msg[LZ_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return path[0] ? lz_fail(c->err, "%s: %s: %s", c->file, path, msg) : lz_fail(c->err, "%s: %s", c->file, msg);
}

static void join(char *out, size_t len, const char *path, const char *key) {
    if (path[0]) snprintf(out, len, "%s.%s", path, key);
    else snprintf(out, len, "%s", key);
}

// Every key of obj must be in known, once.
static int check_keys(Ctx *c, const cJSON *obj, const char *path, const char *const *known, int nknown) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        char kp[160];
        join(kp, sizeof kp, path, it->string);
        int ok = 0;
        for (int i = 0; i < nknown && !ok; i++) ok = !strcmp(known[i], it->string);
        if (!ok) {
            char list[400] = "";
            for (int i = 0; i < nknown; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", known[i]);
            return perr(c, kp, "unknown key (known: %s)", list);
        }
        for (const cJSON *o = it->next; o; o = o->next)
            if (!strcmp(o->string, it->string)) return perr(c, kp, "given twice");
    }
    return 0;
}

static int read_int(Ctx *c, const cJSON *v, const char *path, double min, double max, long long *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min || v->valuedouble > max)
        return perr(c, path, "must be an integer between %.0f and %.0f", min, max);
    *out = (long long)v->valuedouble;
    return 0;
}

static int read_number(Ctx *c, const cJSON *v, const char *path, double min, double *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min)
        return perr(c, path, "must be a finite number >= %g", min);
    *out = v->valuedouble;
    return 0;
}

static int read_string(Ctx *c, const cJSON *v, const char *path, const char **out) {
    if (!cJSON_IsString(v) || !v->valuestring[0]) return perr(c, path, "must be a non-empty string");
    *out = v->valuestring;
    return 0;
}

static int read_bool(Ctx *c, const cJSON *v, const char *path, bool *out) {
    if (!cJSON_IsBool(v)) return perr(c, path, "must be true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

// ---------------------------------------------------------------------------
// sweep fields: one value or a non-empty list of values

typedef enum { F_POLICY, F_STEPS, F_RESPACING, F_SAMPLER, F_ETA, F_CFG, F_SEED, F_COUNT } SweepField;
static const char *const sweep_keys[F_COUNT] = {"policy", "steps", "respacing", "sampler", "eta", "cfg_scale", "seed"};
static const char *const sweep_what[F_COUNT] = {"a policy object", "an integer", "\"even\" or \"ddim\"",
                                                "\"ddim\" or \"ddpm\"", "a number", "a number", "an integer"};

// One validated value of a sweep field.
typedef struct {
    const cJSON *policy;
    long long i;
    double d;
    const char *s;
} SweepValue;

static int read_sweep_item(Ctx *c, SweepField f, const cJSON *v, const char *path, SweepValue *out) {
    memset(out, 0, sizeof *out);
    switch (f) {
    case F_POLICY:
        if (!cJSON_IsObject(v)) return perr(c, path, "must be a policy object {\"name\": ..., options...}");
        out->policy = v;
        return 0;
    case F_STEPS: return read_int(c, v, path, 1, 1000, &out->i);
    case F_SEED: return read_int(c, v, path, 0, MAX_SEED, &out->i);
    case F_ETA: return read_number(c, v, path, 0, &out->d);
    case F_CFG: return read_number(c, v, path, 0, &out->d);
    case F_RESPACING:
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "even") && strcmp(v->valuestring, "ddim")))
            return perr(c, path, "must be \"even\" (respacing \"N\", the default) or \"ddim\" (respacing \"ddimN\")");
        out->s = v->valuestring;
        return 0;
    case F_SAMPLER:
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "ddim") && strcmp(v->valuestring, "ddpm")))
            return perr(c, path, "must be \"ddim\" or \"ddpm\"");
        out->s = v->valuestring;
        return 0;
    case F_COUNT: break;
    }
    return -1;
}

static int sweep_count(const cJSON *node) { return cJSON_IsArray(node) ? cJSON_GetArraySize(node) : 1; }

// Validates every value of a field node; fills values (n = sweep_count).
static int read_sweep(Ctx *c, SweepField f, const cJSON *node, const char *path, SweepValue *values) {
    if (cJSON_IsArray(node)) {
        int n = cJSON_GetArraySize(node);
        if (n == 0) return perr(c, path, "must be %s or a non-empty list of them", sweep_what[f]);
        if (n > MAX_RUNS) return perr(c, path, "a list of %d values is too long", n);
        int i = 0;
        for (const cJSON *it = node->child; it; it = it->next, i++) {
            char ip[160];
            snprintf(ip, sizeof ip, "%s[%d]", path, i);
            if (read_sweep_item(c, f, it, ip, &values[i])) return -1;
        }
        return 0;
    }
    if (f != F_POLICY && cJSON_IsObject(node)) return perr(c, path, "must be %s or a list of them", sweep_what[f]);
    return read_sweep_item(c, f, node, path, &values[0]);
}

// ---------------------------------------------------------------------------

static const char *const top_keys[] = {"name",      "model",   "gates",    "heads",     "n_samples",  "batch",
                                       "labels",    "policy",  "steps",    "respacing", "sampler",    "eta",
                                       "cfg_scale", "seed",    "metrics",  "record_rows", "runs"};
static const char *const group_keys[] = {"name", "policy", "steps", "respacing", "sampler", "eta", "cfg_scale", "seed"};
static const char *const metric_keys[] = {"compute",   "bootstrap",       "seed",       "classifier",     "cache_dir",
                                          "reference_steps", "per_sample", "quantize", "sample_features"};
#define NKEYS(a) ((int)(sizeof a / sizeof a[0]))

static int valid_name(const char *s) {
    if (!*s || strlen(s) > 100) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s)) return 0;
    return 1;
}

static int read_metrics(Ctx *c, const cJSON *m, ExpMetrics *out) {
    memset(out, 0, sizeof *out);
    out->classifier = EVAL_DEFAULT_CLASSIFIER;
    out->cache_dir = REFSTATS_DEFAULT_CACHE_DIR;
    out->quantize = true;
    if (!m) return 0;
    if (!cJSON_IsObject(m)) return perr(c, "metrics", "must be an object");
    if (check_keys(c, m, "metrics", metric_keys, NKEYS(metric_keys))) return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "compute");
    if (!v) return perr(c, "metrics.compute", "missing (required: a list of metric names)");
    if (!cJSON_IsArray(v)) return perr(c, "metrics.compute", "must be a list of metric names");
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        char ip[64];
        snprintf(ip, sizeof ip, "metrics.compute[%d]", i);
        int k = -1;
        if (cJSON_IsString(it))
            for (int j = 0; j < MET_COUNT && k < 0; j++)
                if (!strcmp(it->valuestring, metric_names[j])) k = j;
        if (k < 0) {
            char list[300] = "";
            for (int j = 0; j < MET_COUNT; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", metric_names[j]);
            return perr(c, ip, "must be one of %s", list);
        }
        if (out->want[k]) return perr(c, ip, "\"%s\" is listed twice", metric_names[k]);
        out->want[k] = out->any = true;
    }
    long long ll;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "bootstrap"))) {
        if (read_int(c, v, "metrics.bootstrap", 0, 100000, &ll)) return -1;
        if (ll == 1) return perr(c, "metrics.bootstrap", "give 0 (no intervals) or at least 2 resamples");
        out->bootstrap = (int)ll;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "seed"))) {
        if (read_int(c, v, "metrics.seed", 0, MAX_SEED, &ll)) return -1;
        out->seed = (uint64_t)ll;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "classifier")) && read_string(c, v, "metrics.classifier", &out->classifier))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "cache_dir")) && read_string(c, v, "metrics.cache_dir", &out->cache_dir))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "reference_steps"))) {
        if (read_int(c, v, "metrics.reference_steps", 1, 1000, &ll)) return -1;
        out->reference_steps = (int)ll;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "per_sample")) && read_bool(c, v, "metrics.per_sample", &out->per_sample))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "quantize")) && read_bool(c, v, "metrics.quantize", &out->quantize))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "sample_features")) &&
        read_bool(c, v, "metrics.sample_features", &out->sample_features))
        return -1;
    if (out->sample_features && !out->want[MET_FID])
        return perr(c, "metrics.sample_features", "stores the FID-proxy features: add \"fid\" to metrics.compute");
    return 0;
}

// "fora(interval=2)": the policy name and the options the object sets, in its order.
static void policy_label(const cJSON *p, char *out, size_t len) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    snprintf(out, len, "%s", cJSON_IsString(name) ? name->valuestring : "?");
    int first = 1;
    for (const cJSON *it = p->child; it; it = it->next) {
        if (!strcmp(it->string, "name")) continue;
        char val[64];
        if (cJSON_IsString(it)) snprintf(val, sizeof val, "%s", it->valuestring);
        else if (cJSON_IsNumber(it)) snprintf(val, sizeof val, "%.10g", it->valuedouble);
        else snprintf(val, sizeof val, "?");
        snprintf(out + strlen(out), len - strlen(out), "%s%s=%s", first ? "(" : ",", it->string, val);
        first = 0;
    }
    if (!first) snprintf(out + strlen(out), len - strlen(out), ")");
}

// A copy of the policy object with the top-level "gates" filled in, when its
// policy takes a gates file and the object does not name one.
static const cJSON *with_gates(Experiment *e, const cJSON *p) {
    if (!e->gates) return p;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    const PolicyClass *pc = cJSON_IsString(name) ? policy_find(name->valuestring) : NULL;
    if (!pc || cJSON_GetObjectItemCaseSensitive(p, "gates")) return p;
    int takes = 0;
    for (int i = 0; i < pc->n_options && !takes; i++) takes = !strcmp(pc->options[i].name, "gates");
    if (!takes) return p;
    cJSON *copy = cJSON_Duplicate(p, 1);
    CHECK(copy, "out of memory copying a policy object");
    cJSON_AddStringToObject(copy, "gates", e->gates);
    cJSON_AddItemToArray(e->extra, copy);
    return copy;
}

static char *run_config_json(const Experiment *e, const ExpRun *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "experiment", e->name);
    cJSON_AddStringToObject(o, "model", e->model);
    cJSON_AddNumberToObject(o, "heads", e->heads);
    cJSON_AddNumberToObject(o, "n_samples", (double)e->n_samples);
    cJSON_AddNumberToObject(o, "batch", e->batch);
    cJSON_AddStringToObject(o, "labels", e->labels == EXP_LABELS_CYCLE ? "cycle" : "random");
    cJSON_AddItemToObject(o, "policy", cJSON_Parse(r->policy_json));
    cJSON_AddNumberToObject(o, "steps", r->steps);
    cJSON_AddStringToObject(o, "respacing", r->respacing);
    cJSON_AddStringToObject(o, "sampler", r->sampler == SAMPLER_DDIM ? "ddim" : "ddpm");
    cJSON_AddNumberToObject(o, "eta", r->eta);
    cJSON_AddNumberToObject(o, "cfg_scale", r->cfg_scale);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddBoolToObject(o, "record_rows", e->record_rows);
    cJSON *m = cJSON_AddArrayToObject(o, "metrics");
    for (int k = 0; k < MET_COUNT; k++)
        if (e->metrics.want[k]) cJSON_AddItemToArray(m, cJSON_CreateString(metric_names[k]));
    if (e->metrics.any) {
        cJSON_AddNumberToObject(o, "bootstrap", e->metrics.bootstrap);
        cJSON_AddNumberToObject(o, "metrics_seed", (double)e->metrics.seed);
        cJSON_AddStringToObject(o, "classifier", e->metrics.classifier);
        cJSON_AddNumberToObject(o, "reference_steps", e->metrics.reference_steps);
        cJSON_AddBoolToObject(o, "quantize", e->metrics.quantize);
        // only when set, so runs of configs without the key keep their config_json
        if (e->metrics.sample_features) cJSON_AddBoolToObject(o, "sample_features", true);
    }
    char *text = cJSON_PrintUnformatted(o);
    CHECK(text, "out of memory printing a run config");
    cJSON_Delete(o);
    return text;
}

// Defaults of the sweep fields (DESIGN: LazyDiT's evaluation settings).
static const char *const sweep_defaults[F_COUNT] = {"{\"name\":\"ddim\"}", "50", "\"even\"", "\"ddim\"", "0", "1.5",
                                                    "0"};

// The node a group's field comes from: the group's own, else the top-level
// default, else the built-in default.
static const cJSON *field_node(const cJSON *grp, const cJSON *top, cJSON *const *defaults, SweepField f) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(grp, sweep_keys[f]);
    if (!n) n = cJSON_GetObjectItemCaseSensitive(top, sweep_keys[f]);
    return n ? n : defaults[f];
}

static int expand(Ctx *c, Experiment *e, const cJSON *groups) {
    const cJSON *top = e->root;
    cJSON *defaults[F_COUNT];
    for (int f = 0; f < F_COUNT; f++) {
        defaults[f] = cJSON_Parse(sweep_defaults[f]);
        CHECK(defaults[f], "bad built-in default %s", sweep_defaults[f]);
        cJSON_AddItemToArray(e->extra, defaults[f]);
    }
    // Validate the top-level defaults even where every group overrides them.
    SweepValue *vals[F_COUNT] = {0};
    for (int f = 0; f < F_COUNT; f++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(top, sweep_keys[f]);
        if (!n) continue;
        SweepValue *tmp = lz_calloc((size_t)sweep_count(n), sizeof(SweepValue), "sweep values");
        int rc = read_sweep(c, f, n, sweep_keys[f], tmp);
        free(tmp);
        if (rc) return -1;
    }
    int ng = cJSON_GetArraySize(groups);
    long total = 0;
    int rc = -1;
    for (int g = 0; g < ng; g++) {
        const cJSON *grp = cJSON_GetArrayItem(groups, g);
        char gp[32];
        snprintf(gp, sizeof gp, "runs[%d]", g);
        if (!cJSON_IsObject(grp)) return perr(c, gp, "must be an object (a run group)");
        if (check_keys(c, grp, gp, group_keys, NKEYS(group_keys))) return -1;
        const cJSON *gname = cJSON_GetObjectItemCaseSensitive(grp, "name");
        char np[48];
        snprintf(np, sizeof np, "%s.name", gp);
        if (!gname) return perr(c, np, "missing (required: the group's name)");
        if (!cJSON_IsString(gname) || !valid_name(gname->valuestring))
            return perr(c, np, "must be a name of letters, digits, '_', '.' or '-' (at most 100)");
        // Bounded after every factor: lists of 65536 values in four fields would
        // wrap a 64-bit product to 0 and the expansion would write past the runs.
        long prod = 1;
        for (int f = 0; f < F_COUNT && prod <= MAX_RUNS; f++)
            prod *= sweep_count(field_node(grp, top, defaults, (SweepField)f));
        total += prod;
        if (total > MAX_RUNS) return perr(c, gp, "the experiment expands to more than %d runs", MAX_RUNS);
    }
    e->runs = lz_calloc((size_t)(total ? total : 1), sizeof(ExpRun), "experiment runs");
    e->n_runs = 0;
    for (int g = 0; g < ng; g++) {
        const cJSON *grp = cJSON_GetArrayItem(groups, g);
        char gp[32];
        snprintf(gp, sizeof gp, "runs[%d]", g);
        const cJSON *node[F_COUNT];
        char path[F_COUNT][64];
        int count[F_COUNT];
        for (int f = 0; f < F_COUNT; f++) {
            node[f] = field_node(grp, top, defaults, (SweepField)f);
            if (cJSON_GetObjectItemCaseSensitive(grp, sweep_keys[f])) snprintf(path[f], sizeof path[f], "%s.%s", gp, sweep_keys[f]);
            else snprintf(path[f], sizeof path[f], "%s", sweep_keys[f]);
            count[f] = sweep_count(node[f]);
            vals[f] = lz_calloc((size_t)count[f], sizeof(SweepValue), "sweep values");
            if (read_sweep(c, (SweepField)f, node[f], path[f], vals[f])) goto out;
        }
        // Policies: create each once to validate it and get its resolved JSON.
        char **pjson = lz_calloc((size_t)count[F_POLICY], sizeof(char *), "policy JSON");
        int prc = 0;
        for (int i = 0; i < count[F_POLICY] && !prc; i++) {
            char where[96];
            if (cJSON_IsArray(node[F_POLICY])) snprintf(where, sizeof where, "%s[%d]", path[F_POLICY], i);
            else snprintf(where, sizeof where, "%s", path[F_POLICY]);
            char fw[1200];
            snprintf(fw, sizeof fw, "%s: %s", c->file, where);
            vals[F_POLICY][i].policy = with_gates(e, vals[F_POLICY][i].policy);
            Policy p;
            if (policy_create_json(&p, vals[F_POLICY][i].policy, fw, c->err)) {
                prc = -1;
                break;
            }
            pjson[i] = strdup(policy_json(&p));
            CHECK(pjson[i], "out of memory");
            policy_free(&p);
        }
        int idx[F_COUNT] = {0};
        for (;;) {
            if (prc) break;
            ExpRun *r = &e->runs[e->n_runs];
            r->index = e->n_runs;
            r->group = g;
            r->policy = vals[F_POLICY][idx[F_POLICY]].policy;
            if (cJSON_IsArray(node[F_POLICY]))
                snprintf(r->policy_where, sizeof r->policy_where, "%s[%d]", path[F_POLICY], idx[F_POLICY]);
            else snprintf(r->policy_where, sizeof r->policy_where, "%s", path[F_POLICY]);
            r->policy_json = strdup(pjson[idx[F_POLICY]]);
            CHECK(r->policy_json, "out of memory");
            r->steps = (int)vals[F_STEPS][idx[F_STEPS]].i;
            int ddim_spacing = !strcmp(vals[F_RESPACING][idx[F_RESPACING]].s, "ddim");
            snprintf(r->respacing, sizeof r->respacing, "%s%d", ddim_spacing ? "ddim" : "", r->steps);
            r->sampler = strcmp(vals[F_SAMPLER][idx[F_SAMPLER]].s, "ddim") ? SAMPLER_DDPM : SAMPLER_DDIM;
            r->eta = vals[F_ETA][idx[F_ETA]].d;
            r->cfg_scale = vals[F_CFG][idx[F_CFG]].d;
            r->seed = (uint64_t)vals[F_SEED][idx[F_SEED]].i;
            e->n_runs++;
            // The name: the group's, plus field=value for every list field.
            snprintf(r->name, sizeof r->name, "%s", cJSON_GetObjectItemCaseSensitive(grp, "name")->valuestring);
            for (int f = 0; f < F_COUNT; f++) {
                if (!cJSON_IsArray(node[f]) || count[f] < 2) continue;
                char val[160];
                const SweepValue *sv = &vals[f][idx[f]];
                if (f == F_POLICY) policy_label(sv->policy, val, sizeof val);
                else if (sv->s) snprintf(val, sizeof val, "%s", sv->s);
                else if (f == F_STEPS || f == F_SEED) snprintf(val, sizeof val, "%lld", sv->i);
                else snprintf(val, sizeof val, "%.10g", sv->d);
                snprintf(r->name + strlen(r->name), sizeof r->name - strlen(r->name), "/%s=%s", sweep_keys[f], val);
            }
            // Per-run checks that need the combination.
            unsigned char keep[1000];
            int kept = 0;
            LzError e2;
            if (diffusion_space_timesteps(keep, &kept, 1000, r->respacing, &e2)) {
                prc = perr(c, gp, "run \"%s\": %s", r->name, e2.msg);
                break;
            }
            CHECK(kept == r->steps, "respacing %s kept %d steps", r->respacing, kept);
            if (r->sampler == SAMPLER_DDPM && r->eta != 0) {
                prc = perr(c, gp, "run \"%s\": eta %g applies to sampler \"ddim\" only", r->name, r->eta);
                break;
            }
            for (int k = 0; k < r->index; k++)
                if (!strcmp(e->runs[k].name, r->name)) {
                    prc = perr(c, gp, "run name \"%s\" is also produced by runs[%d]: give the groups distinct names",
                               r->name, e->runs[k].group);
                    break;
                }
            if (prc) break;
            r->config_json = run_config_json(e, r);
            // Next combination: the last field varies fastest.
            int f = F_COUNT - 1;
            while (f >= 0 && ++idx[f] == count[f]) idx[f--] = 0;
            if (f < 0) break;
        }
        for (int i = 0; i < count[F_POLICY]; i++) free(pjson[i]);
        free(pjson);
        if (prc) goto out;
        for (int f = 0; f < F_COUNT; f++) {
            free(vals[f]);
            vals[f] = NULL;
        }
    }
    rc = 0;
out:
    for (int f = 0; f < F_COUNT; f++) free(vals[f]);
    return rc;
}

int experiment_parse(Experiment *e, const char *text, const char *where, LzError *err) {
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", where);
    Ctx c = {e->path, err};
    const char *end = NULL;
    e->root = cJSON_ParseWithOpts(text, &end, 1);
    if (!e->root) {
        int line = 1;
        for (const char *q = text; end && q < end; q++) line += *q == '\n';
        return lz_fail(err, "%s: invalid JSON near line %d", where, line);
    }
    e->extra = cJSON_CreateArray();
    const cJSON *top = e->root, *v;
    if (!cJSON_IsObject(top)) return perr(&c, "", "the config must be a JSON object"), experiment_free(e), -1;
    if (check_keys(&c, top, "", top_keys, NKEYS(top_keys))) goto fail;
    long long ll;
    if (!(v = cJSON_GetObjectItemCaseSensitive(top, "name"))) {
        perr(&c, "name", "missing (required: the experiment's name)");
        goto fail;
    }
    if (!cJSON_IsString(v) || !valid_name(v->valuestring)) {
        perr(&c, "name", "must be a name of letters, digits, '_', '.' or '-' (at most 100)");
        goto fail;
    }
    e->name = v->valuestring;
    if (!(v = cJSON_GetObjectItemCaseSensitive(top, "model"))) {
        perr(&c, "model", "missing (required: the DiT weights file)");
        goto fail;
    }
    if (read_string(&c, v, "model", &e->model)) goto fail;
    if ((v = cJSON_GetObjectItemCaseSensitive(top, "gates")) && read_string(&c, v, "gates", &e->gates)) goto fail;
    if ((v = cJSON_GetObjectItemCaseSensitive(top, "heads"))) {
        if (read_int(&c, v, "heads", 0, 1024, &ll)) goto fail;
        e->heads = (int)ll;
    }
    if (!(v = cJSON_GetObjectItemCaseSensitive(top, "n_samples"))) {
        perr(&c, "n_samples", "missing (required: samples per run)");
        goto fail;
    }
    if (read_int(&c, v, "n_samples", 1, 10000000, &ll)) goto fail;
    e->n_samples = (long)ll;
    e->batch = e->n_samples < 32 ? (int)e->n_samples : 32;
    if ((v = cJSON_GetObjectItemCaseSensitive(top, "batch"))) {
        if (read_int(&c, v, "batch", 1, 4096, &ll)) goto fail;
        e->batch = (int)(ll < e->n_samples ? ll : e->n_samples);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(top, "labels"))) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "cycle") && strcmp(v->valuestring, "random"))) {
            perr(&c, "labels", "must be \"cycle\" (sample i gets class i %% classes) or \"random\"");
            goto fail;
        }
        e->labels = strcmp(v->valuestring, "cycle") ? EXP_LABELS_RANDOM : EXP_LABELS_CYCLE;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(top, "record_rows")) && read_bool(&c, v, "record_rows", &e->record_rows))
        goto fail;
    if (read_metrics(&c, cJSON_GetObjectItemCaseSensitive(top, "metrics"), &e->metrics)) goto fail;
    if (e->metrics.any) {
        const int need = 10;  // IS splits; precision/recall need more than k = 3
        int image = 0;
        for (int k = 0; k < MET_COUNT; k++) image |= e->metrics.want[k] && k != MET_PSNR && k != MET_SSIM;
        if (image && e->n_samples < need) {
            perr(&c, "n_samples", "%ld samples: the image metrics need at least %d", e->n_samples, need);
            goto fail;
        }
    }
    if (!(v = cJSON_GetObjectItemCaseSensitive(top, "runs"))) {
        perr(&c, "runs", "missing (required: a list of run groups)");
        goto fail;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        perr(&c, "runs", "must be a non-empty list of run groups");
        goto fail;
    }
    if (expand(&c, e, v)) goto fail;
    char *canon = cJSON_PrintUnformatted(e->root);
    CHECK(canon, "out of memory printing the config");
    uint8_t d[SHA256_BYTES];
    sha256(canon, strlen(canon), d);
    cJSON_free(canon);
    sha256_hex(d, e->config_sha256);
    return 0;
fail:
    experiment_free(e);
    return -1;
}

int experiment_load(Experiment *e, const char *path, LzError *err) {
    memset(e, 0, sizeof *e);
    char *text = jc_read_text(path, err);
    if (!text) return -1;
    int rc = experiment_parse(e, text, path, err);
    free(text);
    return rc;
}

void experiment_free(Experiment *e) {
    for (int i = 0; i < e->n_runs; i++) {
        free(e->runs[i].policy_json);
        cJSON_free(e->runs[i].config_json);
    }
    free(e->runs);
    cJSON_Delete(e->root);
    cJSON_Delete(e->extra);
    memset(e, 0, sizeof *e);
}

int experiment_parse_shard(const char *text, int *index, int *count, LzError *err) {
    // Both numbers whole (model/io/file_rules.h): " 1/4", "+1/4", "1/4x" are errors.
    const char *slash = strchr(text, '/');
    char head[32];
    int i, n;
    if (!slash || (size_t)(slash - text) >= sizeof head) goto bad;
    memcpy(head, text, (size_t)(slash - text));
    head[slash - text] = 0;
    if (lz_parse_int(slash + 1, 1, 100000, &n) || lz_parse_int(head, 0, n - 1, &i)) goto bad;
    *index = i;
    *count = n;
    return 0;
bad:
    return lz_fail(err, "--shard '%s': expected i/N with 0 <= i < N (e.g. 0/4 .. 3/4)", text);
}
