// cli_common.h: small pieces every subcommand needs: loading inputs with
// one-line errors, and formatting.
#pragma once
#include <cjson/cJSON.h>

#include "model/dit.h"
#include "model/io/file_rules.h"
#include "model/io/npy.h"

// Prints one error line (fmt without the newline) and exits with status 1.
// Exiting from where the error is found, with every buffer still referenced
// from the stack, also keeps LeakSanitizer quiet in `make asan`.
__attribute__((noreturn, format(printf, 1, 2))) void cli_fail(const char *fmt, ...);
// cli_fail with the line prefixed "lazydit <command>: ", for commands whose
// errors otherwise would not say where they came from in a pipeline.
__attribute__((noreturn, format(printf, 2, 3))) void cli_fail_in(const char *command, const char *fmt, ...);
// The files of one command's run (model/io/file_rules.h), exiting with one
// line "lazydit <command>: ..." on a rule's violation: every input and output
// is declared before the work starts, staged outputs appear only through
// cli_publish at the very end of a successful run.
void cli_input(RunFiles *rf, const char *command, const char *path);
void cli_output(RunFiles *rf, const char *command, const char *path, int flags);
void cli_publish(RunFiles *rf, const char *command);
// Exits with "<path>: <what> element i is NaN (not finite)" unless every value is finite.
void cli_require_finite(const char *command, const char *path, const char *what, const float *x, long n);
// Loads a DiT checkpoint and builds it for `max_batch` rows; exits with a
// one-line error naming the file on failure.
void cli_load_dit(DitModel *m, const char *path, int heads, int max_batch, int training);
// The same with dit_load_ex flags (DIT_LOAD_ALLOW_NONFINITE).
void cli_load_dit_flags(DitModel *m, const char *path, int heads, int flags, int max_batch, int training);
// Reads .npy as float32 / int64, exiting with the reader's one-line error.
NpyArray cli_read_f32(const char *path);
NpyArray cli_read_i64(const char *path);
// Writes .npy (atomically), exiting with a one-line error on failure.
void cli_write_f32(const char *path, int ndim, const long *shape, const float *data);
// --guide-channels: "3" -> 3, "all" -> every epsilon channel (C); exits 2 on
// junk or a number that does not fit an int (never wrapped).
int cli_parse_guide_channels(const char *text, const DitConfig *c);
// "12.3 G" style formatting of a count.
const char *cli_si(double value, char *buf, int buflen);
// A two-element JSON array [a, b] (confidence intervals in --json output).
cJSON *cli_json_pair(double a, double b);
