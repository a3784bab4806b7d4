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

void cli_load_dit(const char *command, DitModel *m, const char *path, int heads, int max_batch, int training,
                  DiffusionSchedule *schedule) {
    DitConfig cfg;
    float *params = NULL;
    LzError err;
    if (dit_load_with_schedule(path, heads, &cfg, &params, schedule, &err)) cli_fail_in(command, "%s", err.msg);
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
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 1 || v > 1024)
        cli_usage(command, "--guide-channels expects a positive integer or 'all', got '%s'", text);
    return (int)v;
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
