// bench/forward: GFLOP/s of the DiT forward pass as a ratio of the sgemm peak
// measured in the same process (the better of OpenBLAS's own threading and
// the pool's tiles, before and after). Validates first: the C forward must
// match the PyTorch golden before anything is timed. Targets: DiT-XL/2 at
// batch 2 at least 60% of the peak; DiT-XL/2 and DiT-B/2 at batch 8 85%.
#include <math.h>
#include <string.h>

#include "bench/bench_common.h"
#include "model/dit.h"
#include "model/io/npy.h"
#include "model/base/prng.h"

static int validate(void) {
    DitConfig cfg;
    float *params;
    LzError err;
    if (dit_load("tests/ref/golden/dit_a.safetensors", 0, &cfg, &params, &err)) {
        fprintf(stderr, "validation: %s\n", err.msg);
        return 1;
    }
    DitModel m;
    dit_build(&m, &cfg, params, 4, 0);
    NpyArray x, t, want, y;
    CHECK(!npy_read_f32("tests/ref/golden/dit_a_x.npy", &x, &err), "%s", err.msg);
    CHECK(!npy_read_f32("tests/ref/golden/dit_a_t.npy", &t, &err), "%s", err.msg);
    CHECK(!npy_read_f32("tests/ref/golden/dit_a_out.npy", &want, &err), "%s", err.msg);
    CHECK(!npy_read_i64("tests/ref/golden/dit_a_y.npy", &y, &err), "%s", err.msg);
    int labels[4];
    for (int i = 0; i < 4; i++) labels[i] = (int)((long long *)y.data)[i];
    dit_forward(&m, x.data, t.data, labels, 4, NULL, NULL);
    double maxd = 0, scale = 0;
    for (long i = 0; i < want.count; i++) {
        maxd = fmax(maxd, fabs(m.acts.out[i] - ((float *)want.data)[i]));
        scale = fmax(scale, fabs(((float *)want.data)[i]));
    }
    printf("# validation: forward vs PyTorch golden, relative error %.2e (limit 1e-4)\n", maxd / scale);
    npy_free(&x), npy_free(&t), npy_free(&want), npy_free(&y);
    dit_free(&m);
    return !(maxd / scale <= 1e-4);
}

typedef struct {
    const char *name;
    int batch;
    double ms, gflops;
} Row;

// Times the forward (best of reps); returns GFLOP/s and fills row.
static double time_forward(const char *name, int batch, int reps, Row *row) {
    DitConfig c = {.input_size = 32, .in_channels = 4, .num_classes = 1000, .learn_sigma = 1};
    CHECK(dit_config_named(&c, name, NULL) == 0, "config %s", name);
    float *params = lz_malloc(sizeof(float) * dit_param_count(&c), "params");
    dit_init_random(params, &c, 1);
    DitModel m;
    dit_build(&m, &c, params, batch, 0);
    long n = (long)batch * c.in_channels * c.input_size * c.input_size;
    float *x = lz_malloc(sizeof(float) * n, "x"), t[64];
    int y[64];
    Prng g;
    prng_seed(&g, 2);
    for (long i = 0; i < n; i++) x[i] = (float)prng_normal(&g);
    for (int b = 0; b < batch; b++) t[b] = (float)(b * 97 % 1000), y[b] = b % 1000;
    dit_forward(&m, x, t, y, batch, NULL, NULL);  // warm-up
    for (long i = 0; i < (long)batch * dit_out_channels(&c) * 32 * 32; i++)
        CHECK(isfinite(m.acts.out[i]), "%s: non-finite output at %ld", name, i);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = lz_now_seconds();
        dit_forward(&m, x, t, y, batch, NULL, NULL);
        double dt = lz_now_seconds() - t0;
        if (dt < best) best = dt;
    }
    double gflops = 2.0 * dit_macs(&c).total * batch / best / 1e9;
    *row = (Row){name, batch, best * 1e3, gflops};
    printf("# %-9s batch %2d timed\n", name, batch);
    fflush(stdout);
    free(x);
    dit_free(&m);
    return gflops;
}

int main(int argc, char **argv) {
    bench_print_env("forward");
    if (validate()) {
        printf("validation FAILED: not timing a wrong forward pass\n");
        return 1;
    }
    int quick = argc > 1 && !strcmp(argv[1], "--quick");  // DiT-B/2 and DiT-XL/2 at batch 8 only
    double peak = bench_peak(1536, 5, 1);
    Row rows[8];
    int n = 0, b8 = -1, xl2 = -1, xl8 = -1;
    if (!quick) {
        time_forward("DiT-S/2", 2, 5, &rows[n++]);
        time_forward("DiT-S/2", 8, 3, &rows[n++]);
        time_forward("DiT-B/2", 2, 3, &rows[n++]);
    }
    b8 = n;
    time_forward("DiT-B/2", 8, 3, &rows[n++]);
    if (!quick) {
        xl2 = n;
        time_forward("DiT-XL/2", 2, 3, &rows[n++]);
    }
    xl8 = n;
    time_forward("DiT-XL/2", 8, 2, &rows[n++]);
    double peak_after = bench_peak(1536, 5, 0);
    // Ratios to the larger of the two peaks: a busy moment during the first
    // measurement must not inflate them.
    double ref = peak_after > peak ? peak_after : peak;
    printf("# sgemm peak after: %.2f GFLOP/s; ratios below use %.2f (the larger)\n", peak_after, ref);
    for (int i = 0; i < n; i++)
        printf("%-9s batch %2d  %8.1f ms/forward  %7.2f GFLOP/s  %5.1f%% of sgemm peak\n", rows[i].name, rows[i].batch,
               rows[i].ms, rows[i].gflops, 100 * rows[i].gflops / ref);
    if (xl2 >= 0)
        printf("target: DiT-XL/2 batch 2 >= 60%% of peak: %s (%.1f%%)\n", rows[xl2].gflops >= 0.6 * ref ? "MET" : "NOT MET",
               100 * rows[xl2].gflops / ref);
    printf("target: DiT-XL/2 batch 8 >= 85%% of peak: %s (%.1f%%)\n", rows[xl8].gflops >= 0.85 * ref ? "MET" : "NOT MET",
           100 * rows[xl8].gflops / ref);
    printf("target: DiT-B/2 batch 8 >= 85%% of peak: %s (%.1f%%)\n", rows[b8].gflops >= 0.85 * ref ? "MET" : "NOT MET",
           100 * rows[b8].gflops / ref);
    return 0;
}
