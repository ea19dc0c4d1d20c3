/* model/attention_test.c — the training attention (k_attention, k_attention_backward) with its
 * against a plain reference in double.
 *
 *  - reference: full T x T causal attention and its analytic backward in double, itself checked
 *    against central differences of its loss sum(dout * out) (double, h = 1e-5);
 *  - kernels: out, att (the softmax up to the diagonal, zeros after it), dq, dk, dv against the
 *    reference for T of 1, 7, 31, 32, 33, 64, 70, 97 (odd sizes and across 32-position
 *    boundaries), several rows and heads, q, k, v as column blocks of one [B*T, 3C] buffer as the
 *    model stores them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "model/kernels.h"

enum { B_ = 2, NH = 3, HD = 8, C_ = NH * HD, LD = 3 * C_ };
#define REF_TOL 2e-6   /* kernel vs reference: max |diff| / max |reference| */
#define FD_TOL 1e-7    /* reference vs central differences, relative to max(|fd|, 1e-3) */

/* Reference of one (row b, head h): out, att[T*T] (zeros above the diagonal) and, if dout is
 * not NULL, dq, dk, dv, all in double over the float inputs (row stride LD for q/k/v, C_ for
 * out / dout). */
typedef struct {
    const float *q, *k, *v, *dout; /* at the head's first column of row 0 */
} ref_in_t;

static void ref_head(double *out, double *att, double *dq, double *dk, double *dv, ref_in_t in,
                     int T) {
    const double scale = 1.0 / sqrt((double)HD);
    for (int i = 0; i < T; i++) {
        double *a = att + (size_t)i * T, mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < T; j++) {
            a[j] = 0.0;
            if (j > i) continue;
            double s = 0.0;
            for (int d = 0; d < HD; d++)
                s += (double)in.q[(size_t)i * LD + d] * in.k[(size_t)j * LD + d];
            a[j] = s * scale;
            mx = a[j] > mx ? a[j] : mx;
        }
        for (int j = 0; j <= i; j++)
            sum += a[j] = exp(a[j] - mx);
        for (int j = 0; j <= i; j++)
            a[j] /= sum;
        for (int d = 0; d < HD; d++) {
            double o = 0.0;
            for (int j = 0; j <= i; j++)
                o += a[j] * in.v[(size_t)j * LD + d];
            out[(size_t)i * HD + d] = o;
        }
    }
    if (!in.dout) return;
    memset(dq, 0, sizeof(double) * (size_t)T * HD);
    memset(dk, 0, sizeof(double) * (size_t)T * HD);
    memset(dv, 0, sizeof(double) * (size_t)T * HD);
    double *ds = malloc(sizeof(double) * (size_t)T);
    for (int i = 0; i < T; i++) {
        const double *a = att + (size_t)i * T;
        const float *go = in.dout + (size_t)i * C_;
        double dot = 0.0;
        for (int j = 0; j <= i; j++) {
            double da = 0.0;
            for (int d = 0; d < HD; d++)
                da += (double)go[d] * in.v[(size_t)j * LD + d];
            ds[j] = da;
            dot += a[j] * da;
        }
        for (int j = 0; j <= i; j++) {
            ds[j] = a[j] * (ds[j] - dot) * scale;
            for (int d = 0; d < HD; d++) {
                dq[(size_t)i * HD + d] += ds[j] * in.k[(size_t)j * LD + d];
                dk[(size_t)j * HD + d] += ds[j] * in.q[(size_t)i * LD + d];
                dv[(size_t)j * HD + d] += a[j] * go[d];
            }
        }
    }
    free(ds);
}

static void fill(float *x, size_t n, aha_rng_t *rng, float amp) {
    for (size_t i = 0; i < n; i++)
        x[i] = amp * (2.0f * (float)aha_rng_uniform(rng) - 1.0f);
}

/* loss = sum(dout * out) of the reference for one head. */
static double ref_loss(ref_in_t in, int T, double *out, double *att) {
    ref_head(out, att, NULL, NULL, NULL, (ref_in_t){in.q, in.k, in.v, NULL}, T);
    double l = 0.0;
    for (int i = 0; i < T; i++)
        for (int d = 0; d < HD; d++)
            l += in.dout[(size_t)i * C_ + d] * out[(size_t)i * HD + d];
    return l;
}

/* The reference's gradients against central differences of its loss (every q, k, v coordinate
 * of one head, T = 9). */
static void test_reference_fd(void) {
    aha_rng_t rng;
    aha_rng_seed(&rng, 7);
    const int T = 9;
    float *qkv = malloc(sizeof(float) * T * LD), *dout = malloc(sizeof(float) * T * C_);
    fill(qkv, (size_t)T * LD, &rng, 1.5f);
    fill(dout, (size_t)T * C_, &rng, 1.0f);
    double *out = malloc(sizeof(double) * T * HD), *att = malloc(sizeof(double) * T * T);
    double *g[3];
    for (int w = 0; w < 3; w++)
        g[w] = malloc(sizeof(double) * T * HD);
    ref_in_t in = {qkv, qkv + C_, qkv + 2 * C_, dout};
    ref_head(out, att, g[0], g[1], g[2], in, T);
    /* a step that float adds exactly to |x| <= 1.5 (a multiple of its ulp) */
    const float h = 1.0f / 4096.0f;
    double worst = 0.0;
    for (int w = 0; w < 3; w++)
        for (int i = 0; i < T; i++)
            for (int d = 0; d < HD; d++) {
                float *x = qkv + (size_t)i * LD + (size_t)w * C_ + d, x0 = *x;
                *x = x0 + h;
                double lp = ref_loss(in, T, out, att);
                *x = x0 - h;
                double lm = ref_loss(in, T, out, att);
                *x = x0 + 2 * h;
                double lp2 = ref_loss(in, T, out, att);
                *x = x0 - 2 * h;
                double lm2 = ref_loss(in, T, out, att);
                *x = x0;
                /* Richardson: (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h, error O(h^4) */
                double fd = (8.0 * (lp - lm) - (lp2 - lm2)) / (12.0 * h);
                double an = g[w][(size_t)i * HD + d];
                double err = fabs(fd - an) / fmax(fabs(fd), 1e-3);
                worst = fmax(worst, err);
                CHECK(err <= FD_TOL, "reference grad %c[%d][%d]: analytic %.9g fd %.9g", "qkv"[w],
                      i, d, an, fd);
            }
    printf("[reference] T=%d worst relative error against central differences %.3g\n", T, worst);
    AHA_FREE(qkv, dout, out, att, g[0], g[1], g[2]);
}

/* max |x - ref| / max |ref| over n values (x float with stride, ref double dense [n/HD, HD]). */
static double rel_err(const float *x, size_t ldx, const double *ref, int rows) {
    double md = 0.0, mr = 0.0;
    for (int i = 0; i < rows; i++)
        for (int d = 0; d < HD; d++) {
            md = fmax(md, fabs(x[(size_t)i * ldx + d] - ref[(size_t)i * HD + d]));
            mr = fmax(mr, fabs(ref[(size_t)i * HD + d]));
        }
    return md / fmax(mr, 1e-30);
}

static void check_T(int T, aha_rng_t *rng) {
    const size_t N = (size_t)B_ * T;
    float *qkv = malloc(sizeof(float) * N * LD), *dqkv = malloc(sizeof(float) * N * LD);
    float *out = malloc(sizeof(float) * N * C_), *dout = malloc(sizeof(float) * N * C_);
    float *att = malloc(sizeof(float) * (size_t)B_ * NH * T * T);
    float *scratch = malloc(sizeof(float) * (size_t)T * T);
    fill(qkv, N * LD, rng, 1.5f);
    fill(dout, N * C_, rng, 1.0f);
    /* what the kernels must not write stays NaN; what they must write is overwritten */
    for (size_t i = 0; i < (size_t)B_ * NH * T * T; i++)
        att[i] = NAN;
    for (size_t i = 0; i < N * LD; i++)
        dqkv[i] = NAN;
    k_attention(out, att, qkv, qkv + C_, qkv + 2 * C_, LD, B_, T, NH, HD);
    k_attention_backward(dqkv, dqkv + C_, dqkv + 2 * C_, scratch, dout, att, qkv, qkv + C_,
                         qkv + 2 * C_, LD, B_, T, NH, HD);
    double *ro = malloc(sizeof(double) * T * HD), *ra = malloc(sizeof(double) * T * T);
    double *rg[3];
    for (int w = 0; w < 3; w++)
        rg[w] = malloc(sizeof(double) * T * HD);
    double worst[5] = {0};
    for (int b = 0; b < B_; b++)
        for (int h = 0; h < NH; h++) {
            const size_t in0 = (size_t)b * T * LD + (size_t)h * HD;
            const size_t out0 = (size_t)b * T * C_ + (size_t)h * HD;
            ref_in_t in = {qkv + in0, qkv + in0 + C_, qkv + in0 + 2 * C_, dout + out0};
            ref_head(ro, ra, rg[0], rg[1], rg[2], in, T);
            worst[0] = fmax(worst[0], rel_err(out + out0, C_, ro, T));
            for (int w = 0; w < 3; w++)
                worst[1 + w] = fmax(worst[1 + w], rel_err(dqkv + in0 + (size_t)w * C_, LD, rg[w], T));
            const float *A = att + ((size_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                for (int j = 0; j < T; j++) {
                    double e = fabs(A[(size_t)i * T + j] - ra[(size_t)i * T + j]);
                    worst[4] = fmax(worst[4], isnan(e) ? INFINITY : e);
                }
            }
        }
    const char *what[5] = {"out", "dq", "dk", "dv", "att"};
    for (int w = 0; w < 5; w++)
        CHECK(worst[w] <= REF_TOL, "T=%d %s: error %.3g against the reference", T, what[w],
              worst[w]);
    printf("[T=%d] out %.2g dq %.2g dk %.2g dv %.2g att %.2g\n", T, worst[0], worst[1], worst[2],
           worst[3], worst[4]);
    AHA_FREE(qkv, dqkv, out, dout, att, scratch, ro, ra, rg[0], rg[1], rg[2]);
}

static void test_kernels(void) {
    aha_rng_t rng;
    aha_rng_seed(&rng, 11);
    const int Ts[] = {1, 7, 31, 32, 33, 64, 70, 97};
    for (size_t t = 0; t < sizeof Ts / sizeof Ts[0]; t++)
        check_T(Ts[t], &rng);
}

static const tu_case_t cases[] = {{"reference_fd", test_reference_fd}, {"kernels", test_kernels}};
TU_MAIN(cases)
