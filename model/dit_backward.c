#include "model/dit_backward.h"

#include <stdlib.h>
#include <string.h>

#include "model/kernels.h"
#include "model/kernels_parallel.h"

enum { DIT_MAX_GRAD_FAMILIES = 20 };

// The activation-gradient families, one entry each (one layer's worth, max batch B).
static int grad_families(DitFamily *f, int cap, DitGrads *g, const DitConfig *c, long B) {
    long T = dit_tokens(c), D = c->hidden, M = c->mlp_hidden;
    int n = 0;
#define FAM(field, size)                                                                  \
    do {                                                                                  \
        CHECK(n < cap, "DiT gradients: more than %d families (raise the table)", cap);   \
        f[n].slot = &g->field, f[n].floats = (size), n++;                                \
    } while (0)
    FAM(dres, B * T * D);
    FAM(dln, B * T * D);
    FAM(dz, B * T * D);
    FAM(dy, B * T * D);
    FAM(datty, B * T * D);
    FAM(dqkv, B * T * 3 * D);
    FAM(datt, T * T);
    FAM(dfc1, B * T * M);
    FAM(dgelu, B * T * M);
    FAM(dmod, B * 6 * D);
    FAM(dsilu_c, B * D);
    FAM(dc, B * D);
    FAM(dth_act, B * D);
    FAM(dth, B * D);
    FAM(dfmod, B * 2 * D);
    FAM(dout_tokens, B * T * dit_out_patch_dim(c));
#undef FAM
    return n;
}

void dit_grads_build(DitGrads *g, const DitModel *m, int with_param_grads) {
    CHECK(m->training, "dit_grads_build: the model must be built in training mode (all activations kept)");
    memset(g, 0, sizeof *g);
    const DitConfig *c = &m->cfg;
    if (with_param_grads) {
        g->params_memory = lz_calloc(dit_param_count(c), sizeof(float), "DiT parameter gradients");
        dit_params_layout(&g->params, g->params_memory, c);
    }
    DitFamily f[DIT_MAX_GRAD_FAMILIES];
    int n = grad_families(f, DIT_MAX_GRAD_FAMILIES, g, c, m->max_batch);
    g->memory = dit_families_alloc(f, n, "DiT activation gradients", NULL);
    g->max_batch = m->max_batch;
}

void dit_grads_free(DitGrads *g) {
    free(g->params_memory);
    free(g->memory);
    memset(g, 0, sizeof *g);
}

void dit_grads_zero_params(DitGrads *g, const DitModel *m) {
    if (g->params_memory) memset(g->params_memory, 0, sizeof(float) * dit_param_count(&m->cfg));
}

// Parameter-gradient pointer or NULL when frozen.
#define PG(field, offset) (g->params_memory ? g->params.field + (offset) : NULL)

void dit_backward(DitModel *m, DitGrads *g, const float *dout, const int *y, int B, const DitBackwardHooks *hooks) {
    const DitConfig *c = &m->cfg;
    DitActs *a = &m->acts;
    DitParams *p = &m->params;
    CHECK(m->training, "dit_backward: the model was not built in training mode");
    CHECK(B > 0 && B <= g->max_batch, "dit_backward: batch %d outside 1..%d", B, g->max_batch);
    int D = c->hidden, T = dit_tokens(c), M = c->mlp_hidden, L = c->depth, S = c->input_size, H = c->heads;
    long MB = m->max_batch, BTD = MB * T * D, BT = MB * T, D6 = 6L * D, n = (long)B * T * D;
    int PO = dit_out_patch_dim(c);

    // Final layer: out = unpatchify(linear(modulate(LN(x_L), shift, scale))).
    memset(g->dout_tokens, 0, sizeof(float) * B * T * PO);
    unpatchify_backward(g->dout_tokens, dout, B, dit_out_channels(c), S, S, c->patch);
    memset(g->dz, 0, sizeof(float) * n);
    linear_backward(g->dz, PG(final_w, 0), PG(final_b, 0), g->dout_tokens, a->zf, p->final_w, B * T, D, PO);
    memset(g->dln, 0, sizeof(float) * n);
    memset(g->dfmod, 0, sizeof(float) * B * 2 * D);
    modulate_backward_par(g->dln, g->dfmod, g->dfmod + D, g->dz, a->lnf, a->fmod + D, B, T, D, 2 * D);
    memset(g->dres, 0, sizeof(float) * n);
    layernorm_backward_par(g->dres, g->dln, dit_layer(m, a->res, L, BTD), a->lnf_mean, a->lnf_rstd, B * T, D);
    memset(g->dsilu_c, 0, sizeof(float) * B * D);
    linear_backward(g->dsilu_c, PG(final_ada_w, 0), PG(final_ada_b, 0), g->dfmod, a->silu_c, p->final_ada_w, B, D,
                    2 * D);

    for (int l = L - 1; l >= 0; l--) {
        // Saved activations of block l (dit_layer: the model is in training mode,
        // every per-layer family holds all L layers). mod always keeps every layer.
        const float *xin = dit_layer(m, a->res, l, BTD), *xmid = dit_layer(m, a->mid, l, BTD);
        const float *mod = a->mod + (long)l * MB * D6;
        const float *scale_msa = mod + D, *gate_msa = mod + 2 * D, *scale_mlp = mod + 4 * D, *gate_mlp = mod + 5 * D;
        memset(g->dmod, 0, sizeof(float) * B * D6);
        float *dshift_msa = g->dmod, *dscale_msa = g->dmod + D, *dgate_msa = g->dmod + 2 * D;
        float *dshift_mlp = g->dmod + 3 * D, *dscale_mlp = g->dmod + 4 * D, *dgate_mlp = g->dmod + 5 * D;

        // x_out = x_mid + gate_mlp * y2 (g->dres holds dx_out and becomes dx_mid)
        const float *y2 = dit_layer(m, a->y2, l, BTD);
        memset(g->dy, 0, sizeof(float) * n);
        gated_residual_backward_par(g->dy, dgate_mlp, g->dres, y2, gate_mlp, B, T, D, (int)D6);
        memset(g->dz, 0, sizeof(float) * n);
        if (hooks && hooks->module_grad) hooks->module_grad(hooks->ctx, l, DIT_MLP, g->dy, g->dz, B);
        // y2 = fc2(gelu(fc1(z2)))
        const float *h = dit_layer(m, a->fc1, l, BT * M), *gl = dit_layer(m, a->gelu, l, BT * M);
        memset(g->dgelu, 0, sizeof(float) * B * T * M);
        linear_backward(g->dgelu, PG(fc2_w, (long)l * D * M), PG(fc2_b, (long)l * D), g->dy, gl,
                        p->fc2_w + (long)l * D * M, B * T, M, D);
        memset(g->dfc1, 0, sizeof(float) * B * T * M);
        gelu_tanh_backward_par(g->dfc1, g->dgelu, h, (long)B * T * M);
        linear_backward(g->dz, PG(fc1_w, (long)l * M * D), PG(fc1_b, (long)l * M), g->dfc1, dit_layer(m, a->z2, l, BTD),
                        p->fc1_w + (long)l * M * D, B * T, D, M);
        // z2 = modulate(LN(x_mid), shift_mlp, scale_mlp)
        memset(g->dln, 0, sizeof(float) * n);
        modulate_backward_par(g->dln, dshift_mlp, dscale_mlp, g->dz, dit_layer(m, a->ln2, l, BTD), scale_mlp, B, T, D,
                              (int)D6);
        layernorm_backward_par(g->dres, g->dln, xmid, dit_layer(m, a->ln2_mean, l, BT), dit_layer(m, a->ln2_rstd, l, BT),
                               B * T, D);

        // x_mid = x_in + gate_msa * y1 (g->dres becomes dx_in)
        const float *y1 = dit_layer(m, a->y1, l, BTD);
        memset(g->dy, 0, sizeof(float) * n);
        gated_residual_backward_par(g->dy, dgate_msa, g->dres, y1, gate_msa, B, T, D, (int)D6);
        memset(g->dz, 0, sizeof(float) * n);
        if (hooks && hooks->module_grad) hooks->module_grad(hooks->ctx, l, DIT_ATTN, g->dy, g->dz, B);
        // y1 = proj(attention(qkv(z1)))
        memset(g->datty, 0, sizeof(float) * n);
        linear_backward(g->datty, PG(proj_w, (long)l * D * D), PG(proj_b, (long)l * D), g->dy,
                        dit_layer(m, a->atty, l, BTD), p->proj_w + (long)l * D * D, B * T, D, D);
        memset(g->dqkv, 0, sizeof(float) * 3 * n);
        attention_backward(g->dqkv, g->datt, g->datty, dit_layer(m, a->qkv, l, 3 * BTD),
                           dit_layer(m, a->att, l, MB * H * T * T), B, T, D, H);
        linear_backward(g->dz, PG(qkv_w, (long)l * 3 * D * D), PG(qkv_b, (long)l * 3 * D), g->dqkv,
                        dit_layer(m, a->z1, l, BTD), p->qkv_w + (long)l * 3 * D * D, B * T, D, 3 * D);
        memset(g->dln, 0, sizeof(float) * n);
        modulate_backward_par(g->dln, dshift_msa, dscale_msa, g->dz, dit_layer(m, a->ln1, l, BTD), scale_msa, B, T, D,
                              (int)D6);
        layernorm_backward_par(g->dres, g->dln, xin, dit_layer(m, a->ln1_mean, l, BT), dit_layer(m, a->ln1_rstd, l, BT),
                               B * T, D);

        // mod = adaLN(silu_c)
        linear_backward(g->dsilu_c, PG(ada_w, (long)l * D6 * D), PG(ada_b, (long)l * D6), g->dmod, a->silu_c,
                        p->ada_w + (long)l * D6 * D, B, D, (int)D6);
    }

    // Embedding: x0 = patches @ Wx^T + bx + pos_embed (pos_embed is fixed).
    if (g->params_memory)
        linear_backward(NULL, g->params.x_embed_w, g->params.x_embed_b, g->dres, a->patches, p->x_embed_w, B * T,
                        dit_patch_dim(c), D);
    // c = t_embed(t) + y_table[y]; silu_c = SiLU(c)
    memset(g->dc, 0, sizeof(float) * B * D);
    silu_backward(g->dc, g->dsilu_c, a->c, (long)B * D);
    if (g->params_memory) {
        for (int b = 0; b < B; b++)
            for (int i = 0; i < D; i++) g->params.y_table[(long)y[b] * D + i] += g->dc[(long)b * D + i];
        memset(g->dth_act, 0, sizeof(float) * B * D);
        linear_backward(g->dth_act, g->params.t_fc2_w, g->params.t_fc2_b, g->dc, a->th_act, p->t_fc2_w, B, D, D);
        memset(g->dth, 0, sizeof(float) * B * D);
        silu_backward(g->dth, g->dth_act, a->th, (long)B * D);
        linear_backward(NULL, g->params.t_fc1_w, g->params.t_fc1_b, g->dth, a->tfreq, p->t_fc1_w, B, c->freq_dim, D);
    }
}
