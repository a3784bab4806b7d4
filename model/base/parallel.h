// parallel.h: the one thread pool of the process. Every parallel part of the
// DiT (GEMMs, attention, LayerNorm, GELU, residuals) runs as tiles on it, and
// OpenBLAS runs single-threaded while a region runs (its thread setting is
// restored afterwards, so code outside the regions keeps the caller's
// choice): two pools never compete for the cores.
//
// Determinism: work is cut into tiles whose boundaries depend only on the
// problem's shape, never on the thread count, and every tile is computed by
// exactly one thread with the same arithmetic. Which thread takes which tile
// (dynamic: the next free thread takes the next tile) changes nothing, so
// results are bit-identical for any LAZYDIT_THREADS.
//
// Waiting: a thread with nothing to do spins briefly with a pause
// instruction (user time, a few tens of microseconds: long enough to catch
// the next parallel region of a forward pass), then sleeps on a condition
// variable. Nothing ever spins through sched_yield (kernel time).
#pragma once

// fn(ctx, tile, worker): computes tile `tile` of the current job; `worker` in
// [0, parallel_threads()) identifies the calling thread (for per-thread scratch).
typedef void (*ParallelTileFn)(void *ctx, long tile, int worker);

// Runs fn over tiles 0 .. ntiles-1 and returns when all are done. Called from
// inside a tile (nested), it runs every tile on the calling thread; regions
// started from two threads at once run one after the other.
void parallel_tiles(long ntiles, ParallelTileFn fn, void *ctx);

typedef void (*ParallelRangeFn)(void *ctx, long begin, long end);

// Runs fn(ctx, begin, end) over [0, n) cut into ranges of `chunk` indices
// (the last may be shorter); chunk <= 0 means one range. The cut depends only
// on n and chunk.
void parallel_for(long n, long chunk, ParallelRangeFn fn, void *ctx);

// Threads used (the caller included): LAZYDIT_THREADS if set (1..64), else
// the number of CPUs this process may run on.
int parallel_threads(void);
// Changes the thread count for later calls (1..64); tests and benchmarks
// compare thread counts in one process with it.
void parallel_set_threads(int n);
