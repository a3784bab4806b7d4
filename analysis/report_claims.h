// report_claims.h: the paper's claims, each judged on the database by an
// explicit rule (the rules are printed in the report next to the verdicts):
//   a   consecutive-step module outputs are highly similar
//   b1  LazyDiT beats DDIM at equal budget
//   b2  ... more so at small budgets
//   c   MHSA laziness falls and MLP laziness rises with depth
//   d1  alone, MHSA tolerates ~30% and MLP ~20% laziness before quality collapses
//   d2  equal ratios for both modules work best
// A claim without the runs it needs is "inconclusive" and says what is missing.
#pragma once
#include "analysis/report_db.h"

typedef enum { VERDICT_INCONCLUSIVE = 0, VERDICT_HOLDS = 1, VERDICT_FAILS = 2 } ReportVerdict;

#define REPORT_N_CLAIMS 6

// Thresholds of the rules.
#define CLAIM_A_COS 0.9            // "highly similar": cos_mean of a slot at least this
#define CLAIM_A_HOLDS 0.8          // holds when at least this fraction of slots is highly similar
#define CLAIM_A_FAILS 0.5          // fails when less than this fraction is
#define CLAIM_C_MIN_RATIO 0.05     // runs with less overall laziness say nothing about its profile
#define CLAIM_C_CHANGE 0.05        // a profile "falls"/"rises" when slope x (L - 1) is beyond this
#define CLAIM_D_COLLAPSE 0.10      // quality "collapses" when FID-proxy exceeds full compute by 10%
#define CLAIM_D_ATTN 0.25          // "~30%": MHSA must tolerate at least this module ratio
#define CLAIM_D_MLP 0.15           // "~20%": MLP at least this
#define CLAIM_D_MATCH 0.03         // overall ratios within this count as the same budget

typedef struct {
    const char *id;          // "a", "b1", ...
    const char *claim;       // the claim in words
    ReportVerdict verdict;
    char evidence[2048];     // the local evidence (Markdown, one table cell)
    char interval[768];      // the interval that decided it, or why sampling noise does not matter
    char rule[768];          // the rule, with its thresholds
} ReportClaim;

void report_claims(const ReportData *d, ReportClaim out[REPORT_N_CLAIMS]);
const char *report_verdict_name(ReportVerdict v);
