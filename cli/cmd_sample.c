// lazydit sample: class-conditional samples from a DiT checkpoint with the
// official DDIM/DDPM loops and classifier-free guidance (model/sampler.h),
// written as (N, C, H, W) float32 .npy plus the labels, optionally a PNG grid.
// Semantics, defaults and noise rules: docs/sampling.md.
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/io/image.h"
#include "model/sampler.h"

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lazydit sample: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

// OUT.npy -> OUT_labels.npy (or OUT_labels.npy appended when there is no .npy suffix).
static char *labels_path_for(const char *out) {
    size_t n = strlen(out);
    if (n >= 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    char *p = lz_malloc(n + 16, "labels path");
    memcpy(p, out, n);
    strcpy(p + n, "_labels.npy");
    return p;
}

int cmd_sample(int argc, char **argv) {
    const char *weights = NULL, *labels_in = NULL, *noise_in = NULL, *sampler_name = "ddim", *respacing = NULL,
               *guide = NULL, *out = NULL, *labels_out = NULL, *png = NULL;
    long n_arg = 0, seed = 0, class_k = -1;
    int steps = 50, batch = 0, heads = 0, grid_cols = 10;
    double eta = 0, cfg_scale = 1.5;
    bool random_labels = false, clip = false, quiet = false;
    ArgSpec specs[] = {
        {"--weights", ARG_STRING, &weights, true, "DiT checkpoint (.safetensors)", false},
        {"--n", ARG_LONG, &n_arg, false, "number of samples (default: rows of --noise or length of --labels)", false},
        {"--labels", ARG_STRING, &labels_in, false, "class labels (N,) integer .npy", false},
        {"--class", ARG_LONG, &class_k, false, "every sample gets class K", false},
        {"--random-labels", ARG_FLAG, &random_labels, false,
         "labels = torch.manual_seed(seed); torch.randint(0, classes, (N,)) (default labels: i % classes)", false},
        {"--noise", ARG_STRING, &noise_in, false,
         "initial noise (N, C, H, W) float32 .npy (default: per-sample seeds, see docs/sampling.md)", false},
        {"--seed", ARG_LONG, &seed, false, "run seed >= 0 (default 0)", false},
        {"--sampler", ARG_STRING, &sampler_name, false, "ddim (default) or ddpm", false},
        {"--steps", ARG_INT, &steps, false, "sampling steps (default 50)", false},
        {"--respacing", ARG_STRING, &respacing, false,
         "kept timesteps: \"N\", \"ddimN\" or \"a,b,c\" (default: --steps as \"N\", LazyDiT's setting)", false},
        {"--eta", ARG_DOUBLE, &eta, false, "DDIM eta (default 0: deterministic)", false},
        {"--clip", ARG_FLAG, &clip, false, "clip the predicted x_0 to [-1, 1] (default off, as for latents)", false},
        {"--cfg-scale", ARG_DOUBLE, &cfg_scale, false, "classifier-free guidance scale (default 1.5; 1 = none)", false},
        {"--guide-channels", ARG_STRING, &guide, false,
         "channels CFG guides: 3 or 'all' (default: 3 for 4-channel latent models, all otherwise)", false},
        {"--batch", ARG_INT, &batch, false, "samples per chunk (default min(N, 32); 2x model rows under CFG)", false},
        {"--out", ARG_STRING, &out, true, "samples (N, C, H, W) float32 .npy", false},
        {"--labels-out", ARG_STRING, &labels_out, false, "labels (N,) int64 .npy (default OUT_labels.npy)", false},
        {"--png", ARG_STRING, &png, false, "also write a grid PNG (pixel-space models with 1 or 3 channels)", false},
        {"--grid-cols", ARG_INT, &grid_cols, false, "images per grid row (default 10)", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the file does not say (default: inferred)", false},
        {"--quiet", ARG_FLAG, &quiet, false, "no progress bar (it is drawn only when stderr is a terminal)", false},
    };
    ArgParser p = {"sample",
                   "--weights W --n N [--labels Y.npy | --class K | --random-labels] [--noise Z.npy] --seed S\n"
                   "       [--sampler ddim|ddpm] [--steps 50] [--respacing 50] [--eta 0] [--clip] [--cfg-scale 1.5]\n"
                   "       [--guide-channels 3|all] [--batch B] --out OUT.npy [--png GRID.png]",
                   "Samples N images with the official DiT loop (sample.py + ddim_sample_loop or\n"
                   "p_sample_loop). Defaults are LazyDiT's evaluation settings: respacing \"N\" with\n"
                   "N = --steps, DDIM, eta 0, no clipping, cfg 1.5. Without --noise, sample i starts\n"
                   "from torch.manual_seed(rng_sample_seed(seed, i)); torch.randn(C, H, W), so it does\n"
                   "not depend on N or --batch. See docs/sampling.md.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    // --- options that do not need the model
    SamplerKind kind;
    if (!strcmp(sampler_name, "ddim")) kind = SAMPLER_DDIM;
    else if (!strcmp(sampler_name, "ddpm")) kind = SAMPLER_DDPM;
    else return fail("unknown --sampler '%s' (expected ddim or ddpm)", sampler_name);
    if (seed < 0) return fail("--seed %ld must be >= 0", seed);
    int nlabel_opts = (labels_in != NULL) + args_seen(&p, "--class") + random_labels;
    if (nlabel_opts > 1) return fail("give at most one of --labels, --class and --random-labels");
    if (args_seen(&p, "--eta") && kind != SAMPLER_DDIM) return fail("--eta applies to --sampler ddim only");
    if (!(eta >= 0) || !isfinite(eta)) return fail("--eta %g must be >= 0", eta);
    if (!isfinite(cfg_scale)) return fail("--cfg-scale must be a finite number");
    if (grid_cols < 1) return fail("--grid-cols %d must be >= 1", grid_cols);
    if (args_seen(&p, "--n") && n_arg <= 0) return fail("--n %ld must be >= 1", n_arg);
    if (steps < 1) return fail("--steps %d must be >= 1", steps);
    if (args_seen(&p, "--heads") && heads < 1) cli_usage("sample", "--heads %d must be >= 1 (leave it out to infer)", heads);

    // Every file of the run is declared and checked before any work: no output
    // may be an input or another output, and the outputs (samples, labels,
    // grid) appear together only when the whole run has succeeded.
    RunFiles rf;
    run_files_init(&rf);
    char *lpath = NULL;
    if (!labels_out) labels_out = lpath = labels_path_for(out);
    cli_input(&rf, "sample", weights);
    if (labels_in) cli_input(&rf, "sample", labels_in);
    if (noise_in) cli_input(&rf, "sample", noise_in);
    cli_output(&rf, "sample", out, RF_STAGED);
    cli_output(&rf, "sample", labels_out, RF_STAGED);
    if (png) cli_output(&rf, "sample", png, RF_STAGED);

    // Everything below is released at `done`, on success and on error alike.
    int rc = 1;
    Diffusion d = {0};
    NpyArray z = {0}, yin = {0};
    DitModel m = {0};
    Sampler s = {0};
    int *labels = NULL;
    float *samples = NULL;
    int64_t *y64 = NULL;
    LzError err;
#define FAIL(...)          \
    do {                   \
        fail(__VA_ARGS__); \
        goto done;         \
    } while (0)

    // --- inputs that fix N
    if (noise_in) {
        z = cli_read_f32("sample", noise_in);
        if (z.ndim != 4) FAIL("%s: expected initial noise of shape (N, C, H, W), got %d dimensions", noise_in, z.ndim);
        cli_require_finite("sample", noise_in, "noise", z.data, z.count);
    }
    if (labels_in) {
        yin = cli_read_i64("sample", labels_in);
        if (yin.ndim != 1) FAIL("%s: expected labels of shape (N,), got %d dimensions", labels_in, yin.ndim);
    }
    long N = args_seen(&p, "--n") ? n_arg : noise_in ? z.shape[0] : labels_in ? yin.count : 0;
    if (N <= 0) FAIL("--n is required (or give --noise or --labels)");
    if (noise_in && z.shape[0] != N) FAIL("%s has %ld samples but --n is %ld", noise_in, z.shape[0], N);
    if (labels_in && yin.count != N) FAIL("%s has %ld labels but N is %ld", labels_in, yin.count, N);
    if (N > 100000000) FAIL("--n %ld is too large", N);
    if (batch == 0) batch = N < 32 ? (int)N : 32;
    if (batch < 1) FAIL("--batch %d must be >= 1", batch);
    if (batch > N) batch = (int)N;

    // --- the model
    int use_cfg = cfg_scale != 1.0;
    DiffusionSchedule sched;  // the schedule the model was trained with (checkpoint metadata)
    cli_load_dit("sample", &m, weights, heads, use_cfg ? 2 * batch : batch, 0, &sched);
    const DitConfig *c = &m.cfg;
    if (steps > sched.steps) FAIL("--steps %d exceeds the %d-step diffusion schedule of %s", steps, sched.steps, weights);
    char spacing_default[16];
    snprintf(spacing_default, sizeof spacing_default, "%d", steps);
    if (diffusion_create_for(&d, &sched, respacing ? respacing : spacing_default, &err)) FAIL("%s", err.msg);
    if (respacing && args_seen(&p, "--steps") && d.num_steps != steps)
        FAIL("--respacing '%s' keeps %d steps but --steps is %d", respacing, d.num_steps, steps);
    int C = c->in_channels, S = c->input_size;
    if (noise_in && (z.shape[1] != C || z.shape[2] != S || z.shape[3] != S))
        FAIL("%s has shape (%ld, %ld, %ld, %ld) but %s expects (N, %d, %d, %d)", noise_in, z.shape[0], z.shape[1],
             z.shape[2], z.shape[3], weights, C, S, S);
    if (png) {
        if (C == 4) FAIL("--png: %s is a 4-channel latent model: decode with a VAE first", weights);
        if (C != 1 && C != 3) FAIL("--png needs 1 (grey) or 3 (RGB) channels, %s has %d", weights, C);
    }
    labels = lz_malloc(sizeof(int) * N, "labels");
    for (long i = 0; i < N; i++) {
        long long v = labels_in ? ((long long *)yin.data)[i] : args_seen(&p, "--class") ? class_k : i % c->num_classes;
        if (v < 0 || v >= c->num_classes)
            FAIL("label %lld%s%s at index %ld outside 0..%d of %s", v, labels_in ? " in " : "",
                 labels_in ? labels_in : "", i, c->num_classes - 1, weights);
        labels[i] = (int)v;
    }
    if (random_labels) sampler_random_labels(labels, N, (uint64_t)seed, c->num_classes);

    SamplerOptions o = sampler_default_options(c, batch);
    o.kind = kind;
    o.eta = (float)eta;
    o.clip_denoised = clip;
    o.cfg_scale = (float)cfg_scale;
    o.guide_channels = guide ? cli_parse_guide_channels("sample", guide, c) : 0;
    o.seed = (uint64_t)seed;
    o.progress = !quiet;
    if (sampler_init(&s, &m, &d, &o, &err)) FAIL("%s", err.msg);

    samples = lz_malloc(sizeof(float) * N * C * S * S, "samples");
    if (sampler_run(&s, samples, labels, N, noise_in ? z.data : NULL, NULL, NULL, NULL, &err)) FAIL("%s", err.msg);

    long shape[4] = {N, C, S, S};
    long bad = lz_find_nonfinite(samples, N * C * S * S);
    if (bad >= 0) FAIL("sampling produced a non-finite value (sample %ld); nothing was written", bad / ((long)C * S * S));
    run_files_begin(&rf);
    if (npy_write(out, NPY_F32, 4, shape, samples, &err)) FAIL("%s", err.msg);
    y64 = lz_malloc(sizeof(int64_t) * N, "labels");
    for (long i = 0; i < N; i++) y64[i] = labels[i];
    if (npy_write(labels_out, NPY_I64, 1, shape, y64, &err)) FAIL("%s", err.msg);
    if (png && image_write_grid(png, samples, N, C, S, S, grid_cols, &err)) FAIL("%s", err.msg);
    if (run_files_publish(&rf, &err)) FAIL("%s", err.msg);
    printf("wrote %ld samples (%s, %d steps, cfg %g) to %s, labels to %s%s%s\n", N, sampler_name, d.num_steps,
           cfg_scale, out, labels_out, png ? ", grid to " : "", png ? png : "");
    rc = 0;
#undef FAIL
done:
    run_files_free(&rf);  // after a failure: removes what was staged, publishes nothing
    free(lpath);
    free(y64);
    free(samples);
    free(labels);
    sampler_free(&s);
    dit_free(&m);
    diffusion_free(&d);
    npy_free(&z);
    npy_free(&yin);
    return rc;
}
