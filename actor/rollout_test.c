/* actor/rollout_test.c — aha_generate and the rollout buffers on a tiny random MoE (one dense
 * layer, two MoE layers):
 *  - determinism: identically seeded per-row RNGs give identical tokens, log-probs, lengths,
 *    finished flags, expert ids and final RNG states, also on a reused rollout and KV cache;
 *  - batch independence: a row sampled inside a batch gives the tokens and log-probs (bit for
 *    bit) of the same prompt sampled alone with the same RNG, whatever the other rows hold;
 *  - several groups in one call: each group's rows are bit for bit those of the group alone;
 *  - prefix sharing: prompts prefilled once and shared by their rows give the rows of the
 *    stepwise reference path bit for bit (tokens, expert ids, log-probs);
 *  - behaviour log-probs equal log_softmax(logits / T) of a full aha_forward at the sampled
 *    token, and the recorded expert ids equal the forward's routing record (-1 beyond the row);
 *  - greedy (T = 0) picks the forward's argmax at every response position, whatever the RNG, and
 *    so does a tiny nucleus (top_p -> 0), whose log-probs are still those of logits / T;
 *  - stopping: <eos>, max_new_tokens and max_len limits and the finished flags;
 *  - aha_rollout_response_text against aha_tok_decode; a too-small buffer is an error and is left
 *    untouched;
 *  - bad arguments (prompt lengths, out-of-vocabulary prompt tokens, temperature, top_p, a KV cache
 *    that is too short or made for another model, rollout sizes) return negative codes. */
#include "actor/rollout.h"
#include "core/err.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LEN = 40, NP = 5, MAX_ROWS = 12 };

/* Prompts of 8, 1, 7, 11 and 4 tokens. */
static const char *const PROMPT_TEXT[NP] = {
    "<bos><|User|>12+34<|Assistant|>",      "<bos>",
    "<bos><|User|>7+8<|Assistant|><think>", "<bos><|User|>123+4567<|Assistant|>",
    "<bos><|User|>5<|Assistant|>",
};
static int prompt_ids[NP][MAX_LEN], prompt_n[NP];

/* Largest log-prob differences measured by the tests (printed there). */
static double batch_lp_diff = 0, forward_lp_diff = 0, greedy_lp_diff = 0;

/* Tiny MoE from SEED. HEAD scales lm_head (spreads the logits). EMB0 != 0 adds EMB0 to feature 0
 * of every token embedding and sets column 0 of lm_head to EOS_W for <eos> and 0 for the others:
 * after the final RMSNorm feature 0 is large and of constant sign, so this acts as an <eos> logit
 * bias (EOS_W > 0 makes <eos> likely, EOS_W < 0 practically impossible). */
static aha_model_t *make_model(uint64_t seed, float head, float emb0, float eos_w) {
    aha_model_config_t c;
    tu_small_config(&c);
    aha_model_t *m = tu_random_model(&c, seed);
    const int V = c.vocab_size, D = c.dim;
    for (size_t i = 0; i < (size_t)V * D; i++)
        m->p.lm_head[i] *= head;
    if (emb0 != 0.0f)
        for (int v = 0; v < V; v++) {
            m->p.tok_emb[(size_t)v * D] += emb0;
            m->p.lm_head[(size_t)v * D] = v == AHA_TOK_EOS ? eos_w : 0.0f;
        }
    return m;
}

/* KV cache and rollout for N rows of MAX_LEN; 0 on success. */
static int make_rollout(const aha_model_t *m, int n, int max_len, int record, aha_kv_t **kv,
                        aha_rollout_t **ro) {
    *kv = NULL;
    *ro = NULL;
    if (aha_kv_new(m, n, max_len, kv) < 0 || aha_rollout_new(m, n, max_len, record, ro) < 0) {
        CHECK(0, "kv/rollout %d x %d: %s", n, max_len, aha_last_error());
        aha_kv_destroy(kv);
        aha_rollout_destroy(ro);
        return -1;
    }
    return 0;
}

/* 1: run() uses aha_generate_stepwise (prompts fed one position per step, no sharing); a row
 * whose PIDX is negative gets prompt -PIDX-1 from a copy in another buffer (not the same pointer
 * as the rows with that prompt). */
static int g_stepwise = 0;
static int prompt_copy[NP][MAX_LEN];

/* Generates row b from prompt PIDX[b] with rngs[b] seeded from SEEDS[b]; the final RNG states go
 * to RNGS_OUT if not NULL. Returns aha_generate's code. */
static int run(const aha_model_t *m, aha_kv_t *kv, aha_rollout_t *ro, const int *pidx,
               const uint64_t *seeds, const aha_gen_config_t *gen, aha_rng_t *rngs_out) {
    const int *prompts[MAX_ROWS];
    int lens[MAX_ROWS];
    aha_rng_t rngs[MAX_ROWS];
    for (int b = 0; b < ro->n && b < MAX_ROWS; b++) {
        const int p = pidx[b] < 0 ? -pidx[b] - 1 : pidx[b];
        prompts[b] = pidx[b] < 0 ? prompt_copy[p] : prompt_ids[p];
        lens[b] = prompt_n[p];
        aha_rng_seed(&rngs[b], seeds[b]);
    }
    int rc = g_stepwise ? aha_generate_stepwise(m, kv, prompts, lens, rngs, gen, ro)
                        : aha_generate(m, kv, prompts, lens, rngs, gen, ro);
    if (rngs_out) memcpy(rngs_out, rngs, sizeof(aha_rng_t) * ro->n);
    return rc;
}

/* New rollout of N rows generated as in run(); NULL (and a failed check) on error. */
static aha_rollout_t *generate(const aha_model_t *m, int n, int max_len, int record,
                               const int *pidx, const uint64_t *seeds, const aha_gen_config_t *gen,
                               aha_rng_t *rngs_out) {
    aha_kv_t *kv = NULL;
    aha_rollout_t *ro = NULL;
    if (make_rollout(m, n, max_len, record, &kv, &ro) < 0) return NULL;
    int rc = run(m, kv, ro, pidx, seeds, gen, rngs_out);
    CHECK(rc == 0, "generate (%d rows): %s", n, aha_last_error());
    aha_kv_destroy(&kv);
    if (rc < 0) aha_rollout_destroy(&ro);
    return ro;
}

/* Number of differences between two rollouts of the same shape: lengths, flags, the tokens of
 * each row up to total_len, and the full log-prob and expert-id buffers (compared bitwise). */
static int rollout_diffs(const aha_rollout_t *a, const aha_rollout_t *b) {
    if (a->n != b->n || a->max_len != b->max_len || a->n_layers != b->n_layers ||
        a->top_k != b->top_k || !a->expert_ids != !b->expert_ids)
        return 1;
    int d = 0;
    const size_t cells = (size_t)a->n * a->max_len;
    for (int r = 0; r < a->n; r++) {
        d += a->prompt_len[r] != b->prompt_len[r];
        d += a->total_len[r] != b->total_len[r];
        d += a->finished[r] != b->finished[r];
        if (a->total_len[r] == b->total_len[r])
            d += memcmp(a->tokens + (size_t)r * a->max_len, b->tokens + (size_t)r * b->max_len,
                        sizeof(int) * a->total_len[r]) != 0;
    }
    d += memcmp(a->logprobs, b->logprobs, sizeof(float) * cells) != 0;
    if (a->expert_ids)
        d +=
            memcmp(a->expert_ids, b->expert_ids, sizeof(int) * cells * a->n_layers * a->top_k) != 0;
    return d;
}

/* Full aha_forward over the rows of RO (lengths = total_len, <pad> beyond); *T_out = padded
 * length. NULL (and a failed check) on error. */
static aha_acts_t *forward_rows(const aha_model_t *m, const aha_rollout_t *ro, int *T_out) {
    int T = 1;
    for (int b = 0; b < ro->n; b++)
        if (ro->total_len[b] > T) T = ro->total_len[b];
    int *tok = calloc((size_t)ro->n * T, sizeof(int));
    aha_acts_t *a = NULL;
    if (!tok || aha_acts_new(m, ro->n, T, &a) < 0) {
        CHECK(0, "forward buffers: %s", aha_last_error());
        free(tok);
        return NULL;
    }
    for (int b = 0; b < ro->n; b++)
        memcpy(tok + (size_t)b * T, ro->tokens + (size_t)b * ro->max_len,
               sizeof(int) * ro->total_len[b]);
    aha_batch_t batch = {ro->n, T, tok, ro->total_len, NULL};
    int rc = aha_forward(m, a, &batch);
    free(tok);
    if (rc < 0) {
        CHECK(0, "forward: %s", aha_last_error());
        aha_acts_destroy(&a);
        return NULL;
    }
    *T_out = T;
    return a;
}

static size_t ro_eid(const aha_rollout_t *r, int l, int b, int p, int k) {
    return (((size_t)l * r->n + b) * r->max_len + p) * r->top_k + k;
}

/* 1. Same seeds, same everything; the RNG matters; a reused rollout + KV reproduces a fresh one. */
static void test_determinism(const aha_model_t *m) {
    enum { G = 5 };
    const int pidx[G] = {0, 1, 2, 3, 0};
    const uint64_t seeds[G] = {11, 12, 13, 14, 15}, other[G] = {91, 92, 93, 94, 95};
    const aha_gen_config_t gen = {16, 0.7f, 0.9f};
    aha_rng_t ra[G], rb[G];
    aha_rollout_t *a = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, ra);
    aha_rollout_t *b = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, rb);
    aha_kv_t *kv = NULL;
    aha_rollout_t *c = NULL;
    if (!a || !b || make_rollout(m, G, MAX_LEN, 1, &kv, &c) < 0) goto done;
    int d = rollout_diffs(a, b);
    CHECK(d == 0, "two runs with the same seeds differ in %d places", d);
    CHECK(memcmp(ra, rb, sizeof ra) == 0, "final RNG states differ");
    int resp = 0;
    for (int r = 0; r < G; r++)
        resp += a->total_len[r] - a->prompt_len[r];
    CHECK(resp > 0, "no response tokens at all");
    /* c: first other seeds (must give other samples), then the same seeds again on the used
     * rollout and KV cache */
    CHECK(run(m, kv, c, pidx, other, &gen, NULL) == 0, "generate: %s", aha_last_error());
    d = rollout_diffs(a, c);
    CHECK(d > 0, "other seeds gave identical rollouts");
    CHECK(run(m, kv, c, pidx, seeds, &gen, NULL) == 0, "generate: %s", aha_last_error());
    d = rollout_diffs(a, c);
    CHECK(d == 0, "reused rollout/KV differ from a fresh one in %d places", d);
    printf("[determinism] %d response tokens over %d rows, other seeds differ\n", resp, G);
done:
    aha_kv_destroy(&kv);
    aha_rollout_destroy(&a);
    aha_rollout_destroy(&b);
    aha_rollout_destroy(&c);
}

/* Row Q of BATCH against row 0 of SOLO: tokens, lengths, flags, expert ids and log-probs exactly
 * (decoding's matmul and attention compute each row on its own, model/simd.h: a row's bits do not
 * depend on the other rows, on the batch size or on prefill vs one position per step). The max
 * log-prob difference goes into batch_lp_diff. */
static void compare_rows(const aha_rollout_t *batch, int q, const aha_rollout_t *solo,
                         const char *what) {
    CHECK(batch->total_len[q] == solo->total_len[0] && batch->finished[q] == solo->finished[0] &&
              batch->prompt_len[q] == solo->prompt_len[0],
          "%s row %d: total_len %d/%d finished %d/%d", what, q, batch->total_len[q],
          solo->total_len[0], batch->finished[q], solo->finished[0]);
    const int n =
        batch->total_len[q] < solo->total_len[0] ? batch->total_len[q] : solo->total_len[0];
    const int *bt = batch->tokens + (size_t)q * batch->max_len;
    const float *bl = batch->logprobs + (size_t)q * batch->max_len;
    int tok_diff = 0;
    double lp_worst = 0;
    for (int p = 0; p < n; p++) {
        tok_diff += bt[p] != solo->tokens[p];
        double d = fabs((double)bl[p] - solo->logprobs[p]);
        batch_lp_diff = fmax(batch_lp_diff, d);
        lp_worst = fmax(lp_worst, d / fmax(1.0, fabs(solo->logprobs[p])));
    }
    CHECK(tok_diff == 0, "%s row %d: %d tokens differ from the row generated alone", what, q,
          tok_diff);
    CHECK(lp_worst == 0, "%s row %d: log-probs differ from the row alone by %g", what, q, lp_worst);
    int id_diff = 0;
    if (batch->expert_ids && solo->expert_ids)
        for (int l = 0; l < batch->n_layers; l++)
            for (int p = 0; p < batch->max_len; p++)
                for (int k = 0; k < batch->top_k; k++)
                    id_diff += batch->expert_ids[ro_eid(batch, l, q, p, k)] !=
                               solo->expert_ids[ro_eid(solo, l, 0, p, k)];
    CHECK(id_diff == 0, "%s row %d: %d expert ids differ from the row alone", what, q, id_diff);
}

/* 2. A row does not depend on the other rows of its batch. */
static void test_batch_independence(const aha_model_t *m) {
    enum { G = 5, G2 = 3 };
    const int pidx[G] = {0, 1, 2, 3, 0};
    const uint64_t seeds[G] = {21, 22, 23, 24, 25};
    /* second batch: row 1 is row 2 of the first, between other prompts and seeds */
    const int pidx2[G2] = {4, pidx[2], 1};
    const uint64_t seeds2[G2] = {77, seeds[2], 78};
    const aha_gen_config_t gen = {16, 0.7f, 0.9f};
    aha_rollout_t *batch = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, NULL);
    aha_rollout_t *batch2 = generate(m, G2, MAX_LEN, 1, pidx2, seeds2, &gen, NULL);
    aha_rollout_t *solo[G] = {NULL};
    for (int b = 0; b < G; b++)
        solo[b] = generate(m, 1, MAX_LEN, 1, &pidx[b], &seeds[b], &gen, NULL);
    if (!batch || !batch2) goto done;
    for (int b = 0; b < G; b++)
        if (solo[b]) compare_rows(batch, b, solo[b], "batch");
    if (solo[2]) compare_rows(batch2, 1, solo[2], "other batch");
    /* the two rows with prompt 0 have different seeds: the seed, not the prompt, decides */
    CHECK(batch->total_len[0] != batch->total_len[4] ||
              memcmp(batch->tokens, batch->tokens + (size_t)4 * MAX_LEN,
                     sizeof(int) * batch->total_len[0]) != 0,
          "rows 0 and 4 (same prompt, other seeds) are identical");
    printf("[batch independence] max |logprob(batch) - logprob(alone)| = %.3g\n", batch_lp_diff);
done:
    aha_rollout_destroy(&batch);
    aha_rollout_destroy(&batch2);
    for (int b = 0; b < G; b++)
        aha_rollout_destroy(&solo[b]);
}

/* 2c. Several groups in one call (an actor holding rl.actor_groups groups): each group's rows are
 * bit for bit the rows of that group sampled alone with the same RNG streams: tokens, lengths,
 * flags, every log-prob and expert id (matmuls round a row the same whatever rows share them). */
static void test_groups_batched(const aha_model_t *m) {
    enum { NG = 3, G = 3 };
    const int gp[NG] = {0, 3, 2};
    int pidx[NG * G];
    uint64_t seeds[NG * G];
    for (int q = 0; q < NG; q++)
        for (int g = 0; g < G; g++) {
            pidx[q * G + g] = gp[q];
            seeds[q * G + g] = 1000u + 17u * (uint64_t)q + (uint64_t)g;
        }
    const aha_gen_config_t gen = {24, 1.0f, 1.0f};
    aha_rollout_t *all = generate(m, NG * G, MAX_LEN, 1, pidx, seeds, &gen, NULL);
    int lens_seen[MAX_LEN + 1] = {0}, distinct = 0;
    for (int q = 0; q < NG && all; q++) {
        aha_rollout_t *one = generate(m, G, MAX_LEN, 1, pidx + q * G, seeds + q * G, &gen, NULL);
        if (!one) continue;
        int d = 0;
        const size_t L = MAX_LEN, K = (size_t)all->top_k;
        for (int g = 0; g < G; g++) {
            const int b = q * G + g;
            d += all->total_len[b] != one->total_len[g] || all->finished[b] != one->finished[g] ||
                 all->prompt_len[b] != one->prompt_len[g];
            d += memcmp(all->tokens + b * L, one->tokens + g * L, sizeof(int) * L) != 0;
            d += memcmp(all->logprobs + b * L, one->logprobs + g * L, sizeof(float) * L) != 0;
            for (int l = 0; l < all->n_layers; l++)
                d += memcmp(all->expert_ids + ro_eid(all, l, b, 0, 0),
                            one->expert_ids + ro_eid(one, l, g, 0, 0), sizeof(int) * L * K) != 0;
            distinct += !lens_seen[one->total_len[g]]++;
        }
        CHECK(d == 0, "group %d (prompt %d) in a batch of %d groups: %d differences from the "
              "group sampled alone", q, gp[q], NG, d);
        aha_rollout_destroy(&one);
    }
    /* rows end at different steps, so the batch shrinks unevenly (and single rows run alone) */
    CHECK(distinct >= 3, "%d distinct row lengths", distinct);
    aha_rollout_destroy(&all);
}

/* 2b. Prefix sharing: rows of several groups in one call (prompts 0, 3, 2, 1; prompt 0 also from
 * another buffer), each distinct prompt prefilled once and its KV rows copied, give the rows of
 * the reference path that feeds every row's prompt one position per step: the same tokens,
 * lengths, expert ids and log-probs, bit for bit (prefill chunks of up to 64 rows use the same
 * per-row matmul as one-row steps). */
static void test_prefix_sharing(const aha_model_t *m) {
    enum { G = 8 };
    const int pidx[G] = {0, 0, 3, 0, 3, 2, -1, 1};
    const uint64_t seeds[G] = {41, 42, 43, 44, 45, 46, 47, 48};
    const aha_gen_config_t gen = {20, 0.8f, 0.95f};
    const double batch_diff = batch_lp_diff; /* compare_rows' maximum, kept for this test apart */
    batch_lp_diff = 0;
    aha_rollout_t *shared = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, NULL);
    g_stepwise = 1;
    aha_rollout_t *step = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, NULL);
    g_stepwise = 0;
    if (shared && step) {
        aha_rollout_t one = *step; /* row b of STEP as a one-row rollout for compare_rows */
        for (int b = 0; b < G; b++) {
            one.n = 1;
            one.tokens = step->tokens + (size_t)b * MAX_LEN;
            one.logprobs = step->logprobs + (size_t)b * MAX_LEN;
            one.prompt_len = step->prompt_len + b;
            one.total_len = step->total_len + b;
            one.finished = step->finished + b;
            one.expert_ids = NULL;
            compare_rows(shared, b, &one, "prefix sharing");
            int id_diff = 0;
            for (int l = 0; l < m->cfg.n_layers; l++)
                for (int p = 0; p < MAX_LEN; p++)
                    for (int k = 0; k < shared->top_k; k++)
                        id_diff += shared->expert_ids[ro_eid(shared, l, b, p, k)] !=
                                   step->expert_ids[ro_eid(step, l, b, p, k)];
            CHECK(id_diff == 0, "prefix sharing row %d: %d expert ids differ from stepwise", b,
                  id_diff);
        }
        CHECK(shared->total_len[0] != shared->total_len[1] ||
                  memcmp(shared->tokens, shared->tokens + MAX_LEN,
                         sizeof(int) * shared->total_len[0]) != 0,
              "rows 0 and 1 (shared prompt, other seeds) are identical");
    }
    printf("[prefix sharing] max |logprob(shared) - logprob(stepwise)| = %.3g\n", batch_lp_diff);
    batch_lp_diff = batch_diff;
    aha_rollout_destroy(&shared);
    aha_rollout_destroy(&step);
}

/* 3. Behaviour log-probs and the expert record against a full forward. */
static void test_against_forward(const aha_model_t *m) {
    enum { G = 6 };
    const int pidx[G] = {0, 1, 2, 3, 4, 0};
    const uint64_t seeds[G] = {31, 32, 33, 34, 35, 36};
    const aha_gen_config_t gen = {24, 0.7f, 1.0f};
    const int V = m->cfg.vocab_size, L = m->cfg.n_layers, E = m->cfg.n_routed_experts;
    aha_rollout_t *ro = generate(m, G, MAX_LEN, 1, pidx, seeds, &gen, NULL);
    if (!ro) return;
    CHECK(ro->expert_ids != NULL && ro->top_k == m->cfg.top_k && ro->n_layers == L,
          "expert record missing (top_k %d, layers %d)", ro->top_k, ro->n_layers);
    int T = 0, n_fin = 0, n_resp = 0;
    aha_acts_t *a = forward_rows(m, ro, &T);
    if (!a || !ro->expert_ids) goto done;
    const float *logits = aha_acts_logits(a);
    const int *fids = aha_acts_expert_ids(a);
    const int K = ro->top_k;
    int lp_bad = 0, lp_nonresp = 0, id_diff = 0, id_pad = 0, id_last = 0, id_range = 0;
    for (int b = 0; b < G; b++) {
        const int P = ro->prompt_len[b], N = ro->total_len[b];
        const int *tok = ro->tokens + (size_t)b * ro->max_len;
        const float *lp = ro->logprobs + (size_t)b * ro->max_len;
        n_fin += ro->finished[b];
        for (int p = 0; p < ro->max_len; p++) {
            if (p < P || p >= N) {
                lp_nonresp += lp[p] != 0.0f; /* aha_generate zeroes the whole buffer */
                continue;
            }
            n_resp++;
            double ref =
                tu_log_softmax_at(logits + ((size_t)b * T + p - 1) * V, V, gen.temperature, tok[p]);
            double d = fabs(lp[p] - ref);
            forward_lp_diff = fmax(forward_lp_diff, d);
            lp_bad += !(d <= 1e-4);
        }
        for (int l = 0; l < L; l++) {
            const int moe = aha_model_layer_is_moe(&m->cfg, l);
            for (int p = 0; p < ro->max_len; p++) {
                int same = 1, all_unset = 1;
                for (int k = 0; k < K; k++) {
                    int id = ro->expert_ids[ro_eid(ro, l, b, p, k)];
                    all_unset &= id == -1;
                    if (p < N) {
                        same &= id == fids[(((size_t)l * G + b) * T + p) * K + k];
                        if (moe && p < N - 1) id_range += id < 0 || id >= E;
                    }
                }
                if (!moe || p >= N)
                    id_pad += !all_unset; /* dense layer or beyond the row: nothing routed */
                else if (p < N - 1)
                    id_diff += !same; /* every fed position: the forward's routing */
                else
                    /* the last token is never fed, however the row stopped */
                    id_last += !all_unset;
            }
        }
    }
    printf("[vs forward] %d response tokens, %d/%d rows finished, max |logprob - forward| = "
           "%.3g\n",
           n_resp, n_fin, G, forward_lp_diff);
    CHECK(n_resp > 0, "no response tokens");
    CHECK(n_fin > 0 && n_fin < G, "want finished and unfinished rows for coverage (%d of %d)",
          n_fin, G);
    CHECK(lp_bad == 0,
          "%d behaviour log-probs differ from the forward's by more than 1e-4 (max %g)", lp_bad,
          forward_lp_diff);
    CHECK(lp_nonresp == 0, "%d log-probs outside the responses are not 0", lp_nonresp);
    CHECK(id_diff == 0, "%d (layer, row, position) expert records differ from the forward's",
          id_diff);
    CHECK(id_range == 0, "%d recorded expert ids outside [0, %d)", id_range, E);
    CHECK(id_pad == 0, "%d dense-layer or beyond-the-row expert records are not -1", id_pad);
    CHECK(id_last == 0, "%d last-position expert records are not -1", id_last);
done:
    aha_acts_destroy(&a);
    aha_rollout_destroy(&ro);
}

/* 4. Greedy decoding: the forward's argmax at every response position, independent of the RNG. */
static void test_greedy(const aha_model_t *m) {
    enum { G = 6 };
    const int pidx[G] = {0, 1, 2, 3, 4, 0};
    const uint64_t seeds[G] = {41, 42, 43, 44, 45, 46}, other[G] = {1, 2, 3, 4, 5, 6};
    const aha_gen_config_t gen = {20, 0.0f, 1.0f};
    const int V = m->cfg.vocab_size;
    aha_rollout_t *ro = generate(m, G, MAX_LEN, 0, pidx, seeds, &gen, NULL);
    aha_rollout_t *ro2 = generate(m, G, MAX_LEN, 0, pidx, other, &gen, NULL);
    /* a tiny nucleus keeps only the most likely token: the greedy tokens, but behaviour log-probs
     * of the tempered distribution before truncation */
    const aha_gen_config_t nucleus = {20, 0.7f, 1e-6f};
    aha_rollout_t *ro3 = generate(m, G, MAX_LEN, 0, pidx, seeds, &nucleus, NULL);
    aha_acts_t *a = NULL;
    int T = 0;
    if (!ro || !ro2 || !ro3 || !(a = forward_rows(m, ro, &T))) goto done;
    CHECK(ro->expert_ids == NULL, "expert ids allocated without record_experts");
    CHECK(rollout_diffs(ro, ro2) == 0, "greedy rollouts depend on the RNG seeds");
    int nuc_diff = 0;
    for (int b = 0; b < G; b++)
        nuc_diff += ro3->total_len[b] != ro->total_len[b] ||
                    memcmp(ro3->tokens + (size_t)b * MAX_LEN, ro->tokens + (size_t)b * MAX_LEN,
                           sizeof(int) * ro->total_len[b]) != 0;
    CHECK(nuc_diff == 0, "top_p 1e-6 differs from greedy in %d rows", nuc_diff);
    CHECK(ro->total_len[0] == ro->total_len[5] &&
              memcmp(ro->tokens, ro->tokens + (size_t)5 * MAX_LEN,
                     sizeof(int) * ro->total_len[0]) == 0,
          "greedy rows 0 and 5 (same prompt) differ");
    const float *logits = aha_acts_logits(a);
    int n_resp = 0, not_argmax = 0, near_tie = 0, lp_bad = 0;
    for (int b = 0; b < G; b++) {
        const int *tok = ro->tokens + (size_t)b * MAX_LEN;
        for (int p = ro->prompt_len[b]; p < ro->total_len[b]; p++) {
            const float *z = logits + ((size_t)b * T + p - 1) * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (z[v] > z[best]) best = v;
            n_resp++;
            if (tok[p] != best) {
                /* decode and forward logits agree only up to float rounding */
                if (z[best] - z[tok[p]] <= 1e-5f * (1.0f + fabsf(z[best])))
                    near_tie++;
                else
                    not_argmax++;
            }
            double d =
                fabs(ro->logprobs[(size_t)b * MAX_LEN + p] - tu_log_softmax_at(z, V, 0, tok[p]));
            greedy_lp_diff = fmax(greedy_lp_diff, d);
            lp_bad += !(d <= 1e-4);
            if (nuc_diff == 0) {
                d = fabs(ro3->logprobs[(size_t)b * MAX_LEN + p] -
                         tu_log_softmax_at(z, V, nucleus.temperature, tok[p]));
                greedy_lp_diff = fmax(greedy_lp_diff, d);
                lp_bad += !(d <= 1e-4);
            }
        }
    }
    printf("[greedy] %d response tokens, %d not the forward's argmax (%d near-ties), max "
           "|logprob - forward| = %.3g\n",
           n_resp, not_argmax + near_tie, near_tie, greedy_lp_diff);
    CHECK(n_resp > 0, "no response tokens");
    CHECK(not_argmax == 0, "%d greedy tokens are not the forward's argmax", not_argmax);
    CHECK(lp_bad == 0, "%d greedy/nucleus log-probs differ from the forward's by more than 1e-4",
          lp_bad);
done:
    aha_acts_destroy(&a);
    aha_rollout_destroy(&ro);
    aha_rollout_destroy(&ro2);
    aha_rollout_destroy(&ro3);
}

/* Checks the stopping invariants of every row of RO (prompts PIDX, limit MAX_NEW); counts rows
 * that finished, stopped at max_new_tokens and stopped at max_len. */
static void check_stops(const aha_rollout_t *ro, const int *pidx, int max_new, int counts[3]) {
    for (int b = 0; b < ro->n; b++) {
        const int P = ro->prompt_len[b], N = ro->total_len[b];
        const int *tok = ro->tokens + (size_t)b * ro->max_len;
        const float *lp = ro->logprobs + (size_t)b * ro->max_len;
        CHECK(P == prompt_n[pidx[b]] && memcmp(tok, prompt_ids[pidx[b]], sizeof(int) * P) == 0,
              "row %d: prompt not copied (prompt_len %d)", b, P);
        CHECK(N >= P && N - P <= max_new && N <= ro->max_len,
              "row %d: total_len %d (prompt %d, max_new %d, max_len %d)", b, N, P, max_new,
              ro->max_len);
        const int last_eos = N > P && tok[N - 1] == AHA_TOK_EOS;
        CHECK(ro->finished[b] == last_eos, "row %d: finished %d but last token %d", b,
              ro->finished[b], N > 0 ? tok[N - 1] : -1);
        int early_eos = 0, bad_tok = 0, bad_lp = 0;
        for (int p = P; p < N; p++) {
            early_eos += p < N - 1 && tok[p] == AHA_TOK_EOS;
            bad_tok += tok[p] < 0 || tok[p] >= AHA_TOK_VOCAB;
            bad_lp += !(lp[p] <= 0.0f && isfinite(lp[p]));
        }
        CHECK(early_eos == 0, "row %d: generation continued after <eos>", b);
        CHECK(bad_tok == 0 && bad_lp == 0, "row %d: %d tokens out of range, %d bad log-probs", b,
              bad_tok, bad_lp);
        const int limit = P + max_new < ro->max_len ? P + max_new : ro->max_len;
        /* a row stops only at <eos> or at a limit */
        CHECK(ro->finished[b] || N == limit, "row %d: unfinished at %d, limit %d", b, N, limit);
        if (ro->finished[b])
            counts[0]++;
        else if (N - P == max_new)
            counts[1]++;
        else if (N == ro->max_len)
            counts[2]++;
    }
}

/* 5 and 6. Stopping rules, then the response text. */
static void test_response_text(const aha_rollout_t *ro);

static void test_stopping(void) {
    enum { G = 8, SHORT = 16, MAX_NEW = 6 };
    /* prompt 3 has 11 tokens: max_len (16) binds before max_new_tokens (6) */
    const int pidx[G] = {0, 1, 2, 3, 4, 3, 0, 3};
    const uint64_t seeds[G] = {51, 52, 53, 54, 55, 56, 57, 58};
    const aha_gen_config_t gen = {MAX_NEW, 1.0f, 1.0f};
    aha_model_t *eos_likely = make_model(5, 1.0f, 0.1f, 0.6f);
    aha_model_t *eos_never = make_model(5, 1.0f, 0.1f, -20.0f);
    aha_rollout_t *ro = NULL, *ro2 = NULL, *one = NULL, *reused = NULL;
    aha_kv_t *kv = NULL;
    if (!eos_likely || !eos_never) goto done;

    int counts[3] = {0};
    ro = generate(eos_likely, G, SHORT, 0, pidx, seeds, &gen, NULL);
    if (ro) check_stops(ro, pidx, MAX_NEW, counts);
    printf("[stopping] <eos>-likely model: %d finished, %d at max_new_tokens, %d at max_len\n",
           counts[0], counts[1], counts[2]);
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0,
          "want every way of stopping for coverage: %d finished, %d max_new, %d max_len", counts[0],
          counts[1], counts[2]);
    if (ro) test_response_text(ro);

    int counts2[3] = {0};
    ro2 = generate(eos_never, G, SHORT, 0, pidx, seeds, &gen, NULL);
    if (ro2) check_stops(ro2, pidx, MAX_NEW, counts2);
    CHECK(counts2[0] == 0 && counts2[1] + counts2[2] == G,
          "<eos>-free model: %d finished, %d max_new, %d max_len", counts2[0], counts2[1],
          counts2[2]);

    /* max_new_tokens = 1: exactly one token per row */
    const aha_gen_config_t gen1 = {1, 1.0f, 1.0f};
    one = generate(eos_never, G, SHORT, 0, pidx, seeds, &gen1, NULL);
    int wrong = 0;
    for (int b = 0; one && b < G; b++)
        wrong += one->total_len[b] != one->prompt_len[b] + 1;
    CHECK(one && wrong == 0, "max_new_tokens 1: %d rows without exactly one token", wrong);

    /* Tokens after total_len are <pad>, also in a reused rollout whose previous rows were
     * longer. */
    if (make_rollout(eos_never, G, SHORT, 0, &kv, &reused) == 0) {
        int stale = 0;
        CHECK(run(eos_never, kv, reused, pidx, seeds, &gen, NULL) == 0, "generate: %s",
              aha_last_error());
        CHECK(run(eos_never, kv, reused, pidx, seeds, &gen1, NULL) == 0, "generate: %s",
              aha_last_error());
        for (int b = 0; b < G; b++)
            for (int p = reused->total_len[b]; p < SHORT; p++)
                stale += reused->tokens[(size_t)b * SHORT + p] != AHA_TOK_PAD;
        CHECK(stale == 0, "reused rollout: %d tokens beyond total_len are not <pad>", stale);
    }
done:
    aha_kv_destroy(&kv);
    aha_rollout_destroy(&ro);
    aha_rollout_destroy(&ro2);
    aha_rollout_destroy(&one);
    aha_rollout_destroy(&reused);
    aha_model_destroy(&eos_likely);
    aha_model_destroy(&eos_never);
}

static void test_response_text(const aha_rollout_t *ro) {
    char text[4 * MAX_LEN * 16], ref[sizeof text], small[sizeof text];
    int n_eos_text = 0;
    for (int b = 0; b < ro->n; b++) {
        const int P = ro->prompt_len[b], N = ro->total_len[b];
        const int *resp = ro->tokens + (size_t)b * ro->max_len + P;
        int rc = aha_rollout_response_text(ro, b, text, sizeof text);
        CHECK(rc == 0, "row %d response text: %s", b, aha_last_error());
        CHECK(aha_tok_decode(resp, N - P, ref, sizeof ref) == 0, "decode: %s", aha_last_error());
        if (rc < 0) continue;
        CHECK(strcmp(text, ref) == 0, "row %d: response text '%s', decode '%s'", b, text, ref);
        /* round trip: encoding the text gives the response ids (without <pad>, which decodes
         * to nothing) */
        int ids[4 * MAX_LEN], n_ids = -1, n_want = 0, mism = 0;
        CHECK(aha_tok_encode(text, ids, 4 * MAX_LEN, &n_ids) == 0, "encode: %s", aha_last_error());
        for (int i = 0; i < N - P; i++) {
            if (resp[i] == AHA_TOK_PAD) continue;
            mism += n_want >= n_ids || ids[n_want] != resp[i];
            n_want++;
        }
        CHECK(mism == 0 && n_ids == n_want, "row %d: text does not re-encode to the response", b);
        const size_t len = strlen(text);
        if (ro->finished[b]) {
            n_eos_text++;
            CHECK(len >= 5 && strcmp(text + len - 5, "<eos>") == 0, "row %d: finished, text '%s'",
                  b, text);
        }
        /* too small by one byte: error, buffer untouched; exact fit: fine */
        memset(small, 'Z', sizeof small);
        rc = aha_rollout_response_text(ro, b, small, len);
        int touched = 0;
        for (size_t i = 0; i < sizeof small; i++)
            touched += small[i] != 'Z';
        CHECK(rc == AHA_ERR_RANGE, "row %d: %zu-byte buffer for %zu bytes returned %d", b, len,
              len + 1, rc);
        CHECK(touched == 0, "row %d: failed response_text wrote %d bytes", b, touched);
        rc = aha_rollout_response_text(ro, b, small, len + 1);
        CHECK(rc == 0 && strcmp(small, text) == 0, "row %d: exact-size buffer (rc %d)", b, rc);
    }
    CHECK(n_eos_text > 0, "no finished row to check the <eos> spelling on");
    CHECK(aha_rollout_response_text(ro, -1, text, sizeof text) < 0, "row -1 accepted");
    CHECK(aha_rollout_response_text(ro, ro->n, text, sizeof text) < 0, "row n accepted");
    CHECK(aha_rollout_response_text(ro, 0, NULL, sizeof text) < 0, "NULL buffer accepted");
}

/* 7. Bad arguments. */
static void test_bad_args(const aha_model_t *m) {
    enum { G = 3 };
    aha_rollout_t *sentinel = (aha_rollout_t *)&prompt_n, *out = sentinel;
    CHECK(aha_rollout_new(m, 0, MAX_LEN, 0, &out) < 0 && out == sentinel, "n = 0 accepted");
    CHECK(aha_rollout_new(m, -2, MAX_LEN, 0, &out) < 0 && out == sentinel, "n = -2 accepted");
    CHECK(aha_rollout_new(m, G, 0, 0, &out) < 0 && out == sentinel, "max_len = 0 accepted");
    aha_rollout_destroy(NULL); /* no-ops */
    aha_rollout_t *none = NULL;
    aha_rollout_destroy(&none);

    aha_kv_t *kv = NULL;
    aha_rollout_t *ro = NULL;
    aha_model_t *eos_never = make_model(5, 1.0f, 0.1f, -20.0f);
    aha_model_t *other = NULL;
    aha_model_config_t oc = m->cfg;
    oc.dim = 16;
    aha_kv_t *kv_short = NULL, *kv_other = NULL;
    if (!eos_never || make_rollout(m, G, MAX_LEN, 1, &kv, &ro) < 0) goto done;
    const int pidx[G] = {0, 1, 2};
    const uint64_t seeds[G] = {1, 2, 3};
    const aha_gen_config_t gen = {8, 0.7f, 1.0f};
    CHECK(run(m, kv, ro, pidx, seeds, &gen, NULL) == 0, "generate: %s", aha_last_error());
    int saved_total[G];
    memcpy(saved_total, ro->total_len, sizeof saved_total);

    /* prompt lengths: <= 0 or >= max_len (no room for a response); rejected before anything is
     * written */
    const int bad_len[] = {0, -1, MAX_LEN, MAX_LEN + 5};
    int buf[MAX_LEN + 8] = {AHA_TOK_BOS};
    for (size_t i = 0; i < sizeof bad_len / sizeof *bad_len; i++) {
        const int *prompts[G] = {prompt_ids[0], buf, prompt_ids[1]};
        int lens[G] = {prompt_n[0], bad_len[i], prompt_n[1]};
        aha_rng_t rngs[G];
        for (int b = 0; b < G; b++)
            aha_rng_seed(&rngs[b], 7 + b);
        int rc = aha_generate(m, kv, prompts, lens, rngs, &gen, ro);
        CHECK(rc == AHA_ERR_ARG, "prompt length %d: rc %d", bad_len[i], rc);
        CHECK(memcmp(saved_total, ro->total_len, sizeof saved_total) == 0,
              "prompt length %d: rollout written on failure", bad_len[i]);
    }
    /* prompt tokens outside the vocabulary */
    const int bad_tok[] = {-1, AHA_TOK_VOCAB, 1 << 20};
    for (size_t i = 0; i < sizeof bad_tok / sizeof *bad_tok; i++) {
        int p[3] = {AHA_TOK_BOS, bad_tok[i], AHA_TOK_USER};
        const int *prompts[G] = {prompt_ids[0], prompt_ids[1], p};
        int lens[G] = {prompt_n[0], prompt_n[1], 3};
        aha_rng_t rngs[G];
        for (int b = 0; b < G; b++)
            aha_rng_seed(&rngs[b], 7 + b);
        int rc = aha_generate(m, kv, prompts, lens, rngs, &gen, ro);
        CHECK(rc < 0, "prompt token %d accepted (rc %d)", bad_tok[i], rc);
    }
    /* sampling parameters */
    const aha_gen_config_t bad_gen[] = {
        {8, -0.5f, 1.0f}, {8, NAN, 1.0f}, {8, INFINITY, 1.0f}, {8, 0.7f, NAN}};
    for (size_t i = 0; i < sizeof bad_gen / sizeof *bad_gen; i++) {
        int rc = run(m, kv, ro, pidx, seeds, &bad_gen[i], NULL);
        CHECK(rc == AHA_ERR_ARG, "temperature %g top_p %g: rc %d", (double)bad_gen[i].temperature,
              (double)bad_gen[i].top_p, rc);
    }
    /* KV cache shorter than max_len: an error once a row outgrows it (the <eos>-free model keeps
     * generating), also when even the prompt does not fit */
    aha_rollout_t *ro_ne = NULL;
    aha_kv_t *kv_ne = NULL;
    if (make_rollout(eos_never, G, MAX_LEN, 0, &kv_ne, &ro_ne) == 0) {
        const aha_gen_config_t longgen = {30, 1.0f, 1.0f};
        int rc = aha_kv_new(eos_never, G, 14, &kv_short);
        CHECK(rc == 0, "kv: %s", aha_last_error());
        if (rc == 0) {
            rc = run(eos_never, kv_short, ro_ne, pidx, seeds, &longgen, NULL);
            CHECK(rc == AHA_ERR_RANGE, "KV capacity 14 < max_len %d: rc %d", MAX_LEN, rc);
            aha_kv_destroy(&kv_short);
        }
        rc = aha_kv_new(eos_never, G, 4, &kv_short);
        CHECK(rc == 0, "kv: %s", aha_last_error());
        if (rc == 0) {
            rc = run(eos_never, kv_short, ro_ne, pidx, seeds, &longgen, NULL);
            CHECK(rc == AHA_ERR_RANGE, "KV capacity 4 < prompt 8: rc %d", rc);
        }
        /* the correct KV still works afterwards */
        rc = run(eos_never, kv_ne, ro_ne, pidx, seeds, &longgen, NULL);
        CHECK(rc == 0, "generate after errors: %s", aha_last_error());
        aha_kv_destroy(&kv_ne);
        aha_rollout_destroy(&ro_ne);
    }
    /* KV cache made for another model */
    if (aha_model_config_validate(&oc) == 0 && aha_model_new(&oc, &other) == 0 &&
        aha_kv_new(other, G, MAX_LEN, &kv_other) == 0) {
        int rc = run(m, kv_other, ro, pidx, seeds, &gen, NULL);
        CHECK(rc == AHA_ERR_ARG, "KV of another model: rc %d", rc);
    } else {
        CHECK(0, "other model: %s", aha_last_error());
    }
    /* a KV cache with another row count (fewer rows used to hang, more overflowed), a rollout
     * made for a model of another depth, a zero token budget, top_p 0 and NULLs: all rejected
     * before the rollout is touched */
    CHECK(run(m, kv, ro, pidx, seeds, &gen, NULL) == 0, "generate: %s", aha_last_error());
    memcpy(saved_total, ro->total_len, sizeof saved_total);
    for (int rows = G - 1; rows <= G + 1; rows += 2) {
        aha_kv_t *kv_rows = NULL;
        CHECK(aha_kv_new(m, rows, MAX_LEN, &kv_rows) == 0, "kv: %s", aha_last_error());
        int rc = run(m, kv_rows, ro, pidx, seeds, &gen, NULL);
        CHECK(rc == AHA_ERR_ARG, "KV with %d rows for a %d-row rollout: rc %d", rows, G, rc);
        aha_kv_destroy(&kv_rows);
    }
    aha_model_config_t shallow_cfg = m->cfg;
    shallow_cfg.n_layers = m->cfg.n_layers - 1;
    aha_model_t *shallow = NULL;
    aha_rollout_t *ro_shallow = NULL;
    if (aha_model_new(&shallow_cfg, &shallow) == 0 &&
        aha_rollout_new(shallow, G, MAX_LEN, 1, &ro_shallow) == 0) {
        int rc = run(m, kv, ro_shallow, pidx, seeds, &gen, NULL);
        CHECK(rc == AHA_ERR_ARG, "rollout of a %d-layer model used with %d layers: rc %d",
              shallow_cfg.n_layers, m->cfg.n_layers, rc);
    } else {
        CHECK(0, "shallow model: %s", aha_last_error());
    }
    aha_rollout_destroy(&ro_shallow);
    aha_model_destroy(&shallow);
    const aha_gen_config_t no_budget = {0, 0.7f, 1.0f}, no_nucleus = {8, 0.7f, 0.0f};
    CHECK(run(m, kv, ro, pidx, seeds, &no_budget, NULL) == AHA_ERR_ARG, "max_new_tokens 0");
    CHECK(run(m, kv, ro, pidx, seeds, &no_nucleus, NULL) == AHA_ERR_ARG, "top_p 0");
    {
        const int *prompts[G] = {prompt_ids[0], prompt_ids[1], prompt_ids[2]};
        int lens[G] = {prompt_n[0], prompt_n[1], prompt_n[2]};
        aha_rng_t rngs[G];
        for (int b = 0; b < G; b++)
            aha_rng_seed(&rngs[b], 7 + b);
        CHECK(aha_generate(NULL, kv, prompts, lens, rngs, &gen, ro) == AHA_ERR_ARG, "NULL model");
        CHECK(aha_generate(m, NULL, prompts, lens, rngs, &gen, ro) == AHA_ERR_ARG, "NULL kv");
        CHECK(aha_generate(m, kv, NULL, lens, rngs, &gen, ro) == AHA_ERR_ARG, "NULL prompts");
        CHECK(aha_generate(m, kv, prompts, lens, NULL, &gen, ro) == AHA_ERR_ARG, "NULL rngs");
        CHECK(aha_generate(m, kv, prompts, lens, rngs, NULL, ro) == AHA_ERR_ARG, "NULL gen");
        CHECK(aha_generate(m, kv, prompts, lens, rngs, &gen, NULL) == AHA_ERR_ARG, "NULL rollout");
        prompts[1] = NULL;
        CHECK(aha_generate(m, kv, prompts, lens, rngs, &gen, ro) == AHA_ERR_ARG, "NULL prompt row");
    }
    CHECK(memcmp(saved_total, ro->total_len, sizeof saved_total) == 0,
          "rollout written by a rejected call");
    {
        aha_rollout_t *too_long = NULL;
        CHECK(aha_rollout_new(m, G, m->cfg.max_seq_len + 1, 0, &too_long) == AHA_ERR_ARG &&
                  too_long == NULL,
              "rollout longer than the model's max_seq_len");
        CHECK(aha_rollout_new(NULL, G, MAX_LEN, 0, &too_long) == AHA_ERR_ARG, "NULL model");
    }
done:
    aha_kv_destroy(&kv);
    aha_kv_destroy(&kv_short);
    aha_kv_destroy(&kv_other);
    aha_rollout_destroy(&ro);
    aha_model_destroy(&eos_never);
    aha_model_destroy(&other);
}

/* spread logits, <eos> somewhat likely so rows stop at different points */
static aha_model_t *g_spread;
/* spread logits, no <eos> bias: well separated argmaxes for the greedy test */
static aha_model_t *g_greedy;

static void case_determinism(void) {
    test_determinism(g_spread);
}
static void case_batch_independence(void) {
    test_batch_independence(g_spread);
}
static void case_groups_batched(void) {
    test_groups_batched(g_spread);
}
static void case_prefix_sharing(void) {
    test_prefix_sharing(g_spread);
}
static void case_against_forward(void) {
    test_against_forward(g_spread);
}
static void case_greedy(void) {
    test_greedy(g_greedy);
}
static void case_bad_args(void) {
    test_bad_args(g_spread);
}

static const tu_case_t cases[] = {
    {"determinism", case_determinism},
    {"batch_independence", case_batch_independence},
    {"groups_batched", case_groups_batched},
    {"prefix_sharing", case_prefix_sharing},
    {"against_forward", case_against_forward},
    {"greedy", case_greedy},
    {"stopping", test_stopping},
    {"bad_args", case_bad_args},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    for (int i = 0; i < NP; i++)
        if (aha_tok_encode(PROMPT_TEXT[i], prompt_ids[i], MAX_LEN, &prompt_n[i]) < 0) {
            fprintf(stderr, "encode '%s': %s\n", PROMPT_TEXT[i], aha_last_error());
            return 1;
        }
    memcpy(prompt_copy, prompt_ids, sizeof prompt_copy);
    g_spread = make_model(3, 8.0f, 0.1f, 0.4f);
    g_greedy = make_model(4, 20.0f, 0.0f, 0.0f);
    if (!g_spread || !g_greedy) {
        fprintf(stderr, "FAIL: test models: %s\n", aha_last_error());
        return 1;
    }
    int rc = tu_main(argc, argv, cases, __FILE__);
    aha_model_destroy(&g_spread);
    aha_model_destroy(&g_greedy);
    return rc;
}
