/* model/model.c — configuration, parameter buffer and tensor table, training forward / backward,
 * cross-entropy and expert-bias update. The maths is docs/model.md; kernels are in kernels.c,
 * incremental decoding in decode.c, sampling in sampler.c. */
#include "model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "model/block.h"
#include "model/kernels.h"
#include "model/model_internal.h"
#include "model/simd.h"
#include "model/tokenizer.h"

/* ---------------------------------------------------------------- config */

#define MF(member, type_, def_, lo, hi, hf_key, help_, ...)                                        \
    {                                                                                              \
        .key = #member, .type = type_, .offset = offsetof(aha_model_config_t, member),             \
        .def = def_, .min = lo, .max = hi, .help = help_, .hf = hf_key, __VA_ARGS__                \
    }

_Static_assert(AHA_TOK_VOCAB == 105, "the vocab_size default below is the tokenizer's size");
_Static_assert(AHA_SCORE_SOFTMAX == 0 && AHA_SCORE_SIGMOID == 1, "score_func choices order");

/* The one list of the model's configuration: defaults (the demo's tiny MoE, 1,045,376 parameters),
 * ranges (validation), YAML keys (the run config's model.* section), Hugging Face config.json keys
 * (model/checkpoint.c, in this order). */
// clang-format off
const aha_cfg_field_t aha_model_config_fields[] = {
    MF(vocab_size, AHA_CFG_INT, "105", 1, (1 << 24) - 1, "vocab_size", "vocabulary size (the tokenizer's)", .flags = AHA_CFG_FIXED),
    MF(dim, AHA_CFG_INT, "128", 8, 4096, "hidden_size", "hidden size"),
    MF(n_layers, AHA_CFG_INT, "2", 1, 64, "num_hidden_layers", "decoder layers"),
    MF(n_heads, AHA_CFG_INT, "4", 1, 4096, "num_attention_heads", "attention heads (head_dim = dim / n_heads must be even)"),
    MF(max_seq_len, AHA_CFG_INT, "128", 8, 8192, "max_position_embeddings", "longest sequence"),
    MF(ffn_hidden, AHA_CFG_INT, "256", 0, 65536, "intermediate_size", "dense SwiGLU hidden size (> 0 with dense layers)"),
    MF(n_dense_layers, AHA_CFG_INT, "0", 0, 64, "first_k_dense_replace", "first k layers dense"),
    MF(n_routed_experts, AHA_CFG_INT, "8", 0, 256, "n_routed_experts", "routed experts (0 = dense model)"),
    MF(n_shared_experts, AHA_CFG_INT, "1", 0, 16, "n_shared_experts", "shared experts"),
    MF(top_k, AHA_CFG_INT, "2", 0, 64, "num_experts_per_tok", "experts per token (1..n_routed_experts with MoE layers)"),
    MF(moe_hidden, AHA_CFG_INT, "128", 0, 65536, "moe_intermediate_size", "hidden size of one expert (> 0 with MoE layers)"),
    MF(score_func, AHA_CFG_CHOICE, "sigmoid", 1, 0, "scoring_func", "router scores: sigmoid | softmax", .choices = "softmax|sigmoid"),
    MF(norm_topk_prob, AHA_CFG_BOOL, "true", 1, 0, "norm_topk_prob", "normalise top-k gates"),
    MF(routed_scale, AHA_CFG_FLOAT32, "1.0", 0, 100, "routed_scaling_factor", "routed gate scale (> 0 with MoE layers)"),
    MF(rope_theta, AHA_CFG_FLOAT32, "10000", 1, 1e9, "rope_theta", "RoPE base"),
    MF(norm_eps, AHA_CFG_FLOAT32, "1e-5", 0, 1, "rms_norm_eps", "RMSNorm epsilon (> 0)"),
    MF(bias_update_speed, AHA_CFG_FLOAT32, "1e-3", 0, 1, "bias_update_speed", "aux-loss-free balancing step"),
    MF(seq_aux_alpha, AHA_CFG_FLOAT32, "1e-3", 0, 10, "aux_loss_alpha", "sequence balance loss weight"),
};
// clang-format on
const size_t aha_model_config_n_fields =
    sizeof aha_model_config_fields / sizeof *aha_model_config_fields;
#undef MF

const char *aha_model_simd_path(void) {
    return k_simd_name(k_simd_level());
}

void aha_model_config_default(aha_model_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    /* cannot fail: the table is fixed and its defaults are checked by the tests */
    (void)aha_cfg_defaults(cfg, sizeof *cfg, aha_model_config_fields, aha_model_config_n_fields);
}

int aha_model_layer_is_moe(const aha_model_config_t *cfg, int l) {
    return cfg->n_routed_experts > 0 && l >= cfg->n_dense_layers;
}

static int has_dense_layer(const aha_model_config_t *cfg) {
    return cfg->n_routed_experts == 0 || cfg->n_dense_layers > 0;
}

/* Name of the field MEMBER as the config source spells it: the YAML key ("model.dim", with
 * PREFIX "model.") or the Hugging Face config.json key ("hidden_size") when HF. */
static const char *key_name(const char *member, const char *prefix, int hf, char *buf, size_t cap) {
    for (size_t i = 0; i < aha_model_config_n_fields; i++) {
        const aha_cfg_field_t *f = &aha_model_config_fields[i];
        if (strcmp(f->key, member)) continue;
        if (hf && f->hf) return f->hf;
        snprintf(buf, cap, "%s%s", prefix, f->key);
        return buf;
    }
    return member;
}

int aha_model_config_validate_in(const aha_model_config_t *cfg, const char *source, int hf) {
    char b1[64], b2[64];
    const char *pre = hf ? "" : "model.";
#define K1(m) key_name(#m, pre, hf, b1, sizeof b1)
#define K2(m) key_name(#m, pre, hf, b2, sizeof b2)
#define BAD(fmt, ...) return AHA_FAIL(AHA_ERR_CONFIG, "%s: " fmt, source, __VA_ARGS__)
    if (!cfg || !source) return AHA_FAIL(AHA_ERR_ARG, "model config: NULL");
    AHA_TRY(aha_cfg_check(cfg, aha_model_config_fields, aha_model_config_n_fields, source));
    if (cfg->dim % cfg->n_heads != 0)
        BAD("%s (%d) must be divisible by %s (%d)", K1(dim), cfg->dim, K2(n_heads), cfg->n_heads);
    if ((cfg->dim / cfg->n_heads) % 2 != 0)
        BAD("head_dim = %s / %s = %d must be even (RoPE)", K1(dim), K2(n_heads),
            cfg->dim / cfg->n_heads);
    if (cfg->n_dense_layers > cfg->n_layers)
        BAD("%s must be in [0, %s=%d] (got %d)", K1(n_dense_layers), K2(n_layers), cfg->n_layers,
            cfg->n_dense_layers);
    if (has_dense_layer(cfg) && cfg->ffn_hidden <= 0)
        BAD("%s must be > 0 when there are dense layers (got %d)", K1(ffn_hidden), cfg->ffn_hidden);
    if (cfg->n_routed_experts > 0 && cfg->n_dense_layers < cfg->n_layers) {
        if (cfg->top_k < 1 || cfg->top_k > cfg->n_routed_experts)
            BAD("%s must be in [1, %s=%d] (got %d)", K1(top_k), K2(n_routed_experts),
                cfg->n_routed_experts, cfg->top_k);
        if (cfg->moe_hidden <= 0) BAD("%s must be > 0 (got %d)", K1(moe_hidden), cfg->moe_hidden);
        if (cfg->routed_scale <= 0.0f)
            BAD("%s must be > 0 (got %g)", K1(routed_scale), (double)cfg->routed_scale);
    }
    if (cfg->norm_eps <= 0.0f) BAD("%s must be > 0 (got %g)", K1(norm_eps), (double)cfg->norm_eps);
    return 0;
#undef BAD
#undef K1
#undef K2
}

/* The field table's ranges, then what depends on more than one field. */
int aha_model_config_validate(const aha_model_config_t *cfg) {
    return aha_model_config_validate_in(cfg, "model config", 0);
}

/* ---------------------------------------------------------------- tensor table */

typedef struct {
    size_t target;          /* index of the tensor to describe into out */
    aha_tensor_info_t *out; /* or NULL */
    size_t idx, off;        /* running tensor index and float offset */
    float *base;            /* buffer the views point into */
    aha_param_view_t *view; /* or NULL */
} walk_t;

static void emit(walk_t *w, float **slot, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void emit(walk_t *w, float **slot, int ndim, int64_t d0, int64_t d1, const char *fmt, ...) {
    size_t numel = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
    if (slot) *slot = w->base + w->off;
    if (w->out && w->idx == w->target) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->out->name, sizeof w->out->name, fmt, ap);
        va_end(ap);
        w->out->ndim = ndim;
        w->out->shape[0] = d0;
        w->out->shape[1] = ndim == 2 ? d1 : 0;
        w->out->shape[2] = 0;
        w->out->numel = numel;
        w->out->offset = w->off;
    }
    w->idx++;
    w->off += numel;
}

/* Walks the tensors in docs/model.md buffer order. */
static void walk(const aha_model_config_t *c, walk_t *w) {
    int64_t V = c->vocab_size, D = c->dim, F = c->ffn_hidden, E = c->n_routed_experts,
            H = c->moe_hidden, SH = (int64_t)c->n_shared_experts * c->moe_hidden;
    aha_param_view_t *pv = w->view;
#define SLOT(field) (pv ? &pv->layers[l].field : NULL)
    emit(w, pv ? &pv->tok_emb : NULL, 2, V, D, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        const char *pre = "model.layers";
        emit(w, SLOT(attn_norm), 1, D, 0, "%s.%d.input_layernorm.weight", pre, l);
        emit(w, SLOT(wq), 2, D, D, "%s.%d.self_attn.q_proj.weight", pre, l);
        emit(w, SLOT(wk), 2, D, D, "%s.%d.self_attn.k_proj.weight", pre, l);
        emit(w, SLOT(wv), 2, D, D, "%s.%d.self_attn.v_proj.weight", pre, l);
        emit(w, SLOT(wo), 2, D, D, "%s.%d.self_attn.o_proj.weight", pre, l);
        emit(w, SLOT(ffn_norm), 1, D, 0, "%s.%d.post_attention_layernorm.weight", pre, l);
        if (!aha_model_layer_is_moe(c, l)) {
            emit(w, SLOT(w1), 2, F, D, "%s.%d.mlp.gate_proj.weight", pre, l);
            emit(w, SLOT(w3), 2, F, D, "%s.%d.mlp.up_proj.weight", pre, l);
            emit(w, SLOT(w2), 2, D, F, "%s.%d.mlp.down_proj.weight", pre, l);
            continue;
        }
        emit(w, SLOT(router), 2, E, D, "%s.%d.mlp.gate.weight", pre, l);
        if (SH > 0) {
            emit(w, SLOT(sh_w1), 2, SH, D, "%s.%d.mlp.shared_experts.gate_proj.weight", pre, l);
            emit(w, SLOT(sh_w3), 2, SH, D, "%s.%d.mlp.shared_experts.up_proj.weight", pre, l);
            emit(w, SLOT(sh_w2), 2, D, SH, "%s.%d.mlp.shared_experts.down_proj.weight", pre, l);
        }
        for (int e = 0; e < E; e++)
            emit(w, e == 0 ? SLOT(ex_w1) : NULL, 2, H, D, "%s.%d.mlp.experts.%d.gate_proj.weight",
                 pre, l, e);
        for (int e = 0; e < E; e++)
            emit(w, e == 0 ? SLOT(ex_w3) : NULL, 2, H, D, "%s.%d.mlp.experts.%d.up_proj.weight",
                 pre, l, e);
        for (int e = 0; e < E; e++)
            emit(w, e == 0 ? SLOT(ex_w2) : NULL, 2, D, H, "%s.%d.mlp.experts.%d.down_proj.weight",
                 pre, l, e);
    }
    emit(w, pv ? &pv->final_norm : NULL, 1, D, 0, "model.norm.weight");
    emit(w, pv ? &pv->lm_head : NULL, 2, V, D, "lm_head.weight");
#undef SLOT
}

size_t aha_model_param_count(const aha_model_config_t *cfg) {
    walk_t w = {0};
    walk(cfg, &w);
    return w.off;
}

size_t aha_model_tensor_count(const aha_model_config_t *cfg) {
    walk_t w = {0};
    walk(cfg, &w);
    return w.idx;
}

int aha_model_tensor_info(const aha_model_config_t *cfg, size_t i, aha_tensor_info_t *out) {
    if (!cfg || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_model_tensor_info: NULL argument");
    aha_tensor_info_t ti;
    memset(&ti, 0, sizeof ti);
    walk_t w = {.target = i, .out = &ti};
    walk(cfg, &w);
    if (i >= w.idx)
        return AHA_FAIL(AHA_ERR_RANGE, "tensor index %zu out of range (%zu tensors)", i, w.idx);
    *out = ti;
    return 0;
}

/* ---------------------------------------------------------------- model */

static int make_views(const aha_model_config_t *cfg, float *base, aha_param_view_t *v) {
    v->layers = calloc((size_t)cfg->n_layers, sizeof *v->layers);
    if (!v->layers) return AHA_FAIL(AHA_ERR_NOMEM, "model views: out of memory");
    walk_t w = {.base = base, .view = v};
    walk(cfg, &w);
    return 0;
}

int aha_model_new(const aha_model_config_t *cfg, aha_model_t **out) {
    if (!out) return AHA_FAIL(AHA_ERR_ARG, "aha_model_new: NULL out");
    AHA_TRY(aha_model_config_validate(cfg));
    aha_model_t *m = calloc(1, sizeof *m);
    if (!m) return AHA_FAIL(AHA_ERR_NOMEM, "aha_model_new: out of memory");
    m->cfg = *cfg;
    m->n_params = aha_model_param_count(cfg);
    m->params = calloc(m->n_params, sizeof(float));
    size_t nb = (size_t)cfg->n_layers * (size_t)cfg->n_routed_experts;
    m->expert_bias = calloc(nb ? nb : 1, sizeof(float));
    if (!m->params || !m->expert_bias) {
        aha_model_destroy(&m);
        return AHA_FAIL(AHA_ERR_NOMEM, "aha_model_new: cannot allocate %zu parameters",
                        m ? m->n_params : 0);
    }
    int rc = make_views(cfg, m->params, &m->p);
    if (rc < 0) {
        aha_model_destroy(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void aha_model_init_random(aha_model_t *m, aha_rng_t *rng) {
    const aha_model_config_t *c = &m->cfg;
    float std = 0.02f, std_out = 0.02f / sqrtf(2.0f * (float)c->n_layers);
    size_t n = aha_model_tensor_count(c);
    for (size_t i = 0; i < n; i++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(c, i, &ti) < 0) return;
        float *p = m->params + ti.offset;
        if (ti.ndim == 1) {
            for (size_t j = 0; j < ti.numel; j++)
                p[j] = 1.0f;
            continue;
        }
        float s = (strstr(ti.name, "o_proj") || strstr(ti.name, "down_proj")) ? std_out : std;
        for (size_t j = 0; j < ti.numel; j++)
            p[j] = s * aha_rng_normal(rng);
    }
    memset(m->expert_bias, 0, sizeof(float) * (size_t)c->n_layers * (size_t)c->n_routed_experts);
}

int aha_model_alloc_grads(aha_model_t *m) {
    if (!m) return AHA_FAIL(AHA_ERR_ARG, "aha_model_alloc_grads: NULL model");
    if (m->grads) return 0;
    m->grads = calloc(m->n_params, sizeof(float));
    if (!m->grads) return AHA_FAIL(AHA_ERR_NOMEM, "cannot allocate %zu gradients", m->n_params);
    int rc = make_views(&m->cfg, m->grads, &m->g);
    if (rc < 0) {
        free(m->grads);
        m->grads = NULL;
    }
    return rc;
}

void aha_model_zero_grads(aha_model_t *m) {
    if (m && m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
}

void aha_model_destroy(aha_model_t **mp) {
    if (!mp || !*mp) return;
    aha_model_t *m = *mp;
    AHA_FREE(m->params, m->grads, m->expert_bias, m->p.layers, m->g.layers, m);
    *mp = NULL;
}

void aha_model_update_expert_bias(aha_model_t *m, const float *load) {
    if (!m || !load) return;
    const aha_model_config_t *c = &m->cfg;
    int E = c->n_routed_experts;
    for (int l = 0; l < c->n_layers; l++) {
        if (!aha_model_layer_is_moe(c, l)) continue;
        const float *ld = load + (size_t)l * E;
        double mean = 0.0;
        for (int e = 0; e < E; e++)
            mean += ld[e];
        mean /= E;
        for (int e = 0; e < E; e++) {
            double diff = mean - ld[e];
            float sgn = diff > 0 ? 1.0f : (diff < 0 ? -1.0f : 0.0f);
            m->expert_bias[(size_t)l * E + e] += c->bias_update_speed * sgn;
        }
    }
}

/* ---------------------------------------------------------------- activations */

/* One layer's kept activations: its input (the residual stream) and what the block forward
 * wrote (model/block.h); ids points into aha_acts.ids for the current B, T. */
typedef struct {
    float *res_in; /* [N, D] */
    aha_block_acts_t b;
    float *ex_x; /* MoE: [N*K, D] the routed experts' inputs gathered by the forward (k_experts'
                    xg), read again by the backward */
} layer_acts_t;

struct aha_acts {
    aha_model_config_t cfg;
    int max_B, max_T;
    size_t bytes;    /* of fmem and imem */
    int B, T, ready; /* of the last successful forward */
    float aux;
    float *fmem;
    int *imem;
    layer_acts_t *layers;
    float *res_final;           /* [N, D] input of the final norm */
    float *lnf, *rstdf;         /* [N, D], [N] */
    float *logits, *dlogits;    /* [N, V] */
    float *rope_cos, *rope_sin; /* [max_T, hd/2] */
    int *ids;                   /* [L, B, T, K] compact for the current B, T */
    float *load;                /* [L, E] */
    int *len;                   /* [B] */
    int *valid;                 /* [N] */
    int *tokens;                /* [N] copy of the batch tokens */
    /* scratch */
    float *dh13;             /* [N, max(2F, E + 2SH)]: gradient of the merged ln2 projection */
    float *dyg, *dxg;        /* [N*K, D] */
    float *dres, *d1;        /* [N, D] */
    float *dqkv;             /* [N, 3D]: dq | dk | dv */
    float *datt;             /* [T, T] */
    float *dh1, *dh3, *dact; /* [max(N*F, N*S*H, N*K*H)] */
    float *dg;               /* [N*K] */
    float *ds, *dz;          /* [N, E] */
    float *cnt;              /* [E] */
    aha_expert_fn expert_fn; /* routed-expert compute, or NULL (k_experts) */
    void *expert_ctx;
};

void aha_acts_set_expert_fn(aha_acts_t *a, aha_expert_fn fn, void *ctx) {
    a->expert_fn = fn;
    a->expert_ctx = ctx;
}

float *aha_arena_f(aha_arena_t *ar, size_t n) {
    n = (n + 15) & ~(size_t)15; /* keep 64-byte alignment */
    float *p = ar->fbase ? ar->fbase + ar->nf : NULL;
    ar->nf += n;
    return p;
}

int *aha_arena_i(aha_arena_t *ar, size_t n) {
    n = (n + 15) & ~(size_t)15;
    int *p = ar->ibase ? ar->ibase + ar->ni : NULL;
    ar->ni += n;
    return p;
}

int aha_model_check_rows(const aha_model_t *m, const void *out, int rows, int max_T,
                         const char *fn, const char *rows_name) {
    if (!m || !out) return AHA_FAIL(AHA_ERR_ARG, "%s: NULL argument", fn);
    if (rows <= 0) return AHA_FAIL(AHA_ERR_ARG, "%s: %s must be > 0 (got %d)", fn, rows_name, rows);
    if (max_T <= 0 || max_T > m->cfg.max_seq_len)
        return AHA_FAIL(AHA_ERR_ARG, "%s: max_T must be in [1, max_seq_len=%d] (got %d)", fn,
                        m->cfg.max_seq_len, max_T);
    return 0;
}

int aha_arena_build(void (*layout)(void *obj, aha_arena_t *ar), void *obj, float **fmem, int **imem,
                    size_t *bytes, const char *what) {
    aha_arena_t ar = {0};
    layout(obj, &ar);
    float *f = calloc(ar.nf ? ar.nf : 1, sizeof(float));
    int *i = calloc(ar.ni ? ar.ni : 1, sizeof(int));
    if (!f || !i) {
        free(f);
        free(i);
        return AHA_FAIL(AHA_ERR_NOMEM, "%s: cannot allocate %zu MiB", what,
                        ar.nf * sizeof(float) >> 20);
    }
    *fmem = f;
    *imem = i;
    *bytes = ar.nf * sizeof(float) + ar.ni * sizeof(int);
    ar = (aha_arena_t){.fbase = f, .ibase = i};
    layout(obj, &ar);
    return 0;
}

static size_t max3(size_t a, size_t b, size_t c) {
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

static void acts_layout(void *obj, aha_arena_t *ar) {
    aha_acts_t *a = obj;
    const aha_model_config_t *c = &a->cfg;
    size_t N = (size_t)a->max_B * a->max_T, D = c->dim, V = c->vocab_size, L = c->n_layers;
    size_t F = c->ffn_hidden, E = c->n_routed_experts, K = c->top_k, H = c->moe_hidden;
    size_t SH = (size_t)c->n_shared_experts * H, T = a->max_T, hd = D / c->n_heads;
    int any_moe = 0;
    for (size_t l = 0; l < L; l++) {
        layer_acts_t *la = &a->layers[l];
        la->res_in = aha_arena_f(ar, N * D);
        la->b.ln1 = aha_arena_f(ar, N * D);
        la->b.rstd1 = aha_arena_f(ar, N);
        la->b.qkv = aha_arena_f(ar, N * 3 * D);
        la->b.att = aha_arena_f(ar, (size_t)a->max_B * c->n_heads * T * T);
        la->b.ao = aha_arena_f(ar, N * D);
        la->b.res_mid = aha_arena_f(ar, N * D);
        la->b.ln2 = aha_arena_f(ar, N * D);
        la->b.rstd2 = aha_arena_f(ar, N);
        if (!aha_model_layer_is_moe(c, (int)l)) {
            la->b.h13 = aha_arena_f(ar, N * 2 * F);
            la->b.hact = aha_arena_f(ar, N * F);
            continue;
        }
        any_moe = 1;
        la->b.h13 = aha_arena_f(ar, N * (E + 2 * SH));
        la->b.scores = aha_arena_f(ar, N * E);
        la->b.gates = aha_arena_f(ar, N * K);
        if (SH > 0) la->b.sh_act = aha_arena_f(ar, N * SH);
        la->b.ex_h1 = aha_arena_f(ar, N * K * H);
        la->b.ex_h3 = aha_arena_f(ar, N * K * H);
        la->b.ex_act = aha_arena_f(ar, N * K * H);
        la->b.ex_out = aha_arena_f(ar, N * K * D);
        la->ex_x = aha_arena_f(ar, N * K * D);
        la->b.ex_off = aha_arena_i(ar, E + 1);
        la->b.ex_perm = aha_arena_i(ar, N * K);
    }
    a->res_final = aha_arena_f(ar, N * D);
    a->lnf = aha_arena_f(ar, N * D);
    a->rstdf = aha_arena_f(ar, N);
    a->logits = aha_arena_f(ar, N * V);
    a->dlogits = aha_arena_f(ar, N * V);
    a->rope_cos = aha_arena_f(ar, T * (hd / 2));
    a->rope_sin = aha_arena_f(ar, T * (hd / 2));
    a->ids = aha_arena_i(ar, L * N * K);
    a->load = aha_arena_f(ar, L * E);
    a->len = aha_arena_i(ar, a->max_B);
    a->valid = aha_arena_i(ar, N);
    a->tokens = aha_arena_i(ar, N);
    a->dh13 = aha_arena_f(ar, N * (has_dense_layer(c) && 2 * F > E + 2 * SH ? 2 * F : E + 2 * SH));
    a->dres = aha_arena_f(ar, N * D);
    a->d1 = aha_arena_f(ar, N * D);
    a->dqkv = aha_arena_f(ar, N * 3 * D);
    a->datt = aha_arena_f(ar, T * T);
    size_t hid =
        max3(has_dense_layer(c) ? N * F : 0, any_moe ? N * SH : 0, any_moe ? N * K * H : 0);
    a->dh1 = aha_arena_f(ar, hid);
    a->dh3 = aha_arena_f(ar, hid);
    a->dact = aha_arena_f(ar, hid);
    if (any_moe) {
        a->dyg = aha_arena_f(ar, N * K * D);
        a->dxg = aha_arena_f(ar, N * K * D);
        a->dg = aha_arena_f(ar, N * K);
        a->ds = aha_arena_f(ar, N * E);
        a->dz = aha_arena_f(ar, N * E);
        a->cnt = aha_arena_f(ar, E);
    }
}

int aha_acts_new(const aha_model_t *m, int max_B, int max_T, aha_acts_t **out) {
    AHA_TRY(aha_model_check_rows(m, out, max_B, max_T, "aha_acts_new", "max_B"));
    aha_acts_t *a = calloc(1, sizeof *a);
    if (!a) return AHA_FAIL(AHA_ERR_NOMEM, "aha_acts_new: out of memory");
    a->cfg = m->cfg;
    a->max_B = max_B;
    a->max_T = max_T;
    a->layers = calloc((size_t)m->cfg.n_layers, sizeof *a->layers);
    if (!a->layers) {
        free(a);
        return AHA_FAIL(AHA_ERR_NOMEM, "aha_acts_new: out of memory");
    }
    int rc =
        aha_arena_build(acts_layout, a, &a->fmem, &a->imem, &a->bytes, "aha_acts_new: activations");
    if (rc < 0) {
        aha_acts_destroy(&a);
        return rc;
    }
    k_rope_tables(a->rope_cos, a->rope_sin, max_T, m->cfg.dim / m->cfg.n_heads, m->cfg.rope_theta);
    *out = a;
    return 0;
}

size_t aha_acts_bytes(const aha_acts_t *a) {
    return a ? a->bytes : 0;
}

void aha_acts_destroy(aha_acts_t **ap) {
    if (!ap || !*ap) return;
    aha_acts_t *a = *ap;
    AHA_FREE(a->fmem, a->imem, a->layers, a);
    *ap = NULL;
}

const float *aha_acts_logits(const aha_acts_t *a) {
    return a->logits;
}
const int *aha_acts_expert_ids(const aha_acts_t *a) {
    return a->ids;
}
const float *aha_acts_expert_load(const aha_acts_t *a) {
    return a->load;
}
float aha_acts_aux_loss(const aha_acts_t *a) {
    return a->aux;
}
float *aha_acts_dlogits(aha_acts_t *a) {
    return a->dlogits;
}

int aha_model_same_shape(const aha_model_config_t *a, const aha_model_config_t *b) {
    return a->vocab_size == b->vocab_size && a->dim == b->dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->ffn_hidden == b->ffn_hidden &&
           a->n_dense_layers == b->n_dense_layers && a->n_routed_experts == b->n_routed_experts &&
           a->n_shared_experts == b->n_shared_experts && a->top_k == b->top_k &&
           a->moe_hidden == b->moe_hidden && a->max_seq_len == b->max_seq_len &&
           a->rope_theta == b->rope_theta;
}

/* ---------------------------------------------------------------- forward */

int aha_forward(const aha_model_t *m, aha_acts_t *a, const aha_batch_t *batch) {
    if (!m || !a || !batch || !batch->tokens)
        return AHA_FAIL(AHA_ERR_ARG, "aha_forward: NULL argument");
    if (!aha_model_same_shape(&m->cfg, &a->cfg))
        return AHA_FAIL(AHA_ERR_ARG, "aha_forward: activations were made for another model shape");
    const aha_model_config_t *c = &m->cfg;
    int B = batch->B, T = batch->T;
    if (B <= 0 || B > a->max_B || T <= 0 || T > a->max_T)
        return AHA_FAIL(AHA_ERR_RANGE, "aha_forward: batch %dx%d outside the activations' %dx%d", B,
                        T, a->max_B, a->max_T);
    int N = B * T, D = c->dim, V = c->vocab_size, L = c->n_layers;
    int E = c->n_routed_experts, K = c->top_k;
    a->ready = 0;
    for (int i = 0; i < N; i++)
        if (batch->tokens[i] < 0 || batch->tokens[i] >= V)
            return AHA_FAIL(AHA_ERR_RANGE,
                            "aha_forward: token %d at row %d position %d outside [0, %d)",
                            batch->tokens[i], i / T, i % T, V);
    for (int b = 0; b < B; b++) {
        int tb = batch->lengths ? batch->lengths[b] : T;
        if (tb < 0 || tb > T)
            return AHA_FAIL(AHA_ERR_RANGE, "aha_forward: lengths[%d] = %d outside [0, %d]", b, tb,
                            T);
        a->len[b] = tb;
        for (int t = 0; t < T; t++)
            a->valid[b * T + t] = t < tb;
    }
    memcpy(a->tokens, batch->tokens, sizeof(int) * (size_t)N);
    a->B = B;
    a->T = T;
    a->aux = 0.0f;

    /* x = tok_emb[tokens] */
    float *x = a->layers[0].res_in;
    for (int i = 0; i < N; i++)
        memcpy(x + (size_t)i * D, m->p.tok_emb + (size_t)batch->tokens[i] * D, sizeof(float) * D);
    if (L * E > 0) memset(a->load, 0, sizeof(float) * (size_t)L * E);
    if ((size_t)L * N * K > 0) memset(a->ids, 0xff, sizeof(int) * (size_t)L * N * K); /* -1 */

    aha_block_ctx_t ctx = {.B = B,
                           .T = T,
                           .rope_cos = a->rope_cos,
                           .rope_sin = a->rope_sin,
                           .valid = a->valid,
                           .len = a->len,
                           .cnt = a->cnt,
                           .expert_fn = a->expert_fn,
                           .expert_ctx = a->expert_ctx};
    for (int l = 0; l < L; l++) {
        layer_acts_t *la = &a->layers[l];
        float *x_out = l + 1 < L ? a->layers[l + 1].res_in : a->res_final;
        la->b.ids = a->ids + (size_t)l * N * K;
        ctx.replay = batch->replay_ids ? batch->replay_ids + (size_t)l * N * K : NULL;
        ctx.xg = la->ex_x; /* the experts' gathered inputs, kept for the backward */
        AHA_TRY(aha_block_forward(x_out, &a->aux, &la->b, la->res_in, c, l, &m->p.layers[l],
                                  m->expert_bias + (size_t)l * E, &ctx, N));
        if (aha_model_layer_is_moe(c, l))
            for (int e = 0; e < E; e++)
                a->load[(size_t)l * E + e] = (float)(la->b.ex_off[e + 1] - la->b.ex_off[e]);
    }
    k_rmsnorm(a->lnf, a->rstdf, a->res_final, m->p.final_norm, N, D, c->norm_eps);
    k_matmul(a->logits, a->lnf, m->p.lm_head, N, D, V, 0.0f);
    memset(a->dlogits, 0, sizeof(float) * (size_t)N * V);
    a->ready = 1;
    return 0;
}

int aha_ce_loss(aha_acts_t *a, const int *targets, float *loss_out) {
    if (!a || !targets || !loss_out) return AHA_FAIL(AHA_ERR_ARG, "aha_ce_loss: NULL argument");
    if (!a->ready) return AHA_FAIL(AHA_ERR_STATE, "aha_ce_loss: no successful aha_forward");
    int N = a->B * a->T, V = a->cfg.vocab_size, count = 0;
    for (int i = 0; i < N; i++)
        count += targets[i] >= 0 && targets[i] < V;
    if (count == 0) {
        *loss_out = 0.0f;
        return AHA_OK;
    }
    double loss = 0.0;
    float inv = 1.0f / (float)count;
    for (int i = 0; i < N; i++) {
        int tgt = targets[i];
        if (tgt < 0 || tgt >= V) continue;
        const float *lg = a->logits + (size_t)i * V;
        float *dl = a->dlogits + (size_t)i * V;
        float mx = lg[0];
        for (int j = 1; j < V; j++)
            mx = lg[j] > mx ? lg[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < V; j++)
            sum += exp((double)lg[j] - mx);
        double lse = mx + log(sum);
        loss += lse - lg[tgt];
        for (int j = 0; j < V; j++)
            dl[j] += (float)(exp((double)lg[j] - lse)) * inv;
        dl[tgt] -= inv;
    }
    *loss_out = (float)(loss / count);
    return AHA_OK;
}

/* ---------------------------------------------------------------- backward */

int aha_backward(aha_model_t *m, aha_acts_t *a, const aha_batch_t *batch) {
    if (!m || !a || !batch) return AHA_FAIL(AHA_ERR_ARG, "aha_backward: NULL argument");
    if (!m->grads)
        return AHA_FAIL(AHA_ERR_STATE,
                        "aha_backward: gradients not allocated (aha_model_alloc_grads)");
    if (!a->ready) return AHA_FAIL(AHA_ERR_STATE, "aha_backward: no successful aha_forward");
    if (batch->B != a->B || batch->T != a->T)
        return AHA_FAIL(AHA_ERR_ARG, "aha_backward: batch %dx%d differs from the forward's %dx%d",
                        batch->B, batch->T, a->B, a->T);
    const aha_model_config_t *c = &m->cfg;
    int B = a->B, T = a->T, N = B * T, D = c->dim, V = c->vocab_size, L = c->n_layers;
    int nh = c->n_heads, hd = D / nh, E = c->n_routed_experts, K = c->top_k, H = c->moe_hidden;
    int SH = c->n_shared_experts * H;
    const aha_param_view_t *p = &m->p;
    aha_param_view_t *g = &m->g;
    size_t ND = (size_t)N * D;

    /* logits = lnf lm_head^T */
    k_matmul_backward(a->d1, g->lm_head, a->dlogits, a->lnf, p->lm_head, N, D, V, 0.0f);
    memset(a->dres, 0, sizeof(float) * ND);
    k_rmsnorm_backward(a->dres, g->final_norm, a->d1, a->res_final, p->final_norm, a->rstdf, N, D);

    const k_ffn_scratch_t scratch = {a->dh1, a->dh3, a->dact};
    for (int l = L - 1; l >= 0; l--) {
        layer_acts_t *la = &a->layers[l];
        const aha_layer_view_t *lp = &p->layers[l];
        aha_layer_view_t *lg = &g->layers[l];
        /* feed-forward: dres is d loss / d ffn output; d1 collects d loss / d ln2; dh13 is the
         * gradient of the merged projection of ln2 (h13: dense h1 | h3, MoE router logits |
         * shared h1 | shared h3), one matmul for dx and one for the consecutive weights */
        if (!aha_model_layer_is_moe(c, l)) {
            const int F = c->ffn_hidden;
            k_matmul_backward(a->dact, lg->w2, a->dres, la->b.hact, lp->w2, N, F, D, 0.0f);
            k_swiglu_rows_backward(a->dh13, a->dact, la->b.h13, 2 * F, 0, N, F);
            k_matmul_backward(a->d1, lg->w1, a->dh13, la->b.ln2, lp->w1, N, D, 2 * F, 0.0f);
        } else {
            const int *ids = a->ids + (size_t)l * N * K, RW = E + 2 * SH;
            if (SH > 0) {
                k_matmul_backward(a->dact, lg->sh_w2, a->dres, la->b.sh_act, lp->sh_w2, N, SH, D,
                                  0.0f);
                k_swiglu_rows_backward(a->dh13, a->dact, la->b.h13, RW, E, N, SH);
            }
            memset(a->d1, 0, sizeof(float) * ND);
            memset(a->dg, 0, sizeof(float) * (size_t)N * K);
            const k_experts_routing_t route = {
                la->b.gates, la->b.ex_off, la->b.ex_perm, la->b.ex_out, E, K};
            const k_experts_scratch_t ex_scratch = {NULL, a->dyg, a->dxg, scratch};
            if (a->expert_fn) {
                // clang-format off
                const aha_expert_call_t ec = {
                    .layer = l, .N = N, .D = D, .H = H, .E = E, .K = K, .x = la->b.ln2,
                    .gates = la->b.gates, .ids = ids, .w1 = lp->ex_w1, .w3 = lp->ex_w3,
                    .w2 = lp->ex_w2, .eo = la->b.ex_out, .dy = a->dres, .dx = a->d1,
                    .dgates = a->dg, .g1 = lg->ex_w1, .g3 = lg->ex_w3, .g2 = lg->ex_w2};
                // clang-format on
                AHA_TRY(a->expert_fn(a->expert_ctx, 1, &ec));
            } else {
                k_experts_backward_gathered(
                    a->d1, a->dg, (k_ffn_grads_t){lg->ex_w1, lg->ex_w3, lg->ex_w2}, ex_scratch,
                    a->dres, la->ex_x, &route,
                    (k_ffn_acts_t){la->b.ex_h1, la->b.ex_h3, la->b.ex_act},
                    (k_ffn_weights_t){lp->ex_w1, lp->ex_w3, lp->ex_w2}, D, H);
            }
            memset(a->ds, 0, sizeof(float) * (size_t)N * E);
            k_route_backward(a->ds, a->dg, la->b.scores, ids, N, E, K, c->norm_topk_prob,
                             c->routed_scale);
            k_seq_aux_backward(a->ds, a->cnt, la->b.scores, ids, a->len, B, T, E, K, c->score_func,
                               c->seq_aux_alpha);
            k_router_scores_backward(a->dz, a->ds, la->b.scores, N, E, c->score_func);
            for (int i = 0; i < N; i++)
                memcpy(a->dh13 + (size_t)i * RW, a->dz + (size_t)i * E, sizeof(float) * E);
            k_matmul_backward(a->d1, lg->router, a->dh13, la->b.ln2, lp->router, N, D, RW, 1.0f);
        }
        k_rmsnorm_backward(a->dres, lg->ffn_norm, a->d1, la->b.res_mid, lp->ffn_norm, la->b.rstd2,
                           N, D);
        /* attention: dres is now d loss / d res_mid */
        k_matmul_backward(a->d1, lg->wo, a->dres, la->b.ao, lp->wo, N, D, D, 0.0f);
        /* q | k | v as one [3D, D] projection (wq, wk, wv and their gradients are consecutive) */
        const int ld = 3 * D;
        const float *q = la->b.qkv, *k = la->b.qkv + D, *v = la->b.qkv + 2 * D;
        float *dq = a->dqkv, *dk = a->dqkv + D, *dv = a->dqkv + 2 * D;
        k_attention_backward(dq, dk, dv, a->datt, a->d1, la->b.att, q, k, v, ld, B, T, nh, hd);
        k_rope(dq, ld, NULL, N, T, nh, hd, a->rope_cos, a->rope_sin, 1);
        k_rope(dk, ld, NULL, N, T, nh, hd, a->rope_cos, a->rope_sin, 1);
        k_matmul_backward(a->d1, lg->wq, a->dqkv, la->b.ln1, lp->wq, N, D, ld, 0.0f);
        k_rmsnorm_backward(a->dres, lg->attn_norm, a->d1, la->res_in, lp->attn_norm, la->b.rstd1, N,
                           D);
    }
    /* embeddings */
    for (int i = 0; i < N; i++) {
        float *ge = g->tok_emb + (size_t)a->tokens[i] * D;
        const float *dr = a->dres + (size_t)i * D;
        for (int d = 0; d < D; d++)
            ge[d] += dr[d];
    }
    return 0;
}
