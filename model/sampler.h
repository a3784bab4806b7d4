// sampler.h: the diffusion sampling loop over a DitModel (the official
// p_sample_loop / ddim_sample_loop of facebookresearch/DiT, with sample.py's
// classifier-free guidance), processed in chunks of at most `batch` samples.
//
// One step at respaced index t (t = K-1 .. 0, step index i = K-1-t):
//   cfg_scale == 1: out = forward(x, map[t], y)                    (B = rows)
//   otherwise:      out = forward_with_cfg([x; x], map[t], [y; null], scale,
//                                          guide_channels)       (B = 2 rows)
//   x = ddim_step(x, out, t, eta, clip) or ddpm_step(x, out, t, var, clip)
// With guidance only the conditional half of the doubled batch is stepped:
// forward_with_cfg reads nothing but x[:half] (it builds [half; half]), so the
// null half of the official loop never influences the conditional half and
// is discarded at the end anyway. Skipping it is exact, not an approximation
// (checked against a PyTorch loop that steps both halves).
//
// Noise. Two documented rules, both independent of the chunk size:
//  * Given initial noise Z (N, C, H, W) ("given-noise" runs): x_T = Z. Step
//    noise, when the sampler needs it (DDPM, or DDIM with eta > 0), follows
//    what the official sample.py does on a CPU generator after drawing z:
//      torch.manual_seed(seed); z = torch.randn(N, C, H, W)  # replaced by Z
//      every step: noise = torch.randn(R, C, H, W)           # randn_like(x)
//    with R = 2N under guidance (the doubled batch) and R = N without; sample
//    i uses row i. So `lazydit noise --seed S --shape N,C,H,W` followed by a
//    given-noise run with --seed S is exactly the official loop on CPU. A
//    chunk draws only its own rows of each step's tensor (see
//    sampler_randn_slice), at the cost of skipping over the generator outputs
//    of the other rows: O(R*C*H*W) cheap engine steps per chunk per step.
//  * Per-sample seeds (no Z): sample i owns a generator seeded with
//    rng_sample_seed(seed, i); x_T = torch.randn(C, H, W) from it, then one
//    torch.randn(C, H, W) per step from the same generator when step noise is
//    needed. Sample i is the same whatever the batch or sharding.
// DDIM with eta == 0 draws nothing (the official loop draws and multiplies
// by zero; the result is identical and the generator is not used afterwards).
//
// Memory: sampler_init makes one allocation for every buffer; sampler_run
// allocates nothing.
#pragma once
#include <stdint.h>

#include "model/diffusion.h"
#include "model/dit.h"
#include "model/lazy/lazy_runtime.h"
#include "model/base/torch_rng.h"

typedef enum { SAMPLER_DDIM = 0, SAMPLER_DDPM = 1 } SamplerKind;

typedef struct {
    SamplerKind kind;
    float eta;           // DDIM eta (0 = deterministic); ignored by DDPM
    int clip_denoised;   // clamp pred_xstart to [-1, 1] (off for latents)
    float cfg_scale;     // 1 = no guidance (plain forward, no batch doubling)
    int guide_channels;  // channels guided by CFG; 0 = default (3 for 4-channel models, else all)
    DiffVarType var;     // DDPM variance: must be LEARNED_RANGE iff the model has learn_sigma
    int batch;           // samples per chunk (model rows are 2*batch under guidance)
    uint64_t seed;       // run seed (see the noise rules above)
    long sample_offset;  // per-sample seeds: sample i starts from rng_sample_seed(seed, sample_offset + i)
                         // (0 normally; calibration runs use SAMPLER_CALIBRATION_OFFSET); ignored with given noise
    int progress;        // draw a progress bar on stderr if it is a terminal
    Policy *policy;      // borrowed, already policy_init'ed; NULL = compute every module (plain DDIM/DDPM)
} SamplerOptions;

// Calibration runs of `lazydit calibrate` (TeaCache, SmoothCache) draw their
// initial noise from per-sample seed indices 2^31 + i of the run seed.
// Evaluation runs use indices below 2^31, and rng_sample_seed is a bijection
// of (base(seed) + index) mod 2^32, so for the same run seed the two sets of
// samples never share an initial noise. (The threshold calibration of the
// learned gates, `lazydit calibrate-gates`, uses run seed 1 from index 0 and
// checks the same disjointness against seed 0: model/lazy/lazy_calibrate.h.)
#define SAMPLER_CALIBRATION_OFFSET (1L << 31)

// Defaults of LazyDiT's evaluation: DDIM, eta 0, no clipping, cfg 1.5,
// default guide channels, the official variance type for the model, seed 0.
SamplerOptions sampler_default_options(const DitConfig *c, int batch);

// What a step callback sees. Called twice per step: phase BEGIN before the
// model evaluation (so hooks know the step), END after x was updated.
typedef enum { SAMPLER_STEP_BEGIN = 0, SAMPLER_STEP_END = 1 } SamplerPhase;
typedef struct {
    SamplerPhase phase;
    int step;            // 0 .. num_steps-1 in sampling order (0 is the first, noisiest step)
    int num_steps;       // K
    int t;               // respaced index = num_steps - 1 - step
    long timestep;       // original timestep map[t] the model is called with
    long first_sample;   // index of the chunk's first sample in the run
    int rows;            // samples in this chunk
    int model_rows;      // rows of the model batch (2 * rows under guidance)
    const int *labels;   // (model_rows) labels of the model batch (null class in the second half)
    const float *x;      // (rows, C, H, W) current samples (x_t at BEGIN, x_{t-1} at END)
    const float *model_out;  // (model_rows, Cout, H, W) at END, NULL at BEGIN
} SamplerStep;
typedef void (*SamplerCallback)(void *ctx, const SamplerStep *s);

typedef struct {
    DitModel *m;           // borrowed
    const Diffusion *d;    // borrowed
    SamplerOptions opt;
    int C, Cout, guide_channels;
    long hw, img;          // H*W and C*H*W
    int max_rows;          // opt.batch
    int use_cfg;
    int needs_noise;       // the step consumes noise (DDPM, or DDIM eta > 0)
    // One allocation (mem_) behind:
    float *x;              // (batch, C, H, W) current samples of the chunk
    float *noise;          // (batch, C, H, W) step noise of the chunk
    float *slice;          // (batch * C * H * W + 32) scratch of sampler_randn_slice
    float *tvec;           // (2 batch) model timesteps (float, like t.float() in the model)
    int *tidx;             // (batch) respaced index per row
    int *labels;           // (2 batch) model labels
    TorchRng *rngs;        // (batch) per-sample generators, or rngs[0] = the given-noise stream
    void *mem_;
    LazyRuntime lazy;      // the policy's caches and the run's compute accounting
} Sampler;

// Validates the options against the model and the process and allocates every
// buffer. Errors (one line, err): batch < 1 or above what the model was built
// for (batch rows, 2 batch under guidance), DDPM variance type inconsistent
// with learn_sigma, guide_channels < 0, eta < 0, non-finite scale.
int sampler_init(Sampler *s, DitModel *m, const Diffusion *d, const SamplerOptions *opt, LzError *err);
void sampler_free(Sampler *s);

// Samples N images into out (N, C, H, W). labels (N) in [0, num_classes).
// noise: given initial noise (N, C, H, W), or NULL for per-sample seeds.
// Every model call gets the hook chain [policy runtime] -> hooks (hooks may be
// NULL), so hooks observe what the policy decided; cb (may be NULL) is called
// at each step's BEGIN and END. The run's accounting (sampler_account) starts
// from zero at each call. Returns 0, or -1 with err set for invalid labels or N.
int sampler_run(Sampler *s, float *out, const int *labels, long N, const float *noise, const DitHooks *hooks,
                SamplerCallback cb, void *cb_ctx, LzError *err);

// Slots, reuses and executed MACs of the last sampler_run (model/lazy/lazy_account.h).
static inline const LazyAccount *sampler_account(const Sampler *s) { return &s->lazy.acc; }

// Initial noise of per-sample-seeded samples first .. first+n-1 into out
// (n, C, H, W): torch.manual_seed(rng_sample_seed(seed, i)); torch.randn(img).
void sampler_sample_noise(float *out, uint64_t seed, long first, long n, long img);

// Elements [a, a + len) of torch.randn(n) drawn from generator g, written to
// out, and g advanced exactly as the whole torch.randn(n) call would advance
// it. Only the needed 16-element Box-Muller blocks (and the tail window) are
// transformed; the other outputs are skipped. scratch holds len + 32 floats.
void sampler_randn_slice(TorchRng *g, float *out, long n, long a, long len, float *scratch);

// --random-labels: torch.manual_seed(seed); torch.randint(0, num_classes, (N,)).
void sampler_random_labels(int *labels, long N, uint64_t seed, int num_classes);
