// fuzz_util.h: shared by the libFuzzer targets tests/fuzz/fuzz_*.c. Each target
// defines LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize); built
// with -fsanitize=fuzzer by `make fuzz` into build-fuzz/fuzz/, and with
// tests/fuzz/replay_main.c into build/fuzz/replay_* which feeds the committed
// corpora (tests/fuzz/<target>/) to the same entry point in the ordinary suite.
//
// File parsers are fuzzed through their real entry points (a path): the input
// is written to one temporary regular file per process, rewritten each time.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path_[256];
static char fuzz_out_[280];
static void fuzz_cleanup_(void) {
    unlink(fuzz_path_);
    if (fuzz_out_[0]) unlink(fuzz_out_);
}

// Writes data to this process's scratch file and returns its path.
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
    char *path = fuzz_path_;
    const size_t cap = sizeof fuzz_path_;
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, cap, "%s/lazydit-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(path);
        if (fd < 0) {
            perror("fuzz scratch file");
            abort();
        }
        // Removed at exit; a killed fuzzer leaves one small file in TMPDIR.
        atexit(fuzz_cleanup_);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz scratch write");
        abort();
    }
    return path;
}

// A second scratch path (beside the input's, not created) for targets that
// write what they loaded and read it back; removed at exit.
static inline const char *fuzz_out_path(void) {
    if (!fuzz_out_[0]) {
        if (!fuzz_path_[0]) fuzz_file((const uint8_t *)"", 0);
        snprintf(fuzz_out_, sizeof fuzz_out_, "%s.out", fuzz_path_);
    }
    return fuzz_out_;
}

// Input bytes as a NUL-terminated string (malloc'd; embedded NULs end it early).
static inline char *fuzz_string(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}
