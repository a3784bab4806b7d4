#include "analysis/report_compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int report_equal_budget_steps(int steps, double lazy_ratio) {
    double r = isnan(lazy_ratio) ? 0 : lazy_ratio;
    int k = (int)floor(steps * (1.0 - r) + 0.5);
    return k < 1 ? 1 : k;
}

static int same_text(const char *a, const char *b) { return a && b && !strcmp(a, b); }

int report_same_settings(const ReportRun *a, const ReportRun *b) {
    return same_text(a->model_sha256, b->model_sha256) && same_text(a->sampler, b->sampler) && a->eta == b->eta &&
           a->cfg_scale == b->cfg_scale && a->n_samples == b->n_samples && a->seed == b->seed;
}

int report_is_ddim(const ReportRun *r) { return !strcmp(r->policy, "ddim"); }

int report_find_ddim(const ReportData *d, const ReportRun *like, int k, int *exact) {
    int best = -1;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!report_is_ddim(r) || !report_same_settings(r, like)) continue;
        if (best < 0) {
            best = i;
            continue;
        }
        int db = abs(d->runs[best].steps - k), dr = abs(r->steps - k);
        if (dr < db || (dr == db && r->steps > d->runs[best].steps)) best = i;
    }
    *exact = best >= 0 && d->runs[best].steps == k;
    return best;
}

double report_half_width(const ReportMetric *m) {
    if (!m->present || isnan(m->lo) || isnan(m->hi)) return NAN;
    return 0.5 * (m->hi - m->lo);
}

ReportCmp report_compare(const ReportMetric *a, const ReportMetric *b, int higher_better) {
    if (!a->present || !b->present || isnan(a->lo) || isnan(a->hi) || isnan(b->lo) || isnan(b->hi)) return CMP_MISSING;
    if (a->hi < b->lo) return higher_better ? CMP_B_BETTER : CMP_A_BETTER;
    if (b->hi < a->lo) return higher_better ? CMP_A_BETTER : CMP_B_BETTER;
    return CMP_UNRESOLVED;
}

static const char *policy_display(const char *p) {
    static const char *const names[][2] = {
        {"ddim", "DDIM"},   {"lazydit", "LazyDiT"},         {"l2c", "L2C"},       {"fora", "FORA"},
        {"teacache", "TeaCache"}, {"smoothcache", "SmoothCache"}, {"random", "Random"}, {"oracle", "Oracle"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(p, names[i][0])) return names[i][1];
    return p;
}

const char *report_method_label(const ReportRun *r, char *buf, size_t cap) {
    const char *suffix = !strcmp(r->modules, "attn") ? " (attention only)" : !strcmp(r->modules, "mlp") ? " (MLP only)" : "";
    if (report_is_ddim(r)) suffix = "";
    snprintf(buf, cap, "%s%s", policy_display(r->policy), suffix);
    return buf;
}

const char *report_series_key(const ReportRun *r, char *buf, size_t cap) {
    if (report_is_ddim(r) || !strcmp(r->modules, "both"))
        snprintf(buf, cap, "%s", r->policy);
    else
        snprintf(buf, cap, "%s-%s", r->policy, r->modules);
    return buf;
}
