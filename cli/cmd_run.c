// lazydit run: executes an experiment config (docs/experiments.md) into a
// result database, resumably, optionally one shard of it (experiments/runner.h).
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "experiments/experiment.h"
#include "experiments/runner.h"

int cmd_run(int argc, char **argv) {
    const char *db = NULL, *shard = NULL;
    bool quiet = false, list = false;
    ArgSpec specs[] = {
        {"--db", ARG_STRING, &db, false,
         "result database (SQLite; created if missing, resumed if it exists; required unless --list)", false},
        {"--shard", ARG_STRING, &shard, false, "i/N: run only the runs k with k % N == i (0 <= i < N)", false},
        {"--list", ARG_FLAG, &list, false, "print the runs (of the shard) with their run ids and exit", false},
        {"--quiet", ARG_FLAG, &quiet, false, "no progress lines", false},
    };
    ArgParser p = {"run", "EXPERIMENT.json --db RESULTS.db [--shard i/N] [--quiet] | EXPERIMENT.json --list [--shard i/N]",
                   "Runs every run of an experiment config (a cartesian sweep of policies and\n"
                   "sampler settings, docs/experiments.md) and records each into the database:\n"
                   "one runs row, module_steps per (step, layer, module), the requested metrics.\n"
                   "Resumable: runs already done are skipped, a run that was interrupted or\n"
                   "failed is deleted and redone. --shard i/N runs a deterministic subset (merge\n"
                   "the shard databases with lazydit merge). A line per run reports progress.",
                   specs, sizeof specs / sizeof specs[0], 1, 1, {0}, 0};
    args_parse(&p, argc, argv);
    RunnerOptions o = {p.positional[0], db, 0, 1, quiet ? NULL : stdout};
    LzError err = {{0}};
    if (shard && experiment_parse_shard(shard, &o.shard_index, &o.shard_count, &err)) cli_usage("run", "%s", err.msg);
    if (list) {
        Experiment e;
        if (experiment_load(&e, o.config_path, &err)) cli_fail_in("run", "%s", err.msg);
        for (int i = 0; i < e.n_runs; i++)
            if (experiment_in_shard(&e.runs[i], o.shard_index, o.shard_count))
                printf("%d\t%s\t%s\n", i + 1, e.runs[i].name, e.runs[i].config_json);
        experiment_free(&e);
        return 0;
    }
    if (!db) cli_usage("run", "missing required option --db");
    RunnerSummary s;
    int rc = runner_run(&o, &s, &err);
    if (rc < 0) cli_fail_in("run", "%s", err.msg);
    if (!quiet)
        printf("%d runs: %d done now, %d done before, %d failed -> %s\n", s.total, s.done, s.skipped, s.failed, db);
    if (rc > 0)
        cli_fail_in("run", "%d of %d runs failed (the last: %s); see runs.error in %s, run again to retry them",
                    s.failed, s.total, err.msg, db);
    return 0;
}
