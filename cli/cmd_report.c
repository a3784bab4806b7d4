// lazydit report: REPORT.md with tables and gnuplot figures from a result
// database (library: analysis/report.h; sections and rules: docs/report.md).
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/report_paired.h"
#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int cmd_report(int argc, char **argv) {
    const char *out = NULL, *paper = NULL, *gnuplot = "gnuplot";
    bool no_render = false, quiet = false;
    int paired = REPORT_PAIRED_RESAMPLES;
    ArgSpec specs[] = {
        {"--out", ARG_STRING, &out, true, "output directory (created): REPORT.md, figures (.png, .svg), .gp and .dat", false},
        {"--paper-tables", ARG_STRING, &paper, false,
         "CSV of the paper's numbers (default: the copy of analysis/reference/lazydit_paper_tables.csv built in)", false},
        {"--gnuplot", ARG_STRING, &gnuplot, false, "gnuplot program to render with (default gnuplot)", false},
        {"--no-render", ARG_FLAG, &no_render, false, "write the .gp scripts and .dat files but do not run gnuplot", false},
        {"--quiet", ARG_FLAG, &quiet, false, "do not print the main table on stdout", false},
        {"--paired-resamples", ARG_INT, &paired, false,
         "resamples B of the paired FID bootstrap for runs with stored sample features (default 1000; 0 = off)", false},
    };
    ArgParser p = {"report", "RESULTS.db --out DIR [--paper-tables CSV] [--gnuplot PROG] [--no-render] [--quiet]\n"
                             "       [--paired-resamples B]",
                   "Writes DIR/REPORT.md from a result database: the main table in the layout of\n"
                   "the LazyDiT paper's Table 5 (each lazy run beside its equal-budget DDIM run, 95%\n"
                   "intervals, the better value marked only where the intervals separate; the\n"
                   "FID-proxy by a paired bootstrap of the difference when both runs stored their\n"
                   "per-sample features), the\n"
                   "paper's numbers beside the local rows, every policy at equal budget, quality\n"
                   "against executed MACs, per-layer lazy ratios, consecutive-step similarity\n"
                   "heatmaps, the similarity lower-bound study with a linear probe, and a verdict\n"
                   "on each of the paper's claims by the rules the report states. Figures are\n"
                   "rendered by gnuplot (pngcairo and SVG). The same database gives byte-identical\n"
                   "output. The main table is also printed on stdout. See docs/report.md.",
                   specs, sizeof specs / sizeof specs[0], 1, 1, {0}, 0};
    args_parse(&p, argc, argv);
    if (paired < 0 || paired == 1) cli_usage("report", "--paired-resamples %d: give 0 (off) or at least 2", paired);
    // The file rules (model/io/file_rules.h): the database and the paper table
    // are regular files; DIR/REPORT.md is checked (and DIR created) before the
    // work. Every file of the report is written atomically on its own.
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "report", p.positional[0]);
    if (paper) cli_input(&rf, "report", paper);
    size_t n = strlen(out) + 16;
    char *md = malloc(n);
    CHECK(md, "out of memory");
    snprintf(md, n, "%s/REPORT.md", out);
    cli_output(&rf, "report", md, RF_MKDIR);
    ReportOptions o = {p.positional[0], out, paper, gnuplot, !no_render, quiet ? NULL : stdout, paired ? paired : -1};
    LzError err;
    if (report_write(&o, &err)) cli_fail_in("report", "%s", err.msg);
    free(md);
    run_files_free(&rf);
    return 0;
}
