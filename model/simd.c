/* model/simd.c — the elementwise kernels of model/simd.h, one C body per kernel compiled for the
 * baseline x86-64 (SSE2), AVX2 and AVX-512 (function attributes), chosen at load time. Built with
 * -O3 -ffp-contract=off -fno-trapping-math (model/CMakeLists.txt): the loops vectorise, no path
 * fuses a multiply-add, and the fixed 16-lane accumulators make every path add in the same order. */
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
        float mx = row[0];                                                                         \
        for (int j = 1; j < n; j++)                                                                \
            mx = row[j] > mx ? row[j] : mx;                                                        \
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
    static const k_simd_ops_t ops_##S = {swiglu_##S,  swiglu_backward_##S,                         \
                                         softmax_##S, softmax_backward_##S,                        \
                                         rmsnorm_##S, rmsnorm_backward_##S};

KERNELS(base, )
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_PATHS 1
KERNELS(avx2, __attribute__((target("avx2"))))
KERNELS(avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))))
#endif

static const char *const names[K_SIMD_LEVELS] = {"base", "avx2", "avx512"};

const char *k_simd_name(int level) {
    return level >= 0 && level < K_SIMD_LEVELS ? names[level] : "?";
}

const k_simd_ops_t *k_simd_path(int level) {
    if (level == K_SIMD_BASE) return &ops_base;
#ifdef HAVE_X86_PATHS
    __builtin_cpu_init();
    if (level == K_SIMD_AVX2 && __builtin_cpu_supports("avx2")) return &ops_avx2;
    if (level == K_SIMD_AVX512 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
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
