#include "analysis/report_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/io/atomic_file.h"

void rt_init(ReportText *t) {
    t->cap = 4096;
    t->s = lz_malloc(t->cap, "report text");
    t->s[0] = 0;
    t->len = 0;
}

void rt_free(ReportText *t) {
    free(t->s);
    t->s = NULL;
    t->len = t->cap = 0;
}

void rt_clear(ReportText *t) {
    t->len = 0;
    t->s[0] = 0;
}

static void rt_reserve(ReportText *t, size_t extra) {
    if (t->len + extra + 1 <= t->cap) return;
    size_t cap = t->cap;
    while (t->len + extra + 1 > cap) cap *= 2;
    char *s = realloc(t->s, cap);
    CHECK(s, "report text: out of memory growing to %zu bytes", cap);
    t->s = s;
    t->cap = cap;
}

void rt_printf(ReportText *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    CHECK(n >= 0, "report text: bad format '%s'", fmt);
    if ((size_t)n >= t->cap - t->len) {
        rt_reserve(t, (size_t)n);
        vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap2);
    }
    va_end(ap2);
    t->len += (size_t)n;
}

void rt_puts(ReportText *t, const char *s) {
    size_t n = strlen(s);
    rt_reserve(t, n);
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

int rt_write_file(const ReportText *t, const char *dir, const char *name, LzError *err) {
    size_t cap = strlen(dir) + strlen(name) + 2;
    char *path = lz_malloc(cap, "report file name");
    snprintf(path, cap, "%s/%s", dir, name);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (!rc) {
        atomic_write(&af, t->s, t->len);
        rc = atomic_commit(&af, err);
    }
    free(path);
    return rc;
}

const char *rt_num(char *buf, size_t cap, const char *fmt, double v) {
    if (isnan(v))
        snprintf(buf, cap, "—");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}
