/* grpo: log-prob gather/backward vs finite differences; a GRPO step on real rollouts of a tiny MoE:
 * first-pass log-probs equal the sampler's behaviour log-probs (rollout/train consistency, with and
 * without R3), and the update moves log-probs in the direction of the advantages. */
#include "actor/rollout.h"
#include "core/err.h"
#include "core/testutil.h"
#include "learner/grpo.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_gather_fd(void) {
    enum { N = 3, V = 7 };
    float logits[N * V], dlogits[N * V], lp[N], ent[N], dlogp[N] = {0.7f, -1.3f, 0.4f};
    int targets[N] = {2, -1, 6};
    aha_rng_t r;
    aha_rng_seed(&r, 3);
    for (int i = 0; i < N * V; i++)
        logits[i] = aha_rng_normal(&r);
    const float tau = 0.8f;
    memset(dlogits, 0, sizeof dlogits);
    aha_logp_backward(logits, targets, dlogp, N, V, tau, dlogits);
    double worst = 0;
    for (int i = 0; i < N * V; i++) {
        const float h = 1e-2f, save = logits[i];
        logits[i] = save + h;
        aha_gather_logp(logits, targets, N, V, tau, lp, ent);
        double fp = 0;
        for (int j = 0; j < N; j++)
            fp += dlogp[j] * lp[j];
        logits[i] = save - h;
        aha_gather_logp(logits, targets, N, V, tau, lp, ent);
        double fm = 0;
        for (int j = 0; j < N; j++)
            fm += dlogp[j] * lp[j];
        logits[i] = save;
        worst = fmax(worst, fabs((fp - fm) / (2 * h) - dlogits[i]));
    }
    CHECK(worst < 1e-3, "logp backward vs finite differences: %g", worst);
    for (int v = 0; v < V; v++)
        CHECK(dlogits[1 * V + v] == 0, "masked row must get no gradient");
    /* entropy of a uniform distribution is log V */
    float flat[V] = {0};
    int t0 = 0;
    aha_gather_logp(flat, &t0, 1, V, 1.0f, lp, ent);
    CHECK(fabs(ent[0] - log(V)) < 1e-5 && fabs(lp[0] + log(V)) < 1e-5, "uniform entropy %g",
          ent[0]);
}

enum { MAX_LEN = 40 };

/* The GRPO tests' model (the default config at dim 32, expert hidden 16, MAX_LEN positions, the
 * training init from SEED) with a KV cache and a rollout buffer (routing recorded if R3) for G
 * sequences of MAX_LEN tokens. */
static aha_model_t *grpo_fixture(uint64_t seed, int G, int r3, aha_kv_t **kv, aha_rollout_t **ro) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    c.dim = 32;
    c.moe_hidden = 16;
    c.max_seq_len = MAX_LEN;
    aha_model_t *m = tu_random_model(&c, seed);
    CHECK(aha_kv_new(m, G, MAX_LEN, kv) == 0 && aha_rollout_new(m, G, MAX_LEN, r3, ro) == 0,
          "alloc");
    return m;
}

/* Samples G responses to PROMPT_TEXT into RO, sample g drawing from RNG seed seed0 + g. */
static int sample_group(aha_model_t *m, aha_kv_t *kv, aha_rollout_t *ro, int G,
                        const char *prompt_text, uint64_t seed0, int max_new) {
    int prompt[16], n = 0;
    AHA_TRY(aha_tok_encode(prompt_text, prompt, 16, &n));
    const int *prompts[8];
    int plen[8];
    aha_rng_t rngs[8];
    if (G > 8) return AHA_FAIL(AHA_ERR_ARG, "sample_group: G %d > 8", G);
    for (int g = 0; g < G; g++) {
        prompts[g] = prompt;
        plen[g] = n;
        aha_rng_seed(&rngs[g], seed0 + (uint64_t)g);
    }
    aha_gen_config_t gen = {max_new, 1.0f, 1.0f};
    return aha_generate(m, kv, prompts, plen, rngs, &gen, ro);
}

/* Samples G responses to one prompt and runs GRPO steps on them. */
static void test_step(int r3, const char *loss) {
    enum { G = 6 };
    const int max_len = MAX_LEN;
    aha_kv_t *kv = NULL;
    aha_rollout_t *ro = NULL;
    aha_model_t *m = grpo_fixture(11, G, r3, &kv, &ro);
    const aha_model_config_t c = m->cfg;
    CHECK(sample_group(m, kv, ro, G, "<bos><|User|>12+34<|Assistant|>", 100, 12) == 0,
          "generate: %s", aha_last_error());
    float adv[G];
    for (int g = 0; g < G; g++)
        adv[g] = g < G / 2 ? 1.0f : -1.0f;
    aha_grpo_config_t gc;
    memset(&gc, 0, sizeof gc);
    aha_loss_kind_t kind;
    CHECK(aha_loss_kind_parse(loss, &kind) == 0, "loss name");
    aha_loss_config_default(kind, &gc.loss);
    gc.epochs = 1;
    gc.minibatches = 1;
    gc.r3 = r3;
    gc.temperature = 1.0;
    gc.lr = 3e-3;
    gc.grad_clip = 1.0;
    gc.adamw = (aha_adamw_config_t){0.9, 0.99, 1e-8, 0};
    aha_grpo_t *tr = NULL;
    CHECK(aha_grpo_new(NULL, &gc, G, max_len, &tr) == AHA_ERR_ARG &&
              aha_grpo_new(m, NULL, G, max_len, &tr) == AHA_ERR_ARG &&
              aha_grpo_new(m, &gc, G, max_len, NULL) == AHA_ERR_ARG && !tr,
          "grpo_new: NULL arguments are errors");
    CHECK(aha_grpo_new(m, &gc, G, max_len, &tr) == 0, "grpo_new: %s", aha_last_error());
    aha_rl_batch_t b = {G,
                        max_len,
                        ro->tokens,
                        ro->prompt_len,
                        ro->total_len,
                        ro->logprobs,
                        r3 ? ro->expert_ids : NULL,
                        adv};
    aha_grpo_stats_t st;
    CHECK(aha_grpo_step(tr, &b, &st) == 0, "grpo_step: %s", aha_last_error());
    printf("%s r3=%d: first-pass |logp - behaviour| max %.2g, ratio %.6f, tokens %d\n", loss, r3,
           st.logp_diff_max, st.ratio_mean, st.n_tokens);
    CHECK(st.logp_diff_max < 1e-4, "rollout and training log-probs disagree: %g", st.logp_diff_max);
    CHECK(st.n_tokens > 0 && st.n_updates == 1, "tokens %d updates %d", st.n_tokens, st.n_updates);
    /* a few more steps: sequences with positive advantage gain probability relative to the rest */
    for (int i = 0; i < 5; i++)
        CHECK(aha_grpo_step(tr, &b, &st) == 0, "grpo_step");
    /* new log-probs of the sampled responses under the updated model, from a fresh forward over
     * the rollout's tokens (with R3 replaying the rollout's routing record, as the trainer did),
     * minus the behaviour log-probs: the change of log-prob per response token */
    double up = 0, down = 0;
    {
        aha_acts_t *a = NULL;
        REQUIRE(aha_acts_new(m, G, max_len, &a) == 0, "acts");
        int T = 1;
        for (int g = 0; g < G; g++)
            T = ro->total_len[g] - 1 > T ? ro->total_len[g] - 1 : T;
        const int L = c.n_layers, K = c.top_k;
        int *tok = calloc((size_t)G * T, sizeof(int)), *tg = malloc(sizeof(int) * G * T), len[G];
        int *replay = r3 ? malloc(sizeof(int) * (size_t)L * G * T * K) : NULL;
        float *lp = malloc(sizeof(float) * G * T);
        REQUIRE(tok && tg && lp && (replay || !r3), "out of memory");
        for (int g = 0; g < G; g++) {
            len[g] = ro->total_len[g] - 1;
            for (int p = 0; p < T; p++) {
                tok[g * T + p] = p < len[g] ? ro->tokens[g * max_len + p] : 0;
                tg[g * T + p] = (p < len[g] && p + 1 >= ro->prompt_len[g])
                                    ? ro->tokens[g * max_len + p + 1]
                                    : -1;
                /* the rollout record [L][G][max_len][K] in the forward's layout [L][G][T][K] */
                for (int l = 0; replay && l < L; l++)
                    for (int k = 0; k < K; k++)
                        replay[(((size_t)l * G + g) * T + p) * K + k] =
                            p < len[g] ? ro->expert_ids[(((size_t)l * G + g) * max_len + p) * K + k]
                                       : -1;
            }
        }
        aha_batch_t fb = {G, T, tok, len, replay};
        CHECK(aha_forward(m, a, &fb) == 0, "forward: %s", aha_last_error());
        CHECK(!replay ||
                  !memcmp(aha_acts_expert_ids(a), replay, sizeof(int) * (size_t)L * G * T * K),
              "the check forward replays the rollout's routing");
        aha_gather_logp(aha_acts_logits(a), tg, G * T, c.vocab_size, 1.0f, lp, NULL);
        for (int g = 0; g < G; g++)
            for (int p = 0; p < T; p++)
                if (tg[g * T + p] >= 0) {
                    double d = lp[g * T + p] - ro->logprobs[g * max_len + p + 1];
                    if (adv[g] > 0)
                        up += d;
                    else
                        down += d;
                }
        free(tok);
        free(tg);
        free(replay);
        free(lp);
        aha_acts_destroy(&a);
    }
    printf("%s r3=%d: summed log-prob change, positive-advantage rows %+.3f, negative %+.3f\n",
           loss, r3, up, down);
    CHECK(up > down, "update must favour positive-advantage responses (%g vs %g)", up, down);
    aha_grpo_destroy(&tr);
    CHECK(tr == NULL, "destroy NULLs");
    aha_rollout_destroy(&ro);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
}

/* R3: after the router changes (as it does between rollout and update in off-policy training), the
 * training forward follows the rollout's experts with r3 and its own choice without. */
static void test_r3_replay(void) {
    enum { G = 4 };
    aha_kv_t *kv = NULL;
    aha_rollout_t *ro = NULL;
    aha_model_t *m = grpo_fixture(5, G, 1, &kv, &ro);
    const aha_model_config_t c = m->cfg;
    const int max_len = MAX_LEN, K = c.top_k, L = c.n_layers;
    CHECK(sample_group(m, kv, ro, G, "<bos><|User|>7+8<|Assistant|>", 40, 10) == 0, "generate");
    /* move the routers: shift every expert bias so the natural top-k changes */
    for (int i = 0; i < L * c.n_routed_experts; i++)
        m->expert_bias[i] = (float)(i % c.n_routed_experts) * 0.5f;
    float adv[G] = {1, -1, 1, -1};
    for (int r3 = 0; r3 <= 1; r3++) {
        aha_grpo_config_t gc;
        memset(&gc, 0, sizeof gc);
        aha_loss_config_default(AHA_LOSS_GRPO, &gc.loss);
        gc.epochs = gc.minibatches = 1;
        gc.r3 = r3;
        gc.temperature = 1.0;
        gc.lr = 0; /* look, don't touch */
        gc.adamw = (aha_adamw_config_t){0.9, 0.99, 1e-8, 0};
        aha_grpo_t *tr = NULL;
        CHECK(aha_grpo_new(m, &gc, G, max_len, &tr) == 0, "grpo_new");
        aha_rl_batch_t b = {
            G,  max_len, ro->tokens, ro->prompt_len, ro->total_len, ro->logprobs, ro->expert_ids,
            adv};
        aha_grpo_stats_t st;
        CHECK(aha_grpo_step(tr, &b, &st) == 0, "grpo_step: %s", aha_last_error());
        int T = 1;
        for (int g = 0; g < G; g++)
            T = ro->total_len[g] - 1 > T ? ro->total_len[g] - 1 : T;
        const int *ids = aha_grpo_expert_ids(tr);
        int same = 0, total = 0;
        for (int l = 0; l < L; l++)
            for (int g = 0; g < G; g++)
                for (int p = 0; p < ro->total_len[g] - 1; p++)
                    for (int k = 0; k < K; k++) {
                        total++;
                        same += ids[(((size_t)l * G + g) * T + p) * K + k] ==
                                ro->expert_ids[(((size_t)l * G + g) * max_len + p) * K + k];
                    }
        printf("r3=%d: %d of %d training routing choices equal the rollout's (first-pass logp diff "
               "%.3g)\n",
               r3, same, total, st.logp_diff_max);
        if (r3)
            CHECK(same == total, "R3 must replay every recorded expert (%d/%d)", same, total);
        else
            CHECK(same < total, "without R3 the moved router must choose differently");
        aha_grpo_destroy(&tr);
    }
    aha_rollout_destroy(&ro);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
}

static void test_step_grpo(void) {
    test_step(0, "grpo");
}
static void test_step_grpo_r3(void) {
    test_step(1, "grpo");
}
static void test_step_gspo_r3(void) {
    test_step(1, "gspo");
}
static void test_step_dapo_r3(void) {
    test_step(1, "dapo");
}
static void test_step_dr_grpo(void) {
    test_step(0, "dr_grpo");
}

/* A minibatch whose loss is NaN (here: a NaN advantage in its first row): with on_nonfinite stop
 * the step fails before any weight changes; with skip that minibatch's update is dropped and
 * counted, the other minibatch still trains, and every weight stays finite. */
static void test_nonfinite(void) {
    aha_model_config_t c;
    aha_model_config_default(&c);
    c.dim = 32;
    c.moe_hidden = 16;
    c.max_seq_len = 40;
    aha_model_t *m = tu_random_model(&c, 11);
    enum { G = 6 };
    const int max_len = 40;
    aha_kv_t *kv = NULL;
    aha_rollout_t *ro = NULL;
    REQUIRE(aha_kv_new(m, G, max_len, &kv) == 0 && aha_rollout_new(m, G, max_len, 0, &ro) == 0,
            "alloc");
    REQUIRE_OK(sample_group(m, kv, ro, G, "<bos><|User|>12+34<|Assistant|>", 100, 12));
    float adv[G] = {NAN, 1, -1, 1, -1, 1};
    float *before = malloc(m->n_params * sizeof *before);
    REQUIRE(before, "malloc");
    memcpy(before, m->params, m->n_params * sizeof *before);
    for (int mode = 0; mode < 2; mode++) {
        aha_grpo_config_t gc;
        memset(&gc, 0, sizeof gc);
        aha_loss_config_default(AHA_LOSS_GRPO, &gc.loss);
        gc.epochs = 1;
        gc.minibatches = 2; /* rows 0..2 (NaN advantage) and 3..5 */
        gc.temperature = 1.0;
        gc.lr = 3e-3;
        gc.grad_clip = 1.0;
        gc.adamw = (aha_adamw_config_t){0.9, 0.99, 1e-8, 0};
        gc.on_nonfinite = mode ? AHA_NONFINITE_SKIP : AHA_NONFINITE_STOP;
        aha_grpo_t *tr = NULL;
        REQUIRE_OK(aha_grpo_new(m, &gc, G, max_len, &tr));
        aha_rl_batch_t b = {G,    max_len, ro->tokens, ro->prompt_len, ro->total_len, ro->logprobs,
                            NULL, adv};
        aha_grpo_stats_t st;
        int rc = aha_grpo_step(tr, &b, &st);
        if (mode == 0) {
            CHECK(rc == AHA_ERR_RANGE && strstr(aha_last_error(), "non-finite") &&
                      strstr(aha_last_error(), "rl.on_nonfinite"),
                  "stop: rc %d (%s)", rc, aha_last_error());
            CHECK(!memcmp(before, m->params, m->n_params * sizeof *before),
                  "stop: the weights are untouched");
        } else {
            CHECK(rc == 0, "skip: %s", aha_last_error());
            CHECK(st.n_nonfinite == 1 && st.n_updates == 1 && isfinite(st.loss),
                  "skip: %d skipped, %d updates, loss %g", st.n_nonfinite, st.n_updates, st.loss);
            size_t bad = 0;
            for (size_t i = 0; i < m->n_params; i++)
                bad += !isfinite(m->params[i]);
            CHECK(bad == 0, "skip: %zu non-finite weights", bad);
            CHECK(memcmp(before, m->params, m->n_params * sizeof *before) != 0,
                  "skip: the finite minibatch still trained");
        }
        aha_grpo_destroy(&tr);
    }
    free(before);
    aha_rollout_destroy(&ro);
    aha_kv_destroy(&kv);
    aha_model_destroy(&m);
}

static const tu_case_t cases[] = {
    {"nonfinite", test_nonfinite},
    {"gather_fd", test_gather_fd},
    {"r3_replay", test_r3_replay},
    /* one GRPO step on real rollouts per loss, with and without R3 */
    {"step_grpo", test_step_grpo},
    {"step_grpo_r3", test_step_grpo_r3},
    {"step_gspo_r3", test_step_gspo_r3},
    {"step_dapo_r3", test_step_dapo_r3},
    {"step_dr_grpo", test_step_dr_grpo},
};

TU_MAIN(cases)
