// report_study.h: the similarity and lower-bound study of the report, on the
// full-compute runs (every slot computed, so each recorded similarity compares
// two computed outputs; a reused slot would show cos = 1 by construction).
//
// Bound. module_steps records alpha and the bound 1 - alpha on the cosine
// similarity of a module's output to the previous step's (see docs/theory.md).
// Since cos >= -1 always, the bound says nothing when 1 - alpha <= -1
// ("vacuous", alpha >= 2). Where it is not vacuous, the gap cos_mean - bound
// says how far it is from the measured value, and a slot whose smallest row
// similarity (cos_min) lies below the bound is a violation.
//
// Linear probe (Theorem 3: similarity is approximately linear in the
// modulated input Z). The database records Z per slot only through its change
// between steps, so the probe is: per module type, ordinary least squares of
// cos_mean on [1, z_rel_dist, z_dist] (features standardised on the training
// part), over the (layer, step >= 1) slots of full-compute runs, and a second
// probe that adds one indicator per layer. It is scored on held-out runs:
// leave one run out, fit on the others, predict the held-out run's slots;
// R^2 = 1 - sum of squared errors / sum of squares around each held-out run's
// own mean, pooled over the folds. Needs at least two full-compute runs.
#pragma once
#include "analysis/report_db.h"

typedef struct {
    int module, layer;
    int n_steps;            // slots with both cos_mean and bound_value (steps >= 1)
    int n_vacuous;          // bound_value <= -1
    int n_violated;         // cos_min < bound_value
    double median_alpha;
    double median_one_minus_cos;  // median of 1 - cos_mean
    double median_gap;      // median of cos_mean - bound_value over non-vacuous slots (NaN if none)
    double min_gap;         // smallest gap over non-vacuous slots (NaN if none)
    double median_lipschitz, min_lipschitz, max_lipschitz;  // empirical |dY| / |dZ| over steps
    double median_c;        // the theory's Lipschitz constant C over steps (NaN when not recorded)
    double median_r, median_r2;  // the bound's R and R2 over steps (NaN when not recorded)
} ReportBoundRow;

// Per (module, layer) summary of one run: rows is (2, L) in (module, layer)
// order. Returns the number of rows written (0 when the run has no grid).
int report_bound_rows(const ReportRun *r, ReportBoundRow *rows);

#define REPORT_PROBE_FEATURE_SETS 2  // 0: z_rel_dist, z_dist; 1: the same plus layer indicators
typedef struct {
    int n_runs;    // full-compute runs with similarities (the folds)
    long n_points[2];  // slots per module
    double r2_heldout[2][REPORT_PROBE_FEATURE_SETS];  // [module][feature set], NaN when not computable
    double r2_insample[2][REPORT_PROBE_FEATURE_SETS];
} ReportProbe;

void report_probe(const ReportData *d, ReportProbe *out);

// Median of n values (sorts them); NaN when n == 0.
double report_median(double *v, int n);
// Least-squares slope of y on x (NaN when fewer than 2 distinct x).
double report_slope(const double *x, const double *y, int n);
