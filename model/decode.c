/* model/decode.c — KV cache and one-token-per-row incremental decoding (aha_kv_*, aha_decode_step).
 * The same block forward as aha_forward (model/block.h) for the appended position; rows are
 * compacted to the active ones so projections and experts still run as one sgemm per matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/block.h"
#include "model/kernels.h"
#include "model/model.h"
#include "model/model_internal.h"
#include "model/simd.h"

struct aha_kv {
    aha_model_config_t cfg;
    int B, max_T;
    size_t bytes;               /* of fmem and imem */
    int S;                      /* scratch rows: max(B, min(max_T, 64)) (prefill chunks) */
    int *len;                   /* [B] */
    /* shared prefixes: positions [0, pre_len[b]) of row b hold the same bits as those of row
     * pre_row[b] (pre_len 0: none; aha_kv_copy_row sets them), so attention reads them once for
     * the rows that share them. Always pre_len[b] <= len[b] and <= len[pre_row[b]]. */
    int *pre_row, *pre_len;     /* [B] */
    float *kc, *vc;             /* [L, B, D, max_T] keys (after RoPE, transposed), [L, B, max_T, D]
                                   values; each + K_ATTEND_PAD floats (attend_rows reads past) */
    float *rope_cos, *rope_sin; /* [max_T, hd/2] */
    /* per-step scratch, rows compacted to the n active ones */
    int *rows, *pos, *valid; /* [S] cache row, position, 1 */
    int *prer, *prel, *order; /* [S] the rows' pre_row, pre_len; attention's scratch */
    int *tok, *seq;          /* [S] input token, index of the row in the caller's output */
    float *x, *xn, *rstd;    /* [B, D], [B, D], [B] */
    aha_block_acts_t blk;    /* the block forward's buffers for B rows, reused by every layer */
    float *att, *xg, *cnt;   /* [K_ATTEND_ROWS * (max_T + 16)], [B*K, D], [E] */
    float *logits;           /* [B, V] */
    float *fmem;
    int *imem;
};

static void kv_layout(void *obj, aha_arena_t *ar) {
    aha_kv_t *kv = obj;
    const aha_model_config_t *c = &kv->cfg;
    size_t B = kv->S, T = kv->max_T, D = c->dim, L = c->n_layers, V = c->vocab_size;
    size_t E = c->n_routed_experts, K = c->top_k, H = c->moe_hidden;
    size_t SH = (size_t)c->n_shared_experts * H, hd = D / c->n_heads;
    size_t hid = (size_t)c->ffn_hidden; /* dense, shared and routed SwiGLU products are one
                                           buffer: each is dead once its block has run */
    if (SH > hid) hid = SH;
    if (K * H > hid) hid = K * H;
    size_t h13 = 2 * (size_t)c->ffn_hidden; /* the merged ln2 projection of either layer kind */
    if (E + 2 * SH > h13) h13 = E + 2 * SH;
    aha_block_acts_t *b = &kv->blk;
    kv->len = aha_arena_i(ar, (size_t)kv->B);
    kv->pre_row = aha_arena_i(ar, (size_t)kv->B);
    kv->pre_len = aha_arena_i(ar, (size_t)kv->B);
    kv->kc = aha_arena_f(ar, L * (size_t)kv->B * T * D + K_ATTEND_PAD);
    kv->vc = aha_arena_f(ar, L * (size_t)kv->B * T * D + K_ATTEND_PAD);
    kv->rope_cos = aha_arena_f(ar, T * (hd / 2));
    kv->rope_sin = aha_arena_f(ar, T * (hd / 2));
    kv->rows = aha_arena_i(ar, B);
    kv->pos = aha_arena_i(ar, B);
    kv->valid = aha_arena_i(ar, B);
    kv->prer = aha_arena_i(ar, B);
    kv->prel = aha_arena_i(ar, B);
    kv->order = aha_arena_i(ar, B);
    kv->tok = aha_arena_i(ar, B);
    kv->seq = aha_arena_i(ar, B);
    kv->x = aha_arena_f(ar, B * D);
    kv->xn = aha_arena_f(ar, B * D);
    kv->rstd = aha_arena_f(ar, B);
    b->ln1 = aha_arena_f(ar, B * D);
    b->rstd1 = aha_arena_f(ar, B);
    b->qkv = aha_arena_f(ar, B * 3 * D);
    b->ao = aha_arena_f(ar, B * D);
    b->res_mid = aha_arena_f(ar, B * D);
    b->ln2 = aha_arena_f(ar, B * D);
    b->rstd2 = aha_arena_f(ar, B);
    b->h13 = aha_arena_f(ar, B * h13);
    b->ex_h1 = aha_arena_f(ar, B * K * H);
    b->ex_h3 = aha_arena_f(ar, B * K * H);
    b->hact = b->sh_act = b->ex_act = aha_arena_f(ar, B * hid);
    b->scores = aha_arena_f(ar, B * E);
    b->gates = aha_arena_f(ar, B * K);
    b->ids = aha_arena_i(ar, B * K);
    b->ex_off = aha_arena_i(ar, E + 1);
    b->ex_perm = aha_arena_i(ar, B * K);
    b->ex_out = aha_arena_f(ar, B * K * D);
    kv->att = aha_arena_f(ar, (size_t)K_ATTEND_ROWS * (T + 16));
    kv->xg = aha_arena_f(ar, B * K * D);
    kv->cnt = aha_arena_f(ar, E);
    kv->logits = aha_arena_f(ar, B * V);
}

int aha_kv_new(const aha_model_t *m, int B, int max_T, aha_kv_t **out) {
    AHA_TRY(aha_model_check_rows(m, out, B, max_T, "aha_kv_new", "B"));
    aha_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv) return AHA_FAIL(AHA_ERR_NOMEM, "aha_kv_new: out of memory");
    kv->cfg = m->cfg;
    kv->B = B;
    kv->max_T = max_T;
    kv->S = B > (max_T < 64 ? max_T : 64) ? B : (max_T < 64 ? max_T : 64);
    int rc = aha_arena_build(kv_layout, kv, &kv->fmem, &kv->imem, &kv->bytes, "aha_kv_new");
    if (rc < 0) {
        aha_kv_destroy(&kv);
        return rc;
    }
    k_rope_tables(kv->rope_cos, kv->rope_sin, max_T, m->cfg.dim / m->cfg.n_heads,
                  m->cfg.rope_theta);
    *out = kv;
    return 0;
}

void aha_kv_reset(aha_kv_t *kv) {
    if (!kv) return;
    memset(kv->len, 0, sizeof(int) * (size_t)kv->B);
    memset(kv->pre_len, 0, sizeof(int) * (size_t)kv->B);
}

void aha_kv_destroy(aha_kv_t **kvp) {
    if (!kvp || !*kvp) return;
    free((*kvp)->fmem);
    free((*kvp)->imem);
    free(*kvp);
    *kvp = NULL;
}

size_t aha_kv_bytes(const aha_kv_t *kv) {
    return kv ? kv->bytes : 0;
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

/* Runs the n compacted rows (kv->rows[i] at position kv->pos[i], input token tok[i]) through
 * every layer, appending their keys and values to the cache. Routed ids of layer l, row i go to
 * ids_out[l * ids_layer + ids_row[i] * K] (ids_out NULL: not kept). The final norm and lm_head run
 * for rows [first_logit, n) into kv->logits[(i - first_logit) * V]. */
static int run_rows(const aha_model_t *m, aha_kv_t *kv, const int *tok, int n, int *ids_out,
                    size_t ids_layer, const int *ids_row, int first_logit) {
    const aha_model_config_t *c = &m->cfg;
    const int D = c->dim, V = c->vocab_size, L = c->n_layers, E = c->n_routed_experts;
    const int K = c->top_k;
    for (int i = 0; i < n; i++) {
        memcpy(kv->x + (size_t)i * D, m->p.tok_emb + (size_t)tok[i] * D, sizeof(float) * D);
        kv->valid[i] = 1;
        kv->prer[i] = kv->pre_row[kv->rows[i]];
        kv->prel[i] = kv->pre_len[kv->rows[i]];
    }
    const size_t layer_cells = (size_t)kv->B * kv->max_T * D;
    aha_block_ctx_t ctx = {.pos = kv->pos,
                           .kv_rows = kv->rows,
                           .pre_rows = kv->prer,
                           .pre_lens = kv->prel,
                           .att_scratch = kv->att,
                           .att_order = kv->order,
                           .kv_max_T = kv->max_T,
                           .rope_cos = kv->rope_cos,
                           .rope_sin = kv->rope_sin,
                           .valid = kv->valid,
                           .cnt = kv->cnt,
                           .xg = kv->xg};
    float aux = 0.0f;
    for (int l = 0; l < L; l++) {
        ctx.kc = kv->kc + (size_t)l * layer_cells;
        ctx.vc = kv->vc + (size_t)l * layer_cells;
        AHA_TRY(aha_block_forward(kv->x, &aux, &kv->blk, kv->x, c, l, &m->p.layers[l],
                                  m->expert_bias + (size_t)l * E, &ctx, n));
        if (ids_out && aha_model_layer_is_moe(c, l))
            for (int i = 0; i < n; i++)
                memcpy(ids_out + l * ids_layer + (size_t)ids_row[i] * K,
                       kv->blk.ids + (size_t)i * K, sizeof(int) * K);
    }
    const int nl = n - first_logit;
    const float *xl = kv->x + (size_t)first_logit * D;
    k_rmsnorm(kv->xn, kv->rstd, xl, m->p.final_norm, nl, D, c->norm_eps);
    k_matmul(kv->logits, kv->xn, m->p.lm_head, nl, D, V, 0.0f);
    return 0;
}

/* The checks aha_decode_step and aha_kv_prefill (FN) share: no NULL, a cache of M's shape. */
static int check_step_args(const aha_model_t *m, const aha_kv_t *kv, const int *tokens,
                           const float *logits, const char *fn) {
    if (!m || !kv || !tokens || !logits) return AHA_FAIL(AHA_ERR_ARG, "%s: NULL argument", fn);
    if (!aha_model_same_shape(&m->cfg, &kv->cfg))
        return AHA_FAIL(AHA_ERR_ARG, "%s: KV cache was made for another model shape", fn);
    return 0;
}

int aha_decode_step(const aha_model_t *m, aha_kv_t *kv, const int *tokens, const int *active,
                    float *logits, int *expert_ids_out) {
    AHA_TRY(check_step_args(m, kv, tokens, logits, "aha_decode_step"));
    const aha_model_config_t *c = &m->cfg;
    int B = kv->B, V = c->vocab_size, L = c->n_layers, K = c->top_k;
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
        kv->tok[n] = tokens[b];
        n++;
    }
    if (expert_ids_out)
        for (size_t i = 0; i < (size_t)L * B * K; i++)
            expert_ids_out[i] = -1;
    if (n == 0) return 0;
    AHA_TRY(run_rows(m, kv, kv->tok, n, expert_ids_out, (size_t)B * K, kv->rows, 0));
    for (int i = 0; i < n; i++) {
        memcpy(logits + (size_t)kv->rows[i] * V, kv->logits + (size_t)i * V, sizeof(float) * V);
        kv->len[kv->rows[i]]++;
    }
    return 0;
}

int aha_kv_prefill(const aha_model_t *m, aha_kv_t *kv, int row, const int *tokens, int n,
                   float *logits, int *expert_ids_out) {
    AHA_TRY(check_step_args(m, kv, tokens, logits, "aha_kv_prefill"));
    const aha_model_config_t *c = &m->cfg;
    const int V = c->vocab_size, L = c->n_layers, K = c->top_k;
    if (row < 0 || row >= kv->B)
        return AHA_FAIL(AHA_ERR_RANGE, "aha_kv_prefill: row %d outside [0, %d)", row, kv->B);
    if (n < 1 || kv->len[row] + n > kv->max_T)
        return AHA_FAIL(AHA_ERR_RANGE,
                        "aha_kv_prefill: %d tokens after %d in a row of %d positions (need >= 1)",
                        n, kv->len[row], kv->max_T);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return AHA_FAIL(AHA_ERR_RANGE, "aha_kv_prefill: token %d at %d outside [0, %d)",
                            tokens[t], t, V);
    if (expert_ids_out)
        for (size_t i = 0; i < (size_t)L * n * K; i++)
            expert_ids_out[i] = -1;
    /* chunks of the scratch's rows: every position of a chunk attends the cache, where the
     * earlier chunks and its own keys (written before attention) already are */
    const int start = kv->len[row];
    for (int t0 = 0; t0 < n; t0 += kv->S) {
        const int cn = n - t0 < kv->S ? n - t0 : kv->S;
        for (int i = 0; i < cn; i++) {
            kv->rows[i] = row;
            kv->pos[i] = start + t0 + i;
            kv->seq[i] = t0 + i;
        }
        const int last = t0 + cn == n;
        AHA_TRY(run_rows(m, kv, tokens + t0, cn, expert_ids_out, (size_t)n * K, kv->seq,
                         last ? cn - 1 : cn));
        if (last) memcpy(logits, kv->logits, sizeof(float) * V);
    }
    kv->len[row] = start + n;
    return 0;
}

int aha_kv_copy_row(aha_kv_t *kv, int dst, int src) {
    if (!kv) return AHA_FAIL(AHA_ERR_ARG, "aha_kv_copy_row: NULL kv");
    if (dst < 0 || dst >= kv->B || src < 0 || src >= kv->B)
        return AHA_FAIL(AHA_ERR_RANGE, "aha_kv_copy_row: rows %d <- %d outside [0, %d)", dst, src,
                        kv->B);
    if (dst == src) return 0;
    const size_t D = (size_t)kv->cfg.dim, T = (size_t)kv->max_T, B = (size_t)kv->B;
    const size_t len = (size_t)kv->len[src];
    for (size_t l = 0; l < (size_t)kv->cfg.n_layers; l++) {
        size_t from = (l * B + (size_t)src) * T * D, to = (l * B + (size_t)dst) * T * D;
        for (size_t d = 0; d < D; d++) /* keys [D, T]: the first len positions of each dim */
            memcpy(kv->kc + to + d * T, kv->kc + from + d * T, sizeof(float) * len);
        memcpy(kv->vc + to, kv->vc + from, sizeof(float) * len * D);
    }
    kv->len[dst] = kv->len[src];
    /* dst's positions changed: rows that shared them no longer do (their own copies stay) */
    for (int b = 0; b < kv->B; b++)
        if (b != dst && kv->pre_len[b] > 0 && kv->pre_row[b] == dst) kv->pre_len[b] = 0;
    if (kv->pre_len[src] > 0 && kv->pre_row[src] != src && kv->pre_len[src] == kv->len[src]) {
        /* src is an unchanged copy: dst joins the rows sharing src's source */
        kv->pre_row[dst] = kv->pre_row[src];
        kv->pre_len[dst] = kv->pre_len[src];
    } else {
        kv->pre_row[dst] = src;
        kv->pre_len[dst] = kv->len[src];
        if (kv->pre_len[src] == 0 || kv->pre_row[src] == src) { /* src reads them in place */
            kv->pre_row[src] = src;
            kv->pre_len[src] = kv->len[src];
        }
    }
    return 0;
}
