/* model/decode.c — KV cache and one-token-per-row incremental decoding (aha_kv_*, aha_decode_step).
 * Same maths as aha_forward (docs/model.md) for the appended position; rows are compacted to the
 * active ones so projections and experts still run as one sgemm per matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/kernels.h"
#include "model/model.h"
#include "model/model_internal.h"

struct aha_kv {
    aha_model_config_t cfg;
    int B, max_T;
    int *len;                   /* [B] */
    float *kc, *vc;             /* [L, B, max_T, D] keys (after RoPE) and values */
    float *rope_cos, *rope_sin; /* [max_T, hd/2] */
    /* per-step scratch, rows compacted to the n active ones */
    int *rows, *pos, *valid;              /* [B] batch row, position, 1 */
    float *x, *xn, *q, *k, *v, *ao, *tmp; /* [B, D] */
    float *att;                           /* [max_T] */
    float *h1, *h3, *hact;                /* [B * max(F, S*H, K*H)] */
    float *scores, *gates;                /* [B, E], [B, K] */
    int *ids, *off, *perm;                /* [B*K], [E+1], [B*K] */
    float *xg, *eo;                       /* [B*K, D] */
    float *logits;                        /* [B, V] */
    float *fmem;
    int *imem;
};

typedef struct {
    float *fbase;
    int *ibase;
    size_t nf, ni;
} kv_arena_t;

static float *kv_take_f(kv_arena_t *ar, size_t n) {
    n = (n + 15) & ~(size_t)15;
    float *p = ar->fbase ? ar->fbase + ar->nf : NULL;
    ar->nf += n;
    return p;
}

static int *kv_take_i(kv_arena_t *ar, size_t n) {
    n = (n + 15) & ~(size_t)15;
    int *p = ar->ibase ? ar->ibase + ar->ni : NULL;
    ar->ni += n;
    return p;
}

static void kv_layout(aha_kv_t *kv, kv_arena_t *ar) {
    const aha_model_config_t *c = &kv->cfg;
    size_t B = kv->B, T = kv->max_T, D = c->dim, L = c->n_layers, V = c->vocab_size;
    size_t E = c->n_routed_experts, K = c->top_k, H = c->moe_hidden;
    size_t SH = (size_t)c->n_shared_experts * H, hd = D / c->n_heads;
    size_t hid = (size_t)c->ffn_hidden;
    if (SH > hid) hid = SH;
    if (K * H > hid) hid = K * H;
    kv->len = kv_take_i(ar, B);
    kv->kc = kv_take_f(ar, L * B * T * D);
    kv->vc = kv_take_f(ar, L * B * T * D);
    kv->rope_cos = kv_take_f(ar, T * (hd / 2));
    kv->rope_sin = kv_take_f(ar, T * (hd / 2));
    kv->rows = kv_take_i(ar, B);
    kv->pos = kv_take_i(ar, B);
    kv->valid = kv_take_i(ar, B);
    kv->x = kv_take_f(ar, B * D);
    kv->xn = kv_take_f(ar, B * D);
    kv->q = kv_take_f(ar, B * D);
    kv->k = kv_take_f(ar, B * D);
    kv->v = kv_take_f(ar, B * D);
    kv->ao = kv_take_f(ar, B * D);
    kv->tmp = kv_take_f(ar, B * D);
    kv->att = kv_take_f(ar, T);
    kv->h1 = kv_take_f(ar, B * hid);
    kv->h3 = kv_take_f(ar, B * hid);
    kv->hact = kv_take_f(ar, B * hid);
    kv->scores = kv_take_f(ar, B * E);
    kv->gates = kv_take_f(ar, B * K);
    kv->ids = kv_take_i(ar, B * K);
    kv->off = kv_take_i(ar, E + 1);
    kv->perm = kv_take_i(ar, B * K);
    kv->xg = kv_take_f(ar, B * K * D);
    kv->eo = kv_take_f(ar, B * K * D);
    kv->logits = kv_take_f(ar, B * V);
}

int aha_kv_new(const aha_model_t *m, int B, int max_T, aha_kv_t **out) {
    if (!m || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_kv_new: NULL argument");
    if (B <= 0) return AHA_FAIL(AHA_ERR_ARG, "aha_kv_new: B must be > 0 (got %d)", B);
    if (max_T <= 0 || max_T > m->cfg.max_seq_len)
        return AHA_FAIL(AHA_ERR_ARG, "aha_kv_new: max_T must be in [1, max_seq_len=%d] (got %d)",
                        m->cfg.max_seq_len, max_T);
    aha_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv) return AHA_FAIL(AHA_ERR_NOMEM, "aha_kv_new: out of memory");
    kv->cfg = m->cfg;
    kv->B = B;
    kv->max_T = max_T;
    kv_arena_t ar = {0};
    kv_layout(kv, &ar);
    kv->fmem = calloc(ar.nf, sizeof(float));
    kv->imem = calloc(ar.ni, sizeof(int));
    if (!kv->fmem || !kv->imem) {
        size_t nf = ar.nf;
        aha_kv_destroy(&kv);
        return AHA_FAIL(AHA_ERR_NOMEM, "aha_kv_new: cannot allocate %zu MiB", nf * 4 >> 20);
    }
    ar = (kv_arena_t){.fbase = kv->fmem, .ibase = kv->imem};
    kv_layout(kv, &ar);
    k_rope_tables(kv->rope_cos, kv->rope_sin, max_T, m->cfg.dim / m->cfg.n_heads,
                  m->cfg.rope_theta);
    *out = kv;
    return 0;
}

void aha_kv_reset(aha_kv_t *kv) {
    if (kv) memset(kv->len, 0, sizeof(int) * (size_t)kv->B);
}

void aha_kv_destroy(aha_kv_t **kvp) {
    if (!kvp || !*kvp) return;
    free((*kvp)->fmem);
    free((*kvp)->imem);
    free(*kvp);
    *kvp = NULL;
}

int aha_kv_len(const aha_kv_t *kv, int b) {
    if (!kv || b < 0 || b >= kv->B) return 0;
    return kv->len[b];
}

int aha_kv_rows(const aha_kv_t *kv) {
    return kv ? kv->B : 0;
}
int aha_kv_capacity(const aha_kv_t *kv) {
    return kv ? kv->max_T : 0;
}

/* Attention of the n compacted query rows q[n, D] over the cached keys/values of layer l
 * (positions 0..pos[i] of batch row rows[i]) into ao[n, D]. */
static void decode_attention(aha_kv_t *kv, int l, int n) {
    const aha_model_config_t *c = &kv->cfg;
    int D = c->dim, nh = c->n_heads, hd = D / nh;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < n; i++) {
        size_t rowbase = ((size_t)l * kv->B + kv->rows[i]) * kv->max_T * D;
        const float *kr = kv->kc + rowbase, *vr = kv->vc + rowbase;
        int P = kv->pos[i];
        for (int h = 0; h < nh; h++) {
            const float *qh = kv->q + (size_t)i * D + (size_t)h * hd;
            float *oh = kv->ao + (size_t)i * D + (size_t)h * hd;
            float mx = -INFINITY;
            for (int j = 0; j <= P; j++) {
                const float *kj = kr + (size_t)j * D + (size_t)h * hd;
                float dot = 0.0f;
                for (int d = 0; d < hd; d++)
                    dot += qh[d] * kj[d];
                kv->att[j] = dot * scale;
                mx = kv->att[j] > mx ? kv->att[j] : mx;
            }
            float sum = 0.0f;
            for (int j = 0; j <= P; j++) {
                kv->att[j] = expf(kv->att[j] - mx);
                sum += kv->att[j];
            }
            float inv = 1.0f / sum;
            for (int d = 0; d < hd; d++)
                oh[d] = 0.0f;
            for (int j = 0; j <= P; j++) {
                float pj = kv->att[j] * inv;
                const float *vj = vr + (size_t)j * D + (size_t)h * hd;
                for (int d = 0; d < hd; d++)
                    oh[d] += pj * vj[d];
            }
        }
    }
}

int aha_decode_step(const aha_model_t *m, aha_kv_t *kv, const int *tokens, const int *active,
                    float *logits, int *expert_ids_out) {
    if (!m || !kv || !tokens || !logits)
        return AHA_FAIL(AHA_ERR_ARG, "aha_decode_step: NULL argument");
    const aha_model_config_t *c = &m->cfg;
    if (!aha_model_same_shape(c, &kv->cfg))
        return AHA_FAIL(AHA_ERR_ARG, "aha_decode_step: KV cache was made for another model shape");
    int B = kv->B, D = c->dim, V = c->vocab_size, L = c->n_layers, nh = c->n_heads;
    int hd = D / nh, E = c->n_routed_experts, K = c->top_k, H = c->moe_hidden;
    int SH = c->n_shared_experts * H;
    int n = 0;
    for (int b = 0; b < B; b++) {
        if (active && !active[b]) continue;
        if (kv->len[b] >= kv->max_T)
            return AHA_FAIL(AHA_ERR_RANGE, "aha_decode_step: row %d is full (%d positions)", b,
                            kv->max_T);
        if (tokens[b] < 0 || tokens[b] >= V)
            return AHA_FAIL(AHA_ERR_RANGE, "aha_decode_step: token %d of row %d outside [0, %d)",
                            tokens[b], b, V);
        kv->rows[n] = b;
        kv->pos[n] = kv->len[b];
        kv->valid[n] = 1;
        n++;
    }
    if (expert_ids_out)
        for (size_t i = 0; i < (size_t)L * B * K; i++)
            expert_ids_out[i] = -1;
    if (n == 0) return 0;

    for (int i = 0; i < n; i++)
        memcpy(kv->x + (size_t)i * D, m->p.tok_emb + (size_t)tokens[kv->rows[i]] * D,
               sizeof(float) * D);
    for (int l = 0; l < L; l++) {
        const aha_layer_view_t *lp = &m->p.layers[l];
        /* attention */
        k_rmsnorm(kv->xn, NULL, kv->x, lp->attn_norm, n, D, c->norm_eps);
        k_matmul(kv->q, kv->xn, lp->wq, n, D, D, 0.0f);
        k_matmul(kv->k, kv->xn, lp->wk, n, D, D, 0.0f);
        k_matmul(kv->v, kv->xn, lp->wv, n, D, D, 0.0f);
        k_rope(kv->q, kv->pos, n, 0, nh, hd, kv->rope_cos, kv->rope_sin, 0);
        k_rope(kv->k, kv->pos, n, 0, nh, hd, kv->rope_cos, kv->rope_sin, 0);
        for (int i = 0; i < n; i++) {
            size_t at = (((size_t)l * B + kv->rows[i]) * kv->max_T + kv->pos[i]) * D;
            memcpy(kv->kc + at, kv->k + (size_t)i * D, sizeof(float) * D);
            memcpy(kv->vc + at, kv->v + (size_t)i * D, sizeof(float) * D);
        }
        decode_attention(kv, l, n);
        k_matmul(kv->tmp, kv->ao, lp->wo, n, D, D, 0.0f);
        for (size_t i = 0; i < (size_t)n * D; i++)
            kv->x[i] += kv->tmp[i];
        /* feed-forward */
        k_rmsnorm(kv->xn, NULL, kv->x, lp->ffn_norm, n, D, c->norm_eps);
        if (!aha_model_layer_is_moe(c, l)) {
            k_swiglu_ffn(kv->tmp, kv->h1, kv->h3, kv->hact, kv->xn, lp->w1, lp->w3, lp->w2, n, D,
                         c->ffn_hidden, 0.0f);
        } else {
            k_matmul(kv->scores, kv->xn, lp->router, n, D, E, 0.0f);
            k_router_scores(kv->scores, n, E, c->score_func);
            AHA_TRY(k_route(kv->ids, kv->gates, kv->scores, m->expert_bias + (size_t)l * E,
                            kv->valid, NULL, n, E, K, c->norm_topk_prob, c->routed_scale));
            k_group(kv->off, kv->perm, kv->ids, n, E, K);
            if (SH > 0)
                k_swiglu_ffn(kv->tmp, kv->h1, kv->h3, kv->hact, kv->xn, lp->sh_w1, lp->sh_w3,
                             lp->sh_w2, n, D, SH, 0.0f);
            else
                memset(kv->tmp, 0, sizeof(float) * (size_t)n * D);
            const k_experts_routing_t route = {kv->gates, kv->off, kv->perm, kv->eo, E, K};
            k_experts(kv->tmp, kv->xg, kv->eo, (k_ffn_keep_t){kv->h1, kv->h3, kv->hact}, kv->xn,
                      &route, (k_ffn_weights_t){lp->ex_w1, lp->ex_w3, lp->ex_w2}, D, H);
            if (expert_ids_out)
                for (int i = 0; i < n; i++)
                    memcpy(expert_ids_out + ((size_t)l * B + kv->rows[i]) * K,
                           kv->ids + (size_t)i * K, sizeof(int) * K);
        }
        for (size_t i = 0; i < (size_t)n * D; i++)
            kv->x[i] += kv->tmp[i];
    }
    k_rmsnorm(kv->xn, NULL, kv->x, m->p.final_norm, n, D, c->norm_eps);
    k_matmul(kv->logits, kv->xn, m->p.lm_head, n, D, V, 0.0f);
    for (int i = 0; i < n; i++) {
        memcpy(logits + (size_t)kv->rows[i] * V, kv->logits + (size_t)i * V, sizeof(float) * V);
        kv->len[kv->rows[i]]++;
    }
    return 0;
}
