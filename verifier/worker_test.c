/* worker: the verifier worker as a separate process (fork) talking to a ROUTER over TCP, as the
 * broker will. It announces itself, scores every group exactly as aha_reward_score does locally
 * (hand-written addition and countdown responses: correct, wrong, malformed, nested tags,
 * reused numbers, division by zero, and 30 groups of random tokens), echoes each group with
 * "name@version", drops an inconsistent group and keeps serving, sends heartbeats when idle,
 * and stops on a Control "stop" with its counters. */
#include "core/err.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "core/wire_testutil.h"
#include "model/tokenizer.h"
#include "verifier/worker.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { MAX_S = 8, MAX_TOK = 4096 };

/* A group message with its own storage. */
typedef struct {
    Aha__Group g;
    Aha__Problem p;
    uint32_t idx[MAX_S], plen[MAX_S], tlen[MAX_S], fin[MAX_S], tokens[MAX_TOK];
    float lps[MAX_TOK];
    int32_t numbers[8];
    int n;
} group_t;

static void group_init(group_t *G, uint64_t prompt_id, const char *kind) {
    memset(G, 0, sizeof *G);
    Aha__Group gi = AHA__GROUP__INIT;
    Aha__Problem pi = AHA__PROBLEM__INIT;
    G->g = gi;
    G->p = pi;
    G->p.kind = (char *)kind;
    G->p.numbers = G->numbers;
    G->g.prompt_id = prompt_id;
    G->g.problem = &G->p;
    G->g.sample_index = G->idx;
    G->g.prompt_len = G->plen;
    G->g.total_len = G->tlen;
    G->g.finished = G->fin;
    G->g.tokens = G->tokens;
    G->g.logprobs = G->lps;
    G->g.actor = "test";
}

/* Appends a sample: PROMPT text then response token ids. */
static int group_add(group_t *G, const char *prompt, const int *resp, int n_resp) {
    int ids[256], n = 0;
    if (G->n == MAX_S || aha_tok_encode(prompt, ids, 256, &n) < 0) return -1;
    if (G->g.n_tokens + (size_t)(n + n_resp) > MAX_TOK) return -1;
    for (int i = 0; i < n; i++)
        G->tokens[G->g.n_tokens++] = (uint32_t)ids[i];
    for (int i = 0; i < n_resp; i++) {
        G->tokens[G->g.n_tokens++] = (uint32_t)resp[i];
        G->lps[G->g.n_logprobs++] = -0.5f;
    }
    G->idx[G->n] = (uint32_t)G->n;
    G->plen[G->n] = (uint32_t)n;
    G->tlen[G->n] = (uint32_t)(n + n_resp);
    G->fin[G->n] = n_resp > 0 && resp[n_resp - 1] == AHA_TOK_EOS;
    G->n++;
    G->g.n_sample_index = G->g.n_prompt_len = G->g.n_total_len = G->g.n_finished = (size_t)G->n;
    return 0;
}

static int group_add_text(group_t *G, const char *prompt, const char *response) {
    int ids[512], n = 0;
    if (aha_tok_encode(response, ids, 512, &n) < 0) return -1;
    return group_add(G, prompt, ids, n);
}

static int send_group(aha_wire_t *w, const aha_peer_t *to, group_t *G) {
    return aha_wire_send_body(w, to, &G->g.base);
}

/* Receives the next ScoredGroup (skipping heartbeats, which it counts). */
static Aha__Envelope *recv_scored(aha_wire_t *w, int *heartbeats) {
    for (;;) {
        Aha__Envelope *e = NULL;
        if (aha_wire_recv(w, 10000, NULL, &e) != 0) return NULL;
        if (e->body_case == AHA__ENVELOPE__BODY_SCORED_GROUP) return e;
        if (e->body_case == AHA__ENVELOPE__BODY_HEARTBEAT) (*heartbeats)++;
        aha_wire_free(&e);
    }
}

/* Checks a reply against local scoring of the same group. */
static void expect_scores(const Aha__Envelope *e, group_t *G, const aha_reward_config_t *rc,
                          const char *what) {
    const Aha__ScoredGroup *sg = e ? e->scored_group : NULL;
    CHECK(sg && sg->group && sg->group->prompt_id == G->g.prompt_id &&
              sg->group->n_tokens == G->g.n_tokens && !strcmp(sg->verifier, "rules@1") &&
              sg->n_total == (size_t)G->n && sg->n_format == (size_t)G->n &&
              sg->n_accuracy == (size_t)G->n && sg->n_language == (size_t)G->n &&
              sg->n_overlong == (size_t)G->n,
          "%s: reply shape", what);
    if (!sg || sg->n_total != (size_t)G->n) return;
    aha_reward_problem_t prob;
    CHECK(aha_verifier_problem(&G->p, &prob) == 0, "%s: problem", what);
    size_t off = 0;
    for (int s = 0; s < G->n; s++) {
        int ids[MAX_TOK];
        char text[MAX_TOK * 16];
        int nr = (int)(G->tlen[s] - G->plen[s]);
        for (int i = 0; i < nr; i++)
            ids[i] = (int)G->tokens[off + G->plen[s] + i];
        off += G->tlen[s];
        CHECK(aha_tok_decode(ids, nr, text, sizeof text) == 0, "decode");
        aha_reward_breakdown_t b;
        aha_reward_score(rc, &prob, text, nr, &b);
        CHECK(sg->total[s] == b.total && sg->format[s] == b.format &&
                  sg->accuracy[s] == b.accuracy && sg->language[s] == b.language &&
                  sg->overlong[s] == b.overlong,
              "%s sample %d: worker %g/%g/%g/%g/%g vs local %g/%g/%g/%g/%g", what, s, sg->total[s],
              sg->format[s], sg->accuracy[s], sg->language[s], sg->overlong[s], b.total, b.format,
              b.accuracy, b.language, b.overlong);
    }
}

/* Adds the N response texts RESPS to PROMPT in G, sends G to the worker TO on W and returns the
 * scored group it answers, checked against the scores of REWARD in process (caller frees). */
static Aha__Envelope *score_texts(aha_wire_t *w, const aha_peer_t *to, group_t *G,
                                  const char *prompt, const char *const *resps, size_t n,
                                  int *heartbeats, const aha_reward_config_t *reward,
                                  const char *what) {
    for (size_t i = 0; i < n; i++)
        CHECK(group_add_text(G, prompt, resps[i]) == 0, "%s: build %zu", what, i);
    CHECK(send_group(w, to, G) == 0, "%s: send: %s", what, aha_last_error());
    Aha__Envelope *e = recv_scored(w, heartbeats);
    expect_scores(e, G, reward, what);
    return e;
}

static void worker_config(aha_verifier_config_t *cfg, const char *endpoint) {
    aha_verifier_config_default(cfg);
    cfg->endpoint = endpoint;
    cfg->heartbeat_ms = 50;
    cfg->max_bytes = 1 << 20;
    cfg->reward.w_language = 0.05;
    cfg->reward.w_overlong = 1.0;
    cfg->reward.max_len = 40;
    cfg->reward.overlong_cache = 10;
}

/* The forked worker: serves the broker at EP until told to stop, then writes its stats to FD. */
static int worker_child(const char *ep, int fd) {
    void *ctx = zmq_ctx_new();
    aha_verifier_config_t cfg;
    worker_config(&cfg, ep);
    aha_verifier_stats_t st;
    int rc = aha_verifier_serve(ctx, &cfg, &st);
    if (write(fd, &st, sizeof st) != (ssize_t)sizeof st) rc = -1;
    zmq_ctx_term(ctx);
    return rc == 0 ? 0 : 1;
}

static void test_serve(void) {
    tu_forked_peer_t child;
    if (tu_fork_peer(&child, "broker", worker_child) != 0) return;
    aha_wire_t *w = child.w;
    aha_verifier_config_t local; /* the worker's config, for its scoring in process */
    worker_config(&local, child.ep);

    /* hello */
    aha_peer_t verifier;
    Aha__Envelope *e = NULL;
    CHECK(aha_wire_recv(w, 10000, &verifier, &e) == 0 && e &&
              e->body_case == AHA__ENVELOPE__BODY_HELLO && !strcmp(e->hello->role, "verifier") &&
              !strcmp(e->hello->name, "rules") && !strcmp(e->hello->version, "1") &&
              e->hello->n_reward_kinds == AHA_TASK_COUNT && !strcmp(e->hello->reward_kinds[1], "countdown"),
          "hello from the worker: %s", aha_last_error());
    aha_wire_free(&e);
    int heartbeats = 0;

    /* addition */
    static group_t G;
    const char *add_prompt = "<bos><|User|>3+4<|Assistant|>";
    group_init(&G, 1, "addition");
    G.p.expected = 7;
    const char *add_resp[] = {"<think>3+4=07;</think><answer>7</answer><eos>",
                              "<think>3+4=08;</think><answer>8</answer><eos>",
                              "<answer>7</answer><eos>",
                              "<think><think>x</think><answer>7</answer><eos>",
                              "<think>3+4=07;</think><answer>7</answer><answer>7</answer><eos>",
                              "<think>3+4=07;3+4=07;3+4=07;3+4=07;</think><answer>7</answer><eos>",
                              "<think>",
                              "<think>x</think><answer>99999999999999999999999999</answer>"};
    e = score_texts(w, &verifier, &G, add_prompt, add_resp, sizeof add_resp / sizeof *add_resp,
                    &heartbeats, &local.reward, "addition");
    CHECK(e && e->scored_group->accuracy[0] == 1 && e->scored_group->accuracy[1] == 0 &&
              e->scored_group->format[2] == 0 &&
              e->scored_group->total[0] > e->scored_group->total[1],
          "addition: correct > wrong, malformed has format 0");
    CHECK(e && e->scored_group->overlong[5] < 0 && e->scored_group->overlong[0] == 0,
          "addition: long response shaped");
    aha_wire_free(&e);

    /* countdown */
    static group_t C;
    const char *cd_prompt = "<bos><|User|>3 7 25 -> 46<|Assistant|>";
    group_init(&C, 2, "countdown");
    C.numbers[0] = 3, C.numbers[1] = 7, C.numbers[2] = 25;
    C.p.n_numbers = 3;
    C.p.target = 46;
    const char *cd_resp[] = {"<think>3*7=21;21+25=46;</think><answer>3*7+25</answer><eos>",
                             "<think>x</think><answer>3*7+25+25</answer><eos>",
                             "<think>x</think><answer>25/(7-7)</answer><eos>",
                             "<think>x</think><answer>((((3*7))))+25</answer><eos>",
                             "<think>x</think><answer>46</answer><eos>"};
    e = score_texts(w, &verifier, &C, cd_prompt, cd_resp, sizeof cd_resp / sizeof *cd_resp,
                    &heartbeats, &local.reward, "countdown");
    CHECK(e && e->scored_group->accuracy[0] == 1 && e->scored_group->accuracy[1] == 0 &&
              e->scored_group->accuracy[2] == 0 && e->scored_group->accuracy[3] == 1 &&
              e->scored_group->accuracy[4] == 0,
          "countdown: valid, reused number, division by zero, parentheses, foreign number");
    aha_wire_free(&e);

    /* an inconsistent group is dropped by the worker; the next one is served */
    static group_t B;
    group_init(&B, 3, "addition");
    CHECK(group_add_text(&B, add_prompt, add_resp[0]) == 0, "build bad");
    B.g.n_logprobs -= 1;
    CHECK(send_group(w, &verifier, &B) == 0, "send bad");

    /* random tokens */
    aha_rng_t rng;
    aha_rng_seed(&rng, 17);
    static group_t R[30];
    for (int k = 0; k < 30; k++) {
        group_init(&R[k], 100 + (uint64_t)k, k % 2 ? "countdown" : "addition");
        R[k].p.expected = (int64_t)aha_rng_below(&rng, 200);
        R[k].numbers[0] = 1 + (int)aha_rng_below(&rng, 25);
        R[k].numbers[1] = 1 + (int)aha_rng_below(&rng, 25);
        R[k].p.n_numbers = 2;
        R[k].p.target = R[k].numbers[0] + R[k].numbers[1];
        for (int s = 0; s < 4; s++) {
            int resp[48], n = 1 + (int)aha_rng_below(&rng, 48);
            for (int i = 0; i < n; i++)
                resp[i] = (int)aha_rng_below(&rng, AHA_TOK_VOCAB);
            CHECK(group_add(&R[k], add_prompt, resp, n) == 0, "build random");
        }
        CHECK(send_group(w, &verifier, &R[k]) == 0, "send random");
    }
    for (int k = 0; k < 30; k++) {
        e = recv_scored(w, &heartbeats);
        CHECK(e && e->scored_group->group->prompt_id == 100 + (uint64_t)k,
              "replies in order (want %d)", 100 + k);
        char what[32];
        snprintf(what, sizeof what, "random %d", k);
        expect_scores(e, &R[k], &local.reward, what);
        aha_wire_free(&e);
    }

    /* idle: heartbeats */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (aha_wire_recv(w, 50, NULL, &e) == 0) {
            heartbeats += e->body_case == AHA__ENVELOPE__BODY_HEARTBEAT;
            aha_wire_free(&e);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 400);
    CHECK(heartbeats >= 3, "heartbeats while idle: %d", heartbeats);

    /* stop */
    CHECK(aha_wire_send_control(w, &verifier, "stop", 0, NULL) == 0, "send stop");
    int status = tu_wait_child(child.pid, 20000);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "worker stopped cleanly (status %d)", status);
    aha_verifier_stats_t st;
    memset(&st, 0, sizeof st);
    CHECK(read(child.from, &st, sizeof st) == (ssize_t)sizeof st, "stats from the worker");
    CHECK(st.groups == 32 && st.samples == 8 + 5 + 30 * 4,
          "worker counted %llu groups, %llu samples", (unsigned long long)st.groups,
          (unsigned long long)st.samples);
    CHECK(st.wire.invalid == 1 && st.wire.accepted == 32 + 1,
          "worker dropped the inconsistent group (invalid %llu, accepted %llu)",
          (unsigned long long)st.wire.invalid, (unsigned long long)st.wire.accepted);
    printf("[worker] %llu groups, %llu samples, %llu heartbeats, dropped %llu invalid\n",
           (unsigned long long)st.groups, (unsigned long long)st.samples,
           (unsigned long long)st.heartbeats, (unsigned long long)st.wire.invalid);

    aha_wire_destroy(&w);
    zmq_ctx_term(child.ctx);
}

static const tu_case_t cases[] = {
    {"serve", test_serve},
};

TU_MAIN(cases)
