/* group_batch: advantages, copying, dynamic sampling (zero-variance groups dropped), routing-record
 * compaction when the batch is not full, and state errors. */
#include "core/err.h"
#include "core/testutil.h"
#include "learner/group_batch.h"
#include <math.h>
#include <string.h>

enum { G = 4, T = 6 };

/* A synthetic rollout whose every cell encodes (tag, row, position). */
static void fill(aha_rollout_t *r, int tag) {
    for (int b = 0; b < G; b++) {
        r->prompt_len[b] = 2;
        r->total_len[b] = 3 + b % 3;
        for (int p = 0; p < T; p++) {
            r->tokens[b * T + p] = tag * 100 + b * 10 + p;
            r->logprobs[b * T + p] = -(float)(tag + b + p) / 10;
        }
    }
    for (int l = 0; l < r->n_layers; l++)
        for (int b = 0; b < G; b++)
            for (int p = 0; p < T; p++)
                for (int k = 0; k < r->top_k; k++)
                    r->expert_ids[(((size_t)l * G + b) * T + p) * r->top_k + k] =
                        (tag * 7 + l * 3 + b + p + k) % 8;
}

static void test_batch(void) {
    aha_model_config_t mc;
    aha_model_config_default(&mc);
    mc.dim = 16;
    mc.moe_hidden = 8;
    aha_model_t *m = NULL;
    CHECK(aha_model_new(&mc, &m) == 0, "model");
    aha_rollout_t *ra = NULL, *rb = NULL, *wrong = NULL;
    CHECK(aha_rollout_new(m, G, T, 1, &ra) == 0 && aha_rollout_new(m, G, T, 1, &rb) == 0 &&
              aha_rollout_new(m, G + 1, T, 1, &wrong) == 0,
          "rollouts");
    fill(ra, 1);
    fill(rb, 2);
    const int L = mc.n_layers, K = mc.top_k;

    aha_group_batch_config_t cfg = {1, 1e-6f, 1};
    aha_group_batch_t *b = NULL;
    CHECK(aha_group_batch_new(3, G, T, L, K, 1, &cfg, &b) == 0, "new");
    const float flat[G] = {0.1f, 0.1f, 0.1f, 0.1f}, mixed[G] = {1, 0, 0.1f, 1},
                other[G] = {0, 1, 0, 0};
    CHECK(aha_group_batch_add(b, ra, flat) == 0,
          "zero-variance group is dropped with dynamic sampling");
    CHECK(aha_group_batch_add(b, ra, mixed) == 1 && aha_group_batch_add(b, rb, other) == 1,
          "groups kept");
    CHECK(aha_group_batch_seen(b) == 3 && aha_group_batch_zero_std(b) == 1 &&
              aha_group_batch_groups(b) == 2 && !aha_group_batch_full(b),
          "counters");
    CHECK(aha_group_batch_add(b, wrong, mixed) == AHA_ERR_ARG, "shape mismatch");
    aha_rl_batch_t v;
    aha_group_batch_view(b, &v);
    CHECK(v.n_seq == 2 * G && v.max_len == T && v.expert_ids != NULL, "view shape");
    /* advantages: (r - mean) / std of each group */
    float want[G];
    aha_group_advantages(mixed, G, 1, 1e-6f, want);
    CHECK(tu_max_rel_err(v.adv, want, G) < 1e-6, "advantages of the first kept group");
    CHECK(fabsf(v.adv[0] - 0.475f / sqrtf(0.226875f)) < 1e-5f, "advantage value %g", v.adv[0]);
    aha_group_advantages(other, G, 1, 1e-6f, want);
    CHECK(tu_max_rel_err(v.adv + G, want, G) < 1e-6, "advantages of the second kept group");
    /* rows copied in order: kept group 0 = ra, kept group 1 = rb */
    int ok = 1;
    for (int g = 0; g < 2; g++) {
        const aha_rollout_t *src = g ? rb : ra;
        for (int r = 0; r < G; r++) {
            ok &= v.prompt_len[g * G + r] == src->prompt_len[r] &&
                  v.total_len[g * G + r] == src->total_len[r];
            ok &= !memcmp(v.tokens + (size_t)(g * G + r) * T, src->tokens + (size_t)r * T,
                          sizeof(int) * T);
            ok &= !memcmp(v.behav_logp + (size_t)(g * G + r) * T, src->logprobs + (size_t)r * T,
                          sizeof(float) * T);
            for (int l = 0; l < L; l++)
                ok &= !memcmp(v.expert_ids + (((size_t)l * 2 * G + g * G + r) * T) * K,
                              src->expert_ids + (((size_t)l * G + r) * T) * K, sizeof(int) * T * K);
        }
    }
    CHECK(ok, "tokens, log-probs, lengths and the compacted routing record match the rollouts");
    CHECK(aha_group_batch_add(b, ra, mixed) == AHA_ERR_STATE, "no add after a view until reset");
    aha_group_batch_reset(b);
    CHECK(aha_group_batch_groups(b) == 0 && aha_group_batch_seen(b) == 0, "reset");
    for (int i = 0; i < 3; i++)
        CHECK(aha_group_batch_add(b, ra, mixed) == 1, "refill");
    CHECK(aha_group_batch_full(b) && aha_group_batch_add(b, ra, mixed) == AHA_ERR_STATE, "full");
    aha_group_batch_destroy(&b);
    /* without dynamic sampling a zero-variance group is kept with zero advantages; Dr. GRPO
     * advantages are mean-centred only */
    aha_group_batch_config_t keep = {0, 1e-6f, 0};
    CHECK(aha_group_batch_new(2, G, T, L, K, 0, &keep, &b) == 0, "new (no routing record)");
    CHECK(aha_group_batch_add(b, ra, flat) == 1 && aha_group_batch_add(b, rb, mixed) == 1, "kept");
    aha_group_batch_view(b, &v);
    CHECK(v.expert_ids == NULL, "no routing record requested");
    CHECK(v.adv[0] == 0 && v.adv[3] == 0, "zero-variance group: zero advantages");
    CHECK(fabsf(v.adv[G] - (1 - 0.525f)) < 1e-6f, "mean-centred advantage %g", v.adv[G]);
    aha_group_batch_destroy(&b);
    CHECK(b == NULL, "destroy NULLs");
    aha_rollout_destroy(&ra);
    aha_rollout_destroy(&rb);
    aha_rollout_destroy(&wrong);
    aha_model_destroy(&m);
}

static const tu_case_t cases[] = {
    {"batch", test_batch},
};

TU_MAIN(cases)
