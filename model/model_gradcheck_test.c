/* model/model_gradcheck_test.c — aha_backward against finite differences.
 *
 * Loss = sum(R * logits) + aux_loss (+ cross-entropy in some cases), R a fixed random projection,
 * evaluated in double from the float32 logits, for several tiny configurations (MoE sigmoid +
 * norm_topk, MoE softmax without shared expert, dense, dense-then-MoE, top-1), with padded rows,
 * nonzero expert bias and seq_aux_alpha > 0. For every tensor:
 *  - up to 30 random coordinates: central differences at h and 2h combined by Richardson
 *    extrapolation, |fd - grad| <= 1e-2 * max(|fd|, |grad|) + 5e-4;
 *  - one random unit direction u over the whole tensor: same test on grad . u.
 * Top-k routing is piecewise constant, so a perturbation that changes any routed expert id is
 * discarded (another coordinate drawn / the step halved). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"
#include "core/testutil.h"

#define B_ 3
#define T_ 6
#define COORDS 30
#define EPS 8e-3f
#define RTOL 1e-2
#define ATOL 5e-4
#define DIR_STEP 2e-2f /* norm of the directional perturbation */
#define DIR_RTOL 1e-2

typedef struct {
    aha_model_t *m;
    aha_acts_t *a;
    aha_batch_t batch;
    const float *R;     /* [N*V] projection */
    const int *targets; /* or NULL */
    int n_ids;
} gc_t;

/* Forward + loss in double. */
static void eval_loss(gc_t *g, double *loss) {
    REQUIRE_OK(aha_forward(g->m, g->a, &g->batch));
    const float *lg = aha_acts_logits(g->a);
    size_t n = (size_t)g->batch.B * g->batch.T * g->m->cfg.vocab_size;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g->R[i] * lg[i];
    s += aha_acts_aux_loss(g->a);
    if (g->targets) {
        float ce;
        REQUIRE_OK(aha_ce_loss(g->a, g->targets, &ce));
        s += ce;
    }
    *loss = s;
}

/* Directional check of one tensor: perturbs all its coordinates along a random unit direction
 * u (entries +-1/sqrt(n)) and compares the Richardson-extrapolated difference quotient with
 * grad . u. The step is halved while the perturbation changes the routing (and a new direction
 * drawn after 10 halvings). Returns err / tolerance, or -1 when no step kept the routing. */
static double check_direction(gc_t *g, const aha_tensor_info_t *ti, const float *grad,
                              const int *ids0, aha_rng_t *rng, double *an_out, double *fd_out) {
    float *p = g->m->params + ti->offset;
    float *saved = malloc(sizeof(float) * ti->numel), *u = malloc(sizeof(float) * ti->numel);
    memcpy(saved, p, sizeof(float) * ti->numel);
    float un = 1.0f / sqrtf((float)ti->numel);
    double result = -1.0;
    for (int dir = 0; dir < 4 && result < 0.0; dir++) {
        double an = 0.0;
        for (size_t i = 0; i < ti->numel; i++) {
            u[i] = aha_rng_below(rng, 2) ? un : -un;
            an += (double)grad[ti->offset + i] * u[i];
        }
        for (float h = DIR_STEP; h > DIR_STEP / 1024; h *= 0.5f) {
            const float steps[4] = {h, -h, 2 * h, -2 * h};
            double L4[4];
            int changed = 0;
            for (int s = 0; s < 4 && !changed; s++) {
                for (size_t i = 0; i < ti->numel; i++)
                    p[i] = saved[i] + steps[s] * u[i];
                eval_loss(g, &L4[s]);
                changed = g->n_ids &&
                          memcmp(ids0, aha_acts_expert_ids(g->a), sizeof(int) * g->n_ids) != 0;
            }
            if (changed) continue;
            double fd1 = (L4[0] - L4[1]) / (2.0 * h), fd2 = (L4[2] - L4[3]) / (4.0 * h);
            double fd = (4.0 * fd1 - fd2) / 3.0;
            *an_out = an;
            *fd_out = fd;
            /* rounding noise of the difference quotient grows like 1/h */
            result = fabs(fd - an) / (DIR_RTOL * fmax(fabs(fd), fabs(an)) + ATOL * (DIR_STEP / h));
            break;
        }
    }
    memcpy(p, saved, sizeof(float) * ti->numel);
    free(saved);
    free(u);
    return result;
}

/* Offset of tensor NAME in the table, or (size_t)-1. */
static size_t find_tensor(const aha_model_config_t *c, const char *name) {
    size_t nt = aha_model_tensor_count(c);
    for (size_t i = 0; i < nt; i++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(c, i, &ti) == 0 && strcmp(ti.name, name) == 0) return ti.offset;
    }
    return (size_t)-1;
}

/* The view PTR (into BASE, params or grads) starts where the table puts the tensor named by FMT. */
static void check_at(const aha_model_config_t *c, const float *base, const float *ptr,
                     const char *fmt, ...) {
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    REQUIRE((size_t)(ptr - base) == find_tensor(c, name), "view of %s", name);
}

/* The named views (params and grads) point where the tensor table says; the table tiles the
 * buffer exactly. */
static void check_views(const aha_model_t *m) {
    const aha_model_config_t *c = &m->cfg;
    size_t nt = aha_model_tensor_count(c), end = 0;
    for (size_t i = 0; i < nt; i++) {
        aha_tensor_info_t ti;
        REQUIRE_OK(aha_model_tensor_info(c, i, &ti));
        REQUIRE(ti.offset == end, "tensor %s at %zu, expected %zu", ti.name, ti.offset, end);
        end += ti.numel;
    }
    REQUIRE(end == m->n_params && end == aha_model_param_count(c), "table covers %zu of %zu", end,
            m->n_params);
    aha_tensor_info_t bad;
    REQUIRE(aha_model_tensor_info(c, nt, &bad) == AHA_ERR_RANGE, "index past the end accepted");
    const aha_param_view_t *views[2] = {&m->p, &m->g};
    const float *bases[2] = {m->params, m->grads};
    const char *ffn[3] = {"gate_proj", "up_proj", "down_proj"}; /* w1, w3, w2 */
    for (int w = 0; w < 2; w++) {
        const aha_param_view_t *v = views[w];
        const float *base = bases[w];
        check_at(c, base, v->tok_emb, "model.embed_tokens.weight");
        check_at(c, base, v->final_norm, "model.norm.weight");
        check_at(c, base, v->lm_head, "lm_head.weight");
        for (int l = 0; l < c->n_layers; l++) {
            const aha_layer_view_t *lv = &v->layers[l];
            const char *attn[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
            const float *attn_views[4] = {lv->wq, lv->wk, lv->wv, lv->wo};
            check_at(c, base, lv->attn_norm, "model.layers.%d.input_layernorm.weight", l);
            for (int i = 0; i < 4; i++)
                check_at(c, base, attn_views[i], "model.layers.%d.self_attn.%s.weight", l, attn[i]);
            check_at(c, base, lv->ffn_norm, "model.layers.%d.post_attention_layernorm.weight", l);
            if (!aha_model_layer_is_moe(c, l)) {
                const float *dense[3] = {lv->w1, lv->w3, lv->w2};
                for (int i = 0; i < 3; i++)
                    check_at(c, base, dense[i], "model.layers.%d.mlp.%s.weight", l, ffn[i]);
                REQUIRE(!lv->router && !lv->ex_w1 && !lv->sh_w1, "dense layer has MoE views");
                continue;
            }
            REQUIRE(!lv->w1 && !lv->w2 && !lv->w3, "MoE layer has dense views");
            check_at(c, base, lv->router, "model.layers.%d.mlp.gate.weight", l);
            const float *shared[3] = {lv->sh_w1, lv->sh_w3, lv->sh_w2};
            if (c->n_shared_experts > 0) {
                for (int i = 0; i < 3; i++)
                    check_at(c, base, shared[i], "model.layers.%d.mlp.shared_experts.%s.weight", l,
                             ffn[i]);
            } else {
                REQUIRE(!lv->sh_w1 && !lv->sh_w2 && !lv->sh_w3,
                        "shared views without shared experts");
            }
            size_t HD = (size_t)c->moe_hidden * c->dim;
            const float *experts[3] = {lv->ex_w1, lv->ex_w3, lv->ex_w2};
            for (int e = 0; e < c->n_routed_experts; e++)
                for (int i = 0; i < 3; i++)
                    check_at(c, base, experts[i] + e * HD,
                             "model.layers.%d.mlp.experts.%d.%s.weight", l, e, ffn[i]);
        }
    }
}

static void run_case(const char *label, const aha_model_config_t *cfg, int with_ce, uint64_t seed) {
    aha_rng_t rng;
    aha_model_t *m = tu_init_model(cfg, &rng, seed, 0.3f, 0.05f);
    aha_acts_t *a = NULL;
    REQUIRE_OK(aha_model_alloc_grads(m));
    REQUIRE_OK(aha_acts_new(m, B_, T_, &a));
    check_views(m);
    int N = B_ * T_, V = cfg->vocab_size, K = cfg->top_k > 0 ? cfg->top_k : 0;
    int tokens[B_ * T_], targets[B_ * T_], lengths[B_] = {T_, 4, 5};
    float *R = malloc(sizeof(float) * N * V);
    int n_ids = cfg->n_layers * N * K;
    int *ids0 = malloc(sizeof(int) * (n_ids + 1));
    float *grad = malloc(sizeof(float) * m->n_params);
    for (int i = 0; i < N; i++) {
        tokens[i] = (int)aha_rng_below(&rng, V);
        targets[i] = i % T_ < lengths[i / T_] ? (int)aha_rng_below(&rng, V) : -1;
    }
    for (int i = 0; i < N * V; i++)
        R[i] = 0.5f * aha_rng_normal(&rng);
    gc_t g = {m, a, {B_, T_, tokens, lengths, NULL}, R, with_ce ? targets : NULL, n_ids};

    /* analytic gradient */
    double L0;
    eval_loss(&g, &L0);
    float *dl = aha_acts_dlogits(a);
    for (int i = 0; i < N * V; i++)
        dl[i] += R[i];
    aha_model_zero_grads(m);
    REQUIRE_OK(aha_backward(m, a, &g.batch));
    memcpy(grad, m->grads, sizeof(float) * m->n_params);
    memcpy(ids0, aha_acts_expert_ids(a), sizeof(int) * n_ids);
    printf("[%s] loss %.6f aux %.6f, %zu params\n", label, L0, aha_acts_aux_loss(a), m->n_params);

    /* backward accumulates */
    REQUIRE_OK(aha_backward(m, a, &g.batch));
    for (size_t i = 0; i < m->n_params; i++)
        REQUIRE(fabsf(m->grads[i] - 2.0f * grad[i]) <= 1e-5f * (1.0f + fabsf(grad[i])),
                "second backward does not accumulate at %zu", i);

    size_t nt = aha_model_tensor_count(cfg);
    int fails = 0, checked = 0, skipped = 0;
    double worst = 0.0, worst_dir = 0.0;
    for (size_t ti_i = 0; ti_i < nt; ti_i++) {
        aha_tensor_info_t ti;
        REQUIRE_OK(aha_model_tensor_info(cfg, ti_i, &ti));
        int want = ti.numel < COORDS ? (int)ti.numel : COORDS;
        double tworst = 0.0, tmaxg = 0.0;
        int got = 0;
        for (int attempt = 0; got < want && attempt < 20 * want; attempt++) {
            size_t j = ti.numel <= COORDS && attempt < want ? (size_t)attempt
                                                            : (size_t)aha_rng_below(&rng, ti.numel);
            float *p = m->params + ti.offset + j;
            float orig = *p;
            /* central differences at h and 2h, combined by Richardson extrapolation
             * (4 fd(h) - fd(2h)) / 3, which cancels the O(h^2) truncation error */
            double L4[4];
            const float steps[4] = {EPS, -EPS, 2 * EPS, -2 * EPS};
            int changed = 0;
            for (int s = 0; s < 4; s++) {
                *p = orig + steps[s];
                eval_loss(&g, &L4[s]);
                changed |= memcmp(ids0, aha_acts_expert_ids(a), sizeof(int) * n_ids) != 0;
            }
            *p = orig;
            if (changed) {
                skipped++;
                continue;
            }
            /* actual float steps */
            double h1 = (double)(orig + steps[0]) - (double)(orig + steps[1]);
            double h2 = (double)(orig + steps[2]) - (double)(orig + steps[3]);
            double fd1 = (L4[0] - L4[1]) / h1, fd2 = (L4[2] - L4[3]) / h2;
            double fd = (4.0 * fd1 - fd2) / 3.0;
            double an = grad[ti.offset + j];
            double err = fabs(fd - an) / (RTOL * fmax(fabs(fd), fabs(an)) + ATOL);
            if (err > tworst) tworst = err;
            if (fabs(an) > tmaxg) tmaxg = fabs(an);
            if (err > 1.0) {
                if (fails < 20)
                    fprintf(stderr, "[%s] %s[%zu]: analytic %.6e fd %.6e\n", label, ti.name, j, an,
                            fd);
                fails++;
            }
            got++;
            checked++;
        }
        if (got < want) {
            fprintf(stderr, "[%s] %s: only %d of %d coordinates usable (routing flips)\n", label,
                    ti.name, got, want);
            fails++;
        }
        if (tworst > worst) worst = tworst;
        double dan = 0.0, dfd = 0.0;
        double derr = check_direction(&g, &ti, grad, ids0, &rng, &dan, &dfd);
        if (derr < 0.0 || derr > 1.0) {
            fprintf(stderr, "[%s] %s: directional check %s (grad.u %.6e, fd %.6e)\n", label,
                    ti.name, derr < 0.0 ? "impossible (routing flips)" : "failed", dan, dfd);
            fails++;
        }
        if (derr > worst_dir) worst_dir = derr;
        printf("  %-52s max |grad| %.3e  coords err/tol %.3f  direction err/tol %.3f"
               " (grad.u %.4e fd %.4e)\n",
               ti.name, tmaxg, tworst, derr, dan, dfd);
    }
    printf("[%s] %d coordinates checked, %d skipped (routing flips), worst err/tol %.3f;"
           " %zu directional checks, worst err/tol %.3f; %d failures\n",
           label, checked, skipped, worst, nt, worst_dir, fails);
    /* reload state: the parameters must be unchanged (perturbations undone exactly) */
    double L1;
    eval_loss(&g, &L1);
    REQUIRE(L1 == L0, "parameters not restored (%.9g vs %.9g)", L1, L0);
    free(R);
    free(ids0);
    free(grad);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
    CHECK(fails == 0, "[%s] %d gradient checks failed", label, fails);
}

/* aha_ce_loss: value and gradient against a direct double log-softmax. */
static void check_ce(void) {
    aha_model_config_t c;
    tu_tiny_config(&c);
    aha_rng_t rng;
    aha_model_t *m = tu_init_model(&c, &rng, 99, 0.5f, 0.0f);
    aha_acts_t *a = NULL;
    REQUIRE_OK(aha_acts_new(m, 2, 5, &a));
    int tokens[10], targets[10];
    for (int i = 0; i < 10; i++) {
        tokens[i] = (int)aha_rng_below(&rng, c.vocab_size);
        targets[i] = i % 3 == 0 ? -1 : (int)aha_rng_below(&rng, c.vocab_size);
    }
    aha_batch_t batch = {2, 5, tokens, NULL, NULL};
    float loss = -1.0f;
    CHECK(aha_ce_loss(a, targets, &loss) == AHA_ERR_STATE && loss == -1.0f,
          "aha_ce_loss before a forward is an error and leaves the loss alone");
    REQUIRE_OK(aha_forward(m, a, &batch));
    REQUIRE_OK(aha_ce_loss(a, targets, &loss));
    const float *lg = aha_acts_logits(a);
    const float *dl = aha_acts_dlogits(a);
    int V = c.vocab_size, count = 0;
    double ref = 0.0, gerr = 0.0;
    for (int i = 0; i < 10; i++)
        count += targets[i] >= 0;
    for (int i = 0; i < 10; i++) {
        double mx = -1e30, s = 0.0;
        for (int j = 0; j < V; j++)
            mx = fmax(mx, lg[i * V + j]);
        for (int j = 0; j < V; j++)
            s += exp(lg[i * V + j] - mx);
        double lse = mx + log(s);
        if (targets[i] >= 0) ref += lse - lg[i * V + targets[i]];
        for (int j = 0; j < V; j++) {
            double want =
                targets[i] < 0 ? 0.0 : (exp(lg[i * V + j] - lse) - (j == targets[i])) / count;
            gerr = fmax(gerr, fabs(want - dl[i * V + j]));
        }
    }
    ref /= count;
    printf("[ce] loss %.7f ref %.7f, max dlogits err %.3e\n", loss, ref, gerr);
    REQUIRE(fabs(loss - ref) < 1e-5 * fabs(ref), "ce loss %g vs %g", loss, ref);
    REQUIRE(gerr < 1e-6, "ce gradient error %g", gerr);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
}

/* A case: tu_tiny_config changed by the assignments in ..., checked by run_case. */
#define GC_CASE(fn, label, with_ce, seed, ...)                                                     \
    static void fn(void) {                                                                         \
        aha_model_config_t c;                                                                      \
        tu_tiny_config(&c);                                                                        \
        __VA_ARGS__;                                                                               \
        run_case(label, &c, with_ce, seed);                                                        \
    }

GC_CASE(test_moe_sigmoid_norm, "moe-sigmoid-norm", 1, 1, c.score_func = AHA_SCORE_SIGMOID,
        c.norm_topk_prob = 1, c.routed_scale = 1.5f, c.seq_aux_alpha = 0.1f)
GC_CASE(test_moe_softmax_noshared, "moe-softmax-noshared", 0, 2, c.score_func = AHA_SCORE_SOFTMAX,
        c.norm_topk_prob = 0, c.n_shared_experts = 0, c.routed_scale = 2.0f, c.seq_aux_alpha = 0.2f)
GC_CASE(test_dense, "dense", 1, 3, c.n_routed_experts = 0, c.top_k = 0, c.n_shared_experts = 0)
GC_CASE(test_dense_moe_mixed, "dense+moe-mixed", 0, 4, c.n_dense_layers = 1, c.n_shared_experts = 2,
        c.n_routed_experts = 5, c.top_k = 3, c.score_func = AHA_SCORE_SIGMOID, c.norm_topk_prob = 1,
        c.seq_aux_alpha = 0.3f)
GC_CASE(test_moe_sigmoid_top1, "moe-sigmoid-top1", 0, 5, c.n_layers = 1,
        c.score_func = AHA_SCORE_SIGMOID, c.norm_topk_prob = 0, c.top_k = 1, c.seq_aux_alpha = 0.5f)

static const tu_case_t cases[] = {
    {"ce", check_ce},
    {"moe-sigmoid-norm", test_moe_sigmoid_norm},
    {"moe-softmax-noshared", test_moe_softmax_noshared},
    {"dense", test_dense},
    {"dense+moe-mixed", test_dense_moe_mixed},
    {"moe-sigmoid-top1", test_moe_sigmoid_top1},
};

TU_MAIN(cases)
