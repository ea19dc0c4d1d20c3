/* model/simd_test.c — the SIMD paths of model/simd.h:
 *  - exp: k_expf against libm's expf to 4e-7 relative over [-87, 88], exact at 0, clamped
 *    outside that range, NaN in -> NaN out;
 *  - the baseline kernels against double-precision references (SwiGLU and its backward,
 *    softmax and its backward, RMSNorm and its backward) on sizes around the 16-lane blocks;
 *  - every path this CPU has (avx2, avx512) gives the baseline's results bit for bit, on the
 *    same inputs (the paths must not make a run's numbers depend on the CPU). */
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

static const tu_case_t cases[] = {
    {"exp", test_exp},
    {"reference", test_reference},
    {"paths_bitwise", test_paths_bitwise},
};

TU_MAIN(cases)
