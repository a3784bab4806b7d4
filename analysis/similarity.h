// similarity.h: how much one model row's module output Y and modulated input
// Z changed from one sampling step to the next, accumulated in double.
//
// For a row with output Y_t (T x D) and input Z_t, and the values Y_{t-1},
// Z_{t-1} the same row had at the previous step it was seen:
//   cos        tr(Y_t^T Y_{t-1}) / (|Y_t|_F |Y_{t-1}|_F)
//   rel_l2     |Y_t - Y_{t-1}|_F / |Y_{t-1}|_F
//   z_dist     |Z_t - Z_{t-1}|_F
//   z_rel_dist |Z_t - Z_{t-1}|_F / |Z_{t-1}|_F
//   lipschitz  |Y_t - Y_{t-1}|_F / |Z_t - Z_{t-1}|_F
// A ratio whose denominator is 0 is NaN ("not defined"); cos divides by
// sqrt(|Y_t|^2 |Y_{t-1}|^2), so identical outputs give exactly 1.
#pragma once

typedef struct {
    double yy;  // |Y_t|^2
    double pp;  // |Y_{t-1}|^2
    double yp;  // <Y_t, Y_{t-1}>
    double dy;  // |Y_t - Y_{t-1}|^2 = yy + pp - 2 yp
    double zz;  // |Z_t|^2
    double qq;  // |Z_{t-1}|^2
    double zq;  // <Z_t, Z_{t-1}>
    double dz;  // |Z_t - Z_{t-1}|^2 = zz + qq - 2 zq
} SimSums;

typedef struct {
    double cos, rel_l2, z_dist, z_rel_dist, lipschitz;
    double z_norm, z_prev_norm;  // |Z_t|_F, |Z_{t-1}|_F (the input-norm term of the bound's R)
} SimRow;

// One pass over a row of n values: the sums of the comparison with the
// previous values, which are then overwritten with y and z (the row's new
// previous values). The sums are formed in a fixed lane order, so the result
// does not depend on anything but the data.
void sim_row_update(SimSums *s, const float *y, float *prev_y, const float *z, float *prev_z, long n);
// The row's first step: nothing to compare, only stores y and z as previous.
void sim_row_store(const float *y, float *prev_y, const float *z, float *prev_z, long n);
SimRow sim_row_finish(const SimSums *s);
