// provenance.h: where and with what a run was made, for the runs table:
// harness revision, host, threads and the BLAS core.
#pragma once

typedef struct {
    char git_rev[64];     // `git describe --always --dirty` of the tree the binary was built in; "" if unknown
    char host[256];
    char blas_core[96];   // OpenBLAS core name and thread count, e.g. "Zen, 2 threads"
    int threads;          // element-wise threads (LAZYDIT_THREADS, model/base/parallel.h)
} Provenance;

// Fills p. The git revision is looked up once per process: from the
// directory of the running executable upwards to the first one holding
// `.git`, then `git -C DIR describe --always --dirty` (empty when git or the
// repository is missing, e.g. an installed binary).
void provenance_get(Provenance *p);
// Current UTC time as ISO 8601 ("2026-12-01T10:40:04Z").
void provenance_utc_now(char buf[32]);
