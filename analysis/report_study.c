#include "analysis/report_study.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double report_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double report_slope(const double *x, const double *y, int n) {
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    if (n < 2) return NAN;
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

int report_bound_rows(const ReportRun *r, ReportBoundRow *rows) {
    if (!r->slots) return 0;
    int S = r->steps;
    // Scratch for the medians: seven (S) columns.
    double *buf = lz_malloc(sizeof(double) * 7 * (size_t)S, "report bound medians");
    double *alpha = buf, *omc = buf + S, *gap = buf + 2 * S, *lip = buf + 3 * S, *cc = buf + 4 * S, *rr = buf + 5 * S,
           *r2 = buf + 6 * S;
    int n_rows = 0;
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < r->depth; l++) {
            ReportBoundRow *o = &rows[n_rows++];
            memset(o, 0, sizeof *o);
            o->module = m;
            o->layer = l;
            int na = 0, ng = 0, nl = 0, nc = 0, nr = 0, nr2 = 0;
            o->max_lipschitz = o->min_lipschitz = NAN;
            o->min_gap = NAN;
            for (int t = 1; t < S; t++) {
                const ReportSlot *s = report_slot(r, m, l, t);
                if (!isnan(s->lipschitz)) {
                    lip[nl++] = s->lipschitz;
                    if (isnan(o->max_lipschitz) || s->lipschitz > o->max_lipschitz) o->max_lipschitz = s->lipschitz;
                    if (isnan(o->min_lipschitz) || s->lipschitz < o->min_lipschitz) o->min_lipschitz = s->lipschitz;
                }
                if (!isnan(s->bound_c)) cc[nc++] = s->bound_c;
                if (!isnan(s->bound_r)) rr[nr++] = s->bound_r;
                if (!isnan(s->bound_r2)) r2[nr2++] = s->bound_r2;
                if (isnan(s->cos_mean) || isnan(s->bound_value)) continue;
                o->n_steps++;
                alpha[na] = s->bound_alpha;
                omc[na++] = 1.0 - s->cos_mean;
                if (s->bound_value <= -1) {
                    o->n_vacuous++;
                    continue;
                }
                double g = s->cos_mean - s->bound_value;
                gap[ng++] = g;
                if (isnan(o->min_gap) || g < o->min_gap) o->min_gap = g;
                if (!isnan(s->cos_min) && s->cos_min < s->bound_value) o->n_violated++;
            }
            o->median_alpha = report_median(alpha, na);
            o->median_one_minus_cos = report_median(omc, na);
            o->median_gap = report_median(gap, ng);
            o->median_lipschitz = report_median(lip, nl);
            o->median_c = report_median(cc, nc);
            o->median_r = report_median(rr, nr);
            o->median_r2 = report_median(r2, nr2);
        }
    free(buf);
    return n_rows;
}

// ---- linear probe ----

#define PROBE_MAX_FEATURES 40  // intercept + 2 + up to 37 layer indicators

typedef struct {
    double y, z_rel, z;
    int layer, run;
} ProbePoint;

static int probe_features(const ProbePoint *p, int set, int depth, double *x) {
    int k = 0;
    x[k++] = 1;
    x[k++] = p->z_rel;
    x[k++] = p->z;
    if (set == 1)
        for (int l = 1; l < depth && k < PROBE_MAX_FEATURES; l++) x[k++] = p->layer == l;
    return k;
}

// Solves (A + ridge I) w = b for symmetric positive (semi)definite A (k x k)
// by Cholesky in place. The tiny ridge only guards exact collinearity (a
// layer indicator with no variation in a fold).
static int solve_spd(double *A, double *b, int k) {
    double tr = 0;
    for (int i = 0; i < k; i++) tr += A[i * k + i];
    for (int i = 0; i < k; i++) A[i * k + i] += 1e-10 * (tr > 0 ? tr / k : 1);
    for (int j = 0; j < k; j++) {
        double s = A[j * k + j];
        for (int p = 0; p < j; p++) s -= A[j * k + p] * A[j * k + p];
        if (!(s > 0)) return -1;
        double d = sqrt(s);
        A[j * k + j] = d;
        for (int i = j + 1; i < k; i++) {
            double t = A[i * k + j];
            for (int p = 0; p < j; p++) t -= A[i * k + p] * A[j * k + p];
            A[i * k + j] = t / d;
        }
    }
    for (int i = 0; i < k; i++) {  // L y = b
        double t = b[i];
        for (int p = 0; p < i; p++) t -= A[i * k + p] * b[p];
        b[i] = t / A[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) {  // L^T w = y
        double t = b[i];
        for (int p = i + 1; p < k; p++) t -= A[p * k + i] * b[p];
        b[i] = t / A[i * k + i];
    }
    return 0;
}

// Fits on points whose run != held (held < 0: all) and returns the weights
// (in w, k entries) with features standardised by mean/sd of the fit set.
static int probe_fit(const ProbePoint *pts, long n, int held, int set, int depth, double *w, double *mu, double *sd,
                     int *k_out) {
    double x[PROBE_MAX_FEATURES];
    int k = probe_features(&pts[0], set, depth, x);
    double A[PROBE_MAX_FEATURES * PROBE_MAX_FEATURES] = {0}, b[PROBE_MAX_FEATURES] = {0};
    long cnt = 0;
    for (int j = 0; j < k; j++) mu[j] = 0, sd[j] = 0;
    for (long i = 0; i < n; i++) {
        if (pts[i].run == held) continue;
        probe_features(&pts[i], set, depth, x);
        for (int j = 0; j < k; j++) mu[j] += x[j];
        cnt++;
    }
    if (cnt <= k) return -1;
    for (int j = 0; j < k; j++) mu[j] /= (double)cnt;
    for (long i = 0; i < n; i++) {
        if (pts[i].run == held) continue;
        probe_features(&pts[i], set, depth, x);
        for (int j = 1; j < k; j++) sd[j] += (x[j] - mu[j]) * (x[j] - mu[j]);
    }
    mu[0] = 0;
    sd[0] = 1;
    for (int j = 1; j < k; j++) {
        sd[j] = sqrt(sd[j] / (double)cnt);
        if (!(sd[j] > 0)) sd[j] = 1;  // constant feature in this fold: the ridge keeps it at 0
    }
    for (long i = 0; i < n; i++) {
        if (pts[i].run == held) continue;
        probe_features(&pts[i], set, depth, x);
        for (int j = 0; j < k; j++) x[j] = (x[j] - mu[j]) / sd[j];
        for (int j = 0; j < k; j++) {
            b[j] += x[j] * pts[i].y;
            for (int q = 0; q < k; q++) A[j * k + q] += x[j] * x[q];
        }
    }
    if (solve_spd(A, b, k)) return -1;
    memcpy(w, b, sizeof(double) * (size_t)k);
    *k_out = k;
    return 0;
}

static double probe_predict(const ProbePoint *p, int set, int depth, const double *w, const double *mu,
                            const double *sd, int k) {
    double x[PROBE_MAX_FEATURES];
    probe_features(p, set, depth, x);
    double y = 0;
    for (int j = 0; j < k; j++) y += w[j] * (x[j] - mu[j]) / sd[j];
    return y;
}

void report_probe(const ReportData *d, ReportProbe *out) {
    memset(out, 0, sizeof *out);
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < REPORT_PROBE_FEATURE_SETS; s++) out->r2_heldout[m][s] = out->r2_insample[m][s] = NAN;
    long cap = 0;
    int depth = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!r->full_compute || !r->has_similarity) continue;
        cap += (long)r->depth * r->steps;
        if (r->depth > depth) depth = r->depth;
        out->n_runs++;
    }
    if (!cap) return;
    ProbePoint *pts = lz_malloc(sizeof(ProbePoint) * (size_t)cap, "report probe points");
    for (int m = 0; m < 2; m++) {
        long n = 0;
        int fold = 0;
        for (int i = 0; i < d->n_runs; i++) {
            const ReportRun *r = &d->runs[i];
            if (!r->full_compute || !r->has_similarity) continue;
            for (int l = 0; l < r->depth; l++)
                for (int t = 1; t < r->steps; t++) {
                    const ReportSlot *s = report_slot(r, m, l, t);
                    if (isnan(s->cos_mean) || isnan(s->z_dist) || isnan(s->z_rel_dist)) continue;
                    pts[n++] = (ProbePoint){s->cos_mean, s->z_rel_dist, s->z_dist, l, fold};
                }
            fold++;
        }
        out->n_points[m] = n;
        if (n < 4) continue;
        for (int set = 0; set < REPORT_PROBE_FEATURE_SETS; set++) {
            double w[PROBE_MAX_FEATURES], mu[PROBE_MAX_FEATURES], sd[PROBE_MAX_FEATURES];
            int k;
            // In-sample.
            if (!probe_fit(pts, n, -1, set, depth, w, mu, sd, &k)) {
                double mean = 0, sse = 0, sst = 0;
                for (long i = 0; i < n; i++) mean += pts[i].y;
                mean /= (double)n;
                for (long i = 0; i < n; i++) {
                    double e = pts[i].y - probe_predict(&pts[i], set, depth, w, mu, sd, k);
                    sse += e * e;
                    sst += (pts[i].y - mean) * (pts[i].y - mean);
                }
                out->r2_insample[m][set] = sst > 0 ? 1 - sse / sst : NAN;
            }
            // Held out, one run per fold.
            if (fold < 2) continue;
            double sse = 0, sst = 0;
            int ok = 1;
            for (int h = 0; h < fold && ok; h++) {
                if (probe_fit(pts, n, h, set, depth, w, mu, sd, &k)) {
                    ok = 0;
                    break;
                }
                double mean = 0;
                long cnt = 0;
                for (long i = 0; i < n; i++)
                    if (pts[i].run == h) mean += pts[i].y, cnt++;
                if (!cnt) continue;
                mean /= (double)cnt;
                for (long i = 0; i < n; i++) {
                    if (pts[i].run != h) continue;
                    double e = pts[i].y - probe_predict(&pts[i], set, depth, w, mu, sd, k);
                    sse += e * e;
                    sst += (pts[i].y - mean) * (pts[i].y - mean);
                }
            }
            if (ok && sst > 0) out->r2_heldout[m][set] = 1 - sse / sst;
        }
    }
    free(pts);
}
