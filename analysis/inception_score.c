// inception_score.c: IS from a probability matrix, and class consistency.
#include "analysis/inception_score.h"

#include <math.h>

#include "model/classifier.h"

int inception_score(double *mean, double *std, const float *probs, long n, int k, int splits, LzError *err) {
    if (k < 1) return lz_fail(err, "inception score: %d classes, need at least 1", k);
    if (splits < 1) return lz_fail(err, "inception score: splits = %d must be >= 1", splits);
    if (n < splits) return lz_fail(err, "inception score: %ld rows cannot be cut into %d splits", n, splits);
    for (long i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        double s = 0;
        for (int c = 0; c < k; c++) {
            if (!(p[c] >= 0) || !isfinite(p[c]))
                return lz_fail(err, "inception score: probability row %ld class %d is %g (need finite >= 0)", i, c,
                               (double)p[c]);
            s += p[c];
        }
        if (fabs(s - 1.0) > 1e-3)
            return lz_fail(err, "inception score: probability row %ld sums to %.6g, not 1 (pass softmax outputs)", i, s);
    }
    double *py = lz_malloc((size_t)k * sizeof(double), "inception score marginal");
    double sum = 0, sumsq = 0;
    for (int s = 0; s < splits; s++) {
        long a = (long)s * n / splits, b = (long)(s + 1) * n / splits;  // rows [a, b)
        for (int c = 0; c < k; c++) py[c] = 0;
        for (long i = a; i < b; i++)
            for (int c = 0; c < k; c++) py[c] += probs[(size_t)i * k + c];
        for (int c = 0; c < k; c++) py[c] /= (double)(b - a);
        double kl = 0;
        for (long i = a; i < b; i++) {
            const float *p = probs + (size_t)i * k;
            for (int c = 0; c < k; c++)
                if (p[c] > 0) kl += (double)p[c] * (log((double)p[c]) - log(py[c]));  // py[c] >= p[c]/(b-a) > 0
        }
        double score = exp(kl / (double)(b - a));
        sum += score;
        sumsq += score * score;
    }
    free(py);
    double m = sum / splits;
    double var = sumsq / splits - m * m;
    *mean = m;
    *std = var > 0 ? sqrt(var) : 0;
    return 0;
}

int class_consistency(double *out, const float *scores, const int64_t *labels, long n, int k, LzError *err) {
    if (n < 1 || k < 1) return lz_fail(err, "class consistency: empty input (%ld rows, %d classes)", n, k);
    long hits = 0;
    for (long i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return lz_fail(err, "class consistency: label %lld of row %ld is outside [0, %d)", (long long)labels[i], i, k);
        const float *s = scores + (size_t)i * k;
        for (int c = 0; c < k; c++)
            if (isnan(s[c])) return lz_fail(err, "class consistency: row %ld class %d is NaN", i, c);
        hits += cls_argmax(s, k) == labels[i];
    }
    *out = (double)hits / (double)n;
    return 0;
}
