// bench/sample: `lazydit sample` on the default model against the official
// PyTorch sampling loop (bench/sample_torch.py) on the same weights, noise
// and labels, in the same run: 100 samples, DDIM 50 steps, cfg 1.5 by
// default. Both run as child processes, so wall time, user and system time
// (wait4's rusage of each child) are measured the same way.
//
// Reports the speedup over PyTorch (its timed loop against lazydit's whole
// process, load and write included), the share of system time, 2 threads
// against 1, and GFLOP/s as a fraction of the sgemm peak measured in this
// run. Validates before it reports: lazydit's samples must match PyTorch's
// (relative to their scale) and 1 thread must give the same bits as N.
// Without torch the PyTorch side is skipped with a message.
//
//   build/bench/sample [--n N] [--steps K] [--repeat R] [--no-torch] [--lazydit PATH]
// (--lazydit times another build of the binary, e.g. an older version.)
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "model/dit_params.h"
#include "model/io/npy.h"

#define WEIGHTS "models/fmnist_dit.safetensors"
#define MATCH_LIMIT 1e-3  // max |lazydit - torch| / max |torch| after the whole loop

typedef struct {
    double wall, user, sys;
    int ok;
    char out[4096];  // the child's stdout
} Child;

// Runs argv as a child (threads > 0 sets LAZYDIT_THREADS), collecting its
// stdout and rusage. stderr passes through.
static void run_child(char *const argv[], int threads, Child *c) {
    memset(c, 0, sizeof *c);
    int fd[2];
    CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
    double t0 = lz_now_seconds();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (threads > 0) {
            char v[16];
            snprintf(v, sizeof v, "%d", threads);
            setenv("LAZYDIT_THREADS", v, 1);
            // Builds before the single pool ran their GEMMs on OpenBLAS's threads.
            if (threads == 1) setenv("OPENBLAS_NUM_THREADS", "1", 1);
        }
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], c->out + n, sizeof c->out - 1 - n)) > 0) n += (size_t)r;
    c->out[n] = 0;
    close(fd[0]);
    int status;
    struct rusage ru;
    CHECK(wait4(pid, &status, 0, &ru) == pid, "wait4: %s", strerror(errno));
    c->wall = lz_now_seconds() - t0;
    c->user = ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec;
    c->sys = ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
    c->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static float *load_f32(const char *path, long expect) {
    NpyArray a;
    LzError err;
    REQUIRE(!npy_read_f32(path, &a, &err), "%s", err.msg);
    REQUIRE(a.count == expect, "%s: %ld values, expected %ld", path, a.count, expect);
    return (float *)a.data;  // npy_free would free exactly this
}

static void print_child(const char *what, const Child *c) {
    printf("%-24s %7.2f s wall  %7.2f s user  %6.2f s sys (%.1f%% of its CPU time)\n", what, c->wall, c->user, c->sys,
           100 * c->sys / (c->user + c->sys));
}

int main(int argc, char **argv) {
    int N = 100, steps = 50, repeat = 2, use_torch = 1;
    const char *other = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
        else if (!strcmp(argv[i], "--lazydit") && i + 1 < argc) other = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--n N] [--steps K] [--repeat R] [--no-torch] [--lazydit PATH]\n", argv[0]);
            return 2;
        }
    }
    REQUIRE(N >= 1 && steps >= 1 && repeat >= 1, "--n, --steps and --repeat must be >= 1");
    setvbuf(stdout, NULL, _IOLBF, 0);  // progress lines appear as the children finish
    bench_print_env("sample");
    int threads = parallel_threads();

    // lazydit next to this binary: build/bench/sample -> build/lazydit.
    char self[4096], lazydit[4200];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(len > 0, "cannot find this executable's path");
    self[len] = 0;
    *strrchr(self, '/') = 0;
    snprintf(lazydit, sizeof lazydit, "%s/../lazydit", self);
    if (other) snprintf(lazydit, sizeof lazydit, "%s", other);
    REQUIRE(access(lazydit, X_OK) == 0, "%s is not built", lazydit);
    const char *python = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";

    char dir[] = "/tmp/lazydit_bench_sample_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    char z[4200], y[4200], out_c[4200], out_1[4200], out_t[4200], shape[64], ns[16], ks[16], ts[16];
    snprintf(z, sizeof z, "%s/z.npy", dir);
    snprintf(y, sizeof y, "%s/y.npy", dir);
    snprintf(out_c, sizeof out_c, "%s/lazydit.npy", dir);
    snprintf(out_1, sizeof out_1, "%s/lazydit_1thread.npy", dir);
    snprintf(out_t, sizeof out_t, "%s/torch.npy", dir);
    snprintf(shape, sizeof shape, "%d,1,28,28", N);
    snprintf(ns, sizeof ns, "%d", N);
    snprintf(ks, sizeof ks, "%d", steps);
    snprintf(ts, sizeof ts, "%d", threads);

    // Inputs: torch.manual_seed(0); z = torch.randn(N, 1, 28, 28) (lazydit noise
    // reproduces it bit for bit); labels i % 10.
    Child c;
    char *noise_argv[] = {lazydit, "noise", "--seed", "0", "--shape", shape, "--out", z, NULL};
    run_child(noise_argv, 0, &c);
    REQUIRE(c.ok, "lazydit noise failed");
    long long *labels = malloc(sizeof(long long) * N);
    for (int i = 0; i < N; i++) labels[i] = i % 10;
    LzError err;
    long lshape[1] = {N};
    REQUIRE(!npy_write(y, NPY_I64, 1, lshape, labels, &err), "%s", err.msg);
    free(labels);

    DitConfig cfg;
    float *params;
    REQUIRE(!dit_load(WEIGHTS, 0, &cfg, &params, &err), "%s", err.msg);
    free(params);
    double flops = 2.0 * dit_macs(&cfg).total * 2.0 * N * steps;  // CFG doubles the model batch
    printf("# workload: %s, %d samples, DDIM %d steps, cfg 1.5 (model batch 2N): %.3f TFLOP; timing %s\n", WEIGHTS, N,
           steps, flops / 1e12, lazydit);
    double peak = bench_peak(1536, 5, 1);

    // PyTorch first (the slowest; its output validates lazydit's).
    Child tc = {0};
    double torch_loop = 0;
    if (use_torch) {
        char script[] = "bench/sample_torch.py";
        char *targv[] = {(char *)python, script, "--weights", WEIGHTS, "--noise", z, "--labels", y, "--steps", ks,
                         "--threads", ts, "--out", out_t, NULL};
        char probe_cmd[4300];
        snprintf(probe_cmd, sizeof probe_cmd, "%s -c 'import torch' >/dev/null 2>&1", python);
        if (access(python, X_OK) != 0 || system(probe_cmd) != 0) {
            printf("# PyTorch side SKIPPED: %s cannot import torch (set PYTHON); no speedup is measured\n", python);
            use_torch = 0;
        } else {
            run_child(targv, 0, &tc);
            REQUIRE(tc.ok, "the PyTorch loop failed: %s", tc.out);
            char *p = strstr(tc.out, "\"loop_seconds\":");
            REQUIRE(p && sscanf(p, "\"loop_seconds\": %lf", &torch_loop) == 1, "no loop time in: %s", tc.out);
            printf("# pytorch: %s", tc.out);
        }
    }

    // lazydit with the pool's threads and with one, alternating, `repeat` rounds.
    char *cargv[] = {lazydit, "sample", "--weights", WEIGHTS, "--n", ns, "--labels", y, "--noise", z, "--seed", "0",
                     "--steps", ks, "--out", out_c, NULL};
    char *c1argv[] = {lazydit, "sample", "--weights", WEIGHTS, "--n", ns, "--labels", y, "--noise", z, "--seed", "0",
                      "--steps", ks, "--out", out_1, NULL};
    Child best_n = {.wall = 1e30}, best_1 = {.wall = 1e30};
    double worst_n = 0, worst_1 = 0;
    for (int r = 0; r < repeat; r++) {
        Child cn, c1;
        run_child(cargv, threads, &cn);
        REQUIRE(cn.ok, "lazydit sample failed");
        run_child(c1argv, 1, &c1);
        REQUIRE(c1.ok, "lazydit sample (1 thread) failed");
        if (cn.wall < best_n.wall) best_n = cn;
        if (c1.wall < best_1.wall) best_1 = c1;
        worst_n = fmax(worst_n, cn.wall);
        worst_1 = fmax(worst_1, c1.wall);
    }

    // Validation: 1 thread gives the same bits; PyTorch agrees up to float rounding.
    long count = (long)N * 28 * 28;
    float *a = load_f32(out_c, count), *b = load_f32(out_1, count);
    int same = !memcmp(a, b, sizeof(float) * count);
    REQUIRE(same || other, "1 thread and %d threads give different samples", threads);
    for (long i = 0; i < count; i++) REQUIRE(isfinite(a[i]), "non-finite sample value at %ld", i);
    printf("validation: %d threads and 1 thread give %s samples\n", threads, same ? "bit-identical" : "DIFFERENT");
    if (use_torch) {
        float *t = load_f32(out_t, count);
        double md = 0, sc = 0;
        for (long i = 0; i < count; i++) {
            md = fmax(md, fabs((double)a[i] - t[i]));
            sc = fmax(sc, fabs((double)t[i]));
        }
        printf("validation: max |lazydit - pytorch| = %.3g, relative to scale %.3g (limit %g)\n", md, md / sc,
               MATCH_LIMIT);
        REQUIRE(md / sc <= MATCH_LIMIT, "lazydit and PyTorch samples differ by %.3g of their scale", md / sc);
        free(t);
    }
    free(a);
    free(b);

    printf("\n");
    if (use_torch) print_child("pytorch process", &tc);
    if (use_torch) printf("%-24s %7.2f s (the timed loop only)\n", "pytorch loop", torch_loop);
    char what[64];
    snprintf(what, sizeof what, "lazydit %d threads", threads);
    print_child(what, &best_n);
    print_child("lazydit 1 thread", &best_1);
    printf("best of %d; slowest: %.2f s (%d threads), %.2f s (1 thread)\n", repeat, worst_n, threads, worst_1);
    // The peak again after the runs; ratios use the larger of the two (a busy
    // moment during one measurement must not inflate them).
    double peak_after = bench_peak(1536, 5, 0);
    printf("# sgemm peak after the runs: %.1f GFLOP/s\n", peak_after);
    if (peak_after > peak) peak = peak_after;
    double gf = flops / best_n.wall / 1e9, sys_share = best_n.sys / (best_n.user + best_n.sys);
    double scaling = best_1.wall / best_n.wall;
    printf("lazydit: %.1f GFLOP/s = %.1f%% of the sgemm peak (whole process)\n", gf, 100 * gf / peak);
    printf("system time: %.1f%% of lazydit's CPU time (target < 5%%: %s)\n", 100 * sys_share,
           sys_share < 0.05 ? "MET" : "NOT MET");
    printf("%d threads vs 1: %.2fx (target >= 1.8x at 2 threads: %s)\n", threads, scaling,
           threads < 2 ? "n/a" : scaling >= 1.8 ? "MET" : "NOT MET");
    if (use_torch) {
        double speedup = torch_loop / best_n.wall;
        printf("pytorch loop: %.1f GFLOP/s; speedup of lazydit over it: %.2fx (target >= 2.5x: %s)\n",
               flops / torch_loop / 1e9, speedup, speedup >= 2.5 ? "MET" : "NOT MET");
    }
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
