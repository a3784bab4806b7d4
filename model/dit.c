#include "model/dit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/kernels.h"
#include "model/kernels_parallel.h"

#define LN_EPS 1e-6f

// --- activation sizes --------------------------------------------------------

float *dit_families_alloc(const DitFamily *f, int n, const char *what, long *total) {
    long sum = 0;
    for (int i = 0; i < n; i++) sum += f[i].floats;
    float *mem = lz_calloc((size_t)(sum ? sum : 1), sizeof(float), what);
    float *at = mem;
    for (int i = 0; i < n; i++) {
        *f[i].slot = f[i].floats ? at : NULL;
        at += f[i].floats;
    }
    if (total) *total = sum;
    return mem;
}

enum { DIT_MAX_ACT_FAMILIES = 48 };

// The activation families, one entry each, into f (room for `cap`).
static int act_families(DitFamily *f, int cap, DitActs *a, const DitConfig *c, int B, int training) {
    long D = c->hidden, T = dit_tokens(c), M = c->mlp_hidden, H = c->heads, F = c->freq_dim;
    long Ls = training ? c->depth : 1;  // per-layer families
    long img_in = (long)B * c->in_channels * c->input_size * c->input_size;
    long img_out = (long)B * dit_out_channels(c) * c->input_size * c->input_size;
    long BTD = (long)B * T * D;
    int n = 0;
#define FAM(field, size)                                                            \
    do {                                                                            \
        CHECK(n < cap, "DiT activations: more than %d families (raise the table)", cap); \
        f[n].slot = &a->field, f[n].floats = (size), n++;                          \
    } while (0)
    FAM(patches, (long)B * T * dit_patch_dim(c));
    FAM(tfreq, (long)B * F);
    FAM(th, (long)B * D);
    FAM(th_act, (long)B * D);
    FAM(c, (long)B * D);
    FAM(silu_c, (long)B * D);
    FAM(res, (training ? c->depth + 1 : 1) * BTD);
    FAM(mid, (training ? c->depth : 0) * BTD);  // inference updates res in place
    FAM(mod, (long)c->depth * B * 6 * D);
    FAM(ln1, Ls * BTD);
    FAM(ln1_mean, Ls * B * T);
    FAM(ln1_rstd, Ls * B * T);
    FAM(z1, Ls * BTD);
    FAM(qkv, Ls * BTD * 3);
    FAM(att, Ls * B * H * T * T);
    FAM(atty, Ls * BTD);
    FAM(y1, Ls * BTD);
    FAM(ln2, Ls * BTD);
    FAM(ln2_mean, Ls * B * T);
    FAM(ln2_rstd, Ls * B * T);
    FAM(z2, Ls * BTD);
    FAM(fc1, Ls * B * T * M);
    FAM(gelu, Ls * B * T * M);
    FAM(y2, Ls * BTD);
    FAM(fmod, (long)B * 2 * D);
    FAM(lnf, BTD);
    FAM(lnf_mean, (long)B * T);
    FAM(lnf_rstd, (long)B * T);
    FAM(zf, BTD);
    FAM(out_tokens, (long)B * T * dit_out_patch_dim(c));
    FAM(out, img_out);
    FAM(cfg_in, img_in);
    FAM(cfg_out, img_out);
    FAM(gather_z, BTD);
    FAM(gather_y, BTD);
    FAM(stack_in, training ? 0 : BTD);  // stack hooks are an inference feature
    FAM(stack_z0, training ? 0 : BTD);
    FAM(stack_out, training ? 0 : BTD);
    FAM(score, (long)B);
#undef FAM
    return n;
}

long dit_acts_bytes(const DitConfig *cfg, int max_batch, int training) {
    DitFamily f[DIT_MAX_ACT_FAMILIES];
    DitActs a;
    int n = act_families(f, DIT_MAX_ACT_FAMILIES, &a, cfg, max_batch, training);
    long total = 0;
    for (int i = 0; i < n; i++) total += f[i].floats;
    return total * (long)sizeof(float) + max_batch * (long)(2 * sizeof(unsigned char) + 3 * sizeof(int));
}

void dit_build(DitModel *m, const DitConfig *cfg, float *params, int max_batch, int training) {
    LzError err;
    CHECK(dit_config_validate(cfg, &err) == 0, "dit_build: %s", err.msg);
    CHECK(max_batch > 0, "dit_build: max_batch %d must be positive", max_batch);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->params_memory = params;
    dit_params_layout(&m->params, params, cfg);
    m->max_batch = max_batch;
    m->training = training;
    DitFamily f[DIT_MAX_ACT_FAMILIES];
    int n = act_families(f, DIT_MAX_ACT_FAMILIES, &m->acts, cfg, max_batch, training);
    m->acts_memory = dit_families_alloc(f, n, "DiT activations", &m->acts_floats);
    m->acts.skip = lz_calloc(2 * (size_t)max_batch, 1, "DiT skip flags");
    m->acts.stack_skip = m->acts.skip + max_batch;
    m->acts.kept_rows = lz_calloc(3 * (size_t)max_batch, sizeof(int), "DiT kept rows");
    m->acts.row_ids = m->acts.kept_rows + max_batch;
    m->acts.packed_row = m->acts.kept_rows + 2 * (size_t)max_batch;
}

void dit_free(DitModel *m) {
    free(m->params_memory);
    free(m->acts_memory);
    free(m->acts.skip);
    free(m->acts.kept_rows);
    memset(m, 0, sizeof *m);
}

// --- modules -----------------------------------------------------------------

// Attention module of block l on `B` rows: y (B, T, D) = proj(attention(qkv(z))).
// Works on any prefix of the activation buffers (the gathered rows of a mixed
// batch use the same buffers with a smaller B).
static void attention_module(DitModel *m, int l, float *y, const float *z, int B) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    DitParams *p = &m->params;
    int D = c->hidden, T = dit_tokens(c);
    long BTD = (long)m->max_batch * T * D;
    float *qkv = dit_layer(m, a->qkv, l, BTD * 3);
    float *att = dit_layer(m, a->att, l, (long)m->max_batch * c->heads * T * T);
    float *atty = dit_layer(m, a->atty, l, BTD);
    attention_module_forward_par(y, qkv, att, atty, z, p->qkv_w + (long)l * 3 * D * D, p->qkv_b + (long)l * 3 * D,
                                 p->proj_w + (long)l * D * D, p->proj_b + (long)l * D, B, T, D, c->heads,
                                 m->training);
}

// MLP module of block l: y (B, T, D) = fc2(GELU_tanh(fc1(z))).
static void mlp_module(DitModel *m, int l, float *y, const float *z, int B) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    DitParams *p = &m->params;
    int D = c->hidden, T = dit_tokens(c), M = c->mlp_hidden;
    long BTM = (long)m->max_batch * T * M;
    float *h = dit_layer(m, a->fc1, l, BTM);
    float *g = dit_layer(m, a->gelu, l, BTM);
    // fc1, GELU and fc2 per row tile while it is in cache; the pre-GELU
    // values are kept only for backward (training mode).
    mlp_forward_par(y, m->training ? h : NULL, g, z, p->fc1_w + (long)l * M * D, p->fc1_b + (long)l * M,
                    p->fc2_w + (long)l * D * M, p->fc2_b + (long)l * D, B * T, D, M);
}

typedef void (*ModuleFn)(DitModel *m, int l, float *y, const float *z, int B);

// First half of a module under the hook protocol of dit.h: every set's
// decide in chain order. z is NULL when no set reads it (the forward then
// computes Z after this, for the kept rows only). Lists the kept rows in
// a->kept_rows (and each row's packed index in a->packed_row) and returns
// their number.
static int module_decide(DitModel *m, const DitStep *step, int l, DitModule which, float *y, const float *z,
                         const float *gate, int B, const DitHooks *hooks, DitModuleView *v) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    int D = c->hidden;
    memset(a->skip, 0, (size_t)B);
    for (int b = 0; b < B; b++) a->score[b] = NAN;
    *v = (DitModuleView){step, l, which, B, dit_tokens(c), D, a->row_ids, z, y, gate, 6 * D, a->skip, a->score};
    int has_fill = 0;
    for (const DitHooks *h = hooks; h; h = h->next) {
        if (h->decide) h->decide(h->ctx, v);
        has_fill |= h->fill != NULL;
    }
    int kept = 0;
    for (int b = 0; b < B; b++) {
        a->packed_row[b] = a->skip[b] ? -1 : kept;
        if (!a->skip[b]) a->kept_rows[kept++] = b;
    }
    CHECK(!m->training || kept == B, "layer %d %s: skipping rows is not supported in training mode", l,
          dit_module_name(which));
    CHECK(kept == B || has_fill, "layer %d %s: rows were skipped but no fill hook provides their output", l,
          dit_module_name(which));
    return kept;
}

// Second half: computes the kept rows into v->y (all of them from z, or a
// packed subset: `packed` = 1 when a->gather_z already holds the kept rows'
// Z, else they are gathered from z), then every set's fill. Returns where the
// module's output now is: y, or the buffer a hook pointed the view at.
static const float *module_run(DitModel *m, int l, ModuleFn fn, DitModuleView *v, const float *z, int packed,
                               int kept, const DitHooks *hooks) {
    DitActs *a = &m->acts;
    long row = (long)v->T * v->D;
    int B = v->B;
    if (kept == B) {
        fn(m, l, v->y, z, B);
    } else if (kept > 0) {
        if (!packed)
            for (int k = 0; k < kept; k++)
                memcpy(a->gather_z + k * row, z + a->kept_rows[k] * row, sizeof(float) * row);
        fn(m, l, a->gather_y, a->gather_z, kept);
        for (int k = 0; k < kept; k++)
            memcpy(v->y + a->kept_rows[k] * row, a->gather_y + k * row, sizeof(float) * row);
    }
    for (const DitHooks *h = hooks; h; h = h->next)
        if (h->fill) h->fill(h->ctx, v);
    return v->y;
}

// Whether some set of the chain may read a module view's z.
static int chain_reads_z(const DitHooks *hooks) {
    for (const DitHooks *h = hooks; h; h = h->next)
        if ((h->decide || h->fill) && !h->ignores_z) return 1;
    return 0;
}

static int chain_has_stack_hooks(const DitHooks *hooks) {
    for (const DitHooks *h = hooks; h; h = h->next)
        if (h->stack_decide || h->stack_done) return 1;
    return 0;
}

// Before block 0: computes block 0's modulated attention input (the same
// values block 0 computes again for the rows it runs), keeps the block-0
// input, and lets the stack hooks decide. Returns the number of rows that
// enter the blocks; those are moved to the front of the residual stream (in
// order; k <= kept_rows[k], so moving forward in place is safe) and row_ids
// maps them back to model rows.
static int stack_decide(DitModel *m, const DitStep *step, int B, const DitHooks *hooks, DitStackView *v) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    DitParams *p = &m->params;
    int D = c->hidden, T = dit_tokens(c);
    long row = (long)T * D, D6 = 6L * D;
    memcpy(a->stack_in, a->res, sizeof(float) * B * row);
    linear_forward_par(a->mod, a->silu_c, p->ada_w, p->ada_b, B, D, (int)D6);
    layernorm_forward_par(a->ln1, a->ln1_mean, a->ln1_rstd, a->res, B * T, D, LN_EPS);
    modulate_forward_par(a->stack_z0, a->ln1, a->mod, a->mod + D, B, T, D, (int)D6);
    memset(a->stack_skip, 0, (size_t)B);
    *v = (DitStackView){step, B, T, D, a->stack_in, a->stack_z0, a->stack_out, a->stack_skip};
    for (const DitHooks *h = hooks; h; h = h->next)
        if (h->stack_decide) h->stack_decide(h->ctx, v);
    int kept = 0;
    for (int b = 0; b < B; b++)
        if (!a->stack_skip[b]) a->row_ids[kept++] = b;
    if (kept < B) {
        for (int k = 0; k < kept; k++) {
            int b = a->row_ids[k];
            if (b == k) continue;
            memcpy(a->res + k * row, a->res + b * row, sizeof(float) * row);
            memcpy(a->silu_c + (long)k * D, a->silu_c + (long)b * D, sizeof(float) * D);
        }
    }
    return kept;
}

// After the last block: puts the kept rows back at their model rows (in
// reverse, the inverse of the forward move), writes the skipped rows' stack
// outputs, restores SiLU(c) of every row for the final layer, and calls the
// done hooks with every row's stack output.
static void stack_done(DitModel *m, int B, int kept, const DitHooks *hooks, DitStackView *v) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    int D = c->hidden, T = dit_tokens(c);
    long row = (long)T * D;
    if (kept < B) {
        for (int k = kept - 1; k >= 0; k--) {
            int b = a->row_ids[k];
            if (b != k) memcpy(a->res + b * row, a->res + k * row, sizeof(float) * row);
        }
        for (int b = 0; b < B; b++)
            if (a->stack_skip[b]) memcpy(a->res + b * row, a->stack_out + b * row, sizeof(float) * row);
        silu_forward(a->silu_c, a->c, (long)B * D);
    }
    for (int b = 0; b < B; b++) a->row_ids[b] = b;
    v->out = a->res;
    for (const DitHooks *h = hooks; h; h = h->next)
        if (h->stack_done) h->stack_done(h->ctx, v);
}

// --- the forward pass ----------------------------------------------------------

void dit_forward(DitModel *m, const float *x, const float *t, const int *y, int B, const DitStep *step,
                 const DitHooks *hooks) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    DitParams *p = &m->params;
    CHECK(B > 0 && B <= m->max_batch, "dit_forward: batch %d outside 1..%d (the model was built for %d)", B,
          m->max_batch, m->max_batch);
    for (int b = 0; b < B; b++)
        CHECK(y[b] >= 0 && y[b] <= c->num_classes, "dit_forward: label %d of row %d outside 0..%d (%d = null class)",
              y[b], b, c->num_classes, c->num_classes);
    int D = c->hidden, T = dit_tokens(c), F = c->freq_dim, L = c->depth, S = c->input_size;
    long BTD = (long)m->max_batch * T * D, BT = (long)m->max_batch * T, D6 = 6L * D;

    // Patch embedding (Conv2d with kernel = stride = p as one GEMM) + pos_embed.
    float *x0 = a->res;
    patchify(a->patches, x, B, c->in_channels, S, S, c->patch);
    linear_forward_par(x0, a->patches, p->x_embed_w, p->x_embed_b, B * T, dit_patch_dim(c), D);
    for (int b = 0; b < B; b++)
        for (long i = 0; i < (long)T * D; i++) x0[(long)b * T * D + i] += p->pos_embed[i];

    // Conditioning: c = t_embedder(t) + y_embedder(y).
    timestep_embedding(a->tfreq, t, B, F);
    linear_forward_par(a->th, a->tfreq, p->t_fc1_w, p->t_fc1_b, B, F, D);
    silu_forward(a->th_act, a->th, (long)B * D);
    linear_forward_par(a->c, a->th_act, p->t_fc2_w, p->t_fc2_b, B, D, D);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < D; i++) a->c[(long)b * D + i] += p->y_table[(long)y[b] * D + i];
    silu_forward(a->silu_c, a->c, (long)B * D);

    // The block stack runs on Bs rows: all of them, or those the stack hooks kept.
    for (int b = 0; b < B; b++) a->row_ids[b] = b;
    int stack_hooks = chain_has_stack_hooks(hooks);
    CHECK(!stack_hooks || !m->training, "dit_forward: stack hooks are not supported in training mode");
    DitStackView sv;
    int Bs = stack_hooks ? stack_decide(m, step, B, hooks, &sv) : B;
    // Inference with module hooks none of which reads Z: Z only for kept rows.
    int lazy_z = !m->training && hooks && !chain_reads_z(hooks);

    for (int l = 0; l < L && Bs > 0; l++) {
        float *xin = m->training ? a->res + (long)l * BTD : a->res;
        float *xmid = m->training ? a->mid + (long)l * BTD : a->res;
        float *xout = m->training ? a->res + (long)(l + 1) * BTD : a->res;
        float *mod = a->mod + (long)l * m->max_batch * D6;  // (B, 6D)
        float *ln1 = dit_layer(m, a->ln1, l, BTD), *z1 = dit_layer(m, a->z1, l, BTD);
        float *ln2 = dit_layer(m, a->ln2, l, BTD), *z2 = dit_layer(m, a->z2, l, BTD);
        float *y1 = dit_layer(m, a->y1, l, BTD), *y2 = dit_layer(m, a->y2, l, BTD);

        // adaLN: chunk order shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
        linear_forward_par(mod, a->silu_c, p->ada_w + (long)l * D6 * D, p->ada_b + (long)l * D6, Bs, D, (int)D6);
        const float *shift_msa = mod, *scale_msa = mod + D, *gate_msa = mod + 2 * D;
        const float *shift_mlp = mod + 3 * D, *scale_mlp = mod + 4 * D, *gate_mlp = mod + 5 * D;

        float *mean1 = dit_layer(m, a->ln1_mean, l, BT), *rstd1 = dit_layer(m, a->ln1_rstd, l, BT);
        float *mean2 = dit_layer(m, a->ln2_mean, l, BT), *rstd2 = dit_layer(m, a->ln2_rstd, l, BT);
        DitModuleView v;
        const float *y1_used, *y2_used;
        if (!lazy_z) {
            // LN(x) itself is kept only for backward; z is what the modules and hooks read.
            layernorm_modulate_forward_par(z1, m->training ? ln1 : NULL, mean1, rstd1, xin, shift_msa, scale_msa, Bs,
                                           T, D, (int)D6, LN_EPS);
            int kept = module_decide(m, step, l, DIT_ATTN, y1, z1, gate_msa, Bs, hooks, &v);
            y1_used = module_run(m, l, attention_module, &v, z1, 0, kept, hooks);
            // x_mid = x_in + gate_msa * y1 and z2 = modulate(LN(x_mid)) in one pass.
            residual_layernorm_modulate_forward_par(xmid, z2, m->training ? ln2 : NULL, mean2, rstd2, xin, gate_msa,
                                                    y1_used, shift_mlp, scale_mlp, Bs, T, D, (int)D6, LN_EPS);
            kept = module_decide(m, step, l, DIT_MLP, y2, z2, gate_mlp, Bs, hooks, &v);
            y2_used = module_run(m, l, mlp_module, &v, z2, 0, kept, hooks);
        } else {
            // No hook reads Z: decide first, then Z only for the rows that run,
            // packed (inference: xin == xmid == xout, updated in place).
            int kept = module_decide(m, step, l, DIT_ATTN, y1, NULL, gate_msa, Bs, hooks, &v);
            if (kept == Bs)
                layernorm_modulate_forward_par(z1, NULL, mean1, rstd1, xin, shift_msa, scale_msa, Bs, T, D, (int)D6,
                                               LN_EPS);
            else if (kept > 0)
                layernorm_modulate_rows_par(a->gather_z, xin, shift_msa, scale_msa, a->kept_rows, kept, T, D, (int)D6,
                                            LN_EPS);
            y1_used = module_run(m, l, attention_module, &v, z1, 1, kept, hooks);
            kept = module_decide(m, step, l, DIT_MLP, y2, NULL, gate_mlp, Bs, hooks, &v);
            if (kept == Bs)
                residual_layernorm_modulate_forward_par(xmid, z2, NULL, mean2, rstd2, xin, gate_msa, y1_used,
                                                        shift_mlp, scale_mlp, Bs, T, D, (int)D6, LN_EPS);
            else
                residual_layernorm_modulate_rows_par(xmid, a->gather_z, gate_msa, y1_used, shift_mlp, scale_mlp,
                                                     a->packed_row, Bs, T, D, (int)D6, LN_EPS);
            y2_used = module_run(m, l, mlp_module, &v, z2, 1, kept, hooks);
        }
        if (xout != xmid) memcpy(xout, xmid, sizeof(float) * Bs * T * D);
        gated_residual_forward_par(xout, gate_mlp, y2_used, Bs, T, D, (int)D6);
    }

    if (stack_hooks) stack_done(m, B, Bs, hooks, &sv);

    // Final layer: adaLN gives shift then scale; linear to p*p*Cout; unpatchify.
    float *xl = m->training ? a->res + (long)L * BTD : a->res;
    linear_forward_par(a->fmod, a->silu_c, p->final_ada_w, p->final_ada_b, B, D, 2 * D);
    layernorm_modulate_forward_par(a->zf, a->lnf, a->lnf_mean, a->lnf_rstd, xl, a->fmod, a->fmod + D, B, T, D, 2 * D,
                                   LN_EPS);
    linear_forward_par(a->out_tokens, a->zf, p->final_w, p->final_b, B * T, D, dit_out_patch_dim(c));
    unpatchify(a->out, a->out_tokens, B, dit_out_channels(c), S, S, c->patch);
}

const float *dit_forward_cfg(DitModel *m, const float *x, const float *t, const int *y, int B, float scale,
                             int guide_channels, const DitStep *step, const DitHooks *hooks) {
    const DitConfig *c = &m->cfg;
    CHECK(B % 2 == 0, "forward_with_cfg: batch %d must be even (conditional half, then null half)", B);
    int Cout = dit_out_channels(c);
    CHECK(guide_channels >= 1, "forward_with_cfg: guide_channels %d must be >= 1", guide_channels);
    // Like the upstream slice model_out[:, :3], a count beyond Cout means all channels.
    if (guide_channels > Cout) guide_channels = Cout;
    long img_in = (long)c->in_channels * c->input_size * c->input_size;
    long hw = (long)c->input_size * c->input_size;
    int half = B / 2;
    // combined = cat([x[:half], x[:half]])
    memcpy(m->acts.cfg_in, x, sizeof(float) * half * img_in);
    memcpy(m->acts.cfg_in + half * img_in, x, sizeof(float) * half * img_in);
    dit_forward(m, m->acts.cfg_in, t, y, B, step, hooks);
    const float *o = m->acts.out;
    float *r = m->acts.cfg_out;
    memcpy(r, o, sizeof(float) * B * Cout * hw);
    for (int b = 0; b < half; b++)
        for (int ch = 0; ch < guide_channels; ch++) {
            const float *cond = o + ((long)b * Cout + ch) * hw;
            const float *uncond = o + ((long)(b + half) * Cout + ch) * hw;
            float *r1 = r + ((long)b * Cout + ch) * hw, *r2 = r + ((long)(b + half) * Cout + ch) * hw;
            for (long i = 0; i < hw; i++) {
                float g = uncond[i] + scale * (cond[i] - uncond[i]);
                r1[i] = g;
                r2[i] = g;
            }
        }
    return r;
}
