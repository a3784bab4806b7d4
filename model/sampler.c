// sampler.c: the sampling loop (see sampler.h for the semantics and the
// noise rules). Order of one chunk: labels, x_T, then per step: timesteps,
// callback BEGIN, model (plain or CFG), step noise, DDIM/DDPM update in place,
// callback END; finally the chunk's x_0 is copied out.
#include "model/sampler.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

SamplerOptions sampler_default_options(const DitConfig *c, int batch) {
    SamplerOptions o = {0};
    o.kind = SAMPLER_DDIM;
    o.eta = 0.0f;
    o.clip_denoised = 0;
    o.cfg_scale = 1.5f;
    o.guide_channels = 0;
    // create_diffusion(learn_sigma=True) -> learned range; learn_sigma=False
    // with the default sigma_small=False -> fixed large.
    o.var = c->learn_sigma ? DIFF_VAR_LEARNED_RANGE : DIFF_VAR_FIXED_LARGE;
    o.batch = batch;
    o.seed = 0;
    o.progress = 0;
    return o;
}

int sampler_init(Sampler *s, DitModel *m, const Diffusion *d, const SamplerOptions *opt, LzError *err) {
    memset(s, 0, sizeof *s);
    const DitConfig *c = &m->cfg;
    if (opt->batch < 1) return lz_fail(err, "sampler: batch %d must be >= 1", opt->batch);
    if (!isfinite(opt->cfg_scale)) return lz_fail(err, "sampler: cfg scale %g is not finite", (double)opt->cfg_scale);
    int use_cfg = opt->cfg_scale != 1.0f;
    int model_rows = use_cfg ? 2 * opt->batch : opt->batch;
    if (model_rows > m->max_batch)
        return lz_fail(err, "sampler: batch %d needs %d model rows%s but the model was built for %d", opt->batch,
                       model_rows, use_cfg ? " (doubled for guidance)" : "", m->max_batch);
    if (opt->kind != SAMPLER_DDIM && opt->kind != SAMPLER_DDPM)
        return lz_fail(err, "sampler: unknown sampler kind %d", (int)opt->kind);
    if (!(opt->eta >= 0) || !isfinite(opt->eta)) return lz_fail(err, "sampler: eta %g must be >= 0", (double)opt->eta);
    if (opt->sample_offset < 0) return lz_fail(err, "sampler: sample offset %ld must be >= 0", opt->sample_offset);
    if (opt->guide_channels < 0)
        return lz_fail(err, "sampler: guide_channels %d must be >= 0 (0 = default)", opt->guide_channels);
    if (opt->kind == SAMPLER_DDPM) {
        int learned = opt->var == DIFF_VAR_LEARNED_RANGE;
        if (learned != (c->learn_sigma != 0))
            return lz_fail(err, "sampler: DDPM %s variance on a model %s learn_sigma", learned ? "learned-range" : "fixed",
                           c->learn_sigma ? "with" : "without");
    }
    s->m = m;
    s->d = d;
    s->opt = *opt;
    s->C = c->in_channels;
    s->Cout = dit_out_channels(c);
    s->hw = (long)c->input_size * c->input_size;
    s->img = s->C * s->hw;
    s->max_rows = opt->batch;
    s->use_cfg = use_cfg;
    // The official sample.py guides channels [:3] of a 4-channel latent model;
    // for pixel models (1 or 3 channels) "3" would be wrong or all anyway.
    s->guide_channels = opt->guide_channels ? opt->guide_channels : (s->C == 4 ? 3 : s->C);
    s->needs_noise = opt->kind == SAMPLER_DDPM || opt->eta > 0;

    long b = opt->batch;
    size_t n_x = (size_t)(b * s->img), n_slice = n_x + 32, n_t = 2 * b;
    size_t bytes = sizeof(float) * (2 * n_x + n_slice + n_t) + sizeof(int) * (b + 2 * b) + sizeof(TorchRng) * b;
    // Generators first keeps them aligned for their uint64/double fields.
    char *p = lz_malloc(bytes, "sampler buffers");
    s->mem_ = p;
    s->rngs = (TorchRng *)p;
    p += sizeof(TorchRng) * b;
    s->x = (float *)p;
    p += sizeof(float) * n_x;
    s->noise = (float *)p;
    p += sizeof(float) * n_x;
    s->slice = (float *)p;
    p += sizeof(float) * n_slice;
    s->tvec = (float *)p;
    p += sizeof(float) * n_t;
    s->tidx = (int *)p;
    p += sizeof(int) * b;
    s->labels = (int *)p;
    lazy_runtime_init(&s->lazy, opt->policy, c, model_rows, d->num_steps);
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->mem_);
    if (s->lazy.mem_) lazy_runtime_free(&s->lazy);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------------------
// noise

static void skip_outputs(TorchRng *g, long k) {
    for (long i = 0; i < k; i++) (void)rng_u32(g);
}

// torch.randn(n) with n >= 16 first fills n uniforms (one engine output each),
// then Box-Muller transforms each complete 16-block in place, then (n % 16)
// draws 16 fresh uniforms into the last 16 slots. So element k depends only on
// its 16-block's uniforms (or on the tail window): a slice can be produced by
// skipping to its first block, drawing the covering blocks as one aligned
// randn call, and skipping the rest. n < 16 uses the scalar path, which also
// reads and writes the generator's cached normal: draw it whole.
void sampler_randn_slice(TorchRng *g, float *out, long n, long a, long len, float *scratch) {
    CHECK(a >= 0 && len >= 0 && a + len <= n, "randn slice [%ld, %ld) outside randn(%ld)", a, a + len, n);
    if (n < 16) {
        float all[16];
        rng_randn(g, all, n);
        memcpy(out, all + a, sizeof(float) * len);
        return;
    }
    long full = n / 16 * 16, end = a + len, pos = 0;
    if (len > 0 && a < full) {
        long a0 = a / 16 * 16, a1 = (end + 15) / 16 * 16;
        if (a1 > full) a1 = full;
        skip_outputs(g, a0);
        rng_randn(g, scratch, a1 - a0);  // a multiple of 16: no tail of its own
        long stop = end < a1 ? end : a1;
        memcpy(out, scratch + (a - a0), sizeof(float) * (stop - a));
        pos = a1;
    }
    skip_outputs(g, n - pos);
    if (n % 16) {
        if (len > 0 && end > n - 16) {
            float w[16];
            rng_randn(g, w, 16);
            for (long k = a > n - 16 ? a : n - 16; k < end; k++) out[k - a] = w[k - (n - 16)];
        } else {
            skip_outputs(g, 16);
        }
    }
}

void sampler_sample_noise(float *out, uint64_t seed, long first, long n, long img) {
    TorchRng g;
    for (long i = 0; i < n; i++) {
        rng_seed(&g, rng_sample_seed(seed, first + i));
        rng_randn(&g, out + i * img, img);
    }
}

void sampler_random_labels(int *labels, long N, uint64_t seed, int num_classes) {
    TorchRng g;
    rng_seed(&g, seed);
    // randint(0, K, (N,)) takes one engine output per element in order, so
    // element-wise calls consume the stream exactly like the batched call.
    for (long i = 0; i < N; i++) {
        int64_t v;
        rng_randint(&g, &v, 1, 0, num_classes);
        labels[i] = (int)v;
    }
}

// ---------------------------------------------------------------------------
// progress bar (stderr, terminals only)

typedef struct {
    int on;
    struct timespec start, last;
    long total;  // sample-steps of the run
} Progress;

static double seconds_between(struct timespec a, struct timespec b) {
    return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}

static void progress_update(Progress *p, long done, int step, int K, long samples_from, long samples_to, long N) {
    if (!p->on) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    // At most ~10 redraws a second, but always the final one.
    if (done < p->total && seconds_between(p->last, now) < 0.1) return;
    p->last = now;
    double el = seconds_between(p->start, now);
    double eta = done > 0 ? el * (double)(p->total - done) / (double)done : 0;
    char bar[31];
    int fill = (int)(30.0 * (double)done / (double)p->total);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    long e = (long)(eta + 0.5);
    fprintf(stderr, "\rsample [%s] step %d/%d samples %ld-%ld/%ld ETA %02ld:%02ld:%02ld ", bar, step, K, samples_from,
            samples_to, N, e / 3600, e / 60 % 60, e % 60);
    if (done >= p->total) fprintf(stderr, "(%.1fs)\n", el);
    fflush(stderr);
}

// ---------------------------------------------------------------------------
// the loop

int sampler_run(Sampler *s, float *out, const int *labels, long N, const float *noise, const DitHooks *hooks,
                SamplerCallback cb, void *cb_ctx, LzError *err) {
    DitModel *m = s->m;
    const Diffusion *d = s->d;
    const SamplerOptions *o = &s->opt;
    int K = d->num_steps, ncls = m->cfg.num_classes;
    if (N <= 0) return lz_fail(err, "sampler: number of samples %ld must be >= 1", N);
    for (long i = 0; i < N; i++)
        if (labels[i] < 0 || labels[i] >= ncls)
            return lz_fail(err, "sampler: label %d of sample %ld outside 0..%d", labels[i], i, ncls - 1);
    // The given-noise stream: torch.randn(R, C, H, W) per step, R = rows of the
    // official (doubled) batch; this chunk reads rows [i0, i0 + rows).
    long stream_rows = s->use_cfg ? 2 * N : N;
    lazy_account_reset(&s->lazy.acc);
    const DitHooks *chain = lazy_runtime_hooks(&s->lazy, hooks);

    Progress prog = {0};
    prog.on = o->progress && isatty(fileno(stderr));
    prog.total = N * K;
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    prog.last = prog.start;

    for (long i0 = 0; i0 < N; i0 += s->max_rows) {
        int rows = (int)(N - i0 < s->max_rows ? N - i0 : s->max_rows);
        int mrows = s->use_cfg ? 2 * rows : rows;
        for (int r = 0; r < rows; r++) {
            s->labels[r] = labels[i0 + r];
            if (s->use_cfg) s->labels[rows + r] = ncls;  // the null class row of the CFG half
        }
        // x_T, and the generators positioned for the first step's noise.
        if (noise) {
            memcpy(s->x, noise + i0 * s->img, sizeof(float) * rows * s->img);
            if (s->needs_noise) {
                rng_seed(&s->rngs[0], o->seed);
                sampler_randn_slice(&s->rngs[0], s->slice, N * s->img, 0, 0, s->slice);  // the draw of z itself
            }
        } else {
            for (int r = 0; r < rows; r++) {
                rng_seed(&s->rngs[r], rng_sample_seed(o->seed, o->sample_offset + i0 + r));
                rng_randn(&s->rngs[r], s->x + r * s->img, s->img);
            }
        }
        for (int step = 0; step < K; step++) {
            int t = K - 1 - step;
            // The model sees the original timestep (SpacedDiffusion's wrapper).
            for (int r = 0; r < mrows; r++) s->tvec[r] = (float)d->timestep_map[t];
            for (int r = 0; r < rows; r++) s->tidx[r] = t;
            SamplerStep info = {SAMPLER_STEP_BEGIN, step, K, t, d->timestep_map[t], i0, rows, mrows,
                                s->labels, s->x, NULL};
            if (cb) cb(cb_ctx, &info);
            DitStep dstep = {step, K, d->timestep_map[t], i0, rows, rows, mrows, s->labels};
            lazy_runtime_step_begin(&s->lazy, &dstep);

            const float *mo;
            if (s->use_cfg) {
                // Reads only x[:rows] and runs the doubled batch [x; x].
                mo = dit_forward_cfg(m, s->x, s->tvec, s->labels, mrows, o->cfg_scale, s->guide_channels, &dstep,
                                     chain);
            } else {
                dit_forward(m, s->x, s->tvec, s->labels, rows, &dstep, chain);
                mo = m->acts.out;
            }
            lazy_runtime_step_end(&s->lazy, &dstep);

            const float *nz = NULL;
            if (s->needs_noise) {
                if (noise) {
                    sampler_randn_slice(&s->rngs[0], s->noise, stream_rows * s->img, i0 * s->img, rows * s->img,
                                        s->slice);
                } else {
                    for (int r = 0; r < rows; r++) rng_randn(&s->rngs[r], s->noise + r * s->img, s->img);
                }
                nz = s->noise;
            }
            // The first `rows` rows of the model output belong to x (the
            // conditional half under guidance); the update is in place.
            if (o->kind == SAMPLER_DDIM)
                diffusion_ddim_step(s->x, NULL, s->x, mo, nz, s->tidx, d, o->eta, o->clip_denoised, rows, s->C,
                                    s->Cout, s->hw);
            else
                diffusion_ddpm_step(s->x, NULL, s->x, mo, nz, s->tidx, d, o->var, o->clip_denoised, rows, s->C,
                                    s->Cout, s->hw);

            info.phase = SAMPLER_STEP_END;
            info.model_out = mo;
            if (cb) cb(cb_ctx, &info);
            progress_update(&prog, i0 * K + (long)rows * (step + 1), step + 1, K, i0, i0 + rows, N);
        }
        memcpy(out + i0 * s->img, s->x, sizeof(float) * rows * s->img);
    }
    return 0;
}
