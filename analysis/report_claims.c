#include "analysis/report_claims.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report_compare.h"
#include "analysis/report_paired.h"
#include "analysis/report_study.h"

const char *report_verdict_name(ReportVerdict v) {
    return v == VERDICT_HOLDS ? "holds" : v == VERDICT_FAILS ? "fails" : "inconclusive";
}

// Appends to a fixed buffer; a full buffer ends in "..." instead of overflowing.
__attribute__((format(printf, 3, 4))) static void cat(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len + 4 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - len) memcpy(buf + cap - 4, "...", 4);
}
#define CAT(field, ...) cat(field, sizeof field, __VA_ARGS__)

static int is_lazydit(const ReportRun *r, const char *modules) {
    return !strcmp(r->policy, "lazydit") && !strcmp(r->modules, modules);
}

static const ReportMetric *fid(const ReportRun *r) { return &r->m[RM_FID]; }

// ---- (a) ----

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void claim_a(const ReportData *d, ReportClaim *c) {
    c->id = "a";
    c->claim = "consecutive-step module outputs are highly similar";
    snprintf(c->rule, sizeof c->rule,
             "over the full-compute runs at 50 steps (the paper's setting; else the largest step count below 50, "
             "else the smallest above), pool the (layer, module, step >= 1) slots: holds if at least %.0f%% have "
             "mean cosine similarity >= %.2f, fails if fewer than %.0f%% do, inconclusive in between or without such runs",
             100 * CLAIM_A_HOLDS, CLAIM_A_COS, 100 * CLAIM_A_FAILS);
    int *steps = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "claim a steps");
    int ns = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!r->full_compute || !r->has_similarity) continue;
        int seen = 0;
        for (int k = 0; k < ns; k++) seen |= steps[k] == r->steps;
        if (!seen) steps[ns++] = r->steps;
    }
    qsort(steps, (size_t)ns, sizeof *steps, cmp_int);
    if (!ns) {
        snprintf(c->evidence, sizeof c->evidence, "no full-compute run with recorded similarities in this database");
        snprintf(c->interval, sizeof c->interval, "—");
        c->verdict = VERDICT_INCONCLUSIVE;
        free(steps);
        return;
    }
    int ref = steps[0];
    for (int k = 0; k < ns; k++)
        if (steps[k] <= 50) ref = steps[k];
    for (int k = 0; k < ns; k++)
        if (steps[k] == 50) ref = 50;
    double ref_frac = NAN, ref_p05 = NAN;
    for (int k = 0; k < ns; k++) {
        long n = 0, hi = 0, hi_p05 = 0, n_p05 = 0;
        long cap = 0;
        for (int i = 0; i < d->n_runs; i++)
            if (d->runs[i].full_compute && d->runs[i].has_similarity && d->runs[i].steps == steps[k])
                cap += 2L * d->runs[i].depth * d->runs[i].steps;
        double *v = lz_malloc(sizeof(double) * (size_t)(cap + 1), "claim a values");
        for (int i = 0; i < d->n_runs; i++) {
            const ReportRun *r = &d->runs[i];
            if (!r->full_compute || !r->has_similarity || r->steps != steps[k]) continue;
            for (int m = 0; m < 2; m++)
                for (int l = 0; l < r->depth; l++)
                    for (int t = 1; t < r->steps; t++) {
                        const ReportSlot *s = report_slot(r, m, l, t);
                        if (isnan(s->cos_mean)) continue;
                        v[n++] = s->cos_mean;
                        hi += s->cos_mean >= CLAIM_A_COS;
                        if (!isnan(s->cos_p05)) n_p05++, hi_p05 += s->cos_p05 >= CLAIM_A_COS;
                    }
        }
        double frac = n ? (double)hi / n : NAN;
        double med = report_median(v, (int)n);
        free(v);
        CAT(c->evidence, "%s%d steps: %.0f%% of %ld slots >= %.2f (median %.3f)%s", k ? "; " : "", steps[k],
            100 * frac, n, CLAIM_A_COS, med, steps[k] == ref ? " [decides]" : "");
        if (steps[k] == ref) {
            ref_frac = frac;
            ref_p05 = n_p05 ? (double)hi_p05 / n_p05 : NAN;
        }
    }
    free(steps);
    snprintf(c->interval, sizeof c->interval,
             "not limited by sample count (each slot averages every model row); row spread at %d steps: %.0f%% of "
             "slots have a 5th-percentile row >= %.2f",
             ref, 100 * ref_p05, CLAIM_A_COS);
    c->verdict = isnan(ref_frac) ? VERDICT_INCONCLUSIVE
                 : ref_frac >= CLAIM_A_HOLDS ? VERDICT_HOLDS
                 : ref_frac < CLAIM_A_FAILS  ? VERDICT_FAILS
                                             : VERDICT_INCONCLUSIVE;
}

// ---- (b) ----

typedef struct {
    int lazy, ddim, k;
    double gain, half;  // FID(DDIM) - FID(LazyDiT) and its 95% half width
    double lo, hi;      // the paired 95% interval of the gain (when paired)
    int paired;         // decided by the paired bootstrap
    ReportCmp cmp;      // LazyDiT (a) against DDIM (b)
} Pair;

// The sentence the FID rules gain when the database stores features.
static const char *paired_rule(const ReportData *d) {
    return d->n_features ? "; where both runs store per-sample features, the FID-proxy comparison is the paired "
                           "bootstrap interval of the difference instead (resolved when it excludes 0)"
                         : "";
}

static int collect_pairs(const ReportData *d, Pair *pairs) {
    int n = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!is_lazydit(r, "both") || !fid(r)->present) continue;
        int k = report_equal_budget_steps(r->steps, r->lazy_ratio), exact;
        int j = report_find_ddim(d, r, k, &exact);
        if (j < 0 || !exact || !fid(&d->runs[j])->present) continue;
        Pair *p = &pairs[n++];
        p->lazy = i;
        p->ddim = j;
        p->k = k;
        p->gain = fid(&d->runs[j])->value - fid(r)->value;
        double h1 = report_half_width(fid(r)), h2 = report_half_width(fid(&d->runs[j]));
        p->half = sqrt(h1 * h1 + h2 * h2);
        ReportPaired pp;
        p->cmp = report_compare_fid(d, i, j, &pp);
        p->paired = pp.ok;
        if (pp.ok) {
            p->lo = -pp.hi;
            p->hi = -pp.lo;
            p->half = 0.5 * (pp.hi - pp.lo);
        }
    }
    return n;
}

static void claim_b(const ReportData *d, ReportClaim *b1, ReportClaim *b2) {
    b1->id = "b1";
    b1->claim = "LazyDiT beats DDIM at equal budget";
    b2->id = "b2";
    b2->claim = "... more so at small budgets";
    snprintf(b1->rule, sizeof b1->rule,
             "pairs: each LazyDiT run (both modules) with the DDIM run of exactly K = round(S x (1 - lazy ratio)) "
             "steps and the same settings; FID-proxy compared by 95%% intervals. Holds if at least one pair is "
             "resolved in LazyDiT's favour, none in DDIM's, and LazyDiT has the lower FID-proxy in more than half of "
             "the pairs; fails if any pair is resolved in DDIM's favour; inconclusive otherwise%s",
             paired_rule(d));
    snprintf(b2->rule, sizeof b2->rule,
             "gain g = FID(DDIM-K) - FID(LazyDiT), 95%% half width sqrt(h1^2 + h2^2) from the two intervals; "
             "D = mean gain of the pairs with the smallest K - mean gain of the pairs with the largest K (half widths "
             "combined in quadrature, as for independent errors). Holds if D's interval lies above 0, fails if below "
             "0, inconclusive if it contains 0 or fewer than two budgets are paired%s",
             d->n_features ? "; a pair of runs with stored features uses half the width of its paired bootstrap "
                             "interval as h instead"
                           : "");
    Pair *pairs = lz_malloc(sizeof(Pair) * (size_t)(d->n_runs + 1), "claim b pairs");
    int n = collect_pairs(d, pairs);
    if (!n) {
        snprintf(b1->evidence, sizeof b1->evidence,
                 "no LazyDiT run with an equal-budget DDIM run (same settings, exact K) and FID-proxy in this database");
        snprintf(b2->evidence, sizeof b2->evidence, "no equal-budget pairs");
        snprintf(b1->interval, sizeof b1->interval, "—");
        snprintf(b2->interval, sizeof b2->interval, "—");
        b1->verdict = b2->verdict = VERDICT_INCONCLUSIVE;
        free(pairs);
        return;
    }
    int n_lazy = 0, n_ddim = 0, n_point = 0;
    for (int p = 0; p < n; p++) {
        const ReportRun *l = &d->runs[pairs[p].lazy], *r = &d->runs[pairs[p].ddim];
        n_lazy += pairs[p].cmp == CMP_A_BETTER;
        n_ddim += pairs[p].cmp == CMP_B_BETTER;
        n_point += pairs[p].gain > 0;
        const char *what = pairs[p].cmp == CMP_A_BETTER   ? "LazyDiT better"
                           : pairs[p].cmp == CMP_B_BETTER ? "DDIM better"
                           : pairs[p].cmp == CMP_MISSING  ? "no interval"
                                                          : "not resolved";
        CAT(b1->evidence, "%s%d steps at %.0f%% vs DDIM-%d: %.2f vs %.2f (%s)", p ? "; " : "", l->steps,
            100 * l->lazy_ratio, r->steps, fid(l)->value, fid(r)->value, what);
        if (pairs[p].paired)
            CAT(b1->interval, "%sDDIM-%d: gain %.2f [%.2f, %.2f] paired", p ? "; " : "", pairs[p].k, pairs[p].gain,
                pairs[p].lo, pairs[p].hi);
        else
            CAT(b1->interval, "%sDDIM-%d: gain %.2f ± %.2f", p ? "; " : "", pairs[p].k, pairs[p].gain, pairs[p].half);
    }
    CAT(b1->evidence, " — %d of %d pairs resolved for LazyDiT, %d for DDIM; LazyDiT lower in %d", n_lazy, n, n_ddim,
        n_point);
    b1->verdict = n_ddim > 0                                ? VERDICT_FAILS
                  : n_lazy > 0 && 2 * n_point > n           ? VERDICT_HOLDS
                                                            : VERDICT_INCONCLUSIVE;
    // (b2): smallest against largest budget.
    int kmin = pairs[0].k, kmax = pairs[0].k;
    for (int p = 1; p < n; p++) {
        if (pairs[p].k < kmin) kmin = pairs[p].k;
        if (pairs[p].k > kmax) kmax = pairs[p].k;
    }
    if (kmin == kmax) {
        snprintf(b2->evidence, sizeof b2->evidence, "all pairs have the same budget (K = %d)", kmin);
        snprintf(b2->interval, sizeof b2->interval, "—");
        b2->verdict = VERDICT_INCONCLUSIVE;
        free(pairs);
        return;
    }
    double g[2] = {0, 0}, h2[2] = {0, 0};
    int cnt[2] = {0, 0};
    for (int p = 0; p < n; p++) {
        int side = pairs[p].k == kmin ? 0 : pairs[p].k == kmax ? 1 : -1;
        if (side < 0) continue;
        g[side] += pairs[p].gain;
        h2[side] += pairs[p].half * pairs[p].half;
        cnt[side]++;
    }
    for (int s = 0; s < 2; s++) {
        g[s] /= cnt[s];
        h2[s] /= (double)cnt[s] * cnt[s];
    }
    double D = g[0] - g[1], H = sqrt(h2[0] + h2[1]);
    snprintf(b2->evidence, sizeof b2->evidence,
             "mean gain at the smallest budget (DDIM-%d, %d pair%s) %.2f; at the largest (DDIM-%d, %d pair%s) %.2f",
             kmin, cnt[0], cnt[0] > 1 ? "s" : "", g[0], kmax, cnt[1], cnt[1] > 1 ? "s" : "", g[1]);
    if (isnan(H))
        snprintf(b2->interval, sizeof b2->interval, "D = %.2f, no interval (a run lacks ci_low/ci_high)", D);
    else
        snprintf(b2->interval, sizeof b2->interval, "D = %.2f, 95%% interval [%.2f, %.2f]", D, D - H, D + H);
    b2->verdict = isnan(H)     ? VERDICT_INCONCLUSIVE
                  : D - H > 0 ? VERDICT_HOLDS
                  : D + H < 0 ? VERDICT_FAILS
                              : VERDICT_INCONCLUSIVE;
    free(pairs);
}

// ---- (c) ----

static void claim_c(const ReportData *d, ReportClaim *c) {
    c->id = "c";
    c->claim = "MHSA laziness falls and MLP laziness rises with depth";
    snprintf(c->rule, sizeof c->rule,
             "per LazyDiT run (both modules, overall lazy ratio >= %.2f, per-layer records): least-squares slope of "
             "the per-layer lazy ratio on the layer index, times (L - 1) = change over the depth. A run supports the "
             "claim if attention changes by <= -%.2f and MLP by >= +%.2f, contradicts it if attention changes by >= "
             "+%.2f or MLP by <= -%.2f. Holds if at least 2/3 of the runs support it, fails if more than half "
             "contradict it, inconclusive otherwise or without runs",
             CLAIM_C_MIN_RATIO, CLAIM_C_CHANGE, CLAIM_C_CHANGE, CLAIM_C_CHANGE, CLAIM_C_CHANGE);
    int n = 0, support = 0, contra = 0;
    double *ch = lz_malloc(sizeof(double) * 2 * (size_t)(d->n_runs + 1), "claim c changes");
    double *ca = ch, *cm = ch + d->n_runs + 1;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!is_lazydit(r, "both") || !r->slots || r->depth < 2 || !(r->lazy_ratio >= CLAIM_C_MIN_RATIO)) continue;
        int L = r->depth;
        double *x = lz_malloc(sizeof(double) * 3 * (size_t)L, "claim c profile");  // (3, L): layer, attn, mlp
        double *ya = x + L, *ym = x + 2 * L;
        for (int l = 0; l < L; l++) {
            x[l] = l;
            ya[l] = report_layer_lazy_ratio(r, RMOD_ATTN, l);
            ym[l] = report_layer_lazy_ratio(r, RMOD_MLP, l);
        }
        double a = report_slope(x, ya, L) * (L - 1), m = report_slope(x, ym, L) * (L - 1);
        free(x);
        ca[n] = a;
        cm[n] = m;
        n++;
        support += a <= -CLAIM_C_CHANGE && m >= CLAIM_C_CHANGE;
        contra += a >= CLAIM_C_CHANGE || m <= -CLAIM_C_CHANGE;
        CAT(c->evidence, "%s%d steps at %.0f%%: attention %+.2f, MLP %+.2f", n > 1 ? "; " : "", r->steps,
            100 * r->lazy_ratio, a, m);
    }
    if (!n) {
        snprintf(c->evidence, sizeof c->evidence,
                 "no LazyDiT run (both modules) with per-layer records and lazy ratio >= %.2f in this database",
                 CLAIM_C_MIN_RATIO);
        snprintf(c->interval, sizeof c->interval, "—");
        c->verdict = VERDICT_INCONCLUSIVE;
        free(ch);
        return;
    }
    CAT(c->evidence, " — %d of %d runs support, %d contradict", support, n, contra);
    double amin = ca[0], amax = ca[0], mmin = cm[0], mmax = cm[0];
    for (int i = 1; i < n; i++) {
        amin = fmin(amin, ca[i]), amax = fmax(amax, ca[i]);
        mmin = fmin(mmin, cm[i]), mmax = fmax(mmax, cm[i]);
    }
    double amed = report_median(ca, n), mmed = report_median(cm, n);
    snprintf(c->interval, sizeof c->interval,
             "change over depth, median [min, max] over runs: attention %+.2f [%+.2f, %+.2f], MLP %+.2f [%+.2f, "
             "%+.2f] (per-layer ratios average every model row and step; the spread is between runs)",
             amed, amin, amax, mmed, mmin, mmax);
    c->verdict = 3 * support >= 2 * n ? VERDICT_HOLDS : 2 * contra > n ? VERDICT_FAILS : VERDICT_INCONCLUSIVE;
    free(ch);
}

// ---- (d) ----

static double module_ratio(const ReportRun *r) {
    if (!strcmp(r->modules, "attn")) return isnan(r->lazy_ratio_attn) ? 2 * r->lazy_ratio : r->lazy_ratio_attn;
    if (!strcmp(r->modules, "mlp")) return isnan(r->lazy_ratio_mlp) ? 2 * r->lazy_ratio : r->lazy_ratio_mlp;
    return r->lazy_ratio;
}

typedef struct {
    int idx;
    double ratio;
} Ablation;

static int cmp_ablation(const void *a, const void *b) {
    double x = ((const Ablation *)a)->ratio, y = ((const Ablation *)b)->ratio;
    return (x > y) - (x < y);
}

// Largest tolerated module ratio of the `modules`-only LazyDiT runs like
// `base` (steps and settings). *none_collapsed when the curve never
// collapses (then tau is the largest tested ratio). Returns the number of runs.
static int tolerance(const ReportData *d, const ReportRun *base, const char *modules, int full, double *tau,
                     int *none_collapsed, char *trace, size_t cap) {
    double full_fid = fid(&d->runs[full])->value;
    Ablation *a = lz_malloc(sizeof(Ablation) * (size_t)(d->n_runs + 1), "claim d ablation");
    int n = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!is_lazydit(r, modules) || r->steps != base->steps || !report_same_settings(r, base) || !fid(r)->present)
            continue;
        a[n++] = (Ablation){i, module_ratio(r)};
    }
    qsort(a, (size_t)n, sizeof *a, cmp_ablation);
    *tau = 0;
    *none_collapsed = 1;
    for (int k = 0; k < n; k++) {
        const ReportMetric *f = fid(&d->runs[a[k].idx]);
        double low = isnan(f->lo) ? f->value : f->lo;
        int collapsed = low > (1 + CLAIM_D_COLLAPSE) * full_fid;
        // Paired: the lower end of FID(run) - FID(full compute) against the same 10%.
        ReportPaired pp = report_paired_fid(d, a[k].idx, full);
        if (pp.ok) collapsed = pp.lo > CLAIM_D_COLLAPSE * full_fid;
        cat(trace, cap, "%s%.0f%%: %.2f%s", k ? ", " : "", 100 * a[k].ratio, f->value, collapsed ? " (collapsed)" : "");
        if (collapsed) {
            *none_collapsed = 0;
            break;
        }
        *tau = a[k].ratio;
    }
    free(a);
    return n;
}

static void claim_d(const ReportData *d, ReportClaim *d1, ReportClaim *d2) {
    d1->id = "d1";
    d1->claim = "alone, MHSA tolerates ~30% and MLP ~20% laziness before quality collapses";
    d2->id = "d2";
    d2->claim = "equal ratios for both modules work best";
    snprintf(d1->rule, sizeof d1->rule,
             "per step count S with attention-only and MLP-only LazyDiT runs and a DDIM-S run (full compute, same "
             "settings): a module ratio has collapsed when the lower end of its FID-proxy interval exceeds the "
             "full-compute FID-proxy by more than %.0f%%; the tolerated ratio tau is the largest ratio tested before "
             "the first collapse. Holds if tau(attention) >= %.2f, tau(MLP) >= %.2f and tau(MLP) <= tau(attention) at "
             "every such S; fails if any S violates one of these; inconclusive without such runs%s",
             100 * CLAIM_D_COLLAPSE, CLAIM_D_ATTN, CLAIM_D_MLP,
             d->n_features ? "; where the run and DDIM-S store per-sample features, it has collapsed when the lower "
                             "end of the paired bootstrap interval of FID(run) - FID(DDIM-S) exceeds that 10% of the "
                             "full-compute FID-proxy"
                           : "");
    snprintf(d2->rule, sizeof d2->rule,
             "at equal budget (overall lazy ratio within %.2f, same steps and settings), LazyDiT with both modules at "
             "equal ratios against attention-only and MLP-only runs: holds if both-modules has the lowest FID-proxy "
             "in every matched set and is resolved better (95%% intervals) than at least one alternative; fails if an "
             "alternative is resolved better in any set; inconclusive otherwise or without matched sets%s",
             CLAIM_D_MATCH, paired_rule(d));
    // (d1)
    int evaluated = 0, fails = 0;
    int *done_steps = lz_calloc((size_t)(d->n_runs + 1), sizeof(int), "claim d steps");
    int n_done = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!is_lazydit(r, "attn") && !is_lazydit(r, "mlp")) continue;
        int seen = 0;
        for (int k = 0; k < n_done; k++) seen |= done_steps[k] == r->steps;
        if (seen) continue;
        done_steps[n_done++] = r->steps;
        int exact, j = report_find_ddim(d, r, r->steps, &exact);
        if (j < 0 || !exact || !fid(&d->runs[j])->present) {
            CAT(d1->evidence, "%s%d steps: no DDIM-%d run to compare with", evaluated + fails ? "; " : "", r->steps,
                r->steps);
            continue;
        }
        double full = fid(&d->runs[j])->value, ta, tm;
        int na_all, nm_all;
        char tra[512] = "", trm[512] = "";
        int na = tolerance(d, r, "attn", j, &ta, &na_all, tra, sizeof tra);
        int nm = tolerance(d, r, "mlp", j, &tm, &nm_all, trm, sizeof trm);
        CAT(d1->evidence, "%s%d steps (full compute %.2f): attention-only %s; MLP-only %s", evaluated ? "; " : "",
            r->steps, full, na ? tra : "none", nm ? trm : "none");
        if (!na || !nm) continue;
        evaluated++;
        CAT(d1->interval, "%s%d steps: tau(attention) %s%.0f%%, tau(MLP) %s%.0f%%", evaluated > 1 ? "; " : "", r->steps,
            na_all ? ">= " : "", 100 * ta, nm_all ? ">= " : "", 100 * tm);
        fails += !(ta >= CLAIM_D_ATTN && tm >= CLAIM_D_MLP && tm <= ta);
    }
    free(done_steps);
    if (!d1->evidence[0]) snprintf(d1->evidence, sizeof d1->evidence, "no attention-only or MLP-only runs in this database");
    if (!d1->interval[0]) snprintf(d1->interval, sizeof d1->interval, "—");
    else CAT(d1->interval, " (collapse judged on the lower interval end)");
    d1->verdict = !evaluated ? VERDICT_INCONCLUSIVE : fails ? VERDICT_FAILS : VERDICT_HOLDS;
    // (d2)
    int sets = 0, best_all = 1, resolved_win = 0, alt_wins = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *b = &d->runs[i];
        if (!is_lazydit(b, "both") || !fid(b)->present || isnan(b->lazy_ratio)) continue;
        int n_alt = 0, best = 1;
        char line[512] = "";
        for (int j = 0; j < d->n_runs; j++) {
            const ReportRun *a = &d->runs[j];
            if ((!is_lazydit(a, "attn") && !is_lazydit(a, "mlp")) || a->steps != b->steps ||
                !report_same_settings(a, b) || !fid(a)->present || !(fabs(a->lazy_ratio - b->lazy_ratio) <= CLAIM_D_MATCH))
                continue;
            n_alt++;
            ReportCmp cmp = report_compare_fid(d, i, j, NULL);
            if (fid(a)->value < fid(b)->value) best = 0;
            resolved_win += cmp == CMP_A_BETTER;
            alt_wins += cmp == CMP_B_BETTER;
            cat(line, sizeof line, ", %s %.2f%s", !strcmp(a->modules, "attn") ? "attention-only" : "MLP-only",
                fid(a)->value, cmp == CMP_A_BETTER ? " (resolved worse)" : cmp == CMP_B_BETTER ? " (resolved better)" : "");
        }
        if (!n_alt) continue;
        sets++;
        best_all &= best;
        CAT(d2->evidence, "%s%d steps, %.0f%% overall: both %.2f%s", sets > 1 ? "; " : "", b->steps,
            100 * b->lazy_ratio, fid(b)->value, line);
    }
    if (!sets) {
        snprintf(d2->evidence, sizeof d2->evidence,
                 "no both-module LazyDiT run with attention-only or MLP-only runs at the same overall ratio");
        snprintf(d2->interval, sizeof d2->interval, "—");
        d2->verdict = VERDICT_INCONCLUSIVE;
        return;
    }
    snprintf(d2->interval, sizeof d2->interval,
             "%d matched set%s; both-modules resolved better than an alternative %d time%s, an alternative resolved "
             "better %d time%s (95%% intervals of FID-proxy)",
             sets, sets > 1 ? "s" : "", resolved_win, resolved_win == 1 ? "" : "s", alt_wins, alt_wins == 1 ? "" : "s");
    d2->verdict = alt_wins                      ? VERDICT_FAILS
                  : best_all && resolved_win > 0 ? VERDICT_HOLDS
                                                 : VERDICT_INCONCLUSIVE;
}

void report_claims(const ReportData *d, ReportClaim out[REPORT_N_CLAIMS]) {
    memset(out, 0, sizeof(ReportClaim) * REPORT_N_CLAIMS);
    claim_a(d, &out[0]);
    claim_b(d, &out[1], &out[2]);
    claim_c(d, &out[3]);
    claim_d(d, &out[4], &out[5]);
}
