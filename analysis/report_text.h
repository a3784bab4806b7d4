// report_text.h: a growing text buffer for the report writers (Markdown,
// gnuplot scripts, data files), written out atomically in one piece so that a
// failed report never leaves a half-written file behind.
#pragma once
#include <stddef.h>

#include "model/base/check.h"

typedef struct {
    char *s;     // NUL-terminated text
    size_t len;  // bytes before the NUL
    size_t cap;
} ReportText;

void rt_init(ReportText *t);
void rt_free(ReportText *t);
void rt_clear(ReportText *t);
void rt_printf(ReportText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_puts(ReportText *t, const char *s);
// Writes the text to dir/name (atomically). Errors name the file.
int rt_write_file(const ReportText *t, const char *dir, const char *name, LzError *err);

// Formats a double with printf format `fmt`, or "—" for NaN (a NULL in the
// database). Returns buf.
const char *rt_num(char *buf, size_t cap, const char *fmt, double v);
