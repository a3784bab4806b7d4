// recorder.c: the similarity recorder (see recorder.h). Order inside one
// module's fill: the rows' passes (parallel over rows: each row touches only
// its own previous values and result slot), then the serial aggregation into
// the run-wide accumulators in view-row order, so sums do not depend on the
// thread count.
#include "analysis/recorder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/clock.h"
#include "model/base/parallel.h"

static long slot(const Recorder *r, int layer, int module, int row) {
    return ((long)layer * 2 + module) * r->max_rows + row;
}
static long agg_index(const Recorder *r, int step, int layer, int module) {
    return ((long)step * r->L + layer) * 2 + module;
}

int recorder_init(Recorder *r, const DitModel *m, const long *timesteps, int K, int max_rows, long n_samples,
                  int use_cfg, const WeightNorms *wn, const RecorderOptions *opt, LzError *err) {
    memset(r, 0, sizeof *r);
    const DitConfig *c = &m->cfg;
    CHECK(K > 0 && max_rows > 0 && n_samples > 0, "recorder_init: K %d, max_rows %d, n_samples %ld", K, max_rows,
          n_samples);
    r->cfg = *c;
    r->L = c->depth;
    r->T = dit_tokens(c);
    r->D = c->hidden;
    r->K = K;
    r->max_rows = max_rows;
    r->use_cfg = use_cfg != 0;
    r->n_samples = n_samples;
    r->run_rows = n_samples * (use_cfg ? 2 : 1);
    r->opt = *opt;
    long cells = (long)K * r->L * 2;
    if ((double)cells * (double)r->run_rows > 134217728.0)
        return lz_fail(err, "recorder: %ld samples x %d steps x %d layers is too many per-row similarities to keep "
                            "for the percentile; record fewer samples per run",
                       n_samples, K, r->L);
    long slots = (long)r->L * 2 * max_rows, row = (long)r->T * r->D;
    // 8-byte families first, then floats.
    size_t bytes = sizeof(long) * (size_t)K + sizeof(RecAgg) * (size_t)cells + sizeof(RecRow) * (size_t)slots +
                   sizeof(double) * (size_t)r->run_rows * (1 + (size_t)cells) + sizeof(float) * (size_t)slots * row * 2;
    char *p = lz_malloc(bytes, "recorder buffers");
    r->mem_ = p;
    r->timesteps = (long *)p;
    p += sizeof(long) * K;
    r->agg = (RecAgg *)p;
    p += sizeof(RecAgg) * cells;
    r->now = (RecRow *)p;
    p += sizeof(RecRow) * slots;
    r->scratch = (double *)p;
    p += sizeof(double) * r->run_rows;
    r->row_cos = (double *)p;
    p += sizeof(double) * r->run_rows * cells;
    r->prev_y = (float *)p;
    r->prev_z = r->prev_y + slots * row;
    memcpy(r->timesteps, timesteps, sizeof(long) * K);
    if (wn) r->wn = *wn;
    else sim_bound_weight_norms(&r->wn, m);
    recorder_reset(r);
    return 0;
}

void recorder_reset(Recorder *r) {
    long cells = (long)r->K * r->L * 2, slots = (long)r->L * 2 * r->max_rows;
    for (long i = 0; i < cells; i++) {
        memset(&r->agg[i], 0, sizeof r->agg[i]);
        r->agg[i].cos_min = INFINITY;
    }
    for (long i = 0; i < slots; i++) r->now[i].step = -1;
    for (long i = 0; i < cells * r->run_rows; i++) r->row_cos[i] = NAN;
    r->failed = 0;
    r->t_fill = r->t_step = 0;
}

void recorder_free(Recorder *r) {
    if (r->ins_row) sqlite3_finalize(r->ins_row);
    free(r->mem_);
    memset(r, 0, sizeof *r);
}

// The per-row pass of view rows [b0, b1).
static void row_job(void *ctx, long b0, long b1) {
    Recorder *r = ctx;
    const DitModuleView *v = r->view;
    const DitStep *st = v->step;
    long n = (long)r->T * r->D;
    for (long b = b0; b < b1; b++) {
        int mr = v->row_ids[b];
        long k = slot(r, v->layer, v->module, mr);
        RecRow *now = &r->now[k];
        const float *y = v->y + b * n, *z = v->z + b * n;
        float *py = r->prev_y + k * n, *pz = r->prev_z + k * n;
        // A previous value exists if this row was seen earlier in the same
        // chunk (a chunk starts at step 0 and every row runs then).
        int has_prev = st->step > 0 && now->step >= 0 && now->step < st->step;
        if (has_prev) {
            SimSums s;
            sim_row_update(&s, y, py, z, pz, n);
            now->sim = sim_row_finish(&s);
        } else {
            sim_row_store(y, py, z, pz, n);
        }
        now->has_prev = (unsigned char)has_prev;
        now->step = st->step;
        now->skipped = v->skip[b];
        now->score = v->score[b];
    }
}

static void rec_fill(void *ctx, DitModuleView *v) {
    Recorder *r = ctx;
    const DitStep *st = v->step;
    if (!st || st->step < 0) return;
    CHECK(st->step < r->K && v->B <= r->max_rows && st->first_sample + st->rows <= r->n_samples,
          "recorder: step %d of %d, %d rows (built for %d), samples up to %ld of %ld", st->step, r->K, v->B,
          r->max_rows, st->first_sample + st->rows, r->n_samples);
    double t0 = lz_now_seconds();
    if (st->step == 0)  // a new chunk: forget the previous chunk's rows
        for (int b = 0; b < r->max_rows; b++) r->now[slot(r, v->layer, v->module, b)].step = -1;
    r->view = v;
    parallel_for(v->B, 1, row_job, r);
    RecAgg *a = &r->agg[agg_index(r, st->step, v->layer, v->module)];
    double *row_cos = r->row_cos + agg_index(r, st->step, v->layer, v->module) * r->run_rows;
    for (int b = 0; b < v->B; b++) {
        int mr = v->row_ids[b];
        const RecRow *now = &r->now[slot(r, v->layer, v->module, mr)];
        if (!now->has_prev) continue;
        const SimRow *s = &now->sim;
        long run_row = (mr >= st->cond_rows ? r->n_samples : 0) + st->first_sample + mr % st->rows;
        a->n++;
        a->zd_sum += s->z_dist;
        a->r2_max = fmax(a->r2_max, s->z_dist);
        a->zin_max = fmax(a->zin_max, fmax(s->z_norm, s->z_prev_norm));
        if (!isnan(s->cos)) {
            a->cos_sum += s->cos;
            a->cos_min = fmin(a->cos_min, s->cos);
            a->n_cos++;
            row_cos[run_row] = s->cos;
        }
        if (!isnan(s->rel_l2)) a->rel_sum += s->rel_l2, a->n_rel++;
        if (!isnan(s->z_rel_dist)) a->zr_sum += s->z_rel_dist, a->n_zr++;
        if (!isnan(s->lipschitz)) a->lip_sum += s->lipschitz, a->n_lip++;
    }
    r->t_fill += lz_now_seconds() - t0;
}

const DitHooks *recorder_hooks(Recorder *r) {
    r->hooks = (DitHooks){.ctx = r, .fill = rec_fill};  // reads Z (its input distances)
    return &r->hooks;
}

// ---------------------------------------------------------------------------
// per-row records

int recorder_attach_db(Recorder *r, ResultDb *db, int64_t run_id, LzError *err) {
    r->db = db;
    r->run_id = run_id;
    if (!r->opt.rows) return 0;
    if (r->ins_row) sqlite3_finalize(r->ins_row);
    r->ins_row = rdb_prepare(db,
                             "INSERT INTO module_rows (run_id, sample, null_half, step, layer, module, skipped, score, "
                             "cos, rel_l2, z_dist, z_rel_dist, lipschitz) VALUES (:run_id, :sample, :null_half, :step, "
                             ":layer, :module, :skipped, :score, :cos, :rel_l2, :z_dist, :z_rel_dist, :lipschitz)",
                             err);
    return r->ins_row ? 0 : -1;
}

static int write_rows(Recorder *r, const SamplerStep *s) {
    LzError *err = &r->err;
    if (rdb_begin(r->db, err)) return -1;
    sqlite3_stmt *st = r->ins_row;
    for (int l = 0; l < r->L; l++)
        for (int m = 0; m < 2; m++)
            for (int mr = 0; mr < s->model_rows; mr++) {
                const RecRow *now = &r->now[slot(r, l, m, mr)];
                int seen = now->step == s->step;  // else the row bypassed the block stack
                rdb_bind_int64(st, ":run_id", r->run_id);
                rdb_bind_int64(st, ":sample", s->first_sample + mr % s->rows);
                rdb_bind_int64(st, ":null_half", mr >= s->rows);
                rdb_bind_int64(st, ":step", s->step);
                rdb_bind_int64(st, ":layer", l);
                rdb_bind_text(st, ":module", dit_module_name((DitModule)m));
                rdb_bind_int64(st, ":skipped", seen ? now->skipped : 1);
                rdb_bind_double(st, ":score", seen ? now->score : NAN);
                int cmp = seen && now->has_prev;
                rdb_bind_double(st, ":cos", cmp ? now->sim.cos : NAN);
                rdb_bind_double(st, ":rel_l2", cmp ? now->sim.rel_l2 : NAN);
                rdb_bind_double(st, ":z_dist", cmp ? now->sim.z_dist : NAN);
                rdb_bind_double(st, ":z_rel_dist", cmp ? now->sim.z_rel_dist : NAN);
                rdb_bind_double(st, ":lipschitz", cmp ? now->sim.lipschitz : NAN);
                if (rdb_step_done(r->db, st, "write module_rows", err)) {
                    rdb_rollback(r->db);
                    return -1;
                }
            }
    if (rdb_commit(r->db, err)) {
        rdb_rollback(r->db);
        return -1;
    }
    return 0;
}

void recorder_step(void *ctx, const SamplerStep *s) {
    Recorder *r = ctx;
    if (s->phase != SAMPLER_STEP_END || !r->opt.rows || !r->ins_row || r->failed) return;
    double t0 = lz_now_seconds();
    if (write_rows(r, s)) r->failed = 1;
    r->t_step += lz_now_seconds() - t0;
}

int recorder_error(const Recorder *r, LzError *err) {
    if (!r->failed) return 0;
    if (err) *err = r->err;
    return -1;
}

// ---------------------------------------------------------------------------
// aggregation

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ModuleStepRow recorder_module_step(Recorder *r, const LazyAccount *acc, int step, int layer, DitModule module) {
    ModuleStepRow o;
    memset(&o, 0, sizeof o);
    o.step = step;
    o.layer = layer;
    o.module = module;
    o.timestep = r->timesteps[step];
    long ai = lazy_account_index(acc, step, layer, module);
    o.skip_rate = acc->slots[ai] ? (double)acc->reused[ai] / (double)acc->slots[ai] : NAN;
    o.gate_mean = acc->score_n[ai] ? acc->score_sum[ai] / (double)acc->score_n[ai] : NAN;
    long k = agg_index(r, step, layer, module);
    const RecAgg *a = &r->agg[k];
    o.compared = a->n;
    o.cos_mean = a->n_cos ? a->cos_sum / (double)a->n_cos : NAN;
    o.cos_min = a->n_cos ? a->cos_min : NAN;
    o.rel_l2 = a->n_rel ? a->rel_sum / (double)a->n_rel : NAN;
    o.z_dist = a->n ? a->zd_sum / (double)a->n : NAN;
    o.z_rel_dist = a->n_zr ? a->zr_sum / (double)a->n_zr : NAN;
    o.lipschitz = a->n_lip ? a->lip_sum / (double)a->n_lip : NAN;
    // 5th percentile, nearest rank: the ceil(0.05 n)-th smallest cos.
    o.cos_p05 = NAN;
    if (a->n_cos) {
        const double *row_cos = r->row_cos + k * r->run_rows;
        long n = 0;
        for (long i = 0; i < r->run_rows; i++)
            if (!isnan(row_cos[i])) r->scratch[n++] = row_cos[i];
        CHECK(n == a->n_cos, "recorder: %ld stored similarities for %ld compared rows", n, a->n_cos);
        qsort(r->scratch, (size_t)n, sizeof(double), cmp_double);
        long rank = (long)ceil(0.05 * (double)n);
        o.cos_p05 = r->scratch[rank < 1 ? 0 : rank - 1];
    }
    if (a->n) {
        o.bound = sim_bound_terms(module, sim_bound_weight_r(&r->wn, layer, module), a->zin_max, a->r2_max, r->T, r->D);
    } else {
        o.bound = (BoundTerms){NAN, NAN, NAN, NAN, NAN};
    }
    return o;
}

int recorder_write(Recorder *r, ResultDb *db, int64_t run_id, const LazyAccount *acc, LzError *err) {
    CHECK(acc->K == r->K && acc->L == r->L, "recorder_write: account %dx%d, recorder %dx%d", acc->K, acc->L, r->K, r->L);
    sqlite3_stmt *st = rdb_prepare(
        db,
        "INSERT INTO module_steps (run_id, step, timestep, layer, module, skip_rate, gate_mean, cos_mean, cos_min, "
        "cos_p05, rel_l2, z_dist, z_rel_dist, lipschitz, bound_alpha, bound_value, bound_r, bound_c, bound_r2) "
        "VALUES (:run_id, :step, :timestep, :layer, :module, :skip_rate, :gate_mean, :cos_mean, :cos_min, :cos_p05, "
        ":rel_l2, :z_dist, :z_rel_dist, :lipschitz, :bound_alpha, :bound_value, :bound_r, :bound_c, :bound_r2)",
        err);
    if (!st) return -1;
    int rc = 0;
    for (int s = 0; s < r->K && !rc; s++)
        for (int l = 0; l < r->L && !rc; l++)
            for (int m = 0; m < 2 && !rc; m++) {
                ModuleStepRow o = recorder_module_step(r, acc, s, l, (DitModule)m);
                rdb_bind_int64(st, ":run_id", run_id);
                rdb_bind_int64(st, ":step", s);
                rdb_bind_int64(st, ":timestep", o.timestep);
                rdb_bind_int64(st, ":layer", l);
                rdb_bind_text(st, ":module", dit_module_name((DitModule)m));
                // skip_rate is NOT NULL: a step no row reached has no slots (0 of 0 reused)
                rdb_bind_double(st, ":skip_rate", isnan(o.skip_rate) ? 0.0 : o.skip_rate);
                rdb_bind_double(st, ":gate_mean", o.gate_mean);
                rdb_bind_double(st, ":cos_mean", o.cos_mean);
                rdb_bind_double(st, ":cos_min", o.cos_min);
                rdb_bind_double(st, ":cos_p05", o.cos_p05);
                rdb_bind_double(st, ":rel_l2", o.rel_l2);
                rdb_bind_double(st, ":z_dist", o.z_dist);
                rdb_bind_double(st, ":z_rel_dist", o.z_rel_dist);
                rdb_bind_double(st, ":lipschitz", o.lipschitz);
                rdb_bind_double(st, ":bound_alpha", o.bound.alpha);
                rdb_bind_double(st, ":bound_value", o.bound.value);
                rdb_bind_double(st, ":bound_r", o.bound.r);
                rdb_bind_double(st, ":bound_c", o.bound.c);
                rdb_bind_double(st, ":bound_r2", o.bound.r2);
                rc = rdb_step_done(db, st, "write module_steps", err);
            }
    sqlite3_finalize(st);
    if (rc) return -1;
    st = rdb_prepare(db,
                     "INSERT INTO weight_norms (run_id, layer, module, weight, spectral_norm, iterations) "
                     "VALUES (:run_id, :layer, :module, :weight, :spectral_norm, :iterations)",
                     err);
    if (!st) return -1;
    for (int l = 0; l < r->L && !rc; l++)
        for (int k = 0; k < WN_COUNT && !rc; k++) {
            rdb_bind_int64(st, ":run_id", run_id);
            rdb_bind_int64(st, ":layer", l);
            rdb_bind_text(st, ":module", dit_module_name(sim_bound_weight_module((WeightNormKind)k)));
            rdb_bind_text(st, ":weight", sim_bound_weight_name((WeightNormKind)k));
            rdb_bind_double(st, ":spectral_norm", r->wn.norm[l][k]);
            rdb_bind_int64(st, ":iterations", r->wn.iterations[l][k]);
            rc = rdb_step_done(db, st, "write weight_norms", err);
        }
    sqlite3_finalize(st);
    return rc ? -1 : 0;
}
