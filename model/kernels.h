/* model/kernels.h — llm.c-style compute kernels of the model (internal to model/).
 *
 * Convention: `kernel(out..., in..., dims)`; kernels never allocate, every buffer is passed in
 * (sized by aha_acts_new / aha_kv_new). Matrices are row-major; weights are (out, in) as in
 * PyTorch nn.Linear, so y = x W^T. Shapes in the comments use N = rows (tokens), D = model dim,
 * E = routed experts, K = top_k, H = expert hidden size. "+=" marks accumulating outputs. */
#ifndef AHA_MODEL_KERNELS_H
#define AHA_MODEL_KERNELS_H
#include <stddef.h>

/* y[N,O] = x[N,In] W[O,In]^T + beta * y. Up to K_MATMUL_ROWS_MAX rows (decoding, prefill chunks,
 * the experts of small batches) the dot-product kernel of model/simd.h: W read in place, no
 * packing, and y[r,o] depends only on x row r and W row o (decoding a row gives the same bits
 * whichever rows share the step); more rows: OpenBLAS sgemm. */
enum { K_MATMUL_ROWS_MAX = 64 };
void k_matmul(float *y, const float *x, const float *w, int N, int In, int O, float beta);
/* dx[N,In] = dy[N,O] W[O,In] + beta_dx * dx (dx may be NULL: skipped);
 * dw[O,In] += dy^T x (dw may be NULL: skipped). */
void k_matmul_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int N,
                       int In, int O, float beta_dx);

/* y[N,D] = x / sqrt(mean(x^2) + eps) * w; rstd[N] = 1 / sqrt(mean(x^2) + eps). */
void k_rmsnorm(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps);
/* dx[N,D] += d/dx, dw[D] += d/dw of sum(dy * y) for y = rmsnorm(x). */
void k_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                        const float *rstd, int N, int D);

/* RoPE tables: cos/sin[max_T, hd/2] with angle = (float)t * inv_freq_i,
 * inv_freq_i = 1 / theta^((2i)/hd) in float32 (docs/model.md). */
void k_rope_tables(float *cos_t, float *sin_t, int max_T, int hd, float theta);
/* In-place rotate-half RoPE of x[N, nh*hd] (row r at x + r*ld); row r has position pos[r] (pos
 * NULL: r % T). inverse != 0 applies the transposed rotation (the backward of the forward one). */
void k_rope(float *x, int ld, const int *pos, int N, int T, int nh, int hd, const float *cos_t,
            const float *sin_t, int inverse);

/* Causal multi-head attention over rows [B, T] of q/k/v[B*T, nh*hd] (row r at q + r*ld: q, k, v
 * can be the column blocks of one [B*T, 3*nh*hd] buffer; head h = columns h*hd..h*hd+hd-1):
 * att[B, nh, T, T] = softmax(q k^T / sqrt(hd) + mask) (zeros above the diagonal),
 * out[B*T, nh*hd] = att v. (Skipping the score blocks above the diagonal was measured: ~18% less
 * attention time, within the noise on the whole training step, and it changes the float
 * summation order of training, so it is not done; docs/model.md.) */
void k_attention(float *out, float *att, const float *q, const float *k, const float *v, int ld,
                 int B, int T, int nh, int hd);
/* Attention of n single query rows (q row i at q + i*ldq) over a KV cache (decoding): row i
 * attends positions 0..pos[i] of cache row rows[i]; kt [cache rows, nh*hd, max_T] the keys after
 * RoPE, transposed (position fastest, so scores are axpy-form loops over positions), vc
 * [cache rows, max_T, nh*hd] the values, both with K_ATTEND_PAD readable floats after them;
 * out [n, nh*hd]. Shared prefixes (pre_rows NULL: none): positions [0, pre_lens[i]) of cache
 * row rows[i] hold the same bits as those of cache row pre_rows[i] (pre_lens[i] = 0: nothing
 * shared). The rows with the same (pre_rows, pre_lens) (the G samples of a group after the
 * prompt) go in tiles of K_ATTEND_ROWS that read those keys and values once (model/simd.h
 * attend_rows), then each its own positions; the rows that share nothing go in tiles too.
 * Scratch: order[n] ints, scratch[K_ATTEND_ROWS * (max_T + 16)] floats. One row's result does
 * not depend on the other rows or on the sharing (it is attend's for that row alone). */
void k_attention_kv(float *out, float *scratch, int *order, const float *q, int ldq,
                    const float *kt, const float *vc, const int *rows, const int *pos,
                    const int *pre_rows, const int *pre_lens, int n, int max_T, int nh, int hd);
/* Backward of k_attention: dq, dk, dv (overwritten; row stride ld like q, k, v) from
 * dout[B*T, nh*hd]; scratch[T*T]. */
void k_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                          const float *att, const float *q, const float *k, const float *v, int ld,
                          int B, int T, int nh, int hd);

/* act[n] = silu(h1) * h3. */
void k_swiglu(float *act, const float *h1, const float *h3, size_t n);
/* dh1[n], dh3[n] (overwritten) from dact for act = silu(h1) * h3. */
void k_swiglu_backward(float *dh1, float *dh3, const float *dact, const float *h1, const float *h3,
                       size_t n);

/* Row-strided SwiGLU of a merged projection: row r of h (at h + r*ld) holds h1 [Hd] at column c0
 * and h3 [Hd] at c0 + Hd; act[N, Hd] = silu(h1) * h3. The backward writes dh1, dh3 into the same
 * columns of dh (row stride ld) from dact[N, Hd]. */
void k_swiglu_rows(float *act, const float *h, int ld, int c0, int N, int Hd);
void k_swiglu_rows_backward(float *dh, const float *dact, const float *h, int ld, int c0, int N,
                            int Hd);

/* SwiGLU block y[N,D] = (silu(x W1^T) * (x W3^T)) W2^T + beta * y, keeping h1, h3, act[N,Hd]. */
void k_swiglu_ffn(float *y, float *h1, float *h3, float *act, const float *x, const float *w1,
                  const float *w3, const float *w2, int N, int D, int Hd, float beta);
/* Three matrices of a SwiGLU block, as a read-only type RO and a writable one RW. */
#define K_FFN_TRIPLE(RO, RW, a, b, c)                                                              \
    typedef struct {                                                                               \
        const float *a, *b, *c;                                                                    \
    } RO;                                                                                          \
    typedef struct {                                                                               \
        float *a, *b, *c;                                                                          \
    } RW;
/* The three projections of a SwiGLU block: w1, w3 [Hd, D] and w2 [D, Hd] (routed experts: E of
 * each, [E, H, D], [E, H, D], [E, D, H]); k_ffn_grads_t is the same for their gradients (+=). */
K_FFN_TRIPLE(k_ffn_weights_t, k_ffn_grads_t, w1, w3, w2)
/* What the forward of a SwiGLU block kept: h1 = x W1^T, h3 = x W3^T, act = silu(h1) * h3 [N, Hd]
 * (k_ffn_keep_t: the same, as the forward writes it); k_ffn_scratch_t holds the backward's dh1,
 * dh3, dact of the same shape (overwritten). */
K_FFN_TRIPLE(k_ffn_acts_t, k_ffn_keep_t, h1, h3, act)
typedef struct {
    float *dh1, *dh3, *dact;
} k_ffn_scratch_t;
#undef K_FFN_TRIPLE

/* Backward of k_swiglu_ffn: dx[N,D] = ... + beta_dx * dx, G.w1, G.w3 [Hd,D], G.w2 [D,Hd] +=. */
void k_swiglu_ffn_backward(float *dx, k_ffn_grads_t g, k_ffn_scratch_t s, const float *dy,
                           const float *x, k_ffn_acts_t a, k_ffn_weights_t w, int N, int D, int Hd,
                           float beta_dx);

/* In-place router scores s[N,E] from logits: sigmoid or softmax (score_func AHA_SCORE_*). */
void k_router_scores(float *s, int N, int E, int score_func);
/* dz[N,E] (overwritten) from ds for s = score(z). */
void k_router_scores_backward(float *dz, const float *ds, const float *s, int N, int E,
                              int score_func);
/* Top-K routing for rows with valid[r] != 0: ids[N,K] = topk(s + bias) (ties: lower id first,
 * descending) or replay[N,K] if replay != NULL; gates[N,K] = s[ids] (normalised by their sum if
 * norm_topk) * scale. Invalid rows: ids -1, gates 0. Returns 0 or AHA_ERR_ARG (replay id out of
 * range, with message). */
int k_route(int *ids, float *gates, const float *s, const float *bias, const int *valid,
            const int *replay, int N, int E, int K, int norm_topk, float scale);
/* ds[N,E] += gradient of the gates w.r.t. the scores given dgates[N,K] (rows with ids -1 skipped).
 */
void k_route_backward(float *ds, const float *dgates, const float *s, const int *ids, int N, int E,
                      int K, int norm_topk, float scale);
/* Groups routed slots (r*K + k with ids >= 0) by expert: off[E+1] prefix offsets, perm[slots]
 * slot indices sorted by expert, then by slot. */
void k_group(int *off, int *perm, const int *ids, int N, int E, int K);
/* The routing of one MoE layer as k_experts used it: gates[N, K], the slots grouped by expert
 * (off[E+1], perm[slots] from k_group) and eo[slots, D], the expert outputs before gating. */
typedef struct {
    const float *gates;
    const int *off, *perm;
    const float *eo;
    int E, K;
} k_experts_routing_t;
/* Routed experts: y[N,D] += sum_k gates[r,k] * expert_{ids[r,k]}(x[r]) using one sgemm per expert
 * and projection, with the routing R (gates, off, perm, E, K; R->eo is not read: the expert outputs
 * before gating are written to eo[slots, D]). Per grouped position p (expert order) keep.h1, h3,
 * act[p, H] are kept for the backward; xg[slots, D] is gather scratch. W: w1, w3 [E,H,D],
 * w2 [E,D,H]. */
void k_experts(float *y, float *xg, float *eo, k_ffn_keep_t keep, const float *x,
               const k_experts_routing_t *r, k_ffn_weights_t w, int D, int H);
/* Scratch of k_experts_backward: xg, dyg, dxg [slots, D] and the SwiGLU scratch [slots, H]. */
typedef struct {
    float *xg, *dyg, *dxg;
    k_ffn_scratch_t ffn;
} k_experts_scratch_t;
/* Backward of k_experts: dx[N,D] +=, dgates[N,K] (routed slots written), G (all experts) +=.
 * A holds the kept h1, h3, act [slots, H]. */
void k_experts_backward(float *dx, float *dgates, k_ffn_grads_t g, k_experts_scratch_t s,
                        const float *dy, const float *x, const k_experts_routing_t *r,
                        k_ffn_acts_t a, k_ffn_weights_t w, int D, int H);
/* The same with the inputs k_experts' forward gathered for this routing (its xg [slots, D], kept
 * by the caller) instead of gathering them from x again (s.xg unused). */
void k_experts_backward_gathered(float *dx, float *dgates, k_ffn_grads_t g, k_experts_scratch_t s,
                                 const float *dy, const float *xg, const k_experts_routing_t *r,
                                 k_ffn_acts_t a, k_ffn_weights_t w, int D, int H);

/* Sequence balance loss of one MoE layer over rows [B, T] with valid prefix lengths len[B]:
 * returns alpha * mean_b sum_i f_i P_i (docs/model.md; rows with len 0 contribute 0 to the mean
 * over all B rows). s[B*T, E] scores, ids[B*T, K]. Scratch cnt[E] floats. */
float k_seq_aux(float *cnt, const float *s, const int *ids, const int *len, int B, int T, int E,
                int K, int score_func, float alpha);
/* ds[B*T, E] += d k_seq_aux / d s. Scratch cnt[E] floats. */
void k_seq_aux_backward(float *ds, float *cnt, const float *s, const int *ids, const int *len,
                        int B, int T, int E, int K, int score_func, float alpha);

#endif
