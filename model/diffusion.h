// diffusion.h: the Gaussian diffusion process of the official DiT code
// (diffusion/gaussian_diffusion.py, respace.py, diffusion_utils.py), in C.
//
// Schedule tables are float64 like the official numpy code, and are built the
// same way, operation by operation (np.linspace, sequential cumprod, ...), so
// they agree with numpy to the last bit or within an ulp of libm's log.
//
// Respacing. create_diffusion() always builds a SpacedDiffusion: the kept
// timesteps ("N", "ddimN", "a,b,c"; "" means all) select entries of the base
// alphas_cumprod, new betas are 1 - ab[i] / ab[previous kept], and then the
// whole table set is recomputed from these betas (so the respaced
// alphas_cumprod equals the base one mathematically but not always bitwise --
// we follow the official recomputation). Index t below is always the respaced
// index 0 .. num_steps-1; the model must be called with timestep_map[t].
//
// Step math precision. The official code extracts a float64 coefficient and
// converts it to float32 (`_extract_into_tensor`: arr[t].float()); all tensor
// arithmetic is then float32, one rounding per torch op, and Python scalars
// (eta, 1, 0.5) become float32 operands. The step functions here do exactly
// that: per row they round the needed coefficients to float, and per element
// they evaluate the official expressions in the official order in float, with
// no fused operations. Results therefore match torch bit for bit except where
// torch calls a vectorised transcendental (exp, log, tanh: SLEEF, <= 1 ulp
// apart from glibc), i.e. DDPM noise scaling and the VB-term helpers.
//
// Layouts (PyTorch order, contiguous):
//   x, x_t, x_prev, noise, pred_xstart : (B, C, HW)
//   model_out                          : (B, Cout, HW) with Cout = C (eps only)
//                                        or 2C (learn_sigma: eps then var values)
//   t                                  : (B) respaced step index per row
// Element-wise functions allow the output to alias x_t (in-place updates).
#pragma once
#include "model/base/check.h"

typedef enum {
    DIFF_VAR_LEARNED_RANGE = 0,  // learn_sigma=True (DiT default): model var values in [-1, 1]
    DIFF_VAR_FIXED_LARGE = 1,    // learn_sigma=False, sigma_small=False
    DIFF_VAR_FIXED_SMALL = 2,    // learn_sigma=False, sigma_small=True
} DiffVarType;

typedef struct {
    int base_steps;     // T of the base schedule (1000)
    int num_steps;      // K kept steps after respacing
    long *timestep_map; // (K) original timestep of respaced step t, ascending
    // Tables of the respaced process, (K) each, float64, official names.
    double *betas;
    double *log_betas;  // np.log(betas): max_log of the learned range
    double *alphas_cumprod;
    double *alphas_cumprod_prev;  // 1 at t = 0
    double *alphas_cumprod_next;  // 0 at t = K-1
    double *sqrt_alphas_cumprod;
    double *sqrt_one_minus_alphas_cumprod;
    double *log_one_minus_alphas_cumprod;
    double *sqrt_recip_alphas_cumprod;
    double *sqrt_recipm1_alphas_cumprod;
    double *posterior_variance;
    double *posterior_log_variance_clipped;  // log(append(pv[1], pv[1:]))
    double *posterior_mean_coef1;
    double *posterior_mean_coef2;
    double *fixed_large_variance;      // append(posterior_variance[1], betas[1:])
    double *fixed_large_log_variance;  // its log
    double *mem_;                      // the one allocation behind all tables
} Diffusion;

// Base betas of a named schedule, float64, written to betas[0 .. steps):
//   "linear": np.linspace(scale*1e-4, scale*0.02, steps), scale = 1000/steps
//   "cosine" (alias "squaredcos_cap_v2"): betas_for_alpha_bar with
//     alpha_bar(t) = cos((t + 0.008) / 1.008 * pi / 2) ** 2, max_beta 0.999.
int diffusion_named_betas(double *betas, const char *schedule, int steps, LzError *err);

// The official space_timesteps(num_timesteps, respacing): sets keep[i] = 1 for
// each kept timestep i < num_timesteps (keep has num_timesteps entries) and
// returns the count through *count. Accepted strings:
//   "N"          one section of N evenly spaced steps incl. 0 and T-1, rounded
//                half-to-even like Python's round
//   "a,b,c"      sections of T/len steps (the first T%len one larger), each
//                spaced like "N"
//   "ddimN"      the smallest integer stride s with len(range(0, T, s)) == N
//   "" or NULL   all T steps
// Errors (unknown syntax, N > section size, no ddim stride, N < 1) return -1
// with a one-line message naming the string.
int diffusion_space_timesteps(unsigned char *keep, int *count, int num_timesteps, const char *respacing,
                              LzError *err);

// Builds the respaced process: base schedule `schedule` with `base_steps`
// steps, respaced by `respacing` (see above). Returns 0 or -1 with err set;
// on error *d is left empty (diffusion_free is still safe).
int diffusion_create(Diffusion *d, const char *schedule, int base_steps, const char *respacing, LzError *err);
// The base schedule a model was trained with, which its sampler must use.
// `lazydit train` writes it into the checkpoint metadata ("diffusion_schedule",
// "diffusion_steps"); a file without them (the official checkpoints, the
// committed default DiT) was trained with the official 1000-step linear
// schedule. The zero value {"", 0} means that default too.
#define DIFFUSION_DEFAULT_SCHEDULE "linear"
#define DIFFUSION_DEFAULT_STEPS 1000
#define DIFFUSION_MAX_STEPS 1000000
typedef struct {
    char name[24];  // "linear" or "cosine" (diffusion_named_betas); "" = default
    int steps;      // base steps T; 0 = default
} DiffusionSchedule;

// {"linear", 1000}.
DiffusionSchedule diffusion_schedule_default(void);
// Replaces zero fields by the defaults and checks the rest: a known name and
// 1 <= steps <= DIFFUSION_MAX_STEPS. `where` prefixes messages.
int diffusion_schedule_resolve(DiffusionSchedule *s, const char *where, LzError *err);
// From checkpoint metadata values (either may be NULL = absent = the default
// for that field). An unknown name or a steps value that is not a plain
// integer in range is an error naming `where` (the file).
int diffusion_schedule_from_meta(DiffusionSchedule *s, const char *name, const char *steps, const char *where,
                                 LzError *err);
// "1000" into buf (for metadata).
const char *diffusion_schedule_steps_text(const DiffusionSchedule *s, char *buf, int len);
// diffusion_create with the schedule's name and steps.
int diffusion_create_for(Diffusion *d, const DiffusionSchedule *s, const char *respacing, LzError *err);

// A process straight from K betas (GaussianDiffusion(betas=...)): no
// respacing, timestep_map is the identity, base_steps = K.
int diffusion_create_from_betas(Diffusion *d, const double *betas, int K, LzError *err);
void diffusion_free(Diffusion *d);

// ---------------------------------------------------------------------------
// Per-step math (no allocation; B rows of C channels of HW pixels).

// q_sample: x_t = sqrt(ab[t]) * x0 + sqrt(1 - ab[t]) * noise.
void diffusion_q_sample(float *x_t, const float *x0, const float *noise, const int *t, const Diffusion *d, int B,
                        int C, long HW);

// q_posterior_mean_variance: mean = coef1[t] * x0 + coef2[t] * x_t. The
// variance and clipped log variance are per row: pass NULL if not needed,
// otherwise (B) arrays receive float(posterior_variance[t]) and
// float(posterior_log_variance_clipped[t]).
void diffusion_q_posterior(float *mean, float *variance, float *log_variance, const float *x0, const float *x_t,
                           const int *t, const Diffusion *d, int B, int C, long HW);

// p_mean_variance for an epsilon-predicting model: pred_xstart = (optionally
// clipped to [-1, 1]) sqrt_recip_ab * x_t - sqrt_recipm1_ab * eps, mean from
// q_posterior(pred_xstart, x_t), and the per-element log variance of `var`:
// learned range uses channels C..2C-1 of model_out (Cout must be 2C), fixed
// ones use the tables (Cout may be C or 2C; extra channels are ignored).
// Any of mean, log_variance, pred_xstart may be NULL.
void diffusion_p_mean_variance(float *mean, float *log_variance, float *pred_xstart, const float *x_t,
                               const float *model_out, const int *t, const Diffusion *d, DiffVarType var,
                               int clip_denoised, int B, int C, int Cout, long HW);

// One DDPM step (p_sample): x_prev = mean + [t != 0] * exp(0.5 * log_var) * noise.
// noise (B, C, HW) may be NULL, meaning zeros. pred_xstart may be NULL.
void diffusion_ddpm_step(float *x_prev, float *pred_xstart, const float *x_t, const float *model_out,
                         const float *noise, const int *t, const Diffusion *d, DiffVarType var, int clip_denoised,
                         int B, int C, int Cout, long HW);

// One DDIM step (ddim_sample): pred_xstart from eps (channels 0..C-1 of
// model_out), optional clip, eps re-derived from pred_xstart, and
//   sigma = eta * sqrt((1 - ab_prev) / (1 - ab)) * sqrt(1 - ab / ab_prev)
//   x_prev = pred_xstart * sqrt(ab_prev) + sqrt(1 - ab_prev - sigma^2) * eps
//            + [t != 0] * sigma * noise
// The variance channels, if any, are ignored (as in the official DDIM).
// noise may be NULL (zeros); the official loop draws it even at eta 0, so a
// sampler that wants torch's noise stream must still draw it.
void diffusion_ddim_step(float *x_prev, float *pred_xstart, const float *x_t, const float *model_out,
                         const float *noise, const int *t, const Diffusion *d, float eta, int clip_denoised, int B,
                         int C, int Cout, long HW);

// ---------------------------------------------------------------------------
// Variational-bound helpers (diffusion_utils.py), element-wise over n values,
// float32 like the official tensors.

// KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)) in nats.
void diffusion_normal_kl(float *out, const float *mean1, const float *logvar1, const float *mean2,
                         const float *logvar2, long n);
// 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
float diffusion_approx_standard_normal_cdf(float x);
// Log-likelihood (nats) of x (uint8 images scaled to [-1, 1]) under a Gaussian
// discretised to bins of width 2/255, with the edge bins open-ended.
void diffusion_discretized_gaussian_log_likelihood(float *out, const float *x, const float *means,
                                                   const float *log_scales, long n);

// The hybrid loss's VB term for a learn_sigma model (_vb_terms_bpd with the
// eps half of model_out frozen, clip_denoised False as in training_losses):
// per row, KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) averaged over C*HW and
// divided by ln 2 (bits), or at t == 0 the decoder NLL likewise.
// vb: (B). dvar (B, C, HW), optional: d vb[b] / d model_out[b, C + c, p] (the
// var-value channels; the eps channels receive no gradient from this term).
void diffusion_vb_terms(float *vb, float *dvar, const float *x0, const float *x_t, const float *model_out,
                        const int *t, const Diffusion *d, int B, int C, long HW);
