// report_figures.c: the report's figures (data, gnuplot commands, and the
// Markdown that shows them). See report_plot.h for the files of a figure.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/report_compare.h"
#include "analysis/report_study.h"

#define MAX_SERIES 32

// gnuplot reads "NaN" as an undefined value (the point is left out).
static void dat_num(ReportText *t, const char *fmt, double v) {
    if (isnan(v))
        rt_puts(t, " NaN");
    else {
        rt_puts(t, " ");
        rt_printf(t, fmt, v);
    }
}

static void md_figure(ReportText *md, const char *name, const char *caption) {
    rt_printf(md, "![%s](%s.png)\n\n*%s* ([SVG](%s.svg), [data](%s.dat), [gnuplot script](%s.gp))\n\n", caption, name,
              caption, name, name, name);
}

static double gmacs_per_sample(const ReportRun *r) {
    return r->n_samples > 0 ? r->macs_linear / (double)r->n_samples / 1e9 : NAN;
}

// ---- Pareto: FID-proxy against executed MACs, per policy ----

typedef struct {
    int idx;
    double x, y;
} Pt;

static int cmp_pt(const void *a, const void *b) {
    const Pt *p = a, *q = b;
    if (p->x != q->x) return (p->x > q->x) - (p->x < q->x);
    return (p->y > q->y) - (p->y < q->y);
}

int report_fig_pareto(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err) {
    char keys[MAX_SERIES][32], labels[MAX_SERIES][64];
    int ns = 0;
    // DDIM first, then the other series in order of first appearance (runs are sorted by name).
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < d->n_runs; i++) {
            const ReportRun *r = &d->runs[i];
            if (report_is_ddim(r) != (pass == 0) || !r->m[RM_FID].present || isnan(gmacs_per_sample(r))) continue;
            char k[32];
            report_series_key(r, k, sizeof k);
            int seen = 0;
            for (int s = 0; s < ns; s++) seen |= !strcmp(keys[s], k);
            if (seen || ns == MAX_SERIES) continue;
            snprintf(keys[ns], sizeof keys[ns], "%s", k);
            report_method_label(r, labels[ns], sizeof labels[ns]);
            ns++;
        }
    rt_puts(md, "## Quality against executed compute\n\n");
    if (!ns) {
        rt_puts(md, "No run has both FID-proxy and executed MACs.\n\n");
        return 0;
    }
    ReportText dat, gp;
    rt_init(&dat);
    rt_init(&gp);
    rt_printf(&dat,
              "# fig_pareto.dat: FID-proxy against executed MACs. Blocks 0..%d: the runs of one policy each;\n"
              "# blocks %d..%d: the same policies' Pareto fronts (no run with fewer MACs has a lower FID-proxy).\n"
              "# columns: gmacs_per_sample fid ci_low ci_high steps lazy_ratio_pct\n",
              ns - 1, ns, 2 * ns - 1);
    Pt *pts = lz_malloc(sizeof(Pt) * (size_t)(d->n_runs + 1), "report pareto points");
    double ymin = INFINITY, ymax = -INFINITY, xmin = INFINITY, xmax = -INFINITY;
    for (int front = 0; front < 2; front++)
        for (int s = 0; s < ns; s++) {
            int n = 0;
            for (int i = 0; i < d->n_runs; i++) {
                const ReportRun *r = &d->runs[i];
                char k[32];
                if (!r->m[RM_FID].present || isnan(gmacs_per_sample(r)) || strcmp(report_series_key(r, k, sizeof k), keys[s]))
                    continue;
                pts[n++] = (Pt){i, gmacs_per_sample(r), r->m[RM_FID].value};
            }
            qsort(pts, (size_t)n, sizeof *pts, cmp_pt);
            rt_printf(&dat, "# block %d: %s%s\n", front * ns + s, labels[s], front ? " (Pareto front)" : "");
            double best = INFINITY;
            for (int k = 0; k < n; k++) {
                const ReportRun *r = &d->runs[pts[k].idx];
                if (front && !(pts[k].y < best)) continue;
                best = fmin(best, pts[k].y);
                const ReportMetric *f = &r->m[RM_FID];
                double lo = isnan(f->lo) ? f->value : f->lo, hi = isnan(f->hi) ? f->value : f->hi;
                ymin = fmin(ymin, lo);
                ymax = fmax(ymax, hi);
                xmin = fmin(xmin, pts[k].x);
                xmax = fmax(xmax, pts[k].x);
                rt_printf(&dat, "%.6g %.6g %.6g %.6g %d", pts[k].x, f->value, lo, hi, r->steps);
                dat_num(&dat, "%.2f", 100 * r->lazy_ratio);
                rt_puts(&dat, "\n");
            }
            rt_puts(&dat, "\n\n");
        }
    free(pts);
    rt_puts(&gp,
            "set title \"FID-proxy against executed compute, every policy\"\n"
            "set xlabel \"executed MACs per sample (GMAC; linear and conv layers, both CFG rows, gates included)\"\n"
            "set ylabel \"FID-proxy (lower is better; bars: 95% interval)\"\n"
            "set grid\nset key top right box opaque\n");
    // Log x when the MACs span a wide range, with a range that hugs the data (a
    // log axis would otherwise round out to whole decades) and ticks at
    // 1, 2, 5 x 10^k; linear x otherwise.
    if (xmax / xmin >= 5) {
        double xlo = xmin / 1.15, xhi = xmax * 1.15;
        rt_printf(&gp, "set logscale x\nset xrange [%.4g:%.4g]\nset xtics (", xlo, xhi);
        int nt = 0;
        for (int e = (int)floor(log10(xlo)) - 1; e <= (int)ceil(log10(xhi)); e++)
            for (int m = 0; m < 3; m++) {
                double v = (m == 0 ? 1 : m == 1 ? 2 : 5) * pow(10, e);
                if (v >= xlo && v <= xhi) rt_printf(&gp, "%s\"%g\" %g", nt++ ? ", " : "", v, v);
            }
        rt_puts(&gp, ")\n");
    } else {
        rt_puts(&gp, "set offsets graph 0.05, graph 0.05, 0, 0\n");
    }
    if (ymin > 0 && ymax / ymin > 4) rt_puts(&gp, "set logscale y\n");
    rt_puts(&gp, "plot \\\n");
    for (int s = 0; s < ns; s++) {
        char q[96];
        rt_printf(&gp, "  datafile index %d using 1:2:3:4 with yerrorbars lt %d pt %d ps 1.2 title %s, \\\n", s, s + 1,
                  5 + 2 * (s % 4), report_gp_quote(q, sizeof q, labels[s]));
        rt_printf(&gp, "  datafile index %d using 1:2 with lines lt %d lw 1.5 notitle%s\n", ns + s, s + 1,
                  s + 1 < ns || !strcmp(keys[0], "ddim") ? ", \\" : "");
    }
    if (!strcmp(keys[0], "ddim"))
        rt_puts(&gp, "  datafile index 0 using 1:2:(sprintf(\"%d\", $5)) with labels offset 0,0.9 font \",9\" notitle\n");
    int rc = report_figure(p, "fig_pareto", "FID-proxy against executed MACs per sample, one series per policy.", &dat,
                           &gp, 1000, 650, err);
    rt_free(&dat);
    rt_free(&gp);
    if (rc) return -1;
    rt_puts(md,
            "Every run's FID-proxy against the multiply-accumulates it executed per sample (LazyDiT's MAC convention: "
            "linear and convolution layers; both CFG rows; gate overhead included). Lines join each policy's Pareto "
            "front; DDIM points are labelled with their step count.\n\n");
    md_figure(md, "fig_pareto", "FID-proxy against executed MACs per sample");
    return 0;
}

// ---- consecutive-step similarity heatmaps ----

int report_study_runs(const ReportData *d, int *idx, int max) {
    // Distinct step counts of full-compute runs with similarities (first run by name each).
    int n = 0;
    int *cand = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report study runs");
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (!r->full_compute || !r->has_similarity) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= d->runs[cand[k]].steps == r->steps;
        if (!seen) cand[n++] = i;
    }
    int m = 0;
    if (n <= max) {
        for (int k = 0; k < n; k++) idx[m++] = cand[k];
    } else {
        // Prefer the step counts that lazy runs use, then the largest.
        for (int k = 0; k < n && m < max; k++) {
            int used = 0;
            for (int i = 0; i < d->n_runs; i++) used |= !report_is_ddim(&d->runs[i]) && d->runs[i].steps == d->runs[cand[k]].steps;
            if (used) idx[m++] = cand[k];
        }
        while (m < max) {
            int best = -1;
            for (int k = 0; k < n; k++) {
                int taken = 0;
                for (int j = 0; j < m; j++) taken |= idx[j] == cand[k];
                if (!taken && (best < 0 || d->runs[cand[k]].steps > d->runs[best].steps)) best = cand[k];
            }
            if (best < 0) break;
            idx[m++] = best;
        }
    }
    free(cand);
    for (int a = 1; a < m; a++)  // ascending steps
        for (int b = a; b > 0 && d->runs[idx[b]].steps < d->runs[idx[b - 1]].steps; b--) {
            int t = idx[b];
            idx[b] = idx[b - 1];
            idx[b - 1] = t;
        }
    return m;
}

#define MIN_ONE_MINUS_COS 1e-7  // log-scale floor for identical outputs

int report_fig_similarity(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md,
                          LzError *err) {
    rt_puts(md, "## Similarity of consecutive steps\n\n");
    if (!n) {
        rt_puts(md, "No full-compute run with recorded similarities in this database.\n\n");
        return 0;
    }
    rt_puts(md,
            "Cosine similarity of each module's output (before the adaLN gate) to its output at the previous step, "
            "averaged over all model rows (both CFG halves), for full-compute runs. The colour is 1 - cos on a log "
            "scale, so that the structure near cos = 1 stays visible: 0.01 is cos = 0.99.\n\n");
    for (int k = 0; k < n; k++) {
        const ReportRun *r = &d->runs[runs[k]];
        char name[64], q[200], about[256];
        snprintf(name, sizeof name, "fig_similarity_%dsteps", r->steps);
        ReportText dat, gp;
        rt_init(&dat);
        rt_init(&gp);
        rt_printf(&dat,
                  "# %s.dat: run '%s' (%s, %d steps). Block 0: attention, block 1: MLP.\n"
                  "# columns: step layer cos_mean one_minus_cos (step s compares step s with s-1; 0 = first step)\n",
                  name, r->name, r->policy, r->steps);
        double lo = INFINITY, hi = 0;
        for (int m = 0; m < 2; m++) {
            for (int t = 1; t < r->steps; t++) {
                for (int l = 0; l < r->depth; l++) {
                    double c = report_slot(r, m, l, t)->cos_mean;
                    double v = isnan(c) ? NAN : fmax(1 - c, MIN_ONE_MINUS_COS);
                    if (!isnan(v)) lo = fmin(lo, v), hi = fmax(hi, v);
                    rt_printf(&dat, "%d %d", t, l);
                    dat_num(&dat, "%.9f", c);
                    dat_num(&dat, "%.6e", v);
                    rt_puts(&dat, "\n");
                }
                rt_puts(&dat, "\n");
            }
            rt_puts(&dat, "\n");
        }
        if (!(hi > lo)) hi = lo * 10;
        double clo = pow(10, floor(log10(lo))), chi = pow(10, ceil(log10(hi)));
        rt_printf(&gp,
                  "set multiplot layout 1,2 title %s\n"
                  "set xlabel \"sampling step (execution order; 0 = noisiest)\"\n"
                  "set ylabel \"block (layer index)\"\n"
                  "set cblabel \"1 - cos (log scale)\"\nset rmargin 16\n"
                  "set logscale cb\nset cbrange [%g:%g]\nset format cb \"10^{%%L}\"\n"
                  "set palette defined (0 \"#fde725\", 0.25 \"#5ec962\", 0.5 \"#21918c\", 0.75 \"#3b528b\", 1 \"#440154\")\n"
                  "set xrange [0.5:%d.5]\nset yrange [-0.5:%d.5]\nset ytics 1\nset tics out\n",
                  report_gp_quote(q, sizeof q, "Consecutive-step similarity of module outputs (full compute)"), clo,
                  chi, r->steps - 1, r->depth - 1);
        snprintf(q, sizeof q, "attention, %d steps", r->steps);
        char q2[200];
        rt_printf(&gp, "set title %s\nplot datafile index 0 using 1:2:4 with image notitle\n",
                  report_gp_quote(q2, sizeof q2, q));
        snprintf(q, sizeof q, "MLP, %d steps", r->steps);
        rt_printf(&gp, "set title %s\nplot datafile index 1 using 1:2:4 with image notitle\nunset multiplot\n",
                  report_gp_quote(q2, sizeof q2, q));
        snprintf(about, sizeof about, "Consecutive-step cosine similarity, step x layer, run %s.", r->name);
        int rc = report_figure(p, name, about, &dat, &gp, 1300, 450, err);
        rt_free(&dat);
        rt_free(&gp);
        if (rc) return -1;
        snprintf(about, sizeof about, "%d steps (run `%s`): 1 - cos of consecutive outputs, attention (left) and MLP (right)",
                 r->steps, r->name);
        md_figure(md, name, about);
    }
    return 0;
}

// ---- per-layer lazy ratios (the paper's Figure 4) ----

// Orders run indices by overall lazy ratio, then name (insertion sort: a
// handful of runs, and qsort has no context argument).
static void sort_by_ratio(const ReportData *d, int *idx, int n) {
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0; b--) {
            const ReportRun *x = &d->runs[idx[b - 1]], *y = &d->runs[idx[b]];
            int after = x->lazy_ratio > y->lazy_ratio || (x->lazy_ratio == y->lazy_ratio && strcmp(x->name, y->name) > 0);
            if (!after) break;
            int t = idx[b];
            idx[b] = idx[b - 1];
            idx[b - 1] = t;
        }
}

int report_fig_layer_ratios(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err) {
    rt_puts(md, "## Per-layer lazy ratios\n\n");
    int *idx = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report layer ratio runs");
    int *steps = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report layer ratio steps");
    int ns = 0;
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (strcmp(r->policy, "lazydit") || strcmp(r->modules, "both") || !r->slots) continue;
        int seen = 0;
        for (int k = 0; k < ns; k++) seen |= steps[k] == r->steps;
        if (!seen) steps[ns++] = r->steps;
    }
    for (int a = 1; a < ns; a++)
        for (int b = a; b > 0 && steps[b] < steps[b - 1]; b--) {
            int t = steps[b];
            steps[b] = steps[b - 1];
            steps[b - 1] = t;
        }
    if (!ns)
        rt_puts(md, "No LazyDiT run (both modules) with per-layer records in this database.\n\n");
    else
        rt_puts(md,
                "Fraction of model rows that reused each block's attention and MLP output, averaged over the steps "
                "(the paper's Figure 4), for every LazyDiT run with both modules lazy. The paper finds attention "
                "lazier in early blocks and MLP lazier in late blocks (claim c).\n\n");
    int rc = 0;
    for (int k = 0; k < ns && !rc; k++) {
        int n = 0;
        for (int i = 0; i < d->n_runs; i++) {
            const ReportRun *r = &d->runs[i];
            if (!strcmp(r->policy, "lazydit") && !strcmp(r->modules, "both") && r->slots && r->steps == steps[k])
                idx[n++] = i;
        }
        sort_by_ratio(d, idx, n);
        if (n > 12) n = 12;  // a readable legend
        char name[64], q[200], about[200];
        snprintf(name, sizeof name, "fig_layer_ratios_%dsteps", steps[k]);
        ReportText dat, gp;
        rt_init(&dat);
        rt_init(&gp);
        rt_printf(&dat, "# %s.dat: one block per LazyDiT run at %d steps.\n# columns: layer attn_lazy_pct mlp_lazy_pct\n",
                  name, steps[k]);
        int depth = 0;
        for (int j = 0; j < n; j++) {
            const ReportRun *r = &d->runs[idx[j]];
            if (r->depth > depth) depth = r->depth;
            rt_printf(&dat, "# block %d: run '%s', overall lazy ratio %.4f\n", j, r->name, r->lazy_ratio);
            for (int l = 0; l < r->depth; l++)
                rt_printf(&dat, "%d %.4f %.4f\n", l, 100 * report_layer_lazy_ratio(r, RMOD_ATTN, l),
                          100 * report_layer_lazy_ratio(r, RMOD_MLP, l));
            rt_puts(&dat, "\n\n");
        }
        rt_printf(&gp,
                  "set multiplot layout 1,2 title %s\n"
                  "set xlabel \"block (layer index, input side first)\"\n"
                  "set ylabel \"lazy ratio of the module (%% of model rows x steps)\"\n"
                  "set xrange [-0.3:%d.3]\nset xtics 1\nset yrange [0:100]\nset grid\nset key top left box opaque\n",
                  report_gp_quote(q, sizeof q, "Per-layer lazy ratios of LazyDiT"), depth - 1);
        for (int m = 0; m < 2; m++) {
            char t[64];
            snprintf(t, sizeof t, "%s, %d steps", m ? "MLP" : "attention (MHSA)", steps[k]);
            rt_printf(&gp, "set title %s\nplot \\\n", report_gp_quote(q, sizeof q, t));
            for (int j = 0; j < n; j++) {
                const ReportRun *r = &d->runs[idx[j]];
                snprintf(t, sizeof t, "%.0f%% overall", 100 * r->lazy_ratio);
                rt_printf(&gp, "  datafile index %d using 1:%d with linespoints lt %d pt 7 lw 2 title %s%s\n", j, m + 2,
                          j + 1, report_gp_quote(q, sizeof q, t), j + 1 < n ? ", \\" : "");
            }
        }
        rt_puts(&gp, "unset multiplot\n");
        snprintf(about, sizeof about, "Per-layer lazy ratios of attention and MLP, LazyDiT at %d steps.", steps[k]);
        rc = report_figure(p, name, about, &dat, &gp, 1200, 480, err);
        rt_free(&dat);
        rt_free(&gp);
        snprintf(about, sizeof about, "LazyDiT at %d steps: lazy ratio per block, attention (left) and MLP (right)",
                 steps[k]);
        if (!rc) md_figure(md, name, about);
    }
    free(idx);
    free(steps);
    return rc;
}

// ---- module ablation (the paper's Figure 5) ----

static double own_ratio(const ReportRun *r) {
    if (!strcmp(r->modules, "attn")) return isnan(r->lazy_ratio_attn) ? 2 * r->lazy_ratio : r->lazy_ratio_attn;
    if (!strcmp(r->modules, "mlp")) return isnan(r->lazy_ratio_mlp) ? 2 * r->lazy_ratio : r->lazy_ratio_mlp;
    return r->lazy_ratio;
}

int report_fig_ablation(const ReportPlot *p, const ReportData *d, ReportText *md, LzError *err) {
    int *base = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report ablation");
    int nb = 0;
    for (int i = 0; i < d->n_runs; i++) {  // one representative single-module run per step count
        const ReportRun *r = &d->runs[i];
        if (strcmp(r->policy, "lazydit") || !strcmp(r->modules, "both") || !r->m[RM_FID].present) continue;
        int seen = 0;
        for (int k = 0; k < nb; k++) seen |= d->runs[base[k]].steps == r->steps;
        if (!seen) base[nb++] = i;
    }
    rt_puts(md, "## Module ablation: attention-only and MLP-only laziness\n\n");
    if (!nb) {
        rt_puts(md, "No attention-only or MLP-only LazyDiT runs in this database.\n\n");
        free(base);
        return 0;
    }
    rt_puts(md,
            "FID-proxy of LazyDiT with only attention or only MLP lazy, and with both at equal ratios (the paper's "
            "Figure 5). Left: against the lazy module's own ratio; right: against the overall lazy ratio (all "
            "slots), i.e. at equal budget. Dashed: full compute at the same step count; dotted: the collapse "
            "threshold of claim (d1), +10%.\n\n");
    static const char *const mods[3] = {"attn", "mlp", "both"};
    static const char *const mod_labels[3] = {"attention only", "MLP only", "both, equal ratios"};
    int rc = 0;
    for (int k = 0; k < nb && !rc; k++) {
        const ReportRun *b0 = &d->runs[base[k]];
        int exact, j = report_find_ddim(d, b0, b0->steps, &exact);
        double full = j >= 0 && exact && d->runs[j].m[RM_FID].present ? d->runs[j].m[RM_FID].value : NAN;
        char name[64], q[200], about[200];
        snprintf(name, sizeof name, "fig_ablation_%dsteps", b0->steps);
        ReportText dat, gp;
        rt_init(&dat);
        rt_init(&gp);
        rt_printf(&dat,
                  "# %s.dat: LazyDiT at %d steps; blocks: 0 attention only, 1 MLP only, 2 both modules.\n"
                  "# full-compute (DDIM-%d) FID-proxy: %.6g\n"
                  "# columns: module_ratio_pct overall_ratio_pct fid ci_low ci_high\n",
                  name, b0->steps, b0->steps, full);
        for (int m = 0; m < 3; m++) {
            rt_printf(&dat, "# block %d: %s\n", m, mod_labels[m]);
            int *ix = lz_malloc(sizeof(int) * (size_t)(d->n_runs + 1), "report ablation rows");
            int n = 0;
            for (int i = 0; i < d->n_runs; i++) {
                const ReportRun *r = &d->runs[i];
                if (!strcmp(r->policy, "lazydit") && !strcmp(r->modules, mods[m]) && r->steps == b0->steps &&
                    report_same_settings(r, b0) && r->m[RM_FID].present)
                    ix[n++] = i;
            }
            sort_by_ratio(d, ix, n);
            for (int a = 0; a < n; a++) {
                const ReportRun *r = &d->runs[ix[a]];
                const ReportMetric *f = &r->m[RM_FID];
                rt_printf(&dat, "%.4f %.4f %.6g %.6g %.6g\n", 100 * own_ratio(r), 100 * r->lazy_ratio, f->value,
                          isnan(f->lo) ? f->value : f->lo, isnan(f->hi) ? f->value : f->hi);
            }
            free(ix);
            rt_puts(&dat, "\n\n");
        }
        rt_printf(&gp,
                  "set multiplot layout 1,2 title %s\n"
                  "set ylabel \"FID-proxy (lower is better; bars: 95%% interval)\"\n"
                  "set grid\nset key below horizontal\nset xrange [0:*]\nset offsets 0, graph 0.05, 0, 0\n",
                  report_gp_quote(q, sizeof q, "Module ablation of LazyDiT"));
        if (!isnan(full)) rt_printf(&gp, "full = %.6g\n", full);
        for (int panel = 0; panel < 2; panel++) {
            char t[96];
            snprintf(t, sizeof t, "%d steps, against %s", b0->steps, panel ? "the overall ratio" : "the module's ratio");
            rt_printf(&gp, "set title %s\n", report_gp_quote(q, sizeof q, t));
            rt_printf(&gp, "set xlabel \"%s\"\nplot \\\n",
                      panel ? "overall lazy ratio (% of all attention and MLP slots)"
                            : "lazy ratio of the lazy module(s) (% of that module's slots)");
            for (int m = 0; m < 3; m++)
                rt_printf(&gp, "  datafile index %d using %d:3:4:5 with yerrorlines lt %d pt 7 lw 2 title %s, \\\n", m,
                          panel + 1, m + 1, report_gp_quote(q, sizeof q, mod_labels[m]));
            if (!isnan(full))
                rt_printf(&gp,
                          "  full with lines lt -1 dt 2 title 'DDIM-%d (full compute)', \\\n"
                          "  1.1 * full with lines lt -1 dt 3 title 'collapse threshold (+10%%)'\n",
                          b0->steps);
            else
                rt_puts(&gp, "  NaN notitle\n");
        }
        rt_puts(&gp, "unset multiplot\n");
        snprintf(about, sizeof about, "Module ablation of LazyDiT at %d steps.", b0->steps);
        rc = report_figure(p, name, about, &dat, &gp, 1200, 520, err);
        rt_free(&dat);
        rt_free(&gp);
        snprintf(about, sizeof about, "Module ablation at %d steps: FID-proxy against the module's ratio (left) and the overall ratio (right)",
                 b0->steps);
        if (!rc) md_figure(md, name, about);
    }
    free(base);
    return rc;
}

// ---- the lower bound against the measured similarity ----

int report_fig_bound(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md, LzError *err) {
    for (int k = 0; k < n; k++) {
        const ReportRun *r = &d->runs[runs[k]];
        char name[64], q[200], about[256];
        snprintf(name, sizeof name, "fig_bound_%dsteps", r->steps);
        ReportText dat, gp;
        rt_init(&dat);
        rt_init(&gp);
        rt_printf(&dat,
                  "# %s.dat: run '%s' (%d steps). Block m*L + l: module m (0 attention, 1 MLP), layer l (L = %d).\n"
                  "# columns: step alpha one_minus_cos cos_mean bound_value lipschitz\n",
                  name, r->name, r->steps, r->depth);
        for (int m = 0; m < 2; m++)
            for (int l = 0; l < r->depth; l++) {
                rt_printf(&dat, "# block %d: %s layer %d\n", m * r->depth + l, m ? "mlp" : "attn", l);
                for (int t = 1; t < r->steps; t++) {
                    const ReportSlot *s = report_slot(r, m, l, t);
                    rt_printf(&dat, "%d", t);
                    dat_num(&dat, "%.6e", s->bound_alpha);
                    dat_num(&dat, "%.6e", isnan(s->cos_mean) ? NAN : fmax(1 - s->cos_mean, MIN_ONE_MINUS_COS));
                    dat_num(&dat, "%.9f", s->cos_mean);
                    dat_num(&dat, "%.6e", s->bound_value);
                    dat_num(&dat, "%.6e", s->lipschitz);
                    rt_puts(&dat, "\n");
                }
                rt_puts(&dat, "\n\n");
            }
        rt_printf(&gp,
                  "set multiplot layout 1,2 title %s\n"
                  "set xlabel \"sampling step (execution order; 0 = noisiest)\"\n"
                  "set ylabel \"1 - cos (solid: measured; dashed: bound's alpha)\"\n"
                  "set logscale y\nset format y \"10^{%%L}\"\nset grid\nset key below horizontal maxrows 2\n"
                  "set xrange [1:%d]\n",
                  report_gp_quote(q, sizeof q, "Similarity lower bound cos >= 1 - alpha against the measured similarity"),
                  r->steps - 1 > 1 ? r->steps - 1 : 2);
        for (int m = 0; m < 2; m++) {
            char t[96];
            snprintf(t, sizeof t, "%s, %d steps", m ? "MLP" : "attention", r->steps);
            rt_printf(&gp, "set title %s\nplot \\\n", report_gp_quote(q, sizeof q, t));
            for (int l = 0; l < r->depth; l++) {
                rt_printf(&gp, "  datafile index %d using 1:3 with lines lt %d lw 2 title 'block %d', \\\n",
                          m * r->depth + l, l + 1, l);
                rt_printf(&gp, "  datafile index %d using 1:2 with lines lt %d lw 1.5 dt 2 notitle, \\\n",
                          m * r->depth + l, l + 1);
            }
            rt_puts(&gp, "  2 with lines lt -1 lw 1 dt 3 title 'alpha = 2: vacuous above'\n");
        }
        rt_puts(&gp, "unset multiplot\n");
        snprintf(about, sizeof about, "Lower bound 1 - alpha against measured 1 - cos, run %s.", r->name);
        int rc = report_figure(p, name, about, &dat, &gp, 1300, 600, err);
        rt_free(&dat);
        rt_free(&gp);
        if (rc) return -1;
        snprintf(about, sizeof about,
                 "%d steps (run `%s`): measured 1 - cos (solid) and the bound's alpha (dashed) per block; the bound is "
                 "vacuous where alpha >= 2", r->steps, r->name);
        md_figure(md, name, about);
    }
    return 0;
}

// ---- measured Lipschitz ratio against the theory's constant ----

int report_fig_lipschitz(const ReportPlot *p, const ReportData *d, const int *runs, int n, ReportText *md,
                         LzError *err) {
    for (int k = 0; k < n; k++) {
        const ReportRun *r = &d->runs[runs[k]];
        ReportBoundRow *rows = lz_malloc(sizeof(ReportBoundRow) * 2 * (size_t)r->depth, "report lipschitz rows");
        int nr = report_bound_rows(r, rows);
        int has_c = 0;
        for (int i = 0; i < nr; i++) has_c |= !isnan(rows[i].median_c);
        char name[64], about[256];
        snprintf(name, sizeof name, "fig_lipschitz_%dsteps", r->steps);
        ReportText dat, gp;
        rt_init(&dat);
        rt_init(&gp);
        rt_printf(&dat,
                  "# %s.dat: run '%s' (%d steps). Block 0: attention, block 1: MLP; one line per layer.\n"
                  "# columns: layer measured_median measured_min measured_max theory_c (medians and range over steps)\n",
                  name, r->name, r->steps);
        for (int m = 0; m < 2; m++) {
            for (int i = 0; i < nr; i++) {
                if (rows[i].module != m) continue;
                rt_printf(&dat, "%d", rows[i].layer);
                dat_num(&dat, "%.6e", rows[i].median_lipschitz);
                dat_num(&dat, "%.6e", rows[i].min_lipschitz);
                dat_num(&dat, "%.6e", rows[i].max_lipschitz);
                dat_num(&dat, "%.6e", rows[i].median_c);
                rt_puts(&dat, "\n");
            }
            rt_puts(&dat, "\n\n");
        }
        rt_printf(&gp,
                  "set title \"Measured Lipschitz ratio |dY| / |dZ| against the theory's constant C, %d steps\"\n"
                  "set xlabel \"block (layer index, input side first)\"\n"
                  "set ylabel \"|Y_t - Y_{t-1}| / |Z_t - Z_{t-1}| (log scale)\"\n"
                  "set logscale y\nset format y \"10^{%%L}\"\nset grid\nset key below horizontal\n"
                  "set xrange [-0.5:%d.5]\nset xtics 1\n"
                  "plot datafile index 0 using 1:2:3:4 with yerrorlines lt 1 pt 7 lw 2 title 'attention, measured (median, range over steps)', \\\n"
                  "  datafile index 1 using 1:2:3:4 with yerrorlines lt 2 pt 5 lw 2 title 'MLP, measured (median, range over steps)'%s\n",
                  r->steps, r->depth - 1, has_c ? ", \\" : "");
        if (has_c)
            rt_puts(&gp, "  datafile index 0 using 1:5 with linespoints lt 1 dt 2 pt 6 title 'attention, theory C = 5 R^4 N D', \\\n"
                         "  datafile index 1 using 1:5 with linespoints lt 2 dt 2 pt 4 title 'MLP, theory C = R'\n");
        snprintf(about, sizeof about, "Measured Lipschitz ratio against the theory's constant, run %s.", r->name);
        int rc = report_figure(p, name, about, &dat, &gp, 1000, 560, err);
        rt_free(&dat);
        rt_free(&gp);
        free(rows);
        if (rc) return -1;
        snprintf(about, sizeof about, "%d steps (run `%s`): measured |dY| / |dZ| per block%s", r->steps, r->name,
                 has_c ? " against the theory's constant C (dashed)" : " (the database records no C)");
        md_figure(md, name, about);
    }
    return 0;
}
