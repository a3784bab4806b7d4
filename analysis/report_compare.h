// report_compare.h: what the report compares, and how.
//
// Equal budget. A run of S steps that reused a fraction r of its (model row,
// step, block, module) slots (runs.lazy_ratio, the realised ratio) did the
// module work of K = S x (1 - r) full steps; its equal-budget baseline is the
// DDIM run of K steps, K rounded to the nearest integer with halves rounded up
// (K = floor(S (1 - r) + 1/2), at least 1). Runs are only compared when their
// settings agree: model, sampler, eta, CFG scale, sample count and seed. When
// no DDIM run of exactly K steps exists, the nearest step count is used (ties
// go to the larger, which gives DDIM the larger budget) and the table says so.
//
// Resolution. Two values of a metric are "resolved" when their 95% intervals
// (metrics.ci_low, ci_high) do not overlap; then the better one (lower FID,
// higher IS, ...) is marked. Otherwise the difference is "not resolved".
// Non-overlap of two 95% intervals is a conservative test (it corresponds to
// a level well below 5% for the difference), which suits a table that makes
// claims.
#pragma once
#include <stddef.h>

#include "analysis/report_db.h"

int report_equal_budget_steps(int steps, double lazy_ratio);
int report_same_settings(const ReportRun *a, const ReportRun *b);
int report_is_ddim(const ReportRun *r);
// The DDIM run with the same settings and the step count nearest to `k` (ties:
// the larger). -1 if there is none; *exact says whether it has k steps.
int report_find_ddim(const ReportData *d, const ReportRun *like, int k, int *exact);

typedef enum { CMP_MISSING = -2, CMP_B_BETTER = -1, CMP_UNRESOLVED = 0, CMP_A_BETTER = 1 } ReportCmp;
// Compares metric m of runs a and b by their intervals (CMP_MISSING when a
// value or an interval is absent).
ReportCmp report_compare(const ReportMetric *a, const ReportMetric *b, int higher_better);
// Half width of the interval: (hi - lo) / 2 (NaN when absent).
double report_half_width(const ReportMetric *m);

// "DDIM", "LazyDiT", "LazyDiT (attention only)", ...
const char *report_method_label(const ReportRun *r, char *buf, size_t cap);
// Short label of the policy and modules: "lazydit", "lazydit-attn", ...
const char *report_series_key(const ReportRun *r, char *buf, size_t cap);
