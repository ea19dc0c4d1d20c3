/* model/model_kvcache_test.c — aha_decode_step against aha_forward:
 *  - rows of different lengths decoded token by token give each position's logits of the full
 *    forward (max relative error <= 1e-4) and the same routed expert ids;
 *  - inactive rows are untouched; a full row is AHA_ERR_RANGE; reset empties the cache;
 *  - aha_kv_prefill (in two calls per row, chunked past 64 positions) gives the forward's logits at
 *    the last position and its routed ids; past the capacity or with a bad token it appends
 *    nothing and returns AHA_ERR_RANGE;
 *  - sampling with the same RNG seed twice gives identical tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"
#include "core/testutil.h"

#define B_ 3

static void check_vs_forward(const char *label, const aha_model_config_t *cfg, int T,
                             const int *lengths, uint64_t seed) {
    aha_rng_t rng;
    aha_model_t *m = tu_init_model(cfg, &rng, seed, 0.1f, 0.02f);
    aha_acts_t *a = NULL;
    aha_kv_t *kv = NULL;
    REQUIRE_OK(aha_acts_new(m, B_, T, &a));
    REQUIRE_OK(aha_kv_new(m, B_, T, &kv));
    int N = B_ * T, V = cfg->vocab_size, L = cfg->n_layers, K = cfg->top_k;
    int *tokens = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++)
        tokens[i] = (int)aha_rng_below(&rng, V);
    aha_batch_t batch = {B_, T, tokens, lengths, NULL};
    REQUIRE_OK(aha_forward(m, a, &batch));
    const float *ref = aha_acts_logits(a);
    const int *ref_ids = aha_acts_expert_ids(a);

    float *logits = malloc(sizeof(float) * B_ * V);
    int *ids = malloc(sizeof(int) * (L * B_ * K + 1));
    double worst = 0.0;
    int id_mismatch = 0;
    for (int t = 0; t < T; t++) {
        int step_tok[B_], active[B_];
        for (int b = 0; b < B_; b++) {
            active[b] = t < lengths[b];
            step_tok[b] = tokens[b * T + t];
        }
        for (int i = 0; i < B_ * V; i++)
            logits[i] = NAN;
        REQUIRE_OK(aha_decode_step(m, kv, step_tok, active, logits, ids));
        for (int b = 0; b < B_; b++) {
            REQUIRE(aha_kv_len(kv, b) == (t < lengths[b] ? t + 1 : lengths[b]), "kv len row %d", b);
            if (!active[b]) {
                for (int j = 0; j < V; j++)
                    REQUIRE(isnan(logits[b * V + j]), "inactive row %d written", b);
                for (int l = 0; l < L; l++)
                    for (int k = 0; k < K; k++)
                        REQUIRE(ids[(l * B_ + b) * K + k] == -1, "inactive row %d has ids", b);
                continue;
            }
            const float *r = ref + ((size_t)b * T + t) * V;
            double mx = 0.0, md = 0.0;
            for (int j = 0; j < V; j++) {
                mx = fmax(mx, fabs(r[j]));
                md = fmax(md, fabs((double)r[j] - logits[b * V + j]));
            }
            double rel = md / fmax(mx, 1e-6);
            worst = fmax(worst, rel);
            for (int l = 0; l < L; l++)
                for (int k = 0; k < K; k++)
                    id_mismatch += ids[(l * B_ + b) * K + k] !=
                                   ref_ids[(((size_t)l * B_ + b) * T + t) * K + k];
        }
    }
    printf("[%s] T=%d lengths {%d,%d,%d}: max rel logit err %.3g, expert id mismatches %d\n", label,
           T, lengths[0], lengths[1], lengths[2], worst, id_mismatch);
    REQUIRE(worst <= 1e-4, "decode logits differ from forward (rel %g)", worst);
    REQUIRE(id_mismatch == 0, "%d routed ids differ", id_mismatch);

    /* full rows: the longest row is at T */
    int full = 0;
    for (int b = 1; b < B_; b++)
        if (lengths[b] > lengths[full]) full = b;
    if (lengths[full] == T) {
        int act[B_] = {0}, tok[B_] = {0};
        act[full] = 1;
        int rc = aha_decode_step(m, kv, tok, act, logits, NULL);
        REQUIRE(rc == AHA_ERR_RANGE, "decoding into a full row returned %d", rc);
        rc = aha_decode_step(m, kv, tok, NULL, logits, NULL);
        REQUIRE(rc == AHA_ERR_RANGE, "decoding all rows with one full returned %d", rc);
    }
    aha_kv_reset(kv);
    for (int b = 0; b < B_; b++)
        REQUIRE(aha_kv_len(kv, b) == 0, "reset left row %d", b);
    /* after a reset the first position is reproduced again */
    int tok0[B_];
    for (int b = 0; b < B_; b++)
        tok0[b] = tokens[b * T];
    REQUIRE_OK(aha_decode_step(m, kv, tok0, NULL, logits, NULL));
    for (int b = 0; b < B_; b++)
        REQUIRE(tu_max_abs_diff(logits + b * V, ref + (size_t)b * T * V, V) <=
                    1e-4 * (1.0 + fabs(ref[(size_t)b * T * V])),
                "position 0 after reset differs");

    /* prefill: each row's tokens in two calls (the second continues the first's positions; a
     * call longer than the scratch's rows runs in chunks) give the forward's logits at the last
     * position and its routed ids at every position */
    aha_kv_reset(kv);
    int *pids = malloc(sizeof(int) * ((size_t)L * T * K + 1));
    double pworst = 0.0;
    int pid_mismatch = 0;
    for (int b = 0; b < B_; b++) {
        const int n = lengths[b], h = n / 4;
        if (n == 0) continue;
        if (h > 0) REQUIRE_OK(aha_kv_prefill(m, kv, b, tokens + (size_t)b * T, h, logits, pids));
        REQUIRE_OK(aha_kv_prefill(m, kv, b, tokens + (size_t)b * T + h, n - h, logits, pids));
        REQUIRE(aha_kv_len(kv, b) == n, "prefilled row %d has %d positions", b, aha_kv_len(kv, b));
        const float *r = ref + ((size_t)b * T + n - 1) * V;
        pworst = fmax(pworst, tu_max_rel_err(logits, r, V));
        for (int l = 0; l < L; l++)
            for (int t = h; t < n; t++)
                for (int k = 0; k < K; k++)
                    pid_mismatch += pids[((size_t)l * (n - h) + t - h) * K + k] !=
                                    ref_ids[(((size_t)l * B_ + b) * T + t) * K + k];
    }
    printf("[%s] prefill: max rel logit err %.3g, expert id mismatches %d\n", label, pworst,
           pid_mismatch);
    REQUIRE(pworst <= 1e-4, "prefill logits differ from forward (rel %g)", pworst);
    REQUIRE(pid_mismatch == 0, "%d prefill routed ids differ", pid_mismatch);
    /* a prefill past the row's capacity or with a token outside the vocabulary appends nothing */
    {
        const int len0 = aha_kv_len(kv, 0), bad = V;
        int rc = aha_kv_prefill(m, kv, 0, tokens, T - len0 + 1, logits, NULL);
        REQUIRE(rc == AHA_ERR_RANGE, "prefill past the capacity returned %d", rc);
        rc = len0 < T ? aha_kv_prefill(m, kv, 0, &bad, 1, logits, NULL) : AHA_ERR_RANGE;
        REQUIRE(rc == AHA_ERR_RANGE, "prefill of token %d returned %d", bad, rc);
        REQUIRE(aha_kv_len(kv, 0) == len0, "a refused prefill changed the row's length");
        REQUIRE(aha_kv_prefill(m, kv, B_, tokens, 1, logits, NULL) == AHA_ERR_RANGE, "row B");
    }
    free(pids);

    free(tokens);
    free(logits);
    free(ids);
    aha_kv_destroy(&kv);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
}

/* Generates n tokens per row from prompt token 1 with the sampler; out[B_*n]. */
static void generate(const aha_model_t *m, aha_kv_t *kv, uint64_t seed, int n, int *out) {
    int V = m->cfg.vocab_size;
    float *logits = malloc(sizeof(float) * B_ * V);
    aha_sample_cand_t *scratch = malloc(sizeof *scratch * V);
    int tok[B_];
    aha_rng_t rng[B_];
    for (int b = 0; b < B_; b++) {
        uint64_t id = (uint64_t)b;
        aha_rng_derive(&rng[b], seed, &id, 1);
        tok[b] = 1;
    }
    aha_kv_reset(kv);
    for (int t = 0; t < n; t++) {
        REQUIRE_OK(aha_decode_step(m, kv, tok, NULL, logits, NULL));
        for (int b = 0; b < B_; b++) {
            float lp;
            int s = aha_sample_logits(logits + b * V, V, 0.9f, 0.95f, &rng[b], scratch, &lp);
            REQUIRE_OK(s);
            REQUIRE(s < V && lp <= 0.0f, "bad sample %d (logprob %g)", s, lp);
            tok[b] = s;
            out[b * n + t] = s;
        }
    }
    free(logits);
    free(scratch);
}

static void check_sampling_determinism(void) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    aha_rng_t rng;
    aha_model_t *m = tu_init_model(&c, &rng, 5, 0.1f, 0.0f);
    aha_kv_t *kv = NULL;
    int n = 40;
    REQUIRE_OK(aha_kv_new(m, B_, n, &kv));
    int *s1 = malloc(sizeof(int) * B_ * n), *s2 = malloc(sizeof(int) * B_ * n),
        *s3 = malloc(sizeof(int) * B_ * n);
    generate(m, kv, 1234, n, s1);
    generate(m, kv, 1234, n, s2);
    generate(m, kv, 999, n, s3);
    int same = memcmp(s1, s2, sizeof(int) * B_ * n) == 0;
    int diff = memcmp(s1, s3, sizeof(int) * B_ * n) != 0;
    printf("[sampling] same seed identical %d, other seed differs %d; row 0:", same, diff);
    for (int t = 0; t < 12; t++)
        printf(" %d", s1[t]);
    printf("\n");
    REQUIRE(same, "same seed gave different tokens");
    REQUIRE(diff, "different seeds gave identical tokens");
    free(s1);
    free(s2);
    free(s3);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
}

/* A case: the config from BASE (aha_model_config_default or tu_tiny_config) changed by the
 * assignments in ..., prompts of lengths L0 L1 L2 (<= T), checked by check_vs_forward. */
#define KV_CASE(fn, label, base, T, l0, l1, l2, seed, ...)                                         \
    static void fn(void) {                                                                         \
        aha_model_config_t c;                                                                      \
        base(&c);                                                                                  \
        __VA_ARGS__;                                                                               \
        const int lengths[B_] = {l0, l1, l2};                                                      \
        check_vs_forward(label, &c, T, lengths, seed);                                             \
    }

KV_CASE(test_default, "default", aha_model_config_default, 12, 7, 12, 4, 21, (void)0)
KV_CASE(test_default_long, "default-long", aha_model_config_default, 64, 33, 64, 50, 22, (void)0)
KV_CASE(test_default_chunked, "default-chunked", aha_model_config_default, 100, 100, 70, 3, 25,
        (void)0)
KV_CASE(test_tiny_mixed_softmax, "tiny-mixed-softmax", tu_tiny_config, 9, 5, 1, 9, 23,
        c.n_dense_layers = 1, c.n_layers = 3, c.score_func = AHA_SCORE_SOFTMAX,
        c.norm_topk_prob = 0, c.n_shared_experts = 0)
KV_CASE(test_tiny_dense, "tiny-dense", tu_tiny_config, 8, 8, 8, 2, 24, c.n_routed_experts = 0,
        c.top_k = 0)

static const tu_case_t cases[] = {
    {"default", test_default},
    {"default-long", test_default_long},
    {"default-chunked", test_default_chunked},
    {"tiny-mixed-softmax", test_tiny_mixed_softmax},
    {"tiny-dense", test_tiny_dense},
    {"sampling-determinism", check_sampling_determinism},
};

TU_MAIN(cases)
