// lazydit train-lazy / train-l2c: LazyDiT gates and Learning-to-Cache routers
// trained on a frozen DiT (model/lazy/lazy_train.h), with checkpoints, exact
// resume, a per-iteration loss CSV, the exported gate/router file
// (model/lazy/gates.h) and, optionally, a calibrated threshold for a
// requested lazy ratio (model/lazy/lazy_calibrate.h), reached either by the
// threshold alone or by a search over rho first.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/base/clock.h"
#include "model/base/sha256.h"
#include "model/io/atomic_file.h"
#include "model/lazy/lazy_calibrate.h"
#include "model/lazy/lazy_train.h"

typedef struct {
    const char *cmd;         // "train-lazy" or "train-l2c"
    LazyTrainHyper hp;
    const char *weights, *data, *images, *labels, *out_dir, *out;
    long iterations;
    int heads, log_every, checkpoint_every;
    double threshold;
    char sha_hex[SHA256_HEX_LEN];
    uint8_t sha[SHA256_BYTES];
} TrainLazyRun;

// The options that fix the trajectory of a run (resume key). The iteration
// count is not among them: nothing in an iteration depends on the total, so
// a finished run can be extended.
static char *options_json(const TrainLazyRun *r) {
    const LazyTrainHyper *hp = &r->hp;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", hp->kind == LAZY_TRAIN_ROUTER ? "l2c-router" : "lazydit-gates");
    cJSON_AddStringToObject(j, "model_sha256", r->sha_hex);
    cJSON_AddStringToObject(j, "data", r->data);
    cJSON_AddNumberToObject(j, "steps", hp->steps);
    cJSON_AddStringToObject(j, "respacing", hp->respacing);
    cJSON_AddNumberToObject(j, "batch", hp->batch);
    cJSON_AddNumberToObject(j, "lr", hp->lr);
    cJSON_AddNumberToObject(j, "weight_decay", hp->weight_decay);
    cJSON_AddNumberToObject(j, "rho_attn", hp->rho_attn);
    cJSON_AddNumberToObject(j, "rho_mlp", hp->rho_mlp);
    cJSON_AddNumberToObject(j, "class_dropout", hp->class_dropout);
    cJSON_AddNumberToObject(j, "seed", (double)hp->seed);
    cJSON_AddBoolToObject(j, "odd_steps_only", hp->odd_steps_only || hp->kind == LAZY_TRAIN_ROUTER);
    cJSON_AddNumberToObject(j, "clamp", hp->clamp);
    char *s = cJSON_PrintUnformatted(j);
    CHECK(s, "out of memory printing options");
    cJSON_Delete(j);
    return s;
}

// The options plus the iteration count: provenance in the exported file.
static char *training_json(const TrainLazyRun *r, long iterations) {
    char *o = options_json(r);
    cJSON *j = cJSON_Parse(o);
    cJSON_free(o);
    cJSON_AddStringToObject(j, "command", r->cmd);
    cJSON_AddNumberToObject(j, "iterations", (double)iterations);
    char *s = cJSON_PrintUnformatted(j);
    CHECK(s, "out of memory printing options");
    cJSON_Delete(j);
    return s;
}

extern int openblas_get_num_threads(void);

// Trains r->iterations iterations in out_dir (resuming from its checkpoint
// unless fresh), then exports the file to `out`. stop_after > 0 stops early
// (checkpointed). Returns 1 when the run is complete and exported.
static int train(const TrainLazyRun *r, const Dataset *ds, const char *out_dir, const char *out, bool fresh,
                 long stop_after, bool quiet) {
    LzError err;
    DitConfig cfg;
    float *params = NULL;
    if (dit_load(r->weights, r->heads, &cfg, &params, &err)) cli_fail_in(r->cmd, "%s", err.msg);
    LazyTrainer tr;
    lazy_trainer_init(&tr, &cfg, params, &r->hp, ds->n);
    char *opts = options_json(r);
    if (lz_mkdir_p(out_dir, &err)) cli_fail_in(r->cmd, "%s", err.msg);
    char ckpt[1100], csv[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", out_dir);
    snprintf(csv, sizeof csv, "%s/loss.csv", out_dir);
    if (!fresh && access(ckpt, F_OK) == 0) {
        if (lazy_trainer_load(&tr, ckpt, opts, &err)) cli_fail_in(r->cmd, "%s", err.msg);
        if (!quiet) fprintf(stderr, "resuming %s at iteration %ld of %ld\n", ckpt, tr.iter, r->iterations);
    }
    FILE *loss = cli_open_csv_resume(
        csv, "iteration,step,loss,mse,lazy_attn,lazy_mlp,soft_ratio,hard_ratio,samples_per_s,elapsed_s", tr.iter);
    if (!quiet)
        fprintf(stderr,
                "%s: %d steps (respacing %s), batch %d, lr %g, rho attn %g mlp %g, %s, %ld iterations; "
                "%ld images; %d BLAS threads\n",
                r->cmd, r->hp.steps, tr.hp.respacing, r->hp.batch, r->hp.lr, r->hp.rho_attn, r->hp.rho_mlp,
                r->hp.kind == LAZY_TRAIN_ROUTER || r->hp.odd_steps_only ? "odd cache steps only" : "all steps",
                r->iterations, ds->n, openblas_get_num_threads());
    double t0 = lz_now_seconds(), tw = t0;
    long run = 0, w0 = tr.iter;
    while (tr.iter < r->iterations) {
        lazy_trainer_step(&tr, ds);
        run++;
        CHECK(isfinite(tr.loss), "%s diverged at iteration %ld: loss %g", r->cmd, tr.iter, tr.loss);
        double now = lz_now_seconds();
        fprintf(loss, "%ld,%d,%.8g,%.8g,%.6g,%.6g,%.6f,%.6f,%.2f,%.1f\n", tr.iter, tr.step, tr.loss, tr.mse,
                tr.lazy_attn, tr.lazy_mlp, tr.soft_ratio, tr.hard_ratio, r->hp.batch / (now - tw), now - t0);
        fflush(loss);
        tw = now;
        if (!quiet && (tr.iter % r->log_every == 0 || tr.iter == r->iterations)) {
            double sps = (double)(tr.iter - w0) * r->hp.batch / (now - t0);
            fprintf(stderr, "iteration %ld/%ld  step %d  loss %.4g (mse %.4g)  soft ratio %.3f  %.1f samples/s\n",
                    tr.iter, r->iterations, tr.step, tr.loss, tr.mse, tr.soft_ratio, sps);
        }
        bool stop = stop_after > 0 && run >= stop_after;
        if (tr.iter % r->checkpoint_every == 0 || tr.iter == r->iterations || stop)
            if (lazy_trainer_save(&tr, ckpt, opts, &err)) cli_fail_in(r->cmd, "%s", err.msg);
        if (stop) break;
    }
    fclose(loss);
    int done = tr.iter >= r->iterations;
    if (done) {
        GateFile *g = &tr.gates;
        snprintf(g->model_sha256, sizeof g->model_sha256, "%s", r->sha_hex);
        g->threshold = r->threshold;
        char *tj = training_json(r, tr.iter);  // what was trained (a resumed run may have gone further)
        gates_set_training(g, tj);
        cJSON_free(tj);
        if (gates_write(g, out, &err)) cli_fail_in(r->cmd, "%s", err.msg);
        if (!quiet) fprintf(stderr, "wrote %s (%s, threshold %g)\n", out, gates_kind_name(g->kind), g->threshold);
    }
    cJSON_free(opts);
    lazy_trainer_free(&tr);
    return done;
}

#define MAX_TARGETS 16

typedef struct {
    double targets[MAX_TARGETS];
    int ntargets;
    long samples;
    long seed;
    int batch;
    double tol;
    int rounds;
} CalibArgs;

// "0.2,0.3,0.5" -> targets, each in (0, 1). Usage errors exit 2.
static void parse_targets(const char *cmd, const char *text, CalibArgs *c) {
    const char *at = text;
    c->ntargets = 0;
    for (;;) {
        char *end = NULL;
        double v = strtod(at, &end);
        if (end == at || (*end && *end != ',') || !(v > 0 && v < 1) || c->ntargets == MAX_TARGETS) {
            fprintf(stderr, "lazydit %s: --target-ratio '%s': expected up to %d ratios in (0, 1), comma-separated\n", cmd,
                    text, MAX_TARGETS);
            exit(2);
        }
        c->targets[c->ntargets++] = v;
        if (!*end) break;
        at = end + 1;
    }
}

static LazyMeasureSpec calib_spec(const CalibArgs *c) {
    return (LazyMeasureSpec){c->samples, (uint64_t)c->seed, c->batch, 1.5f, 0};
}

static void check_calib_seed(const char *cmd, const CalibArgs *c) {
    if (!lazy_seeds_disjoint(0, LAZY_EVAL_MAX, (uint64_t)c->seed, c->samples))
        cli_fail_in(cmd, "--calib-seed %ld: its %ld samples share noise with the first %ld evaluation samples of seed 0",
                    c->seed, c->samples, LAZY_EVAL_MAX);
}

// Measures the lazy ratio of a gate/router file at its own threshold.
static double measure_ratio(const char *cmd, DitModel *m, const uint8_t *sha, const Diffusion *d, GateKind kind,
                            const char *path, const char *respacing, const CalibArgs *c) {
    PolicyArg a = {kind == GATES_L2C ? "router" : "gates", path};
    LazyMeasureSpec spec = calib_spec(c);
    LazySummary s;
    LzError err;
    if (lazy_measure(m, sha, d, respacing, kind == GATES_L2C ? "l2c" : "lazydit", &a, 1, &spec, NULL, NULL, &s, NULL,
                     &err))
        cli_fail_in(cmd, "%s", err.msg);
    return s.lazy_ratio;
}

// The output path of target r: `out` with "{r}" replaced by the ratio in percent ("30").
static void out_path(char *buf, size_t cap, const char *out, double r) {
    const char *at = strstr(out, "{r}");
    if (!at) {
        snprintf(buf, cap, "%s", out);
        return;
    }
    snprintf(buf, cap, "%.*s%02ld%s", (int)(at - out), out, lround(r * 100), at + 3);
}

// Calibrates the file at `path` to every target and writes one file per
// target it meets; exits 1 afterwards when a target is missed by more than 2
// points (naming one), without a file for it.
static void calibrate_file(const char *cmd, DitModel *m, const uint8_t *sha, GateKind kind, const char *path,
                           const char *out, const CalibArgs *c, const char *method, int staleness) {
    LzError err;
    GateFile g;
    if (gates_read(&g, path, kind, &err)) cli_fail_in(cmd, "%s", err.msg);
    Diffusion d;
    if (diffusion_create(&d, "linear", 1000, g.respacing, &err)) cli_fail_in(cmd, "%s: %s", path, err.msg);
    // A staleness bound (>= 0) is calibrated under and recorded in the files; -1 keeps the file's.
    char stale_text[16];
    snprintf(stale_text, sizeof stale_text, "%d", staleness);
    PolicyArg extra = {"staleness", stale_text};
    LazyCalibOptions o = {c->tol, c->rounds, calib_spec(c), &extra, staleness >= 0 && kind == GATES_LAZYDIT};
    if (staleness >= 0) g.staleness = staleness;
    double thr[MAX_TARGETS];
    LazySummary s[MAX_TARGETS];
    if (lazy_calibrate_thresholds(m, sha, &d, kind, path, c->targets, c->ntargets, &o, thr, s, &err))
        cli_fail_in(cmd, "%s", err.msg);
    diffusion_free(&d);
    int missed = -1;
    for (int i = 0; i < c->ntargets; i++) {
        if (fabs(s[i].lazy_ratio - c->targets[i]) > 0.02) {
            missed = i;
            continue;  // the other targets are still written
        }
        char dst[1200];
        out_path(dst, sizeof dst, out, c->targets[i]);
        g.threshold = thr[i];
        snprintf(g.calibration, sizeof g.calibration, "%s", method);
        g.target_ratio = c->targets[i];
        g.realised_ratio = s[i].lazy_ratio;
        g.calibration_samples = c->samples;
        g.calibration_seed = c->seed;
        g.calibration_cfg = 1.5;
        if (gates_write(&g, dst, &err)) cli_fail_in(cmd, "%s", err.msg);
        fprintf(stderr, "%s: threshold %.9g, lazy ratio %.4f (attn %.4f, mlp %.4f; target %.4f) on %ld samples of seed %ld\n",
                dst, thr[i], s[i].lazy_ratio, s[i].lazy_ratio_attn, s[i].lazy_ratio_mlp, c->targets[i], c->samples,
                c->seed);
    }
    gates_free(&g);
    if (missed >= 0)
        cli_fail_in(cmd, "%s: the closest threshold %.9g gives lazy ratio %.4f, more than 2 points from %.4f "
                    "(train with another rho)", path, thr[missed], s[missed].lazy_ratio, c->targets[missed]);
}

static int run_command(LazyTrainKind kind, int argc, char **argv) {
    TrainLazyRun r;
    memset(&r, 0, sizeof r);
    r.cmd = kind == LAZY_TRAIN_ROUTER ? "train-l2c" : "train-lazy";
    r.weights = "models/fmnist_dit.safetensors";
    r.data = "train";
    const char *respacing = NULL, *rho_search = NULL;
    int steps = 20, batch = 32;
    long iterations = 0, seed = 0, stop_after = 0, search_iters = 0;
    int search_rounds = 6;
    double lr = kind == LAZY_TRAIN_ROUTER ? 1e-2 : 1e-4, rho = 1e-5;
    double rho_attn = NAN, rho_mlp = NAN, class_dropout = 0.1, wd = 0, clamp = 5;
    bool odd = false, fresh = false;
    CalibArgs c = {{0}, 0, 200, LAZY_CALIB_SEED, 50, 0.005, 8};
    const char *target_text = NULL;
    r.threshold = 0.5;
    r.log_every = 20;
    r.checkpoint_every = 25;
    int is_router = kind == LAZY_TRAIN_ROUTER;
    ArgSpec specs[] = {
        {"--out-dir", ARG_STRING, &r.out_dir, true, "run directory: checkpoint.safetensors, loss.csv", false},
        {"--out", ARG_STRING, &r.out, false,
         is_router ? "router file to write (default OUT_DIR/router.safetensors)"
                   : "gate file to write (default OUT_DIR/gates.safetensors)", false},
        {"--weights", ARG_STRING, &r.weights, false, "frozen DiT (default models/fmnist_dit.safetensors)", false},
        {"--heads", ARG_INT, &r.heads, false, "attention heads if the weights file does not say", false},
        {"--data", ARG_STRING, &r.data, false, "training images: 'train' (Fashion-MNIST, default) or a directory", false},
        {"--images", ARG_STRING, &r.images, false, "training images as .npy (N, C, H, W) instead of --data", false},
        {"--labels", ARG_STRING, &r.labels, false, "their labels (N,) .npy (with --images)", false},
        {"--steps", ARG_INT, &steps, false, "sampling steps the file is for (default 20)", false},
        {"--respacing", ARG_STRING, &respacing, false, "their respacing (default --steps as \"N\")", false},
        {"--iterations", ARG_LONG, &iterations, false,
         is_router ? "optimizer steps (default 30 x (steps / 2): ~30 updates per router step)"
                   : "optimizer steps (default 30 x (steps - 1): ~30 updates per step)", false},
        {"--batch", ARG_INT, &batch, false, "images per iteration (default 32)", false},
        {"--lr", ARG_DOUBLE, &lr, false, is_router ? "AdamW learning rate (default 1e-2)" : "AdamW learning rate (default 1e-4)",
         false},
        {"--weight-decay", ARG_DOUBLE, &wd, false, "AdamW weight decay (default 0)", false},
        {is_router ? "--lambda" : "--rho", ARG_DOUBLE, &rho, false,
         is_router ? "L2C regulariser weight lambda on sum(1 - sigmoid(theta)) (default 1e-5)"
                   : "laziness weight for both modules (default 1e-5)", false},
        {"--rho-attn", ARG_DOUBLE, &rho_attn, false, "attention laziness weight (default --rho/--lambda)", false},
        {"--rho-mlp", ARG_DOUBLE, &rho_mlp, false, "MLP laziness weight (default --rho/--lambda)", false},
        {"--class-dropout", ARG_DOUBLE, &class_dropout, false, "probability of the null label (default 0.1)", false},
        {"--seed", ARG_LONG, &seed, false, "seed of every random draw (default 0)", false},
        {"--odd-steps-only", ARG_FLAG, &odd, false,
         is_router ? "(always on for routers: L2C trains the router steps only)"
                   : "train only the steps the shipped LazyDiT code trains (caps laziness near 50%)", false},
        {"--clamp", ARG_DOUBLE, &clamp, false, "routers: clamp logits to [-C, C] after each update (L2C: 5; 0 = off)",
         false},
        {"--threshold", ARG_DOUBLE, &r.threshold, false, "inference threshold written to the file (default 0.5)", false},
        {"--target-ratio", ARG_STRING, &target_text, false,
         "after training, calibrate the threshold so the realised lazy ratio is this (within 2 points)", false},
        {"--rho-search", ARG_STRING, &rho_search, false,
         "LO,HI: with --target-ratio, first bisect log(rho) in [LO, HI] over short trainings", false},
        {"--search-iterations", ARG_LONG, &search_iters, false, "iterations of each search training (default --iterations / 4)",
         false},
        {"--search-rounds", ARG_INT, &search_rounds, false, "search trainings at most (default 6)", false},
        {"--calib-samples", ARG_LONG, &c.samples, false, "calibration samples (default 200)", false},
        {"--calib-seed", ARG_LONG, &c.seed, false, "run seed of the calibration samples (default 1; evaluation uses 0)",
         false},
        {"--calib-batch", ARG_INT, &c.batch, false, "samples per chunk while calibrating (default 50)", false},
        {"--log-every", ARG_INT, &r.log_every, false, "progress line every N iterations (default 20)", false},
        {"--checkpoint-every", ARG_INT, &r.checkpoint_every, false, "checkpoint every N iterations (default 25)", false},
        {"--fresh", ARG_FLAG, &fresh, false, "ignore an existing checkpoint in OUT_DIR", false},
        {"--stop-after", ARG_LONG, &stop_after, false, "stop (checkpointed) after N iterations in this invocation", false},
    };
    ArgParser p = {r.cmd,
                   is_router ? "--out-dir DIR [--steps 20] [--iterations N] [--batch 32] [--lambda 1e-5] [--lr 1e-2]\n"
                               "       [--target-ratio R] [--out R.safetensors] [--fresh] [--stop-after N]"
                             : "--out-dir DIR [--steps 20] [--iterations N] [--batch 32] [--rho 1e-5] [--lr 1e-4]\n"
                               "       [--odd-steps-only] [--target-ratio R [--rho-search LO,HI]] [--out G.safetensors]",
                   is_router
                       ? "Trains a Learning-to-Cache router (one logit per step, block and module) on a frozen\n"
                         "DiT: MSE between the full and the router-blended output at the step after a cache\n"
                         "step, plus lambda * sum(1 - sigmoid(theta)). Only the router steps train (L2C's\n"
                         "odd/even pairing, see README). Resumes from OUT_DIR/checkpoint.safetensors."
                       : "Trains LazyDiT gates (one Linear(D, 1) per step, block and module) on a frozen DiT\n"
                         "as the official code does: a full DDIM step fills the cache, the target is the full\n"
                         "output at the next step, the prediction blends (1 - s) F(Z) + s cache; loss = MSE +\n"
                         "rho * mean_b sum_l (1 - s). Resumes from OUT_DIR/checkpoint.safetensors; a resumed\n"
                         "run ends bit-identical to an uninterrupted one.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);

    const char *cmd = r.cmd;
    if (steps < 2 || steps > 1000) cli_fail_in(cmd, "--steps %d: training needs 2..1000 sampling steps", steps);
    if (batch < 1 || batch > 4096) cli_fail_in(cmd, "--batch %d outside 1..4096", batch);
    if (!args_seen(&p, "--iterations")) iterations = 30L * (is_router ? steps / 2 : steps - 1);
    if (iterations < 1) cli_fail_in(cmd, "--iterations %ld must be >= 1", iterations);
    if (!(lr > 0 && lr <= 10)) cli_fail_in(cmd, "--lr %g outside (0, 10]", lr);
    if (!(wd >= 0 && wd <= 1)) cli_fail_in(cmd, "--weight-decay %g outside [0, 1]", wd);
    if (isnan(rho_attn)) rho_attn = rho;
    if (isnan(rho_mlp)) rho_mlp = rho;
    if (!(rho_attn >= 0 && rho_mlp >= 0 && rho_attn <= 1e6 && rho_mlp <= 1e6))
        cli_fail_in(cmd, "laziness weights must lie in [0, 1e6] (attn %g, mlp %g)", rho_attn, rho_mlp);
    if (!(class_dropout >= 0 && class_dropout <= 1)) cli_fail_in(cmd, "--class-dropout %g outside [0, 1]", class_dropout);
    if (seed < 0) cli_fail_in(cmd, "--seed %ld must be >= 0", seed);
    if (!(clamp >= 0)) cli_fail_in(cmd, "--clamp %g must be >= 0", clamp);
    if (!(r.threshold >= 0 && r.threshold <= 1)) cli_fail_in(cmd, "--threshold %g outside [0, 1]", r.threshold);
    if (r.log_every < 1 || r.checkpoint_every < 1) cli_fail_in(cmd, "--log-every and --checkpoint-every must be >= 1");
    if (stop_after < 0) cli_fail_in(cmd, "--stop-after %ld must be >= 0", stop_after);
    bool calibrate = target_text != NULL;
    if (calibrate) parse_targets(cmd, target_text, &c);
    if (calibrate && c.ntargets != 1) cli_fail_in(cmd, "--target-ratio: one ratio (use calibrate-gates for several)");
    if (c.samples < 1 || c.samples > 100000) cli_fail_in(cmd, "--calib-samples %ld outside 1..100000", c.samples);
    if (c.seed < 0) cli_fail_in(cmd, "--calib-seed %ld must be >= 0", c.seed);
    if (c.batch < 1) cli_fail_in(cmd, "--calib-batch %d must be >= 1", c.batch);
    if (r.images && args_seen(&p, "--data")) cli_fail_in(cmd, "give --data or --images, not both");
    if (r.labels && !r.images) cli_fail_in(cmd, "--labels goes with --images");
    if (r.images) r.data = r.images;
    if (rho_search && !calibrate) cli_fail_in(cmd, "--rho-search needs --target-ratio");
    if (rho_search && is_router) cli_fail_in(cmd, "--rho-search is for train-lazy (calibrate a router's threshold)");
    double rho_lo = 0, rho_hi = 0;
    if (rho_search) {
        char *end = NULL;
        rho_lo = strtod(rho_search, &end);
        if (*end != ',' || !(rho_lo > 0)) cli_fail_in(cmd, "--rho-search '%s': expected LO,HI with 0 < LO < HI", rho_search);
        rho_hi = strtod(end + 1, &end);
        if (*end || !(rho_hi > rho_lo) || !isfinite(rho_hi))
            cli_fail_in(cmd, "--rho-search '%s': expected LO,HI with 0 < LO < HI", rho_search);
        if (search_rounds < 1) cli_fail_in(cmd, "--search-rounds %d must be >= 1", search_rounds);
        if (search_iters == 0) search_iters = iterations / 4 > 0 ? iterations / 4 : 1;
        if (search_iters < 1) cli_fail_in(cmd, "--search-iterations %ld must be >= 1", search_iters);
    }
    if (calibrate) check_calib_seed(cmd, &c);

    LazyTrainHyper *hp = &r.hp;
    hp->kind = kind;
    hp->steps = steps;
    snprintf(hp->respacing, sizeof hp->respacing, "%d", steps);
    if (respacing) {
        if (strlen(respacing) >= sizeof hp->respacing) cli_fail_in(cmd, "--respacing '%s' is too long", respacing);
        snprintf(hp->respacing, sizeof hp->respacing, "%s", respacing);
    }
    LzError err;
    Diffusion probe;
    if (diffusion_create(&probe, "linear", 1000, hp->respacing, &err)) cli_fail_in(cmd, "--respacing: %s", err.msg);
    if (probe.num_steps != steps)
        cli_fail_in(cmd, "--respacing '%s' keeps %d steps but --steps is %d", hp->respacing, probe.num_steps, steps);
    diffusion_free(&probe);
    hp->batch = batch;
    hp->lr = lr;
    hp->weight_decay = wd;
    hp->rho_attn = rho_attn;
    hp->rho_mlp = rho_mlp;
    hp->class_dropout = class_dropout;
    hp->seed = (uint64_t)seed;
    hp->odd_steps_only = odd || is_router;
    hp->clamp = is_router ? clamp : 0;
    r.iterations = iterations;
    if (sha256_file(r.weights, r.sha, &err)) cli_fail_in(cmd, "%s", err.msg);
    sha256_hex(r.sha, r.sha_hex);
    char out_default[1100];
    snprintf(out_default, sizeof out_default, "%s/%s.safetensors", r.out_dir, is_router ? "router" : "gates");
    if (!r.out) r.out = out_default;

    Dataset ds;
    if (r.images ? dataset_load_files(&ds, r.images, r.labels, &err) : dataset_load_spec(&ds, r.data, "train", &err))
        cli_fail_in(cmd, "%s", err.msg);
    if (!ds.labels) cli_fail_in(cmd, "%s: training needs labels", ds.source);
    if (ds.n < batch) cli_fail_in(cmd, "%s: %ld images, fewer than --batch %d", ds.source, ds.n, batch);

    DitModel m = {0};
    if (calibrate) cli_load_dit(&m, r.weights, r.heads, 2 * c.batch, 0);
    const char *method = "threshold";
    if (rho_search) {
        // Bisection in log10(rho): more rho, more laziness. Each round trains
        // from scratch in OUT_DIR/rho_search/ and measures the ratio at the
        // file's threshold on the calibration samples.
        method = "rho+threshold";
        char dir[1200], file[1300], csvp[1300];
        snprintf(dir, sizeof dir, "%s/rho_search", r.out_dir);
        snprintf(file, sizeof file, "%s/gates.safetensors", dir);
        snprintf(csvp, sizeof csvp, "%s/rho_search.csv", r.out_dir);
        if (lz_mkdir_p(dir, &err)) cli_fail_in(cmd, "%s", err.msg);
        FILE *log = fopen(csvp, "w");
        if (!log) cli_fail_in(cmd, "%s: cannot write", csvp);
        fprintf(log, "round,rho,iterations,lazy_ratio\n");
        double a = log10(rho_lo), b = log10(rho_hi), best = NAN, best_gap = INFINITY;
        TrainLazyRun sr = r;
        sr.iterations = search_iters;
        Diffusion d;
        if (diffusion_create(&d, "linear", 1000, hp->respacing, &err)) cli_fail_in(cmd, "%s", err.msg);
        for (int k = 0; k < search_rounds; k++) {
            double x = 0.5 * (a + b), rr = pow(10, x);
            sr.hp.rho_attn = sr.hp.rho_mlp = rr;
            train(&sr, &ds, dir, file, true, 0, true);
            double ratio = measure_ratio(cmd, &m, r.sha, &d, GATES_LAZYDIT, file, hp->respacing, &c);
            fprintf(log, "%d,%.6g,%ld,%.6f\n", k + 1, rr, search_iters, ratio);
            fflush(log);
            fprintf(stderr, "rho search: round %d rho %.4g -> lazy ratio %.4f (target %.4f)\n", k + 1, rr, ratio,
                    c.targets[0]);
            if (fabs(ratio - c.targets[0]) < best_gap) best_gap = fabs(ratio - c.targets[0]), best = rr;
            if (ratio < c.targets[0]) a = x;
            else b = x;
        }
        fclose(log);
        diffusion_free(&d);
        hp->rho_attn = hp->rho_mlp = best;
        fprintf(stderr, "rho search: using rho %.4g for the full training\n", best);
    }
    int done = train(&r, &ds, r.out_dir, r.out, fresh, stop_after, false);
    if (done && calibrate) calibrate_file(cmd, &m, r.sha, is_router ? GATES_L2C : GATES_LAZYDIT, r.out, r.out, &c, method, -1);
    if (calibrate) dit_free(&m);
    dataset_free(&ds);
    return 0;
}

int cmd_train_lazy(int argc, char **argv) { return run_command(LAZY_TRAIN_GATES, argc, argv); }
int cmd_train_l2c(int argc, char **argv) { return run_command(LAZY_TRAIN_ROUTER, argc, argv); }

// lazydit calibrate-gates: threshold calibration of an existing file, or a
// measurement of its realised ratio (with the samples, for evaluation).
int cmd_calibrate_gates(int argc, char **argv) {
    const char *cmd = "calibrate-gates", *gates = NULL, *router = NULL, *weights = "models/fmnist_dit.safetensors",
               *out = NULL, *samples_out = NULL, *threshold_text = NULL;
    int heads = 0, staleness = -1;
    bool measure = false;
    long n = 0, seed = 0;
    double cfg_scale = 1.5;
    CalibArgs c = {{0}, 0, 200, LAZY_CALIB_SEED, 50, 0.005, 8};
    const char *target_text = NULL;
    ArgSpec specs[] = {
        {"--gates", ARG_STRING, &gates, false, "LazyDiT gate file", false},
        {"--router", ARG_STRING, &router, false, "L2C router file", false},
        {"--weights", ARG_STRING, &weights, false, "the DiT (default models/fmnist_dit.safetensors)", false},
        {"--heads", ARG_INT, &heads, false, "attention heads if the weights file does not say", false},
        {"--target-ratio", ARG_STRING, &target_text, false,
         "calibrate the threshold to this realised lazy ratio; several: 0.2,0.3,... (one file each)", false},
        {"--out", ARG_STRING, &out, false,
         "calibrated file (may equal the input); with several targets it must contain {r} (ratio in percent)", false},
        {"--calib-samples", ARG_LONG, &c.samples, false, "calibration samples (default 200)", false},
        {"--calib-seed", ARG_LONG, &c.seed, false, "run seed of the calibration samples (default 1; evaluation uses 0)",
         false},
        {"--calib-batch", ARG_INT, &c.batch, false, "samples per chunk (default 50)", false},
        {"--tol", ARG_DOUBLE, &c.tol, false, "stop once within this of the target (default 0.005)", false},
        {"--max-rounds", ARG_INT, &c.rounds, false, "sampling runs per target at most (default 8)", false},
        {"--staleness", ARG_INT, &staleness, false,
         "gates: calibrate with (and record) this reuse-chain bound, 0 = unlimited (default: the file's)", false},
        {"--measure", ARG_FLAG, &measure, false, "only measure: sample --n images of --seed with the file's policy", false},
        {"--n", ARG_LONG, &n, false, "--measure: samples (labels i % classes)", false},
        {"--seed", ARG_LONG, &seed, false, "--measure: run seed (default 0, the evaluation seed)", false},
        {"--threshold", ARG_STRING, &threshold_text, false, "--measure: threshold (default the file's)", false},
        {"--cfg-scale", ARG_DOUBLE, &cfg_scale, false, "--measure: guidance scale (default 1.5)", false},
        {"--samples-out", ARG_STRING, &samples_out, false, "--measure: write the samples (.npy) and OUT_labels.npy", false},
    };
    ArgParser p = {cmd,
                   "(--gates G | --router R) --target-ratio R[,R...] --out OUT [--calib-samples 200] [--calib-seed 1]\n"
                   "       (--gates G | --router R) --measure --n N [--seed 0] [--samples-out S.npy]",
                   "Calibrates the inference threshold of a LazyDiT gate file or an L2C router file so\n"
                   "that the realised lazy ratio (reused / all (model row, step, block, module) slots\n"
                   "under CFG 1.5) is within 2 points of the target, on calibration samples whose\n"
                   "noise is disjoint from the evaluation samples of seed 0. With --measure, samples\n"
                   "with the file as it is and prints the realised ratio and MACs as JSON.",
                   specs, sizeof specs / sizeof specs[0], 0, 0, {0}, 0};
    args_parse(&p, argc, argv);
    if ((gates != NULL) == (router != NULL)) cli_fail_in(cmd, "give exactly one of --gates and --router");
    GateKind kind = gates ? GATES_LAZYDIT : GATES_L2C;
    const char *path = gates ? gates : router;
    LzError err;
    uint8_t sha[SHA256_BYTES];
    if (sha256_file(weights, sha, &err)) cli_fail_in(cmd, "%s", err.msg);
    GateFile g;
    if (gates_read(&g, path, kind, &err)) cli_fail_in(cmd, "%s", err.msg);
    Diffusion d;
    if (diffusion_create(&d, "linear", 1000, g.respacing, &err)) cli_fail_in(cmd, "%s: %s", path, err.msg);
    if (measure) {
        if (target_text || out) cli_fail_in(cmd, "--measure does not calibrate (drop --target-ratio/--out)");
        if (n < 1 || n > 10000000) cli_fail_in(cmd, "--measure needs --n in 1..10000000");
        if (seed < 0) cli_fail_in(cmd, "--seed %ld must be >= 0", seed);
        if (!isfinite(cfg_scale)) cli_fail_in(cmd, "--cfg-scale must be finite");
        DitModel m;
        cli_load_dit(&m, weights, heads, cfg_scale != 1.0 ? 2 * c.batch : c.batch, 0);
        PolicyArg a[2] = {{kind == GATES_L2C ? "router" : "gates", path}, {"threshold", threshold_text}};
        LazyMeasureSpec spec = {n, (uint64_t)seed, c.batch, (float)cfg_scale, 0};
        long img = (long)m.cfg.in_channels * m.cfg.input_size * m.cfg.input_size;
        float *x = lz_malloc(sizeof(float) * n * img, "samples");
        int *y = lz_malloc(sizeof(int) * n, "labels");
        LazySummary s;
        if (lazy_measure(&m, sha, &d, g.respacing, kind == GATES_L2C ? "l2c" : "lazydit", a, threshold_text ? 2 : 1,
                         &spec, x, y, &s, NULL, &err))
            cli_fail_in(cmd, "%s", err.msg);
        if (samples_out) {
            long shape[4] = {n, m.cfg.in_channels, m.cfg.input_size, m.cfg.input_size};
            cli_write_f32(samples_out, 4, shape, x);
            char lp[1100];
            size_t k = strlen(samples_out);
            if (k >= 4 && !strcmp(samples_out + k - 4, ".npy")) k -= 4;
            snprintf(lp, sizeof lp, "%.*s_labels.npy", (int)k, samples_out);
            int64_t *y64 = lz_malloc(sizeof(int64_t) * n, "labels");
            for (long i = 0; i < n; i++) y64[i] = y[i];
            LzError e2;
            long ls[1] = {n};
            if (npy_write(lp, NPY_I64, 1, ls, y64, &e2)) cli_fail_in(cmd, "%s", e2.msg);
            free(y64);
        }
        printf("{\"file\":\"%s\",\"steps\":%d,\"samples\":%ld,\"seed\":%ld,\"cfg_scale\":%g,\"lazy_ratio\":%.17g,"
               "\"lazy_ratio_attn\":%.17g,\"lazy_ratio_mlp\":%.17g,\"equal_budget_steps\":%.17g,\"macs_linear\":%.17g,"
               "\"macs_all\":%.17g,\"full_macs_linear\":%.17g}\n",
               path, g.S, n, seed, cfg_scale, s.lazy_ratio, s.lazy_ratio_attn, s.lazy_ratio_mlp, s.equal_budget_steps,
               s.macs_linear, s.macs_all, s.full_macs_linear);
        free(x);
        free(y);
        dit_free(&m);
    } else {
        if (!target_text || !out) cli_fail_in(cmd, "give --target-ratio and --out (or --measure)");
        parse_targets(cmd, target_text, &c);
        if (c.ntargets > 1 && !strstr(out, "{r}"))
            cli_fail_in(cmd, "--out '%s': several targets need {r} in the file name", out);
        if (c.samples < 1 || c.samples > 100000) cli_fail_in(cmd, "--calib-samples %ld outside 1..100000", c.samples);
        if (c.seed < 0 || c.batch < 1) cli_fail_in(cmd, "--calib-seed must be >= 0 and --calib-batch >= 1");
        if (!(c.tol > 0 && c.tol <= 0.02)) cli_fail_in(cmd, "--tol %g outside (0, 0.02]", c.tol);
        if (c.rounds < 1) cli_fail_in(cmd, "--max-rounds %d must be >= 1", c.rounds);
        if (args_seen(&p, "--staleness") && (staleness < 0 || staleness > 65535 || kind != GATES_LAZYDIT))
            cli_fail_in(cmd, "--staleness %d: a bound in 0..65535 for --gates files", staleness);
        check_calib_seed(cmd, &c);
        DitModel m;
        cli_load_dit(&m, weights, heads, 2 * c.batch, 0);
        const char *method = strcmp(g.calibration, "rho+threshold") ? "threshold" : "rho+threshold";
        calibrate_file(cmd, &m, sha, kind, path, out, &c, method, staleness);
        dit_free(&m);
    }
    diffusion_free(&d);
    gates_free(&g);
    return 0;
}
