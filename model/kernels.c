/* model/kernels.c — compute kernels of the model; see kernels.h for the contracts. */
#include "model/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/err.h"
#include "model/model.h"
#include "model/simd.h"

void k_matmul(float *y, const float *x, const float *w, int N, int In, int O, float beta) {
    if (N <= 0 || O <= 0) return;
    if (In <= 0) {
        for (size_t i = 0; i < (size_t)N * O; i++)
            y[i] = beta == 0.0f ? 0.0f : beta * y[i];
        return;
    }
    if (N <= K_MATMUL_ROWS_MAX) {
        k_simd()->matmul(y, x, w, N, In, O, beta);
        return;
    }
    /* y[N,O] = x[N,In] * W[O,In]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, In, 1.0f, x, In, w, In, beta, y, O);
}

void k_matmul_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int N,
                       int In, int O, float beta_dx) {
    if (N <= 0 || In <= 0) return;
    if (O <= 0) {
        if (dx && beta_dx == 0.0f) memset(dx, 0, sizeof(float) * (size_t)N * In);
        return;
    }
    /* dx[N,In] = dy[N,O] * W[O,In] */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, O, 1.0f, dy, O, w, In,
                    beta_dx, dx, In);
    /* dW[O,In] += dy[N,O]^T * x[N,In] */
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, N, 1.0f, dy, O, x, In, 1.0f, dw,
                    In);
}

void k_rmsnorm(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps) {
    k_simd()->rmsnorm(y, rstd, x, w, N, D, eps);
}

void k_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                        const float *rstd, int N, int D) {
    k_simd()->rmsnorm_backward(dx, dw, dy, x, w, rstd, N, D);
}

void k_rope_tables(float *cos_t, float *sin_t, int max_T, int hd, float theta) {
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
        for (int t = 0; t < max_T; t++) {
            float angle = (float)t * inv_freq;
            cos_t[(size_t)t * half + i] = cosf(angle);
            sin_t[(size_t)t * half + i] = sinf(angle);
        }
    }
}

void k_rope(float *x, int ld, const int *pos, int N, int T, int nh, int hd, const float *cos_t,
            const float *sin_t, int inverse) {
    int half = hd / 2;
    float sgn = inverse ? -1.0f : 1.0f;
    for (int r = 0; r < N; r++) {
        int p = pos ? pos[r] : r % T;
        const float *c = cos_t + (size_t)p * half;
        const float *s = sin_t + (size_t)p * half;
        for (int h = 0; h < nh; h++) {
            float *xh = x + (size_t)r * ld + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                float x1 = xh[i], x2 = xh[i + half];
                float si = sgn * s[i];
                xh[i] = x1 * c[i] - x2 * si;
                xh[i + half] = x2 * c[i] + x1 * si;
            }
        }
    }
}

/* Where row b's head h starts: in q, k, v (row stride ld) and in out / dout [B*T, nh*hd]. */
typedef struct {
    size_t in, out;
} head_at_t;

static head_at_t head_at(int bh, int T, int ld, int nh, int hd) {
    const size_t b = (size_t)(bh / nh), h = (size_t)(bh % nh);
    return (head_at_t){b * T * ld + h * hd, b * T * nh * hd + h * hd};
}

void k_attention(float *out, float *att, const float *q, const float *k, const float *v, int ld,
                 int B, int T, int nh, int hd) {
    const int C = nh * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int bh = 0; bh < B * nh; bh++) { /* row b = bh / nh, head h = bh % nh */
        const head_at_t at = head_at(bh, T, ld, nh, hd);
        const float *qb = q + at.in, *kb = k + at.in, *vb = v + at.in;
        float *S = att + (size_t)bh * T * T; /* [T, T] */
        /* S = scale * Q[T,hd] K[T,hd]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, qb, ld, kb, ld, 0.0f,
                    S, T);
        const k_simd_ops_t *ops = k_simd();
        for (int i = 0; i < T; i++) {
            float *row = S + (size_t)i * T;
            ops->softmax(row, i + 1);
            for (int j = i + 1; j < T; j++)
                row[j] = 0.0f;
        }
        /* out[T,hd] = S[T,T] V[T,hd] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, S, T, vb, ld, 0.0f,
                    out + at.out, C);
    }
}

/* The shared-prefix key of decoding row i: (source row, length), (-1, 0) for none. */
static int same_prefix(const int *pre_rows, const int *pre_lens, int i, int j) {
    if (!pre_rows) return 1;
    const int li = pre_lens[i] > 0 ? pre_lens[i] : 0, lj = pre_lens[j] > 0 ? pre_lens[j] : 0;
    return li == lj && (li == 0 || pre_rows[i] == pre_rows[j]);
}

void k_attention_kv(float *out, float *scratch, int *order, const float *q, int ldq,
                    const float *kt, const float *vc, const int *rows, const int *pos,
                    const int *pre_rows, const int *pre_lens, int n, int max_T, int nh, int hd) {
    const int C = nh * hd, ldsc = max_T + 16;
    const size_t cache_row = (size_t)max_T * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const k_simd_ops_t *ops = k_simd();
    /* order: the rows grouped by shared prefix, each group in row order */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = !same_prefix(pre_rows, pre_lens, j, i);
        if (!first) continue;
        for (int j = i; j < n; j++)
            if (same_prefix(pre_rows, pre_lens, i, j)) order[m++] = j;
    }
    for (int g0 = 0; g0 < n;) {
        int g1 = g0 + 1;
        while (g1 < n && same_prefix(pre_rows, pre_lens, order[g0], order[g1]))
            g1++;
        const int lead = order[g0];
        int Ps = pre_rows && pre_lens[lead] > 0 ? pre_lens[lead] : 0;
        for (int t = g0; t < g1; t++) /* never past a row's own length */
            Ps = pos[order[t]] + 1 < Ps ? pos[order[t]] + 1 : Ps;
        const size_t src = Ps > 0 ? (size_t)pre_rows[lead] * cache_row : 0;
        /* tiles outer: a tile reads its rows' caches head after head, in memory order */
        for (int t0 = g0; t0 < g1; t0 += K_ATTEND_ROWS)
            for (int h = 0; h < nh; h++) {
                const int R = g1 - t0 < K_ATTEND_ROWS ? g1 - t0 : K_ATTEND_ROWS;
                float *o[K_ATTEND_ROWS];
                const float *qr[K_ATTEND_ROWS], *ktr[K_ATTEND_ROWS], *vr[K_ATTEND_ROWS];
                int P[K_ATTEND_ROWS];
                for (int r = 0; r < R; r++) {
                    const int i = order[t0 + r];
                    const size_t base = (size_t)rows[i] * cache_row;
                    o[r] = out + (size_t)i * C + (size_t)h * hd;
                    qr[r] = q + (size_t)i * ldq + (size_t)h * hd;
                    ktr[r] = kt + base + (size_t)h * hd * max_T;
                    vr[r] = vc + base + (size_t)h * hd;
                    P[r] = pos[i] + 1;
                }
                ops->attend_rows(o, scratch, ldsc, qr, kt + src + (size_t)h * hd * max_T,
                                 vc + src + (size_t)h * hd, Ps, ktr, vr, P, R, hd, max_T, C, scale);
            }
        g0 = g1;
    }
}

void k_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                          const float *att, const float *q, const float *k, const float *v, int ld,
                          int B, int T, int nh, int hd) {
    const int C = nh * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int bh = 0; bh < B * nh; bh++) {
        const head_at_t at = head_at(bh, T, ld, nh, hd);
        const size_t in = at.in;
        const float *qb = q + in, *kb = k + in, *vb = v + in, *dob = dout + at.out;
        const float *A = att + (size_t)bh * T * T;
        float *dA = scratch; /* [T, T] */
        /* dA = dO[T,hd] V[T,hd]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dob, C, vb, ld, 0.0f,
                    dA, T);
        /* dV = A^T dO */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, A, T, dob, C, 0.0f,
                    dv + in, ld);
        /* softmax backward: dS = A * (dA - sum_j A dA) (masked entries have A = 0) */
        const k_simd_ops_t *ops = k_simd();
        for (int i = 0; i < T; i++) {
            float *dr = dA + (size_t)i * T;
            ops->softmax_backward(dr, A + (size_t)i * T, i + 1);
            for (int j = i + 1; j < T; j++)
                dr[j] = 0.0f;
        }
        /* dQ = scale dS K ; dK = scale dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dA, T, kb, ld, 0.0f,
                    dq + in, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dA, T, qb, ld, 0.0f,
                    dk + in, ld);
    }
}

static inline float sigmoidf_(float z) {
    return 1.0f / (1.0f + expf(-z));
}

void k_swiglu(float *act, const float *h1, const float *h3, size_t n) {
    k_simd()->swiglu(act, h1, h3, n);
}

void k_swiglu_backward(float *dh1, float *dh3, const float *dact, const float *h1, const float *h3,
                       size_t n) {
    k_simd()->swiglu_backward(dh1, dh3, dact, h1, h3, n);
}

void k_swiglu_rows(float *act, const float *h, int ld, int c0, int N, int Hd) {
    const k_simd_ops_t *ops = k_simd();
    for (int r = 0; r < N; r++) {
        const float *hr = h + (size_t)r * ld + c0;
        ops->swiglu(act + (size_t)r * Hd, hr, hr + Hd, (size_t)Hd);
    }
}

void k_swiglu_rows_backward(float *dh, const float *dact, const float *h, int ld, int c0, int N,
                            int Hd) {
    const k_simd_ops_t *ops = k_simd();
    for (int r = 0; r < N; r++) {
        const float *hr = h + (size_t)r * ld + c0;
        float *dr = dh + (size_t)r * ld + c0;
        ops->swiglu_backward(dr, dr + Hd, dact + (size_t)r * Hd, hr, hr + Hd, (size_t)Hd);
    }
}

void k_swiglu_ffn(float *y, float *h1, float *h3, float *act, const float *x, const float *w1,
                  const float *w3, const float *w2, int N, int D, int Hd, float beta) {
    k_matmul(h1, x, w1, N, D, Hd, 0.0f); /* [N,Hd] */
    k_matmul(h3, x, w3, N, D, Hd, 0.0f); /* [N,Hd] */
    k_swiglu(act, h1, h3, (size_t)N * Hd);
    k_matmul(y, act, w2, N, Hd, D, beta); /* [N,D] */
}

void k_swiglu_ffn_backward(float *dx, k_ffn_grads_t g, k_ffn_scratch_t s, const float *dy,
                           const float *x, k_ffn_acts_t a, k_ffn_weights_t w, int N, int D, int Hd,
                           float beta_dx) {
    k_matmul_backward(s.dact, g.w2, dy, a.act, w.w2, N, Hd, D, 0.0f);
    k_swiglu_backward(s.dh1, s.dh3, s.dact, a.h1, a.h3, (size_t)N * Hd);
    k_matmul_backward(dx, g.w1, s.dh1, x, w.w1, N, D, Hd, beta_dx);
    k_matmul_backward(dx, g.w3, s.dh3, x, w.w3, N, D, Hd, 1.0f);
}

void k_router_scores(float *s, int N, int E, int score_func) {
    for (int r = 0; r < N; r++) {
        float *sr = s + (size_t)r * E;
        if (score_func == AHA_SCORE_SIGMOID) {
            for (int e = 0; e < E; e++)
                sr[e] = sigmoidf_(sr[e]);
        } else {
            float mx = sr[0];
            for (int e = 1; e < E; e++)
                mx = sr[e] > mx ? sr[e] : mx;
            float sum = 0.0f;
            for (int e = 0; e < E; e++) {
                sr[e] = expf(sr[e] - mx);
                sum += sr[e];
            }
            float inv = 1.0f / sum;
            for (int e = 0; e < E; e++)
                sr[e] *= inv;
        }
    }
}

void k_router_scores_backward(float *dz, const float *ds, const float *s, int N, int E,
                              int score_func) {
    for (int r = 0; r < N; r++) {
        const float *sr = s + (size_t)r * E, *dsr = ds + (size_t)r * E;
        float *dzr = dz + (size_t)r * E;
        if (score_func == AHA_SCORE_SIGMOID) {
            for (int e = 0; e < E; e++)
                dzr[e] = dsr[e] * sr[e] * (1.0f - sr[e]);
        } else {
            float dot = 0.0f;
            for (int e = 0; e < E; e++)
                dot += dsr[e] * sr[e];
            for (int e = 0; e < E; e++)
                dzr[e] = sr[e] * (dsr[e] - dot);
        }
    }
}

int k_route(int *ids, float *gates, const float *s, const float *bias, const int *valid,
            const int *replay, int N, int E, int K, int norm_topk, float scale) {
    for (int r = 0; r < N; r++) {
        int *ir = ids + (size_t)r * K;
        float *gr = gates + (size_t)r * K;
        const float *sr = s + (size_t)r * E;
        if (!valid[r]) {
            for (int k = 0; k < K; k++) {
                ir[k] = -1;
                gr[k] = 0.0f;
            }
            continue;
        }
        if (replay) {
            for (int k = 0; k < K; k++) {
                int id = replay[(size_t)r * K + k];
                if (id < 0 || id >= E)
                    return AHA_FAIL(AHA_ERR_ARG,
                                    "replay expert id %d at row %d slot %d outside [0, %d)", id, r,
                                    k, E);
                ir[k] = id;
            }
        } else {
            for (int k = 0; k < K; k++) {
                int best = -1;
                float bkey = 0.0f;
                for (int e = 0; e < E; e++) {
                    int taken = 0;
                    for (int j = 0; j < k; j++)
                        taken |= ir[j] == e;
                    if (taken) continue;
                    float key = sr[e] + bias[e];
                    if (best < 0 || key > bkey) {
                        best = e;
                        bkey = key;
                    }
                }
                ir[k] = best;
            }
        }
        float den = 0.0f;
        for (int k = 0; k < K; k++) {
            gr[k] = sr[ir[k]];
            den += gr[k];
        }
        for (int k = 0; k < K; k++) {
            if (norm_topk) gr[k] = gr[k] / den;
            gr[k] *= scale;
        }
    }
    return 0;
}

void k_route_backward(float *ds, const float *dgates, const float *s, const int *ids, int N, int E,
                      int K, int norm_topk, float scale) {
    for (int r = 0; r < N; r++) {
        const int *ir = ids + (size_t)r * K;
        if (K <= 0 || ir[0] < 0) continue;
        const float *sr = s + (size_t)r * E;
        const float *dg = dgates + (size_t)r * K;
        float *dsr = ds + (size_t)r * E;
        if (norm_topk) {
            /* g_k = scale * s_k / den, den = sum_j s_j */
            float den = 0.0f, dot = 0.0f;
            for (int k = 0; k < K; k++) {
                den += sr[ir[k]];
                dot += dg[k] * sr[ir[k]];
            }
            for (int k = 0; k < K; k++)
                dsr[ir[k]] += scale * (dg[k] / den - dot / (den * den));
        } else {
            for (int k = 0; k < K; k++)
                dsr[ir[k]] += scale * dg[k];
        }
    }
}

void k_group(int *off, int *perm, const int *ids, int N, int E, int K) {
    for (int e = 0; e <= E; e++)
        off[e] = 0;
    size_t slots = (size_t)N * K;
    for (size_t i = 0; i < slots; i++)
        if (ids[i] >= 0) off[ids[i] + 1]++;
    for (int e = 0; e < E; e++)
        off[e + 1] += off[e];
    /* off[e] is used as the fill cursor of expert e, then shifted back */
    for (size_t i = 0; i < slots; i++)
        if (ids[i] >= 0) perm[off[ids[i]]++] = (int)i;
    for (int e = E; e > 0; e--)
        off[e] = off[e - 1];
    off[0] = 0;
}

void k_experts(float *y, float *xg, float *eo, k_ffn_keep_t keep, const float *x,
               const k_experts_routing_t *r, k_ffn_weights_t w, int D, int H) {
    const int K = r->K;
    for (int e = 0; e < r->E; e++) {
        int p0 = r->off[e], cnt = r->off[e + 1] - r->off[e];
        if (cnt == 0) continue;
        float *xe = xg + (size_t)p0 * D; /* [cnt, D] gathered inputs */
        for (int i = 0; i < cnt; i++)
            memcpy(xe + (size_t)i * D, x + (size_t)(r->perm[p0 + i] / K) * D, sizeof(float) * D);
        float *h1e = keep.h1 + (size_t)p0 * H, *h3e = keep.h3 + (size_t)p0 * H;
        float *ae = keep.act + (size_t)p0 * H, *eoe = eo + (size_t)p0 * D;
        k_swiglu_ffn(eoe, h1e, h3e, ae, xe, w.w1 + (size_t)e * H * D, w.w3 + (size_t)e * H * D,
                     w.w2 + (size_t)e * D * H, cnt, D, H, 0.0f);
        for (int i = 0; i < cnt; i++) {
            int slot = r->perm[p0 + i];
            float g = r->gates[slot];
            float *yr = y + (size_t)(slot / K) * D;
            const float *er = eoe + (size_t)i * D;
            for (int d = 0; d < D; d++)
                yr[d] += g * er[d];
        }
    }
}

/* k_experts_backward with the gathered inputs XG_KEPT, or (NULL) gathering them from X into s.xg. */
static void experts_backward(float *dx, float *dgates, k_ffn_grads_t g, k_experts_scratch_t s,
                             const float *dy, const float *x, const float *xg_kept,
                             const k_experts_routing_t *r, k_ffn_acts_t a, k_ffn_weights_t w, int D,
                             int H) {
    const int K = r->K;
    const size_t HD = (size_t)H * D;
    for (int e = 0; e < r->E; e++) {
        int p0 = r->off[e], cnt = r->off[e + 1] - r->off[e];
        if (cnt == 0) continue;
        const float *xe = xg_kept ? xg_kept + (size_t)p0 * D : s.xg + (size_t)p0 * D;
        float *dye = s.dyg + (size_t)p0 * D, *dxe = s.dxg + (size_t)p0 * D;
        const float *eoe = r->eo + (size_t)p0 * D;
        for (int i = 0; i < cnt; i++) {
            int slot = r->perm[p0 + i];
            const float *dyr = dy + (size_t)(slot / K) * D;
            const float *er = eoe + (size_t)i * D;
            float *dr = dye + (size_t)i * D;
            float gate = r->gates[slot], dot = 0.0f;
            for (int d = 0; d < D; d++) {
                dot += dyr[d] * er[d];
                dr[d] = gate * dyr[d];
            }
            dgates[slot] = dot;
            if (!xg_kept)
                memcpy(s.xg + ((size_t)p0 + i) * D, x + (size_t)(slot / K) * D, sizeof(float) * D);
        }
        const size_t ph = (size_t)p0 * H, eh = (size_t)e * HD;
        const k_ffn_grads_t ge = {g.w1 + eh, g.w3 + eh, g.w2 + eh};
        const k_ffn_scratch_t se = {s.ffn.dh1 + ph, s.ffn.dh3 + ph, s.ffn.dact + ph};
        const k_ffn_acts_t ae = {a.h1 + ph, a.h3 + ph, a.act + ph};
        const k_ffn_weights_t we = {w.w1 + eh, w.w3 + eh, w.w2 + eh};
        k_swiglu_ffn_backward(dxe, ge, se, dye, xe, ae, we, cnt, D, H, 0.0f);
        for (int i = 0; i < cnt; i++) {
            float *dxr = dx + (size_t)(r->perm[p0 + i] / K) * D;
            const float *sr = dxe + (size_t)i * D;
            for (int d = 0; d < D; d++)
                dxr[d] += sr[d];
        }
    }
}

void k_experts_backward(float *dx, float *dgates, k_ffn_grads_t g, k_experts_scratch_t s,
                        const float *dy, const float *x, const k_experts_routing_t *r,
                        k_ffn_acts_t a, k_ffn_weights_t w, int D, int H) {
    experts_backward(dx, dgates, g, s, dy, x, NULL, r, a, w, D, H);
}

void k_experts_backward_gathered(float *dx, float *dgates, k_ffn_grads_t g, k_experts_scratch_t s,
                                 const float *dy, const float *xg, const k_experts_routing_t *r,
                                 k_ffn_acts_t a, k_ffn_weights_t w, int D, int H) {
    experts_backward(dx, dgates, g, s, dy, NULL, xg, r, a, w, D, H);
}

/* Count of routed slots per expert over the first tb rows of one batch row. */
static void seq_counts(float *cnt, const int *ids, int tb, int E, int K) {
    for (int e = 0; e < E; e++)
        cnt[e] = 0.0f;
    for (int i = 0; i < tb * K; i++)
        if (ids[i] >= 0) cnt[ids[i]] += 1.0f;
}

static int row_len(const int *len, int b, int T) {
    int tb = len ? len[b] : T;
    return tb < 0 ? 0 : (tb > T ? T : tb);
}

float k_seq_aux(float *cnt, const float *s, const int *ids, const int *len, int B, int T, int E,
                int K, int score_func, float alpha) {
    if (alpha == 0.0f || B <= 0 || E <= 0) return 0.0f;
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        int tb = row_len(len, b, T);
        if (tb == 0) continue;
        seq_counts(cnt, ids + (size_t)b * T * K, tb, E, K);
        double acc = 0.0; /* sum_t sum_i cnt_i s'_t,i */
        for (int t = 0; t < tb; t++) {
            const float *sr = s + ((size_t)b * T + t) * E;
            double rs = 0.0, dot = 0.0;
            for (int e = 0; e < E; e++) {
                rs += sr[e];
                dot += (double)cnt[e] * sr[e];
            }
            acc += score_func == AHA_SCORE_SIGMOID ? dot / rs : dot;
        }
        /* sum_i f_i P_i = sum_i E/(K tb) cnt_i * (1/tb) sum_t s'_t,i */
        total += (double)E / ((double)K * tb * tb) * acc;
    }
    return (float)((double)alpha * total / B);
}

void k_seq_aux_backward(float *ds, float *cnt, const float *s, const int *ids, const int *len,
                        int B, int T, int E, int K, int score_func, float alpha) {
    if (alpha == 0.0f || B <= 0 || E <= 0) return;
    for (int b = 0; b < B; b++) {
        int tb = row_len(len, b, T);
        if (tb == 0) continue;
        seq_counts(cnt, ids + (size_t)b * T * K, tb, E, K);
        float c = (float)((double)alpha / B * E / ((double)K * tb * tb));
        for (int t = 0; t < tb; t++) {
            size_t r = (size_t)b * T + t;
            const float *sr = s + r * E;
            float *dsr = ds + r * E;
            if (score_func == AHA_SCORE_SIGMOID) {
                /* s' = s / rs: ds_i = (dsp_i - sum_j dsp_j s'_j) / rs with dsp = c cnt */
                float rs = 0.0f, dot = 0.0f;
                for (int e = 0; e < E; e++)
                    rs += sr[e];
                for (int e = 0; e < E; e++)
                    dot += c * cnt[e] * sr[e];
                dot /= rs;
                for (int e = 0; e < E; e++)
                    dsr[e] += (c * cnt[e] - dot) / rs;
            } else {
                for (int e = 0; e < E; e++)
                    dsr[e] += c * cnt[e];
            }
        }
    }
}
