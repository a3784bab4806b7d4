// similarity.c: the per-row similarity pass (see similarity.h).
#include "analysis/similarity.h"

#include <math.h>
#include <string.h>

// Six sums over the row: |Y_t|^2, |Y_{t-1}|^2, <Y_t, Y_{t-1}> and the same
// for Z; the distances follow as |a|^2 + |b|^2 - 2<a, b>. In double that
// costs nothing in accuracy here (a relative change of 1e-4 still keeps ~8
// digits), identical rows still give exactly 0 (the three sums are then the
// same numbers), and it saves the subtractions and two accumulators.
//
// Two independent partial sums per quantity (lane k adds elements 2i + k),
// held in a two-double vector (GCC/Clang vector extension: SSE2 on x86-64,
// NEON on ARM, plain code elsewhere). The six accumulators stay in registers
// and nothing is reassociated (no -ffast-math), and the lanes are added in a
// fixed order at the end, so the result depends only on the data. This pass
// is the recorder's whole per-element cost (bench/record).
typedef double f64x2 __attribute__((vector_size(16)));

void sim_row_update(SimSums *s, const float *y, float *prev_y, const float *z, float *prev_z, long n) {
    f64x2 yy = {0, 0}, pp = {0, 0}, yp = {0, 0}, zz = {0, 0}, qq = {0, 0}, zq = {0, 0};
    long i = 0;
    for (; i + 2 <= n; i += 2) {
        f64x2 a = {y[i], y[i + 1]}, b = {prev_y[i], prev_y[i + 1]};
        f64x2 c = {z[i], z[i + 1]}, d = {prev_z[i], prev_z[i + 1]};
        yy += a * a;
        pp += b * b;
        yp += a * b;
        zz += c * c;
        qq += d * d;
        zq += c * d;
        prev_y[i] = y[i];
        prev_y[i + 1] = y[i + 1];
        prev_z[i] = z[i];
        prev_z[i + 1] = z[i + 1];
    }
    SimSums t = {yy[0] + yy[1], pp[0] + pp[1], yp[0] + yp[1], 0, zz[0] + zz[1], qq[0] + qq[1], zq[0] + zq[1], 0};
    if (i < n) {  // odd n: the last element goes to lane 0, after the lanes are added
        double a = y[i], b = prev_y[i], c = z[i], d = prev_z[i];
        t.yy += a * a;
        t.pp += b * b;
        t.yp += a * b;
        t.zz += c * c;
        t.qq += d * d;
        t.zq += c * d;
        prev_y[i] = y[i];
        prev_z[i] = z[i];
    }
    // Rounding can leave a tiny negative where the true value is 0 or near it.
    t.dy = fmax(0.0, t.yy + t.pp - 2.0 * t.yp);
    t.dz = fmax(0.0, t.zz + t.qq - 2.0 * t.zq);
    *s = t;
}

void sim_row_store(const float *y, float *prev_y, const float *z, float *prev_z, long n) {
    memcpy(prev_y, y, sizeof(float) * (size_t)n);
    memcpy(prev_z, z, sizeof(float) * (size_t)n);
}

static double ratio(double num, double den) { return den > 0 ? num / den : NAN; }

SimRow sim_row_finish(const SimSums *s) {
    SimRow r;
    double ny = sqrt(s->dy), nz = sqrt(s->dz);
    r.cos = ratio(s->yp, sqrt(s->yy * s->pp));
    r.rel_l2 = ratio(ny, sqrt(s->pp));
    r.z_dist = nz;
    r.z_rel_dist = ratio(nz, sqrt(s->qq));
    r.lipschitz = ratio(ny, nz);
    r.z_norm = sqrt(s->zz);
    r.z_prev_norm = sqrt(s->qq);
    return r;
}
