// lazy_train.c: LazyDiT gate and L2C router training on a frozen DiT (see
// lazy_train.h for the method and the gradients).
#include "model/lazy/lazy_train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/prng.h"
#include "model/io/file_rules.h"
#include "model/io/safetensors.h"
#include "model/optim.h"

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

void lazy_trainer_init(LazyTrainer *tr, const DitConfig *cfg, float *params, const LazyTrainHyper *hp, long ndata) {
    memset(tr, 0, sizeof *tr);
    CHECK(hp->batch > 0 && ndata >= hp->batch, "lazy trainer: batch %d needs at least that many images (have %ld)",
          hp->batch, ndata);
    CHECK(hp->steps >= 2, "lazy trainer: %d sampling steps: training needs at least 2 (a cache step and the next)",
          hp->steps);
    tr->hp = *hp;
    if (!tr->hp.respacing[0]) snprintf(tr->hp.respacing, sizeof tr->hp.respacing, "%d", hp->steps);
    dit_build(&tr->model, cfg, params, hp->batch, 1);
    dit_grads_build(&tr->grads, &tr->model, 0);
    LzError err;
    CHECK(diffusion_create_for(&tr->diffusion, &tr->hp.schedule, tr->hp.respacing, &err) == 0, "lazy trainer: %s",
          err.msg);
    CHECK(tr->diffusion.num_steps == hp->steps, "lazy trainer: respacing '%s' keeps %d steps, not %d",
          tr->hp.respacing, tr->diffusion.num_steps, hp->steps);
    tr->K = hp->steps;
    tr->L = cfg->depth;
    tr->T = dit_tokens(cfg);
    tr->D = cfg->hidden;
    tr->G = hp->kind == LAZY_TRAIN_ROUTER ? 1 : tr->D;
    gates_alloc(&tr->gates, hp->kind == LAZY_TRAIN_ROUTER ? GATES_L2C : GATES_LAZYDIT, tr->K, tr->L, tr->G);
    snprintf(tr->gates.respacing, sizeof tr->gates.respacing, "%s", tr->hp.respacing);
    tr->gates.rho_attn = hp->rho_attn;
    tr->gates.rho_mlp = hp->rho_mlp;

    long B = hp->batch, W = 2L * tr->K * tr->L * tr->G;
    long img = (long)cfg->in_channels * cfg->input_size * cfg->input_size;
    long out = (long)dit_out_channels(cfg) * cfg->input_size * cfg->input_size;
    long mods = (long)tr->L * 2 * B * tr->T * tr->D;
    tr->adam_m = lz_calloc((size_t)(2 * W + 2L * tr->L * tr->G), sizeof(float), "gate AdamW moments and gradient");
    tr->adam_v = tr->adam_m + W;
    tr->grad = tr->adam_v + W;
    tr->adam_t = lz_calloc((size_t)tr->K, sizeof(long), "gate AdamW step counts");
    float *f = lz_malloc(sizeof(float) * (size_t)(4 * B * img + B + 2 * B * out + 2 * mods + 2L * tr->L * B),
                         "lazy training buffers");
    tr->x0 = f, f += B * img;
    tr->noise = f, f += B * img;
    tr->xt = f, f += B * img;
    tr->xnext = f, f += B * img;
    tr->tf = f, f += B;
    tr->target = f, f += B * out;
    tr->dout = f, f += B * out;
    tr->cache = f, f += mods;
    tr->fz = f, f += mods;
    tr->score = f;
    tr->tidx = lz_malloc(sizeof(int) * 2 * B, "lazy training indices");
    tr->labels = tr->tidx + B;
    tr->order = lz_malloc(sizeof(long) * ndata, "epoch order");
    tr->order_epoch = -1;
    tr->ndata = ndata;
}

void lazy_trainer_free(LazyTrainer *tr) {
    dit_free(&tr->model);
    dit_grads_free(&tr->grads);
    diffusion_free(&tr->diffusion);
    gates_free(&tr->gates);
    free(tr->adam_m);
    free(tr->adam_t);
    free(tr->x0);  // the start of the one float allocation
    free(tr->tidx);
    free(tr->order);
    memset(tr, 0, sizeof *tr);
}

int lazy_train_draw_step(const LazyTrainHyper *hp, long iter) {
    Prng g;
    prng_seed(&g, dataset_stream_seed(hp->seed, 4, (uint64_t)iter));
    int K = hp->steps;
    if (hp->odd_steps_only || hp->kind == LAZY_TRAIN_ROUTER) {
        // The official draw: t = 2 * randint(0, K // 2) + 1 (respaced cache index).
        int t = 2 * (int)prng_below(&g, (uint64_t)(K / 2)) + 1;
        return K - t;
    }
    return 1 + (int)prng_below(&g, (uint64_t)(K - 1));
}

// The cache of layer l, module m: (B, T, D) rows of the batch.
static float *mod_slot(const LazyTrainer *tr, float *family, int l, int m) {
    return family + ((long)l * 2 + m) * tr->hp.batch * (long)tr->T * tr->D;
}

// Fill hook of the soft-lazy forward: y holds F(Z) of every row; keep it and
// blend with the cache.
static void train_fill(void *ctx, DitModuleView *v) {
    LazyTrainer *tr = ctx;
    int l = v->layer, m = v->module, B = v->B;
    long row = (long)tr->T * tr->D;
    float *F = mod_slot(tr, tr->fz, l, m), *C = mod_slot(tr, tr->cache, l, m);
    float *s = tr->score + ((long)l * 2 + m) * tr->hp.batch;
    memcpy(F, v->y, sizeof(float) * B * row);
    const float *w = gates_at(&tr->gates, m, tr->step, l);
    for (int b = 0; b < B; b++) {
        double acc = 0;
        if (tr->hp.kind == LAZY_TRAIN_ROUTER) {
            acc = w[0];
        } else {
            const float *z = v->z + b * row;
            for (int t = 0; t < tr->T; t++)
                for (int d = 0; d < tr->D; d++) acc += (double)z[(long)t * tr->D + d] * w[d];
        }
        float sb = (float)sigmoid(acc);
        s[b] = sb;
        float *y = v->y + b * row;
        const float *f = F + b * row, *c = C + b * row;
        for (long i = 0; i < row; i++) y[i] = (1.0f - sb) * f[i] + sb * c[i];
    }
}

// Backward of the blend (lazy_train.h): dy -> (1 - s) dy for the module, the
// gate gradient into tr->grad and the gate's share of dZ into dz.
static void train_module_grad(void *ctx, int layer, DitModule module, float *dy, float *dz, int B) {
    LazyTrainer *tr = ctx;
    int l = layer, m = module, T = tr->T, D = tr->D;
    long row = (long)T * D, MB = tr->model.max_batch;
    const float *F = mod_slot(tr, tr->fz, l, m), *C = mod_slot(tr, tr->cache, l, m);
    const float *s = tr->score + ((long)l * 2 + m) * tr->hp.batch;
    const float *Z = (m == DIT_ATTN ? tr->model.acts.z1 : tr->model.acts.z2) + (long)l * MB * row;  // (B, T, D)
    const float *w = gates_at(&tr->gates, m, tr->step, l);
    float *gw = tr->grad + ((long)m * tr->L + l) * tr->G;
    double rho = m == DIT_ATTN ? tr->hp.rho_attn : tr->hp.rho_mlp;
    for (int b = 0; b < B; b++) {
        float *g = dy + b * row;
        const float *f = F + b * row, *c = C + b * row;
        double ds = 0;
        for (long i = 0; i < row; i++) ds += (double)g[i] * ((double)c[i] - f[i]);
        ds -= rho / B;  // d/ds of rho * mean_b (1 - s_b)
        double sb = s[b];
        double glogit = ds * sb * (1.0 - sb);
        float keep = (float)(1.0 - sb);
        for (long i = 0; i < row; i++) g[i] *= keep;
        if (tr->hp.kind == LAZY_TRAIN_ROUTER) {
            gw[0] += (float)glogit;
            continue;
        }
        const float *z = Z + b * row;
        float *dzb = dz + b * row;
        for (int d = 0; d < D; d++) {
            double zsum = 0;
            for (int t = 0; t < T; t++) zsum += z[(long)t * D + d];
            gw[d] += (float)(glogit * zsum);
        }
        float gl = (float)glogit;
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) dzb[(long)t * D + d] += gl * w[d];
    }
}

static void draw_batch(LazyTrainer *tr, const Dataset *ds) {
    int B = tr->hp.batch;
    long per_epoch = tr->ndata / B;
    long epoch = tr->iter / per_epoch, k = tr->iter % per_epoch;
    if (epoch != tr->order_epoch) {
        dataset_epoch_order(tr->order, tr->ndata, tr->hp.seed, epoch);
        tr->order_epoch = epoch;
    }
    dataset_gather(ds, tr->order + k * B, B, tr->x0, tr->labels);
}

void lazy_trainer_loss(LazyTrainer *tr, const Dataset *ds, int backward) {
    DitModel *m = &tr->model;
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    int B = tr->hp.batch, C = c->in_channels, Cout = dit_out_channels(c), L = tr->L;
    long HW = (long)c->input_size * c->input_size, img = C * HW, out = Cout * HW;
    long row = (long)tr->T * tr->D, MB = m->max_batch;
    CHECK(ds->n == tr->ndata, "lazy trainer: dataset has %ld images, trainer was built for %ld", ds->n, tr->ndata);
    CHECK(ds->c == C && ds->h == c->input_size && ds->w == c->input_size,
          "lazy trainer: dataset images are %dx%dx%d, the model expects %dx%dx%d", ds->c, ds->h, ds->w, C,
          c->input_size, c->input_size);
    draw_batch(tr, ds);

    // The step, the label dropout mask and the noise of this iteration.
    tr->step = lazy_train_draw_step(&tr->hp, tr->iter);
    int t_cache = tr->K - tr->step, t_pred = t_cache - 1;
    Prng g;
    prng_seed(&g, dataset_stream_seed(tr->hp.seed, 3, (uint64_t)tr->iter));
    for (int b = 0; b < B; b++) {
        CHECK(tr->labels[b] >= 0 && tr->labels[b] < c->num_classes, "lazy trainer: label %d outside 0..%d",
              tr->labels[b], c->num_classes - 1);
        if (prng_uniform(&g) < tr->hp.class_dropout) tr->labels[b] = c->num_classes;
        tr->tidx[b] = t_cache;
    }
    for (long i = 0; i < B * img; i++) tr->noise[i] = (float)prng_normal(&g);
    diffusion_q_sample(tr->xt, tr->x0, tr->noise, tr->tidx, &tr->diffusion, B, C, HW);

    // Forward 1 (full) at the cache step: the cache, then x_next by DDIM.
    for (int b = 0; b < B; b++) tr->tf[b] = (float)tr->diffusion.timestep_map[t_cache];
    dit_forward(m, tr->xt, tr->tf, tr->labels, B, NULL, NULL);
    for (int l = 0; l < L; l++) {
        memcpy(mod_slot(tr, tr->cache, l, DIT_ATTN), a->y1 + l * MB * row, sizeof(float) * B * row);
        memcpy(mod_slot(tr, tr->cache, l, DIT_MLP), a->y2 + l * MB * row, sizeof(float) * B * row);
    }
    diffusion_ddim_step(tr->xnext, NULL, tr->xt, a->out, NULL, tr->tidx, &tr->diffusion, 0.0f, 0, B, C, Cout, HW);

    // Forward 2 (full) at the prediction step: the target.
    for (int b = 0; b < B; b++) tr->tf[b] = (float)tr->diffusion.timestep_map[t_pred];
    dit_forward(m, tr->xnext, tr->tf, tr->labels, B, NULL, NULL);
    memcpy(tr->target, a->out, sizeof(float) * B * out);

    // Forward 3 (soft-lazy) on the same input.
    DitHooks hooks = {.ctx = tr, .fill = train_fill};
    dit_forward(m, tr->xnext, tr->tf, tr->labels, B, NULL, &hooks);

    double mse = 0;
    float inv = 2.0f / (float)(B * out);
    for (long i = 0; i < B * out; i++) {
        float diff = a->out[i] - tr->target[i];
        mse += (double)diff * diff;
        tr->dout[i] = inv * diff;
    }
    tr->mse = mse / ((double)B * out);
    double lazy[2] = {0, 0}, ssum = 0;
    long hard = 0;
    for (int l = 0; l < L; l++)
        for (int mm = 0; mm < 2; mm++)
            for (int b = 0; b < B; b++) {
                double s = tr->score[((long)l * 2 + mm) * B + b];
                lazy[mm] += 1.0 - s;
                ssum += s;
                hard += s > 0.5;
            }
    tr->lazy_attn = lazy[0] / B;
    tr->lazy_mlp = lazy[1] / B;
    tr->loss = tr->mse + tr->hp.rho_attn * tr->lazy_attn + tr->hp.rho_mlp * tr->lazy_mlp;
    tr->soft_ratio = ssum / (2.0 * L * B);
    tr->hard_ratio = (double)hard / (2.0 * L * B);

    if (!backward) return;
    memset(tr->grad, 0, sizeof(float) * 2 * L * tr->G);
    DitBackwardHooks bh = {tr, train_module_grad};
    dit_backward(m, &tr->grads, tr->dout, tr->labels, B, &bh);
}

void lazy_trainer_step(LazyTrainer *tr, const Dataset *ds) {
    lazy_trainer_loss(tr, ds, 1);
    int L = tr->L;
    long t1 = ++tr->adam_t[tr->step];
    AdamWConfig opt = {tr->hp.lr, 0.9, 0.999, 1e-8, tr->hp.weight_decay};
    long n = (long)L * tr->G;
    for (int mm = 0; mm < 2; mm++) {
        float *w = gates_at(&tr->gates, mm, tr->step, 0);
        long off = w - tr->gates.w;
        adamw_update(w, tr->adam_m + off, tr->adam_v + off, tr->grad + mm * n, n, &opt, t1);
        if (tr->hp.clamp > 0)
            for (long i = 0; i < n; i++) w[i] = fmaxf(-(float)tr->hp.clamp, fminf((float)tr->hp.clamp, w[i]));
    }
    tr->iter++;
}

// --- checkpoints -------------------------------------------------------------

// Names the first key whose value differs between two option JSON objects.
static void options_diff(const char *a, const char *b, char *out, size_t cap) {
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    snprintf(out, cap, "(the option text differs)");
    if (ja && jb) {
        for (const cJSON *it = jb->child; it; it = it->next) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(ja, it->string);
            char *pa = other ? cJSON_PrintUnformatted(other) : NULL, *pb = cJSON_PrintUnformatted(it);
            int same = pa && pb && !strcmp(pa, pb);
            if (!same) snprintf(out, cap, "%s was %s, now %s", it->string, pa ? pa : "absent", pb ? pb : "?");
            cJSON_free(pa);
            cJSON_free(pb);
            if (!same) break;
        }
    }
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

int lazy_trainer_save(const LazyTrainer *tr, const char *path, const char *options_json, LzError *err) {
    long shape[4] = {2, tr->K, tr->L, tr->G}, tshape[1] = {tr->K};
    float *t = lz_malloc(sizeof(float) * tr->K, "AdamW counts");
    for (int i = 0; i < tr->K; i++) t[i] = (float)tr->adam_t[i];  // exact below 2^24 iterations
    StWriteTensor w[4] = {
        {"w", 4, shape, tr->gates.w},
        {"adam_m", 4, shape, tr->adam_m},
        {"adam_v", 4, shape, tr->adam_v},
        {"adam_t", 1, tshape, t},
    };
    char iter[32];
    snprintf(iter, sizeof iter, "%ld", tr->iter);
    const char *keys[] = {"format", "iteration", "options"};
    const char *values[] = {"lazydit-lazy-train-checkpoint", iter, options_json};
    int rc = st_write(path, w, 4, keys, values, 3, err);
    free(t);
    return rc;
}

int lazy_trainer_load(LazyTrainer *tr, const char *path, const char *options_json, LzError *err) {
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rc = -1;
    const char *fmt = st_meta(&f, "format"), *iter = st_meta(&f, "iteration"), *opts = st_meta(&f, "options");
    if (!fmt || strcmp(fmt, "lazydit-lazy-train-checkpoint") || !iter || !opts) {
        lz_fail(err, "%s: not a train-lazy/train-l2c checkpoint (format/iteration/options metadata missing)", path);
        goto done;
    }
    if (strcmp(opts, options_json)) {
        char diff[300];
        options_diff(opts, options_json, diff, sizeof diff);
        lz_fail(err, "%s: the checkpoint was made with other training options (%s); use --fresh or the same options",
                path, diff);
        goto done;
    }
    // Everything is validated before anything is restored (a negative
    // iteration indexed the epoch permutation out of bounds): exactly the four
    // tensors with their shapes, finite values, non-negative second moments,
    // whole AdamW counts that add up to the iteration (each iteration updates
    // one sampling step's weights).
    long it;
    if (lz_parse_long(iter, 0, LAZY_TRAIN_MAX_ITER, &it)) {
        lz_fail(err, "%s: checkpoint iteration \"%.40s\" is not an integer in [0, %ld]", path, iter,
                (long)LAZY_TRAIN_MAX_ITER);
        goto done;
    }
    long W = 2L * tr->K * tr->L * tr->G;
    const long shape[4] = {2, tr->K, tr->L, tr->G};
    const char *names[3] = {"w", "adam_m", "adam_v"};
    float *dst[3] = {tr->gates.w, tr->adam_m, tr->adam_v};
    const StTensor *src[3];
    for (int i = 0; i < 3; i++) {
        const StTensor *t = src[i] = st_find(&f, names[i]);
        int ok = t && t->ndim == 4;
        for (int k = 0; ok && k < 4; k++) ok = t->shape[k] == shape[k];
        if (!ok) {
            lz_fail(err, "%s: tensor %s missing or not (2, %d, %d, %d)", path, names[i], tr->K, tr->L, tr->G);
            goto done;
        }
        if (lz_check_finite(path, names[i], t->data, W, err)) goto done;
    }
    for (long k = 0; k < W; k++)
        if (src[2]->data[k] < 0) {
            lz_fail(err, "%s: adam_v element %ld is negative (%g): second moments are squares", path, k,
                    (double)src[2]->data[k]);
            goto done;
        }
    const StTensor *tt = st_find(&f, "adam_t");
    if (!tt || tt->ndim != 1 || tt->count != tr->K) {
        lz_fail(err, "%s: tensor adam_t missing or not (%d,)", path, tr->K);
        goto done;
    }
    if (f.ntensors != 4) {
        lz_fail(err, "%s: %d tensors, a train-lazy/train-l2c checkpoint holds w, adam_m, adam_v and adam_t", path,
                f.ntensors);
        goto done;
    }
    long total = 0;
    for (int i = 0; i < tr->K; i++) {
        float c = tt->data[i];
        if (!(c >= 0 && c <= (float)LAZY_TRAIN_MAX_ITER) || c != floorf(c)) {
            lz_fail(err, "%s: adam_t[%d] = %g is not a whole step count", path, i, (double)c);
            goto done;
        }
        total += (long)c;
    }
    if (total != it) {
        lz_fail(err, "%s: the AdamW step counts add up to %ld but the checkpoint is at iteration %ld", path, total, it);
        goto done;
    }
    for (int i = 0; i < 3; i++) memcpy(dst[i], src[i]->data, sizeof(float) * W);
    for (int i = 0; i < tr->K; i++) tr->adam_t[i] = (long)tt->data[i];
    tr->iter = it;
    rc = 0;
done:
    st_free(&f);
    return rc;
}
