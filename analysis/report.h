// report.h: `lazydit report`: a result database (analysis/schema.sql) to
// REPORT.md with tables and gnuplot figures (docs/report.md describes every
// section and rule). The output depends only on the database, the paper table
// and the gnuplot version: regenerating from the same database gives
// byte-identical files.
#pragma once
#include <stdio.h>

#include "analysis/report_db.h"
#include "analysis/report_plot.h"
#include "analysis/report_text.h"

typedef struct {
    const char *db_path;
    const char *out_dir;
    const char *paper_tables;  // CSV path; NULL = the copy built into the binary
    const char *gnuplot;       // program; NULL = "gnuplot"
    int render;                // 1: render PNG and SVG; 0: write .dat and .gp only
    FILE *table_out;           // also print the main table here; NULL = nowhere
    int paired_resamples;      // B of the paired FID bootstrap (runs with stored features); 0 = REPORT_PAIRED_RESAMPLES, < 0 = off
} ReportOptions;

int report_write(const ReportOptions *o, LzError *err);

// Parts, for tests and the CLI.
// The main table (the paper's Table 5 layout) of every settings group.
void report_main_table(ReportText *t, const ReportData *d);
// Full-compute runs with similarity records chosen for the per-run figures:
// one per step count, at most `max`, ascending steps. Returns how many.
int report_study_runs(const ReportData *d, int *idx, int max);
// Figures (each returns -1 on error, else 0) and the Markdown that shows them.
int report_fig_pareto(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err);
int report_fig_similarity(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md, LzError *err);
int report_fig_layer_ratios(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err);
int report_fig_ablation(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err);
int report_fig_bound(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md, LzError *err);
int report_fig_lipschitz(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md, LzError *err);
