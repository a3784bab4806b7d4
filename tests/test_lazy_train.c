// Lazy-gate and router training (model/lazy/lazy_train.h) on a tiny random
// DiT and synthetic images: finite-difference checks of the gate and router
// gradients through the backward hook (the blend, the laziness term and the
// path through Z into later blocks), the step draw (all steps vs the shipped
// odd-only rule), that training lowers the loss, that laziness grows with
// rho, and that a checkpoint resumes bit-identically.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "model/base/prng.h"
#include "model/lazy/lazy_train.h"
#include "tests/test.h"

static DitConfig tiny_config(void) {
    DitConfig c = {.input_size = 8, .patch = 2, .in_channels = 1, .hidden = 16, .depth = 2, .heads = 2,
                   .num_classes = 3, .learn_sigma = 1, .mlp_hidden = 64, .freq_dim = 256};
    return c;
}

// 64 random "images" in [-1, 1] with labels 0..2.
static Dataset tiny_data(void) {
    Dataset ds = {0};
    ds.n = 64, ds.c = 1, ds.h = 8, ds.w = 8, ds.num_classes = 3;
    ds.images = lz_malloc(sizeof(float) * 64 * 64, "images");
    ds.labels = lz_malloc(sizeof(int) * 64, "labels");
    Prng g;
    prng_seed(&g, 99);
    for (long i = 0; i < 64 * 64; i++) ds.images[i] = (float)(2 * prng_uniform(&g) - 1);
    for (int i = 0; i < 64; i++) ds.labels[i] = i % 3;
    snprintf(ds.source, sizeof ds.source, "synthetic");
    return ds;
}

static void make_trainer(LazyTrainer *tr, LazyTrainKind kind, double rho, int odd, double lr) {
    DitConfig c = tiny_config();
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_random(params, &c, 7);
    LazyTrainHyper hp = {.kind = kind, .steps = 6, .batch = 8, .lr = lr, .rho_attn = rho, .rho_mlp = 2 * rho,
                         .class_dropout = 0.25, .seed = 3, .odd_steps_only = odd, .clamp = 0};
    lazy_trainer_init(tr, &c, params, &hp, 64);
}

static double loss_at(LazyTrainer *tr, const Dataset *ds) {
    lazy_trainer_loss(tr, ds, 0);
    return tr->loss;
}

// Central differences of the loss in every weight of the iteration's step
// against the hook's gradient, compared as vectors: |g - fd| <= 2% |fd| + a
// floor set by float rounding of the loss.
static void fd_check(LazyTrainKind kind) {
    Dataset ds = tiny_data();
    LazyTrainer tr;
    make_trainer(&tr, kind, 2e-3, 0, 1e-3);
    Prng g;
    prng_seed(&g, 5);
    long W = 2L * tr.K * tr.L * tr.G;
    // Weights that give a spread of scores (a router logit, or a gate whose
    // sum over 16 tokens of Z * w is O(1)).
    for (long i = 0; i < W; i++) tr.gates.w[i] = (float)((2 * prng_uniform(&g) - 1) * (kind == LAZY_TRAIN_ROUTER ? 1.5 : 0.08));
    for (long it = 0; it < 3; it++) {
        tr.iter = it;
        lazy_trainer_loss(&tr, &ds, 1);
        int step = tr.step;
        long n = 2L * tr.L * tr.G;
        float *grad = lz_malloc(sizeof(float) * n, "grad");
        memcpy(grad, tr.grad, sizeof(float) * n);
        double num = 0, den = 0, gnorm = 0;
        double lo = 1, hi = 0;
        for (int l = 0; l < tr.L; l++)
            for (int m = 0; m < 2; m++) {
                double s = tr.score[((long)l * 2 + m) * tr.hp.batch];
                lo = fmin(lo, s), hi = fmax(hi, s);
            }
        for (int m = 0; m < 2; m++)
            for (int l = 0; l < tr.L; l++)
                for (int d = 0; d < tr.G; d++) {
                    float *w = gates_at(&tr.gates, m, step, l) + d;
                    float w0 = *w, h = kind == LAZY_TRAIN_ROUTER ? 1e-2f : 2e-3f;
                    *w = w0 + h;
                    double lp = loss_at(&tr, &ds);
                    *w = w0 - h;
                    double lm = loss_at(&tr, &ds);
                    *w = w0;
                    double fd = (lp - lm) / (2.0 * h), an = grad[((long)m * tr.L + l) * tr.G + d];
                    num += (an - fd) * (an - fd);
                    den += fd * fd;
                    gnorm += an * an;
                }
        double rel = sqrt(num / den);
        char label[200];
        snprintf(label, sizeof label, "%s: step %d: gradient of %ld weights matches central differences (rel <= 2e-2)",
                 kind == LAZY_TRAIN_ROUTER ? "router" : "gates", step, n);
        TEST_CHECK(rel <= 2e-2 && gnorm > 0, label, "relative error %.3g (|grad| %.3g)", rel, sqrt(gnorm));
        printf("# %s step %d: FD rel error %.3g, |grad| %.3g, scores in [%.3f, %.3f]\n",
               kind == LAZY_TRAIN_ROUTER ? "router" : "gates", step, rel, sqrt(gnorm), lo, hi);
        free(grad);
    }
    lazy_trainer_free(&tr);
    dataset_free(&ds);
}

// All steps 1..K-1 are drawn by default; the shipped rule draws only K - t for
// odd t (s = 5, 3, 1 for K = 6), and routers always use it.
static void test_step_draw(void) {
    LazyTrainHyper hp = {.kind = LAZY_TRAIN_GATES, .steps = 6, .seed = 11};
    int seen[6] = {0}, odd_seen[6] = {0}, router_seen[6] = {0};
    for (long i = 0; i < 600; i++) {
        seen[lazy_train_draw_step(&hp, i)]++;
        hp.odd_steps_only = 1;
        odd_seen[lazy_train_draw_step(&hp, i)]++;
        hp.odd_steps_only = 0;
        hp.kind = LAZY_TRAIN_ROUTER;
        router_seen[lazy_train_draw_step(&hp, i)]++;
        hp.kind = LAZY_TRAIN_GATES;
    }
    int all_ok = seen[0] == 0, odd_ok = 1;
    for (int s = 1; s < 6; s++) all_ok &= seen[s] > 80;
    for (int s = 0; s < 6; s++) odd_ok &= (s % 2 == 1) ? odd_seen[s] > 150 && router_seen[s] == odd_seen[s] : odd_seen[s] == 0;
    TEST_CHECK(all_ok, "default draw: every prediction step 1..K-1, never 0 (K = 6, 600 draws)",
               "counts %d %d %d %d %d %d", seen[0], seen[1], seen[2], seen[3], seen[4], seen[5]);
    TEST_CHECK(odd_ok, "--odd-steps-only and routers: only s = K - t for odd t (1, 3, 5 for K = 6)",
               "counts %d %d %d %d %d %d", odd_seen[0], odd_seen[1], odd_seen[2], odd_seen[3], odd_seen[4], odd_seen[5]);
}

// The shipped rule's ceiling: after training with odd_steps_only, the gates of
// the steps it never draws (even s for K = 6, step 0 included) are still
// exactly zero, so they score 0.5 and compute at the 0.5 threshold.
static void test_odd_ceiling(void) {
    Dataset ds = tiny_data();
    LazyTrainer tr;
    make_trainer(&tr, LAZY_TRAIN_GATES, 1e-2, 1, 1e-2);
    int drawn[6] = {0};
    for (int i = 0; i < 24; i++) {
        drawn[lazy_train_draw_step(&tr.hp, tr.iter)] = 1;
        lazy_trainer_step(&tr, &ds);
    }
    int zero_even = 1, moved_odd = drawn[1] && drawn[3] && drawn[5];
    for (int st = 0; st < tr.K; st++) {
        double norm = 0;
        for (int m = 0; m < 2; m++)
            for (int l = 0; l < tr.L; l++)
                for (int d = 0; d < tr.D; d++) norm += fabs(gates_at(&tr.gates, m, st, l)[d]);
        if (st % 2 == 0) zero_even &= norm == 0;
        else moved_odd &= norm > 0;
    }
    TEST_CHECK(zero_even && moved_odd,
               "--odd-steps-only: gates of even steps stay exactly 0 (score 0.5: compute), odd steps train",
               "even steps zero %d, odd steps moved %d", zero_even, moved_odd);
    lazy_trainer_free(&tr);
    dataset_free(&ds);
}

// Mean loss over a fixed set of iterations (their batches and steps) at the
// current weights.
static double eval_loss(LazyTrainer *tr, const Dataset *ds, double *ratio) {
    long keep = tr->iter;
    double sum = 0, r = 0;
    for (long i = 0; i < 10; i++) {
        tr->iter = 1000 + i;
        lazy_trainer_loss(tr, ds, 0);
        sum += tr->loss;
        r += tr->soft_ratio;
    }
    tr->iter = keep;
    if (ratio) *ratio = r / 10;
    return sum / 10;
}

static void test_training(void) {
    Dataset ds = tiny_data();
    double before = 0, after = 0, ratio[2] = {0, 0}, rhos[2] = {1e-5, 3e-3};
    for (int k = 0; k < 2; k++) {
        LazyTrainer tr;
        make_trainer(&tr, LAZY_TRAIN_GATES, rhos[k], 0, 3e-3);
        tr.hp.rho_mlp = rhos[k];
        double b = eval_loss(&tr, &ds, NULL);
        for (int i = 0; i < 60; i++) lazy_trainer_step(&tr, &ds);
        double a = eval_loss(&tr, &ds, &ratio[k]);
        if (k == 0) before = b, after = a;
        printf("# rho %g: eval loss %.6g -> %.6g, soft lazy ratio %.3f\n", rhos[k], b, a, ratio[k]);
        lazy_trainer_free(&tr);
    }
    TEST_CHECK(after < 0.8 * before, "60 iterations lower the held-out loss by > 20% (rho 1e-5)",
               "%.6g -> %.6g", before, after);
    TEST_CHECK(ratio[1] > ratio[0] + 0.1, "laziness grows with rho: soft ratio at rho 3e-3 exceeds rho 1e-5 by > 0.1",
               "%.3f vs %.3f", ratio[1], ratio[0]);
    dataset_free(&ds);
}

// 7 iterations straight vs 3, checkpoint, a new trainer, 4 more: identical
// weights and moments, bit for bit.
static void test_resume(LazyTrainKind kind) {
    Dataset ds = tiny_data();
    char path[256];
    snprintf(path, sizeof path, "/tmp/lazydit_test_lazy_train_%d_%d.safetensors", (int)getpid(), (int)kind);
    LazyTrainer a, b;
    make_trainer(&a, kind, 1e-3, 0, 1e-2);
    for (int i = 0; i < 7; i++) lazy_trainer_step(&a, &ds);
    make_trainer(&b, kind, 1e-3, 0, 1e-2);
    for (int i = 0; i < 3; i++) lazy_trainer_step(&b, &ds);
    LzError err;
    CHECK(lazy_trainer_save(&b, path, "{\"x\":1}", &err) == 0, "%s", err.msg);
    lazy_trainer_free(&b);
    make_trainer(&b, kind, 1e-3, 0, 1e-2);
    int bad = lazy_trainer_load(&b, path, "{\"x\":2}", &err);
    TEST_CHECK(bad && strstr(err.msg, "x was 1, now 2"), "resume with other options is refused, naming the option",
               "%s", bad ? err.msg : "accepted");
    CHECK(lazy_trainer_load(&b, path, "{\"x\":1}", &err) == 0, "%s", err.msg);
    for (int i = 0; i < 4; i++) lazy_trainer_step(&b, &ds);
    long W = 2L * a.K * a.L * a.G;
    int same = a.iter == b.iter && !memcmp(a.gates.w, b.gates.w, sizeof(float) * W) &&
               !memcmp(a.adam_m, b.adam_m, sizeof(float) * W) && !memcmp(a.adam_v, b.adam_v, sizeof(float) * W) &&
               !memcmp(a.adam_t, b.adam_t, sizeof(long) * a.K);
    TEST_CHECK(same, kind == LAZY_TRAIN_ROUTER ? "router: 3 + checkpoint + 4 iterations equal 7, bit for bit"
                                               : "gates: 3 + checkpoint + 4 iterations equal 7, bit for bit",
               "iterations %ld vs %ld or weights/moments differ", a.iter, b.iter);
    unlink(path);
    lazy_trainer_free(&a);
    lazy_trainer_free(&b);
    dataset_free(&ds);
}

int main(void) {
    fd_check(LAZY_TRAIN_GATES);
    fd_check(LAZY_TRAIN_ROUTER);
    test_step_draw();
    test_odd_ceiling();
    test_training();
    test_resume(LAZY_TRAIN_GATES);
    test_resume(LAZY_TRAIN_ROUTER);
    return test_finish();
}
