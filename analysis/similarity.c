// similarity.c: the per-row similarity pass (see similarity.h).
#include "analysis/similarity.h"

#include <math.h>
#include <string.h>

#include "model/simd.h"

// Six sums over the row: |Y_t|^2, |Y_{t-1}|^2, <Y_t, Y_{t-1}> and the same
// for Z; the distances follow as |a|^2 + |b|^2 - 2<a, b>. In double that
// costs nothing in accuracy here (a relative change of 1e-4 still keeps ~8
// digits), identical rows still give exactly 0 (the three sums are then the
// same numbers), and it saves the subtractions and two accumulators.
//
// Four independent partial sums per quantity (lane k adds elements 4i + k),
// each set in one four-double vector (model/simd.h: an AVX2 clone and a
// default SSE2 clone that compute the same IEEE operations in the same order,
// so both give the same bits). Nothing is reassociated (no -ffast-math) and
// the lanes are added in a fixed order at the end, so the result depends only
// on the data. This pass is the recorder's whole per-element cost
// (bench/record): one read of Y, Z and their previous values, one write of
// the previous values.
SIMD_INLINE f64x4 widen(const float *p) {
    f32x4 v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, f64x4);
}

SIMD_CLONES void sim_row_update(SimSums *s, const float *y, float *prev_y, const float *z, float *prev_z, long n) {
    f64x4 yy = {0, 0, 0, 0}, pp = yy, yp = yy, zz = yy, qq = yy, zq = yy;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        f64x4 a = widen(y + i), b = widen(prev_y + i), c = widen(z + i), d = widen(prev_z + i);
        yy += a * a;
        pp += b * b;
        yp += a * b;
        zz += c * c;
        qq += d * d;
        zq += c * d;
        memcpy(prev_y + i, y + i, 4 * sizeof(float));
        memcpy(prev_z + i, z + i, 4 * sizeof(float));
    }
    SimSums t = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        t.yy += yy[k];
        t.pp += pp[k];
        t.yp += yp[k];
        t.zz += zz[k];
        t.qq += qq[k];
        t.zq += zq[k];
    }
    for (; i < n; i++) {  // the last n % 4 elements, after the lanes are added
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
