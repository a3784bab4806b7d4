// cli_common.h: what every subcommand shares: the error idiom, loading inputs
// with one-line errors, and formatting.
//
// The error idiom (the rule of model/base/check.h, applied to cli/):
//   cli_usage    the command line itself is wrong: an unknown or repeated
//                option, a missing or malformed value, a value out of its
//                range, options that conflict. One line
//                "lazydit <command>: <what> (see lazydit <command> --help)",
//                exit status 2. cli/args.c reports through it too.
//   cli_fail_in  every other user error: a file that is missing or malformed,
//                data that does not fit the model, a run that cannot go on.
//                One line "lazydit <command>: <what>", exit status 1. Library
//                errors (LzError) are passed on through it.
//   CHECK        internal invariants only (file:line, exit status 1).
// Both exit from where the error is found, with every buffer still
// referenced from the stack, which also keeps LeakSanitizer quiet in `make asan`.
#pragma once
#include <cjson/cJSON.h>

#include "model/dit.h"
#include "model/io/file_rules.h"
#include "model/io/npy.h"

__attribute__((noreturn, format(printf, 2, 3))) void cli_usage(const char *command, const char *fmt, ...);
__attribute__((noreturn, format(printf, 2, 3))) void cli_fail_in(const char *command, const char *fmt, ...);

// The files of one command's run (model/io/file_rules.h), through cli_fail_in
// on a rule's violation: every input and output is declared before the work
// starts; staged outputs appear only through cli_publish at the very end of a
// successful run (an exit before it removes them).
void cli_input(RunFiles *rf, const char *command, const char *path);
void cli_output(RunFiles *rf, const char *command, const char *path, int flags);
void cli_publish(RunFiles *rf, const char *command);
// cli_fail_in "<path>: <what> element i is NaN (not finite)" unless every value is finite.
void cli_require_finite(const char *command, const char *path, const char *what, const float *x, long n);
// Loads a DiT checkpoint and builds it for `max_batch` rows. schedule (may be
// NULL) receives the diffusion schedule the model was trained with
// (dit_load_with_schedule). Errors through cli_fail_in.
void cli_load_dit(const char *command, DitModel *m, const char *path, int heads, int max_batch, int training,
                  DiffusionSchedule *schedule);
// The same with dit_load_ex flags (DIT_LOAD_ALLOW_NONFINITE).
void cli_load_dit_flags(const char *command, DitModel *m, const char *path, int heads, int flags, int max_batch,
                        int training, DiffusionSchedule *schedule);
// Reads .npy as float32 / int64 (errors through cli_fail_in).
NpyArray cli_read_f32(const char *command, const char *path);
NpyArray cli_read_i64(const char *command, const char *path);
// Writes .npy (atomically); errors through cli_fail_in.
void cli_write_f32(const char *command, const char *path, int ndim, const long *shape, const float *data);
// --guide-channels: "3" -> 3, "all" -> every epsilon channel (C); anything
// else (junk, a number beyond 1024, never wrapped) is a usage error.
int cli_parse_guide_channels(const char *command, const char *text, const DitConfig *c);
// "12.3 G" style formatting of a count.
const char *cli_si(double value, char *buf, int buflen);
// A two-element JSON array [a, b] (confidence intervals in --json output).
cJSON *cli_json_pair(double a, double b);
// Prints a cJSON object as one line on stdout and deletes it.
void cli_print_json(cJSON *o);
