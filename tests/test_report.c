// test_report: `lazydit report` on a fixture database (tests/report_fixture.h,
// built against analysis/schema.sql): the tables and figures exist, the
// numbers in REPORT.md are the database's, a second generation is byte
// identical, the claim verdicts follow their rules, and a verdict turns from
// holds to fails when the fixture's numbers change.
// `test_report --fixture PATH` only writes the fixture database (for the CLI test).
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/bootstrap.h"
#include "analysis/report.h"
#include "analysis/report_claims.h"
#include "analysis/report_compare.h"
#include "analysis/report_paired.h"
#include "analysis/report_paper.h"
#include "analysis/report_study.h"
#include "analysis/sample_features.h"
#include "model/base/prng.h"
#include "tests/file_util.h"
#include "tests/report_fixture.h"
#include "tests/test.h"

static char *read_text(const char *path) {
    size_t n;
    unsigned char *b = file_read_bytes(path, &n);
    if (!b) return NULL;
    char *s = realloc(b, n + 1);
    s[n] = 0;
    return s;
}

// The figures the fixture must produce.
static const char *const figures[] = {
    "fig_pareto",           "fig_ablation_10steps",   "fig_layer_ratios_10steps", "fig_layer_ratios_20steps",
    "fig_layer_ratios_50steps", "fig_similarity_10steps", "fig_similarity_20steps", "fig_similarity_50steps",
    "fig_bound_10steps",    "fig_bound_20steps",      "fig_bound_50steps",        "fig_lipschitz_10steps",
    "fig_lipschitz_20steps", "fig_lipschitz_50steps",
};
#define N_FIGURES ((int)(sizeof figures / sizeof figures[0]))

static int generate(const char *db, const char *out, int render, FILE *table_out) {
    ReportOptions o = {db, out, NULL, "gnuplot", render, table_out, 0};
    LzError err = {{0}};
    if (report_write(&o, &err)) {
        printf("# report_write: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void test_files(const char *out) {
    char path[4096];
    snprintf(path, sizeof path, "%.1800s/REPORT.md", out);
    TEST_CHECK(file_exists(path), "report_md_exists", "%.300s missing", path);
    int missing = 0, bad_png = 0, bad_svg = 0;
    for (int i = 0; i < N_FIGURES; i++) {
        static const char *const ext[] = {"png", "svg", "gp", "dat"};
        for (int e = 0; e < 4; e++) {
            snprintf(path, sizeof path, "%.1800s/%s.%s", out, figures[i], ext[e]);
            size_t n = 0;
            unsigned char *b = file_read_bytes(path, &n);
            if (!b) {
                printf("# missing %s\n", path);
                missing++;
                continue;
            }
            if (e == 0 && (n < 1000 || memcmp(b, "\x89PNG\r\n\x1a\n", 8))) bad_png++;
            if (e == 1 && (n < 1000 || !strstr((char *)b, "<svg"))) bad_svg++;
            free(b);
        }
    }
    TEST_CHECK(!missing, "report_figure_files", "%d of %d figure files missing", missing, 4 * N_FIGURES);
    TEST_CHECK(!bad_png && !bad_svg, "report_figures_rendered", "%d PNGs and %d SVGs are not images", bad_png, bad_svg);
}

// Every main-table row carries the database's FID-proxy with its interval,
// read here with plain SQL, independently of the report's loader.
static void test_numbers(const char *db_path, const char *md) {
    sqlite3 *db;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT r.name, r.policy, r.steps, r.lazy_ratio, r.macs_linear / r.n_samples / 1e9, m.value, "
                       "m.ci_low, m.ci_high FROM runs r JOIN metrics m USING (run_id) WHERE m.name = 'fid' AND "
                       "r.status = 'done' AND (r.policy = 'ddim' OR r.policy_json LIKE '%\"both\"%') AND r.policy IN "
                       "('ddim', 'lazydit') ORDER BY r.name",
                       -1, &st, NULL);
    int rows = 0, found = 0;
    char bad[256] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        char want[256];
        const char *policy = (const char *)sqlite3_column_text(st, 1);
        snprintf(want, sizeof want, "| %s | %d | %.1f%% | %.3f |", strcmp(policy, "ddim") ? "LazyDiT" : "DDIM",
                 sqlite3_column_int(st, 2), 100 * sqlite3_column_double(st, 3), sqlite3_column_double(st, 4));
        const char *row = strstr(md, want);
        char fid[96];
        snprintf(fid, sizeof fid, "%.2f** [%.2f, %.2f]", sqlite3_column_double(st, 5), sqlite3_column_double(st, 6),
                 sqlite3_column_double(st, 7));
        char fid_plain[96];
        snprintf(fid_plain, sizeof fid_plain, " %.2f [%.2f, %.2f]", sqlite3_column_double(st, 5),
                 sqlite3_column_double(st, 6), sqlite3_column_double(st, 7));
        const char *eol = row ? strchr(row, '\n') : NULL;
        int ok = 0;
        if (row && eol) {
            size_t len = (size_t)(eol - row);
            char *line = malloc(len + 1);
            memcpy(line, row, len);
            line[len] = 0;
            ok = strstr(line, fid) || strstr(line, fid_plain);
            free(line);
        }
        if (ok)
            found++;
        else if (!bad[0])
            snprintf(bad, sizeof bad, "run %.40s: no row '%.100s' with FID '%.60s'", sqlite3_column_text(st, 0), want, fid_plain);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    TEST_CHECK(rows == 14 && found == rows, "report_main_table_numbers", "%d of %d rows match the database; %s", found,
               rows, bad);
    // Marking: LazyDiT 20 steps at 50% (22.40 [21.50, 23.30]) against DDIM-10 (26.60 [25.54, 27.66]) separates.
    TEST_CHECK(strstr(md, "| **22.40** [21.50, 23.30] |") != NULL && strstr(md, "vs DDIM-10: better FID"),
               "report_marks_resolved", "the resolved FID of LazyDiT-20 at 50%% is not bold / not named better");
    // LazyDiT 50 steps at 50% (20.30) against DDIM-25 (20.60): intervals overlap.
    TEST_CHECK(strstr(md, "| 20.30 [19.49, 21.11] |") != NULL && strstr(md, "vs DDIM-25: not resolved"),
               "report_unresolved_unmarked", "an overlapping pair is marked or not called 'not resolved'");
    // 50 steps at 20%: K = 40 has no DDIM run; the nearest (50) is named.
    TEST_CHECK(strstr(md, "vs DDIM-50 (nearest to K = 40)") != NULL, "report_nearest_partner",
               "the missing DDIM-40 partner is not flagged");
    // The figure data is the database's: DDIM-10 in the Pareto data.
    TEST_CHECK(strstr(md, "not reported: 1 still running or interrupted, 1 failed") != NULL, "report_counts_unfinished",
               "header does not count the running and failed runs");
    // The policy summary: FORA 20 steps at 50% gains 1.60 on DDIM-10 unresolved, random loses 2.40 resolved.
    TEST_CHECK(strstr(md, "| FORA | — | — | — | — | — | 1.60 | — | — |") != NULL &&
                   strstr(md, "| Random | — | — | — | — | — | -2.40 **-** | — | — |") != NULL,
               "report_policy_summary", "the policy summary rows do not show the fixture's gains");
    TEST_CHECK(strstr(md, "Scoring (from `runs.config_json`): 26 runs scored the samples clamped to [-1, 1] and rounded to 8 bits") != NULL,
               "report_scoring_choice", "the scoring line does not report config_json's quantize");
    TEST_CHECK(strstr(md, "| DDIM | 10 | — | — | 12.05 | 26.60 | 11.26 | 18.96 |") != NULL, "report_paper_beside_local",
               "the paper's DDIM-10 row (FID 12.05 in the paper) is not beside the local 26.60");
}

static void test_pareto_data(const char *out) {
    char path[4096];
    snprintf(path, sizeof path, "%.1800s/fig_pareto.dat", out);
    char *dat = read_text(path);
    // DDIM-10: GMACs = 2 * 10 * per_row / 1e9 with per_row = 5e6 + 6 * (1.6e6 + 3.2e6 + 6.4e6) = 72.2e6.
    TEST_CHECK(dat && strstr(dat, "1.444 26.6 25.536 27.664 10 0.00\n"), "report_pareto_data",
               "fig_pareto.dat lacks the DDIM-10 point");
    free(dat);
}

static int dirs_identical(const char *a, const char *b, char *why, size_t cap) {
    DIR *d = opendir(a);
    if (!d) return snprintf(why, cap, "cannot open %.300s", a), 0;
    int files = 0, same = 1;
    for (struct dirent *e; same && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%.1800s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%.1800s/%s", b, e->d_name);
        size_t na = 0, nb = 0;
        unsigned char *x = file_read_bytes(pa, &na), *y = file_read_bytes(pb, &nb);
        if (!x || !y || na != nb || memcmp(x, y, na)) {
            snprintf(why, cap, "%s differs", e->d_name);
            same = 0;
        }
        free(x);
        free(y);
        files++;
    }
    closedir(d);
    if (same && files != dir_count(b)) {
        snprintf(why, cap, "%d files vs %d", files, dir_count(b));
        same = 0;
    }
    return same && files > 0;
}

static ReportVerdict verdict_of(const char *db, const char *id) {
    ReportData d;
    LzError err;
    if (report_db_load(&d, db, &err)) {
        printf("# %s\n", err.msg);
        return -1;
    }
    ReportClaim c[REPORT_N_CLAIMS];
    report_claims(&d, c);
    ReportVerdict v = -1;
    for (int k = 0; k < REPORT_N_CLAIMS; k++)
        if (!strcmp(c[k].id, id)) v = c[k].verdict;
    report_db_free(&d);
    return v;
}

// Bound rows of the fixture's DDIM-10: attention vacuous everywhere (alpha 1e4),
// MLP blocks 0-2 not vacuous with gap 1.5 eps (alpha 2.5 eps, cos 1 - eps) and
// violated by every row minimum (1 - 3 eps), blocks 3-5 vacuous (alpha 50).
static void test_bound_rows(const char *db) {
    ReportData d;
    LzError err;
    if (report_db_load(&d, db, &err)) {
        TEST_CHECK(0, "bound_rows", "%.300s", err.msg);
        return;
    }
    const ReportRun *r = NULL;
    for (int i = 0; i < d.n_runs; i++)
        if (!strcmp(d.runs[i].name, "ddim-10")) r = &d.runs[i];
    ReportBoundRow rows[2 * FIXTURE_DEPTH];
    int n = r ? report_bound_rows(r, rows) : 0;
    int ok = n == 2 * FIXTURE_DEPTH;
    double worst = 0;
    for (int i = 0; ok && i < n; i++) {
        const ReportBoundRow *b = &rows[i];
        int vac = b->module == 0 || b->layer >= 3;
        ok = b->n_steps == 9 && b->n_vacuous == (vac ? 9 : 0) && b->n_violated == (vac ? 0 : 9) && isnan(b->median_gap) == vac;
        if (ok && !vac) {
            double e[9];
            for (int t = 1; t < 10; t++) e[t - 1] = fx_eps(1, b->layer, t, 10);
            double want = 1.5 * report_median(e, 9);
            worst = fmax(worst, fabs(b->median_gap - want) / want);
        }
    }
    TEST_CHECK(ok && worst < 1e-9, "bound_rows", "rows %d, vacuous/violated/gap pattern %s, gap rel error %.3g", n,
               ok ? "ok" : "wrong", worst);
    report_db_free(&d);
}

static void test_claims(const char *db) {
    static const char *const ids[] = {"a", "b1", "b2", "c", "d1", "d2"};
    for (int k = 0; k < 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "claim_%s_holds_on_fixture", ids[k]);
        ReportVerdict v = verdict_of(db, ids[k]);
        TEST_CHECK(v == VERDICT_HOLDS, name, "verdict %s", report_verdict_name(v));
    }
}

// Changing numbers flips verdicts, each by its rule.
static void test_flips(const char *dir) {
    char db[4096];
    // (b1): LazyDiT 20 steps at 50% worse than DDIM-10, resolved.
    snprintf(db, sizeof db, "%.1800s/flip_b1.db", dir);
    fixture_build(db);
    fixture_set_fid(db, "lazydit-20-50", 32.0);
    TEST_CHECK(verdict_of(db, "b1") == VERDICT_FAILS, "claim_b1_flips_to_fails", "verdict %s",
               report_verdict_name(verdict_of(db, "b1")));
    // (b1) again, unresolved instead: LazyDiT 20 at 50% within DDIM-10's interval and 10 at 50% too.
    snprintf(db, sizeof db, "%.1800s/flip_b1_open.db", dir);
    fixture_build(db);
    fixture_set_fid(db, "lazydit-20-50", 26.0);
    fixture_set_fid(db, "lazydit-10-50", 45.0);
    fixture_set_fid(db, "abl-both-20", 30.5);
    TEST_CHECK(verdict_of(db, "b1") == VERDICT_INCONCLUSIVE, "claim_b1_unresolved_is_inconclusive", "verdict %s",
               report_verdict_name(verdict_of(db, "b1")));
    // (b2): the small-budget gain shrinks below the large-budget one.
    snprintf(db, sizeof db, "%.1800s/flip_b2.db", dir);
    fixture_build(db);
    fixture_set_fid(db, "lazydit-10-50", 45.6);
    fixture_set_fid(db, "lazydit-50-50", 17.0);
    TEST_CHECK(verdict_of(db, "b2") == VERDICT_FAILS, "claim_b2_flips_to_fails", "verdict %s",
               report_verdict_name(verdict_of(db, "b2")));
    // (d1): MLP tolerates more than attention.
    snprintf(db, sizeof db, "%.1800s/flip_d1.db", dir);
    fixture_build(db);
    fixture_set_fid(db, "abl-mlp-30", 27.0);
    fixture_set_fid(db, "abl-mlp-40", 27.2);
    fixture_set_fid(db, "abl-mlp-50", 27.4);
    TEST_CHECK(verdict_of(db, "d1") == VERDICT_FAILS, "claim_d1_flips_to_fails", "verdict %s",
               report_verdict_name(verdict_of(db, "d1")));
    // (d2): attention-only resolved better than both modules at 20% overall.
    snprintf(db, sizeof db, "%.1800s/flip_d2.db", dir);
    fixture_build(db);
    fixture_set_fid(db, "abl-both-20", 35.0);
    TEST_CHECK(verdict_of(db, "d2") == VERDICT_FAILS, "claim_d2_flips_to_fails", "verdict %s",
               report_verdict_name(verdict_of(db, "d2")));
}

// The same flip seen in REPORT.md: the (b1) row reads holds, then fails.
static void test_flip_in_report(const char *dir, const char *md_holds) {
    char db[4096], out[4096], path[4096];
    snprintf(db, sizeof db, "%.1800s/flip_md.db", dir);
    snprintf(out, sizeof out, "%.1800s/flip_md", dir);
    fixture_build(db);
    fixture_set_fid(db, "lazydit-20-50", 32.0);
    generate(db, out, 0, NULL);
    snprintf(path, sizeof path, "%.1800s/REPORT.md", out);
    char *md = read_text(path);
    const char *row_holds = md_holds ? strstr(md_holds, "| (b1) LazyDiT beats DDIM at equal budget |") : NULL;
    const char *row_fails = md ? strstr(md, "| (b1) LazyDiT beats DDIM at equal budget |") : NULL;
    const char *eh = row_holds ? strchr(row_holds, '\n') : NULL, *ef = row_fails ? strchr(row_fails, '\n') : NULL;
    int ok = eh && ef && eh - row_holds > 12 && !strncmp(eh - 12, "**holds** |", 11) + 0 == 0;
    ok = eh && ef && !strncmp(eh - 11, "**holds** |", 11) && !strncmp(ef - 11, "**fails** |", 11);
    TEST_CHECK(ok, "report_b1_row_holds_then_fails", "the (b1) row does not end in holds / fails");
    TEST_CHECK(md && strstr(md, "| **26.60** [25.54, 27.66] |"), "report_marks_ddim_when_better",
               "DDIM-10's FID is not bold when it is resolved better");
    free(md);
}

// ---- the paired FID test ----

#define PD 8      // feature dimension of the paired fixture
#define PN 500    // samples (fx_insert_run's n_samples)
#define PDELTA 0.03

// A database with DDIM-10 and LazyDiT at 20 steps and 50% (equal budget K =
// 10), both storing features against a reference fit of N(0, I) points.
// DDIM's features are x_i ~ N(1, I); LazyDiT's are x_i - PDELTA (aligned: the
// same samples, shifted towards the reference, so FID(LazyDiT) < FID(DDIM) by
// about 2 PDELTA D on every resample) or x_{(i + 1) mod n} - PDELTA (shuffled:
// the same shift but the pairing broken, so the paired interval is as wide as
// two independent ones). The metrics table gets each run's FID computed from
// its features and, with narrow_ci, intervals of +-0.05; else the library's
// bootstrap interval (reference fixed, 200 resamples), as the runner writes it.
#define PNREF 2000
// ref (PNREF, PD) ~ N(0, I); xy (2, PN, PD): x ~ N(1, I), then y.
static void paired_fixture_data(float *ref, float *xy, int aligned) {
    float *x = xy, *y = xy + PN * PD;
    Prng g;
    prng_seed(&g, 7);
    for (int i = 0; i < PNREF * PD; i++) ref[i] = (float)prng_normal(&g);
    for (int i = 0; i < PN * PD; i++) x[i] = (float)(1 + prng_normal(&g));
    for (int i = 0; i < PN; i++)
        for (int j = 0; j < PD; j++) y[i * PD + j] = x[(aligned ? i : (i + 1) % PN) * PD + j] - (float)PDELTA;
}

static int paired_fixture(const char *path, int aligned, int narrow_ci, double *fid_out) {
    remove(path);
    FILE *f = fopen("analysis/schema.sql", "rb");
    if (!f) return -1;
    static char schema[1 << 16];
    size_t len = fread(schema, 1, sizeof schema - 1, f);
    fclose(f);
    schema[len] = 0;
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    static const FxRun runs[] = {
        {"ddim-10", "ddim", "both", 10, 0, 1.0, 0, "done"},
        {"lazydit-20-50", "lazydit", "both", 20, 0.5, 1.0, 0, "done"},
    };
    int rc = fx_exec(db, schema) || fx_exec(db, "BEGIN") ||
             fx_exec(db, "INSERT INTO meta (key, value) VALUES ('schema_version', '1'), ('experiment', 'fixture')") ||
             fx_insert_run(db, 1, &runs[0]) || fx_insert_run(db, 2, &runs[1]) || fx_exec(db, "COMMIT");
    sqlite3_close(db);
    if (rc) return -1;
    enum { NREF = PNREF };
    float *ref = malloc(sizeof(float) * NREF * PD), *x = malloc(sizeof(float) * PN * PD * 2), *y = x + PN * PD;
    paired_fixture_data(ref, x, aligned);
    LzError err;
    GaussStats rs;
    ResultDb rdb;
    rc = gauss_stats_compute(&rs, ref, NREF, PD, &err) || rdb_open(&rdb, path, &err);
    if (!rc) {
        rc = rdb_begin(&rdb, &err);
        for (int k = 0; k < 2 && !rc; k++) {
            const float *feat = k ? y : x;
            double fid;
            BootstrapConfig bc = bootstrap_default_config(200, 0);
            bc.resample_real = false;
            BootstrapCI ci;
            rc = sample_features_fid(&fid, feat, NULL, PN, PD, &rs, &err) ||
                 bootstrap_fd(&ci, ref, NREF, feat, PN, PD, &bc, &err) ||
                 sample_features_write(&rdb, k + 1, feat, PN, PD, "ref-fixture", &rs, &err);
            if (rc) break;
            fid_out[k] = fid;
            char sql[256];
            snprintf(sql, sizeof sql,
                     "UPDATE metrics SET value = %.17g, ci_low = %.17g, ci_high = %.17g WHERE name = 'fid' AND run_id = %d",
                     fid, narrow_ci ? fid - 0.05 : ci.lo, narrow_ci ? fid + 0.05 : ci.hi, k + 1);
            rc = rdb_exec(&rdb, sql, "set the fixture's fid", &err);
        }
        rc = rc || rdb_commit(&rdb, &err);
        rdb_close(&rdb);
    }
    if (rc) printf("# paired fixture: %s\n", err.msg);
    gauss_stats_free(&rs);
    free(ref);
    free(x);
    return rc ? -1 : 0;
}

static ReportVerdict b1_verdict(const char *db, int resamples, ReportPaired *p, ReportCmp *indep) {
    ReportData d;
    LzError err;
    if (report_db_load_with(&d, db, resamples, &err)) {
        printf("# %s\n", err.msg);
        return -1;
    }
    ReportClaim c[REPORT_N_CLAIMS];
    report_claims(&d, c);
    int l = strcmp(d.runs[0].policy, "ddim") ? 0 : 1;  // runs ordered by name: ddim-10, lazydit-20-50
    if (p) *p = report_paired_fid(&d, l, 1 - l);
    if (indep) *indep = report_compare(&d.runs[l].m[RM_FID], &d.runs[1 - l].m[RM_FID], 0);
    ReportVerdict v = c[1].verdict;
    report_db_free(&d);
    return v;
}

static char *paired_report(const char *db, const char *out) {
    char path[4096];
    if (generate(db, out, 0, NULL)) return NULL;
    snprintf(path, sizeof path, "%.1800s/REPORT.md", out);
    return read_text(path);
}

static void test_paired(const char *dir) {
    char db[4096], out[4096], out2[4096];
    double fid[2];
    // Aligned: the paired interval excludes 0 while the runs' own intervals overlap.
    snprintf(db, sizeof db, "%.1800s/paired.db", dir);
    TEST_CHECK(paired_fixture(db, 1, 0, fid) == 0, "paired_fixture_builds", "cannot build %.300s", db);
    ReportPaired p;
    ReportCmp indep;
    ReportVerdict v = b1_verdict(db, REPORT_PAIRED_RESAMPLES, &p, &indep);
    TEST_CHECK(p.ok && p.hi < 0 && indep == CMP_UNRESOLVED, "paired_fixture_resolves_only_paired",
               "paired %d [%g, %g], independent comparison %d", p.ok, p.lo, p.hi, indep);
    TEST_CHECK(fabs(p.diff - (fid[1] - fid[0])) <= 1e-12 * fabs(fid[0]), "paired_difference_is_the_fid_difference",
               "%.17g vs %.17g", p.diff, fid[1] - fid[0]);
    // The shift leaves the covariance alone (up to float rounding), so on a
    // resample with counts w, FID(y) - FID(x) = |m_y - mu|^2 - |m_x - mu|^2
    // with m the weighted means and mu the reference mean: the paired interval
    // recomputed from that, on the same resamples (report_paired_counts).
    {
        enum { B = 200 };
        ReportData d;
        LzError err;
        int loaded = report_db_load_with(&d, db, B, &err) == 0;
        ReportPaired q = loaded ? report_paired_fid(&d, 1, 0) : (ReportPaired){0, NAN, NAN, NAN};
        if (loaded) report_db_free(&d);
        float *ref = malloc(sizeof(float) * PNREF * PD), *x = malloc(sizeof(float) * PN * PD * 2);
        paired_fixture_data(ref, x, 1);
        GaussStats rs;
        gauss_stats_compute(&rs, ref, PNREF, PD, &err);
        double reps[B], w[PN];
        for (int b = 0; b < B; b++) {
            report_paired_counts(w, PN, b);
            reps[b] = 0;
            for (int j = 0; j < PD; j++) {
                double mx = 0, my = 0;
                for (int i = 0; i < PN; i++) {
                    mx += w[i] * (double)x[i * PD + j];
                    my += w[i] * (double)x[(PN + i) * PD + j];
                }
                mx = mx / PN - rs.mu[j];
                my = my / PN - rs.mu[j];
                reps[b] += my * my - mx * mx;
            }
        }
        double lo = quantile_linear(reps, B, 0.025), hi = quantile_linear(reps, B, 0.975);
        gauss_stats_free(&rs);
        free(ref);
        free(x);
        TEST_CHECK(q.ok && fabs(q.lo - lo) < 1e-5 && fabs(q.hi - hi) < 1e-5 && hi - lo < 0.2 * fabs(q.diff),
                   "paired_interval_from_means", "report [%.9g, %.9g], from the mean terms [%.9g, %.9g], difference %g",
                   q.lo, q.hi, lo, hi, q.diff);
    }
    TEST_CHECK(v == VERDICT_HOLDS && b1_verdict(db, 0, NULL, NULL) == VERDICT_INCONCLUSIVE, "claim_b1_follows_paired",
               "verdict with paired %s, without %s", report_verdict_name(v),
               report_verdict_name(b1_verdict(db, 0, NULL, NULL)));
    snprintf(out, sizeof out, "%.1800s/paired_a", dir);
    snprintf(out2, sizeof out2, "%.1800s/paired_b", dir);
    char *md = paired_report(db, out), *md2 = paired_report(db, out2);
    char cell[128], bold[64];
    snprintf(cell, sizeof cell, "| %+.2f [%.2f, %.2f] |", p.diff, p.lo, p.hi);
    snprintf(bold, sizeof bold, "| **%.2f** [", fid[1]);
    TEST_CHECK(md && strstr(md, "ΔFID vs equal-budget DDIM [95% CI]") && strstr(md, cell) && strstr(md, bold) &&
                   strstr(md, "vs DDIM-10: better FID") && strstr(md, "1 by the paired test, 0 by the two intervals"),
               "report_marks_by_paired", "REPORT.md lacks the paired cell '%s', the bold '%s' or the verdict", cell, bold);
    char why[512] = "";
    TEST_CHECK(md && md2 && dirs_identical(out, out2, why, sizeof why), "paired_report_byte_identical", "%s", why);
    free(md);
    free(md2);

    // Shuffled, narrow stored intervals: these separate, the paired interval does not.
    snprintf(db, sizeof db, "%.1800s/unpaired.db", dir);
    TEST_CHECK(paired_fixture(db, 0, 1, fid) == 0, "paired_fixture_shuffled_builds", "cannot build %.300s", db);
    v = b1_verdict(db, REPORT_PAIRED_RESAMPLES, &p, &indep);
    TEST_CHECK(p.ok && p.lo < 0 && p.hi > 0 && indep == CMP_A_BETTER, "shuffled_fixture_resolves_only_independent",
               "paired %d [%g, %g], independent comparison %d", p.ok, p.lo, p.hi, indep);
    TEST_CHECK(v == VERDICT_INCONCLUSIVE && b1_verdict(db, 0, NULL, NULL) == VERDICT_HOLDS, "claim_b1_follows_paired_reverse",
               "verdict with paired %s, without %s", report_verdict_name(v),
               report_verdict_name(b1_verdict(db, 0, NULL, NULL)));
    snprintf(out, sizeof out, "%.1800s/unpaired_a", dir);
    md = paired_report(db, out);
    snprintf(bold, sizeof bold, "| **%.2f** [", fid[1]);
    TEST_CHECK(md && !strstr(md, bold) && strstr(md, "vs DDIM-10: not resolved"), "report_unmarked_by_paired",
               "REPORT.md marks the FID the paired interval does not resolve");
    free(md);

    // Features that do not give back the stored fid are not paired.
    snprintf(db, sizeof db, "%.1800s/mismatch.db", dir);
    paired_fixture(db, 1, 0, fid);
    sqlite3 *s;
    sqlite3_open(db, &s);
    fx_exec(s, "UPDATE metrics SET value = value * (1 + 1e-7) WHERE name = 'fid' AND run_id = 2");
    sqlite3_close(s);
    ReportData d;
    LzError err;
    int ok = report_db_load(&d, db, &err) == 0;
    TEST_CHECK(ok && d.n_features == 1 && d.n_features_mismatch == 1 && !report_paired_fid(&d, 0, 1).ok,
               "paired_needs_matching_features", "features %d, mismatched %d", ok ? d.n_features : -1,
               ok ? d.n_features_mismatch : -1);
    if (ok) report_db_free(&d);
}

static void test_paper_csv(void) {
    PaperRow *rows;
    int n;
    LzError err;
    int rc = paper_rows_load(NULL, &rows, &n, &err);
    int t5 = 0;
    double fid20 = NAN;
    for (int i = 0; !rc && i < n; i++) {
        t5 += !strcmp(rows[i].table, "T5") && !strcmp(rows[i].model, "DiT-XL/2 256×256");
        if (!strcmp(rows[i].model, "DiT-XL/2 256×256") && !strcmp(rows[i].method, "lazydit") && rows[i].steps == 20 &&
            rows[i].lazy_ratio == 0.5)
            fid20 = rows[i].fid;
    }
    TEST_CHECK(!rc && n == 89 && t5 == 29 && fid20 == 6.75, "paper_table_builtin", "rc %d, %d rows, %d T5 DiT-XL/2 256 rows, FID(20 @ 0.5) %g",
               rc, n, t5, fid20);
    if (!rc) free(rows);
    rc = paper_rows_parse("table,model,method,steps,lazy_ratio,fid,sfid,is,precision,recall\nT5,m,ddim,x,,1,2,3,4,5\n",
                          "t.csv", &rows, &n, &err);
    TEST_CHECK(rc && strstr(err.msg, "t.csv: line 2"), "paper_table_bad_row", "rc %d: %.300s", rc, err.msg);
    rc = paper_rows_parse("table,model\n", "t.csv", &rows, &n, &err);
    TEST_CHECK(rc && strstr(err.msg, "header"), "paper_table_bad_header", "rc %d: %.300s", rc, err.msg);
}

static void test_units(void) {
    TEST_CHECK(report_equal_budget_steps(20, 0.5) == 10 && report_equal_budget_steps(20, 0.475) == 11 &&
                   report_equal_budget_steps(50, 0.3) == 35 && report_equal_budget_steps(10, 0.46) == 5 &&
                   report_equal_budget_steps(10, 0.95) == 1,
               "equal_budget_rounding", "K = round(S (1 - r)), halves up, at least 1");
    ReportMetric a = {1, 20, 19, 21, 500}, b = {1, 23, 21.5, 24.5, 500}, c = {1, 22, 20.5, 23.5, 500};
    ReportMetric none = {1, 22, NAN, NAN, 500};
    TEST_CHECK(report_compare(&a, &b, 0) == CMP_A_BETTER && report_compare(&a, &b, 1) == CMP_B_BETTER &&
                   report_compare(&a, &c, 0) == CMP_UNRESOLVED && report_compare(&a, &none, 0) == CMP_MISSING,
               "compare_by_intervals", "separated / overlapping / missing intervals");
    double x[] = {0, 1, 2, 3}, y[] = {1, 3, 5, 7};
    TEST_CHECK(fabs(report_slope(x, y, 4) - 2) < 1e-12, "slope", "%g", report_slope(x, y, 4));
    double v[] = {5, 1, 4, 2};
    TEST_CHECK(report_median(v, 4) == 3, "median_even", "%g", report_median(v, 4));
}

// The linear probe on hand-made runs: an exactly linear similarity is
// predicted on held-out runs with R^2 = 1, an unrelated one with R^2 <= 0.
static void test_probe(void) {
    enum { RUNS = 3, L = 2, S = 6 };
    ReportRun runs[RUNS];
    ReportSlot slots[RUNS][2 * L * S];
    ReportData d;
    memset(&d, 0, sizeof d);
    memset(runs, 0, sizeof runs);
    d.runs = runs;
    d.n_runs = RUNS;
    for (int pass = 0; pass < 2; pass++) {
        unsigned u = 12345;
        for (int i = 0; i < RUNS; i++) {
            runs[i] = (ReportRun){.steps = S, .depth = L, .slots = slots[i], .full_compute = 1, .has_similarity = 1};
            for (int m = 0; m < 2; m++)
                for (int l = 0; l < L; l++)
                    for (int t = 0; t < S; t++) {
                        ReportSlot *x = &slots[i][(m * L + l) * S + t];
                        memset(x, 0, sizeof *x);
                        x->module = m, x->layer = l, x->step = t;
                        u = u * 1103515245u + 12345u;
                        double zr = (u >> 8) / 16777216.0;
                        u = u * 1103515245u + 12345u;
                        double z = 10 * (u >> 8) / 16777216.0;
                        u = u * 1103515245u + 12345u;
                        double noise = (u >> 8) / 16777216.0;
                        x->z_rel_dist = zr, x->z_dist = z;
                        x->cos_mean = t == 0 ? NAN : pass == 0 ? 0.9 - 0.05 * zr + 0.002 * z : 0.9 + 0.05 * noise;
                    }
        }
        ReportProbe p;
        report_probe(&d, &p);
        if (pass == 0)
            TEST_CHECK(p.n_runs == RUNS && p.n_points[0] == RUNS * L * (S - 1) && fabs(p.r2_heldout[0][0] - 1) < 1e-9 &&
                           fabs(p.r2_heldout[1][1] - 1) < 1e-9,
                       "probe_linear_heldout_r2_1", "runs %d points %ld R^2 %.12g / %.12g", p.n_runs, p.n_points[0],
                       p.r2_heldout[0][0], p.r2_heldout[1][1]);
        else
            TEST_CHECK(p.r2_heldout[0][0] <= 0.05 && p.r2_insample[0][0] < 0.5, "probe_unrelated_heldout_r2_low",
                       "held-out R^2 %.3g, in-sample %.3g for a similarity unrelated to z", p.r2_heldout[0][0],
                       p.r2_insample[0][0]);
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--fixture")) return fixture_build(argv[2]) ? 1 : 0;
    test_dir_make("report");
    test_units();
    test_probe();
    test_paper_csv();
    char db[2048], a[2048], b[2048], table[2048];
    snprintf(db, sizeof db, "%s", test_path("fixture.db"));
    snprintf(a, sizeof a, "%s", test_path("a"));
    snprintf(b, sizeof b, "%s", test_path("b"));
    snprintf(table, sizeof table, "%s", test_path("table.txt"));
    TEST_CHECK(fixture_build(db) == 0, "fixture_builds", "cannot build %.300s", db);
    FILE *tf = fopen(table, "w");
    TEST_CHECK(generate(db, a, 1, tf) == 0, "report_generates", "report_write failed");
    fclose(tf);
    test_files(a);
    char path[4096];
    snprintf(path, sizeof path, "%.1800s/REPORT.md", a);
    char *md = read_text(path);
    if (md) {
        test_numbers(db, md);
        test_pareto_data(a);
        char *tab = read_text(table);
        const char *start = md ? strstr(md, "| method | steps | lazy ratio | GMACs/sample |") : NULL;
        TEST_CHECK(tab && start && strstr(tab, "| method | steps |") &&
                       !strncmp(strstr(tab, "| method | steps |"), start, strlen(strstr(tab, "| method | steps |"))),
                   "report_main_table_printed", "the printed main table differs from REPORT.md's");
        free(tab);
    }
    TEST_CHECK(generate(db, b, 1, NULL) == 0, "report_regenerates", "second report_write failed");
    char why[512] = "";
    TEST_CHECK(dirs_identical(a, b, why, sizeof why), "report_byte_identical", "%s", why);
    test_claims(db);
    test_bound_rows(db);
    test_flips(test_dir);
    test_flip_in_report(test_dir, md);
    test_paired(test_dir);
    free(md);
    if (!getenv("TEST_KEEP")) test_dir_remove();
    else printf("# kept %s\n", test_dir);
    return test_finish();
}
