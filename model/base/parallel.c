// sched_getaffinity and CPU_COUNT (the CPUs this process may run on).
#define _GNU_SOURCE
#include "model/base/parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/base/check.h"
#include "model/base/clock.h"

#define MAX_THREADS 64
// How long an idle thread spins before it sleeps. A forward pass starts its
// parallel regions back to back (the serial code between them is a few
// microseconds), so a short spin catches the next one without a futex round
// trip; between forwards (sampler bookkeeping, hooks) the threads sleep.
#define SPIN_SECONDS 50e-6

extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;      // workers wait for a new job
    pthread_cond_t done;      // the caller waits for the workers
    atomic_long job;          // incremented per job (written under lock)
    atomic_int pending;       // participating workers still running the job
    atomic_long next_tile;    // the next tile to hand out
    ParallelTileFn fn;
    void *ctx;
    long ntiles;
    int job_threads;          // threads of the current job, caller included
    int nthreads;             // configured thread count (read and written by the calling thread only)
    int started;              // workers created so far (indices 1 .. started)
} Pool;

static Pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                    .done = PTHREAD_COND_INITIALIZER};
// Held by the thread that runs a parallel region: regions started from two
// threads at once run one after the other instead of sharing the job slots.
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local int in_tile;  // 1 while this thread runs a tile (nested calls run serially)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_tiles(int worker) {
    in_tile = 1;
    long t;
    while ((t = atomic_fetch_add(&pool.next_tile, 1)) < pool.ntiles) pool.fn(pool.ctx, t, worker);
    in_tile = 0;
}

static void *worker_main(void *arg) {
    int k = (int)(long)arg;  // worker index 1 .. MAX_THREADS-1 (the caller is 0)
    long seen = 0;
    for (;;) {
        // Spin for a short while, then sleep until the job counter moves.
        double t0 = lz_now_seconds();
        for (int i = 0; atomic_load(&pool.job) == seen; i++) {
            cpu_relax();
            if ((i & 63) == 63 && lz_now_seconds() - t0 > SPIN_SECONDS) {
                pthread_mutex_lock(&pool.lock);
                while (atomic_load(&pool.job) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = atomic_load(&pool.job);
        if (k >= pool.job_threads) continue;  // not part of this job (fewer threads requested)
        run_tiles(k);
        if (atomic_fetch_sub(&pool.pending, 1) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

static int env_threads(void) {
    const char *env = getenv("LAZYDIT_THREADS");
    if (env) {
        char *end;
        long n = strtol(env, &end, 10);
        CHECK(*env && !*end && n >= 1 && n <= MAX_THREADS, "LAZYDIT_THREADS=%s: expected an integer in 1..%d", env,
              MAX_THREADS);
        return (int)n;
    }
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
}

static void pool_init(void) { pool.nthreads = env_threads(); }

int parallel_threads(void) {
    pthread_once(&pool_once, pool_init);
    return pool.nthreads;
}

void parallel_set_threads(int n) {
    CHECK(n >= 1 && n <= MAX_THREADS, "parallel_set_threads: %d outside 1..%d", n, MAX_THREADS);
    CHECK(!in_tile, "parallel_set_threads: called from inside a parallel region");
    pthread_once(&pool_once, pool_init);
    pool.nthreads = n;
}

// Creates workers up to nthreads - 1 (threads are never destroyed; a smaller
// count later leaves the extra ones asleep).
static void ensure_workers(int nthreads) {
    while (pool.started < nthreads - 1) {
        pthread_t th;
        long k = ++pool.started;
        int rc = pthread_create(&th, NULL, worker_main, (void *)k);
        CHECK(rc == 0, "parallel: cannot start worker thread %ld (error %d)", k, rc);
        pthread_detach(th);
    }
}

// OpenBLAS thread count for the duration of a region: one, so that BLAS
// calls inside tiles never start OpenBLAS's own threads (whose polling would
// compete with the pool); the caller's setting is restored afterwards.
static int blas_single(void) {
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

static void blas_restore(int prev) {
    if (prev != 1) openblas_set_num_threads(prev);
}

static void run_parallel(long ntiles, ParallelTileFn fn, void *ctx, int nt) {
    ensure_workers(nt);
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntiles = ntiles;
    pool.job_threads = nt;
    atomic_store(&pool.next_tile, 0);
    atomic_store(&pool.pending, nt - 1);
    atomic_fetch_add(&pool.job, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    run_tiles(0);
    // The other threads finish their last tiles: spin a little, then sleep.
    double t0 = lz_now_seconds();
    for (int i = 0; atomic_load(&pool.pending) > 0; i++) {
        cpu_relax();
        if ((i & 63) == 63 && lz_now_seconds() - t0 > SPIN_SECONDS) {
            pthread_mutex_lock(&pool.lock);
            while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
            break;
        }
    }
}

void parallel_tiles(long ntiles, ParallelTileFn fn, void *ctx) {
    if (ntiles <= 0) return;
    if (in_tile) {  // nested: this thread already owns a tile of an outer region
        for (long t = 0; t < ntiles; t++) fn(ctx, t, 0);
        return;
    }
    int nt = parallel_threads();
    pthread_mutex_lock(&region_lock);
    int blas = blas_single();
    if (nt == 1 || ntiles == 1) {
        in_tile = 1;
        for (long t = 0; t < ntiles; t++) fn(ctx, t, 0);
        in_tile = 0;
    } else {
        run_parallel(ntiles, fn, ctx, nt);
    }
    blas_restore(blas);
    pthread_mutex_unlock(&region_lock);
}

typedef struct {
    ParallelRangeFn fn;
    void *ctx;
    long n, chunk;
} RangeJob;

static void range_tile(void *v, long tile, int worker) {
    (void)worker;
    RangeJob *j = v;
    long b = tile * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
    j->fn(j->ctx, b, e);
}

void parallel_for(long n, long chunk, ParallelRangeFn fn, void *ctx) {
    if (n <= 0) return;
    if (chunk <= 0 || chunk > n) chunk = n;
    RangeJob j = {fn, ctx, n, chunk};
    parallel_tiles((n + chunk - 1) / chunk, range_tile, &j);
}
