#include "analysis/report_paper.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const header = "table,model,method,steps,lazy_ratio,fid,sfid,is,precision,recall";
#define PAPER_FIELDS 10

// Splits one line into fields (double quotes protect commas; "" inside quotes
// is a quote). Writes NUL-terminated fields into `store`.
static int split_line(const char *line, size_t len, char fields[PAPER_FIELDS][80], int *nf) {
    *nf = 0;
    size_t i = 0;
    while (*nf < PAPER_FIELDS) {
        char *out = fields[*nf];
        size_t o = 0;
        int quoted = i < len && line[i] == '"';
        if (quoted) i++;
        while (i < len) {
            char c = line[i];
            if (quoted && c == '"') {
                if (i + 1 < len && line[i + 1] == '"') {
                    c = '"';
                    i++;
                } else {
                    quoted = 0;
                    i++;
                    continue;
                }
            } else if (!quoted && c == ',')
                break;
            if (o + 1 >= 80) return -1;
            out[o++] = c;
            i++;
        }
        if (quoted) return -1;
        out[o] = 0;
        (*nf)++;
        if (i >= len) return 0;
        i++;  // the comma
    }
    return -1;  // too many fields
}

static int parse_number(const char *s, double *v, int allow_empty) {
    if (!*s) {
        *v = NAN;
        return allow_empty ? 0 : -1;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno || !isfinite(*v) ? -1 : 0;
}

int paper_rows_parse(const char *text, const char *what, PaperRow **rows, int *n, LzError *err) {
    int cap = 1;
    for (const char *p = text; *p; p++) cap += *p == '\n';
    PaperRow *out = lz_calloc((size_t)cap, sizeof(PaperRow), "paper table rows");
    int count = 0, line_no = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && p[len - 1] == '\r') len--;
        line_no++;
        const char *line = p;
        p = eol ? eol + 1 : p + strlen(p);
        if (!len) continue;
        if (line_no == 1) {
            if (len != strlen(header) || strncmp(line, header, len)) {
                free(out);
                return lz_fail(err, "%s: line 1: header must be '%s'", what, header);
            }
            continue;
        }
        char f[PAPER_FIELDS][80];
        int nf;
        if (split_line(line, len, f, &nf) || nf != PAPER_FIELDS) {
            free(out);
            return lz_fail(err, "%s: line %d: expected %d comma-separated fields", what, line_no, PAPER_FIELDS);
        }
        PaperRow *r = &out[count];
        if (strlen(f[0]) >= sizeof r->table || strlen(f[1]) >= sizeof r->model || strlen(f[2]) >= sizeof r->method) {
            free(out);
            return lz_fail(err, "%s: line %d: table, model or method name too long", what, line_no);
        }
        memcpy(r->table, f[0], strlen(f[0]) + 1);
        memcpy(r->model, f[1], strlen(f[1]) + 1);
        memcpy(r->method, f[2], strlen(f[2]) + 1);
        double steps, v[5];
        int bad = strcmp(r->method, "ddim") && strcmp(r->method, "lazydit");
        bad = bad || parse_number(f[3], &steps, 0) || steps != floor(steps) || steps < 1 || steps > 1000;
        bad = bad || parse_number(f[4], &r->lazy_ratio, !strcmp(r->method, "ddim"));
        for (int k = 0; k < 5 && !bad; k++) bad = parse_number(f[5 + k], &v[k], 0);
        if (bad || (!isnan(r->lazy_ratio) && (r->lazy_ratio < 0 || r->lazy_ratio >= 1))) {
            free(out);
            return lz_fail(err, "%s: line %d: method must be ddim or lazydit, steps an integer in [1, 1000], "
                           "lazy_ratio in [0, 1) (empty for ddim) and the five metrics numbers", what, line_no);
        }
        r->steps = (int)steps;
        r->fid = v[0], r->sfid = v[1], r->is = v[2], r->precision = v[3], r->recall = v[4];
        count++;
    }
    if (!count) {
        free(out);
        return lz_fail(err, "%s: no rows", what);
    }
    *rows = out;
    *n = count;
    return 0;
}

int paper_rows_load(const char *path, PaperRow **rows, int *n, LzError *err) {
    if (!path) return paper_rows_parse(lazydit_paper_tables_csv, "built-in paper table", rows, n, err);
    FILE *f = fopen(path, "rb");
    if (!f) return lz_fail(err, "%s: cannot open the paper table: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = lz_malloc(cap, "paper table text");
    size_t got;
    while ((got = fread(text + len, 1, cap - 1 - len, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            fclose(f);
            free(text);
            return lz_fail(err, "%s: larger than %zu bytes, not a paper table", path, cap - 1);
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(text);
        return lz_fail(err, "%s: read error", path);
    }
    text[len] = 0;
    int rc = paper_rows_parse(text, path, rows, n, err);
    free(text);
    return rc;
}
