/* model/model_routing_replay_test.c — routing record / replay (R3):
 *  - replaying the recorded expert ids reproduces the logits bit for bit;
 *  - forcing other ids changes the logits and is reflected in the routing record and load;
 *  - backward under replay of the recorded ids gives the same gradients as without replay;
 *  - out-of-range replay ids are rejected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"
#include "core/testutil.h"

static void run(const char *label, const aha_model_config_t *cfg, int B, int T, const int *lengths,
                uint64_t seed) {
    aha_rng_t rng;
    aha_model_t *m = tu_init_model(cfg, &rng, seed, 0.1f, 0.02f);
    aha_acts_t *a = NULL;
    REQUIRE_OK(aha_model_alloc_grads(m));
    REQUIRE_OK(aha_acts_new(m, B, T, &a));
    int N = B * T, V = cfg->vocab_size, L = cfg->n_layers, E = cfg->n_routed_experts,
        K = cfg->top_k;
    size_t nlog = (size_t)N * V, nids = (size_t)L * N * K;
    int *tokens = malloc(sizeof(int) * N);
    int *rec = malloc(sizeof(int) * nids), *forced = malloc(sizeof(int) * nids);
    float *logits0 = malloc(sizeof(float) * nlog), *R = malloc(sizeof(float) * nlog);
    float *g0 = malloc(sizeof(float) * m->n_params);
    float load0[64];
    for (int i = 0; i < N; i++)
        tokens[i] = (int)aha_rng_below(&rng, V);
    for (size_t i = 0; i < nlog; i++)
        R[i] = aha_rng_normal(&rng);
    aha_batch_t batch = {B, T, tokens, lengths, NULL};

    /* record */
    REQUIRE_OK(aha_forward(m, a, &batch));
    memcpy(logits0, aha_acts_logits(a), sizeof(float) * nlog);
    memcpy(rec, aha_acts_expert_ids(a), sizeof(int) * nids);
    memcpy(load0, aha_acts_expert_load(a), sizeof(float) * L * E);
    float aux0 = aha_acts_aux_loss(a);
    int valid = 0;
    for (int b = 0; b < B; b++)
        valid += lengths ? lengths[b] : T;
    for (int l = 0; l < L; l++) {
        if (!aha_model_layer_is_moe(cfg, l)) {
            for (int i = 0; i < N * K; i++)
                REQUIRE(rec[(size_t)l * N * K + i] == -1, "dense layer %d has routed ids", l);
            continue;
        }
        float tot = 0.0f;
        for (int e = 0; e < E; e++)
            tot += load0[l * E + e];
        REQUIRE(tot == (float)(valid * K), "layer %d load %g != valid*K = %d", l, tot, valid * K);
        for (int i = 0; i < N; i++) {
            int pad = lengths && i % T >= lengths[i / T];
            for (int k = 0; k < K; k++) {
                int id = rec[((size_t)l * N + i) * K + k];
                REQUIRE(pad ? id == -1 : (id >= 0 && id < E), "bad recorded id %d (l %d row %d)",
                        id, l, i);
            }
        }
    }
    /* gradients without replay */
    memcpy(aha_acts_dlogits(a), R, sizeof(float) * nlog);
    aha_model_zero_grads(m);
    REQUIRE_OK(aha_backward(m, a, &batch));
    memcpy(g0, m->grads, sizeof(float) * m->n_params);

    /* replay the record: bit-identical logits, ids, aux, gradients */
    batch.replay_ids = rec;
    REQUIRE_OK(aha_forward(m, a, &batch));
    int same_logits = memcmp(logits0, aha_acts_logits(a), sizeof(float) * nlog) == 0;
    int same_ids = memcmp(rec, aha_acts_expert_ids(a), sizeof(int) * nids) == 0;
    printf("[%s] replay: logits identical %d (max diff %.3g), ids identical %d, aux %.9g vs %.9g\n",
           label, same_logits, tu_max_abs_diff(logits0, aha_acts_logits(a), nlog), same_ids,
           aha_acts_aux_loss(a), aux0);
    REQUIRE(same_logits, "replayed logits differ");
    REQUIRE(same_ids, "replayed routing record differs");
    REQUIRE(aha_acts_aux_loss(a) == aux0, "aux loss differs under replay");
    memcpy(aha_acts_dlogits(a), R, sizeof(float) * nlog);
    aha_model_zero_grads(m);
    REQUIRE_OK(aha_backward(m, a, &batch));
    double gd = tu_max_abs_diff(g0, m->grads, m->n_params);
    printf("[%s] replay: max grad diff %.3g\n", label, gd);
    REQUIRE(memcmp(g0, m->grads, sizeof(float) * m->n_params) == 0, "replay gradients differ");

    /* forced different ids (shift by one expert: still distinct within a token) */
    for (size_t i = 0; i < nids; i++)
        forced[i] = rec[i] < 0 ? 0 : (rec[i] + 1) % E;
    /* first valid slot of the first MoE layer (row 0 position 0 is always valid) */
    int first_valid_slot = 0;
    while (first_valid_slot < (int)nids && rec[first_valid_slot] < 0)
        first_valid_slot += N * K;
    batch.replay_ids = forced;
    REQUIRE_OK(aha_forward(m, a, &batch));
    double dforced = tu_max_abs_diff(logits0, aha_acts_logits(a), nlog);
    printf("[%s] forced ids: max logit change %.3g\n", label, dforced);
    REQUIRE(dforced > 1e-6, "forcing other experts did not change the logits");
    const int *ids = aha_acts_expert_ids(a);
    for (size_t i = 0; i < nids; i++)
        REQUIRE(ids[i] == (rec[i] < 0 ? -1 : forced[i]), "record under replay at %zu: %d vs %d", i,
                ids[i], forced[i]);
    const float *load = aha_acts_expert_load(a);
    for (int l = 0; l < L; l++)
        for (int e = 0; e < E && aha_model_layer_is_moe(cfg, l); e++)
            REQUIRE(load[l * E + e] == load0[l * E + (e + E - 1) % E],
                    "forced load mismatch l %d e %d", l, e);
    /* backward under forced ids works and differs */
    memcpy(aha_acts_dlogits(a), R, sizeof(float) * nlog);
    aha_model_zero_grads(m);
    REQUIRE_OK(aha_backward(m, a, &batch));
    REQUIRE(tu_max_abs_diff(g0, m->grads, m->n_params) > 0.0, "forced-route grads identical");

    /* out-of-range replay id */
    forced[first_valid_slot] = E;
    int rc = aha_forward(m, a, &batch);
    REQUIRE(rc == AHA_ERR_ARG, "replay id E accepted (rc %d)", rc);
    forced[first_valid_slot] = -3;
    rc = aha_forward(m, a, &batch);
    REQUIRE(rc == AHA_ERR_ARG, "replay id -3 accepted (rc %d)", rc);
    rc = aha_backward(m, a, &batch);
    REQUIRE(rc == AHA_ERR_STATE, "backward after a failed forward accepted (rc %d)", rc);

    free(tokens);
    free(rec);
    free(forced);
    free(logits0);
    free(R);
    free(g0);
    aha_acts_destroy(&a);
    aha_model_destroy(&m);
}

/* Config validation, default size, expert-bias update. */
static void check_misc(void) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    REQUIRE_OK(aha_model_config_validate(&c));
    CHECK(c.vocab_size == 105 && c.dim == 128 && c.n_layers == 2 && c.n_heads == 4 &&
              c.max_seq_len == 128 && c.ffn_hidden == 256 && c.n_dense_layers == 0 &&
              c.n_routed_experts == 8 && c.n_shared_experts == 1 && c.top_k == 2 &&
              c.moe_hidden == 128 && c.score_func == AHA_SCORE_SIGMOID && c.norm_topk_prob == 1 &&
              c.routed_scale == 1.0f && c.rope_theta == 10000.0f && c.norm_eps == 1e-5f &&
              c.bias_update_speed == 1e-3f && c.seq_aux_alpha == 1e-3f,
          "the field table's defaults are the demo model");
    size_t np = aha_model_param_count(&c);
    printf("[misc] default config: %zu parameters, %zu tensors\n", np, aha_model_tensor_count(&c));
    REQUIRE(np >= 1000000 && np <= 1500000, "default size %zu", np);
    const char *fields[] = {"n_heads",    "head_dim",   "top_k",   "n_dense_layers",
                            "score_func", "vocab_size", "norm_eps"};
    for (int i = 0; i < 7; i++) {
        aha_model_config_default(&c);
        switch (i) {
        case 0:
            c.n_heads = 3;
            break; /* 128 % 3 != 0 */
        case 1:
            c.n_heads = 128;
            break; /* head_dim 1 is odd */
        case 2:
            c.top_k = 9;
            break;
        case 3:
            c.n_dense_layers = 3;
            break;
        case 4:
            c.score_func = 7;
            break;
        case 5:
            c.vocab_size = 0;
            break;
        case 6:
            c.norm_eps = 0.0f;
            break;
        }
        int rc = aha_model_config_validate(&c);
        REQUIRE(rc == AHA_ERR_CONFIG, "bad %s accepted", fields[i]);
        REQUIRE(strstr(aha_last_error(), fields[i]) != NULL, "message \"%s\" does not name %s",
                aha_last_error(), fields[i]);
        aha_model_t *m = NULL;
        REQUIRE(aha_model_new(&c, &m) == AHA_ERR_CONFIG && m == NULL, "model_new accepted bad %s",
                fields[i]);
    }
    /* bias update: bias += speed * sign(mean - load) on MoE layers only */
    tu_tiny_config(&c);
    c.n_dense_layers = 1;
    c.n_layers = 2;
    c.bias_update_speed = 0.5f;
    aha_model_t *m = NULL;
    REQUIRE_OK(aha_model_new(&c, &m));
    float load[8] = {9, 9, 9, 9, /* layer 1: */ 4, 1, 2, 1}; /* mean 2 */
    aha_model_update_expert_bias(m, load);
    float want[8] = {0, 0, 0, 0, -0.5f, 0.5f, 0.0f, 0.5f};
    for (int i = 0; i < 8; i++)
        REQUIRE(m->expert_bias[i] == want[i], "bias[%d] = %g, want %g", i, m->expert_bias[i],
                want[i]);
    aha_model_destroy(&m);
    aha_model_destroy(&m); /* idempotent */
}

static void test_default_config(void) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    int len1[4] = {16, 9, 1, 12};
    run("default-config", &c, 4, 16, len1, 11);
}

static void tiny_mixed_softmax(aha_model_config_t *c) {
    tu_tiny_config(c);
    c->n_dense_layers = 1;
    c->n_layers = 3;
    c->score_func = AHA_SCORE_SOFTMAX;
    c->norm_topk_prob = 0;
}

static void test_tiny_mixed_softmax(void) {
    aha_model_config_t c;
    tiny_mixed_softmax(&c);
    int len2[3] = {7, 7, 3};
    run("tiny-mixed-softmax", &c, 3, 7, len2, 12);
}

static void test_tiny_mixed_softmax_nolengths(void) {
    aha_model_config_t c;
    tiny_mixed_softmax(&c);
    run("tiny-mixed-softmax-nolengths", &c, 2, 5, NULL, 13);
}

static const tu_case_t cases[] = {
    {"misc", check_misc},
    {"default-config", test_default_config},
    {"tiny-mixed-softmax", test_tiny_mixed_softmax},
    {"tiny-mixed-softmax-nolengths", test_tiny_mixed_softmax_nolengths},
};

TU_MAIN(cases)
