// runner.h: `lazydit run`: executes an experiment's runs (experiments/
// experiment.h) into a result database, resumably.
//
// Per run (run_id = its index in the expanded config + 1, so every shard and
// every resume numbers runs alike):
//   * status 'done' in the database: skipped;
//   * status 'running' (the process died in it) or 'failed': every row of the
//     run is deleted in one transaction, then the run is redone;
//   * otherwise: sampled with the recorder attached (analysis/run_record.h),
//     metrics computed, and everything committed with status 'done' in one
//     transaction.
// A database belongs to one experiment config: its meta table holds the
// experiment name and the SHA-256 of the canonical config text, and a
// different config is refused (results of another config must not mix).
//
// Errors: a run whose policy, sampling or metrics fail is marked 'failed'
// (runs.error says why) and the sweep goes on; database errors (read-only
// directory, full disk, another experiment's database) stop the sweep at once
// with one line, and the database keeps every run committed before.
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "model/base/check.h"

typedef struct {
    const char *config_path;
    const char *db_path;
    int shard_index, shard_count;  // run k belongs to shard k % count; 0/1 = every run
    FILE *progress;                // a line per run (which of how many, time, ETA); NULL = silent
} RunnerOptions;

typedef struct {
    int total;     // runs of this shard
    int skipped;   // done before this invocation
    int done;      // done now
    int failed;    // failed now (see runs.error)
} RunnerSummary;

// Returns 0 when every run of the shard is done, 1 when some run failed, -1
// on a fatal error (err set; summary holds what happened before).
int runner_run(const RunnerOptions *o, RunnerSummary *summary, LzError *err);
