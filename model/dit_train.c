#include "model/dit_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/prng.h"
#include "model/io/file_rules.h"
#include "model/io/safetensors.h"

void dit_trainer_init(DitTrainer *tr, const DitConfig *cfg, float *params, const DitTrainHyper *hp, long ndata) {
    memset(tr, 0, sizeof *tr);
    CHECK(hp->batch > 0 && ndata >= hp->batch, "trainer: batch %d needs at least that many images (have %ld)",
          hp->batch, ndata);
    tr->hp = *hp;
    LzError err;
    CHECK(diffusion_schedule_resolve(&tr->hp.schedule, "trainer", &err) == 0, "%s", err.msg);
    dit_build(&tr->model, cfg, params, hp->batch, 1);
    dit_grads_build(&tr->grads, &tr->model, 1);
    CHECK(diffusion_create_for(&tr->diffusion, &tr->hp.schedule, "", &err) == 0, "trainer: %s", err.msg);
    dit_tensor_table_build(&tr->table, cfg);
    long P = dit_param_count(cfg);
    tr->opt_memory = lz_calloc(3 * P, sizeof(float), "AdamW moments and EMA");
    tr->adam_m = tr->opt_memory;
    tr->adam_v = tr->opt_memory + P;
    tr->ema = tr->opt_memory + 2 * P;
    memcpy(tr->ema, params, sizeof(float) * P);
    long B = hp->batch, img = (long)cfg->in_channels * cfg->input_size * cfg->input_size;
    long out = (long)dit_out_channels(cfg) * cfg->input_size * cfg->input_size;
    tr->x0 = lz_malloc(sizeof(float) * B * img, "batch x0");
    tr->noise = lz_malloc(sizeof(float) * B * img, "batch noise");
    tr->xt = lz_malloc(sizeof(float) * B * img, "batch x_t");
    tr->tf = lz_malloc(sizeof(float) * B, "batch t");
    tr->dout = lz_malloc(sizeof(float) * B * out, "output gradient");
    tr->vb = lz_malloc(sizeof(float) * B, "vb terms");
    tr->dvar = lz_malloc(sizeof(float) * B * img, "vb gradient");
    tr->aug_scratch = lz_malloc(sizeof(float) * img, "augmentation scratch");
    tr->t = lz_malloc(sizeof(int) * B, "timesteps");
    tr->labels = lz_malloc(sizeof(int) * B, "labels");
    tr->order = lz_malloc(sizeof(long) * ndata, "epoch order");
    tr->order_epoch = -1;
    tr->ndata = ndata;
}

void dit_trainer_free(DitTrainer *tr) {
    dit_free(&tr->model);
    dit_grads_free(&tr->grads);
    diffusion_free(&tr->diffusion);
    dit_tensor_table_free(&tr->table);
    free(tr->opt_memory);
    free(tr->x0), free(tr->noise), free(tr->xt), free(tr->tf), free(tr->dout), free(tr->vb), free(tr->dvar);
    free(tr->aug_scratch), free(tr->t), free(tr->labels), free(tr->order);
    memset(tr, 0, sizeof *tr);
}

// Fills x0/labels with the step's batch: epoch e = step / batches_per_epoch
// (the last partial batch of an epoch is dropped), position inside the epoch's
// deterministic permutation.
static void draw_batch(DitTrainer *tr, const Dataset *ds) {
    int B = tr->hp.batch;
    long per_epoch = tr->ndata / B;
    CHECK(tr->step >= 0 && per_epoch > 0, "internal: trainer step %ld, %ld batches per epoch", tr->step, per_epoch);
    long epoch = tr->step / per_epoch, k = tr->step % per_epoch;
    if (epoch != tr->order_epoch) {
        dataset_epoch_order(tr->order, tr->ndata, tr->hp.seed, epoch);
        tr->order_epoch = epoch;
    }
    dataset_gather(ds, tr->order + k * B, B, tr->x0, tr->labels);
    if (tr->hp.max_shift > 0 || tr->hp.hflip)
        dataset_augment(tr->x0, B, ds->c, ds->h, ds->w, tr->hp.max_shift, tr->hp.hflip,
                        dataset_stream_seed(tr->hp.seed, 2, (uint64_t)tr->step), tr->aug_scratch);
}

void dit_trainer_step(DitTrainer *tr, const Dataset *ds) {
    DitModel *m = &tr->model;
    const DitConfig *c = &m->cfg;
    int B = tr->hp.batch, C = c->in_channels, Cout = dit_out_channels(c);
    long HW = (long)c->input_size * c->input_size, img = C * HW;
    CHECK(ds->n == tr->ndata, "trainer: dataset has %ld images, trainer was built for %ld", ds->n, tr->ndata);
    CHECK(ds->c == C && ds->h == c->input_size && ds->w == c->input_size,
          "trainer: dataset images are %dx%dx%d, the model expects %dx%dx%d", ds->c, ds->h, ds->w, C, c->input_size,
          c->input_size);
    draw_batch(tr, ds);

    // Timesteps, noise and label dropout from the step's own stream.
    Prng g;
    prng_seed(&g, dataset_stream_seed(tr->hp.seed, 3, (uint64_t)tr->step));
    for (int b = 0; b < B; b++) {
        tr->t[b] = (int)prng_below(&g, (uint64_t)tr->diffusion.num_steps);
        tr->tf[b] = (float)tr->t[b];
        CHECK(tr->labels[b] >= 0 && tr->labels[b] < c->num_classes, "trainer: label %d outside 0..%d",
              tr->labels[b], c->num_classes - 1);
        if (prng_uniform(&g) < tr->hp.class_dropout) tr->labels[b] = c->num_classes;
    }
    for (long i = 0; i < B * img; i++) tr->noise[i] = (float)prng_normal(&g);
    diffusion_q_sample(tr->xt, tr->x0, tr->noise, tr->t, &tr->diffusion, B, C, HW);

    dit_forward(m, tr->xt, tr->tf, tr->labels, B, NULL, NULL);
    const float *out = m->acts.out;  // (B, Cout, H, W): eps then (learn_sigma) var values

    // loss = mean_b [ mean_{c,p} (eps - eps_hat)^2 + vb_b ]
    double mse = 0, vbsum = 0;
    float inv = 1.0f / (float)(B * img);
    for (int b = 0; b < B; b++) {
        const float *eps_hat = out + (long)b * Cout * HW, *eps = tr->noise + (long)b * img;
        float *d = tr->dout + (long)b * Cout * HW;
        for (long i = 0; i < img; i++) {
            float diff = eps_hat[i] - eps[i];
            mse += (double)diff * diff;
            d[i] = 2.0f * diff * inv;
        }
    }
    mse /= (double)B * img;
    if (c->learn_sigma) {
        diffusion_vb_terms(tr->vb, tr->dvar, tr->x0, tr->xt, out, tr->t, &tr->diffusion, B, C, HW);
        for (int b = 0; b < B; b++) {
            vbsum += tr->vb[b];
            float *d = tr->dout + (long)b * Cout * HW + img;
            const float *dv = tr->dvar + (long)b * img;
            for (long i = 0; i < img; i++) d[i] = dv[i] / (float)B;
        }
    }
    tr->mse = mse;
    tr->vbterm = vbsum / B;
    tr->loss = tr->mse + tr->vbterm;

    dit_grads_zero_params(&tr->grads, m);
    dit_backward(m, &tr->grads, tr->dout, tr->labels, B, NULL);

    // Global gradient norm (trainable tensors), optional clipping.
    long P = dit_param_count(c);
    float *grad = tr->grads.params_memory;
    double norm2 = 0;
    for (int i = 0; i < tr->table.ntensors; i++) {
        const DitTensorInfo *e = &tr->table.tensors[i];
        if (!e->trainable) continue;
        for (long k = 0; k < e->count; k++) norm2 += (double)grad[e->offset + k] * grad[e->offset + k];
    }
    tr->grad_norm = sqrt(norm2);
    if (tr->hp.grad_clip > 0 && tr->grad_norm > tr->hp.grad_clip) {
        float s = (float)(tr->hp.grad_clip / (tr->grad_norm + 1e-6));
        for (long k = 0; k < P; k++) grad[k] *= s;
    }

    long t1 = tr->step + 1;
    LrSchedule sched = {tr->hp.lr, tr->hp.lr_warmup, LR_DECAY_NONE, 0};
    double lr = lr_schedule_at(&sched, tr->step);
    tr->lr_now = lr;
    AdamWConfig opt = {lr, 0.9, 0.999, 1e-8, tr->hp.weight_decay};
    for (int i = 0; i < tr->table.ntensors; i++) {
        const DitTensorInfo *e = &tr->table.tensors[i];
        if (!e->trainable) continue;  // pos_embed is a fixed buffer upstream
        long o = e->offset;
        adamw_update(m->params_memory + o, tr->adam_m + o, tr->adam_v + o, grad + o, e->count, &opt, t1);
    }
    double decay = tr->hp.ema_decay;
    if (tr->hp.ema_warmup) decay = fmin(decay, (1.0 + tr->step) / (10.0 + tr->step));
    ema_update(tr->ema, m->params_memory, P, decay);
    tr->step = t1;
}

// --- checkpoints ------------------------------------------------------------------

// "input 28 patch 4 ..." : the model shape a checkpoint was written for.
static void model_text(const DitConfig *c, char *buf, size_t cap) {
    snprintf(buf, cap, "input %d patch %d channels %d hidden %d depth %d heads %d classes %d sigma %d", c->input_size,
             c->patch, c->in_channels, c->hidden, c->depth, c->heads, c->num_classes, c->learn_sigma);
}

int dit_trainer_save(const DitTrainer *tr, const char *path, const char *config_text, LzError *err) {
    long P = dit_param_count(&tr->model.cfg);
    long shape[1] = {P};
    StWriteTensor w[4] = {
        {"params", 1, shape, tr->model.params_memory},
        {"ema", 1, shape, tr->ema},
        {"adam_m", 1, shape, tr->adam_m},
        {"adam_v", 1, shape, tr->adam_v},
    };
    char step[32], seed[32], heads[16], shape_text[160];
    const DitConfig *c = &tr->model.cfg;
    snprintf(step, sizeof step, "%ld", tr->step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)tr->hp.seed);
    snprintf(heads, sizeof heads, "%d", c->heads);
    model_text(c, shape_text, sizeof shape_text);
    char dsteps[16];
    diffusion_schedule_steps_text(&tr->hp.schedule, dsteps, sizeof dsteps);
    const char *keys[] = {"format", "step", "seed", "num_heads", "model", "rng", "train_config",
                          "diffusion_schedule", "diffusion_steps"};
    const char *values[] = {"lazydit-train-checkpoint", step, seed, heads, shape_text,
                            "stateless: every draw of step s comes from splitmix64(seed, stream, s)",
                            config_text ? config_text : "", tr->hp.schedule.name, dsteps};
    return st_write(path, w, 4, keys, values, 9, err);
}

int dit_trainer_load(DitTrainer *tr, const char *path, long max_step, LzError *err) {
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rc = -1;
    long P = dit_param_count(&tr->model.cfg);
    const char *fmt = st_meta(&f, "format"), *step = st_meta(&f, "step"), *seed = st_meta(&f, "seed");
    const char *model = st_meta(&f, "model");
    char want_model[160];
    model_text(&tr->model.cfg, want_model, sizeof want_model);
    long step_v = 0;
    uint64_t seed_v = 0;
    if (!fmt || strcmp(fmt, "lazydit-train-checkpoint") || !step || !seed) {
        lz_fail(err, "%s: not a lazydit training checkpoint (format/step/seed metadata missing)", path);
        goto done;
    }
    // Every number is parsed whole and in range: the step indexes the data order.
    if (lz_parse_long(step, 0, max_step, &step_v)) {
        lz_fail(err, "%s: checkpoint step \"%.40s\" is not an integer in 0..%ld (the run's steps); use --fresh or "
                "raise train.steps", path, step, max_step);
        goto done;
    }
    if (lz_parse_u64(seed, UINT64_MAX, &seed_v)) {
        lz_fail(err, "%s: checkpoint seed \"%.40s\" is not a non-negative integer", path, seed);
        goto done;
    }
    if (seed_v != tr->hp.seed) {
        lz_fail(err, "%s: checkpoint seed %s differs from the config seed %llu; resuming would change the run", path,
                seed, (unsigned long long)tr->hp.seed);
        goto done;
    }
    if (!model || strcmp(model, want_model)) {
        lz_fail(err, "%s: checkpoint model \"%.100s\" differs from the config's \"%s\"", path,
                model ? model : "(missing)", want_model);
        goto done;
    }
    DiffusionSchedule sched;
    if (diffusion_schedule_from_meta(&sched, st_meta(&f, "diffusion_schedule"), st_meta(&f, "diffusion_steps"), path,
                                     err))
        goto done;
    if (strcmp(sched.name, tr->hp.schedule.name) || sched.steps != tr->hp.schedule.steps) {
        lz_fail(err, "%s: checkpoint trained with the %s %d-step schedule, the config says %s %d; resuming would change "
                "the run", path, sched.name, sched.steps, tr->hp.schedule.name, tr->hp.schedule.steps);
        goto done;
    }
    const char *names[4] = {"params", "ema", "adam_m", "adam_v"};
    float *dst[4] = {tr->model.params_memory, tr->ema, tr->adam_m, tr->adam_v};
    for (int i = 0; i < 4; i++) {
        const StTensor *t = st_find(&f, names[i]);
        if (!t || t->ndim != 1 || t->count != P) {
            lz_fail(err, "%s: tensor %s missing or not (%ld,): the checkpoint is for another model shape", path,
                    names[i], P);
            goto done;
        }
        if (lz_check_finite(path, names[i], t->data, P, err)) goto done;
    }
    if (f.ntensors != 4) {
        lz_fail(err, "%s: %d tensors, a training checkpoint has exactly params, ema, adam_m and adam_v", path,
                f.ntensors);
        goto done;
    }
    const float *v = st_find(&f, "adam_v")->data;
    for (long k = 0; k < P; k++)
        if (v[k] < 0) {
            lz_fail(err, "%s: adam_v element %ld is negative (%g): second moments are squares", path, k, (double)v[k]);
            goto done;
        }
    for (int i = 0; i < 4; i++) memcpy(dst[i], st_find(&f, names[i])->data, sizeof(float) * P);
    tr->step = step_v;
    rc = 0;
done:
    st_free(&f);
    return rc;
}
