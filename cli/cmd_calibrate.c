// lazydit calibrate: full-compute sampling runs that fit TeaCache's rescaling
// polynomial or measure SmoothCache's error curves (model/lazy/calibrate.h),
// written as a calibration file (model/lazy/calibration.h) for one model,
// step count and respacing.
//
// Seeds: calibration sample i starts from the per-sample seed of index
// 2^31 + i of the run seed (SAMPLER_CALIBRATION_OFFSET); evaluation runs use
// indices below 2^31, so for the same --seed the calibration and evaluation
// samples never share an initial noise.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/lazy/calibrate.h"
#include "model/sample_job.h"

int cmd_calibrate(int argc, char **argv) {
    const char *policy = NULL, *weights = NULL, *respacing = NULL, *out = NULL;
    long n = 32, seed = 0;
    int steps = 50, batch = 0, heads = 0, lookahead = 3;
    double cfg_scale = 1.5;
    bool quiet = false;
    ArgSpec specs[] = {
        {"--policy", ARG_STRING, &policy, true, "teacache or smoothcache", false},
        {"--weights", ARG_STRING, &weights, true, "DiT checkpoint (.safetensors)", false},
        {"--steps", ARG_INT, &steps, true, "sampling steps of the runs the file is for", false},
        {"--respacing", ARG_STRING, &respacing, false, "kept timesteps (default: --steps as \"N\")", false},
        {"--n", ARG_LONG, &n, false, "calibration samples (default 32; labels i % classes)", false},
        {"--seed", ARG_LONG, &seed, false,
         "run seed (default 0); sample i uses per-sample seed index 2^31 + i, disjoint from evaluation runs", false},
        {"--cfg-scale", ARG_DOUBLE, &cfg_scale, false, "guidance scale of the runs (default 1.5; both CFG rows count)",
         false},
        {"--lookahead", ARG_INT, &lookahead, false, "smoothcache: longest reuse distance measured (default 3)", false},
        {"--batch", ARG_INT, &batch, false, "samples per chunk (default min(N, 32))", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the file does not say", false},
        {"--out", ARG_STRING, &out, true, "calibration JSON (written atomically)", false},
        {"--quiet", ARG_FLAG, &quiet, false, "no progress bar", false},
    };
    ArgParser p = {"calibrate",
                   "--policy teacache|smoothcache --weights W --steps K [--respacing R] [--n 32] [--seed 0]\n"
                   "       [--cfg-scale 1.5] [--lookahead 3] --out C.json",
                   "Runs full-compute DDIM sampling (eta 0) on calibration seeds and writes what a\n"
                   "training-free caching policy needs for this model, step count and respacing:\n"
                   "  teacache:    the least-squares degree-4 polynomial from the relative L1 change of\n"
                   "               block 0's modulated input to the relative L1 change of the stack\n"
                   "               residual, over consecutive steps of every model row;\n"
                   "  smoothcache: per module type, step s and lookahead k, the mean relative L1 error\n"
                   "               between the module outputs of steps s and s + k.\n"
                   "Calibration sample i starts from per-sample seed index 2^31 + i of --seed, so it\n"
                   "never shares its noise with sample i of an evaluation run with the same seed.\n"
                   "Use the file with lazydit sample --policy NAME --calibration C.json.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    int tea = !strcmp(policy, "teacache");
    if (!tea && strcmp(policy, "smoothcache"))
        cli_usage(p.command, "--policy '%s': calibration exists for teacache and smoothcache", policy);
    if (n < 1) cli_usage(p.command, "--n %ld must be >= 1", n);
    if (seed < 0) cli_usage(p.command, "--seed %ld must be >= 0", seed);
    if (steps < 2) cli_usage(p.command, "--steps %d: calibration needs at least 2 steps", steps);
    if (tea && args_seen(&p, "--lookahead")) cli_usage(p.command, "--lookahead applies to smoothcache only");
    if (!tea && (lookahead < 1 || lookahead > LAZY_CALIB_MAX_LOOKAHEAD || lookahead >= steps))
        cli_usage(p.command, "--lookahead %d must be in 1..%d and below --steps %d", lookahead, LAZY_CALIB_MAX_LOOKAHEAD,
                        steps);
    if (args_seen(&p, "--batch") && batch < 1) cli_usage(p.command, "--batch %d must be >= 1", batch);

    if (args_seen(&p, "--heads") && heads < 1) cli_usage(p.command, "--heads %d must be >= 1 (leave it out to infer)", heads);
    RunFiles rf;
    run_files_init(&rf);
    cli_input(&rf, "calibrate", weights);
    cli_output(&rf, "calibrate", out, RF_STAGED);

    SampleJob job = {0};
    job.weights = weights;
    job.heads = heads;
    job.n = n;
    job.steps = steps;
    job.steps_given = 1;
    job.respacing = respacing;
    job.cfg_scale = cfg_scale;
    job.batch = batch;
    job.seed = (uint64_t)seed;
    job.sample_offset = SAMPLER_CALIBRATION_OFFSET;
    job.progress = !quiet;
    SampleRun run;
    LzError err;
    int rc = sample_job_prepare(&run, &job, &err);
    if (rc == SAMPLE_JOB_USAGE) cli_usage(p.command, "%s", err.msg);
    if (rc) cli_fail_in("calibrate", "%s", err.msg);
    int K = run.num_steps;
    if (!tea && lookahead >= K) cli_usage(p.command, "--lookahead %d must be below the %d steps", lookahead, K);
    long total_rows = run.n * (run.sampler.use_cfg ? 2 : 1);
    LazyCalibrator cal;
    lazy_calibrator_init(&cal, policy, &run.model.cfg, run.model.max_batch, K, lookahead, total_rows);
    run.job.hooks = &cal.hooks;
    if (sample_job_run(&run, &err)) cli_fail_in("calibrate", "%s", err.msg);

    LazyCalibration c;
    lazy_calibration_alloc(&c, policy, K, run.respacing, tea ? 0 : lookahead);
    memcpy(c.timesteps, run.timesteps, sizeof(long) * (size_t)K);
    memcpy(c.model_sha256, run.model_sha256, sizeof c.model_sha256);
    c.samples = run.n;
    c.seed = (uint64_t)seed;
    c.sample_offset = SAMPLER_CALIBRATION_OFFSET;
    c.cfg_scale = cfg_scale;
    if (lazy_calibrator_finish(&cal, &c, &err)) cli_fail_in("calibrate", "%s", err.msg);
    run_files_begin(&rf);
    if (lazy_calibration_write(out, &c, &err)) cli_fail_in("calibrate", "%s", err.msg);
    cli_publish(&rf, "calibrate");
    if (tea) {
        printf("teacache: %ld points (%ld model rows x %d step pairs), x in [%.4g, %.4g]\n", c.points, total_rows, K - 1,
               c.x_min, c.x_max);
        printf("  y = %.6g x^4 + %.6g x^3 + %.6g x^2 + %.6g x + %.6g (R^2 %.4f)\n", c.coef[0], c.coef[1], c.coef[2],
               c.coef[3], c.coef[4], c.r2);
    } else {
        for (int m = 0; m < 2; m++) {
            printf("smoothcache %s, relative L1 error of reusing step s at s+1:", m == 0 ? "attn" : "mlp");
            for (int s = 0; s + 1 < K; s++) printf(" %.3g", lazy_calib_err(&c, m, 1, s));
            printf("\n");
        }
    }
    printf("wrote %s (%s, %d steps, respacing %s, %ld samples in %.1fs)\n", out, policy, K, run.respacing, run.n,
           run.wall_seconds);
    lazy_calibration_free(&c);
    lazy_calibrator_free(&cal);
    sample_job_free(&run);
    return 0;
}
