// test_optim.c: AdamW against torch.optim.AdamW (tests/ref/gen_optim_ref.py:
// 5 steps, weight decay 0.1, gradients from 1e-4 to 10, a zero-gradient step)
// and hand computations of the first step and of EMA.
#include <math.h>
#include <string.h>

#include "model/io/npy.h"
#include "model/optim.h"
#include "tests/test.h"

int main(void) {
    LzError err = {{0}};
    NpyArray p0, g, e;
    int ok = npy_read_f32("tests/ref/golden/optim_p0.npy", &p0, &err) == 0;
    ok = ok && npy_read_f32("tests/ref/golden/optim_grads.npy", &g, &err) == 0;
    ok = ok && npy_read_f32("tests/ref/golden/optim_expected.npy", &e, &err) == 0;
    TEST_CHECK(ok, "optim golden files read", "%s", err.msg);
    if (!ok) return test_finish();
    const long n = p0.count, T = g.shape[0];
    float *p = malloc(sizeof(float) * n), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    memcpy(p, p0.data, sizeof(float) * n);
    AdamWConfig cfg = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1};
    const float *ex = e.data, *gr = g.data;
    for (long t = 0; t < T; t++) {
        adamw_update(p, m, v, gr + t * n, n, &cfg, t + 1);
        char name[64];
        // torch computes in float32; double-then-round differs by an ulp or two
        snprintf(name, sizeof name, "adamw step %ld params vs torch", t + 1);
        test_close(name, p, ex + (t * 3 + 0) * n, n, 2e-6, 1e-7);
        // moments can cancel to far below their terms (a sign change of g):
        // compare relative to the tensor's scale rather than elementwise
        double em = test_rel_to_scale(m, ex + (t * 3 + 1) * n, n), ev = test_rel_to_scale(v, ex + (t * 3 + 2) * n, n);
        snprintf(name, sizeof name, "adamw step %ld exp_avg vs torch", t + 1);
        TEST_CHECK(em <= 2e-6, name, "max error %.3g of scale", em);
        snprintf(name, sizeof name, "adamw step %ld exp_avg_sq vs torch", t + 1);
        TEST_CHECK(ev <= 2e-6, name, "max error %.3g of scale", ev);
    }
    // hand computation of step 1: m = (1-b1) g, v = (1-b2) g^2, bias-corrected
    // update = lr * g / (|g| + eps) = lr * sign(g) nearly; decay multiplies first.
    float q[2] = {2.0f, -1.0f}, mm[2] = {0, 0}, vv[2] = {0, 0}, gg[2] = {0.5f, 0.0f};
    AdamWConfig c2 = {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.5};
    adamw_update(q, mm, vv, gg, 2, &c2, 1);
    float want[2] = {(float)(2.0 * (1 - 0.05) - 0.1 * 0.5 / (0.5 + 1e-8)), (float)(-1.0 * (1 - 0.05))};
    test_close("adamw step 1 by hand (decay then update; zero grad only decays)", q, want, 2, 1e-6, 1e-7);
    float ema[3] = {1, 2, 3}, par[3] = {3, 2, 1}, ew[3] = {1.2f, 2.0f, 2.8f};
    ema_update(ema, par, 3, 0.9);
    test_close("ema_update by hand", ema, ew, 3, 1e-6, 1e-7);
    // learning-rate schedule: warm-up ramp, exact peak at its end, cosine to 0
    LrSchedule ws = {3e-4, 500, LR_DECAY_NONE, 0};
    int ramp_ok = 1;
    for (long st = 0; st < 499; st++) ramp_ok &= lr_schedule_at(&ws, st) == 3e-4 * ((double)(st + 1) / 500.0);
    TEST_CHECK(ramp_ok && lr_schedule_at(&ws, 499) == 3e-4 && lr_schedule_at(&ws, 10000) == 3e-4,
               "lr schedule: linear warm-up lr * (s + 1) / warmup, then exactly lr (constant)", "step 499: %.17g",
               lr_schedule_at(&ws, 499));
    LrSchedule cs = {1e-3, 100, LR_DECAY_COSINE, 1100};
    double mid = lr_schedule_at(&cs, 600), quarter = lr_schedule_at(&cs, 350), end = lr_schedule_at(&cs, 1099);
    TEST_CHECK(lr_schedule_at(&cs, 99) == 1e-3 && lr_schedule_at(&cs, 100) == 1e-3 && fabs(mid - 5e-4) < 1e-15 &&
                   fabs(quarter - 1e-3 * (1 + cos(M_PI / 4)) / 2) < 1e-15 && end > 0 && end < 1e-7,
               "lr schedule: cosine from lr after the warm-up to ~0 at the last step (half-way lr / 2)",
               "%.17g %.17g %.17g", mid, quarter, end);
    LrSchedule none = {1e-3, 0, LR_DECAY_NONE, 0};
    TEST_CHECK(lr_schedule_at(&none, 0) == 1e-3, "lr schedule: no warm-up starts at lr", "%g", lr_schedule_at(&none, 0));
    free(p);
    free(m);
    free(v);
    npy_free(&p0);
    npy_free(&g);
    npy_free(&e);
    return test_finish();
}
