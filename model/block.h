/* model/block.h — one decoder block's forward, the same code for training (aha_forward: rows
 * [B, T], causal attention inside each row, every activation kept for the backward) and for
 * decoding (aha_decode_step: one new position per row, attention over the KV cache, buffers reused
 * by every layer). Internal to model/; the maths is docs/model.md. */
#ifndef AHA_MODEL_BLOCK_H
#define AHA_MODEL_BLOCK_H
#include "model/model.h"

/* What one block forward writes for its n rows (training keeps one per layer for the backward;
 * decoding has one set it reuses). Shapes for n rows; pointers of the other layer kind unused. */
typedef struct {
    float *ln1, *rstd1; /* [n, D], [n] attention rmsnorm output and 1/rms */
    float *qkv;         /* [n, 3D]: row = q | k | v (q, k after RoPE) */
    float *att;         /* training: [B, nh, T, T] attention probabilities */
    float *ao;          /* [n, D] concatenated heads before Wo */
    float *res_mid;     /* [n, D] residual after attention */
    float *ln2, *rstd2; /* [n, D], [n] ffn rmsnorm */
    /* the projections of ln2 in one matmul (their weights are consecutive in the parameter
     * buffer): dense [n, 2F] = h1 | h3 (x [W1; W3]^T); MoE [n, E + 2 S*H] = router logits |
     * shared h1 | shared h3 (x [router; sh_W1; sh_W3]^T) */
    float *h13;
    float *hact;                   /* dense: [n, F] SwiGLU product */
    float *scores, *gates;         /* MoE: [n, E] router scores, [n, K] gates */
    int *ids;                      /* [n, K] routed expert ids (-1 invalid rows) */
    float *sh_act;                 /* [n, S*H] shared expert SwiGLU product */
    float *ex_h1, *ex_h3, *ex_act; /* [n*K, H] per routed slot, grouped by expert */
    float *ex_out;                 /* [n*K, D] expert output before gating */
    int *ex_off, *ex_perm;         /* [E+1], [n*K] grouping (see k_group) */
} aha_block_acts_t;

/* Where the block's attention reads keys and values, and what its router sees. */
typedef struct {
    /* training: rows are [B, T] (n = B*T), row r at position r % T; pos = NULL */
    int B, T;
    /* decoding: row i is at position pos[i] of KV-cache row kv_rows[i]; its key and value are
     * written there and attention reads positions 0..pos[i]. kc: this layer's keys, transposed
     * [cache rows, D, kv_max_T]; vc: its values [cache rows, kv_max_T, D] (both with
     * K_ATTEND_PAD readable floats after them); pre_rows, pre_lens [n]: row i's first
     * pre_lens[i] positions hold the same bits as those of cache row pre_rows[i] (shared prefix,
     * read once for the rows that share it; NULL: none); scratch att_scratch
     * [K_ATTEND_ROWS * (kv_max_T + 16)], att_order [n]. */
    const int *pos, *kv_rows, *pre_rows, *pre_lens;
    float *kc, *vc, *att_scratch;
    int *att_order;
    int kv_max_T;
    const float *rope_cos, *rope_sin; /* [max positions, hd/2] */
    const int *valid;                 /* [n] rows that are routed */
    const int *replay;                /* [n*K] expert ids to use (R3) or NULL */
    const int *len;                   /* training: [B] valid lengths for the balance loss; NULL
                                         (decoding): no balance loss */
    float *cnt;                       /* [E] scratch of the balance loss */
    float *xg;                        /* [n*K, D] expert gather scratch */
    aha_expert_fn expert_fn;          /* training: routed-expert compute (model.h), or NULL */
    void *expert_ctx;
} aha_block_ctx_t;

/* x_out[n, D] = block(x_in[n, D]) for layer weights LP (expert_bias [E] of this layer); x_out
 * may be x_in. Fills A; *aux += the layer's sequence balance loss (training). Returns 0 or
 * AHA_ERR_ARG (a replay id out of range). */
int aha_block_forward(float *x_out, float *aux, aha_block_acts_t *a, const float *x_in,
                      const aha_model_config_t *c, int layer, const aha_layer_view_t *lp,
                      const float *expert_bias, const aha_block_ctx_t *ctx, int n);

#endif
