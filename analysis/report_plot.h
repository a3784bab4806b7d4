// report_plot.h: figures of the report. Each figure NAME is three files the
// report writes next to REPORT.md and two that gnuplot renders from them:
//   NAME.dat  the numbers, with a comment header naming the columns
//   NAME.gp   the gnuplot script (terminal preamble + the figure's commands)
//   NAME.png  pngcairo        (`gnuplot NAME.gp`)
//   NAME.svg  SVG             (`gnuplot -e "fmt='svg'" NAME.gp`)
// gnuplot runs in the output directory with the script's file name only, so
// the scripts contain no absolute paths and a copied report re-renders. Same
// inputs give byte-identical files (no dates anywhere).
#pragma once
#include "analysis/report_text.h"

typedef struct {
    const char *out_dir;
    const char *gnuplot;  // program to run ("gnuplot")
    int render;           // 0: write .dat and .gp only
} ReportPlot;

// Writes NAME.dat and NAME.gp (`about`: a comment line saying what the figure
// shows) and renders PNG and SVG of width x height pixels.
int report_figure(const ReportPlot *p, const char *name, const char *about, const ReportText *data,
                  const ReportText *body, int width, int height, LzError *err);

// A gnuplot string literal for text (single quotes; quotes doubled).
const char *report_gp_quote(char *buf, size_t cap, const char *text);
