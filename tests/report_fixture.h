// report_fixture.h: a small result database for the report tests, built with
// analysis/schema.sql (read from the repository, so the fixture follows the
// schema) and synthetic but plausible numbers: DDIM at 5..50 steps with
// FID-proxy near the default model's (45.6 at 5, 26.6 at 10, 21.3 at 20,
// 19.8 at 50), LazyDiT at 10/20/50 steps, a module ablation at 10 steps,
// FORA and random at 20 steps, full-compute similarity records at 10, 20 and
// 50 steps, and one failed and one running run. Every claim of the report
// holds on it; fixture_set_fid() changes a run's FID-proxy to flip one.
#pragma once
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE_DEPTH 6

static int fx_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "fixture: %s: %s\n", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

typedef struct {
    const char *name, *policy, *modules;
    int steps;
    double ratio;   // module ratio of the lazy module(s) (overall for "both")
    double fid;     // FID-proxy; the other metrics follow from it
    int record;     // write module_steps
    const char *status;
} FxRun;

// Per-layer profile of the lazy ratio (mean 1 over layers): attention lazier
// early, MLP lazier late (the paper's Figure 4 shape).
static double fx_profile(int module, int layer) {
    double x = (double)layer / (FIXTURE_DEPTH - 1);
    return module == 0 ? 1.25 - 0.5 * x : 0.75 + 0.5 * x;
}

// 1 - cos of a full-compute slot: larger at early steps, deeper layers, MLP, and fewer steps.
static double fx_eps(int module, int layer, int step, int steps) {
    return 0.004 * (module ? 1.5 : 1.0) * (1 + 0.2 * layer) * (1 + 3 * exp(-step / 3.0)) * (20.0 / steps);
}

static int fx_insert_run(sqlite3 *db, long id, const FxRun *r) {
    char policy_json[256];
    int lazy = strcmp(r->policy, "ddim") != 0;
    snprintf(policy_json, sizeof policy_json, "{\"name\":\"%s\",\"modules\":\"%s\"}", r->policy, r->modules);
    double ra = 0, rm = 0;
    if (lazy) {
        ra = strcmp(r->modules, "mlp") ? r->ratio : 0;
        rm = strcmp(r->modules, "attn") ? r->ratio : 0;
    }
    double overall = 0.5 * (ra + rm);
    double per_row = 5e6 + FIXTURE_DEPTH * (1.6e6 + (1 - ra) * 3.2e6 + (1 - rm) * 6.4e6);
    double n = 500;
    double macs_linear = n * 2 * r->steps * per_row, macs_all = macs_linear * 1.08;
    sqlite3_stmt *st;
    const char *sql =
        "INSERT INTO runs (run_id, experiment, name, model_sha256, policy, policy_json, steps, respacing, sampler, eta, "
        "cfg_scale, seed, n_samples, batch, git_rev, threads, blas_core, host, started_at, finished_at, status, wall_s, "
        "macs_all, macs_linear, lazy_ratio, lazy_ratio_attn, lazy_ratio_mlp, config_json) VALUES (:id, 'fixture', "
        ":name, :sha, :policy, :pj, :steps, :resp, 'ddim', 0, 1.5, 0, 500, 100, 'v0-fixture', 2, 'Zen, 2 threads', "
        "'fixture-host', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', :status, :wall, :macs_all, :macs_linear, "
        ":lr, :lra, :lrm, '{\"quantize\": true}')";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    char resp[16];
    snprintf(resp, sizeof resp, "%d", r->steps);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":id"), id);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":name"), r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":sha"),
                      "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":policy"), r->policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":pj"), policy_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":steps"), r->steps);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":resp"), resp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":status"), r->status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":wall"), 1 + 0.5 * r->steps * (1 - overall));
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":macs_all"), macs_all);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":macs_linear"), macs_linear);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":lr"), overall);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":lra"), ra);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":lrm"), rm);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return -1;
    if (strcmp(r->status, "done")) return 0;

    // Metrics: FID-proxy from the table, the rest derived from it. Intervals
    // where the runner computes them (FID, KID, class consistency).
    const char *msql = "INSERT INTO metrics (run_id, name, value, ci_low, ci_high, n) VALUES (?, ?, ?, ?, ?, 500)";
    if (sqlite3_prepare_v2(db, msql, -1, &st, NULL) != SQLITE_OK) return -1;
    struct {
        const char *name;
        double v, h;  // value, half width (h < 0: no interval)
    } ms[] = {
        {"fid", r->fid, 0.04 * r->fid},
        {"sfid", 0.6 * r->fid + 3, -1},
        {"is", 9.0 - 0.08 * r->fid, -1},
        {"precision", 0.85 - 0.004 * r->fid, -1},
        {"recall", 0.60 - 0.002 * r->fid, -1},
        {"class_consistency", 0.90 - 0.003 * r->fid, 0.015},
        {"kid", 0.0005 * r->fid, 0.0001 * r->fid},
    };
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, ms[k].name, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, ms[k].v);
        if (ms[k].h >= 0) {
            sqlite3_bind_double(st, 4, ms[k].v - ms[k].h);
            sqlite3_bind_double(st, 5, ms[k].v + ms[k].h);
        } else {
            sqlite3_bind_null(st, 4);
            sqlite3_bind_null(st, 5);
        }
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (!r->record) return 0;

    const char *ssql =
        "INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate, gate_mean, cos_mean, cos_min, "
        "cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz, bound_alpha, bound_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?)";
    const char *ssql_terms =
        "INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate, gate_mean, cos_mean, cos_min, "
        "cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz, bound_alpha, bound_value, bound_r, bound_c, bound_r2) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    // The bound's estimates exist in schemas that record them.
    int terms = sqlite3_prepare_v2(db, "SELECT bound_c FROM module_steps", -1, &st, NULL) == SQLITE_OK;
    if (terms) sqlite3_finalize(st);
    if (terms) ssql = ssql_terms;
    if (sqlite3_prepare_v2(db, ssql, -1, &st, NULL) != SQLITE_OK) return -1;
    int S = r->steps;
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < FIXTURE_DEPTH; l++)
            for (int t = 0; t < S; t++) {
                double mod_ratio = m == 0 ? ra : rm;
                double skip = t == 0 ? 0 : mod_ratio * S / (S - 1.0) * (strcmp(r->modules, "both") ? 1 : fx_profile(m, l));
                double eps = fx_eps(m, l, t, S) * (1 - skip);
                // A deterministic wiggle so that the probe's features are not an exact function of eps.
                double wig = 1 + 0.05 * sin(12.9898 * (t + 1) + 78.233 * (l + 1) + 37.719 * m);
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int(st, 2, t);
                sqlite3_bind_int(st, 3, 999 - t * 1000 / S);
                sqlite3_bind_int(st, 4, l);
                sqlite3_bind_text(st, 5, m ? "mlp" : "attn", -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 6, skip);
                if (lazy && strcmp(r->policy, "lazydit") == 0)
                    sqlite3_bind_double(st, 7, 0.3 + 0.4 * skip);
                else
                    sqlite3_bind_null(st, 7);
                if (t == 0) {
                    for (int c = 8; c <= (terms ? 19 : 16); c++) sqlite3_bind_null(st, c);
                } else {
                    double alpha = m == 0 ? 1e4 * (1 + l) : (l < 3 ? 2.5 * fx_eps(m, l, t, S) : 50.0);
                    sqlite3_bind_double(st, 8, 1 - eps);
                    sqlite3_bind_double(st, 9, 1 - 3 * eps);
                    sqlite3_bind_double(st, 10, 1 - 2 * eps);
                    sqlite3_bind_double(st, 11, sqrt(2 * eps));
                    sqlite3_bind_double(st, 12, 40 * eps * wig + 0.5);
                    sqlite3_bind_double(st, 13, 2 * eps * wig);
                    sqlite3_bind_double(st, 14, 0.5 + 0.1 * l + 0.2 * m);
                    sqlite3_bind_double(st, 15, alpha);
                    sqlite3_bind_double(st, 16, 1 - alpha);
                    if (terms) {
                        double R = 3 + 0.5 * l, r2 = 40 * eps * wig + 1;
                        sqlite3_bind_double(st, 17, R);
                        sqlite3_bind_double(st, 18, m ? R : 5 * R * R * R * R * 49 * 128);
                        sqlite3_bind_double(st, 19, r2);
                    }
                }
                rc = sqlite3_step(st);
                sqlite3_reset(st);
                if (rc != SQLITE_DONE) {
                    sqlite3_finalize(st);
                    return -1;
                }
            }
    sqlite3_finalize(st);
    return 0;
}

static const FxRun fixture_runs[] = {
    {"ddim-5", "ddim", "both", 5, 0, 45.6, 0, "done"},
    {"ddim-8", "ddim", "both", 8, 0, 31.0, 0, "done"},
    {"ddim-10", "ddim", "both", 10, 0, 26.6, 1, "done"},
    {"ddim-14", "ddim", "both", 14, 0, 23.5, 0, "done"},
    {"ddim-20", "ddim", "both", 20, 0, 21.3, 1, "done"},
    {"ddim-25", "ddim", "both", 25, 0, 20.6, 0, "done"},
    {"ddim-50", "ddim", "both", 50, 0, 19.8, 1, "done"},
    {"lazydit-10-50", "lazydit", "both", 10, 0.5, 30.0, 1, "done"},
    {"lazydit-20-30", "lazydit", "both", 20, 0.3, 21.9, 1, "done"},
    {"lazydit-20-50", "lazydit", "both", 20, 0.5, 22.4, 1, "done"},
    {"lazydit-50-20", "lazydit", "both", 50, 0.2, 19.9, 1, "done"},
    {"lazydit-50-50", "lazydit", "both", 50, 0.5, 20.3, 1, "done"},
    {"abl-attn-10", "lazydit", "attn", 10, 0.1, 26.7, 0, "done"},
    {"abl-attn-20", "lazydit", "attn", 10, 0.2, 27.0, 0, "done"},
    {"abl-attn-30", "lazydit", "attn", 10, 0.3, 27.5, 0, "done"},
    {"abl-attn-40", "lazydit", "attn", 10, 0.4, 31.5, 0, "done"},
    {"abl-attn-50", "lazydit", "attn", 10, 0.5, 35.0, 0, "done"},
    {"abl-mlp-10", "lazydit", "mlp", 10, 0.1, 27.0, 0, "done"},
    {"abl-mlp-20", "lazydit", "mlp", 10, 0.2, 28.0, 0, "done"},
    {"abl-mlp-30", "lazydit", "mlp", 10, 0.3, 31.5, 0, "done"},
    {"abl-mlp-40", "lazydit", "mlp", 10, 0.4, 36.0, 0, "done"},
    {"abl-mlp-50", "lazydit", "mlp", 10, 0.5, 42.0, 0, "done"},
    {"abl-both-10", "lazydit", "both", 10, 0.1, 26.8, 0, "done"},
    {"abl-both-20", "lazydit", "both", 10, 0.2, 27.2, 0, "done"},
    {"fora-20-50", "fora", "both", 20, 0.5, 25.0, 0, "done"},
    {"random-20-50", "random", "both", 20, 0.5, 29.0, 0, "done"},
    {"random-20-30", "random", "both", 20, 0.3, 24.0, 0, "failed"},
    {"lazydit-20-40", "lazydit", "both", 20, 0.4, 22.0, 0, "running"},
};
#define FIXTURE_N_RUNS ((int)(sizeof fixture_runs / sizeof fixture_runs[0]))

// Builds the fixture at db_path (which must not exist). 0 on success.
static int fixture_build(const char *db_path) {
    FILE *f = fopen("analysis/schema.sql", "rb");
    if (!f) {
        fprintf(stderr, "fixture: run from the repository root (analysis/schema.sql not found)\n");
        return -1;
    }
    static char schema[1 << 16];
    size_t n = fread(schema, 1, sizeof schema - 1, f);
    fclose(f);
    schema[n] = 0;
    sqlite3 *db;
    if (sqlite3_open(db_path, &db) != SQLITE_OK) return -1;
    int rc = fx_exec(db, schema) || fx_exec(db, "BEGIN") ||
             fx_exec(db, "INSERT INTO meta (key, value) VALUES ('schema_version', '1'), ('experiment', 'fixture'), "
                         "('config_sha256', '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')");
    for (int i = 0; i < FIXTURE_N_RUNS && !rc; i++) rc = fx_insert_run(db, 101 + i, &fixture_runs[i]);
    rc = rc || fx_exec(db, "COMMIT");
    sqlite3_close(db);
    return rc ? -1 : 0;
}

// Sets the FID-proxy (and its interval, +-4%) of the run named `name`.
static int fixture_set_fid(const char *db_path, const char *name, double fid) {
    sqlite3 *db;
    if (sqlite3_open(db_path, &db) != SQLITE_OK) return -1;
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE metrics SET value = %.17g, ci_low = %.17g, ci_high = %.17g WHERE name = 'fid' AND run_id = "
             "(SELECT run_id FROM runs WHERE name = '%s')",
             fid, 0.96 * fid, 1.04 * fid, name);
    int rc = fx_exec(db, sql);
    int changed = sqlite3_changes(db);
    sqlite3_close(db);
    return rc || changed != 1 ? -1 : 0;
}
