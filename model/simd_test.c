/* model/simd_test.c — the SIMD paths of model/simd.h:
 *  - exp: k_expf against libm's expf to 4e-7 relative over [-87, 88], exact at 0, clamped
 *    outside that range, NaN in -> NaN out;
 *  - the baseline kernels against double-precision references (SwiGLU and its backward,
 *    softmax and its backward, RMSNorm and its backward) on sizes around the 16-lane blocks;
 *  - every path this CPU has (avx2, avx512) gives the baseline's results bit for bit, on the
 *    same inputs (the paths must not make a run's numbers depend on the CPU);
 *  - the decoding matmul and attention against double references, bit for bit across paths, and
 *    the matmul's rows independent of the other rows of the call; the tiled attention of several
 *    rows with a shared prefix (attend_rows) gives each row attend's bits alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/testutil.h"
#include "model/simd.h"

static const int sizes[] = {1, 2, 15, 16, 17, 31, 33, 96, 128, 1000};
enum { NS = sizeof sizes / sizeof *sizes, MAXN = 1000 };

static void fill(float *x, int n, aha_rng_t *rng, float scale) {
    for (int i = 0; i < n; i++)
        x[i] = scale * aha_rng_normal(rng);
}

static void test_exp(void) {
    double worst = 0.0;
    for (int i = 0; i <= 175000; i++) {
        float x = -87.0f + 0.001f * (float)i;
        if (x > 88.0f) break;
        double ref = expf(x), got = k_expf(x);
        worst = fmax(worst, fabs(got - ref) / ref);
    }
    printf("[exp] max relative error vs expf over [-87, 88]: %.3g\n", worst);
    CHECK(worst <= 4e-7, "k_expf relative error %g", worst);
    CHECK(k_expf(0.0f) == 1.0f, "exp(0) = %.9g", (double)k_expf(0.0f));
    CHECK(k_expf(-1000.0f) == k_expf(-87.0f) && k_expf(1000.0f) == k_expf(88.0f),
          "no clamp outside [-87, 88]");
    CHECK(isnan(k_expf(NAN)), "exp(NaN) = %g", (double)k_expf(NAN));
}

/* Runs every kernel of OPS on the inputs of size n; outputs in out[k][...]. */
typedef struct {
    float sw[MAXN], dh1[MAXN], dh3[MAXN], sm[MAXN], smb[MAXN];
    float y[3 * MAXN], rstd[3], dx[3 * MAXN], dw[MAXN];
} outs_t;

typedef struct {
    float h1[MAXN], h3[MAXN], dact[MAXN], logits[MAXN], a[MAXN], dr[MAXN];
    float x[3 * MAXN], w[MAXN], dy[3 * MAXN];
} ins_t;

static void run_ops(const k_simd_ops_t *ops, const ins_t *in, int n, outs_t *o) {
    memset(o, 0, sizeof *o);
    ops->swiglu(o->sw, in->h1, in->h3, (size_t)n);
    ops->swiglu_backward(o->dh1, o->dh3, in->dact, in->h1, in->h3, (size_t)n);
    memcpy(o->sm, in->logits, sizeof(float) * n);
    ops->softmax(o->sm, n);
    memcpy(o->smb, in->dr, sizeof(float) * n);
    ops->softmax_backward(o->smb, in->a, n);
    ops->rmsnorm(o->y, o->rstd, in->x, in->w, 3, n, 1e-5f);
    ops->rmsnorm_backward(o->dx, o->dw, in->dy, in->x, in->w, o->rstd, 3, n);
}

static void make_inputs(ins_t *in, int n, aha_rng_t *rng) {
    fill(in->h1, n, rng, 3.0f);
    fill(in->h3, n, rng, 1.0f);
    fill(in->dact, n, rng, 1.0f);
    fill(in->logits, n, rng, 4.0f);
    fill(in->dr, n, rng, 1.0f);
    fill(in->x, 3 * n, rng, 1.5f);
    fill(in->w, n, rng, 0.5f);
    fill(in->dy, 3 * n, rng, 1.0f);
    /* a: a softmax row */
    double s = 0;
    for (int i = 0; i < n; i++)
        s += in->a[i] = (float)exp(aha_rng_normal(rng));
    for (int i = 0; i < n; i++)
        in->a[i] = (float)(in->a[i] / s);
}

static double rel(double got, double ref, double floor_) {
    return fabs(got - ref) / fmax(fabs(ref), floor_);
}

static void test_reference(void) {
    static ins_t in;
    static outs_t o;
    aha_rng_t rng;
    aha_rng_seed(&rng, 5);
    double w[6] = {0}; /* swiglu, its backward, softmax, its backward, rmsnorm, its backward */
    for (int s = 0; s < NS; s++) {
        const int n = sizes[s];
        make_inputs(&in, n, &rng);
        run_ops(k_simd_path(K_SIMD_BASE), &in, n, &o);
        double mx = in.logits[0], sum = 0, dot = 0;
        for (int i = 1; i < n; i++)
            mx = fmax(mx, in.logits[i]);
        for (int i = 0; i < n; i++)
            sum += exp(in.logits[i] - mx);
        for (int i = 0; i < n; i++)
            dot += (double)in.a[i] * in.dr[i];
        for (int i = 0; i < n; i++) {
            double z = in.h1[i], sg = 1.0 / (1.0 + exp(-z));
            w[0] = fmax(w[0], rel(o.sw[i], z * sg * in.h3[i], 1e-3));
            w[1] = fmax(w[1], rel(o.dh3[i], in.dact[i] * z * sg, 1e-3));
            w[1] = fmax(w[1], rel(o.dh1[i], in.dact[i] * in.h3[i] * sg * (1 + z * (1 - sg)), 1e-3));
            w[2] = fmax(w[2], rel(o.sm[i], exp(in.logits[i] - mx) / sum, 1e-6));
            w[3] = fmax(w[3], rel(o.smb[i], in.a[i] * (in.dr[i] - dot), 1e-6));
        }
        for (int r = 0; r < 3; r++) {
            const float *x = in.x + r * n, *dy = in.dy + r * n;
            double ss = 0, d = 0;
            for (int i = 0; i < n; i++) {
                ss += (double)x[i] * x[i];
                d += (double)dy[i] * in.w[i] * x[i];
            }
            double rs = 1.0 / sqrt(ss / n + 1e-5);
            w[4] = fmax(w[4], rel(o.rstd[r], rs, 1e-6));
            for (int i = 0; i < n; i++) {
                w[4] = fmax(w[4], rel(o.y[r * n + i], x[i] * rs * in.w[i], 1e-3));
                w[5] = fmax(w[5], rel(o.dx[r * n + i],
                                      rs * in.w[i] * dy[i] - x[i] * d * rs * rs * rs / n, 1e-3));
            }
        }
    }
    static const char *const kname[6] = {"swiglu",           "swiglu_backward", "softmax",
                                         "softmax_backward", "rmsnorm",         "rmsnorm_backward"};
    printf("[reference] baseline kernels vs double, max relative error:");
    for (int k = 0; k < 6; k++)
        printf(" %s %.3g", kname[k], w[k]);
    printf("\n");
    /* forwards to a few float roundings; the backwards subtract nearly equal terms (a - b with
     * |a - b| << |a|), so their relative error is larger where the result is small */
    for (int k = 0; k < 6; k++)
        CHECK(w[k] <= (k % 2 ? 1e-4 : 2e-6), "%s differs from the double reference by %g", kname[k],
              w[k]);
}

static void test_paths_bitwise(void) {
    static ins_t in;
    static outs_t base, other;
    printf("[paths] chosen: %s;", k_simd_name(k_simd_level()));
    for (int level = K_SIMD_BASE + 1; level < K_SIMD_LEVELS; level++) {
        const k_simd_ops_t *ops = k_simd_path(level);
        printf(" %s %s", k_simd_name(level), ops ? "tested" : "not on this CPU");
        if (!ops) continue;
        aha_rng_t rng;
        aha_rng_seed(&rng, 6);
        for (int s = 0; s < NS; s++) {
            const int n = sizes[s];
            make_inputs(&in, n, &rng);
            run_ops(k_simd_path(K_SIMD_BASE), &in, n, &base);
            run_ops(ops, &in, n, &other);
            CHECK(memcmp(&base, &other, sizeof base) == 0,
                  "path %s differs from the baseline at n = %d", k_simd_name(level), n);
        }
    }
    printf("\n");
    CHECK(k_simd() == k_simd_path(k_simd_level()), "the chosen path is not its level's");
}

/* The decoding matmul: against a double reference; every path bit for bit; each output row the
 * same bits whatever the number of rows computed with it (1, the row alone, up to 19 rows: all
 * tile shapes and tails); beta = 0 does not read y (NaN there stays out), beta != 0 adds. */
static void test_matmul(void) {
    enum { MR = 19, MI = 70, MO = 37 };
    static float x[MR * MI], w[MO * MI], y[MR * MO], y1[MO], yp[MR * MO], yb[MR * MO];
    static const int ins[] = {1, 15, 16, 17, 33, 64, 70}, outs[] = {1, 3, 4, 9, 16, 17, 37};
    aha_rng_t rng;
    aha_rng_seed(&rng, 7);
    fill(x, MR * MI, &rng, 1.0f);
    fill(w, MO * MI, &rng, 0.3f);
    const k_simd_ops_t *base = k_simd_path(K_SIMD_BASE);
    double worst = 0;
    int row_diff = 0, path_diff = 0, cases = 0;
    for (size_t a = 0; a < sizeof ins / sizeof *ins; a++)
        for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
            for (int N = 1; N <= MR; N += (N < 5 ? 1 : 7)) {
                const int In = ins[a], O = outs[b];
                for (int i = 0; i < N * O; i++)
                    y[i] = NAN;
                base->matmul(y, x, w, N, In, O, 0.0f);
                for (int r = 0; r < N; r++)
                    for (int o = 0; o < O; o++) {
                        double ref = 0, mag = 0; /* error relative to sum |x_i w_i| */
                        for (int i = 0; i < In; i++) {
                            ref += (double)x[r * In + i] * w[o * In + i];
                            mag += fabs((double)x[r * In + i] * w[o * In + i]);
                        }
                        worst = fmax(worst, fabs(y[r * O + o] - ref) / mag);
                    }
                for (int r = 0; r < N; r++) {
                    base->matmul(y1, x + r * In, w, 1, In, O, 0.0f);
                    row_diff += memcmp(y1, y + r * O, sizeof(float) * O) != 0;
                }
                for (int level = K_SIMD_BASE + 1; level < K_SIMD_LEVELS; level++) {
                    const k_simd_ops_t *ops = k_simd_path(level);
                    if (!ops) continue;
                    ops->matmul(yp, x, w, N, In, O, 0.0f);
                    path_diff += memcmp(yp, y, sizeof(float) * N * O) != 0;
                }
                /* beta: y = x W^T + 0.5 y */
                for (int i = 0; i < N * O; i++)
                    yb[i] = 2.0f;
                base->matmul(yb, x, w, N, In, O, 0.5f);
                for (int i = 0; i < N * O; i++)
                    worst = fmax(worst, rel(yb[i], (double)y[i] + 1.0, 1.0));
                cases++;
            }
    printf(
        "[matmul] %d shapes: max error vs double / sum |x_i w_i| %.3g, rows differing from the row "
        "alone %d, paths differing %d\n",
        cases, worst, row_diff, path_diff);
    CHECK(worst <= 1e-6, "matmul differs from the double reference by %g", worst);
    CHECK(row_diff == 0, "%d rows depend on the other rows of the call", row_diff);
    CHECK(path_diff == 0, "%d shapes differ between the paths", path_diff);
}

/* Attention of one query over P positions (keys transposed, values row-major): against a double
 * reference and every path bit for bit. */
static void test_attend(void) {
    enum { HD = 32, MT = 70, LDV = 3 * HD };
    static float q[HD], kt[HD * MT], v[MT * LDV], out[HD], sc[MT], outp[HD], scp[MT];
    aha_rng_t rng;
    aha_rng_seed(&rng, 8);
    fill(q, HD, &rng, 1.0f);
    fill(kt, HD * MT, &rng, 1.0f);
    fill(v, MT * LDV, &rng, 1.0f);
    const float scale = 1.0f / sqrtf((float)HD);
    double worst = 0;
    int path_diff = 0;
    for (int P = 1; P <= MT; P += 3)
        for (int hd = 2; hd <= HD; hd += 15) {
            k_simd_path(K_SIMD_BASE)->attend(out, sc, q, kt, v, P, hd, MT, LDV, scale);
            double s[MT], mx = -1e30, sum = 0;
            for (int j = 0; j < P; j++) {
                s[j] = 0;
                for (int d = 0; d < hd; d++)
                    s[j] += (double)q[d] * kt[d * MT + j];
                s[j] *= scale;
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j < P; j++)
                sum += s[j] = exp(s[j] - mx);
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int j = 0; j < P; j++)
                    o += s[j] / sum * v[j * LDV + d];
                worst = fmax(worst, rel(out[d], o, 1.0)); /* values ~ N(0, 1) */
            }
            for (int level = K_SIMD_BASE + 1; level < K_SIMD_LEVELS; level++) {
                const k_simd_ops_t *ops = k_simd_path(level);
                if (!ops) continue;
                ops->attend(outp, scp, q, kt, v, P, hd, MT, LDV, scale);
                path_diff += memcmp(outp, out, sizeof(float) * hd) != 0 ||
                             memcmp(scp, sc, sizeof(float) * P) != 0;
            }
        }
    printf("[attend] max error vs double (relative above 1) %.3g, paths differing %d\n", worst,
           path_diff);
    CHECK(worst <= 1e-5, "attend differs from the double reference by %g", worst);
    CHECK(path_diff == 0, "%d attention shapes differ between the paths", path_diff);
}

/* attend_rows: R <= K_ATTEND_ROWS rows of one head, a shared prefix of Ps positions read from
 * one cache, the rest from each row's own (which holds the same prefix bits): every row's output
 * and scores are attend's for that row alone, bit for bit, on every path, for R = 1..4, prefixes
 * of 0 .. all positions, unequal row lengths and head sizes around the 16/32-wide tiles. */
static void test_attend_rows(void) {
    enum { HD = 48, MT = 70, LDV = 2 * HD, R4 = K_ATTEND_ROWS, LDSC = MT + 16 };
    const size_t kn = (size_t)HD * MT + K_ATTEND_PAD, vn = (size_t)MT * LDV + K_ATTEND_PAD;
    float *kt_s = calloc(kn, sizeof(float)), *v_s = calloc(vn, sizeof(float));
    float *kt[R4], *v[R4], q[R4][HD], out[R4][HD], ref[HD], sc[R4 * LDSC], scr[MT];
    aha_rng_t rng;
    aha_rng_seed(&rng, 9);
    fill(kt_s, HD * MT, &rng, 1.0f);
    fill(v_s, MT * LDV, &rng, 1.0f);
    for (int r = 0; r < R4; r++) {
        kt[r] = calloc(kn, sizeof(float));
        v[r] = calloc(vn, sizeof(float));
        fill(kt[r], HD * MT, &rng, 1.0f);
        fill(v[r], MT * LDV, &rng, 1.0f);
        fill(q[r], HD, &rng, 1.0f);
    }
    int cases = 0, differ = 0;
    const int prefixes[] = {0, 1, 15, 16, 17, 32, 40, 64};
    for (size_t pi = 0; pi < sizeof prefixes / sizeof *prefixes; pi++)
        for (int R = 1; R <= R4; R++)
            for (int hd = 2; hd <= HD; hd += 15) { /* 2, 17, 32, 47 */
                const int Ps = prefixes[pi];
                int P[R4];
                for (int r = 0; r < R; r++) { /* lengths Ps .. MT, unequal */
                    P[r] = Ps + (int)aha_rng_below(&rng, (uint64_t)(MT - Ps + 1));
                    if (P[r] == 0) P[r] = 1;
                    /* the row's own cache holds the shared prefix's bits */
                    for (int d = 0; d < HD; d++)
                        memcpy(kt[r] + (size_t)d * MT, kt_s + (size_t)d * MT, sizeof(float) * Ps);
                    memcpy(v[r], v_s, sizeof(float) * (size_t)Ps * LDV);
                }
                const float scale = 1.0f / sqrtf((float)hd);
                for (int level = K_SIMD_BASE; level < K_SIMD_LEVELS; level++) {
                    const k_simd_ops_t *ops = k_simd_path(level);
                    if (!ops) continue;
                    float *outp[R4];
                    const float *qp[R4], *ktp[R4], *vp[R4];
                    for (int r = 0; r < R; r++) {
                        outp[r] = out[r];
                        qp[r] = q[r];
                        ktp[r] = kt[r];
                        vp[r] = v[r];
                    }
                    ops->attend_rows(outp, sc, LDSC, qp, kt_s, v_s, Ps, ktp, vp, P, R, hd, MT,
                                     LDV, scale);
                    for (int r = 0; r < R; r++) {
                        k_simd_path(K_SIMD_BASE)->attend(ref, scr, q[r], kt[r], v[r], P[r], hd, MT,
                                                         LDV, scale);
                        cases++;
                        differ += memcmp(ref, out[r], sizeof(float) * hd) != 0 ||
                                  memcmp(scr, sc + (size_t)r * LDSC, sizeof(float) * P[r]) != 0;
                    }
                }
            }
    printf("[attend_rows] %d rows (every path): %d differ from attend alone\n", cases, differ);
    CHECK(cases > 0 && differ == 0, "%d of %d rows of attend_rows differ from attend", differ, cases);
    free(kt_s);
    free(v_s);
    for (int r = 0; r < R4; r++) {
        free(kt[r]);
        free(v[r]);
    }
}

static const tu_case_t cases[] = {
    {"exp", test_exp},       {"reference", test_reference}, {"paths_bitwise", test_paths_bitwise},
    {"matmul", test_matmul}, {"attend", test_attend},        {"attend_rows", test_attend_rows},
};

TU_MAIN(cases)
