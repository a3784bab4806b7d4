// lazydit train-lazy / train-l2c / calibrate-gates: LazyDiT gates and
// Learning-to-Cache routers trained on a frozen DiT
// (model/lazy/lazy_train_job.h) and their thresholds calibrated to requested
// lazy ratios (model/lazy/lazy_calibrate.h). The commands parse and check
// their options; the library does the work.
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/lazy/lazy_calibrate.h"
#include "model/lazy/lazy_train_job.h"
#include "model/io/file_rules.h"

#define MAX_TARGETS 16

typedef struct {
    double targets[MAX_TARGETS];
    int ntargets;
    long samples, seed;
    int batch, rounds;
    double tol;
} CalibArgs;

// "0.2,0.3,0.5" -> targets, each in (0, 1); anything else is a usage error.
static void parse_targets(const char *cmd, const char *text, CalibArgs *c) {
    const char *at = text;
    c->ntargets = 0;
    for (;;) {
        char *end = NULL;
        double v = strtod(at, &end);
        if (end == at || (*end && *end != ',') || !(v > 0 && v < 1) || c->ntargets == MAX_TARGETS)
            cli_usage(cmd, "--target-ratio '%s': expected up to %d ratios in (0, 1), comma-separated", text,
                      MAX_TARGETS);
        c->targets[c->ntargets++] = v;
        if (!*end) break;
        at = end + 1;
    }
}

static void check_calib_args(const char *cmd, const CalibArgs *c) {
    if (c->samples < 1 || c->samples > LAZY_EVAL_MAX) cli_usage(cmd, "--calib-samples %ld outside 1..%ld", c->samples, LAZY_EVAL_MAX);
    if (c->seed < 0) cli_usage(cmd, "--calib-seed %ld must be >= 0", c->seed);
    if (c->batch < 1 || c->batch > 4096) cli_usage(cmd, "--calib-batch %d outside 1..4096", c->batch);
    if (!(c->tol > 0 && c->tol <= 0.02)) cli_usage(cmd, "--tol %g outside (0, 0.02]", c->tol);
    if (c->rounds < 1 || c->rounds > 64) cli_usage(cmd, "--max-rounds %d outside 1..64", c->rounds);
}

static LazyCalibJob calib_job(const CalibArgs *c, const char *weights, int heads, GateKind kind, const char *path,
                              const char *out, int staleness, const char *method, LazyModules modules) {
    return (LazyCalibJob){weights,    heads,           kind,    path,    c->targets, c->ntargets,
                          out,        c->samples,      (uint64_t)c->seed, c->batch, c->tol,   c->rounds,
                          staleness,  method,          1,       modules};
}

static int run_command(LazyTrainKind kind, int argc, char **argv) {
    int router = kind == LAZY_TRAIN_ROUTER;
    const char *cmd = router ? "train-l2c" : "train-lazy";
    LazyTrainJob j;
    memset(&j, 0, sizeof j);
    j.command = cmd;
    j.weights = "models/fmnist_dit.safetensors";
    j.data = "train";
    j.threshold = 0.5;
    j.log_every = 20;
    j.checkpoint_every = 25;
    const char *respacing = NULL, *rho_search = NULL, *target_text = NULL;
    int steps = 20, batch = 32, search_rounds = 6;
    long iterations = 0, seed = 0, stop_after = 0, search_iters = 0;
    double lr = router ? 1e-2 : 1e-4, rho = 1e-5, rho_attn = NAN, rho_mlp = NAN, class_dropout = 0.1, wd = 0, clamp = 5;
    bool odd = false, fresh = false;
    CalibArgs c = {{0}, 0, 200, LAZY_CALIB_SEED, 50, 8, 0.005};
    ArgSpec specs[] = {
        {"--out-dir", ARG_STRING, &j.out_dir, true, "run directory: checkpoint.safetensors, loss.csv", false},
        {"--out", ARG_STRING, &j.out, false,
         router ? "router file to write (default OUT_DIR/router.safetensors)"
                : "gate file to write (default OUT_DIR/gates.safetensors)", false},
        {"--weights", ARG_STRING, &j.weights, false, "frozen DiT (default models/fmnist_dit.safetensors)", false},
        {"--heads", ARG_INT, &j.heads, false, "attention heads if the weights file does not say", false},
        {"--data", ARG_STRING, &j.data, false, "training images: 'train' (Fashion-MNIST, default) or a directory", false},
        {"--images", ARG_STRING, &j.images, false, "training images as .npy (N, C, H, W) instead of --data", false},
        {"--labels", ARG_STRING, &j.labels, false, "their labels (N,) .npy (with --images)", false},
        {"--steps", ARG_INT, &steps, false, "sampling steps the file is for (default 20)", false},
        {"--respacing", ARG_STRING, &respacing, false, "their respacing (default --steps as \"N\")", false},
        {"--iterations", ARG_LONG, &iterations, false,
         router ? "optimizer steps (default 30 x (steps / 2): ~30 updates per router step)"
                : "optimizer steps (default 30 x (steps - 1): ~30 updates per step)", false},
        {"--batch", ARG_INT, &batch, false, "images per iteration (default 32)", false},
        {"--lr", ARG_DOUBLE, &lr, false, router ? "AdamW learning rate (default 1e-2)" : "AdamW learning rate (default 1e-4)",
         false},
        {"--weight-decay", ARG_DOUBLE, &wd, false, "AdamW weight decay (default 0)", false},
        {router ? "--lambda" : "--rho", ARG_DOUBLE, &rho, false,
         router ? "L2C regulariser weight lambda on sum(1 - sigmoid(theta)) (default 1e-5)"
                : "laziness weight for both modules (default 1e-5)", false},
        {"--rho-attn", ARG_DOUBLE, &rho_attn, false, "attention laziness weight (default --rho/--lambda)", false},
        {"--rho-mlp", ARG_DOUBLE, &rho_mlp, false, "MLP laziness weight (default --rho/--lambda)", false},
        {"--class-dropout", ARG_DOUBLE, &class_dropout, false, "probability of the null label (default 0.1)", false},
        {"--seed", ARG_LONG, &seed, false, "seed of every random draw (default 0)", false},
        {"--odd-steps-only", ARG_FLAG, &odd, false,
         router ? "(always on for routers: L2C trains the router steps only)"
                : "train only the steps the shipped LazyDiT code trains (caps laziness near 50%)", false},
        {"--clamp", ARG_DOUBLE, &clamp, false, "routers: clamp logits to [-C, C] after each update (L2C: 5; 0 = off)",
         false},
        {"--threshold", ARG_DOUBLE, &j.threshold, false, "inference threshold written to the file (default 0.5)", false},
        {"--target-ratio", ARG_STRING, &target_text, false,
         "after training, calibrate the threshold so the realised lazy ratio is this (within 2 points)", false},
        {"--rho-search", ARG_STRING, &rho_search, false,
         "LO,HI: with --target-ratio, first bisect log(rho) in [LO, HI] over short trainings", false},
        {"--search-iterations", ARG_LONG, &search_iters, false,
         "iterations of each search training (default --iterations / 4)", false},
        {"--search-rounds", ARG_INT, &search_rounds, false, "search trainings at most (default 6)", false},
        {"--calib-samples", ARG_LONG, &c.samples, false, "calibration samples (default 200)", false},
        {"--calib-seed", ARG_LONG, &c.seed, false, "run seed of the calibration samples (default 1; evaluation uses 0)",
         false},
        {"--calib-batch", ARG_INT, &c.batch, false, "samples per chunk while calibrating (default 50)", false},
        {"--log-every", ARG_INT, &j.log_every, false, "progress line every N iterations (default 20)", false},
        {"--checkpoint-every", ARG_INT, &j.checkpoint_every, false, "checkpoint every N iterations (default 25)", false},
        {"--fresh", ARG_FLAG, &fresh, false, "ignore an existing checkpoint in OUT_DIR", false},
        {"--stop-after", ARG_LONG, &stop_after, false, "stop (checkpointed) after N iterations in this invocation", false},
    };
    ArgParser p = {cmd,
                   router ? "--out-dir DIR [--steps 20] [--iterations N] [--batch 32] [--lambda 1e-5] [--lr 1e-2]\n"
                            "       [--target-ratio R] [--out R.safetensors] [--fresh] [--stop-after N]"
                          : "--out-dir DIR [--steps 20] [--iterations N] [--batch 32] [--rho 1e-5] [--lr 1e-4]\n"
                            "       [--odd-steps-only] [--target-ratio R [--rho-search LO,HI]] [--out G.safetensors]",
                   router ? "Trains a Learning-to-Cache router (one logit per step, block and module) on a frozen\n"
                            "DiT: MSE between the full and the router-blended output at the step after a cache\n"
                            "step, plus lambda * sum(1 - sigmoid(theta)). Only the router steps train (L2C's\n"
                            "odd/even pairing, docs/design.md section 13). Resumes from OUT_DIR/checkpoint.safetensors."
                          : "Trains LazyDiT gates (one Linear(D, 1) per step, block and module) on a frozen DiT\n"
                            "as the official code does: a full DDIM step fills the cache, the target is the full\n"
                            "output at the next step, the prediction blends (1 - s) F(Z) + s cache; loss = MSE +\n"
                            "rho * mean_b sum_l (1 - s). Resumes from OUT_DIR/checkpoint.safetensors; a resumed\n"
                            "run ends bit-identical to an uninterrupted one.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    if (steps < 2 || steps > 1000) cli_usage(cmd, "--steps %d: training needs 2..1000 sampling steps", steps);
    if (batch < 1 || batch > 4096) cli_usage(cmd, "--batch %d outside 1..4096", batch);
    if (!args_seen(&p, "--iterations")) iterations = 30L * (router ? steps / 2 : steps - 1);
    if (iterations < 1 || iterations > LAZY_TRAIN_MAX_ITER)
        cli_usage(cmd, "--iterations %ld outside 1..%ld", iterations, LAZY_TRAIN_MAX_ITER);
    if (!(lr > 0 && lr <= 10)) cli_usage(cmd, "--lr %g outside (0, 10]", lr);
    if (!(wd >= 0 && wd <= 1)) cli_usage(cmd, "--weight-decay %g outside [0, 1]", wd);
    if (isnan(rho_attn)) rho_attn = rho;
    if (isnan(rho_mlp)) rho_mlp = rho;
    if (!(rho_attn >= 0 && rho_mlp >= 0 && rho_attn <= 1e6 && rho_mlp <= 1e6))
        cli_usage(cmd, "laziness weights must lie in [0, 1e6] (attn %g, mlp %g)", rho_attn, rho_mlp);
    if (!(class_dropout >= 0 && class_dropout <= 1)) cli_usage(cmd, "--class-dropout %g outside [0, 1]", class_dropout);
    if (seed < 0) cli_usage(cmd, "--seed %ld must be >= 0", seed);
    if (!(clamp >= 0 && clamp <= 1e6)) cli_usage(cmd, "--clamp %g outside [0, 1e6]", clamp);
    if (!(j.threshold >= 0 && j.threshold <= 1)) cli_usage(cmd, "--threshold %g outside [0, 1]", j.threshold);
    if (j.log_every < 1 || j.checkpoint_every < 1) cli_usage(cmd, "--log-every and --checkpoint-every must be >= 1");
    if (stop_after < 0) cli_usage(cmd, "--stop-after %ld must be >= 0", stop_after);
    if (j.images && args_seen(&p, "--data")) cli_usage(cmd, "give --data or --images, not both");
    if (j.labels && !j.images) cli_usage(cmd, "--labels goes with --images");
    if (target_text) parse_targets(cmd, target_text, &c);
    if (target_text && c.ntargets != 1) cli_usage(cmd, "--target-ratio: one ratio (calibrate-gates takes several)");
    check_calib_args(cmd, &c);
    if (rho_search && !target_text) cli_usage(cmd, "--rho-search needs --target-ratio");
    if (rho_search && router) cli_usage(cmd, "--rho-search is for train-lazy (calibrate a router's threshold)");
    LazyRhoSearch search = {c.targets[0], 0, 0, search_rounds, search_iters, c.samples, (uint64_t)c.seed, c.batch};
    if (rho_search) {
        char *end = NULL;
        search.lo = strtod(rho_search, &end);
        if (*end == ',') search.hi = strtod(end + 1, &end);
        if (*end || !(search.lo > 0 && search.hi > search.lo) || !isfinite(search.hi))
            cli_usage(cmd, "--rho-search '%s': expected LO,HI with 0 < LO < HI", rho_search);
        if (search_rounds < 1 || search_rounds > 50) cli_usage(cmd, "--search-rounds %d outside 1..50", search_rounds);
        if (!args_seen(&p, "--search-iterations")) search.iterations = iterations / 4 > 0 ? iterations / 4 : 1;
        if (search.iterations < 1) cli_usage(cmd, "--search-iterations %ld must be >= 1", search.iterations);
    }
    LazyTrainHyper *hp = &j.hp;
    hp->kind = kind;
    hp->steps = steps;
    if (respacing && strlen(respacing) >= sizeof hp->respacing) cli_usage(cmd, "--respacing '%s' is too long", respacing);
    snprintf(hp->respacing, sizeof hp->respacing, "%s", respacing ? respacing : "");
    if (!respacing) snprintf(hp->respacing, sizeof hp->respacing, "%d", steps);
    // The respacing must keep exactly --steps of the 1000-step schedule the
    // default model uses; a model with another schedule is checked again when loaded.
    LzError err;
    unsigned char keep[1000];
    int kept = 0;
    if (diffusion_space_timesteps(keep, &kept, 1000, hp->respacing, &err)) cli_usage(cmd, "--respacing: %s", err.msg);
    if (kept != steps) cli_usage(cmd, "--respacing '%s' keeps %d steps but --steps is %d", hp->respacing, kept, steps);
    hp->batch = batch;
    hp->lr = lr;
    hp->weight_decay = wd;
    hp->rho_attn = rho_attn;
    hp->rho_mlp = rho_mlp;
    hp->class_dropout = class_dropout;
    hp->seed = (uint64_t)seed;
    hp->odd_steps_only = odd || router;
    hp->clamp = router ? clamp : 0;
    j.iterations = iterations;

    const char *method = "threshold";
    if (rho_search) {
        double best;
        if (lazy_rho_search(&best, &j, &search, 1, &err)) cli_fail_in(cmd, "%s", err.msg);
        fprintf(stderr, "rho search: using rho %.4g for the full training\n", best);
        hp->rho_attn = hp->rho_mlp = best;
        method = "rho+threshold";
    }
    LazyTrainRunOptions o = {fresh, stop_after, 1};
    LazyTrainRunResult r;
    if (lazy_train_run(&r, &j, &o, &err)) cli_fail_in(cmd, "%s", err.msg);
    if (r.finished && target_text) {
        // Calibrated in place: the trained file becomes the calibrated one. It
        // is moved aside under a temporary name of the output (so a killed run's
        // copy is removed by the next write of that name, model/io/file_rules.h)
        // and moved back if the calibration fails: the trained file is kept.
        char *tmp = lz_temp_name(r.out, 999999);
        if (rename(r.out, tmp)) cli_fail_in(cmd, "cannot rename %s to %s: %s", r.out, tmp, strerror(errno));
        LazyCalibJob cj = calib_job(&c, j.weights, j.heads, router ? GATES_L2C : GATES_LAZYDIT, tmp, r.out, -1, method,
                                    LAZY_MOD_BOTH);
        int rc = lazy_calibrate_run(&cj, &err);
        if (rc) {
            int back = rename(tmp, r.out);
            free(tmp);
            cli_fail_in(cmd, "%s%s%s", err.msg, back ? "" : "; the trained, uncalibrated file is kept as ",
                        back ? "" : r.out);
        }
        remove(tmp);
        free(tmp);
    }
    return 0;
}

int cmd_train_lazy(int argc, char **argv) { return run_command(LAZY_TRAIN_GATES, argc, argv); }
int cmd_train_l2c(int argc, char **argv) { return run_command(LAZY_TRAIN_ROUTER, argc, argv); }

// lazydit calibrate-gates: the threshold of an existing gate or router file
// calibrated to one or several lazy ratios.
int cmd_calibrate_gates(int argc, char **argv) {
    const char *cmd = "calibrate-gates", *gates = NULL, *router = NULL, *weights = "models/fmnist_dit.safetensors",
               *out = NULL, *target_text = NULL, *modules_text = "both";
    int heads = 0, staleness = -1;
    CalibArgs c = {{0}, 0, 200, LAZY_CALIB_SEED, 50, 8, 0.005};
    ArgSpec specs[] = {
        {"--gates", ARG_STRING, &gates, false, "LazyDiT gate file", false},
        {"--router", ARG_STRING, &router, false, "L2C router file", false},
        {"--weights", ARG_STRING, &weights, false, "the DiT (default models/fmnist_dit.safetensors)", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the weights file does not say", false},
        {"--target-ratio", ARG_STRING, &target_text, true,
         "the realised lazy ratio to reach; several: 0.2,0.3,... (one file each)", false},
        {"--out", ARG_STRING, &out, true,
         "calibrated file; with several targets it must contain {r} (the ratio in percent)", false},
        {"--calib-samples", ARG_LONG, &c.samples, false, "calibration samples (default 200)", false},
        {"--calib-seed", ARG_LONG, &c.seed, false, "run seed of the calibration samples (default 1; evaluation uses 0)",
         false},
        {"--calib-batch", ARG_INT, &c.batch, false, "samples per chunk (default 50)", false},
        {"--tol", ARG_DOUBLE, &c.tol, false, "stop once within this of the target (default 0.005)", false},
        {"--max-rounds", ARG_INT, &c.rounds, false, "sampling runs per target at most (default 8)", false},
        {"--staleness", ARG_INT, &staleness, false,
         "gates: calibrate under (and record) this bound on consecutive reuses, 0 = unlimited (default: the file's)",
         false},
        {"--modules", ARG_STRING, &modules_text, false,
         "attn|mlp|both: make only this family lazy and calibrate its ratio (default both; recorded in the file)",
         false},
    };
    ArgParser p = {cmd,
                   "(--gates G | --router R) --target-ratio R[,R...] --out OUT[{r}].safetensors [--calib-samples 200]\n"
                   "       [--calib-seed 1] [--staleness N] [--modules attn|mlp|both]",
                   "Calibrates the inference threshold of a LazyDiT gate file or an L2C router file so\n"
                   "that the realised lazy ratio (reused / all (model row, step, block, module) slots\n"
                   "under CFG 1.5) is within 2 points of each target, on calibration samples whose\n"
                   "noise is disjoint from the evaluation samples of seed 0, and writes one file per\n"
                   "target. --modules attn (or mlp) runs the policy on attention (MLP) modules only\n"
                   "and calibrates the ratio of that family (reused attention slots / attention\n"
                   "slots), for the module ablation; the file records it (`modules`) and is meant\n"
                   "for `--policy lazydit --modules attn`. Measure a file on other samples with\n"
                   "`lazydit sample --policy lazydit --gates G [--modules M] --json-summary S.json`\n"
                   "(or --policy l2c --router R).",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if ((gates != NULL) == (router != NULL)) cli_usage(cmd, "give exactly one of --gates and --router");
    LazyModules modules;
    if (lazy_modules_parse(modules_text, &modules)) cli_usage(cmd, "--modules '%s': expected attn, mlp or both", modules_text);
    parse_targets(cmd, target_text, &c);
    if (c.ntargets > 1 && !strstr(out, "{r}")) cli_usage(cmd, "--out '%s': several targets need {r} in the file name", out);
    check_calib_args(cmd, &c);
    if (args_seen(&p, "--staleness") && (staleness < 0 || staleness > 65535 || router))
        cli_usage(cmd, "--staleness %d: a bound in 0..65535, for --gates files", staleness);
    LazyCalibJob j = calib_job(&c, weights, heads, gates ? GATES_LAZYDIT : GATES_L2C, gates ? gates : router, out,
                               staleness, NULL, modules);
    GateFile g;
    LzError err;
    // A file that was reached through a rho search keeps saying so.
    if (gates_read(&g, j.path, j.kind, &err)) cli_fail_in(cmd, "%s", err.msg);
    j.method = strcmp(g.calibration, "rho+threshold") ? "threshold" : "rho+threshold";
    gates_free(&g);
    if (lazy_calibrate_run(&j, &err)) cli_fail_in(cmd, "%s", err.msg);
    return 0;
}
