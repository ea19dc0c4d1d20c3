/* model/model_testutil.h — small helpers shared by the model/ unit tests (header only). */
#ifndef AHA_MODEL_TESTUTIL_H
#define AHA_MODEL_TESTUTIL_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"

#define TU_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define TU_OK(call)                                                                                \
    do {                                                                                           \
        int tu_rc_ = (call);                                                                       \
        if (tu_rc_ < 0) {                                                                          \
            fprintf(stderr, "%s:%d: %s failed: %s\n%s\n", __FILE__, __LINE__, #call,               \
                    aha_strerror(tu_rc_), aha_last_error());                                       \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* A tiny MoE config (D=16, 2 heads, 4 experts, top-2) for fast exact tests. */
static inline void tu_tiny_config(aha_model_config_t *c) {
    aha_model_config_default(c);
    c->vocab_size = 11;
    c->dim = 16;
    c->n_layers = 2;
    c->n_heads = 2;
    c->max_seq_len = 16;
    c->ffn_hidden = 12;
    c->n_dense_layers = 0;
    c->n_routed_experts = 4;
    c->n_shared_experts = 1;
    c->top_k = 2;
    c->moe_hidden = 6;
    c->seq_aux_alpha = 0.1f;
}

/* Random parameters with a larger spread than the training init (so routing, attention and
 * norms all matter): matrices N(0, std), norm weights 1 + N(0, 0.1), expert bias N(0, bias_std). */
static inline void tu_init(aha_model_t *m, aha_rng_t *rng, float std, float bias_std) {
    size_t nt = aha_model_tensor_count(&m->cfg);
    for (size_t i = 0; i < nt; i++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(&m->cfg, i, &ti) < 0) return;
        float *p = m->params + ti.offset;
        for (size_t j = 0; j < ti.numel; j++)
            p[j] = ti.ndim == 1 ? 1.0f + 0.1f * aha_rng_normal(rng) : std * aha_rng_normal(rng);
    }
    size_t nb = (size_t)m->cfg.n_layers * m->cfg.n_routed_experts;
    for (size_t i = 0; i < nb; i++)
        m->expert_bias[i] = bias_std * aha_rng_normal(rng);
}

static inline double tu_max_abs_diff(const float *a, const float *b, size_t n) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > mx || isnan(d)) mx = isnan(d) ? INFINITY : d;
    }
    return mx;
}

#endif
