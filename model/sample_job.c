// sample_job.c: one sampling run (see sample_job.h).
#include "model/sample_job.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/clock.h"
#include "model/base/sha256.h"
#include "model/io/atomic_file.h"

static int usage(LzError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(LzError *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return SAMPLE_JOB_USAGE;
}

void sample_job_policy_env(PolicyEnv *env, long *timesteps, const DitConfig *cfg, const Diffusion *d,
                           const char *respacing, int max_rows, const uint8_t *model_sha256, uint64_t seed) {
    int K = d->num_steps;
    for (int i = 0; i < K; i++) timesteps[i] = d->timestep_map[K - 1 - i];  // step i runs respaced index K-1-i
    *env = (PolicyEnv){cfg, K, timesteps, respacing, max_rows, model_sha256, seed};
}

// Options that need nothing but themselves: a CLI reports them as usage errors.
static int check_job(const SampleJob *j, LzError *err) {
    if (!j->weights) return usage(err, "no model: --weights is required");
    if (j->steps < 1) return usage(err, "--steps %d must be >= 1", j->steps);
    if (j->steps > DIFFUSION_MAX_STEPS) return usage(err, "--steps %d is too large", j->steps);
    if (j->n < 0) return usage(err, "--n %ld must be >= 1", j->n);
    if (j->n > 100000000) return usage(err, "--n %ld is too large", j->n);
    if (j->batch < 0) return usage(err, "--batch %d must be >= 1", j->batch);
    if (j->sampler != SAMPLER_DDIM && j->sampler != SAMPLER_DDPM) return usage(err, "unknown sampler kind %d", j->sampler);
    if (j->sampler != SAMPLER_DDIM && j->eta != 0) return usage(err, "--eta applies to --sampler ddim only");
    if (!(j->eta >= 0) || !isfinite(j->eta)) return usage(err, "--eta %g must be >= 0", j->eta);
    if (!isfinite(j->cfg_scale)) return usage(err, "--cfg-scale must be a finite number");
    if (j->guide_channels < SAMPLE_GUIDE_ALL) return usage(err, "--guide-channels %d must be >= 1", j->guide_channels);
    if (j->labels == SAMPLE_LABELS_GIVEN && !j->given_labels) return usage(err, "no labels given");
    if (j->sample_offset < 0) return usage(err, "sample offset %ld must be >= 0", j->sample_offset);
    return 0;
}

// Creates the policy (not yet initialised): from JSON, from CLI-style
// options, or ddim. Option errors are usage errors.
static int create_policy(Policy *p, const SampleJob *j, LzError *err) {
    int rc;
    if (j->policy_json) rc = policy_create_json(p, j->policy_json, j->policy_where ? j->policy_where : "policy", err);
    else rc = policy_create(p, j->policy ? j->policy : "ddim", j->modules, j->policy_args, j->n_policy_args, err);
    return rc ? SAMPLE_JOB_USAGE : 0;
}

int sample_job_prepare(SampleRun *r, const SampleJob *job, LzError *err) {
    memset(r, 0, sizeof *r);
    r->job = *job;
    const SampleJob *j = &r->job;
    int rc = check_job(j, err);
    if (rc) return rc;

    // N from the inputs.
    r->n = j->n ? j->n : j->noise ? j->noise_shape[0] : j->labels == SAMPLE_LABELS_GIVEN ? j->n_given : 0;
    if (r->n <= 0) return usage(err, "--n is required (or give --noise or --labels)");
    if (j->noise && j->noise_shape[0] != r->n)
        return lz_fail(err, "%s has %ld samples but --n is %ld", j->noise_name ? j->noise_name : "the noise",
                       j->noise_shape[0], r->n);
    if (j->labels == SAMPLE_LABELS_GIVEN && j->n_given != r->n)
        return lz_fail(err, "%s has %ld labels but N is %ld", j->labels_name ? j->labels_name : "the labels", j->n_given,
                       r->n);
    int batch = j->batch ? j->batch : (r->n < 32 ? (int)r->n : 32);
    if (batch > r->n) batch = (int)r->n;

    // The policy before the model: option errors come without loading anything.
    rc = create_policy(&r->policy, j, err);
    if (rc) return rc;

    // The model, built for the rows of one chunk (doubled under guidance), and
    // the schedule it was trained with (checkpoint metadata).
    int use_cfg = j->cfg_scale != 1.0;
    int max_rows = use_cfg ? 2 * batch : batch;
    DitConfig cfg;
    float *params = NULL;
    DiffusionSchedule sched;
    if (dit_load_with_schedule(j->weights, j->heads, &cfg, &params, &sched, err)) return -1;
    dit_build(&r->model, &cfg, params, max_rows, 0);
    const DitConfig *c = &r->model.cfg;
    int C = c->in_channels, S = c->input_size;

    // The process: respacing "K" unless given; a given respacing must agree with given steps.
    if (j->steps > sched.steps)
        return lz_fail(err, "--steps %d exceeds the %d-step diffusion schedule of %s", j->steps, sched.steps, j->weights);
    if (j->respacing && strlen(j->respacing) >= sizeof r->respacing)
        return usage(err, "--respacing '%.40s...' is too long", j->respacing);
    if (j->respacing) snprintf(r->respacing, sizeof r->respacing, "%s", j->respacing);
    else snprintf(r->respacing, sizeof r->respacing, "%d", j->steps);
    if (diffusion_create_for(&r->diffusion, &sched, r->respacing, err)) return SAMPLE_JOB_USAGE;
    r->num_steps = r->diffusion.num_steps;
    if (j->respacing && j->steps_given && r->num_steps != j->steps)
        return usage(err, "--respacing '%s' keeps %d steps but --steps is %d", j->respacing, r->num_steps, j->steps);

    if (j->noise && (j->noise_shape[1] != C || j->noise_shape[2] != S || j->noise_shape[3] != S))
        return lz_fail(err, "%s has shape (%ld, %ld, %ld, %ld) but %s expects (N, %d, %d, %d)",
                       j->noise_name ? j->noise_name : "the noise", j->noise_shape[0], j->noise_shape[1],
                       j->noise_shape[2], j->noise_shape[3], j->weights, C, S, S);

    // Labels.
    r->labels = lz_malloc(sizeof(int) * (size_t)r->n, "labels");
    for (long i = 0; i < r->n; i++) {
        long long v = j->labels == SAMPLE_LABELS_GIVEN ? j->given_labels[i]
                      : j->labels == SAMPLE_LABELS_CLASS ? j->label_class
                                                         : i % c->num_classes;
        if (v < 0 || v >= c->num_classes)
            return lz_fail(err, "label %lld%s%s at index %ld outside 0..%d of %s", v,
                           j->labels == SAMPLE_LABELS_GIVEN && j->labels_name ? " in " : "",
                           j->labels == SAMPLE_LABELS_GIVEN && j->labels_name ? j->labels_name : "", i,
                           c->num_classes - 1, j->weights);
        r->labels[i] = (int)v;
    }
    if (j->labels == SAMPLE_LABELS_RANDOM) sampler_random_labels(r->labels, r->n, j->seed, c->num_classes);

    // The policy's view of the run.
    if (sha256_file(j->weights, r->model_sha256, err)) return -1;
    r->timesteps = lz_malloc(sizeof(long) * (size_t)r->num_steps, "timesteps");
    PolicyEnv env;
    sample_job_policy_env(&env, r->timesteps, c, &r->diffusion, r->respacing, max_rows, r->model_sha256, j->seed);
    if (policy_init(&r->policy, &env, err)) return -1;

    SamplerOptions o = sampler_default_options(c, batch);
    o.kind = j->sampler;
    o.eta = (float)j->eta;
    o.clip_denoised = j->clip;
    o.cfg_scale = (float)j->cfg_scale;
    o.guide_channels = j->guide_channels == SAMPLE_GUIDE_ALL ? C : j->guide_channels;
    o.seed = j->seed;
    o.sample_offset = j->sample_offset;
    o.progress = j->progress;
    o.policy = &r->policy;
    if (sampler_init(&r->sampler, &r->model, &r->diffusion, &o, err)) return -1;
    r->ready = 1;
    return 0;
}

// The default runner: the job's own hooks and callback.
static int run_plain(void *ctx, Sampler *s, float *out, const int *labels, long n, const float *noise, LzError *err) {
    const SampleJob *j = ctx;
    return sampler_run(s, out, labels, n, noise, j->hooks, j->cb, j->cb_ctx, err);
}

int sample_job_run_with(SampleRun *r, SampleJobRunner runner, void *ctx, LzError *err) {
    CHECK(r->ready, "sample_job_run before a successful sample_job_prepare");
    const DitConfig *c = &r->model.cfg;
    long img = (long)c->in_channels * c->input_size * c->input_size;
    if (!r->samples) r->samples = lz_malloc(sizeof(float) * (size_t)(r->n * img), "samples");
    double t0 = lz_now_seconds();
    if (runner(ctx, &r->sampler, r->samples, r->labels, r->n, r->job.noise, err)) return -1;
    r->wall_seconds = lz_now_seconds() - t0;
    r->summary = lazy_account_summary(sampler_account(&r->sampler));
    return 0;
}

int sample_job_run(SampleRun *r, LzError *err) { return sample_job_run_with(r, run_plain, &r->job, err); }

void sample_job_free(SampleRun *r) {
    sampler_free(&r->sampler);
    if (r->policy.cls) policy_free(&r->policy);
    dit_free(&r->model);
    diffusion_free(&r->diffusion);
    free(r->labels);
    free(r->samples);
    free(r->timesteps);
    memset(r, 0, sizeof *r);
}

// --- the accounting ------------------------------------------------------------

static const char *si(double v, char *buf, size_t n) {
    const char *unit[] = {" ", " K", " M", " G", " T", " P"};
    int k = 0;
    while (fabs(v) >= 1000 && k < 5) v /= 1000, k++;
    snprintf(buf, n, "%.4g%s", v, unit[k]);
    return buf;
}

void sample_job_print_summary(const SampleRun *r, FILE *f) {
    const LazySummary *s = &r->summary;
    char a[32], b[32], fa[32], fb[32], ov[32];
    fprintf(f, "compute: %sMAC all matmuls, %sMAC linear+conv executed; full compute %sMAC / %sMAC (%.1f%% / %.1f%%); "
               "%ld model-row forwards%s, decision overhead %sMAC\n",
            si(s->macs_all, a, sizeof a), si(s->macs_linear, b, sizeof b), si(s->full_macs_all, fa, sizeof fa),
            si(s->full_macs_linear, fb, sizeof fb), 100 * s->macs_all / s->full_macs_all,
            100 * s->macs_linear / s->full_macs_linear, s->forward_rows,
            r->sampler.use_cfg ? " (CFG doubled)" : "", si(s->overhead_macs, ov, sizeof ov));
    fprintf(f, "lazy ratio: both %.4f, attn %.4f, mlp %.4f (%ld of %ld slots reused", s->lazy_ratio, s->lazy_ratio_attn,
            s->lazy_ratio_mlp, s->reused, s->slots);
    if (s->reused_executed) fprintf(f, ", %ld of them computed anyway", s->reused_executed);
    fprintf(f, ")\nequal-budget DDIM steps: K = %d x (1 - %.4f) = %.2f\n", r->num_steps, s->slots ? s->lazy_ratio : 0,
            s->equal_budget_steps);
}

static void add_ratio(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

int sample_job_write_summary(const SampleRun *r, const char *path, LzError *err) {
    const LazySummary *s = &r->summary;
    const SampleJob *j = &r->job;
    cJSON *o = cJSON_CreateObject();
    cJSON *pol = cJSON_Parse(policy_json(&r->policy));
    CHECK(pol, "policy JSON does not parse back: %s", policy_json(&r->policy));
    cJSON_AddItemToObject(o, "policy", pol);
    char hex[SHA256_HEX_LEN];
    sha256_hex(r->model_sha256, hex);
    cJSON_AddStringToObject(o, "weights", j->weights);
    cJSON_AddStringToObject(o, "model_sha256", hex);
    cJSON_AddNumberToObject(o, "samples", (double)r->n);
    cJSON_AddNumberToObject(o, "steps", r->num_steps);
    cJSON_AddStringToObject(o, "respacing", r->respacing);
    cJSON_AddNumberToObject(o, "cfg_scale", j->cfg_scale);
    cJSON_AddNumberToObject(o, "batch", r->sampler.max_rows);
    cJSON_AddNumberToObject(o, "seed", (double)j->seed);
    cJSON_AddNumberToObject(o, "wall_seconds", r->wall_seconds);
    cJSON *m = cJSON_AddObjectToObject(o, "macs");
    cJSON_AddNumberToObject(m, "all", s->macs_all);
    cJSON_AddNumberToObject(m, "linear", s->macs_linear);
    cJSON_AddNumberToObject(m, "full_all", s->full_macs_all);
    cJSON_AddNumberToObject(m, "full_linear", s->full_macs_linear);
    cJSON_AddNumberToObject(m, "decision_overhead", s->overhead_macs);
    cJSON_AddNumberToObject(m, "forward_rows", (double)s->forward_rows);
    cJSON *lr = cJSON_AddObjectToObject(o, "lazy_ratio");
    add_ratio(lr, "both", s->lazy_ratio);
    add_ratio(lr, "attn", s->lazy_ratio_attn);
    add_ratio(lr, "mlp", s->lazy_ratio_mlp);
    cJSON *sl = cJSON_AddObjectToObject(o, "slots");
    cJSON_AddNumberToObject(sl, "all", (double)s->slots);
    cJSON_AddNumberToObject(sl, "reused", (double)s->reused);
    cJSON_AddNumberToObject(sl, "attn", (double)s->slots_attn);
    cJSON_AddNumberToObject(sl, "reused_attn", (double)s->reused_attn);
    cJSON_AddNumberToObject(sl, "mlp", (double)s->slots_mlp);
    cJSON_AddNumberToObject(sl, "reused_mlp", (double)s->reused_mlp);
    cJSON_AddNumberToObject(sl, "reused_computed_anyway", (double)s->reused_executed);
    cJSON_AddNumberToObject(o, "equal_budget_steps", s->equal_budget_steps);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    CHECK(text, "out of memory printing %s", path);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (!rc) {
        atomic_write(&af, text, strlen(text));
        atomic_write(&af, "\n", 1);
        rc = atomic_commit(&af, err);
    }
    cJSON_free(text);
    return rc;
}
