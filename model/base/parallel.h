// parallel.h: splits row-parallel element-wise work (LayerNorm, modulation,
// GELU, gated residuals) across this process's threads. OpenBLAS already uses
// both cores for the GEMMs, but between GEMMs its second thread only spins:
// on 2 cores that was about a third of a training step. Every range is
// computed by exactly one thread with the same per-element arithmetic, so the
// results are bit-identical to the serial loop whatever the thread count.
//
// The worker threads sleep on a condition variable (they never spin, so they
// do not steal the cores from OpenBLAS) and are created on first use. The
// kernels themselves stay serial and pure; callers split the rows.
#pragma once

typedef void (*ParallelRangeFn)(void *ctx, long begin, long end);

// Runs fn(ctx, begin, end) over [0, n) split into contiguous ranges, one per
// thread, and returns when all are done. Ranges shorter than `min_chunk` are
// not worth a wake-up: then everything runs on the calling thread.
void parallel_for(long n, long min_chunk, ParallelRangeFn fn, void *ctx);

// Threads used (the caller included): LAZYDIT_THREADS if set (1..8), else 2.
int parallel_threads(void);
