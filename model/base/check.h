// check.h: always-on checks and error reporting shared by every module.
//
// One error idiom across the project:
//   * CHECK(cond, ...) is for internal invariants only: a condition that no
//     input can violate unless the code is wrong (a shape that does not match
//     the allocation, a batch beyond what was built). It prints
//     "file:line: message" on one line and exits with status 1. It is never
//     compiled out (no NDEBUG dependence): a wrong shape must stop the run,
//     not corrupt it.
//   * Library code never exits on a user error (a missing or malformed file,
//     an option out of range, data that does not fit the model): it returns
//     -1 (or NULL) and fills an LzError with one line that names the file or
//     the option and the problem, so that tests can check the message and the
//     caller decides what to do.
//   * The command line (cli/, see cli/cli_common.h) reports a usage error
//     (unknown, missing, malformed or conflicting options) through cli_usage,
//     exit status 2, and every other user error through cli_fail_in, exit
//     status 1, both as one line "lazydit <command>: <message>".
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
