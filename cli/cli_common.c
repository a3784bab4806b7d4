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

void cli_input(RunFiles *rf, const char *command, const char *path) {
    LzError err;
    if (run_files_input(rf, path, &err)) cli_fail_in(command, "%s", err.msg);
}

void cli_output(RunFiles *rf, const char *command, const char *path, int flags) {
    LzError err;
    if (run_files_output(rf, path, flags, &err)) cli_fail_in(command, "%s", err.msg);
}

void cli_publish(RunFiles *rf, const char *command) {
    LzError err;
    if (run_files_publish(rf, &err)) cli_fail_in(command, "%s", err.msg);
    run_files_free(rf);
}

void cli_require_finite(const char *command, const char *path, const char *what, const float *x, long n) {
    LzError err;
    if (lz_check_finite(path, what, x, n, &err)) cli_fail_in(command, "%s", err.msg);
}

void cli_load_dit(DitModel *m, const char *path, int heads, int max_batch, int training) {
    cli_load_dit_flags(m, path, heads, 0, max_batch, training);
}

void cli_load_dit_flags(DitModel *m, const char *path, int heads, int flags, int max_batch, int training) {
    DitConfig cfg;
    float *params = NULL;
    LzError err;
    if (dit_load_ex(path, heads, flags, &cfg, &params, &err)) {
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
