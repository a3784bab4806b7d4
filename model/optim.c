// optim.c: AdamW and EMA (see optim.h). Per-element math is done in double and
// rounded once when stored, so the result is torch.optim.AdamW's float32 update
// to within an ulp or so while being independent of evaluation order.
#include "model/optim.h"

#include <math.h>

void adamw_update(float *params, float *m, float *v, const float *grads, long n, const AdamWConfig *cfg, long t) {
    const double lr = cfg->lr, b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    // torch: bias_correction1 = 1 - beta1^step, step_size = lr / bias_correction1,
    // denom = sqrt(v) / sqrt(bias_correction2) + eps (eps added after the correction).
    const double bc1 = 1.0 - pow(b1, (double)t);
    const double bc2_sqrt = sqrt(1.0 - pow(b2, (double)t));
    const double step_size = lr / bc1;
    // Decoupled weight decay (Loshchilov & Hutter) multiplies the parameter
    // before the moment update, exactly as torch does; it never enters m or v.
    const double decay = 1.0 - lr * cfg->weight_decay;
    for (long i = 0; i < n; i++) {
        double g = grads[i];
        double p = params[i] * decay;
        double mi = b1 * m[i] + (1.0 - b1) * g;
        double vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        // torch keeps m and v in float32 and divides the stored values: do the same
        double denom = sqrt((double)v[i]) / bc2_sqrt + eps;
        params[i] = (float)(p - step_size * (double)m[i] / denom);
    }
}

void ema_update(float *ema, const float *params, long n, double decay) {
    for (long i = 0; i < n; i++) ema[i] = (float)(decay * ema[i] + (1.0 - decay) * params[i]);
}

double lr_schedule_at(const LrSchedule *s, long step) {
    if (step + 1 < s->warmup) return s->lr * ((double)(step + 1) / (double)s->warmup);
    if (s->decay == LR_DECAY_NONE || step < s->warmup) return s->lr;
    long span = s->total - s->warmup > 0 ? s->total - s->warmup : 1;
    double t = (double)(step - s->warmup) / (double)span;
    return s->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t));
}
