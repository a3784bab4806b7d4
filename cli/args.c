#include "cli/args.h"

#include "cli/cli_common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void args_print_help(const ArgParser *p) {
    printf("usage: lazydit %s %s\n\n%s\n\noptions:\n", p->command, p->usage, p->about);
    for (int i = 0; i < p->nspecs; i++) {
        const ArgSpec *s = &p->specs[i];
        const char *meta = s->type == ARG_FLAG ? "" : s->type == ARG_STRING ? " VALUE" : " N";
        char left[64];
        snprintf(left, sizeof left, "%s%s", s->name, meta);
        printf("  %-24s %s%s\n", left, s->help, s->required ? " (required)" : "");
    }
    printf("  %-24s %s\n", "--help", "print this help");
}

static void parse_value(const ArgParser *p, ArgSpec *s, const char *text) {
    char *end = NULL;
    errno = 0;
    switch (s->type) {
    case ARG_INT: {
        long v = strtol(text, &end, 10);
        if (errno || !*text || *end || v < INT_MIN || v > INT_MAX) cli_usage(p->command, "%s expects an integer, got '%s'", s->name, text);
        *(int *)s->value = (int)v;
        break;
    }
    case ARG_LONG: {
        long v = strtol(text, &end, 10);
        if (errno || !*text || *end) cli_usage(p->command, "%s expects an integer, got '%s'", s->name, text);
        *(long *)s->value = v;
        break;
    }
    case ARG_DOUBLE: {
        double v = strtod(text, &end);
        // strtod also takes "nan" and "inf"; no option means anything by them
        if (errno || !*text || *end || !isfinite(v))
            cli_usage(p->command, "%s expects a finite number, got '%s'", s->name, text);
        *(double *)s->value = v;
        break;
    }
    case ARG_STRING:
        *(const char **)s->value = text;
        break;
    case ARG_FLAG:
        break;
    }
}

void args_parse(ArgParser *p, int argc, char **argv) {
    p->npositional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            args_print_help(p);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-') {
            // accept both "--name value" and "--name=value"
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            ArgSpec *s = NULL;
            for (int k = 0; k < p->nspecs; k++)
                if (strlen(p->specs[k].name) == len && !strncmp(p->specs[k].name, a, len)) s = &p->specs[k];
            if (!s) cli_usage(p->command, "unknown option '%s'", a);
            if (s->seen) cli_usage(p->command, "option %s given twice", s->name);
            s->seen = true;
            if (s->type == ARG_FLAG) {
                if (eq) cli_usage(p->command, "%s takes no value", s->name);
                *(bool *)s->value = true;
                continue;
            }
            const char *text = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!text) cli_usage(p->command, "%s needs a value", s->name);
            parse_value(p, s, text);
        } else {
            if (p->npositional >= p->max_positional || p->npositional >= 8)
                cli_usage(p->command, "unexpected argument '%s'", a);
            p->positional[p->npositional++] = a;
        }
    }
    for (int k = 0; k < p->nspecs; k++)
        if (p->specs[k].required && !p->specs[k].seen) cli_usage(p->command, "missing required option %s", p->specs[k].name);
    if (p->npositional < p->min_positional) cli_usage(p->command, "missing argument: %s", p->usage);
}

bool args_seen(const ArgParser *p, const char *name) {
    for (int k = 0; k < p->nspecs; k++)
        if (!strcmp(p->specs[k].name, name)) return p->specs[k].seen;
    return false;
}
