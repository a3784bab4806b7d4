// report.c: REPORT.md from a result database: the tables, the claims and the
// study, and the figures of report_figures.c. Every number printed is read
// from the database or computed from it by a rule stated next to it.
#include "analysis/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report_claims.h"
#include "analysis/report_compare.h"
#include "analysis/report_paired.h"
#include "analysis/report_paper.h"
#include "analysis/report_study.h"
#include "model/io/atomic_file.h"

// The metric columns of the main table: the paper's Table 5 plus class
// consistency, and paired fidelity to the full-compute samples (PSNR, SSIM)
// when the database has it.
static const ReportMetricId table_metrics[] = {RM_FID,    RM_SFID,          RM_IS, RM_PRECISION,
                                               RM_RECALL, RM_CLASS_CONSISTENCY, RM_PSNR, RM_SSIM};
#define N_BASE_METRICS 6

// How many of table_metrics the tables show.
static int n_table_metrics(const ReportData *d) {
    for (int i = 0; i < d->n_runs; i++)
        if (d->runs[i].m[RM_PSNR].present || d->runs[i].m[RM_SSIM].present) return N_BASE_METRICS + 2;
    return N_BASE_METRICS;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int is_lazydit_both(const ReportRun *r) { return !strcmp(r->policy, "lazydit") && !strcmp(r->modules, "both"); }

// ---- tables of runs paired at equal budget ----

typedef struct {
    int run;
    int budget;   // DDIM: steps; others: equal-budget K
    int partner;  // others: the DDIM run compared with (-1: none)
    int exact;
} Row;

static int row_before(const ReportData *d, const Row *a, const Row *b) {
    if (a->budget != b->budget) return a->budget > b->budget;
    const ReportRun *x = &d->runs[a->run], *y = &d->runs[b->run];
    int dx = report_is_ddim(x), dy = report_is_ddim(y);
    if (dx != dy) return dx;
    if (x->steps != y->steps) return x->steps > y->steps;
    if (x->lazy_ratio != y->lazy_ratio) return x->lazy_ratio < y->lazy_ratio;
    return strcmp(x->name, y->name) < 0;
}

static void metric_cell(ReportText *t, const ReportMetric *m, const char *fmt, int bold) {
    char v[64], lo[64], hi[64];
    if (!m->present) {
        rt_puts(t, " — |");
        return;
    }
    rt_num(v, sizeof v, fmt, m->value);
    if (bold)
        rt_printf(t, " **%s**", v);
    else
        rt_printf(t, " %s", v);
    if (!isnan(m->lo) && !isnan(m->hi)) rt_printf(t, " [%s, %s]", rt_num(lo, sizeof lo, fmt, m->lo), rt_num(hi, sizeof hi, fmt, m->hi));
    rt_puts(t, " |");
}

static void comparison_cell(ReportText *t, const ReportData *d, const Row *row) {
    const ReportRun *r = &d->runs[row->run];
    if (row->partner < 0) {
        rt_printf(t, " no DDIM run with the same settings (K = %d) |", row->budget);
        return;
    }
    const ReportRun *b = &d->runs[row->partner];
    if (row->exact)
        rt_printf(t, " vs DDIM-%d:", b->steps);
    else
        rt_printf(t, " vs DDIM-%d (nearest to K = %d):", b->steps, row->budget);
    char better[128] = "", worse[128] = "", open_[128] = "", missing[128] = "";
    for (int k = 0; k < n_table_metrics(d); k++) {
        ReportMetricId m = table_metrics[k];
        if (!r->m[m].present && !b->m[m].present) continue;
        ReportCmp c = m == RM_FID ? report_compare_fid(d, row->run, row->partner, NULL)
                                  : report_compare(&r->m[m], &b->m[m], report_metric_info[m].higher_better);
        char *dst = c == CMP_A_BETTER ? better : c == CMP_B_BETTER ? worse : c == CMP_UNRESOLVED ? open_ : missing;
        size_t len = strlen(dst);
        snprintf(dst + len, 128 - len, "%s%s", len ? ", " : "", report_metric_info[m].abbrev);
    }
    int any = 0;
    if (better[0]) rt_printf(t, "%s better %s", any++ ? ";" : "", better);
    if (worse[0]) rt_printf(t, "%s worse %s", any++ ? ";" : "", worse);
    if (!better[0] && !worse[0]) {
        if (open_[0]) rt_printf(t, "%s not resolved", any++ ? ";" : "");  // every metric with an interval
    } else if (open_[0]) {
        rt_printf(t, "%s not resolved %s", any++ ? ";" : "", open_);
    }
    if (missing[0]) rt_printf(t, "%s no interval %s", any++ ? ";" : "", missing);
    rt_puts(t, " |");
}

// FID(run) - FID(equal-budget DDIM) with the paired bootstrap's 95% interval;
// "(unpaired)" when the two runs cannot be paired (the FID comparison then
// falls back to the two runs' own intervals).
static void delta_cell(ReportText *t, const ReportData *d, const Row *row) {
    const ReportRun *r = &d->runs[row->run];
    if (report_is_ddim(r) || row->partner < 0 || !r->m[RM_FID].present || !d->runs[row->partner].m[RM_FID].present) {
        rt_puts(t, " — |");
        return;
    }
    ReportPaired p = report_paired_fid(d, row->run, row->partner);
    if (p.ok)
        rt_printf(t, " %+.2f [%.2f, %.2f] |", p.diff, p.lo, p.hi);
    else
        rt_printf(t, " %+.2f (unpaired) |", r->m[RM_FID].value - d->runs[row->partner].m[RM_FID].value);
}

// rows[0..n) hold run indices on entry; partners and order are filled in.
static void pair_table(ReportText *t, const ReportData *d, Row *rows, int n) {
    for (int i = 0; i < n; i++) {
        const ReportRun *r = &d->runs[rows[i].run];
        rows[i].partner = -1;
        rows[i].exact = 0;
        if (report_is_ddim(r)) {
            rows[i].budget = r->steps;
        } else {
            rows[i].budget = report_equal_budget_steps(r->steps, r->lazy_ratio);
            rows[i].partner = report_find_ddim(d, r, rows[i].budget, &rows[i].exact);
        }
    }
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && row_before(d, &rows[b], &rows[b - 1]); b--) {
            Row x = rows[b];
            rows[b] = rows[b - 1];
            rows[b - 1] = x;
        }
    // Marks: the better cell of a resolved comparison.
    unsigned char *mark = lz_calloc((size_t)d->n_runs * RM_COUNT + 1, 1, "report marks");
    for (int i = 0; i < n; i++) {
        if (rows[i].partner < 0) continue;
        const ReportRun *r = &d->runs[rows[i].run], *b = &d->runs[rows[i].partner];
        for (int m = 0; m < RM_COUNT; m++) {
            ReportCmp c = m == RM_FID ? report_compare_fid(d, rows[i].run, rows[i].partner, NULL)
                                      : report_compare(&r->m[m], &b->m[m], report_metric_info[m].higher_better);
            if (c == CMP_A_BETTER) mark[(size_t)rows[i].run * RM_COUNT + m] = 1;
            if (c == CMP_B_BETTER) mark[(size_t)rows[i].partner * RM_COUNT + m] = 1;
        }
    }
    int nm = n_table_metrics(d), delta = d->n_features > 0;
    rt_puts(t, "| method | steps | lazy ratio | GMACs/sample |");
    for (int k = 0; k < nm; k++) rt_printf(t, " %s |", report_metric_info[table_metrics[k]].label);
    if (delta) rt_puts(t, " ΔFID vs equal-budget DDIM [95% CI] |");
    rt_puts(t, " wall (s) | equal-budget comparison |\n|---|---:|---:|---:|");
    for (int k = 0; k < nm; k++) rt_puts(t, "---|");
    if (delta) rt_puts(t, "---|");
    rt_puts(t, "---:|---|\n");
    for (int i = 0; i < n; i++) {
        const ReportRun *r = &d->runs[rows[i].run];
        char label[96], b1[32], b2[32], b3[32];
        rt_printf(t, "| %s | %d | %s | %s |", report_method_label(r, label, sizeof label), r->steps,
                  isnan(r->lazy_ratio) ? "—" : (snprintf(b1, sizeof b1, "%.1f%%", 100 * r->lazy_ratio), b1),
                  rt_num(b2, sizeof b2, "%.3f", r->n_samples > 0 ? r->macs_linear / (double)r->n_samples / 1e9 : NAN));
        for (int k = 0; k < nm; k++) {
            ReportMetricId m = table_metrics[k];
            metric_cell(t, &r->m[m], report_metric_info[m].fmt, mark[(size_t)rows[i].run * RM_COUNT + m]);
        }
        if (delta) delta_cell(t, d, &rows[i]);
        rt_printf(t, " %s |", rt_num(b3, sizeof b3, "%.1f", r->wall_s));
        if (report_is_ddim(r))
            rt_puts(t, " — |\n");
        else {
            comparison_cell(t, d, &rows[i]);
            rt_puts(t, "\n");
        }
    }
    rt_puts(t, "\n");
    free(mark);
}

// Settings group of each run: the index of the first run with the same settings.
static int *settings_groups(const ReportData *d) {
    int *g = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report settings groups");
    for (int i = 0; i < d->n_runs; i++) {
        g[i] = i;
        for (int j = 0; j < i; j++)
            if (report_same_settings(&d->runs[i], &d->runs[j])) {
                g[i] = g[j];
                break;
            }
    }
    return g;
}

static void settings_line(ReportText *t, const ReportRun *r) {
    rt_printf(t, "model `%.12s…`, %s sampler, eta %g, CFG %g, %ld samples per run, seed %ld", r->model_sha256,
              r->sampler, r->eta, r->cfg_scale, r->n_samples, r->seed);
}

void report_main_table(ReportText *t, const ReportData *d) {
    int *g = settings_groups(d);
    Row *rows = lz_malloc(sizeof(Row) * (size_t)(d->n_runs + 1), "report rows");
    int n_groups = 0;
    for (int i = 0; i < d->n_runs; i++)
        if (g[i] == i) {
            int any = 0;
            for (int j = i; j < d->n_runs; j++)
                any |= g[j] == i && (report_is_ddim(&d->runs[j]) || is_lazydit_both(&d->runs[j]));
            n_groups += any;
        }
    int printed = 0;
    for (int i = 0; i < d->n_runs; i++) {
        if (g[i] != i) continue;
        int n = 0;
        for (int j = i; j < d->n_runs; j++)
            if (g[j] == i && (report_is_ddim(&d->runs[j]) || is_lazydit_both(&d->runs[j]))) rows[n++].run = j;
        if (!n) continue;
        if (n_groups > 1) {
            rt_printf(t, "Settings %d: ", ++printed);
            settings_line(t, &d->runs[i]);
            rt_puts(t, "\n\n");
        }
        pair_table(t, d, rows, n);
    }
    if (!n_groups) rt_puts(t, "No DDIM or LazyDiT runs in this database.\n\n");
    free(rows);
    free(g);
}

// One line per policy, one column per (steps, lazy ratio rounded to 10%):
// the FID-proxy gain over the equal-budget DDIM run. A compact view of the
// per-policy tables for sweeps over policies.
static void policy_matrix(ReportText *t, const ReportData *d) {
    enum { MAXC = 64 };
    int col_s[MAXC], col_r[MAXC], nc = 0;
    char (*keys)[32] = lz_malloc(sizeof(char[32]) * (size_t)(d->n_runs + 1), "report matrix keys");
    char (*labels)[96] = lz_malloc(sizeof(char[96]) * (size_t)(d->n_runs + 1), "report matrix labels");
    int nk = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (report_is_ddim(r) || !r->m[RM_FID].present || isnan(r->lazy_ratio)) continue;
        int rr = (int)floor(10 * r->lazy_ratio + 0.5) * 10, seen = 0;
        for (int c = 0; c < nc; c++) seen |= col_s[c] == r->steps && col_r[c] == rr;
        if (!seen && nc < MAXC) col_s[nc] = r->steps, col_r[nc++] = rr;
        char k[32];
        report_series_key(r, k, sizeof k);
        seen = 0;
        for (int j = 0; j < nk; j++) seen |= !strcmp(keys[j], k);
        if (!seen) {
            snprintf(keys[nk], 32, "%s", k);
            report_method_label(r, labels[nk++], 96);
        }
    }
    if (nk < 2) {  // one policy: its table says it all
        free(keys);
        free(labels);
        return;
    }
    for (int a = 1; a < nc; a++)  // columns by steps, then ratio
        for (int b = a; b > 0 && (col_s[b] < col_s[b - 1] || (col_s[b] == col_s[b - 1] && col_r[b] < col_r[b - 1])); b--) {
            int x = col_s[b], y = col_r[b];
            col_s[b] = col_s[b - 1], col_r[b] = col_r[b - 1];
            col_s[b - 1] = x, col_r[b - 1] = y;
        }
    rt_puts(t, "Summary: FID-proxy gain over the equal-budget DDIM run, FID(DDIM-K) - FID(policy) (positive: the "
               "policy is better), per policy and (steps, lazy ratio rounded to 10%). **+** marks a gain resolved by "
               "the FID test of the main table, **-** a resolved loss; a value without a mark is not resolved; ~ marks a DDIM "
               "partner with the nearest step count instead of K.\n\n| policy |");
    for (int c = 0; c < nc; c++) rt_printf(t, " %d steps, %d%% |", col_s[c], col_r[c]);
    rt_puts(t, "\n|---|");
    for (int c = 0; c < nc; c++) rt_puts(t, "---:|");
    rt_puts(t, "\n");
    for (int k = 0; k < nk; k++) {
        rt_printf(t, "| %s |", labels[k]);
        for (int c = 0; c < nc; c++) {
            int best = -1;
            for (int i = 0; i < d->n_runs; i++) {
                const ReportRun *r = &d->runs[i];
                char key[32];
                if (report_is_ddim(r) || !r->m[RM_FID].present || isnan(r->lazy_ratio) || r->steps != col_s[c] ||
                    (int)floor(10 * r->lazy_ratio + 0.5) * 10 != col_r[c] || strcmp(report_series_key(r, key, sizeof key), keys[k]))
                    continue;
                if (best < 0 || fabs(r->lazy_ratio - col_r[c] / 100.0) < fabs(d->runs[best].lazy_ratio - col_r[c] / 100.0))
                    best = i;
            }
            int exact, j = best < 0 ? -1 : report_find_ddim(d, &d->runs[best], report_equal_budget_steps(d->runs[best].steps, d->runs[best].lazy_ratio), &exact);
            if (j < 0 || !d->runs[j].m[RM_FID].present) {
                rt_puts(t, " — |");
                continue;
            }
            const ReportMetric *f = &d->runs[best].m[RM_FID], *g = &d->runs[j].m[RM_FID];
            ReportCmp cmp = report_compare_fid(d, best, j, NULL);
            rt_printf(t, " %s%.2f%s |", exact ? "" : "~", g->value - f->value,
                      cmp == CMP_A_BETTER ? " **+**" : cmp == CMP_B_BETTER ? " **-**" : "");
        }
        rt_puts(t, "\n");
    }
    rt_puts(t, "\n");
    free(keys);
    free(labels);
}

// Every other policy (and single-module LazyDiT), one table per policy.
static void policy_tables(ReportText *t, const ReportData *d) {
    Row *rows = lz_malloc(sizeof(Row) * 2 * (size_t)(d->n_runs + 1), "report policy rows");
    char (*keys)[32] = lz_malloc(sizeof(char[32]) * (size_t)(d->n_runs + 1), "report policy keys");
    int nk = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (report_is_ddim(r) || is_lazydit_both(r)) continue;
        char k[32];
        report_series_key(r, k, sizeof k);
        int seen = 0;
        for (int j = 0; j < nk; j++) seen |= !strcmp(keys[j], k);
        if (!seen) snprintf(keys[nk++], 32, "%s", k);
    }
    if (nk) {
        rt_puts(t, "## Other policies at equal budget\n\n");
        policy_matrix(t, d);
        rt_puts(t, "Each run beside the DDIM run of its equal budget, with the same rules as the main table.\n\n");
    }
    for (int s = 0; s < nk; s++) {
        int n = 0;
        char label[96] = "";
        for (int i = 0; i < d->n_runs; i++) {
            const ReportRun *r = &d->runs[i];
            char k[32];
            if (report_is_ddim(r) || strcmp(report_series_key(r, k, sizeof k), keys[s])) continue;
            report_method_label(r, label, sizeof label);
            rows[n++].run = i;
            int exact, j = report_find_ddim(d, r, report_equal_budget_steps(r->steps, r->lazy_ratio), &exact);
            int dup = j < 0;
            for (int q = 0; q < n && !dup; q++) dup = rows[q].run == j;
            if (!dup) rows[n++].run = j;
        }
        rt_printf(t, "### %s\n\n", label);
        pair_table(t, d, rows, n);
    }
    free(rows);
    free(keys);
}

// Which test decided the FID comparisons (shown when the database has stored
// features): the paired bootstrap where both runs have them, else the two
// runs' own intervals.
static void fid_test_paragraph(ReportText *t, const ReportData *d) {
    int paired = 0, unpaired = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (report_is_ddim(r) || !r->m[RM_FID].present) continue;
        int exact, j = report_find_ddim(d, r, report_equal_budget_steps(r->steps, r->lazy_ratio), &exact);
        if (j < 0 || !d->runs[j].m[RM_FID].present) continue;
        if (report_paired_fid(d, i, j).ok) paired++;
        else unpaired++;
    }
    rt_printf(t,
              "**FID test.** %d run%s of this database store per-sample FID-proxy features (`sample_features`). "
              "Every run starts sample i from the same noise and label, so for two such runs the column ΔFID gives "
              "FID(run) - FID(equal-budget DDIM) with the 95%% interval of a paired bootstrap (%d resamples of the "
              "sample indices, the same indices in both runs, seed %d, plain percentile interval), and the FID-proxy "
              "is marked where that interval excludes 0; the two runs' own intervals are not used for it. Without "
              "features for both runs the FID-proxy is compared by the two intervals as for the other metrics and "
              "ΔFID says \"unpaired\". Equal-budget FID comparisons in this report: %d by the paired test, %d by the "
              "two intervals.",
              d->n_features, d->n_features == 1 ? "" : "s", d->paired_resamples, REPORT_PAIRED_SEED, paired, unpaired);
    if (d->n_features_mismatch)
        rt_printf(t, " %d run%s stored features that do not give back %s metrics fid (to 1e-9): not paired.",
                  d->n_features_mismatch, d->n_features_mismatch == 1 ? "" : "s",
                  d->n_features_mismatch == 1 ? "its" : "their");
    rt_puts(t, "\n\n");
}

// ---- the paper's numbers beside the local rows ----

static const char *paper_model = "DiT-XL/2 256×256";

// The local run of the main settings group with the paper row's structure.
static int local_match(const ReportData *d, const int *g, int group, const PaperRow *p) {
    int best = -1;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (g[i] != group || r->steps != p->steps) continue;
        if (!strcmp(p->method, "ddim")) {
            if (report_is_ddim(r)) return i;
            continue;
        }
        if (!is_lazydit_both(r) || !(fabs(r->lazy_ratio - p->lazy_ratio) <= 0.05)) continue;
        if (best < 0 || fabs(r->lazy_ratio - p->lazy_ratio) < fabs(d->runs[best].lazy_ratio - p->lazy_ratio)) best = i;
    }
    return best;
}

static void local_cell(ReportText *t, const ReportRun *r, ReportMetricId m) {
    char b[64];
    if (!r || !r->m[m].present)
        rt_puts(t, " — |");
    else
        rt_printf(t, " %s |", rt_num(b, sizeof b, report_metric_info[m].fmt, r->m[m].value));
}

static void paper_section(ReportText *t, const ReportData *d, const PaperRow *rows, int n) {
    rt_printf(t,
              "## The paper's numbers beside the local rows\n\n"
              "**Paper:** the LazyDiT paper's ImageNet %s results (its Table 5: FID, sFID, IS, precision and recall "
              "in percent, 50k samples, ADM evaluator, CFG 1.5). **Local:** this database (the Fashion-MNIST DiT; "
              "classifier proxies of docs/metrics.md; precision and recall as fractions). The two are on different "
              "data, models and evaluators: compare the shape (does LazyDiT beat DDIM at the same budget, and does "
              "the gap grow as the budget shrinks), never the values. Local rows: the DDIM run with the same steps, "
              "and the LazyDiT run (both modules) with the same steps whose realised lazy ratio is within 0.05 of the "
              "paper's (the nearest).\n\n",
              paper_model);
    int *g = settings_groups(d);
    int group = -1;
    for (int i = 0; i < d->n_runs && group < 0; i++)
        if (is_lazydit_both(&d->runs[i])) group = g[i];
    for (int i = 0; i < d->n_runs && group < 0; i++)
        if (report_is_ddim(&d->runs[i])) group = g[i];
    rt_puts(t,
            "| method | steps | lazy ratio (paper) | lazy ratio (local) | FID (paper) | FID-proxy (local) | sFID (paper) "
            "| sFID-proxy (local) | IS (paper) | IS-proxy (local) | precision % (paper) | precision (local) | recall % "
            "(paper) | recall (local) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int matched = 0;
    for (int k = 0; k < n; k++) {
        const PaperRow *p = &rows[k];
        if (strcmp(p->table, "T5") || strcmp(p->model, paper_model)) continue;
        int li = group < 0 ? -1 : local_match(d, g, group, p);
        const ReportRun *r = li >= 0 ? &d->runs[li] : NULL;
        matched += r != NULL;
        char lr[32], pr[32];
        rt_printf(t, "| %s | %d | %s | %s | %.2f |", strcmp(p->method, "ddim") ? "LazyDiT" : "DDIM", p->steps,
                  isnan(p->lazy_ratio) ? "—" : (snprintf(pr, sizeof pr, "%.0f%%", 100 * p->lazy_ratio), pr),
                  r && !report_is_ddim(r) ? (snprintf(lr, sizeof lr, "%.1f%%", 100 * r->lazy_ratio), lr) : "—", p->fid);
        local_cell(t, r, RM_FID);
        rt_printf(t, " %.2f |", p->sfid);
        local_cell(t, r, RM_SFID);
        rt_printf(t, " %.2f |", p->is);
        local_cell(t, r, RM_IS);
        rt_printf(t, " %.2f |", p->precision);
        local_cell(t, r, RM_PRECISION);
        rt_printf(t, " %.2f |", p->recall);
        local_cell(t, r, RM_RECALL);
        rt_puts(t, "\n");
    }
    rt_printf(t, "\n%d of the paper's %s rows have a local row of the same structure.\n\n", matched, paper_model);
    // Equal-budget gains, paper against local.
    rt_puts(t,
            "Equal-budget FID gains, FID(DDIM-K) - FID(LazyDiT) with K = round(S x (1 - ratio)) (positive: LazyDiT "
            "better). Local gains use the realised ratio and the 95% intervals of both runs (half widths added in "
            "quadrature).");
    if (d->n_features)
        rt_puts(t, " Where both runs have stored per-sample features, the interval is the paired bootstrap's (\"paired\"), "
                   "and it decides \"resolved\".");
    rt_puts(t, "\n\n"
            "| LazyDiT | DDIM | paper gain | local gain | local 95% interval | local resolved |\n|---|---|---:|---:|---|---|\n");
    for (int k = 0; k < n; k++) {
        const PaperRow *p = &rows[k];
        if (strcmp(p->table, "T5") || strcmp(p->model, paper_model) || strcmp(p->method, "lazydit")) continue;
        int K = report_equal_budget_steps(p->steps, p->lazy_ratio);
        const PaperRow *pd = NULL;
        for (int j = 0; j < n; j++)
            if (!strcmp(rows[j].table, "T5") && !strcmp(rows[j].model, paper_model) && !strcmp(rows[j].method, "ddim") &&
                rows[j].steps == K)
                pd = &rows[j];
        if (!pd) continue;
        rt_printf(t, "| %d steps at %.0f%% | DDIM-%d | %.2f |", p->steps, 100 * p->lazy_ratio, K, pd->fid - p->fid);
        int li = group < 0 ? -1 : local_match(d, g, group, p);
        int exact = 0, lj = li >= 0 ? report_find_ddim(d, &d->runs[li], report_equal_budget_steps(d->runs[li].steps, d->runs[li].lazy_ratio), &exact) : -1;
        if (li < 0 || lj < 0 || !exact || !d->runs[li].m[RM_FID].present || !d->runs[lj].m[RM_FID].present) {
            rt_puts(t, " — | — | no local pair |\n");
            continue;
        }
        const ReportMetric *fl = &d->runs[li].m[RM_FID], *fd = &d->runs[lj].m[RM_FID];
        double gain = fd->value - fl->value, h1 = report_half_width(fl), h2 = report_half_width(fd);
        double h = sqrt(h1 * h1 + h2 * h2);
        ReportPaired pp;
        ReportCmp c = report_compare_fid(d, li, lj, &pp);
        char iv[96];
        if (pp.ok)
            snprintf(iv, sizeof iv, "[%.2f, %.2f] paired", -pp.hi, -pp.lo);
        else if (isnan(h))
            snprintf(iv, sizeof iv, "—");
        else
            snprintf(iv, sizeof iv, "[%.2f, %.2f]", gain - h, gain + h);
        rt_printf(t, " %.2f (vs DDIM-%d) | %s | %s |\n", gain, d->runs[lj].steps, iv,
                  c == CMP_A_BETTER ? "LazyDiT better" : c == CMP_B_BETTER ? "DDIM better" : c == CMP_MISSING ? "no interval" : "not resolved");
    }
    rt_puts(t, "\n");
    free(g);
}

// ---- claims ----

static void claims_section(ReportText *t, const ReportData *d) {
    ReportClaim c[REPORT_N_CLAIMS];
    report_claims(d, c);
    rt_puts(t, "## The paper's claims\n\n"
               "Each claim judged on this database by the rule listed below the table. A verdict needs the runs the "
               "rule names; without them it is inconclusive.\n\n"
               "| claim | local evidence | interval | verdict |\n|---|---|---|---|\n");
    for (int k = 0; k < REPORT_N_CLAIMS; k++)
        rt_printf(t, "| (%s) %s | %s | %s | **%s** |\n", c[k].id, c[k].claim, c[k].evidence, c[k].interval,
                  report_verdict_name(c[k].verdict));
    rt_puts(t, "\nVerdict rules:\n\n");
    for (int k = 0; k < REPORT_N_CLAIMS; k++) rt_printf(t, "- (%s) %s.\n", c[k].id, c[k].rule);
    rt_puts(t, "\n");
}

// ---- lower-bound study tables ----

// One line per run and module: how often the bound is vacuous or violated, and
// how loose it is (alpha against the measured 1 - cos).
static void bound_summary(ReportText *t, const ReportData *d, const int *runs, int n) {
    rt_puts(t, "| run | steps | module | slots | vacuous | violations | median alpha / (1 - cos) |\n"
               "|---|---:|---|---:|---:|---:|---:|\n");
    for (int k = 0; k < n; k++) {
        const ReportRun *r = &d->runs[runs[k]];
        double *q = lz_malloc(sizeof(double) * (size_t)(r->depth * r->steps + 1), "report bound summary");
        for (int m = 0; m < 2; m++) {
            int slots = 0, vac = 0, viol = 0, nq = 0;
            for (int l = 0; l < r->depth; l++)
                for (int s = 1; s < r->steps; s++) {
                    const ReportSlot *x = report_slot(r, m, l, s);
                    if (isnan(x->cos_mean) || isnan(x->bound_value)) continue;
                    slots++;
                    vac += x->bound_value <= -1;
                    viol += !isnan(x->cos_min) && x->cos_min < x->bound_value;
                    if (1 - x->cos_mean > 0) q[nq++] = x->bound_alpha / (1 - x->cos_mean);
                }
            char med[32];
            rt_printf(t, "| `%s` | %d | %s | %d | %d (%.0f%%) | %d | %s |\n", r->name, r->steps, m ? "mlp" : "attn", slots, vac,
                      slots ? 100.0 * vac / slots : 0.0, viol, rt_num(med, sizeof med, "%.3g", report_median(q, nq)));
        }
        free(q);
    }
    rt_puts(t, "\n");
}

static void bound_tables(ReportText *t, const ReportData *d, const int *runs, int n) {
    if (n) bound_summary(t, d, runs, n);
    ReportBoundRow *rows = NULL;
    for (int k = 0; k < n; k++) {
        const ReportRun *r = &d->runs[runs[k]];
        rows = realloc(rows, sizeof(ReportBoundRow) * 2 * (size_t)r->depth);
        CHECK(rows, "report: out of memory for the bound table");
        int nr = report_bound_rows(r, rows);
        rt_printf(t, "Bound per block, run `%s` (%d steps; medians over the steps >= 1):\n\n", r->name, r->steps);
        rt_puts(t, "| module | block | steps | vacuous | median alpha | median 1 - cos | median gap | smallest gap | "
                   "violations | R | R2 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < nr; i++) {
            const ReportBoundRow *b = &rows[i];
            char a[32], o[32], g[32], gm[32], rr[32], r2[32];
            rt_printf(t, "| %s | %d | %d | %d | %s | %s | %s | %s | %d | %s | %s |\n", b->module ? "mlp" : "attn",
                      b->layer, b->n_steps, b->n_vacuous, rt_num(a, sizeof a, "%.3g", b->median_alpha),
                      rt_num(o, sizeof o, "%.3g", b->median_one_minus_cos), rt_num(g, sizeof g, "%.3g", b->median_gap),
                      rt_num(gm, sizeof gm, "%.3g", b->min_gap), b->n_violated, rt_num(rr, sizeof rr, "%.3g", b->median_r),
                      rt_num(r2, sizeof r2, "%.3g", b->median_r2));
        }
        rt_printf(t, "\nLipschitz ratio per block, run `%s`: the measured |dY| / |dZ| (median and range over the steps) "
                     "against the constant C the bound uses (median over the steps):\n\n", r->name);
        rt_puts(t, "| module | block | measured median | measured min | measured max | theory C | C / measured max |\n"
                   "|---|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < nr; i++) {
            const ReportBoundRow *b = &rows[i];
            char l[32], lmin[32], lmax[32], c[32], q[32];
            rt_printf(t, "| %s | %d | %s | %s | %s | %s | %s |\n", b->module ? "mlp" : "attn", b->layer,
                      rt_num(l, sizeof l, "%.3g", b->median_lipschitz), rt_num(lmin, sizeof lmin, "%.3g", b->min_lipschitz),
                      rt_num(lmax, sizeof lmax, "%.3g", b->max_lipschitz), rt_num(c, sizeof c, "%.3g", b->median_c),
                      rt_num(q, sizeof q, "%.3g", b->median_c / b->max_lipschitz));
        }
        rt_puts(t, "\n");
    }
    free(rows);
}

static void probe_section(ReportText *t, const ReportData *d) {
    ReportProbe p;
    report_probe(d, &p);
    rt_puts(t, "### Linear probe of the modulated input (Theorem 3)\n\n"
               "Per module type, least squares of a slot's mean cosine similarity on its modulated input's change "
               "between steps (z_rel_dist and z_dist, standardised; second probe: plus one indicator per block), "
               "over every (block, step >= 1) slot of the full-compute runs. Held-out R^2: leave one run out, fit "
               "on the others, score the held-out run against its own mean, pooled over the runs. The database "
               "records Z only through these distances, so this probes the linear-in-Z claim through them.\n\n");
    if (p.n_runs < 2)
        rt_printf(t, "%d full-compute run%s with similarity records: held-out R^2 needs at least two.\n\n", p.n_runs,
                  p.n_runs == 1 ? "" : "s");
    rt_puts(t, "| module | slots | held-out R^2 (z) | held-out R^2 (z + block) | in-sample R^2 (z) | in-sample R^2 (z + block) |\n"
               "|---|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < 2; m++) {
        char a[32], b[32], c[32], e[32];
        rt_printf(t, "| %s | %ld | %s | %s | %s | %s |\n", m ? "mlp" : "attn", p.n_points[m],
                  rt_num(a, sizeof a, "%.3f", p.r2_heldout[m][0]), rt_num(b, sizeof b, "%.3f", p.r2_heldout[m][1]),
                  rt_num(c, sizeof c, "%.3f", p.r2_insample[m][0]), rt_num(e, sizeof e, "%.3f", p.r2_insample[m][1]));
    }
    rt_printf(t, "\nFolds: %d full-compute run%s.\n\n", p.n_runs, p.n_runs == 1 ? "" : "s");
}

// ---- header and appendix ----

static void header(ReportText *t, const ReportData *d, const char *db_path) {
    rt_printf(t, "# Report: %s\n\n", d->experiment ? d->experiment : "(no experiment name)");
    rt_printf(t, "Written by `lazydit report` from `%s`", base_name(db_path));
    if (d->config_sha256) rt_printf(t, " (experiment config sha256 `%.16s…`)", d->config_sha256);
    rt_printf(t, ". %d finished run%s reported", d->n_runs, d->n_runs == 1 ? "" : "s");
    if (d->n_running || d->n_failed)
        rt_printf(t, "; not reported: %d still running or interrupted, %d failed", d->n_running, d->n_failed);
    rt_puts(t, ".");
    if (d->n_incomplete)
        rt_printf(t, " %d run%s ha%s incomplete per-step records and %s left out of the similarity figures and study.",
                  d->n_incomplete, d->n_incomplete == 1 ? "" : "s", d->n_incomplete == 1 ? "s" : "ve",
                  d->n_incomplete == 1 ? "is" : "are");
    rt_puts(t, "\n\n");
    if (d->n_runs) {
        int *g = settings_groups(d);
        int groups = 0;
        for (int i = 0; i < d->n_runs; i++) groups += g[i] == i;
        if (groups == 1) {
            rt_puts(t, "Settings of every run: ");
            settings_line(t, &d->runs[0]);
            rt_puts(t, ".\n\n");
        } else {
            rt_printf(t, "The runs use %d different settings (model, sampler, eta, CFG, sample count, seed); runs are "
                         "only compared within one.\n\n", groups);
        }
        free(g);
        rt_puts(t, "Harness revisions:");
        int shown = 0;
        for (int i = 0; i < d->n_runs; i++) {
            const char *rev = d->runs[i].git_rev ? d->runs[i].git_rev : "unknown";
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= !strcmp(d->runs[j].git_rev ? d->runs[j].git_rev : "unknown", rev);
            if (!seen) rt_printf(t, "%s `%s`", shown++ ? "," : "", rev);
        }
        rt_puts(t, ".\n\n");
    }
    int nq[3] = {0, 0, 0};  // not recorded, floats, 8-bit
    for (int i = 0; i < d->n_runs; i++) nq[d->runs[i].quantize + 1]++;
    rt_puts(t,
            "Metrics: the `metrics` table of the database, computed by the runner with the project's Fashion-MNIST "
            "classifier (FID-, sFID- and IS-proxy, precision/recall with k = 3, class consistency; docs/metrics.md). "
            "Intervals are the database's 95% intervals (`ci_low`, `ci_high`). MACs are executed "
            "multiply-accumulates per sample in LazyDiT's convention (linear and convolution layers, both CFG rows, "
            "gate overhead included). Wall time is the run's sampling time on its machine.\n\n");
    if (d->n_runs) {
        char parts[3][200];
        int np = 0;
        if (nq[2])
            snprintf(parts[np++], sizeof parts[0], "%d run%s scored the samples clamped to [-1, 1] and rounded to 8 "
                     "bits (the form the ADM evaluator reads, as saved images)", nq[2], nq[2] == 1 ? "" : "s");
        if (nq[1]) snprintf(parts[np++], sizeof parts[0], "%d run%s scored the raw float samples", nq[1], nq[1] == 1 ? "" : "s");
        if (nq[0]) snprintf(parts[np++], sizeof parts[0], "%d run%s do%s not record the choice", nq[0], nq[0] == 1 ? "" : "s",
                            nq[0] == 1 ? "es" : "");
        rt_puts(t, "Scoring (from `runs.config_json`): ");
        for (int k = 0; k < np; k++) rt_printf(t, "%s%s", k ? "; " : "", parts[k]);
        rt_puts(t, ".\n\n");
    }
}

static void runs_appendix(ReportText *t, const ReportData *d) {
    rt_puts(t, "## Runs\n\n| run | policy | steps | respacing | lazy ratio (attn / mlp) | MACs all (G/sample) | "
               "wall (s) | metrics n | policy config |\n|---|---|---:|---|---|---:|---:|---:|---|\n");
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        char a[32], b[32], c[32], m[32], w[32];
        long n = 0;
        for (int k = 0; k < RM_COUNT; k++)
            if (r->m[k].present) n = r->m[k].n;
        rt_printf(t, "| `%s` | %s | %d | %s | %s (%s / %s) | %s | %s | %ld | `%s` |\n", r->name, r->policy, r->steps,
                  r->respacing, rt_num(a, sizeof a, "%.3f", r->lazy_ratio), rt_num(b, sizeof b, "%.3f", r->lazy_ratio_attn),
                  rt_num(c, sizeof c, "%.3f", r->lazy_ratio_mlp),
                  rt_num(m, sizeof m, "%.3f", r->n_samples > 0 ? r->macs_all / (double)r->n_samples / 1e9 : NAN),
                  rt_num(w, sizeof w, "%.1f", r->wall_s), n, r->policy_json);
    }
    rt_puts(t, "\n");
}

int report_write(const ReportOptions *o, LzError *err) {
    ReportData d;
    int B = o->paired_resamples == 0 ? REPORT_PAIRED_RESAMPLES : o->paired_resamples < 0 ? 0 : o->paired_resamples;
    if (report_db_load_with(&d, o->db_path, B, err)) return -1;
    PaperRow *paper = NULL;
    int n_paper = 0;
    if (paper_rows_load(o->paper_tables, &paper, &n_paper, err)) {
        report_db_free(&d);
        return -1;
    }
    int rc = lz_mkdir_p(o->out_dir, err);
    ReportPlot plot = {o->out_dir, o->gnuplot ? o->gnuplot : "gnuplot", o->render};
    ReportText md, main_table;
    rt_init(&md);
    rt_init(&main_table);
    int study[4];
    int n_study = report_study_runs(&d, study, 4);
    if (!rc) {
        header(&md, &d, o->db_path);
        claims_section(&md, &d);
        report_main_table(&main_table, &d);
        rt_puts(&md, "## Main table (the paper's Table 5 layout)\n\n"
                     "DDIM and LazyDiT (both modules lazy), each LazyDiT row after the DDIM row of its equal budget: K "
                     "= round(S x (1 - lazy ratio)) steps with the realised lazy ratio, halves rounded up. Values with "
                     "their 95% intervals; a value is **bold** where its interval and that of the row it is compared "
                     "with do not overlap and it is the better one; \"not resolved\" lists the metrics whose intervals "
                     "overlap; \"no interval\" those the database has no interval for. P = precision, R = recall, CC = class "
                     "consistency; PSNR and SSIM (when computed) compare each sample with the full-compute sample "
                     "from the same noise.\n\n");
        if (d.n_features) fid_test_paragraph(&md, &d);
        rt_puts(&md, main_table.s);
        paper_section(&md, &d, paper, n_paper);
        policy_tables(&md, &d);
        rc = report_fig_pareto(&plot, &d, &md, err) || report_fig_ablation(&plot, &d, &md, err) ||
             report_fig_layer_ratios(&plot, &d, &md, err) || report_fig_similarity(&plot, &d, study, n_study, &md, err);
    }
    if (!rc) {
        rt_puts(&md, "## Lower-bound study\n\n"
                     "The bound cos(Y_t, Y_{t-1}) >= 1 - alpha on a module's consecutive outputs (docs/theory.md), per "
                     "block and step of the full-compute runs. cos >= -1 always, so the bound is vacuous where 1 - "
                     "alpha <= -1 (alpha >= 2); where it is not, the gap cos_mean - (1 - alpha) says how loose it is, "
                     "and a violation is a slot whose least similar row lies below the bound (the bound holds for "
                     "every row). The theory's modules are simplified (attention without 1/sqrt(d) and output "
                     "projection, a linear MLP), so the real modules need not obey it. R, C and R2 are the estimates "
                     "the recorder used (docs/theory.md). The Lipschitz ratio is the measured |Y_t - Y_{t-1}| / "
                     "|Z_t - Z_{t-1}| (mean over rows), to compare with the theory's constant C.\n\n");
        if (!n_study) rt_puts(&md, "No full-compute run with recorded similarities in this database.\n\n");
        rc = report_fig_bound(&plot, &d, study, n_study, &md, err) ||
             report_fig_lipschitz(&plot, &d, study, n_study, &md, err);
    }
    if (!rc) {
        bound_tables(&md, &d, study, n_study);
        probe_section(&md, &d);
        runs_appendix(&md, &d);
        rt_printf(&md, "## Regenerating\n\n`lazydit report %s --out <dir>` rewrites this file and every figure "
                       "byte for byte from the database. Each figure's numbers are in its `.dat` file and its gnuplot "
                       "script in its `.gp` file: `gnuplot NAME.gp` renders the PNG, `gnuplot -e \"fmt='svg'\" "
                       "NAME.gp` the SVG.\n", base_name(o->db_path));
        rc = rt_write_file(&md, o->out_dir, "REPORT.md", err);
    }
    if (!rc && o->table_out) {
        fprintf(o->table_out, "Main table of %s (equal-budget pairs; bold = resolved by 95%% intervals%s):\n\n%s",
                d.experiment ? d.experiment : base_name(o->db_path),
                d.n_features ? ", FID by the paired bootstrap where both runs store features" : "", main_table.s);
        fflush(o->table_out);
    }
    rt_free(&md);
    rt_free(&main_table);
    free(paper);
    report_db_free(&d);
    return rc ? -1 : 0;
}
