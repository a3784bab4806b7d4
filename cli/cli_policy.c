// cli_policy.c: policy options as ArgSpecs (see cli_policy.h).
#include "cli/cli_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *keep(CliPolicyOptions *o, char *s) {
    CHECK(s, "out of memory");
    o->strings[o->nstrings++] = s;
    return s;
}

void cli_policy_options_init(CliPolicyOptions *o, const ArgSpec *base, int nbase) {
    memset(o, 0, sizeof *o);
    int total = 0;
    for (int i = 0; i < policy_count(); i++) total += policy_class_at(i)->n_options;
    o->nbase = nbase;
    o->specs = lz_calloc((size_t)(nbase + total), sizeof(ArgSpec), "policy option specs");
    o->values = lz_calloc((size_t)total + 1, sizeof(char *), "policy option values");
    o->strings = lz_calloc(2 * (size_t)total + 1, sizeof(char *), "policy option strings");
    o->args = lz_calloc((size_t)total + 1, sizeof(PolicyArg), "policy args");
    memcpy(o->specs, base, sizeof(ArgSpec) * (size_t)nbase);
    for (int i = 0; i < policy_count(); i++) {
        const PolicyClass *c = policy_class_at(i);
        for (int k = 0; k < c->n_options; k++) {
            const PolicyOption *po = &c->options[k];
            char name[96];
            snprintf(name, sizeof name, "--%s", po->name);
            for (int q = 0; q < nbase; q++)
                CHECK(strcmp(o->specs[q].name, name), "policy %s: option %s collides with an option of the command",
                      c->name, name);
            int seen = 0;
            for (int q = 0; q < o->n && !seen; q++) seen = !strcmp(o->specs[nbase + q].name, name);
            if (seen) continue;  // shared by several policies: listed once
            // "[fora] compute at ... (required)"; a name shared by several
            // policies gets each owner's help: "[teacache] ... (default none); [smoothcache] ... (required)".
            char help[1024] = "";
            for (int j = 0; j < policy_count(); j++) {
                const PolicyClass *cj = policy_class_at(j);
                for (int q = 0; q < cj->n_options; q++) {
                    const PolicyOption *oq = &cj->options[q];
                    if (strcmp(oq->name, po->name)) continue;
                    snprintf(help + strlen(help), sizeof help - strlen(help), "%s[%s] %s%s%s%s", *help ? "; " : "",
                             cj->name, oq->help, oq->def ? " (default " : " (required)",
                             oq->def ? (*oq->def ? oq->def : "none") : "", oq->def ? ")" : "");
                }
            }
            ArgSpec *s = &o->specs[nbase + o->n];
            s->name = keep(o, strdup(name));
            s->type = ARG_STRING;
            s->value = &o->values[o->n];
            s->required = false;
            s->help = keep(o, strdup(help));
            o->n++;
        }
    }
}

int cli_policy_args(CliPolicyOptions *o, const PolicyArg **args) {
    int n = 0;
    for (int i = 0; i < o->n; i++) {
        const ArgSpec *s = &o->specs[o->nbase + i];
        if (!s->seen) continue;
        o->args[n++] = (PolicyArg){s->name + 2, o->values[i]};
    }
    *args = o->args;
    return n;
}

void cli_policy_options_free(CliPolicyOptions *o) {
    for (int i = 0; i < o->nstrings; i++) free(o->strings[i]);
    free(o->strings);
    free(o->specs);
    free(o->values);
    free(o->args);
    memset(o, 0, sizeof *o);
}
