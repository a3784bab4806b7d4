#include "cli/cli_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noreturn)) static void fail_line(const char *command, const char *fmt, va_list ap) {
    if (command) fprintf(stderr, "lazydit %s: ", command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    exit(1);
}

void cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_line(NULL, fmt, ap);
}

void cli_fail_in(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_line(command, fmt, ap);
}

void cli_load_dit(DitModel *m, const char *path, int heads, int max_batch, int training) {
    DitConfig cfg;
    float *params = NULL;
    LzError err;
    if (dit_load(path, heads, &cfg, &params, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    dit_build(m, &cfg, params, max_batch, training);
}

NpyArray cli_read_f32(const char *path) {
    NpyArray a;
    LzError err;
    if (npy_read_f32(path, &a, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return a;
}

NpyArray cli_read_i64(const char *path) {
    NpyArray a;
    LzError err;
    if (npy_read_i64(path, &a, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return a;
}

void cli_write_f32(const char *path, int ndim, const long *shape, const float *data) {
    LzError err;
    if (npy_write(path, NPY_F32, ndim, shape, data, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

const char *cli_si(double v, char *buf, int buflen) {
    const char *unit[] = {"", " K", " M", " G", " T", " P"};
    int k = 0;
    while (v >= 1000 && k < 5) {
        v /= 1000;
        k++;
    }
    snprintf(buf, buflen, "%.4g%s", v, unit[k]);
    return buf;
}

cJSON *cli_json_pair(double a, double b) {
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(a));
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(b));
    return arr;
}

FILE *cli_open_csv_resume(const char *path, const char *header, long resume_step) {
    FILE *old = fopen(path, "r");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) cli_fail("%s: cannot write", tmp);
    fprintf(out, "%s\n", header);
    if (old && resume_step > 0) {
        char line[1024];
        while (fgets(line, sizeof line, old)) {
            long s;
            if (sscanf(line, "%ld,", &s) == 1 && s <= resume_step) fputs(line, out);
        }
    }
    if (old) fclose(old);
    if (fclose(out)) cli_fail("%s: cannot write", tmp);
    if (rename(tmp, path)) cli_fail("cannot rename %s to %s", tmp, path);
    FILE *f = fopen(path, "a");
    if (!f) cli_fail("%s: cannot append", path);
    return f;
}
