// lazydit sample: class-conditional samples from a DiT checkpoint with the
// official DDIM/DDPM loops and classifier-free guidance, optionally lazy
// (--policy NAME with the policy's options), written as (N, C, H, W) float32
// .npy plus the labels, optionally a PNG grid, then the compute accounting.
// The run itself is model/sample_job.h; this file parses arguments.
// Semantics, defaults and noise rules: docs/sampling.md; policies: docs/design.md.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/cli_policy.h"
#include "cli/commands.h"
#include "analysis/run_record.h"
#include "model/io/image.h"
#include "model/sample_job.h"

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
        cli_usage(p->command, "--guide-channels expects a positive integer or 'all', got '%s'", text);
    return (int)v;
}

// --record: the sampling call of the job goes through the recorder, which
// chains its hooks after the policy and writes the run into the database.
typedef struct {
    SampleRecordRequest request;
    SampleRecordResult result;
} RecordingRunner;
static int run_recorded(void *ctx, Sampler *s, float *out, const int *labels, long n, const float *noise,
                        LzError *err) {
    RecordingRunner *r = ctx;
    return record_sampler_run(&r->request, s, out, labels, n, noise, &r->result, err);
}

int cmd_sample(int argc, char **argv) {
    const char *weights = NULL, *labels_in = NULL, *noise_in = NULL, *sampler_name = "ddim", *respacing = NULL,
               *guide = NULL, *out = NULL, *labels_out = NULL, *png = NULL, *policy = "ddim", *modules = NULL,
               *summary_out = NULL, *record = NULL, *experiment = NULL, *run_name = NULL;
    long n_arg = 0, seed = 0, class_k = -1;
    int steps = 50, batch = 0, heads = 0, grid_cols = 10;
    double eta = 0, cfg_scale = 1.5;
    bool random_labels = false, clip = false, quiet = false, record_rows = false;
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
        {"--record", ARG_STRING, &record, false,
         "record the run into this SQLite result database (runs + module_steps; see README \"Results database\")",
         false},
        {"--experiment", ARG_STRING, &experiment, false,
         "experiment name of the recorded run (default: the database's, or \"sample\")", false},
        {"--run-name", ARG_STRING, &run_name, false, "name of the recorded run (default: policy, steps, seed, time, pid)",
         false},
        {"--record-rows", ARG_FLAG, &record_rows, false, "also record per-row records (module_rows; large)", false},
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
                   "       --out OUT.npy [--png GRID.png] [--json-summary S.json]\n"
                   "       [--record DB [--experiment NAME] [--run-name NAME] [--record-rows]]",
                   about, po.specs, po.nbase + po.n, 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    // --- usage errors: options that are wrong by themselves (exit 2)
    SampleJob job = {0};
    if (!strcmp(sampler_name, "ddim")) job.sampler = SAMPLER_DDIM;
    else if (!strcmp(sampler_name, "ddpm")) job.sampler = SAMPLER_DDPM;
    else cli_usage(p.command, "unknown --sampler '%s' (expected ddim or ddpm)", sampler_name);
    if (seed < 0) cli_usage(p.command, "--seed %ld must be >= 0", seed);
    if ((labels_in != NULL) + args_seen(&p, "--class") + random_labels > 1)
        cli_usage(p.command, "give at most one of --labels, --class and --random-labels");
    if (args_seen(&p, "--eta") && job.sampler != SAMPLER_DDIM) cli_usage(p.command, "--eta applies to --sampler ddim only");
    if (grid_cols < 1) cli_usage(p.command, "--grid-cols %d must be >= 1", grid_cols);
    if (!record && (experiment || run_name || record_rows))
        cli_usage(p.command, "--experiment, --run-name and --record-rows need --record DB");
    if (args_seen(&p, "--n") && n_arg <= 0) cli_usage(p.command, "--n %ld must be >= 1", n_arg);
    if (args_seen(&p, "--batch") && batch < 1) cli_usage(p.command, "--batch %d must be >= 1", batch);
    if (class_k > 2147483647L) cli_usage(p.command, "--class %ld is too large", class_k);
    if (args_seen(&p, "--heads") && heads < 1) cli_usage(p.command, "--heads %d must be >= 1 (leave it out to infer)", heads);

    // Every file of the run is declared and checked before any work: no output
    // may be an input or another output, and the outputs (samples, labels,
    // grid, summary) appear together only when the whole run has succeeded.
    RunFiles rf;
    run_files_init(&rf);
    char *lpath = NULL;
    if (!labels_out) labels_out = lpath = labels_path_for(out);
    cli_input(&rf, "sample", weights);
    if (labels_in) cli_input(&rf, "sample", labels_in);
    if (noise_in) cli_input(&rf, "sample", noise_in);
    for (int i = 0; i < po.n; i++) {  // the files a policy reads are inputs too
        const char *name = po.specs[po.nbase + i].name;
        if (po.specs[po.nbase + i].seen &&
            (!strcmp(name, "--calibration") || !strcmp(name, "--gates") || !strcmp(name, "--router")))
            cli_input(&rf, "sample", po.values[i]);
    }
    cli_output(&rf, "sample", out, RF_STAGED);
    cli_output(&rf, "sample", labels_out, RF_STAGED);
    if (png) cli_output(&rf, "sample", png, RF_STAGED);
    if (summary_out) cli_output(&rf, "sample", summary_out, RF_STAGED);
    // The result database is updated in place (in transactions), so it is not
    // staged, but it is checked like every output: not an input or another
    // output, not a device, FIFO or symbolic link; its directory is made.
    if (record) cli_output(&rf, "sample", record, RF_MKDIR);

    // --- inputs (exit 1 on unreadable files)
    NpyArray z = {0}, yin = {0};
    if (noise_in) {
        z = cli_read_f32("sample", noise_in);
        if (z.ndim != 4)
            cli_fail_in("sample", "%s: expected initial noise of shape (N, C, H, W), got %d dimensions", noise_in, z.ndim);
        cli_require_finite("sample", noise_in, "noise", z.data, z.count);
        memcpy(job.noise_shape, z.shape, sizeof job.noise_shape);
        job.noise = z.data;
        job.noise_name = noise_in;
    }
    if (labels_in) {
        yin = cli_read_i64("sample", labels_in);
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
    if (rc == SAMPLE_JOB_USAGE) cli_usage(p.command, "%s", err.msg);
    if (rc) cli_fail_in("sample", "%s", err.msg);
    const DitConfig *c = &run.model.cfg;
    int C = c->in_channels, S = c->input_size;
    if (png) {
        if (C == 4) cli_fail_in("sample", "--png: %s is a 4-channel latent model: decode with a VAE first", weights);
        if (C != 1 && C != 3) cli_fail_in("sample", "--png needs 1 (grey) or 3 (RGB) channels, %s has %d", weights, C);
    }
    if (run.policy.note[0]) fprintf(stderr, "lazydit sample: note: %s\n", run.policy.note);
    RecordingRunner rec = {{record, experiment, run_name, weights, run.respacing, argc, argv, record_rows}, {0, "", ""}};
    if (record ? sample_job_run_with(&run, run_recorded, &rec, &err) : sample_job_run(&run, &err))
        cli_fail_in("sample", "%s", err.msg);

    long N = run.n, shape[4] = {N, C, S, S};
    long bad = lz_find_nonfinite(run.samples, N * C * S * S);
    if (bad >= 0)
        cli_fail_in("sample", "sampling produced a non-finite value (sample %ld); nothing was written",
                    bad / ((long)C * S * S));
    run_files_begin(&rf);
    if (npy_write(out, NPY_F32, 4, shape, run.samples, &err)) cli_fail_in("sample", "%s", err.msg);
    int64_t *y64 = lz_malloc(sizeof(int64_t) * (size_t)N, "labels");
    for (long i = 0; i < N; i++) y64[i] = run.labels[i];
    if (npy_write(labels_out, NPY_I64, 1, shape, y64, &err)) cli_fail_in("sample", "%s", err.msg);
    if (png && image_write_grid(png, run.samples, N, C, S, S, grid_cols, &err)) cli_fail_in("sample", "%s", err.msg);
    if (summary_out && sample_job_write_summary(&run, summary_out, &err)) cli_fail_in("sample", "%s", err.msg);
    cli_publish(&rf, "sample");
    printf("wrote %ld samples (%s, %s, %d steps, cfg %g) in %.2fs to %s, labels to %s%s%s\n", N, sampler_name,
           policy_json(&run.policy), run.num_steps, cfg_scale, run.wall_seconds, out, labels_out, png ? ", grid to " : "",
           png ? png : "");
    sample_job_print_summary(&run, stdout);
    if (record)
        printf("recorded run %lld '%s' (experiment '%s') in %s\n", (long long)rec.result.run_id, rec.result.name,
               rec.result.experiment, record);
    free(lpath);
    free(y64);
    sample_job_free(&run);
    npy_free(&z);
    npy_free(&yin);
    cli_policy_options_free(&po);
    return 0;
}
