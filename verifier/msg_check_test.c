/* msg_check: the content checks of the task messages reject each kind of inconsistent Group /
 * ScoredGroup / Lease and name the field (moved here from core/wire_test.c with the checks). */
#include "core/err.h"
#include "core/testutil.h"
#include "core/wire_testutil.h"
#include "verifier/msg_check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const aha_msg_limits_t k_limits = {VOCAB, 64, LAYERS, TOPK, EXPERTS, 16};

/* ---- content checks, one broken field at a time ---- */
static void expect_bad(const Aha__Group *g, const char *needle, const char *what) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.body_case = AHA__ENVELOPE__BODY_GROUP;
    env.group = (Aha__Group *)g;
    char why[200] = "";
    int rc = aha_msg_check(&env, &k_limits, why, sizeof why);
    CHECK(rc == AHA_ERR_FORMAT && strstr(why, needle), "%s: rc %d, why '%s' (want '%s')", what, rc,
          why, needle);
}

static void test_group(void) {
    Aha__Problem prob = AHA__PROBLEM__INIT;
    Aha__Group g = tu_make_group(&prob);
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.body_case = AHA__ENVELOPE__BODY_GROUP;
    env.group = &g;
    char why[200] = "";
    CHECK(aha_msg_check(&env, &k_limits, why, sizeof why) == 0, "valid group: %s", why);

    Aha__Group b = g;
    b.n_finished = 2;
    expect_bad(&b, "finished", "array lengths disagree");
    b = g;
    uint32_t plen[SAMPLES] = {4, 9, 4};
    b.prompt_len = plen;
    expect_bad(&b, "prompt_len", "prompt longer than the sample");
    b = g;
    uint32_t tlen[SAMPLES] = {6, 7, 65};
    b.total_len = tlen;
    expect_bad(&b, "total_len", "sample over max_len");
    b = g;
    b.n_tokens -= 1;
    expect_bad(&b, "tokens", "token count");
    b = g;
    uint32_t tok[64];
    memcpy(tok, g.tokens, sizeof(uint32_t) * g.n_tokens);
    tok[3] = VOCAB;
    b.tokens = tok;
    expect_bad(&b, "vocab", "token outside the vocabulary");
    b = g;
    float lp[64];
    memcpy(lp, g.logprobs, sizeof(float) * g.n_logprobs);
    lp[1] = NAN;
    b.logprobs = lp;
    expect_bad(&b, "logprob", "NaN log-prob");
    lp[1] = 0.5f;
    expect_bad(&b, "logprob", "positive log-prob");
    b = g;
    b.top_k = 1;
    expect_bad(&b, "routing record", "other top-k");
    b = g;
    b.n_expert_ids -= 4;
    expect_bad(&b, "expert ids", "routing record length");
    b = g;
    int32_t e[64 * LAYERS * TOPK];
    memcpy(e, g.expert_ids, sizeof(int32_t) * g.n_expert_ids);
    e[5] = EXPERTS;
    b.expert_ids = e;
    expect_bad(&b, "expert id", "expert id out of range");
    e[5] = -2;
    expect_bad(&b, "expert id", "negative expert id");
    b = g;
    b.problem = NULL;
    expect_bad(&b, "problem", "no problem");
    b = g;
    Aha__Problem p2 = prob;
    p2.kind = "sudoku";
    b.problem = &p2;
    expect_bad(&b, "kind", "unknown task");
    b = g;
    b.n_sample_index = 0;
    expect_bad(&b, "no samples", "empty group");
}

/* A scored group: one score array short, a NaN, no verifier name. */
static void test_scored_group(void) {
    Aha__Problem prob = AHA__PROBLEM__INIT;
    Aha__Group g = tu_make_group(&prob);
    char why[200] = "";
    Aha__ScoredGroup sg = AHA__SCORED_GROUP__INIT;
    double sc[SAMPLES] = {1, 0.1, 0}, bad[SAMPLES] = {1, NAN, 0};
    sg.group = &g;
    sg.n_total = sg.n_format = sg.n_accuracy = sg.n_language = sg.n_overlong = SAMPLES;
    sg.total = sg.format = sg.accuracy = sg.language = sg.overlong = sc;
    sg.verifier = "rules@1";
    Aha__Envelope senv = AHA__ENVELOPE__INIT;
    senv.body_case = AHA__ENVELOPE__BODY_SCORED_GROUP;
    senv.scored_group = &sg;
    CHECK(aha_msg_check(&senv, &k_limits, why, sizeof why) == 0, "valid scored group: %s", why);
    sg.n_accuracy = 2;
    CHECK(aha_msg_check(&senv, &k_limits, why, sizeof why) == AHA_ERR_FORMAT &&
              strstr(why, "accuracy"),
          "short accuracy array: %s", why);
    sg.n_accuracy = SAMPLES;
    sg.language = bad;
    CHECK(aha_msg_check(&senv, &k_limits, why, sizeof why) == AHA_ERR_FORMAT &&
              strstr(why, "language"),
          "NaN language score: %s", why);
    sg.language = sc;
    sg.verifier = "";
    CHECK(aha_msg_check(&senv, &k_limits, why, sizeof why) == AHA_ERR_FORMAT, "no verifier");
}

/* The other bodies: a lease's group size, an announce's checksum, no envelope. */
static void test_other_bodies(void) {
    char why[200] = "";
    Aha__Envelope o = AHA__ENVELOPE__INIT;
    Aha__Lease lease = AHA__LEASE__INIT;
    o.body_case = AHA__ENVELOPE__BODY_LEASE;
    o.lease = &lease;
    CHECK(aha_msg_check(&o, &k_limits, why, sizeof why) == AHA_ERR_FORMAT, "lease of 0 samples");
    lease.group_size = 17;
    CHECK(aha_msg_check(&o, &k_limits, why, sizeof why) == AHA_ERR_FORMAT, "lease over max_group");
    lease.group_size = 16;
    CHECK(aha_msg_check(&o, &k_limits, why, sizeof why) == 0, "lease ok");
    Aha__WeightAnnounce wa = AHA__WEIGHT_ANNOUNCE__INIT;
    uint8_t sum[32] = {0};
    tu_short_checksum_announce(&o, &wa, sum);
    CHECK(aha_msg_check(&o, &k_limits, why, sizeof why) == AHA_ERR_FORMAT, "short checksum");
    wa.checksum.len = 32;
    CHECK(aha_msg_check(&o, &k_limits, why, sizeof why) == 0, "announce ok");
    CHECK(aha_msg_check(NULL, &k_limits, why, sizeof why) == AHA_ERR_FORMAT, "NULL envelope");
}

static const tu_case_t cases[] = {
    {"group", test_group},
    {"scored_group", test_scored_group},
    {"other_bodies", test_other_bodies},
};

TU_MAIN(cases)
