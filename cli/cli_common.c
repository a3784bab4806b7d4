#include "cli/cli_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(const char *command, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "lazydit %s: ", command);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see lazydit %s --help)\n", command);
    exit(2);
}

void cli_fail_in(const char *command, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "lazydit %s: ", command);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
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

void cli_load_dit(const char *command, DitModel *m, const char *path, int heads, int max_batch, int training,
                  DiffusionSchedule *schedule) {
    cli_load_dit_flags(command, m, path, heads, 0, max_batch, training, schedule);
}

void cli_load_dit_flags(const char *command, DitModel *m, const char *path, int heads, int flags, int max_batch,
                        int training, DiffusionSchedule *schedule) {
    DitConfig cfg;
    float *params = NULL;
    LzError err;
    if (dit_load_ex(path, heads, flags, &cfg, &params, schedule, &err)) cli_fail_in(command, "%s", err.msg);
    dit_build(m, &cfg, params, max_batch, training);
}

NpyArray cli_read_f32(const char *command, const char *path) {
    NpyArray a;
    LzError err;
    if (npy_read_f32(path, &a, &err)) cli_fail_in(command, "%s", err.msg);
    return a;
}

NpyArray cli_read_i64(const char *command, const char *path) {
    NpyArray a;
    LzError err;
    if (npy_read_i64(path, &a, &err)) cli_fail_in(command, "%s", err.msg);
    return a;
}

void cli_write_f32(const char *command, const char *path, int ndim, const long *shape, const float *data) {
    LzError err;
    if (npy_write(path, NPY_F32, ndim, shape, data, &err)) cli_fail_in(command, "%s", err.msg);
}

int cli_parse_guide_channels(const char *command, const char *text, const DitConfig *c) {
    if (!strcmp(text, "all")) return c->in_channels;
    // Like the official eps[:, :k] slice, k beyond the output channels means all of them.
    int v;
    if (lz_parse_int(text, 1, 1024, &v))
        cli_usage(command, "--guide-channels expects an integer in 1..1024 or 'all', got '%.40s'", text);
    return v;
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

void cli_print_json(cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    CHECK(text, "cJSON_PrintUnformatted failed (out of memory?)");
    printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}
