// policy.c: the policy registry and the option tables shared by the CLI and
// JSON configs (see policy.h).
#include "model/lazy/policy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/io/file_rules.h"

extern const PolicyClass policy_ddim, policy_random, policy_fora, policy_teacache, policy_smoothcache, policy_oracle,
    policy_lazydit, policy_l2c;

// Every policy, in the order --help and reports list them. A new policy adds
// its extern above and one line here.
static const PolicyClass *const registry[] = {
    &policy_ddim,
    &policy_random,
    &policy_fora,
    &policy_teacache,
    &policy_smoothcache,
    &policy_oracle,
    &policy_lazydit,
    &policy_l2c,
};

int policy_count(void) { return (int)(sizeof registry / sizeof registry[0]); }
const PolicyClass *policy_class_at(int i) { return i >= 0 && i < policy_count() ? registry[i] : NULL; }
const PolicyClass *policy_find(const char *name) {
    for (int i = 0; i < policy_count(); i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const char *lazy_modules_name(LazyModules m) { return m == LAZY_MOD_ATTN ? "attn" : m == LAZY_MOD_MLP ? "mlp" : "both"; }

int lazy_modules_parse(const char *text, LazyModules *out) {
    if (!text || !strcmp(text, "both")) *out = LAZY_MOD_BOTH;
    else if (!strcmp(text, "attn")) *out = LAZY_MOD_ATTN;
    else if (!strcmp(text, "mlp")) *out = LAZY_MOD_MLP;
    else return -1;
    return 0;
}

static const PolicyOption *find_option(const PolicyClass *c, const char *name) {
    for (int i = 0; i < c->n_options; i++)
        if (!strcmp(c->options[i].name, name)) return &c->options[i];
    return NULL;
}

// "fora" or "teacache, smoothcache": the policies that have an option `name`
// ("" if none), so that a misplaced option's error names where it belongs.
static void option_owners(const char *name, char *out, size_t n) {
    out[0] = 0;
    for (int k = 0; k < policy_count(); k++) {
        if (!find_option(registry[k], name)) continue;
        if (*out) strncat(out, ", ", n - strlen(out) - 1);
        strncat(out, registry[k]->name, n - strlen(out) - 1);
    }
}

// A stack-level policy bypasses every block at once: it cannot make only
// attention or only MLP lazy.
static int check_modules(const Policy *p, LzError *err) {
    if (p->cls->stack_level && p->modules != LAZY_MOD_BOTH)
        return lz_fail(err, "policy %s: --modules %s: %s reuses the whole block stack, so only --modules both applies",
                       p->cls->name, lazy_modules_name(p->modules), p->cls->name);
    return 0;
}

// Parses `text` into the option's slot with full validation: the whole text
// must be the number, it must fit, be finite and lie in the range.
static int set_option(Policy *p, const PolicyOption *o, const char *text, LzError *err) {
    char *slot = (char *)p->config + o->offset;
    const char *pn = p->cls->name;
    if (o->type == POPT_STRING) {
        if (!*text) return lz_fail(err, "policy %s: --%s must not be empty", pn, o->name);
        char *copy = strdup(text);
        CHECK(copy, "out of memory copying policy option %s", o->name);
        p->strings = realloc(p->strings, sizeof(char *) * (size_t)(p->n_strings + 1));
        CHECK(p->strings, "out of memory");
        p->strings[p->n_strings++] = copy;
        *(const char **)slot = copy;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double v;
    if (o->type == POPT_INT) {
        long l;
        // whole text, no spaces or '+', no wrap (model/io/file_rules.h)
        if (lz_parse_long(text, -2147483647L, 2147483647L, &l))
            return lz_fail(err, "policy %s: --%s: '%.40s' is not an integer", pn, o->name, text);
        v = (double)l;
    } else {
        v = strtod(text, &end);
        if (end == text || *end || errno == ERANGE || !isfinite(v) || isspace((unsigned char)*text))
            return lz_fail(err, "policy %s: --%s: '%.40s' is not a finite number", pn, o->name, text);
    }
    if (o->min <= o->max && (v < o->min || v > o->max))
        return lz_fail(err, "policy %s: --%s: %s is outside [%g, %g]", pn, o->name, text, o->min, o->max);
    if (o->type == POPT_INT) *(int *)slot = (int)v;
    else *(double *)slot = v;
    return 0;
}

static void build_json(Policy *p) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", p->cls->name);
    cJSON_AddStringToObject(j, "modules", lazy_modules_name(p->modules));
    for (int i = 0; i < p->cls->n_options; i++) {
        const PolicyOption *o = &p->cls->options[i];
        const char *slot = (const char *)p->config + o->offset;
        if (o->type == POPT_STRING) {
            const char *s = *(const char *const *)slot;
            if (s) cJSON_AddStringToObject(j, o->name, s);
            else cJSON_AddNullToObject(j, o->name);
        } else if (o->type == POPT_INT) {
            cJSON_AddNumberToObject(j, o->name, *(const int *)slot);
        } else {
            cJSON_AddNumberToObject(j, o->name, *(const double *)slot);
        }
    }
    p->json = cJSON_PrintUnformatted(j);
    CHECK(p->json, "out of memory printing policy JSON");
    cJSON_Delete(j);
}

static int begin(Policy *p, const char *name, LzError *err) {
    memset(p, 0, sizeof *p);
    p->cls = policy_find(name);
    if (!p->cls) {
        char list[256] = "";
        for (int i = 0; i < policy_count(); i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, registry[i]->name, sizeof list - strlen(list) - 1);
        }
        return lz_fail(err, "unknown policy '%s' (known: %s)", name, list);
    }
    p->config = lz_calloc(1, p->cls->config_size ? p->cls->config_size : 1, "policy config");
    p->state = lz_calloc(1, p->cls->state_size ? p->cls->state_size : 1, "policy state");
    return 0;
}

// Applies defaults to options not given (seen[i] == 0) and reports missing required ones.
static int finish(Policy *p, const unsigned char *seen, LzError *err) {
    for (int i = 0; i < p->cls->n_options; i++) {
        const PolicyOption *o = &p->cls->options[i];
        if (seen[i]) continue;
        if (!o->def) return lz_fail(err, "policy %s: --%s is required (%s)", p->cls->name, o->name, o->help);
        if (!*o->def) {  // "" = optional: a string stays NULL, a double NaN (init resolves it)
            CHECK(o->type != POPT_INT, "policy %s: integer option --%s cannot default to \"\"", p->cls->name, o->name);
            if (o->type == POPT_DOUBLE) *(double *)((char *)p->config + o->offset) = NAN;
            continue;
        }
        if (set_option(p, o, o->def, err)) return -1;
    }
    build_json(p);
    return 0;
}

int policy_create(Policy *p, const char *name, const char *modules, const PolicyArg *args, int nargs, LzError *err) {
    if (begin(p, name, err)) return -1;
    if (lazy_modules_parse(modules, &p->modules))
        return policy_free(p), lz_fail(err, "policy %s: --modules '%s' (expected attn, mlp or both)", name, modules);
    if (check_modules(p, err)) return policy_free(p), -1;
    unsigned char seen[64] = {0};
    CHECK(p->cls->n_options <= 64, "policy %s has too many options", name);
    for (int i = 0; i < nargs; i++) {
        const PolicyOption *o = find_option(p->cls, args[i].name);
        if (!o) {
            char owners[160];
            option_owners(args[i].name, owners, sizeof owners);
            if (*owners)
                lz_fail(err, "policy %s has no option --%s (it is an option of %s)", name, args[i].name, owners);
            else
                lz_fail(err, "policy %s has no option --%s", name, args[i].name);
            return policy_free(p), -1;
        }
        int k = (int)(o - p->cls->options);
        if (seen[k]) return policy_free(p), lz_fail(err, "policy %s: --%s given twice", name, o->name);
        seen[k] = 1;
        if (set_option(p, o, args[i].value, err)) return policy_free(p), -1;
    }
    if (finish(p, seen, err)) return policy_free(p), -1;
    return 0;
}

int policy_create_json(Policy *p, const void *cjson_object, const char *where, LzError *err) {
    const cJSON *obj = cjson_object;
    if (!cJSON_IsObject(obj)) return lz_fail(err, "%s: a policy must be a JSON object", where);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!cJSON_IsString(name)) return lz_fail(err, "%s.name: required string (the policy name)", where);
    LzError e2;
    if (begin(p, name->valuestring, &e2)) return lz_fail(err, "%s.name: %s", where, e2.msg);
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(obj, "modules");
    if (mods && !cJSON_IsString(mods))
        return policy_free(p), lz_fail(err, "%s.modules: must be a string (attn, mlp or both)", where);
    if (lazy_modules_parse(mods ? mods->valuestring : NULL, &p->modules))
        return policy_free(p), lz_fail(err, "%s.modules: '%s' (expected attn, mlp or both)", where, mods->valuestring);
    if (check_modules(p, &e2)) return policy_free(p), lz_fail(err, "%s.modules: %s", where, e2.msg);
    unsigned char seen[64] = {0};
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!strcmp(it->string, "name") || !strcmp(it->string, "modules")) continue;
        const PolicyOption *o = find_option(p->cls, it->string);
        // The message is formatted before policy_free clears p (and p->cls with it).
        if (!o) {
            char owners[160];
            option_owners(it->string, owners, sizeof owners);
            lz_fail(err, "%s.%s: unknown option of policy %s%s%s%s", where, it->string, p->cls->name,
                    *owners ? " (it is an option of " : "", owners, *owners ? ")" : "");
            policy_free(p);
            return -1;
        }
        int k = (int)(o - p->cls->options);
        if (seen[k]) return policy_free(p), lz_fail(err, "%s.%s: given twice", where, it->string);
        seen[k] = 1;
        char num[64];
        const char *text;
        if (o->type == POPT_STRING) {
            if (!cJSON_IsString(it)) return policy_free(p), lz_fail(err, "%s.%s: must be a string", where, it->string);
            text = it->valuestring;
        } else {
            if (!cJSON_IsNumber(it)) return policy_free(p), lz_fail(err, "%s.%s: must be a number", where, it->string);
            if (o->type == POPT_INT && it->valuedouble != floor(it->valuedouble))
                return policy_free(p), lz_fail(err, "%s.%s: must be an integer", where, it->string);
            snprintf(num, sizeof num, "%.17g", it->valuedouble);
            text = num;
        }
        if (set_option(p, o, text, &e2)) return policy_free(p), lz_fail(err, "%s.%s: %s", where, it->string, e2.msg);
    }
    if (finish(p, seen, &e2)) return policy_free(p), lz_fail(err, "%s: %s", where, e2.msg);
    return 0;
}

int policy_init(Policy *p, const PolicyEnv *env, LzError *err) {
    if (p->cls->init && p->cls->init(p, env, err)) return -1;
    // init may resolve optional options (a threshold read from a gate file):
    // the provenance JSON records the values the run actually uses.
    cJSON_free(p->json);
    build_json(p);
    return 0;
}

void policy_free(Policy *p) {
    if (p->cls && p->cls->free && p->state) p->cls->free(p);
    for (int i = 0; i < p->n_strings; i++) free(p->strings[i]);
    free(p->strings);
    free(p->config);
    free(p->state);
    cJSON_free(p->json);
    memset(p, 0, sizeof *p);
}

const char *policy_json(const Policy *p) { return p->json; }

void policy_print_help(void *file) {
    FILE *f = file;
    fprintf(f, "Policies (--policy NAME; every policy takes --modules attn|mlp|both, default both):\n");
    for (int i = 0; i < policy_count(); i++) {
        const PolicyClass *c = registry[i];
        fprintf(f, "  %-12s %s%s\n", c->name, c->summary, c->stack_level ? " [whole stack: --modules both only]" : "");
        for (int k = 0; k < c->n_options; k++) {
            const PolicyOption *o = &c->options[k];
            if (!o->def) fprintf(f, "      --%-14s %s (required)\n", o->name, o->help);
            else if (!*o->def) fprintf(f, "      --%-14s %s (optional)\n", o->name, o->help);
            else fprintf(f, "      --%-14s %s (default %s)\n", o->name, o->help, o->def);
        }
    }
}
