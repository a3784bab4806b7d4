// db_merge.h: `lazydit merge OUT.db IN.db...`: merges result databases (the
// shards of one experiment) into one.
//
// Every input is checked before anything is written: same schema version,
// same experiment, and for sweep databases the same config (meta
// config_sha256); OUT, if it exists, must agree too. Then each input is
// merged in one transaction: every run with status 'done' whose name OUT does
// not have as 'done' is copied with all its rows (a 'running' or 'failed' copy
// in OUT is replaced); a run OUT already has as 'done' is left alone if its
// config_json is the same, and is an error otherwise. Runs that are not done
// in the input are not copied. So merging is idempotent: merging the same
// inputs again, in any order, changes nothing. The run_id of the input is
// kept when OUT does not use it (always the case for shards of one sweep,
// whose ids come from the config); otherwise the run gets the next free id.
#pragma once
#include "model/base/check.h"

typedef struct {
    long added;      // runs copied
    long replaced;   // of those, runs that replaced an unfinished copy in OUT
    long present;    // runs OUT already had as done
    long skipped;    // runs of the inputs that were not done
} DbMergeStats;

int db_merge(const char *out_path, const char *const *inputs, int n_inputs, DbMergeStats *stats, LzError *err);
