// lazydit merge: merges result databases (the shards of an experiment) into
// one, idempotently (analysis/db_merge.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/db_merge.h"
#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_merge(int argc, char **argv) {
    ArgParser p = {"merge", "OUT.db IN.db [IN.db ...]",
                   "Copies every finished run of the inputs, with all its rows, into OUT.db\n"
                   "(created if missing). All databases must have the same schema version and\n"
                   "belong to the same experiment (and config); this is checked before anything\n"
                   "is written. Runs OUT.db already has are left alone, so merging again\n"
                   "changes nothing; unfinished runs of the inputs are not copied.",
                   NULL, 0, 2, 8, {0}, 0};
    // Any number of inputs (a sweep may have many shards): positionals are
    // taken here; only --help is an option.
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            args_print_help(&p);
            return 0;
        }
        if (argv[i][0] == '-') cli_usage("merge", "unknown option '%s'", argv[i]);
    }
    if (argc < 3) cli_usage("merge", "missing argument: %s", p.usage);
    DbMergeStats st;
    LzError err = {{0}};
    if (db_merge(argv[1], (const char *const *)(argv + 2), argc - 2, &st, &err)) cli_fail_in("merge", "%s", err.msg);
    printf("merged %d database%s into %s: %ld runs added (%ld replaced unfinished copies), %ld already there, %ld "
           "unfinished left out\n",
           argc - 2, argc - 2 == 1 ? "" : "s", argv[1], st.added, st.replaced, st.present, st.skipped);
    return 0;
}
