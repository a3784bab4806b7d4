#include "model/base/parallel.h"

#include <pthread.h>
#include <stdlib.h>

#include "model/base/check.h"

#define MAX_THREADS 8

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;   // workers wait for a new job
    pthread_cond_t done;   // the caller waits for the workers
    long job;              // incremented per parallel_for call
    int pending;           // workers still running the current job
    ParallelRangeFn fn;
    void *ctx;
    long n;
    int nthreads;
    pthread_t workers[MAX_THREADS];
} Pool;

static Pool pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
                    NULL, NULL, 0, 0, {0}};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void range_of(long n, int nthreads, int k, long *begin, long *end) {
    *begin = n * k / nthreads;
    *end = n * (k + 1) / nthreads;
}

static void *worker_main(void *arg) {
    int k = (int)(long)arg;  // this worker's range index (1..nthreads-1; the caller takes 0)
    long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.job == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.job;
        ParallelRangeFn fn = pool.fn;
        void *ctx = pool.ctx;
        long n = pool.n, b, e;
        pthread_mutex_unlock(&pool.lock);
        range_of(n, pool.nthreads, k, &b, &e);
        if (e > b) fn(ctx, b, e);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

static void pool_start(void) {
    const char *env = getenv("LAZYDIT_THREADS");
    int n = env ? atoi(env) : 2;
    CHECK(n >= 1 && n <= MAX_THREADS, "LAZYDIT_THREADS=%s: expected 1..%d", env ? env : "", MAX_THREADS);
    pool.nthreads = n;
    for (int k = 1; k < n; k++) {
        int rc = pthread_create(&pool.workers[k], NULL, worker_main, (void *)(long)k);
        CHECK(rc == 0, "parallel: cannot start worker thread %d (error %d)", k, rc);
        pthread_detach(pool.workers[k]);
    }
}

int parallel_threads(void) {
    pthread_once(&pool_once, pool_start);
    return pool.nthreads;
}

void parallel_for(long n, long min_chunk, ParallelRangeFn fn, void *ctx) {
    int nt = parallel_threads();
    if (nt == 1 || n < 2 * (min_chunk > 0 ? min_chunk : 1)) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.pending = nt - 1;
    pool.job++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    long b, e;
    range_of(n, nt, 0, &b, &e);
    if (e > b) fn(ctx, b, e);
    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}
