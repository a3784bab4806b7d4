// atomic_file.h: create a file by writing a temporary file in the target's
// directory and renaming it over the target only once everything is written
// and synced. Readers of `path` therefore see the old file or the complete new
// one, never a prefix, and a failed write leaves an existing target untouched
// and no temporary behind. The target must be absent or a regular file (never
// a device, directory or symbolic link). Inside a run whose outputs are staged
// (RunFiles in model/io/file_rules.h) the commit hands the temporary to the run,
// which publishes all outputs together at its end.
#pragma once
#include <stdio.h>

#include "model/base/check.h"

typedef struct {
    FILE *f;           // the temporary file, NULL when closed
    char *tmp_path;    // "<dir>/.<name>.tmp.<pid>.<n>" (model/io/file_rules.h), owned
    const char *path;  // the final name, borrowed from the caller
    int write_errno;   // first failed write's errno (0 if none); later writes are skipped
} AtomicFile;

// Creates the temporary file. On failure nothing exists on disk and err names `path`.
int atomic_open(AtomicFile *af, const char *path, LzError *err);
// Appends n bytes. Errors are remembered and reported by atomic_commit, so
// writers can emit a whole file without checking every call.
void atomic_write(AtomicFile *af, const void *data, size_t n);
// Flushes, fsyncs, closes and renames onto the target. On any failure (including
// an earlier atomic_write) the temporary is removed and err says why.
int atomic_commit(AtomicFile *af, LzError *err);
// Gives up: closes and removes the temporary. Safe to call after a failed commit.
void atomic_abort(AtomicFile *af);

// Fault injection for the crash-consistency tests (tests/test_faults.sh): with
// LAZYDIT_FAULT_KILL_AFTER=N in the environment the process kills itself with
// SIGKILL right after the N-th file it publishes (an atomic commit or a run's
// staged output), so a test can stop a run at every publish point in turn
// instead of at random times. Without the variable it does nothing.
void lz_fault_after_publish(void);

// mkdir -p: creates dir and its missing parents. 0 on success or when it
// already exists as a directory; -1 with a one-line message otherwise.
int lz_mkdir_p(const char *dir, LzError *err);
