// report_paper.h: the paper's own numbers (LazyDiT, AAAI 2025, Tables 4 and 5:
// FID, sFID, IS, precision and recall in percent, on ImageNet with the ADM
// evaluator, 50k samples, CFG 1.5), kept as analysis/reference/lazydit_paper_tables.csv
// and compiled into the binary, so that a report prints them beside the local
// rows of the same structure. Columns:
//   table,model,method,steps,lazy_ratio,fid,sfid,is,precision,recall
// with lazy_ratio empty for DDIM rows.
#pragma once
#include "model/base/check.h"

typedef struct {
    char table[8];    // "T4", "T5"
    char model[64];   // "DiT-XL/2 256×256"
    char method[16];  // "ddim", "lazydit"
    int steps;
    double lazy_ratio;  // NaN for DDIM
    double fid, sfid, is, precision, recall;
} PaperRow;

// The built-in table: the CSV compiled in (the Makefile turns it into string literals).
extern const char lazydit_paper_tables_csv[];

// Parses CSV text (`what` names it in errors: the file or "built-in table").
int paper_rows_parse(const char *text, const char *what, PaperRow **rows, int *n, LzError *err);
// Reads `path`, or the built-in table when path is NULL.
int paper_rows_load(const char *path, PaperRow **rows, int *n, LzError *err);
