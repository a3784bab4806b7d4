// file_rules.h: the rules every file lazydit reads or writes goes through, in
// one place, so that each reader and each command applies the same ones.
//
// Inputs: only regular files are read. They are opened with O_NONBLOCK and
// checked with fstat before anything is read, so a FIFO, a terminal or a
// device named as an input is refused at once instead of blocking or being
// consumed; the flag is cleared again for the actual reads.
//
// Outputs of a run (RunFiles): every output is declared and validated before
// the work starts: it must not be an input of the same run (same device and
// inode, or the same resolved path), nor another output of the run, nor an
// existing device, directory, FIFO or symbolic link (a link's target is never
// replaced silently), and its directory must exist and be writable. Staged
// outputs are written to temporaries as the run goes and renamed onto their
// names only by run_files_publish, i.e. only when the whole run succeeded; a
// run that fails or exits publishes nothing and removes its temporaries.
//
// Temporaries are named "<dir>/.<name>.tmp.<pid>.<n>". A killed run cannot
// remove its own, so whenever an output is declared or a temporary for it is
// created, temporaries of that same name whose process no longer exists are
// removed: nothing else in the directory is touched.
//
// Numbers: integer text is parsed strictly (all of it, in range, no wrap);
// float inputs (weights, images, noise) are checked for NaN and infinity.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "model/base/check.h"

// --- inputs -----------------------------------------------------------------

// Opens `path` for reading if it is a regular file, without ever blocking on
// it. Returns the descriptor (blocking mode restored) and fills *st, or -1
// with "<path>: ..." in err.
int lz_open_input(const char *path, struct stat *st, LzError *err);
// The same as a stdio stream ("rb").
FILE *lz_fopen_input(const char *path, struct stat *st, LzError *err);

// --- numbers and text ---------------------------------------------------------

// Decimal integer text, optional leading '-', nothing else (no spaces, no
// '+', no trailing characters), inside [min, max]. 0 or -1.
int lz_parse_long(const char *text, long min, long max, long *out);
int lz_parse_int(const char *text, int min, int max, int *out);
// Unsigned decimal digits only, at most max.
int lz_parse_u64(const char *text, uint64_t max, uint64_t *out);
// Index of the first NaN or infinity in x[0..n), or -1 if every value is finite.
long lz_find_nonfinite(const float *x, long n);
// -1 with "<path>: <what> element i is <value> (not finite)" if x has a NaN or
// an infinity; 0 otherwise.
int lz_check_finite(const char *path, const char *what, const float *x, long n, LzError *err);
// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
int lz_utf8_valid(const unsigned char *s, size_t n);

// --- temporaries ----------------------------------------------------------------

// "<dir>/.<name>.tmp.<pid>.<n>" for `path` (malloc'd).
char *lz_temp_name(const char *path, unsigned n);
// Removes "<dir>/.<name>.tmp.<pid>[.<n>]" files of `path` whose process is
// gone. Returns the number removed.
int lz_clean_stale_temps(const char *path);

// --- the files of one run ----------------------------------------------------------

enum {
    RF_STAGED = 1,  // published by run_files_publish only (the default is: written when the writer commits)
    RF_MKDIR = 2,   // create the output's missing parent directories when it is declared
};

typedef struct {
    char *path;      // as given
    char *resolved;  // realpath of an input; realpath(directory) + "/" + name of an output
    dev_t dev;
    ino_t ino;
    int exists;      // dev/ino are valid
    int output, flags;
    char *staged;    // complete temporary waiting for publication (staged outputs)
} RunFile;

typedef struct {
    int n, cap;
    RunFile *files;
    int active;     // staging in effect (between run_files_begin and publish/abort)
    int published;
} RunFiles;

void run_files_init(RunFiles *rf);
// Declares an input: it must exist, be a regular file and not be an output of the run.
int run_files_input(RunFiles *rf, const char *path, LzError *err);
// Declares an output and validates it now (see the top of this file).
int run_files_output(RunFiles *rf, const char *path, int flags, LzError *err);
// From now on, atomic writes (model/io/atomic_file.h) to a staged output keep
// their complete temporary instead of renaming it. Only one RunFiles can be
// active at a time. If the process exits before run_files_publish, the
// temporaries are removed (atexit).
void run_files_begin(RunFiles *rf);
// Renames every staged temporary onto its output, in declaration order.
// A staged output that was never written is an error.
int run_files_publish(RunFiles *rf, LzError *err);
// Removes the staged temporaries; nothing is published.
void run_files_abort(RunFiles *rf);
// Aborts if still active, then releases memory.
void run_files_free(RunFiles *rf);

// For model/io/atomic_file.c: called with a complete, synced and closed
// temporary for `path`. Returns 1 if the active run stages `path` (it now owns
// the temporary), 0 if the caller should rename it as usual.
int run_files_take_staged(const char *path, const char *tmp_path);
