/* model/model.h — DeepSeek-V3-style decoder (RMSNorm, RoPE, MHA, SwiGLU, MoE with shared +
 * routed experts, aux-loss-free bias, sequence balance loss) with forward, backward, routing
 * record/replay and KV-cache decoding. The exact maths is in docs/model.md; tests/reference/
 * holds the PyTorch twin.
 *
 * Layout (llm.c style): Config / parameters (one contiguous float buffer with named views; grads
 * mirror it) / activations (aha_acts_t, the RunState for training) / KV cache (aha_kv_t, decoding).
 * Kernels never allocate; all buffers are sized at *_new time.
 * Ownership: aha_model_t owns params, grads and expert_bias; aha_acts_t and aha_kv_t own their
 * buffers; pointers returned by aha_acts_* stay valid until the next forward or destroy. */
#ifndef AHA_MODEL_MODEL_H
#define AHA_MODEL_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "core/rng.h"

enum { AHA_SCORE_SOFTMAX = 0, AHA_SCORE_SIGMOID = 1 };

typedef struct {
    int vocab_size;          /* V */
    int dim;                 /* hidden size D */
    int n_layers;            /* L */
    int n_heads;             /* head_dim = dim / n_heads, must be even (RoPE) */
    int max_seq_len;         /* longest sequence (activations, KV cache) */
    int ffn_hidden;          /* SwiGLU hidden size of dense layers */
    int n_dense_layers;      /* first k layers are dense (V3 first_k_dense_replace) */
    int n_routed_experts;    /* 0 = dense model (every layer dense) */
    int n_shared_experts;    /* experts every token goes through */
    int top_k;               /* experts per token */
    int moe_hidden;          /* hidden size of one expert (shared expert: n_shared * moe_hidden) */
    int score_func;          /* AHA_SCORE_SIGMOID (V3) or AHA_SCORE_SOFTMAX */
    int norm_topk_prob;      /* divide top-k gates by their sum */
    float routed_scale;      /* multiplies the routed gates (V3 routed_scaling_factor) */
    float rope_theta;        /* RoPE base frequency */
    float norm_eps;          /* RMSNorm epsilon */
    float bias_update_speed; /* aux-loss-free balancing step (gamma); 0 = off */
    float seq_aux_alpha;     /* sequence-level balance loss weight; 0 = off */
} aha_model_config_t;

/* The field table of aha_model_config_t (model/model.c): name, type, default, range, Hugging Face
 * key and help of every field, in config.json order. It drives aha_model_config_default, the
 * range checks of aha_model_config_validate, the run config's model.* keys (YAML, --set, help)
 * and config.json (model/checkpoint.c). vocab_size is FIXED: set from the tokenizer, no YAML key. */
enum { AHA_MODEL_CONFIG_N_FIELDS = 18 };
extern const aha_cfg_field_t aha_model_config_fields[AHA_MODEL_CONFIG_N_FIELDS];
extern const size_t aha_model_config_n_fields; /* AHA_MODEL_CONFIG_N_FIELDS */

/* Tiny MoE used by the demo (about 1M parameters): the table's defaults. */
void aha_model_config_default(aha_model_config_t *cfg);
/* AHA_ERR_CONFIG with a message naming the bad field: the table's ranges, then the conditions
 * between fields (dim / n_heads, dense and MoE layer sizes, top_k <= n_routed_experts). */
int aha_model_config_validate(const aha_model_config_t *cfg);
/* The same checks with messages "SOURCE: <key> ..." naming the keys as SOURCE spells them: the
 * run config's "model.dim" (HF = 0) or config.json's "hidden_size" (HF = 1). */
int aha_model_config_validate_in(const aha_model_config_t *cfg, const char *source, int hf);
/* 1 if layer l uses the MoE feed-forward. */
int aha_model_layer_is_moe(const aha_model_config_t *cfg, int l);

typedef struct {
    float *attn_norm;             /* [D] */
    float *wq, *wk, *wv, *wo;     /* [D, D] (out, in); consecutive: wq..wv is one [3D, D] */
    float *ffn_norm;              /* [D] */
    float *w1, *w3, *w2;          /* dense: [F, D], [F, D], [D, F]; NULL in MoE layers */
    float *router;                /* [E, D]; NULL in dense layers */
    float *sh_w1, *sh_w3, *sh_w2; /* shared: [S*H, D], [S*H, D], [D, S*H]; NULL if none */
    float *ex_w1, *ex_w3, *ex_w2; /* routed: [E, H, D], [E, H, D], [E, D, H] */
} aha_layer_view_t;

typedef struct {
    float *tok_emb;           /* [V, D] */
    aha_layer_view_t *layers; /* [n_layers], owned by the model */
    float *final_norm;        /* [D] */
    float *lm_head;           /* [V, D] */
} aha_param_view_t;

typedef struct {
    aha_model_config_t cfg;
    size_t n_params;
    float *params;      /* [n_params] */
    aha_param_view_t p; /* views into params */
    float *grads;       /* [n_params] or NULL until aha_model_alloc_grads */
    aha_param_view_t g; /* views into grads */
    float *expert_bias; /* [n_layers, E] routing bias (e_score_correction_bias), not a parameter */
} aha_model_t;

/* Name of the SIMD path the elementwise kernels run on ("base", "avx2", "avx512"; chosen at load
 * time, AHA_SIMD=name forces one). Every path gives the same bits (model/simd.h); the name is for
 * run records next to OpenBLAS's core name. */
const char *aha_model_simd_path(void);

size_t aha_model_param_count(const aha_model_config_t *cfg);
/* Allocates a model with all parameters zero (validate first). */
int aha_model_new(const aha_model_config_t *cfg, aha_model_t **out);
/* Standard init: matrices N(0, 0.02), output projections (wo, w2, sh_w2, ex_w2)
 * N(0, 0.02/sqrt(2L)), norms 1, expert_bias 0. */
void aha_model_init_random(aha_model_t *m, aha_rng_t *rng);
int aha_model_alloc_grads(aha_model_t *m);
void aha_model_zero_grads(aha_model_t *m);
void aha_model_destroy(aha_model_t **m);

/* Named tensors in Hugging Face naming (docs/model.md), in buffer order. BASE is m->params or
 * m->grads (or any buffer of n_params floats). */
typedef struct {
    char name[128];
    int ndim;
    int64_t shape[3];
    size_t numel;
    size_t offset; /* in floats from the start of the buffer */
} aha_tensor_info_t;
size_t aha_model_tensor_count(const aha_model_config_t *cfg);
int aha_model_tensor_info(const aha_model_config_t *cfg, size_t i, aha_tensor_info_t *out);

/* ---- training forward / backward ---- */

typedef struct aha_acts aha_acts_t;

typedef struct {
    int B, T;              /* batch rows, padded length (T <= max_seq_len) */
    const int *tokens;     /* [B*T] */
    const int *lengths;    /* [B] valid prefix length per row (right padding); NULL = all T.
                              Padding positions are not routed and excluded from load/aux loss. */
    const int *replay_ids; /* [n_layers*B*T*top_k] expert ids to use instead of the router's
                              top-k (R3), or NULL; entries of dense layers / padding ignored */
} aha_batch_t;

int aha_acts_new(const aha_model_t *m, int max_B, int max_T, aha_acts_t **out);
void aha_acts_destroy(aha_acts_t **a);
/* Bytes A allocated for activations and scratch (what a training step needs beyond the model). */
size_t aha_acts_bytes(const aha_acts_t *a);

/* Routed-expert compute of one MoE layer, replaceable per aha_acts_t (expert parallel:
 * learner/dist.h). Forward: y[N,D] += sum_k gates[r,k] * expert_{ids[r,k]}(x[r]) and eo[r*K+k]
 * = that expert's output (zero for ids < 0). Backward: dx[N,D] +=, dgates[r*K+k] = dy[r] . eo,
 * g1, g3, g2 (this layer's expert gradients) +=. The weights are this layer's [E,H,D], [E,H,D],
 * [E,D,H]. Returns an AHA_ERR_* code. */
typedef struct {
    int layer, N, D, H, E, K;
    const float *x, *gates;
    const int *ids;
    const float *w1, *w3, *w2;
    float *y, *eo;           /* forward: written; backward: eo read */
    const float *dy;         /* backward */
    float *dx, *dgates;      /* backward */
    float *g1, *g3, *g2;     /* backward */
} aha_expert_call_t;
typedef int (*aha_expert_fn)(void *ctx, int backward, const aha_expert_call_t *c);
/* FN (NULL: the built-in one-process compute) for the following aha_forward / aha_backward. */
void aha_acts_set_expert_fn(aha_acts_t *a, aha_expert_fn fn, void *ctx);

/* Runs the forward pass; fills logits, routing record, expert load and aux loss. */
int aha_forward(const aha_model_t *m, aha_acts_t *a, const aha_batch_t *batch);
const float *aha_acts_logits(const aha_acts_t *a);      /* [B*T*V] */
const int *aha_acts_expert_ids(const aha_acts_t *a);    /* [n_layers*B*T*top_k]; -1: dense/pad */
const float *aha_acts_expert_load(const aha_acts_t *a); /* [n_layers*E] routed token counts */
float aha_acts_aux_loss(const aha_acts_t *a);           /* sequence balance loss, times alpha */
/* Buffer [B*T*V] for d loss / d logits, zeroed by aha_forward; fill it (or call aha_ce_loss)
 * before aha_backward. */
float *aha_acts_dlogits(aha_acts_t *a);

/* Mean next-token cross-entropy over positions with targets[i] >= 0 (targets [B*T]) into
 * *loss_out (0 if no target); also writes its gradient into the dlogits buffer (scaled by
 * 1/count). AHA_ERR_ARG for NULL arguments, AHA_ERR_STATE before a successful aha_forward;
 * *loss_out is written only on success. */
int aha_ce_loss(aha_acts_t *a, const int *targets, float *loss_out);

/* Accumulates (+=) into m->grads the gradient of  sum(dlogits * logits) + aux_loss  w.r.t. every
 * parameter, for the batch of the last aha_forward. Needs aha_model_alloc_grads. */
int aha_backward(aha_model_t *m, aha_acts_t *a, const aha_batch_t *batch);

/* Aux-loss-free balancing (V3), MoE layers: bias[l][e] += speed * sign(mean_l - load[l][e]). */
void aha_model_update_expert_bias(aha_model_t *m, const float *load /* [n_layers*E] */);

/* ---- incremental decoding ---- */

typedef struct aha_kv aha_kv_t;

int aha_kv_new(const aha_model_t *m, int B, int max_T, aha_kv_t **out);
/* Empties every row (positions back to 0). */
void aha_kv_reset(aha_kv_t *kv);
void aha_kv_destroy(aha_kv_t **kv);
/* Current length of row b (0 for a NULL kv or a row out of range). */
int aha_kv_len(const aha_kv_t *kv, int b);
/* Bytes KV allocated (the cache and the decoding scratch). */
size_t aha_kv_bytes(const aha_kv_t *kv);
/* Rows (B) and positions per row (max_T) the cache was made with; 0 for NULL. */
int aha_kv_rows(const aha_kv_t *kv);
int aha_kv_capacity(const aha_kv_t *kv);

/* Appends tokens[b] at position aha_kv_len(kv, b) for each row with active[b] != 0 (active NULL =
 * all rows) and writes that position's logits to logits[b*V..] (inactive rows untouched).
 * expert_ids_out, if not NULL, receives [n_layers*B*top_k] routed ids (-1 dense/inactive).
 * Logits equal aha_forward's at the same position up to float rounding. AHA_ERR_RANGE when a row
 * is full. */
int aha_decode_step(const aha_model_t *m, aha_kv_t *kv, const int *tokens, const int *active,
                    float *logits, int *expert_ids_out);

/* Prefill: appends tokens[0..n) to row ROW (from aha_kv_len(kv, row) on) in one pass per chunk
 * of positions (projections and experts as sgemm over the chunk, causal attention over the
 * cache) and writes the last position's logits to logits[V]. expert_ids_out, if not NULL,
 * receives [n_layers*n*top_k] routed ids (-1 dense). The same maths as n aha_decode_step calls,
 * up to float rounding (sgemm over more rows may round differently). AHA_ERR_RANGE when the row
 * has no room for n positions or a token is outside the vocabulary; nothing is appended then. */
int aha_kv_prefill(const aha_model_t *m, aha_kv_t *kv, int row, const int *tokens, int n,
                   float *logits, int *expert_ids_out);
/* Row DST becomes a copy of row SRC (its positions and cached keys/values): the samples of a
 * group share their prompt's prefill. */
int aha_kv_copy_row(aha_kv_t *kv, int dst, int src);

/* One sampling candidate: unnormalised probability and token id. */
typedef struct {
    float p;
    int id;
} aha_sample_cand_t;

/* Samples a token from logits[V] at TEMPERATURE (0 = greedy) with nucleus TOP_P (1 = off) using
 * RNG; SCRATCH holds V candidates. *logprob_out (if not NULL) = log
 * softmax(logits/temperature)[tok] (temperature 0: log softmax(logits)[tok]) — the behaviour
 * log-prob, before top-p truncation. */
int aha_sample_logits(const float *logits, int V, float temperature, float top_p, aha_rng_t *rng,
                      aha_sample_cand_t *scratch, float *logprob_out);

#endif
