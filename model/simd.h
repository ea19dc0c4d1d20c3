/* model/simd.h — the model's elementwise kernels (SwiGLU, softmax rows, RMSNorm) and decoding's
 * matmul and attention in SIMD paths chosen at run time, so one x86-64 binary uses AVX2 or AVX-512
 * where the CPU has them and runs anywhere else (internal to model/; kernels.h's k_swiglu,
 * k_rmsnorm, k_matmul, ... call the chosen path).
 *
 * Every path is the same C code (model/simd.c) compiled for another instruction set, written so
 * that it vectorises without reassociating anything (fixed 16-lane accumulators, an exp of its
 * own instead of libm's) and compiled with -ffp-contract=off (no implicit fused multiply-adds;
 * the matmul and attention use explicit fmaf, exactly rounded everywhere — a libm call on the
 * baseline path, an instruction on AVX2+FMA and AVX-512; the AVX-512 matmul tile is intrinsics
 * that add in the C body's order): the paths give bit-identical results, so a run's numbers do
 * not depend on which CPU ran it (model/simd_test.c checks every available path against the
 * baseline bit for bit).
 *
 * The path is chosen once, at load time: the best the CPU supports, or AHA_SIMD=base|avx2|avx512
 * from the environment (an unknown or unsupported name falls back to the best, with a warning). */
#ifndef AHA_MODEL_SIMD_H
#define AHA_MODEL_SIMD_H
#include <stddef.h>

enum { K_SIMD_BASE = 0, K_SIMD_AVX2 = 1, K_SIMD_AVX512 = 2, K_SIMD_LEVELS = 3 };

typedef struct {
    /* act[n] = silu(h1) * h3 */
    void (*swiglu)(float *act, const float *h1, const float *h3, size_t n);
    /* dh1, dh3[n] (overwritten) from dact */
    void (*swiglu_backward)(float *dh1, float *dh3, const float *dact, const float *h1,
                            const float *h3, size_t n);
    /* row[n] = softmax(row) in place (n >= 1) */
    void (*softmax)(float *row, int n);
    /* dr[n] = a * (dr - sum(a * dr)) in place: softmax backward of one row */
    void (*softmax_backward)(float *dr, const float *a, int n);
    /* as k_rmsnorm / k_rmsnorm_backward (kernels.h) */
    void (*rmsnorm)(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps);
    void (*rmsnorm_backward)(float *dx, float *dw, const float *dy, const float *x, const float *w,
                             const float *rstd, int N, int D);
    /* y[N,O] = x[N,In] W[O,In]^T + beta * y (beta 0: y not read), W read in place; y[r,o]
     * depends only on x row r, W row o, In and beta (not on N or the other rows): the matmul of
     * decoding (kernels.h k_matmul_rows). */
    void (*matmul)(float *y, const float *x, const float *w, int N, int In, int O, float beta);
    /* One query of one head over P cached positions: sc[j] = scale * sum_d q[d] kt[d*ldk + j]
     * (keys stored transposed: the position is the fast index), sc = softmax(sc), out[d] =
     * sum_j sc[j] v[j*ldv + d], every sum in increasing order with fused multiply-adds.
     * out[hd], sc[P] written. */
    void (*attend)(float *out, float *sc, const float *q, const float *kt, const float *v, int P,
                   int hd, int ldk, int ldv, float scale);
    /* The same attention for R <= K_ATTEND_ROWS queries of one head at once (a tile of decoding
     * rows): query r (q[r], hd values) attends positions 0..P[r]-1, reading positions [0, Ps)
     * from the shared kt_s / v_s (keys transposed as above, every P[r] >= Ps) and the others
     * from its own kt[r] / v[r] (indexed from position 0: a row's own cache also holds the
     * shared positions, and they must hold the same bits). The shared keys and values are read
     * once for the R rows. out[r][hd] written; sc[r * ldsc ..] scratch, ldsc >= P[r] rounded up
     * to 16. Each row's out and scores are attend's bits for that row alone, whatever R, Ps and
     * the other rows. Reads up to 15 floats past the positions and head columns it uses (the
     * caller keeps K_ATTEND_PAD readable floats after its key and value buffers). */
    void (*attend_rows)(float *const *out, float *sc, int ldsc, const float *const *q,
                        const float *kt_s, const float *v_s, int Ps, const float *const *kt,
                        const float *const *v, const int *P, int R, int hd, int ldk, int ldv,
                        float scale);
} k_simd_ops_t;

/* Most queries in one attend_rows call, and the floats it may read past its buffers. */
enum { K_ATTEND_ROWS = 4, K_ATTEND_PAD = 16 };

/* The chosen path's kernels. */
const k_simd_ops_t *k_simd(void);
/* Kernels of path LEVEL (NULL if this CPU or compiler lacks it): tests compare the paths. */
const k_simd_ops_t *k_simd_path(int level);
/* Level of the chosen path and the name of a level ("base", "avx2", "avx512"). */
int k_simd_level(void);
const char *k_simd_name(int level);

/* The exp of the SIMD paths (Cephes-style range reduction and polynomial, ~1 ulp; inputs clamped
 * to [-87, 88]), exposed for its test against expf. */
float k_expf(float x);

#endif
