// bench/record: the cost of recording (analysis/recorder.h) on the default
// model, as a ratio to the same sampling without it, measured in the same
// process with the runs interleaved (plain, recorded, plain, ...) and the best
// of each kind kept, because the machine is shared.
//
// Default: 32 samples, 50 DDIM steps, cfg 1.5 (64 model rows per forward),
// the run written to a database in /tmp like `lazydit sample --record`
// (module_steps; weight norms computed once beforehand, as the runner does;
// their one-off cost is printed separately). Also: with module_rows.
// Validation first: recorded samples are bit-identical to plain ones and the
// database holds every module_steps row.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "analysis/recorder.h"
#include "analysis/result_db.h"
#include "analysis/run_record.h"
#include "analysis/sim_bound.h"
#include "bench/bench_common.h"
#include "model/base/parallel.h"
#include "model/dit_params.h"
#include "model/sampler.h"

#define MODEL "models/fmnist_dit.safetensors"

typedef struct {
    DitModel m;
    Diffusion d;
    Sampler s;
    int *labels;
    float *out, *ref;
    long n, img;
    WeightNorms wn;
    char db_path[256];
} Bench;

// CPU seconds of the whole process: with one thread (LAZYDIT_THREADS=1
// OPENBLAS_NUM_THREADS=1) this is the work done, whatever else the machine runs.
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double last_cpu;

static double plain_run(Bench *b) {
    LzError err;
    double t0 = lz_now_seconds(), c0 = cpu_seconds();
    REQUIRE(sampler_run(&b->s, b->out, b->labels, b->n, NULL, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    last_cpu = cpu_seconds() - c0;
    return lz_now_seconds() - t0;
}

// One recorded run into a fresh database; returns the wall time of begin +
// sampling + finish (the database open and close excluded).
static double recorded_run(Bench *b, int rows, long *module_steps, double *inside) {
    LzError err;
    unlink(b->db_path);
    ResultDb db;
    REQUIRE(rdb_open(&db, b->db_path, &err) == 0, "%s", err.msg);
    RunRecordInfo info = {"bench", "run", 0, MODEL, NULL, "50", b->n, NULL, {rows}, &b->wn};
    RunRecord rr;
    double t0 = lz_now_seconds(), c0 = cpu_seconds();
    REQUIRE(run_record_begin(&rr, &db, &info, &b->s, &err) == 0, "%s", err.msg);
    REQUIRE(run_record_sample(&rr, &b->s, b->out, b->labels, b->n, NULL, &err) == 0, "%s", err.msg);
    REQUIRE(run_record_finish(&rr, &b->s, NULL, 0, NULL, 0, NULL, &err) == 0, "%s", err.msg);
    double dt = lz_now_seconds() - t0;
    last_cpu = cpu_seconds() - c0;
    *inside = rr.rec.t_fill + rr.rec.t_step;
    run_record_free(&rr);
    int64_t k = 0;
    REQUIRE(rdb_query_int64(&db, "SELECT count(*) FROM module_steps", &k, &err) == 0, "%s", err.msg);
    *module_steps = (long)k;
    rdb_close(&db);
    unlink(b->db_path);
    return dt;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    long n = argc > 2 ? atol(argv[2]) : 32;
    int steps = argc > 3 ? atoi(argv[3]) : 50;
    REQUIRE(reps >= 1 && n >= 1 && steps >= 1 && steps <= 1000, "usage: record [reps] [samples] [steps]");
    bench_print_env("record");
    printf("# element-wise threads %d (LAZYDIT_THREADS)\n", parallel_threads());
    Bench b;
    memset(&b, 0, sizeof b);
    b.n = n;
    LzError err;
    DitConfig cfg;
    float *params;
    REQUIRE(dit_load(MODEL, 0, &cfg, &params, &err) == 0, "%s", err.msg);
    int batch = n < 32 ? (int)n : 32;
    dit_build(&b.m, &cfg, params, 2 * batch, 0);
    char spacing[16];
    snprintf(spacing, sizeof spacing, "%d", steps);
    REQUIRE(diffusion_create(&b.d, "linear", 1000, spacing, &err) == 0, "%s", err.msg);
    SamplerOptions o = sampler_default_options(&cfg, batch);
    REQUIRE(sampler_init(&b.s, &b.m, &b.d, &o, &err) == 0, "%s", err.msg);
    b.img = (long)cfg.in_channels * cfg.input_size * cfg.input_size;
    b.labels = malloc(sizeof(int) * n);
    b.out = malloc(sizeof(float) * n * b.img);
    b.ref = malloc(sizeof(float) * n * b.img);
    for (long i = 0; i < n; i++) b.labels[i] = (int)(i % cfg.num_classes);
    snprintf(b.db_path, sizeof b.db_path, "/tmp/lazydit_bench_record_%ld.db", (long)getpid());
    double t0 = lz_now_seconds();
    sim_bound_weight_norms(&b.wn, &b.m);
    double t_norms = lz_now_seconds() - t0;

    // Validation.
    plain_run(&b);
    memcpy(b.ref, b.out, sizeof(float) * n * b.img);
    long rows = 0;
    double in_q = 0, in_w = 0;
    recorded_run(&b, 0, &rows, &in_q);
    REQUIRE(!memcmp(b.ref, b.out, sizeof(float) * n * b.img), "recorded samples differ from plain ones");
    REQUIRE(rows == (long)steps * cfg.depth * 2, "%ld module_steps rows, want %d", rows, steps * cfg.depth * 2);

    // Two measures: the interleaved wall-clock ratio (best of each kind), and
    // the time spent inside the recorder's hooks as a fraction of the same
    // recorded run (robust to load from other processes, which inflates both).
    double best_plain = 1e30, best_rec = 1e30, best_rows = 1e30, frac_rec = 1e30, frac_rows = 1e30;
    double cpu_plain = 1e30, cpu_rec = 1e30, cpu_rows = 1e30;
    for (int r = 0; r < reps; r++) {
        double p = plain_run(&b);
        cpu_plain = fmin(cpu_plain, last_cpu);
        double q = recorded_run(&b, 0, &rows, &in_q);
        cpu_rec = fmin(cpu_rec, last_cpu);
        double w = recorded_run(&b, 1, &rows, &in_w);
        cpu_rows = fmin(cpu_rows, last_cpu);
        if (p < best_plain) best_plain = p;
        if (q < best_rec) best_rec = q;
        if (w < best_rows) best_rows = w;
        if (in_q / q < frac_rec) frac_rec = in_q / q;
        if (in_w / w < frac_rows) frac_rows = in_w / w;
        printf("# rep %d: plain %.3f s, recorded %.3f s (%.3f s in the recorder), with module_rows %.3f s (%.3f s)\n",
               r + 1, p, q, in_q, w, in_w);
    }
    printf("record: %ld samples, %d steps, cfg 1.5 (%d model rows per forward), best of %d\n", n, steps, 2 * batch, reps);
    printf("  plain sampling          %.3f s\n", best_plain);
    printf("  recorded (module_steps) %.3f s   ratio %.4f  (overhead %+.2f%%; target <= 5%%); in the recorder %.2f%%\n",
           best_rec, best_rec / best_plain, 100 * (best_rec / best_plain - 1), 100 * frac_rec);
    printf("  recorded + module_rows  %.3f s   ratio %.4f  (overhead %+.2f%%); in the recorder %.2f%%\n", best_rows,
           best_rows / best_plain, 100 * (best_rows / best_plain - 1), 100 * frac_rows);
    printf("  CPU time: plain %.3f s, recorded %.3f s (ratio %.4f), + module_rows %.3f s (ratio %.4f)%s\n", cpu_plain,
           cpu_rec, cpu_rec / cpu_plain, cpu_rows, cpu_rows / cpu_plain,
           parallel_threads() == 1 && openblas_get_num_threads() == 1 ? "" : " (spinning BLAS threads count too)");
    printf("  weight norms (once per model and process) %.3f s\n", t_norms);
    sampler_free(&b.s);
    diffusion_free(&b.d);
    dit_free(&b.m);
    free(b.labels);
    free(b.out);
    free(b.ref);
    return 0;
}
