// policy_oracle.c: the analysis upper bound. Every module is computed; a row
// then uses its cached output instead wherever the true cosine similarity
// cos(Y_t, cache) = <Y_t, cache> / (|Y_t| |cache|) is at least tau, with the
// cache the output of the row's last step whose computed output was used.
// The skipped slots count as reused (the sample used the cache) but their
// MACs as executed, so the run shows which laziness a perfect decision rule
// could afford, not a speed-up.
#include <math.h>

#include "model/lazy/policy.h"

typedef struct {
    double tau;
} OracleConfig;

static const PolicyOption oracle_options[] = {
    {"tau", POPT_DOUBLE, offsetof(OracleConfig, tau), NULL, -1, 1,
     "reuse where the cosine similarity of the computed output to the cache is at least this"},
};

// Cosine similarity in double. Two zero vectors are identical (1); one zero
// vector against a non-zero one has no direction in common (0).
static double cosine(const float *a, const float *b, long n) {
    double ab = 0, aa = 0, bb = 0;
    for (long i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 && bb == 0) return 1;
    if (aa == 0 || bb == 0) return 0;
    return ab / sqrt(aa * bb);
}

static void oracle_review(Policy *p, const DitModuleView *v, const float *prev, const unsigned char *has_prev,
                          unsigned char *reuse, float *score) {
    double tau = POLICY_CONFIG(p, OracleConfig)->tau;
    long row = (long)v->T * v->D;
    for (int b = 0; b < v->B; b++) {
        if (!has_prev[b]) continue;
        double c = cosine(v->y + b * row, prev + b * row, row);
        score[b] = (float)c;
        reuse[b] = c >= tau;
    }
}

const PolicyClass policy_oracle = {
    .name = "oracle",
    .summary = "compute every module, reuse the cache where cos(output, cache) >= --tau (analysis upper bound)",
    .options = oracle_options,
    .n_options = 1,
    .config_size = sizeof(OracleConfig),
    .review = oracle_review,
    .ignores_z = 1,
};
