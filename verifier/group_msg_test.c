/* group_msg: a generated rollout as a wire Group — every sample's tokens, lengths, finished flag,
 * response log-probs and routing record land where aha.proto says; the message passes the wire
 * checks with the model's limits, survives pack/unpack unchanged, and breaks the checks when a
 * field is cut; addition and countdown problems carry over; bad arguments are errors. */
#include "verifier/group_msg.h"
#include "actor/rollout.h"
#include "core/err.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "verifier/msg_check.h"
#include "model/tokenizer.h"
#include <stdlib.h>
#include <string.h>

enum { G = 4, MAX_LEN = 40 };

static aha_model_t *make_model(void) {
    aha_model_config_t c;
    tu_small_config(&c);
    return tu_random_model(&c, 3);
}

static void check_message(const aha_rollout_t *r, const aha_group_msg_t *msg,
                          const aha_model_t *m) {
    const Aha__Group *g = &msg->group;
    CHECK(g->n_sample_index == G && g->lease_id == 5 && g->prompt_id == 77 &&
              g->policy_version == 9 && !strcmp(g->actor, "actor/2"),
          "header fields");
    size_t t_off = 0, l_off = 0, e_off = 0;
    int bad_tok = 0, bad_lp = 0, bad_e = 0;
    const int L = m->cfg.n_layers, K = m->cfg.top_k;
    for (int s = 0; s < G; s++) {
        CHECK(g->prompt_len[s] == (uint32_t)r->prompt_len[s] &&
                  g->total_len[s] == (uint32_t)r->total_len[s] &&
                  g->finished[s] == (uint32_t)r->finished[s] && g->sample_index[s] == (uint32_t)s,
              "sample %d lengths", s);
        for (int t = 0; t < r->total_len[s]; t++)
            bad_tok += g->tokens[t_off++] != (uint32_t)r->tokens[s * MAX_LEN + t];
        for (int t = r->prompt_len[s]; t < r->total_len[s]; t++)
            bad_lp += g->logprobs[l_off++] != r->logprobs[s * MAX_LEN + t];
        for (int t = 0; t < r->total_len[s] - 1; t++)
            for (int l = 0; l < L; l++)
                for (int k = 0; k < K; k++)
                    bad_e += g->expert_ids[e_off++] !=
                             r->expert_ids[(((size_t)l * G + s) * MAX_LEN + t) * K + k];
    }
    CHECK(t_off == g->n_tokens && l_off == g->n_logprobs && e_off == g->n_expert_ids,
          "array lengths %zu/%zu/%zu", g->n_tokens, g->n_logprobs, g->n_expert_ids);
    CHECK(bad_tok == 0 && bad_lp == 0 && bad_e == 0, "tokens %d, logprobs %d, experts %d differ",
          bad_tok, bad_lp, bad_e);
}

static void test_round_trip(void) {
    aha_model_t *m = make_model();
    aha_kv_t *kv = NULL;
    aha_rollout_t *r = NULL;
    if (!m || aha_kv_new(m, G, MAX_LEN, &kv) < 0 || aha_rollout_new(m, G, MAX_LEN, 1, &r) < 0) {
        CHECK(0, "setup: %s", aha_last_error());
        return;
    }
    int prompt[MAX_LEN], n = 0;
    CHECK(aha_tok_encode("<bos><|User|>3 7 25 -> 46<|Assistant|>", prompt, MAX_LEN, &n) == 0,
          "encode");
    const int *prompts[G];
    int lens[G];
    aha_rng_t rngs[G];
    for (int s = 0; s < G; s++) {
        prompts[s] = prompt;
        lens[s] = n - (s == 3); /* one shorter prompt */
        aha_rng_seed(&rngs[s], 100 + s);
    }
    const aha_gen_config_t gen = {12, 1.0f, 1.0f};
    CHECK(aha_generate(m, kv, prompts, lens, rngs, &gen, r) == 0, "generate: %s", aha_last_error());

    aha_reward_problem_t prob;
    memset(&prob, 0, sizeof prob);
    prob.kind = AHA_TASK_COUNTDOWN;
    prob.n_numbers = 3;
    prob.numbers[0] = 3, prob.numbers[1] = 7, prob.numbers[2] = 25;
    prob.target = 46;
    aha_group_msg_t *msg = NULL;
    CHECK(aha_group_msg_from_rollout(r, 5, 77, 9, &prob, "actor/2", &msg) == 0, "build: %s",
          aha_last_error());
    if (msg) {
        check_message(r, msg, m);
        CHECK(!strcmp(msg->group.problem->kind, "countdown") &&
                  msg->group.problem->n_numbers == 3 && msg->group.problem->numbers[2] == 25 &&
                  msg->group.problem->target == 46,
              "countdown problem");
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        env.body_case = AHA__ENVELOPE__BODY_GROUP;
        env.group = &msg->group;
        const aha_msg_limits_t lim = {
            m->cfg.vocab_size, MAX_LEN, m->cfg.n_layers, m->cfg.top_k, m->cfg.n_routed_experts, 16};
        char why[200] = "";
        CHECK(aha_msg_check(&env, &lim, why, sizeof why) == 0, "passes the wire checks: %s", why);
        /* pack / unpack */
        env.protocol = 1;
        size_t sz = aha__envelope__get_packed_size(&env);
        uint8_t *buf = malloc(sz);
        if (buf) {
            aha__envelope__pack(&env, buf);
            Aha__Envelope *back = aha__envelope__unpack(NULL, sz, buf);
            CHECK(back && back->body_case == AHA__ENVELOPE__BODY_GROUP, "unpack");
            if (back) {
                aha_group_msg_t copy = *msg;
                copy.group = *back->group;
                check_message(r, &copy, m);
                aha__envelope__free_unpacked(back, NULL);
            }
            free(buf);
        }
        /* back into a rollout: identical rows, also with the samples shuffled */
        aha_rollout_t *back = NULL;
        CHECK(aha_rollout_new(m, G, MAX_LEN, 1, &back) == 0, "rollout for the way back");
        if (back) {
            CHECK(aha_group_msg_to_rollout(&msg->group, back) == 0, "to rollout: %s",
                  aha_last_error());
            const size_t cells = (size_t)G * MAX_LEN;
            const size_t ecells = (size_t)m->cfg.n_layers * cells * m->cfg.top_k;
            CHECK(!memcmp(back->tokens, r->tokens, sizeof(int) * cells) &&
                      !memcmp(back->logprobs, r->logprobs, sizeof(float) * cells) &&
                      !memcmp(back->prompt_len, r->prompt_len, sizeof(int) * G) &&
                      !memcmp(back->total_len, r->total_len, sizeof(int) * G) &&
                      !memcmp(back->finished, r->finished, sizeof(int) * G) &&
                      !memcmp(back->expert_ids, r->expert_ids, sizeof(int) * ecells),
                  "round trip rollout -> group -> rollout is exact");
            aha_rollout_t *small = NULL;
            CHECK(aha_rollout_new(m, G - 1, MAX_LEN, 1, &small) == 0 &&
                      aha_group_msg_to_rollout(&msg->group, small) == AHA_ERR_ARG,
                  "row count mismatch");
            aha_rollout_destroy(&small);
            msg->group.sample_index[1] = 0; /* duplicate index */
            CHECK(aha_group_msg_to_rollout(&msg->group, back) == AHA_ERR_ARG, "duplicate index");
            msg->group.sample_index[1] = 1;
            aha_rollout_destroy(&back);
        }
        /* cut fields break the checks */
        msg->group.n_expert_ids -= 1;
        CHECK(aha_msg_check(&env, &lim, why, sizeof why) == AHA_ERR_FORMAT, "short record");
        msg->group.n_expert_ids += 1;
        msg->group.n_logprobs -= 1;
        CHECK(aha_msg_check(&env, &lim, why, sizeof why) == AHA_ERR_FORMAT, "short logprobs");
        msg->group.n_logprobs += 1;
        aha_group_msg_destroy(&msg);
        CHECK(msg == NULL, "destroy NULLs");
    }
    /* addition problem, rollout without a routing record */
    aha_rollout_t *plain = NULL;
    CHECK(aha_rollout_new(m, G, MAX_LEN, 0, &plain) == 0, "plain rollout");
    CHECK(plain && aha_generate(m, kv, prompts, lens, rngs, &gen, plain) == 0, "generate plain");
    aha_reward_problem_t add;
    memset(&add, 0, sizeof add);
    add.kind = AHA_TASK_ADDITION;
    add.expected = -12;
    CHECK(aha_group_msg_from_rollout(plain, 1, 2, 3, &add, "a", &msg) == 0, "build addition");
    CHECK(msg && msg->group.n_expert_ids == 0 && msg->group.n_layers == 0 &&
              !strcmp(msg->group.problem->kind, "addition") && msg->group.problem->expected == -12,
          "addition problem, no routing record");
    aha_group_msg_destroy(&msg);
    add.kind = (aha_task_kind_t)7;
    CHECK(aha_group_msg_from_rollout(plain, 1, 2, 3, &add, "a", &msg) == AHA_ERR_ARG && !msg,
          "unknown kind");
    CHECK(aha_group_msg_from_rollout(NULL, 1, 2, 3, &prob, "a", &msg) == AHA_ERR_ARG, "NULL");
    aha_group_msg_destroy(&msg); /* NULL-safe */
    aha_rollout_destroy(&plain);
    aha_rollout_destroy(&r);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
}

static const tu_case_t cases[] = {
    {"round_trip", test_round_trip},
};

TU_MAIN(cases)
