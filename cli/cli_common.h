// cli_common.h: small pieces every subcommand needs: loading inputs with
// one-line errors, and formatting.
#pragma once
#include <cjson/cJSON.h>
#include <stdio.h>

#include "model/dit.h"
#include "model/io/npy.h"

// Prints one error line (fmt without the newline) and exits with status 1.
// Exiting from where the error is found, with every buffer still referenced
// from the stack, also keeps LeakSanitizer quiet in `make asan`.
__attribute__((noreturn, format(printf, 1, 2))) void cli_fail(const char *fmt, ...);
// cli_fail with the line prefixed "lazydit <command>: ", for commands whose
// errors otherwise would not say where they came from in a pipeline.
__attribute__((noreturn, format(printf, 2, 3))) void cli_fail_in(const char *command, const char *fmt, ...);
// Loads a DiT checkpoint and builds it for `max_batch` rows; exits with a
// one-line error naming the file on failure.
void cli_load_dit(DitModel *m, const char *path, int heads, int max_batch, int training);
// Reads .npy as float32 / int64, exiting with the reader's one-line error.
NpyArray cli_read_f32(const char *path);
NpyArray cli_read_i64(const char *path);
// Writes .npy (atomically), exiting with a one-line error on failure.
void cli_write_f32(const char *path, int ndim, const long *shape, const float *data);
// --guide-channels: "3" -> 3, "all" -> every epsilon channel (C); exits 2 on junk.
int cli_parse_guide_channels(const char *text, const DitConfig *c);
// "12.3 G" style formatting of a count.
const char *cli_si(double value, char *buf, int buflen);
// A two-element JSON array [a, b] (confidence intervals in --json output).
cJSON *cli_json_pair(double a, double b);
// Opens a training CSV for appending, consistent with a resumed checkpoint:
// writes `header` (no newline) and keeps the old rows whose first column (the
// step) is <= resume_step, dropping rows written after the checkpoint before
// an interruption. Exits with a one-line error if the file cannot be written.
FILE *cli_open_csv_resume(const char *path, const char *header, long resume_step);
