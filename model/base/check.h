// check.h: always-on checks and error reporting shared by every module.
//
// CHECK is for invariants and user errors in command-line code paths: it prints
// "file:line: message" on one line and exits with status 1. It is never compiled
// out (no NDEBUG dependence): a wrong shape must stop the run, not corrupt it.
//
// Library parsers (npy, safetensors, JSON configs) do not exit; they return a
// non-zero status and fill an LzError with one line that names the file and the
// problem, so that tests can check the message and CLIs decide what to do.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define LZ_ERR_LEN 512

typedef struct {
    char msg[LZ_ERR_LEN];  // one line, no trailing newline
} LzError;

// Formats into err->msg (err may be NULL) and returns -1, so parsers can write
// `return lz_fail(err, "%s: header length %llu exceeds file size", path, n);`
int lz_fail(LzError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

__attribute__((noreturn, format(printf, 3, 4))) void lz_die(const char *file, int line, const char *fmt, ...);

#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) lz_die(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

// Allocation that never returns NULL; `what` names the tensor family in the message.
void *lz_malloc(size_t bytes, const char *what);
void *lz_calloc(size_t count, size_t size, const char *what);
