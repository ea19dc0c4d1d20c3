/* model/block.c — the decoder block forward shared by training and decoding (model/block.h). */
#include "model/block.h"

#include <string.h>

#include "core/err.h"
#include "model/kernels.h"

int aha_block_forward(float *x_out, float *aux, aha_block_acts_t *a, const float *x_in,
                      const aha_model_config_t *c, int layer, const aha_layer_view_t *lp,
                      const float *expert_bias, const aha_block_ctx_t *ctx, int n) {
    const int D = c->dim, nh = c->n_heads, hd = D / nh, E = c->n_routed_experts, K = c->top_k;
    const int H = c->moe_hidden, SH = c->n_shared_experts * H;
    const size_t nD = (size_t)n * D;
    /* attention */
    k_rmsnorm(a->ln1, a->rstd1, x_in, lp->attn_norm, n, D, c->norm_eps);
    /* q | k | v in one sgemm: wq, wk, wv are consecutive in the parameter buffer ([3D, D]) */
    const int ld = 3 * D;
    float *q = a->qkv, *k = a->qkv + D, *v = a->qkv + 2 * D;
    k_matmul(a->qkv, a->ln1, lp->wq, n, D, ld, 0.0f);
    k_rope(q, ld, ctx->pos, n, ctx->T, nh, hd, ctx->rope_cos, ctx->rope_sin, 0);
    k_rope(k, ld, ctx->pos, n, ctx->T, nh, hd, ctx->rope_cos, ctx->rope_sin, 0);
    if (!ctx->pos) {
        k_attention(a->ao, a->att, q, k, v, ld, ctx->B, ctx->T, nh, hd);
    } else {
        const size_t T = (size_t)ctx->kv_max_T;
        for (int i = 0; i < n; i++) { /* keys transposed [D, T], values [T, D] per cache row */
            const size_t row = (size_t)ctx->kv_rows[i] * T * D, p = (size_t)ctx->pos[i];
            const float *ki = k + (size_t)i * ld;
            for (int d = 0; d < D; d++)
                ctx->kc[row + (size_t)d * T + p] = ki[d];
            memcpy(ctx->vc + row + p * D, v + (size_t)i * ld, sizeof(float) * D);
        }
        k_attention_kv(a->ao, ctx->att_scratch, ctx->att_order, q, ld, ctx->kc, ctx->vc,
                       ctx->kv_rows, ctx->pos, ctx->pre_rows, ctx->pre_lens, n, ctx->kv_max_T, nh,
                       hd);
    }
    /* residuals accumulate into their output (beta 1): no zeroed temporary, no extra pass */
    memcpy(a->res_mid, x_in, sizeof(float) * nD);
    k_matmul(a->res_mid, a->ao, lp->wo, n, D, D, 1.0f);
    /* feed-forward: x_out = res_mid + ffn(ln2) */
    k_rmsnorm(a->ln2, a->rstd2, a->res_mid, lp->ffn_norm, n, D, c->norm_eps);
    if (x_out != a->res_mid) memcpy(x_out, a->res_mid, sizeof(float) * nD);
    if (!aha_model_layer_is_moe(c, layer)) {
        const int F = c->ffn_hidden;
        k_matmul(a->h13, a->ln2, lp->w1, n, D, 2 * F, 0.0f); /* w1, w3 consecutive: [2F, D] */
        k_swiglu_rows(a->hact, a->h13, 2 * F, 0, n, F);
        k_matmul(x_out, a->hact, lp->w2, n, F, D, 1.0f);
    } else {
        const int RW = E + 2 * SH; /* router, sh_w1, sh_w3 consecutive: [E + 2SH, D] */
        k_matmul(a->h13, a->ln2, lp->router, n, D, RW, 0.0f);
        for (int i = 0; i < n; i++) /* router logits [n, E] */
            memcpy(a->scores + (size_t)i * E, a->h13 + (size_t)i * RW, sizeof(float) * E);
        k_router_scores(a->scores, n, E, c->score_func);
        AHA_TRY(k_route(a->ids, a->gates, a->scores, expert_bias, ctx->valid, ctx->replay, n, E, K,
                        c->norm_topk_prob, c->routed_scale));
        k_group(a->ex_off, a->ex_perm, a->ids, n, E, K);
        if (SH > 0) {
            k_swiglu_rows(a->sh_act, a->h13, RW, E, n, SH);
            k_matmul(x_out, a->sh_act, lp->sh_w2, n, SH, D, 1.0f);
        }
        const k_experts_routing_t route = {a->gates, a->ex_off, a->ex_perm, a->ex_out, E, K};
        if (ctx->expert_fn) {
            // clang-format off
            const aha_expert_call_t ec = {.layer = layer, .N = n, .D = D, .H = H, .E = E, .K = K,
                                          .x = a->ln2, .gates = a->gates, .ids = a->ids,
                                          .w1 = lp->ex_w1, .w3 = lp->ex_w3, .w2 = lp->ex_w2,
                                          .y = x_out, .eo = a->ex_out};
            // clang-format on
            AHA_TRY(ctx->expert_fn(ctx->expert_ctx, 0, &ec));
        } else {
            k_experts(x_out, ctx->xg, a->ex_out, (k_ffn_keep_t){a->ex_h1, a->ex_h3, a->ex_act},
                      a->ln2, &route, (k_ffn_weights_t){lp->ex_w1, lp->ex_w3, lp->ex_w2}, D, H);
        }
        if (ctx->len)
            *aux += k_seq_aux(ctx->cnt, a->scores, a->ids, ctx->len, ctx->B, ctx->T, E, K,
                              c->score_func, c->seq_aux_alpha);
    }
    return 0;
}
