#include "cli/args.h"

#include "cli/cli_common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/io/file_rules.h"

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

// Message into msg, returns -1.
static int usage(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int usage(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    // Arguments are echoed: a newline or other control byte in one must not
    // break the one-line error.
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

static int parse_value(ArgSpec *s, const char *text, char *msg, size_t cap) {
    switch (s->type) {
    case ARG_INT:
    case ARG_LONG: {
        long lo = s->type == ARG_INT ? INT_MIN : LONG_MIN, hi = s->type == ARG_INT ? INT_MAX : LONG_MAX;
        long v;
        if (lz_parse_long(text, lo, hi, &v))
            return usage(msg, cap, "%s expects an integer in %ld..%ld, got '%.60s'", s->name, lo, hi, text);
        if (s->type == ARG_INT)
            *(int *)s->value = (int)v;
        else
            *(long *)s->value = v;
        break;
    }
    case ARG_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(text, &end);
        // strtod also takes "nan" and "inf"; no option means anything by them
        if (errno || !*text || *end || !isfinite(v) || *text == ' ' || *text == '\t' || *text == '\n')
            return usage(msg, cap, "%s expects a finite number, got '%.60s'", s->name, text);
        *(double *)s->value = v;
        break;
    }
    case ARG_STRING:
        *(const char **)s->value = text;
        break;
    case ARG_FLAG:
        break;
    }
    return 0;
}

int args_parse_status(ArgParser *p, int argc, char **argv, char *msg, size_t cap) {
    p->npositional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (a[0] == '-' && a[1] == '-') {
            // accept both "--name value" and "--name=value"
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            ArgSpec *s = NULL;
            for (int k = 0; k < p->nspecs; k++)
                if (strlen(p->specs[k].name) == len && !strncmp(p->specs[k].name, a, len)) s = &p->specs[k];
            if (!s) return usage(msg, cap, "unknown option '%.60s'", a);
            if (s->seen) return usage(msg, cap, "option %s given twice", s->name);
            s->seen = true;
            if (s->type == ARG_FLAG) {
                if (eq) return usage(msg, cap, "%s takes no value", s->name);
                *(bool *)s->value = true;
                continue;
            }
            const char *text = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!text) return usage(msg, cap, "%s needs a value", s->name);
            if (parse_value(s, text, msg, cap)) return -1;
        } else {
            if (p->npositional >= p->max_positional || p->npositional >= 8)
                return usage(msg, cap, "unexpected argument '%.60s'", a);
            p->positional[p->npositional++] = a;
        }
    }
    for (int k = 0; k < p->nspecs; k++)
        if (p->specs[k].required && !p->specs[k].seen) return usage(msg, cap, "missing required option %s", p->specs[k].name);
    if (p->npositional < p->min_positional) return usage(msg, cap, "missing argument: %s", p->usage);
    return 0;
}

void args_parse(ArgParser *p, int argc, char **argv) {
    char msg[256];
    int rc = args_parse_status(p, argc, argv, msg, sizeof msg);
    if (rc == 1) {
        args_print_help(p);
        exit(0);
    }
    if (rc < 0) cli_usage(p->command, "%s", msg);
}

bool args_seen(const ArgParser *p, const char *name) {
    for (int k = 0; k < p->nspecs; k++)
        if (!strcmp(p->specs[k].name, name)) return p->specs[k].seen;
    return false;
}
