/* model/simd.c — the kernels of model/simd.h, one C body per kernel compiled for the baseline
 * x86-64 (SSE2), AVX2 (+FMA) and AVX-512 (function attributes), chosen at load time. Built with
 * -O3 -ffp-contract=off -fno-trapping-math -fno-thread-jumps (model/CMakeLists.txt): the loops
 * vectorise, no path fuses a multiply-add the C does not spell as fmaf, and the fixed 16-lane
 * accumulators make every path add in the same order. */
#include "model/simd.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LANES 16

/* exp(x) without libm: x = n ln2 + r (Cody-Waite split of ln2), exp(r) by the Cephes expf
 * polynomial, 2^n through the exponent bits. Branch-free, so loops over it vectorise. */
static inline __attribute__((always_inline)) float exp_body(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2) with the 1.5 * 2^23 trick (round to nearest even) */
    const float shifter = 12582912.0f;
    union {
        float f;
        uint32_t u;
    } kn = {.f = x * 1.44269504088896341f + shifter};
    const float n = kn.f - shifter;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* kn's bits are 0x4B400000 + n; unsigned, so the garbage of a NaN input wraps (no UB) */
    union {
        uint32_t u;
        float f;
    } sc = {.u = (kn.u - 0x4B400000u + 127u) << 23};
    return p * sc.f;
}

float k_expf(float x) {
    return exp_body(x);
}

/* ---- small-row matmul: y[N,O] = x[N,In] W[O,In]^T + beta y, dot-product form ----
 * Every output y[r,o] is the dot product of x row r and W row o: 16 lane sums, lane l summing
 * x[i] * w[i] for the i = l mod 16 in increasing order with fused multiply-adds (fmaf: exactly
 * rounded on every path), then the lanes added as a fixed tree (l + l+8, then + 4, + 2, + 1).
 * So y[r,o] depends only on x row r, W row o, In and beta: not on N, the other rows or how the
 * rows and outputs are tiled, and every path gives the same bits. W is read in place (no
 * packing); a tile of R rows x C outputs (R*C <= 16) reads each W row once for R rows. */
static inline __attribute__((always_inline)) float dot_tree16(const float *a) {
    float b[8], c[4];
    for (int l = 0; l < 8; l++)
        b[l] = a[l] + a[l + 8];
    for (int l = 0; l < 4; l++)
        c[l] = b[l] + b[l + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

static inline __attribute__((always_inline)) void dot_store(float *y, float s, float beta) {
    *y = beta == 0.0f ? s : s + beta * *y;
}

/* The tile of rows x[0..R) (row stride In) and outputs w[0..C) into y (row stride O). */
static inline __attribute__((always_inline)) void dot_tile(float *restrict y,
                                                           const float *restrict x,
                                                           const float *restrict w, int R, int C,
                                                           int In, int O, float beta) {
    float acc[16][LANES];
    for (int a = 0; a < R * C; a++)
        for (int l = 0; l < LANES; l++)
            acc[a][l] = 0.0f;
    int i = 0;
    for (; i + LANES <= In; i += LANES)
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                for (int l = 0; l < LANES; l++)
                    acc[r * C + c][l] = __builtin_fmaf(
                        x[(size_t)r * In + i + l], w[(size_t)c * In + i + l], acc[r * C + c][l]);
    for (int l = 0; i + l < In; l++)
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                acc[r * C + c][l] = __builtin_fmaf(x[(size_t)r * In + i + l],
                                                   w[(size_t)c * In + i + l], acc[r * C + c][l]);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            dot_store(y + (size_t)r * O + c, dot_tree16(acc[r * C + c]), beta);
}

/* Blocks of 4 rows x 4 outputs, the outputs outer (a tile of W, 4 rows of it, is read once and
 * used by every block of rows while it is in L1); the last 1-3 rows as 3 x 4, 2 x 8 or 1 x 16
 * tiles; the outputs past the last full tile one at a time. TILE(R, C, y, x, w) is one tile. */
#define DOT_DRIVER(TILE)                                                                           \
    do {                                                                                           \
        const int N4 = N & ~3, R = N - N4;                                                         \
        const int CT = R == 3 ? 4 : R == 2 ? 8 : 16; /* outputs per tile of the last rows */       \
        int o = 0;                                                                                 \
        for (; o + 4 <= O; o += 4)                                                                 \
            for (int r = 0; r < N4; r += 4)                                                        \
                TILE(4, 4, y + (size_t)r * O + o, x + (size_t)r * In, w + (size_t)o * In);         \
        for (int r = 0; r < N4; r++)                                                               \
            for (int oo = o; oo < O; oo++)                                                         \
                dot_tile(y + (size_t)r * O + oo, x + (size_t)r * In, w + (size_t)oo * In, 1, 1,    \
                         In, O, beta);                                                             \
        if (R == 0) break;                                                                         \
        float *yr = y + (size_t)N4 * O;                                                            \
        const float *xr = x + (size_t)N4 * In;                                                     \
        o = 0;                                                                                     \
        for (; o + CT <= O; o += CT) {                                                             \
            if (R == 3)                                                                            \
                TILE(3, 4, yr + o, xr, w + (size_t)o * In);                                        \
            else if (R == 2)                                                                       \
                TILE(2, 8, yr + o, xr, w + (size_t)o * In);                                        \
            else                                                                                   \
                TILE(1, 16, yr + o, xr, w + (size_t)o * In);                                       \
        }                                                                                          \
        for (int r = 0; r < R; r++)                                                                \
            for (int oo = o; oo < O; oo++)                                                         \
                dot_tile(yr + (size_t)r * O + oo, xr + (size_t)r * In, w + (size_t)oo * In, 1, 1,  \
                         In, O, beta);                                                             \
    } while (0)

#define DOT_TILE_GENERIC(R, C, yt, xt, wt) dot_tile(yt, xt, wt, R, C, In, O, beta)

/* max(row[0..n)), n >= 1, in 16 lane maxima (the maximum is exact in any order; with +0 and -0
 * both the largest the sign may differ from a sequential scan, which softmax's row - max does
 * not see). */
static inline __attribute__((always_inline)) float row_max(const float *restrict row, int n) {
    float m[LANES];
    for (int l = 0; l < LANES; l++)
        m[l] = row[0];
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++)
            m[l] = row[j + l] > m[l] ? row[j + l] : m[l];
    for (; j < n; j++)
        m[0] = row[j] > m[0] ? row[j] : m[0];
    float mx = m[0];
    for (int l = 1; l < LANES; l++)
        mx = m[l] > mx ? m[l] : mx;
    return mx;
}

/* ---- decoding attention of R rows of one head (attend_rows) ----
 * Register tiles of W positions (scores) or W head columns (values) for each of the R rows; every
 * score and output element is its own chain of fused multiply-adds in attend's order (scores over
 * d from 0.0f, outputs over positions from 0.0f), so a row's bits do not depend on R, W or the
 * other rows. A tile's rows interleave: R independent chains instead of one. */
static inline __attribute__((always_inline)) void attend_scores(float *restrict sc, int ldsc,
                                                                const float *const *q,
                                                                const float *kt_s,
                                                                const float *const *kt, int j0,
                                                                const int R, const int W,
                                                                const int shared, int hd, int ldk) {
    float acc[K_ATTEND_ROWS][64];
    for (int r = 0; r < R; r++)
        for (int l = 0; l < W; l++)
            acc[r][l] = 0.0f;
    for (int d = 0; d < hd; d++)
        for (int r = 0; r < R; r++) {
            const float qd = q[r][d];
            const float *kd = (shared ? kt_s : kt[r]) + (size_t)d * ldk + j0;
            for (int l = 0; l < W; l++)
                acc[r][l] = __builtin_fmaf(qd, kd[l], acc[r][l]);
        }
    for (int r = 0; r < R; r++)
        for (int l = 0; l < W; l++)
            sc[(size_t)r * ldsc + j0 + l] = acc[r][l];
}

static inline __attribute__((always_inline)) void
attend_values(float *const *out, const float *restrict sc, int ldsc, const float *v_s, int Ps,
              const float *const *v, const int *P, int Pmax, int d0, const int R, const int W,
              int hd, int ldv) {
    float acc[K_ATTEND_ROWS][32];
    for (int r = 0; r < R; r++)
        for (int l = 0; l < W; l++)
            acc[r][l] = 0.0f;
    for (int j = 0; j < Ps; j++) { /* shared: each value row read once for the R rows */
        const float *vj = v_s + (size_t)j * ldv + d0;
        for (int r = 0; r < R; r++) {
            const float p = sc[(size_t)r * ldsc + j];
            for (int l = 0; l < W; l++)
                acc[r][l] = __builtin_fmaf(p, vj[l], acc[r][l]);
        }
    }
    for (int j = Ps; j < Pmax; j++)
        for (int r = 0; r < R; r++)
            if (j < P[r]) {
                const float *vj = v[r] + (size_t)j * ldv + d0;
                const float p = sc[(size_t)r * ldsc + j];
                for (int l = 0; l < W; l++)
                    acc[r][l] = __builtin_fmaf(p, vj[l], acc[r][l]);
            }
    const int nd = hd - d0 < W ? hd - d0 : W;
    for (int r = 0; r < R; r++)
        for (int l = 0; l < nd; l++)
            out[r][d0 + l] = acc[r][l];
}

/* attend_rows for a constant R: scores in tiles of 64 (R <= 2) or 32 positions, then 16 (shared
 * ones while whole tiles fit in [0, Ps), then each row's own; the last tile reads and writes up
 * to 15 positions past Pmax), attend's scaling and softmax per row, outputs in tiles of 32 then
 * 16 columns. */
static inline __attribute__((always_inline)) void
attend_rows_body(float *const *out, float *restrict sc, int ldsc, const float *const *q,
                 const float *kt_s, const float *v_s, int Ps, const float *const *kt,
                 const float *const *v, const int *P, const int R, int hd, int ldk, int ldv,
                 float scale, void (*softmax)(float *, int)) {
    int Pmax = 0;
    for (int r = 0; r < R; r++)
        Pmax = P[r] > Pmax ? P[r] : Pmax;
    const int W = R <= 2 ? 64 : 32; /* 4 to 8 accumulators */
    int j0 = 0;
    for (; j0 + W <= Ps; j0 += W)
        attend_scores(sc, ldsc, q, kt_s, kt, j0, R, W, 1, hd, ldk);
    for (; j0 + 16 <= Ps; j0 += 16)
        attend_scores(sc, ldsc, q, kt_s, kt, j0, R, 16, 1, hd, ldk);
    for (; j0 + W - 16 < Pmax; j0 += W)
        attend_scores(sc, ldsc, q, kt_s, kt, j0, R, W, 0, hd, ldk);
    for (; j0 < Pmax; j0 += 16)
        attend_scores(sc, ldsc, q, kt_s, kt, j0, R, 16, 0, hd, ldk);
    for (int r = 0; r < R; r++) {
        float *sr = sc + (size_t)r * ldsc;
        for (int j = 0; j < P[r]; j++)
            sr[j] *= scale;
        softmax(sr, P[r]);
    }
    int d0 = 0;
    for (; d0 + 16 < hd; d0 += 32)
        attend_values(out, sc, ldsc, v_s, Ps, v, P, Pmax, d0, R, 32, hd, ldv);
    if (d0 < hd) attend_values(out, sc, ldsc, v_s, Ps, v, P, Pmax, d0, R, 16, hd, ldv);
}

/* The kernel bodies, instantiated per path by KERNELS(suffix, attributes). */
#define KERNELS(S, ATTR)                                                                           \
    ATTR static void swiglu_##S(float *restrict act, const float *restrict h1,                     \
                                const float *restrict h3, size_t n) {                              \
        for (size_t i = 0; i < n; i++)                                                             \
            act[i] = h1[i] / (1.0f + exp_body(-h1[i])) * h3[i];                                    \
    }                                                                                              \
    ATTR static void swiglu_backward_##S(float *restrict dh1, float *restrict dh3,                 \
                                         const float *restrict dact, const float *restrict h1,     \
                                         const float *restrict h3, size_t n) {                     \
        for (size_t i = 0; i < n; i++) {                                                           \
            const float z = h1[i], sg = 1.0f / (1.0f + exp_body(-z));                              \
            dh3[i] = dact[i] * (z * sg);                                                           \
            dh1[i] = dact[i] * h3[i] * sg * (1.0f + z * (1.0f - sg));                              \
        }                                                                                          \
    }                                                                                              \
    ATTR static void softmax_##S(float *restrict row, int n) {                                     \
        float mx = row_max(row, n);                                                                \
        float acc[LANES] = {0};                                                                    \
        int j = 0;                                                                                 \
        for (; j + LANES <= n; j += LANES)                                                         \
            for (int l = 0; l < LANES; l++) {                                                      \
                row[j + l] = exp_body(row[j + l] - mx);                                            \
                acc[l] += row[j + l];                                                              \
            }                                                                                      \
        for (; j < n; j++) {                                                                       \
            row[j] = exp_body(row[j] - mx);                                                        \
            acc[0] += row[j];                                                                      \
        }                                                                                          \
        float sum = 0.0f;                                                                          \
        for (int l = 0; l < LANES; l++)                                                            \
            sum += acc[l];                                                                         \
        const float inv = 1.0f / sum;                                                              \
        for (int k = 0; k < n; k++)                                                                \
            row[k] *= inv;                                                                         \
    }                                                                                              \
    ATTR static void softmax_backward_##S(float *restrict dr, const float *restrict a, int n) {    \
        float acc[LANES] = {0};                                                                    \
        int j = 0;                                                                                 \
        for (; j + LANES <= n; j += LANES)                                                         \
            for (int l = 0; l < LANES; l++)                                                        \
                acc[l] += a[j + l] * dr[j + l];                                                    \
        for (; j < n; j++)                                                                         \
            acc[0] += a[j] * dr[j];                                                                \
        float dot = 0.0f;                                                                          \
        for (int l = 0; l < LANES; l++)                                                            \
            dot += acc[l];                                                                         \
        for (int k = 0; k < n; k++)                                                                \
            dr[k] = a[k] * (dr[k] - dot);                                                          \
    }                                                                                              \
    ATTR static void rmsnorm_##S(float *restrict y, float *restrict rstd, const float *restrict x, \
                                 const float *restrict w, int N, int D, float eps) {               \
        for (int r = 0; r < N; r++) {                                                              \
            const float *xr = x + (size_t)r * D;                                                   \
            float *yr = y + (size_t)r * D;                                                         \
            double acc[LANES] = {0};                                                               \
            int i = 0;                                                                             \
            for (; i + LANES <= D; i += LANES)                                                     \
                for (int l = 0; l < LANES; l++)                                                    \
                    acc[l] += (double)xr[i + l] * xr[i + l];                                       \
            for (; i < D; i++)                                                                     \
                acc[0] += (double)xr[i] * xr[i];                                                   \
            double ss = 0.0;                                                                       \
            for (int l = 0; l < LANES; l++)                                                        \
                ss += acc[l];                                                                      \
            const float rs = (float)(1.0 / sqrt(ss / D + (double)eps));                            \
            for (int k = 0; k < D; k++)                                                            \
                yr[k] = xr[k] * rs * w[k];                                                         \
            if (rstd) rstd[r] = rs;                                                                \
        }                                                                                          \
    }                                                                                              \
    ATTR static void rmsnorm_backward_##S(                                                         \
        float *restrict dx, float *restrict dw, const float *restrict dy, const float *restrict x, \
        const float *restrict w, const float *restrict rstd, int N, int D) {                       \
        for (int r = 0; r < N; r++) {                                                              \
            const float *xr = x + (size_t)r * D, *dyr = dy + (size_t)r * D;                        \
            float *dxr = dx + (size_t)r * D;                                                       \
            const float rs = rstd[r];                                                              \
            double acc[LANES] = {0}; /* sum_j dy_j w_j x_j */                                      \
            int i = 0;                                                                             \
            for (; i + LANES <= D; i += LANES)                                                     \
                for (int l = 0; l < LANES; l++)                                                    \
                    acc[l] += (double)dyr[i + l] * w[i + l] * xr[i + l];                           \
            for (; i < D; i++)                                                                     \
                acc[0] += (double)dyr[i] * w[i] * xr[i];                                           \
            double dot = 0.0;                                                                      \
            for (int l = 0; l < LANES; l++)                                                        \
                dot += acc[l];                                                                     \
            for (int k = 0; k < D; k++)                                                            \
                dw[k] += dyr[k] * xr[k] * rs;                                                      \
            const float c = (float)(dot * rs * rs * rs / D);                                       \
            for (int k = 0; k < D; k++)                                                            \
                dxr[k] += rs * w[k] * dyr[k] - xr[k] * c;                                          \
        }                                                                                          \
    }                                                                                              \
    ATTR static void attend_##S(float *restrict out, float *restrict sc, const float *restrict q,  \
                                const float *restrict kt, const float *restrict v, int P, int hd,  \
                                int ldk, int ldv, float scale) {                                   \
        for (int j = 0; j < P; j++)                                                                \
            sc[j] = 0.0f;                                                                          \
        for (int d = 0; d < hd; d++) {                                                             \
            const float qd = q[d], *kd = kt + (size_t)d * ldk;                                     \
            for (int j = 0; j < P; j++)                                                            \
                sc[j] = __builtin_fmaf(qd, kd[j], sc[j]);                                          \
        }                                                                                          \
        for (int j = 0; j < P; j++)                                                                \
            sc[j] *= scale;                                                                        \
        softmax_##S(sc, P);                                                                        \
        for (int d = 0; d < hd; d++)                                                               \
            out[d] = 0.0f;                                                                         \
        for (int j = 0; j < P; j++) {                                                              \
            const float pj = sc[j], *vj = v + (size_t)j * ldv;                                     \
            for (int d = 0; d < hd; d++)                                                           \
                out[d] = __builtin_fmaf(pj, vj[d], out[d]);                                        \
        }                                                                                          \
    }                                                                                              \
    ATTR static void attend_rows_##S(float *const *out, float *sc, int ldsc,                      \
                                     const float *const *q, const float *kt_s, const float *v_s,   \
                                     int Ps, const float *const *kt, const float *const *v,        \
                                     const int *P, int R, int hd, int ldk, int ldv, float scale) { \
        switch (R) {                                                                               \
        case 1:                                                                                    \
            attend_rows_body(out, sc, ldsc, q, kt_s, v_s, Ps, kt, v, P, 1, hd, ldk, ldv, scale,    \
                             softmax_##S);                                                         \
            break;                                                                                 \
        case 2:                                                                                    \
            attend_rows_body(out, sc, ldsc, q, kt_s, v_s, Ps, kt, v, P, 2, hd, ldk, ldv, scale,    \
                             softmax_##S);                                                         \
            break;                                                                                 \
        case 3:                                                                                    \
            attend_rows_body(out, sc, ldsc, q, kt_s, v_s, Ps, kt, v, P, 3, hd, ldk, ldv, scale,    \
                             softmax_##S);                                                         \
            break;                                                                                 \
        default:                                                                                   \
            attend_rows_body(out, sc, ldsc, q, kt_s, v_s, Ps, kt, v, P, 4, hd, ldk, ldv, scale,    \
                             softmax_##S);                                                         \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    ATTR __attribute__((unused)) static void matmul_dot_##S(                                       \
        float *restrict y, const float *restrict x, const float *restrict w, int N, int In, int O, \
        float beta) {                                                                              \
        DOT_DRIVER(DOT_TILE_GENERIC);                                                              \
    }

#define OPS(S, MATMUL)                                                                             \
    static const k_simd_ops_t ops_##S = {                                                          \
        swiglu_##S,  swiglu_backward_##S,  softmax_##S, softmax_backward_##S,                      \
        rmsnorm_##S, rmsnorm_backward_##S, MATMUL,      attend_##S,                                \
        attend_rows_##S};

KERNELS(base, )
OPS(base, matmul_dot_base)
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_PATHS 1
#include <immintrin.h>
#define AVX512_ATTR __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
KERNELS(avx2, __attribute__((target("avx2,fma"))))
OPS(avx2, matmul_dot_avx2)
KERNELS(avx512, AVX512_ATTR)

/* The AVX-512 tile of dot_tile: one zmm accumulator per (row, output), the 16 lane sums of all
 * 16 accumulators added by the same tree as dot_tree16 in four transposing steps (a + a+8 over
 * 256-bit halves, + 4 over 128-bit quarters, + 2 and + 1 within quarters), giving one vector
 * whose lane 4 (a % 4) + a / 4 holds accumulator a's sum. The same bits as dot_tile. */
static inline __attribute__((always_inline)) AVX512_ATTR void
dot_tile_avx512(float *restrict y, const float *restrict x, const float *restrict w, int R, int C,
                int In, int O, float beta) {
    __m512 acc[16];
    for (int a = 0; a < 16; a++)
        acc[a] = _mm512_setzero_ps();
    int i = 0;
    for (; i + LANES <= In; i += LANES) {
        __m512 xv[4], wv[16];
        for (int r = 0; r < R; r++)
            xv[r] = _mm512_loadu_ps(x + (size_t)r * In + i);
        for (int c = 0; c < C; c++)
            wv[c] = _mm512_loadu_ps(w + (size_t)c * In + i);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                acc[r * C + c] = _mm512_fmadd_ps(xv[r], wv[c], acc[r * C + c]);
    }
    if (i < In) {
        const __mmask16 m = (__mmask16)((1u << (In - i)) - 1u);
        __m512 xv[4], wv[16];
        for (int r = 0; r < R; r++)
            xv[r] = _mm512_maskz_loadu_ps(m, x + (size_t)r * In + i);
        for (int c = 0; c < C; c++)
            wv[c] = _mm512_maskz_loadu_ps(m, w + (size_t)c * In + i);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++)
                acc[r * C + c] = _mm512_mask3_fmadd_ps(xv[r], wv[c], acc[r * C + c], m);
    }
    __m512 b[8], c4[4], d[2], e;
    for (int p = 0; p < 8; p++) /* quarters: u_2p[0:4], u_2p[4:8], u_2p+1[0:4], u_2p+1[4:8] */
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], 0x44),
                             _mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], 0xEE));
    for (int k = 0; k < 4; k++) /* quarter j: v_4k+j[0:4] */
        c4[k] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * k], b[2 * k + 1], 0x88),
                              _mm512_shuffle_f32x4(b[2 * k], b[2 * k + 1], 0xDD));
    for (int k = 0; k < 2; k++) /* quarter j: w_8k+j[0:2], w_8k+4+j[0:2] */
        d[k] = _mm512_add_ps(_mm512_shuffle_ps(c4[2 * k], c4[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(c4[2 * k], c4[2 * k + 1], 0xEE));
    /* quarter j: s_j, s_4+j, s_8+j, s_12+j */
    e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
    float s[16];
    _mm512_storeu_ps(s, e);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            const int a = r * C + c;
            dot_store(y + (size_t)r * O + c, s[4 * (a % 4) + a / 4], beta);
        }
}

#define DOT_TILE_AVX512(R, C, yt, xt, wt) dot_tile_avx512(yt, xt, wt, R, C, In, O, beta)

AVX512_ATTR static void matmul_dot_avx512x(float *restrict y, const float *restrict x,
                                           const float *restrict w, int N, int In, int O,
                                           float beta) {
    DOT_DRIVER(DOT_TILE_AVX512);
}
OPS(avx512, matmul_dot_avx512x)
#endif

static const char *const names[K_SIMD_LEVELS] = {"base", "avx2", "avx512"};

const char *k_simd_name(int level) {
    return level >= 0 && level < K_SIMD_LEVELS ? names[level] : "?";
}

const k_simd_ops_t *k_simd_path(int level) {
    if (level == K_SIMD_BASE) return &ops_base;
#ifdef HAVE_X86_PATHS
    __builtin_cpu_init();
    if (level == K_SIMD_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &ops_avx2;
    if (level == K_SIMD_AVX512 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return &ops_avx512;
#endif
    return NULL;
}

static const k_simd_ops_t *chosen = &ops_base;
static int chosen_level = K_SIMD_BASE;

/* Load time: the best path, or the one AHA_SIMD names. */
__attribute__((constructor)) static void simd_choose(void) {
    int best = K_SIMD_BASE;
    for (int l = K_SIMD_LEVELS - 1; l > K_SIMD_BASE; l--)
        if (k_simd_path(l)) {
            best = l;
            break;
        }
    const char *env = getenv("AHA_SIMD");
    if (env && *env) {
        int want = -1;
        for (int l = 0; l < K_SIMD_LEVELS; l++)
            if (!strcmp(env, names[l])) want = l;
        if (want >= 0 && k_simd_path(want))
            best = want;
        else
            fprintf(stderr,
                    "aha: AHA_SIMD=%s is not a path this CPU has (base|avx2|avx512); "
                    "using %s\n",
                    env, names[best]);
    }
    chosen_level = best;
    chosen = k_simd_path(best);
}

const k_simd_ops_t *k_simd(void) {
    return chosen;
}

int k_simd_level(void) {
    return chosen_level;
}
