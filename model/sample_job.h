// sample_job.h: one sampling run as a library call: everything `lazydit
// sample` does besides parsing its arguments. The diffusion schedule the
// checkpoint was trained with (its metadata; the official linear 1000-step
// schedule when absent), respacing
// (default "K": LazyDiT's evaluation setting), the model built for the run's
// rows (2 x batch under CFG), the label rule, the sampler options, the lazy
// policy (created from CLI-style options or a JSON object and initialised
// with the run's PolicyEnv), the run itself, and what comes back: samples,
// labels, wall time and the compute accounting (model/lazy/lazy_account.h).
//
// Two phases, so that a caller can look at the model before the run (a PNG
// writer refuses latents) and every error that does not need sampling comes
// first:
//   SampleRun r;
//   rc = sample_job_prepare(&r, &job, &err);   // loads, validates, creates the policy
//   rc = sample_job_run(&r, &err);             // samples into r.samples
//   sample_job_print_summary(&r, stdout);
//   sample_job_free(&r);
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "model/diffusion.h"
#include "model/dit.h"
#include "model/lazy/policy.h"
#include "model/sampler.h"

// prepare's return value when the job's options themselves are wrong (bad
// policy options, respacing syntax, counts): a usage error for a CLI (exit 2).
// Other errors (files, the model, calibration files) return -1.
#define SAMPLE_JOB_USAGE (-2)

typedef enum {
    SAMPLE_LABELS_CYCLE = 0,  // sample i gets i % num_classes
    SAMPLE_LABELS_CLASS,      // every sample gets label_class
    SAMPLE_LABELS_RANDOM,     // torch.manual_seed(seed); torch.randint(0, classes, (N,))
    SAMPLE_LABELS_GIVEN,      // given_labels (N)
} SampleLabelRule;

#define SAMPLE_GUIDE_ALL (-1)  // guide_channels: every epsilon channel

typedef struct {
    const char *weights;           // DiT checkpoint (.safetensors)
    int heads;                     // attention heads if the file does not say; 0 = from the file
    long n;                        // samples; 0 = the rows of noise, else the length of given_labels
    SampleLabelRule labels;
    int label_class;               // SAMPLE_LABELS_CLASS
    const long long *given_labels; // SAMPLE_LABELS_GIVEN: (n_given) int64 labels
    long n_given;
    const char *labels_name;       // where given labels came from (messages)
    const float *noise;            // (N, C, H, W) initial noise, or NULL for per-sample seeds
    long noise_shape[4];
    const char *noise_name;        // where the noise came from (messages)
    SamplerKind sampler;
    int steps;                     // K
    const char *respacing;         // NULL = "K"
    int steps_given;               // the respacing must then keep exactly `steps` steps
    double eta;
    int clip;
    double cfg_scale;              // 1 = no guidance
    int guide_channels;            // 0 = default, SAMPLE_GUIDE_ALL, or a count
    int batch;                     // samples per chunk; 0 = min(N, 32)
    uint64_t seed;
    long sample_offset;            // per-sample seed index of sample 0 (SAMPLER_CALIBRATION_OFFSET for calibration)
    int progress;
    // The policy: a name with CLI-style options, or a JSON object
    // ({"name": ..., "modules": ..., options}); neither = ddim.
    const char *policy;
    const char *modules;           // "attn", "mlp", "both"; NULL = both
    const PolicyArg *policy_args;
    int n_policy_args;
    const void *policy_json;       // const cJSON *
    const char *policy_where;      // prefix of JSON errors
    const DitHooks *hooks;         // observers chained after the policy (may be NULL)
    SamplerCallback cb;            // per-step callback (may be NULL)
    void *cb_ctx;
} SampleJob;

typedef struct {
    SampleJob job;        // the caller's job (pointers borrowed)
    long n;               // N
    int num_steps;        // K after respacing
    char respacing[256];  // the respacing string in effect
    long *timesteps;      // (K) original timestep of each step in execution order
    uint8_t model_sha256[32];
    DitModel model;
    Diffusion diffusion;
    Policy policy;
    Sampler sampler;
    int *labels;          // (N)
    float *samples;       // (N, C, H, W) after sample_job_run
    double wall_seconds;  // sampler_run only
    LazySummary summary;  // after sample_job_run
    int ready;            // the sampler is initialised
} SampleRun;

// Loads and validates everything and creates the policy; on error r still
// holds what was made so far: call sample_job_free either way.
int sample_job_prepare(SampleRun *r, const SampleJob *job, LzError *err);
// Samples into r->samples (allocated on the first call), sets wall_seconds
// and summary. May be called again (the accounting restarts).
int sample_job_run(SampleRun *r, LzError *err);
// The same with the sampling call made by the caller (e.g. through the
// recorder, which chains its own hooks): `runner` must run sampler_run on `s`
// with these arguments; timing and accounting are done around it.
typedef int (*SampleJobRunner)(void *ctx, Sampler *s, float *out, const int *labels, long n, const float *noise,
                               LzError *err);
int sample_job_run_with(SampleRun *r, SampleJobRunner runner, void *ctx, LzError *err);
void sample_job_free(SampleRun *r);

// The PolicyEnv of a run of model `cfg` with the respaced process d; the
// execution-order timesteps are written to `timesteps` (K longs).
void sample_job_policy_env(PolicyEnv *env, long *timesteps, const DitConfig *cfg, const Diffusion *d,
                           const char *respacing, int max_rows, const uint8_t *model_sha256, uint64_t seed);

// The compute accounting of the run, three lines: executed MACs in both
// conventions against full compute (CFG doubling and decision overhead
// included), lazy ratios, the equal-budget DDIM step count.
void sample_job_print_summary(const SampleRun *r, FILE *f);
// The same as one JSON object, with the run's provenance, written atomically.
int sample_job_write_summary(const SampleRun *r, const char *path, LzError *err);
