// similarity.c: the per-row similarity pass (see similarity.h).
#include "analysis/similarity.h"

#include <math.h>
#include <string.h>

// Independent partial sums per lane: the compiler may keep them in vector
// registers (lane k only ever adds element 4i + k, so no reassociation is
// needed, and -ffast-math is not), which keeps the recorder's cost a small
// fraction of the forward pass. The lanes are added in a fixed order at the end.
#define LANES 4

void sim_row_update(SimSums *s, const float *y, float *prev_y, const float *z, float *prev_z, long n) {
    double yy[LANES] = {0}, pp[LANES] = {0}, yp[LANES] = {0}, dy[LANES] = {0};
    double zz[LANES] = {0}, qq[LANES] = {0}, dz[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int k = 0; k < LANES; k++) {
            double a = y[i + k], b = prev_y[i + k], c = z[i + k], d = prev_z[i + k];
            double e = a - b, f = c - d;
            yy[k] += a * a;
            pp[k] += b * b;
            yp[k] += a * b;
            dy[k] += e * e;
            zz[k] += c * c;
            qq[k] += d * d;
            dz[k] += f * f;
        }
        for (int k = 0; k < LANES; k++) {
            prev_y[i + k] = y[i + k];
            prev_z[i + k] = z[i + k];
        }
    }
    for (int k = 0; i < n; i++, k++) {
        double a = y[i], b = prev_y[i], c = z[i], d = prev_z[i];
        double e = a - b, f = c - d;
        yy[k] += a * a;
        pp[k] += b * b;
        yp[k] += a * b;
        dy[k] += e * e;
        zz[k] += c * c;
        qq[k] += d * d;
        dz[k] += f * f;
        prev_y[i] = y[i];
        prev_z[i] = z[i];
    }
    SimSums t = {0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < LANES; k++) {
        t.yy += yy[k];
        t.pp += pp[k];
        t.yp += yp[k];
        t.dy += dy[k];
        t.zz += zz[k];
        t.qq += qq[k];
        t.dz += dz[k];
    }
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
