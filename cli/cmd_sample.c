// lazydit sample: class-conditional samples from a DiT checkpoint with the
// official DDIM/DDPM loops and classifier-free guidance, optionally lazy
// (--policy NAME with the policy's options), written as (N, C, H, W) float32
// .npy plus the labels, optionally a PNG grid, then the compute accounting.
// The run itself is model/sample_job.h; this file parses arguments.
// Semantics, defaults and noise rules: docs/sampling.md; policies: docs/design.md.
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/cli_policy.h"
#include "cli/commands.h"
#include "model/io/atomic_file.h"
#include "model/sample_job.h"

// ---------------------------------------------------------------------------
// PNG grid (pixel-space models only)

typedef struct {
    jmp_buf jmp;
    char msg[200];
} PngErr;

static void png_on_error(png_structp png, png_const_charp msg) {
    PngErr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}
static void png_on_write(png_structp png, png_bytep data, size_t n) { atomic_write(png_get_io_ptr(png), data, n); }
static void png_on_flush(png_structp png) { (void)png; }

// Writes an 8-bit grey (C = 1) or RGB (C = 3) image of width w and height h
// (rows of w*C bytes) atomically. The libpng calls sit in their own function
// so that nothing the caller holds lives across setjmp.
static int write_png(const char *path, const unsigned char *pixels, int w, int h, int C, LzError *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    PngErr pe;
    pe.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        atomic_abort(&af);
        return lz_fail(err, "%s: cannot initialise libpng", path);
    }
    if (setjmp(pe.jmp)) {
        png_destroy_write_struct(&png, &info);
        atomic_abort(&af);
        return lz_fail(err, "%s: libpng: %s", path, pe.msg);
    }
    png_set_write_fn(png, &af, png_on_write, png_on_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, C == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * w * C));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return atomic_commit(&af, err);
}

// Grid of N images (N, C, H, W) in [-1, 1], `cols` per row, with a 2-pixel
// black border around and between images (torchvision make_grid's padding).
// Value v -> (v + 1) * 127.5 + 0.5, clamped to [0, 255], truncated: what
// save_image(normalize=True, value_range=(-1, 1)) writes.
static int write_grid(const char *path, const float *x, long N, int C, int H, int W, int cols, LzError *err) {
    const int pad = 2;
    if (cols > N) cols = (int)N;
    long rows = (N + cols - 1) / cols;
    long gw = (long)cols * (W + pad) + pad, gh = rows * (H + pad) + pad;
    if (gw > 1000000 || gh > 1000000) return lz_fail(err, "%s: grid %ldx%ld pixels is too large", path, gw, gh);
    unsigned char *pix = lz_calloc((size_t)(gw * gh * C), 1, "PNG grid");
    for (long n = 0; n < N; n++) {
        long ox = pad + (n % cols) * (W + pad), oy = pad + (n / cols) * (H + pad);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    float f = (x[((n * C + c) * H + i) * W + j] + 1.0f) * 127.5f + 0.5f;
                    f = f >= 0 ? (f <= 255 ? f : 255) : 0;  // also maps NaN to 0
                    pix[((oy + i) * gw + ox + j) * C + c] = (unsigned char)f;
                }
    }
    int rc = write_png(path, pix, (int)gw, (int)gh, C, err);
    free(pix);
    return rc;
}

// ---------------------------------------------------------------------------

// OUT.npy -> OUT_labels.npy (or OUT_labels.npy appended when there is no .npy suffix).
static char *labels_path_for(const char *out) {
    size_t n = strlen(out);
    if (n >= 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    char *p = lz_malloc(n + 16, "labels path");
    memcpy(p, out, n);
    strcpy(p + n, "_labels.npy");
    return p;
}

// "3" -> 3, "all" -> SAMPLE_GUIDE_ALL.
static int parse_guide(const ArgParser *p, const char *text) {
    if (!strcmp(text, "all")) return SAMPLE_GUIDE_ALL;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > 1000000)
        args_usage_fail(p, "--guide-channels expects a positive integer or 'all', got '%s'", text);
    return (int)v;
}

int cmd_sample(int argc, char **argv) {
    const char *weights = NULL, *labels_in = NULL, *noise_in = NULL, *sampler_name = "ddim", *respacing = NULL,
               *guide = NULL, *out = NULL, *labels_out = NULL, *png = NULL, *policy = "ddim", *modules = NULL,
               *summary_out = NULL;
    long n_arg = 0, seed = 0, class_k = -1;
    int steps = 50, batch = 0, heads = 0, grid_cols = 10;
    double eta = 0, cfg_scale = 1.5;
    bool random_labels = false, clip = false, quiet = false;
    ArgSpec base[] = {
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
        {"--policy", ARG_STRING, &policy, false, "lazy policy (default ddim: compute everything); see below", false},
        {"--modules", ARG_STRING, &modules, false, "modules the policy may make lazy: attn, mlp or both (default)",
         false},
        {"--out", ARG_STRING, &out, true, "samples (N, C, H, W) float32 .npy", false},
        {"--labels-out", ARG_STRING, &labels_out, false, "labels (N,) int64 .npy (default OUT_labels.npy)", false},
        {"--png", ARG_STRING, &png, false, "also write a grid PNG (pixel-space models with 1 or 3 channels)", false},
        {"--grid-cols", ARG_INT, &grid_cols, false, "images per grid row (default 10)", false},
        {"--json-summary", ARG_STRING, &summary_out, false,
         "write the compute accounting (MACs, lazy ratios, equal-budget K) and the run's settings as JSON", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the file does not say (default: inferred)", false},
        {"--quiet", ARG_FLAG, &quiet, false, "no progress bar (it is drawn only when stderr is a terminal)", false},
    };
    CliPolicyOptions po;
    cli_policy_options_init(&po, base, (int)(sizeof base / sizeof base[0]));
    // The about text lists the policies; their options follow the command's in the option list.
    char about[4096];
    int len = snprintf(about, sizeof about, "%s",
                       "Samples N images with the official DiT loop (sample.py + ddim_sample_loop or\n"
                       "p_sample_loop). Defaults are LazyDiT's evaluation settings: respacing \"N\" with\n"
                       "N = --steps, DDIM, eta 0, no clipping, cfg 1.5. Without --noise, sample i starts\n"
                       "from torch.manual_seed(rng_sample_seed(seed, i)); torch.randn(C, H, W), so it does\n"
                       "not depend on N or --batch. See docs/sampling.md.\n\n"
                       "--policy NAME makes modules lazy (docs/design.md, Policies); [name] in the option\n"
                       "list marks the options of each policy. Every run ends with the compute accounting:\n"
                       "executed MACs (all matmuls; linear+conv) with CFG doubling and decision overhead,\n"
                       "lazy ratios, and the equal-budget DDIM step count K = steps x (1 - ratio).\n\npolicies:");
    for (int i = 0; i < policy_count() && len < (int)sizeof about; i++) {
        const PolicyClass *c = policy_class_at(i);
        len += snprintf(about + len, sizeof about - (size_t)len, "\n  %-12s %s%s", c->name, c->summary,
                        c->stack_level ? " (whole stack: --modules both only)" : "");
    }
    ArgParser p = {"sample",
                   "--weights W --n N [--labels Y.npy | --class K | --random-labels] [--noise Z.npy] --seed S\n"
                   "       [--sampler ddim|ddpm] [--steps 50] [--respacing 50] [--eta 0] [--clip] [--cfg-scale 1.5]\n"
                   "       [--guide-channels 3|all] [--batch B] [--policy NAME [policy options]] [--modules attn|mlp|both]\n"
                   "       --out OUT.npy [--png GRID.png] [--json-summary S.json]",
                   about, po.specs, po.nbase + po.n, 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    // --- usage errors: options that are wrong by themselves (exit 2)
    SampleJob job = {0};
    if (!strcmp(sampler_name, "ddim")) job.sampler = SAMPLER_DDIM;
    else if (!strcmp(sampler_name, "ddpm")) job.sampler = SAMPLER_DDPM;
    else args_usage_fail(&p, "unknown --sampler '%s' (expected ddim or ddpm)", sampler_name);
    if (seed < 0) args_usage_fail(&p, "--seed %ld must be >= 0", seed);
    if ((labels_in != NULL) + args_seen(&p, "--class") + random_labels > 1)
        args_usage_fail(&p, "give at most one of --labels, --class and --random-labels");
    if (args_seen(&p, "--eta") && job.sampler != SAMPLER_DDIM) args_usage_fail(&p, "--eta applies to --sampler ddim only");
    if (grid_cols < 1) args_usage_fail(&p, "--grid-cols %d must be >= 1", grid_cols);
    if (args_seen(&p, "--n") && n_arg <= 0) args_usage_fail(&p, "--n %ld must be >= 1", n_arg);
    if (args_seen(&p, "--batch") && batch < 1) args_usage_fail(&p, "--batch %d must be >= 1", batch);
    if (class_k > 2147483647L) args_usage_fail(&p, "--class %ld is too large", class_k);

    // --- inputs (exit 1 on unreadable files)
    NpyArray z = {0}, yin = {0};
    if (noise_in) {
        z = cli_read_f32(noise_in);
        if (z.ndim != 4)
            cli_fail_in("sample", "%s: expected initial noise of shape (N, C, H, W), got %d dimensions", noise_in, z.ndim);
        memcpy(job.noise_shape, z.shape, sizeof job.noise_shape);
        job.noise = z.data;
        job.noise_name = noise_in;
    }
    if (labels_in) {
        yin = cli_read_i64(labels_in);
        if (yin.ndim != 1) cli_fail_in("sample", "%s: expected labels of shape (N,), got %d dimensions", labels_in, yin.ndim);
        job.labels = SAMPLE_LABELS_GIVEN;
        job.given_labels = yin.data;
        job.n_given = yin.count;
        job.labels_name = labels_in;
    } else if (args_seen(&p, "--class")) {
        job.labels = SAMPLE_LABELS_CLASS;
        job.label_class = (int)class_k;
    } else if (random_labels) {
        job.labels = SAMPLE_LABELS_RANDOM;
    }
    job.weights = weights;
    job.heads = heads;
    job.n = args_seen(&p, "--n") ? n_arg : 0;
    job.steps = steps;
    job.steps_given = args_seen(&p, "--steps");
    job.respacing = respacing;
    job.eta = eta;
    job.clip = clip;
    job.cfg_scale = cfg_scale;
    job.guide_channels = guide ? parse_guide(&p, guide) : 0;
    job.batch = batch;
    job.seed = (uint64_t)seed;
    job.progress = !quiet;
    job.policy = policy;
    job.modules = modules;
    job.n_policy_args = cli_policy_args(&po, &job.policy_args);

    SampleRun run;
    LzError err;
    int rc = sample_job_prepare(&run, &job, &err);
    if (rc == SAMPLE_JOB_USAGE) args_usage_fail(&p, "%s", err.msg);
    if (rc) cli_fail_in("sample", "%s", err.msg);
    const DitConfig *c = &run.model.cfg;
    int C = c->in_channels, S = c->input_size;
    if (png) {
        if (C == 4) cli_fail_in("sample", "--png: %s is a 4-channel latent model: decode with a VAE first", weights);
        if (C != 1 && C != 3) cli_fail_in("sample", "--png needs 1 (grey) or 3 (RGB) channels, %s has %d", weights, C);
    }
    if (run.policy.note[0]) fprintf(stderr, "lazydit sample: note: %s\n", run.policy.note);
    if (sample_job_run(&run, &err)) cli_fail_in("sample", "%s", err.msg);

    long N = run.n, shape[4] = {N, C, S, S};
    if (npy_write(out, NPY_F32, 4, shape, run.samples, &err)) cli_fail_in("sample", "%s", err.msg);
    int64_t *y64 = lz_malloc(sizeof(int64_t) * (size_t)N, "labels");
    for (long i = 0; i < N; i++) y64[i] = run.labels[i];
    char *lpath = NULL;
    if (!labels_out) labels_out = lpath = labels_path_for(out);
    if (npy_write(labels_out, NPY_I64, 1, shape, y64, &err)) cli_fail_in("sample", "%s", err.msg);
    if (png && write_grid(png, run.samples, N, C, S, S, grid_cols, &err)) cli_fail_in("sample", "%s", err.msg);
    if (summary_out && sample_job_write_summary(&run, summary_out, &err)) cli_fail_in("sample", "%s", err.msg);
    printf("wrote %ld samples (%s, %s, %d steps, cfg %g) in %.2fs to %s, labels to %s%s%s\n", N, sampler_name,
           policy_json(&run.policy), run.num_steps, cfg_scale, run.wall_seconds, out, labels_out, png ? ", grid to " : "",
           png ? png : "");
    sample_job_print_summary(&run, stdout);
    free(lpath);
    free(y64);
    sample_job_free(&run);
    npy_free(&z);
    npy_free(&yin);
    cli_policy_options_free(&po);
    return 0;
}
