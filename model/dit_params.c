#include "model/dit_params.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/prng.h"
#include "model/io/file_rules.h"
#include "model/io/safetensors.h"

// --- the tensor table ------------------------------------------------------

// Tensor families in DitParams field order; per-block families hold all layers.
enum {
    F_X_EMBED_W, F_X_EMBED_B, F_POS_EMBED, F_T_FC1_W, F_T_FC1_B, F_T_FC2_W, F_T_FC2_B, F_Y_TABLE,
    F_ADA_W, F_ADA_B, F_QKV_W, F_QKV_B, F_PROJ_W, F_PROJ_B, F_FC1_W, F_FC1_B, F_FC2_W, F_FC2_B,
    F_FINAL_ADA_W, F_FINAL_ADA_B, F_FINAL_W, F_FINAL_B, F_COUNT
};

// Offsets (in floats) of each family in the flat allocation; start[F_COUNT] = total.
static void family_starts(const DitConfig *c, long start[F_COUNT + 1]) {
    long D = c->hidden, M = c->mlp_hidden, F = c->freq_dim, L = c->depth;
    long T = dit_tokens(c), K1 = c->num_classes + 1, P = dit_out_patch_dim(c);
    long size[F_COUNT] = {
        [F_X_EMBED_W] = D * dit_patch_dim(c), [F_X_EMBED_B] = D, [F_POS_EMBED] = T * D,
        [F_T_FC1_W] = D * F, [F_T_FC1_B] = D, [F_T_FC2_W] = D * D, [F_T_FC2_B] = D, [F_Y_TABLE] = K1 * D,
        [F_ADA_W] = L * 6 * D * D, [F_ADA_B] = L * 6 * D, [F_QKV_W] = L * 3 * D * D, [F_QKV_B] = L * 3 * D,
        [F_PROJ_W] = L * D * D, [F_PROJ_B] = L * D, [F_FC1_W] = L * M * D, [F_FC1_B] = L * M,
        [F_FC2_W] = L * D * M, [F_FC2_B] = L * D, [F_FINAL_ADA_W] = 2 * D * D, [F_FINAL_ADA_B] = 2 * D,
        [F_FINAL_W] = P * D, [F_FINAL_B] = P,
    };
    start[0] = 0;
    for (int i = 0; i < F_COUNT; i++) start[i + 1] = start[i] + size[i];
    CHECK(start[F_COUNT] == dit_param_count(c), "internal: layout covers %ld floats, count says %ld",
          start[F_COUNT], dit_param_count(c));
}

typedef struct {
    DitTensorTable *t;
    int cap;
    long start[F_COUNT + 1];
} TableBuilder;

// Adds tensor `name` at `offset` floats; shape dims beyond ndim are ignored.
static void add_tensor(TableBuilder *b, const char *name, long offset, int trainable, int ndim, long d0, long d1,
                       long d2, long d3) {
    DitTensorTable *t = b->t;
    CHECK(t->ntensors < b->cap, "internal: tensor table overflow at %s", name);
    DitTensorInfo *e = &t->tensors[t->ntensors++];
    snprintf(e->name, sizeof e->name, "%s", name);
    long dims[4] = {d0, d1, d2, d3};
    e->ndim = ndim;
    e->count = 1;
    for (int i = 0; i < 4; i++) {
        e->shape[i] = i < ndim ? dims[i] : 0;
        if (i < ndim) e->count *= dims[i];
    }
    e->offset = offset;
    e->trainable = trainable;
}

void dit_tensor_table_build(DitTensorTable *table, const DitConfig *c) {
    long D = c->hidden, M = c->mlp_hidden, F = c->freq_dim, p = c->patch, C = c->in_channels;
    long T = dit_tokens(c), K1 = c->num_classes + 1, P = dit_out_patch_dim(c);
    int cap = 8 + 10 * c->depth + 4;
    table->tensors = lz_calloc(cap, sizeof(DitTensorInfo), "DiT tensor table");
    table->ntensors = 0;
    TableBuilder b = {table, cap, {0}};
    family_starts(c, b.start);
    const long *s = b.start;
    add_tensor(&b, "x_embedder.proj.weight", s[F_X_EMBED_W], 1, 4, D, C, p, p);
    add_tensor(&b, "x_embedder.proj.bias", s[F_X_EMBED_B], 1, 1, D, 0, 0, 0);
    add_tensor(&b, "pos_embed", s[F_POS_EMBED], 0, 3, 1, T, D, 0);
    add_tensor(&b, "t_embedder.mlp.0.weight", s[F_T_FC1_W], 1, 2, D, F, 0, 0);
    add_tensor(&b, "t_embedder.mlp.0.bias", s[F_T_FC1_B], 1, 1, D, 0, 0, 0);
    add_tensor(&b, "t_embedder.mlp.2.weight", s[F_T_FC2_W], 1, 2, D, D, 0, 0);
    add_tensor(&b, "t_embedder.mlp.2.bias", s[F_T_FC2_B], 1, 1, D, 0, 0, 0);
    add_tensor(&b, "y_embedder.embedding_table.weight", s[F_Y_TABLE], 1, 2, K1, D, 0, 0);
    // Block tensors are listed layer by layer (state-dict order) but laid out
    // family by family (all layers' qkv weights together).
    struct {
        const char *suffix;
        int family;
        long rows, cols;  // cols 0: a bias vector
    } block[10] = {
        {"attn.qkv.weight", F_QKV_W, 3 * D, D}, {"attn.qkv.bias", F_QKV_B, 3 * D, 0},
        {"attn.proj.weight", F_PROJ_W, D, D},   {"attn.proj.bias", F_PROJ_B, D, 0},
        {"mlp.fc1.weight", F_FC1_W, M, D},      {"mlp.fc1.bias", F_FC1_B, M, 0},
        {"mlp.fc2.weight", F_FC2_W, D, M},      {"mlp.fc2.bias", F_FC2_B, D, 0},
        {"adaLN_modulation.1.weight", F_ADA_W, 6 * D, D}, {"adaLN_modulation.1.bias", F_ADA_B, 6 * D, 0},
    };
    char name[64];
    for (int l = 0; l < c->depth; l++)
        for (int k = 0; k < 10; k++) {
            snprintf(name, sizeof name, "blocks.%d.%s", l, block[k].suffix);
            long per_layer = block[k].rows * (block[k].cols ? block[k].cols : 1);
            add_tensor(&b, name, s[block[k].family] + l * per_layer, 1, block[k].cols ? 2 : 1, block[k].rows,
                       block[k].cols, 0, 0);
        }
    add_tensor(&b, "final_layer.adaLN_modulation.1.weight", s[F_FINAL_ADA_W], 1, 2, 2 * D, D, 0, 0);
    add_tensor(&b, "final_layer.adaLN_modulation.1.bias", s[F_FINAL_ADA_B], 1, 1, 2 * D, 0, 0, 0);
    add_tensor(&b, "final_layer.linear.weight", s[F_FINAL_W], 1, 2, P, D, 0, 0);
    add_tensor(&b, "final_layer.linear.bias", s[F_FINAL_B], 1, 1, P, 0, 0, 0);
    (void)M;
    table->total = s[F_COUNT];
}

void dit_tensor_table_free(DitTensorTable *table) {
    free(table->tensors);
    table->tensors = NULL;
    table->ntensors = 0;
}

void dit_params_layout(DitParams *p, float *base, const DitConfig *c) {
    long s[F_COUNT + 1];
    family_starts(c, s);
    float **field[F_COUNT] = {
        &p->x_embed_w, &p->x_embed_b, &p->pos_embed, &p->t_fc1_w, &p->t_fc1_b, &p->t_fc2_w, &p->t_fc2_b,
        &p->y_table, &p->ada_w, &p->ada_b, &p->qkv_w, &p->qkv_b, &p->proj_w, &p->proj_b, &p->fc1_w,
        &p->fc1_b, &p->fc2_w, &p->fc2_b, &p->final_ada_w, &p->final_ada_b, &p->final_w, &p->final_b,
    };
    for (int i = 0; i < F_COUNT; i++) *field[i] = base + s[i];
}

// --- initialisation --------------------------------------------------------

void dit_pos_embed_sincos(float *out, int hidden, int grid) {
    // Official get_2d_sincos_pos_embed: meshgrid(w, h), so the FIRST half of the
    // channels encodes the w (column) coordinate and the second half the h (row)
    // coordinate; inside each half [sin(pos * omega), cos(pos * omega)] with
    // omega_k = 10000^(-k / (D/4)), computed in float64 and stored as float32.
    int quarter = hidden / 4;
    for (int i = 0; i < grid; i++)
        for (int j = 0; j < grid; j++) {
            float *row = out + ((long)i * grid + j) * hidden;
            for (int k = 0; k < quarter; k++) {
                double omega = 1.0 / pow(10000.0, (double)k / quarter);
                row[k] = (float)sin(j * omega);
                row[quarter + k] = (float)cos(j * omega);
                row[2 * quarter + k] = (float)sin(i * omega);
                row[3 * quarter + k] = (float)cos(i * omega);
            }
        }
}

static void fill_uniform(Prng *g, float *x, long n, double bound) {
    for (long i = 0; i < n; i++) x[i] = (float)((2.0 * prng_uniform(g) - 1.0) * bound);
}

static void fill_normal(Prng *g, float *x, long n, double std) {
    for (long i = 0; i < n; i++) x[i] = (float)(prng_normal(g) * std);
}

static void xavier_uniform(Prng *g, float *w, long fan_out, long fan_in) {
    fill_uniform(g, w, fan_out * fan_in, sqrt(6.0 / (double)(fan_in + fan_out)));
}

void dit_init_official(float *base, const DitConfig *c, uint64_t seed) {
    Prng g;
    prng_seed(&g, seed);
    DitParams p;
    dit_params_layout(&p, base, c);
    long D = c->hidden, M = c->mlp_hidden;
    memset(base, 0, sizeof(float) * dit_param_count(c));  // biases, adaLN, final layer
    xavier_uniform(&g, p.x_embed_w, D, dit_patch_dim(c));  // weight viewed as (D, C*p*p)
    dit_pos_embed_sincos(p.pos_embed, c->hidden, dit_grid(c));
    fill_normal(&g, p.y_table, (long)(c->num_classes + 1) * D, 0.02);
    fill_normal(&g, p.t_fc1_w, D * c->freq_dim, 0.02);
    fill_normal(&g, p.t_fc2_w, D * D, 0.02);
    for (int l = 0; l < c->depth; l++) {
        xavier_uniform(&g, p.qkv_w + (long)l * 3 * D * D, 3 * D, D);
        xavier_uniform(&g, p.proj_w + (long)l * D * D, D, D);
        xavier_uniform(&g, p.fc1_w + (long)l * M * D, M, D);
        xavier_uniform(&g, p.fc2_w + (long)l * D * M, D, M);
    }
}

void dit_init_random(float *base, const DitConfig *c, uint64_t seed) {
    Prng g;
    prng_seed(&g, seed);
    DitTensorTable t;
    dit_tensor_table_build(&t, c);
    for (int i = 0; i < t.ntensors; i++) {
        const DitTensorInfo *e = &t.tensors[i];
        float *x = base + e->offset;
        if (e->ndim == 1) {
            fill_normal(&g, x, e->count, 0.1);  // biases
        } else if (!strcmp(e->name, "pos_embed") || strstr(e->name, "embedding_table")) {
            fill_normal(&g, x, e->count, 0.5);
        } else {
            // weights (out, in...): uniform with variance ~ 1/(3 fan_in), so each
            // layer roughly preserves scale and the 1+scale modulation stays O(1)
            long fan_in = e->count / e->shape[0];
            fill_uniform(&g, x, e->count, 1.0 / sqrt((double)fan_in));
        }
    }
    dit_tensor_table_free(&t);
}

// --- safetensors I/O -------------------------------------------------------

// Depth = 1 + the largest N of the "blocks.N." tensor names. Work and memory
// must follow the file's size, not a number written in it: every block has 10
// tensors, so an index at or beyond ntensors / 10 cannot belong to a complete
// DiT and is refused here, before anything is sized by it.
static int count_blocks(const StFile *f, const char *path, int *depth, LzError *err) {
    *depth = 0;
    const long max_blocks = f->ntensors / 10;
    for (int i = 0; i < f->ntensors; i++) {
        const char *name = f->tensors[i].name;
        if (strncmp(name, "blocks.", 7)) continue;
        const char *p = name + 7;
        long l = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 12; p++, digits++) l = l * 10 + (*p - '0');
        // Malformed names ("blocks.x", "blocks.01.", ...) are left to the
        // unexpected-tensor check, which names them.
        if (!digits || *p != '.' || (digits > 1 && name[7] == '0')) continue;
        if (l >= max_blocks)
            return lz_fail(err, "%s: tensor %.80s has block index %ld, but the file's %d tensors hold at most %ld blocks",
                           path, name, l, f->ntensors, max_blocks);
        if (l + 1 > *depth) *depth = (int)(l + 1);
    }
    return 0;
}

// A dimension that must fit an int (and be positive) to become a config field.
static int dim_field(const StTensor *t, int k, const char *path, int *out, LzError *err) {
    if (t->shape[k] < 1 || t->shape[k] > INT_MAX)
        return lz_fail(err, "%s: tensor %s has dimension %d = %ld, outside 1..%d", path, t->name, k, t->shape[k],
                       INT_MAX);
    *out = (int)t->shape[k];
    return 0;
}

static const StTensor *need(const StFile *f, const char *path, const char *name, int ndim, LzError *err) {
    const StTensor *t = st_find(f, name);
    if (!t) {
        lz_fail(err, "%s: missing tensor %s", path, name);
        return NULL;
    }
    if (t->ndim != ndim) {
        lz_fail(err, "%s: tensor %s has %d dimensions, expected %d", path, name, t->ndim, ndim);
        return NULL;
    }
    return t;
}

int dit_load(const char *path, int heads, DitConfig *c, float **base_out, LzError *err) {
    return dit_load_ex(path, heads, 0, c, base_out, NULL, err);
}

int dit_load_with_schedule(const char *path, int heads, DitConfig *c, float **base_out, DiffusionSchedule *schedule,
                           LzError *err) {
    return dit_load_ex(path, heads, 0, c, base_out, schedule, err);
}

int dit_load_ex(const char *path, int heads, int flags, DitConfig *c, float **base_out, DiffusionSchedule *schedule,
                LzError *err) {
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rc = -1;
    float *base = NULL;
    DitTensorTable table = {0};
    memset(c, 0, sizeof *c);
    const StTensor *xw, *pos, *yt, *fw, *tw, *fc1;
    if (!(xw = need(&f, path, "x_embedder.proj.weight", 4, err))) goto done;
    if (!(pos = need(&f, path, "pos_embed", 3, err))) goto done;
    if (!(yt = need(&f, path, "y_embedder.embedding_table.weight", 2, err))) goto done;
    if (!(fw = need(&f, path, "final_layer.linear.weight", 2, err))) goto done;
    if (!(tw = need(&f, path, "t_embedder.mlp.0.weight", 2, err))) goto done;
    if (!(fc1 = need(&f, path, "blocks.0.mlp.fc1.weight", 2, err))) goto done;
    int num_rows = 0, out_patch_i = 0, tokens_i = 0;
    if (dim_field(xw, 0, path, &c->hidden, err) || dim_field(xw, 1, path, &c->in_channels, err) ||
        dim_field(xw, 2, path, &c->patch, err) || dim_field(pos, 1, path, &tokens_i, err) ||
        dim_field(yt, 0, path, &num_rows, err) || dim_field(tw, 1, path, &c->freq_dim, err) ||
        dim_field(fc1, 0, path, &c->mlp_hidden, err) || dim_field(fw, 0, path, &out_patch_i, err))
        goto done;
    if (xw->shape[3] != xw->shape[2]) {
        lz_fail(err, "%s: x_embedder.proj.weight has a non-square kernel %ldx%ld", path, xw->shape[2], xw->shape[3]);
        goto done;
    }
    long tokens = tokens_i;
    long grid = lround(sqrt((double)tokens));
    if (grid * grid != tokens) {
        lz_fail(err, "%s: pos_embed has %ld tokens, not a square grid", path, tokens);
        goto done;
    }
    if (grid * c->patch > 1 << 20) {
        lz_fail(err, "%s: input size %ld (grid %ld x patch %d) is too large", path, grid * c->patch, grid, c->patch);
        goto done;
    }
    c->input_size = (int)(grid * c->patch);
    if (count_blocks(&f, path, &c->depth, err)) goto done;
    c->num_classes = num_rows - 1;
    long out_patch = out_patch_i, pp = (long)c->patch * c->patch;
    if (out_patch == 2 * pp * c->in_channels) c->learn_sigma = 1;
    else if (out_patch == pp * c->in_channels) c->learn_sigma = 0;
    else {
        lz_fail(err, "%s: final_layer.linear.weight has %ld rows; expected %ld or %ld for %d channels and patch %d",
                path, out_patch, pp * c->in_channels, 2 * pp * c->in_channels, c->in_channels, c->patch);
        goto done;
    }
    // heads: flag, then metadata, then the named config with this depth and width
    const char *meta_heads = st_meta(&f, "num_heads");
    if (heads > 0) c->heads = heads;
    else if (meta_heads) {
        if (lz_parse_int(meta_heads, 1, c->hidden, &c->heads)) {
            lz_fail(err, "%s: metadata num_heads \"%.40s\" is not an integer in 1..%d (the hidden size)", path,
                    meta_heads, c->hidden);
            goto done;
        }
    } else {
        static const char *names[] = {"DiT-S/2", "DiT-B/2", "DiT-L/2", "DiT-XL/2"};
        for (int i = 0; i < 4; i++) {
            DitConfig n = *c;
            dit_config_named(&n, names[i], NULL);
            if (n.depth == c->depth && n.hidden == c->hidden) c->heads = n.heads;
        }
        if (c->heads <= 0) {
            lz_fail(err, "%s: cannot infer the head count (depth %d, hidden %d is no named config and the file has no "
                    "num_heads metadata); pass --heads", path, c->depth, c->hidden);
            goto done;
        }
    }
    if (dit_config_validate(c, err)) {
        char msg[LZ_ERR_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        lz_fail(err, "%s: inferred configuration is invalid: %s", path, msg);
        goto done;
    }
    // The configuration's size, in double so that no product can wrap, must be
    // what the file holds (the tensors must match it one to one below): this
    // bounds the table and the allocation by the file's size.
    double have = 0;
    for (int i = 0; i < f.ntensors; i++) have += (double)f.tensors[i].count;
    double want = dit_param_count_double(c);
    if (want != have) {
        lz_fail(err, "%s: the inferred configuration (depth %d, hidden %d) has %.0f parameters but the file holds %.0f",
                path, c->depth, c->hidden, want, have);
        goto done;
    }
    dit_tensor_table_build(&table, c);
    // every expected tensor with its exact shape ...
    for (int i = 0; i < table.ntensors; i++) {
        const DitTensorInfo *e = &table.tensors[i];
        const StTensor *t = st_find(&f, e->name);
        if (!t) {
            lz_fail(err, "%s: missing tensor %s", path, e->name);
            goto done;
        }
        int same = t->ndim == e->ndim;
        for (int k = 0; same && k < e->ndim; k++) same = t->shape[k] == e->shape[k];
        if (!same) {
            char got[96] = "", want_s[96] = "";
            for (int k = 0; k < t->ndim; k++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%ld", k ? "," : "", t->shape[k]);
            for (int k = 0; k < e->ndim; k++)
                snprintf(want_s + strlen(want_s), sizeof want_s - strlen(want_s), "%s%ld", k ? "," : "", e->shape[k]);
            lz_fail(err, "%s: tensor %s has shape (%s), expected (%s)", path, e->name, got, want_s);
            goto done;
        }
    }
    // ... and nothing else: names are unique, so equal counts mean no extra tensor.
    if (f.ntensors != table.ntensors) {
        for (int i = 0; i < f.ntensors; i++) {
            int known = 0;
            for (int k = 0; k < table.ntensors && !known; k++) known = !strcmp(table.tensors[k].name, f.tensors[i].name);
            if (!known) {
                lz_fail(err, "%s: unexpected tensor %.80s (not part of a DiT with depth %d)", path, f.tensors[i].name,
                        c->depth);
                goto done;
            }
        }
    }
    for (int i = 0; i < table.ntensors && !(flags & DIT_LOAD_ALLOW_NONFINITE); i++) {
        const DitTensorInfo *e = &table.tensors[i];
        if (lz_check_finite(path, e->name, st_find(&f, e->name)->data, e->count, err)) goto done;
    }
    if (schedule && diffusion_schedule_from_meta(schedule, st_meta(&f, "diffusion_schedule"),
                                                 st_meta(&f, "diffusion_steps"), path, err))
        goto done;
    base = lz_malloc(sizeof(float) * table.total, "DiT parameters");
    for (int i = 0; i < table.ntensors; i++) {
        const DitTensorInfo *e = &table.tensors[i];
        memcpy(base + e->offset, st_find(&f, e->name)->data, sizeof(float) * e->count);
    }
    *base_out = base;
    base = NULL;
    rc = 0;
done:
    free(base);
    dit_tensor_table_free(&table);
    st_free(&f);
    return rc;
}

int dit_save(const char *path, const DitConfig *c, const float *base, LzError *err) {
    return dit_save_with_schedule(path, c, base, NULL, err);
}

int dit_save_with_schedule(const char *path, const DitConfig *c, const float *base, const DiffusionSchedule *schedule,
                           LzError *err) {
    DiffusionSchedule sched = schedule ? *schedule : diffusion_schedule_default();
    if (schedule && diffusion_schedule_resolve(&sched, path, err)) return -1;
    DitTensorTable table;
    dit_tensor_table_build(&table, c);
    StWriteTensor *w = lz_calloc(table.ntensors, sizeof *w, "safetensors write list");
    for (int i = 0; i < table.ntensors; i++) {
        w[i].name = table.tensors[i].name;
        w[i].ndim = table.tensors[i].ndim;
        w[i].shape = table.tensors[i].shape;
        w[i].data = base + table.tensors[i].offset;
    }
    char heads[16], name[32];
    snprintf(heads, sizeof heads, "%d", c->heads);
    dit_config_name(c, name, sizeof name);
    char steps[16];
    diffusion_schedule_steps_text(&sched, steps, sizeof steps);
    const char *keys[] = {"num_heads", "config", "format", "diffusion_schedule", "diffusion_steps"};
    const char *values[] = {heads, name, "lazydit-dit", sched.name, steps};
    // without a schedule (lazydit init) the file says nothing: readers assume the default
    int rc = st_write(path, w, table.ntensors, keys, values, schedule ? 5 : 3, err);
    free(w);
    dit_tensor_table_free(&table);
    return rc;
}
