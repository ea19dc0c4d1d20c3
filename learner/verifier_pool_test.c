/* verifier_pool: the learner's scoring in process, on real ZeroMQ sockets (tcp on 127.0.0.1)
 * with verifiers played by threads: a verifier that takes a group and dies before answering
 * costs one deadline, is marked lost and the group is re-dispatched to a live verifier
 * (verifier/worker.h) whose scores equal in-process scoring sample by sample; the next group
 * goes straight to the live one; once no verifier is left the pool scores in process; and
 * aha_score_local gives the same scores as the rules applied to each response. */
#include "core/clock.h"
#include "core/err.h"
#include "learner/roles_testutil.h"
#include "learner/verifier_pool.h"
#include "verifier/worker.h"
#include <zmq.h>

enum { DEADLINE_MS = 500 };

typedef struct {
    void *zctx;
    const char *ep;
    volatile int got_group;
    int rc;
} dying_t;

/* Registers as verifier "dies@1", takes one group and closes its socket without answering. */
static void *dying_verifier(void *arg) {
    dying_t *d = arg;
    aha_wire_t *w = NULL;
    int rc = aha_wire_new(d->zctx, ZMQ_DEALER, "dies", 1 << 20, &w);
    if (rc == AHA_OK) rc = aha_wire_connect(w, d->ep);
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Hello hello = AHA__HELLO__INIT;
    hello.role = "verifier";
    hello.name = "dies";
    hello.version = "1";
    env.body_case = AHA__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    if (rc == AHA_OK) rc = aha_wire_send(w, NULL, &env);
    const double until = aha_now_ms() + 20000;
    while (rc == AHA_OK && !d->got_group && aha_now_ms() < until) {
        Aha__Envelope *e = NULL;
        int r = aha_wire_recv(w, 10, NULL, &e);
        if (r == AHA_ERR_TIMEOUT) continue;
        if (r != AHA_OK)
            rc = r;
        else if (e->body_case == AHA__ENVELOPE__BODY_GROUP)
            d->got_group = 1;
        aha_wire_free(&e);
    }
    aha_wire_destroy(&w); /* dies mid-group */
    d->rc = rc;
    return NULL;
}

typedef struct {
    void *zctx;
    aha_verifier_config_t cfg;
    volatile sig_atomic_t stop;
    aha_verifier_stats_t stats;
    int rc;
} live_t;

static void *live_verifier(void *arg) {
    live_t *v = arg;
    v->rc = aha_verifier_serve(v->zctx, &v->cfg, &v->stats);
    return NULL;
}

/* Scores prompt PID's made-up group through P and in process; checks they agree. */
static void score_and_compare(aha_vpool_t *p, const aha_model_t *m, uint64_t pid) {
    aha_reward_config_t rcfg;
    aha_reward_config_default(&rcfg);
    aha_reward_problem_t rp;
    aha_rollout_t *r = NULL;
    REQUIRE_OK(rt_fake_rollout(m, pid, &r, &rp));
    aha_reward_breakdown_t got[RT_G], want[RT_G];
    REQUIRE_OK(aha_vpool_score(p, &rcfg, r, &rp, pid, 0, got));
    REQUIRE_OK(aha_score_local(&rcfg, NULL, r, &rp, pid, want));
    for (int s = 0; s < RT_G; s++)
        CHECK(!memcmp(&got[s], &want[s], sizeof got[s]),
              "prompt %llu sample %d: total %g accuracy %g vs in process %g %g",
              (unsigned long long)pid, s, got[s].total, got[s].accuracy, want[s].total,
              want[s].accuracy);
    CHECK(want[0].accuracy == 1 && want[1].accuracy == 0, "right and wrong answers: %g %g",
          want[0].accuracy, want[1].accuracy);
    aha_rollout_destroy(&r);
}

static void test_failover(void) {
    void *zctx = zmq_ctx_new();
    aha_model_t *m = rt_model(5);
    aha_vpool_t *p = NULL;
    char ep[256];
    REQUIRE_OK(aha_vpool_new(zctx, "tcp://127.0.0.1:*", 1 << 20, m->cfg.max_seq_len, DEADLINE_MS,
                             NULL, NULL, &p));
    REQUIRE_OK(aha_vpool_endpoint(p, ep, sizeof ep));
    /* the dying verifier joins first, so it gets the first group */
    dying_t d = {zctx, ep, 0, 0};
    pthread_t td, tl;
    pthread_create(&td, NULL, dying_verifier, &d);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 1, 10000));
    live_t v;
    memset(&v, 0, sizeof v);
    v.zctx = zctx;
    aha_verifier_config_default(&v.cfg);
    v.cfg.endpoint = ep;
    v.cfg.name = "live";
    v.cfg.limits.max_len = m->cfg.max_seq_len;
    v.cfg.stop = &v.stop;
    pthread_create(&tl, NULL, live_verifier, &v);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 2, 10000));
    CHECK(aha_vpool_live(p) == 2, "%d live", aha_vpool_live(p));

    const double t0 = aha_now_ms();
    score_and_compare(p, m, 0);
    const double took = aha_now_ms() - t0;
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(d.got_group, "the dying verifier had the group");
    CHECK(st.remote == 1 && st.lost == 1 && st.redispatched == 1 && st.local == 0 && st.live == 1,
          "remote %llu lost %llu redispatched %llu local %llu live %d",
          (unsigned long long)st.remote, (unsigned long long)st.lost,
          (unsigned long long)st.redispatched, (unsigned long long)st.local, st.live);
    CHECK(took >= DEADLINE_MS && took < 4 * DEADLINE_MS, "cost one deadline: %.0f ms", took);

    score_and_compare(p, m, 1); /* straight to the live verifier */
    aha_vpool_stats(p, &st);
    CHECK(st.remote == 2 && st.redispatched == 1 && st.local == 0, "remote %llu redispatched %llu",
          (unsigned long long)st.remote, (unsigned long long)st.redispatched);

    /* the last verifier stops: the pool scores in process */
    aha_vpool_stop_verifiers(p);
    pthread_join(tl, NULL);
    CHECK(v.rc == AHA_OK && v.stats.groups == 2, "live verifier: rc %d, %llu groups", v.rc,
          (unsigned long long)v.stats.groups);
    score_and_compare(p, m, 2);
    aha_vpool_stats(p, &st);
    CHECK(st.local == 1 && st.remote == 2 && st.live == 0, "local %llu remote %llu live %d",
          (unsigned long long)st.local, (unsigned long long)st.remote, st.live);
    pthread_join(td, NULL);
    CHECK(d.rc == AHA_OK, "dying verifier: %d", d.rc);
    aha_vpool_destroy(&p);
    CHECK(p == NULL, "destroy NULLs the pointer");
    aha_vpool_destroy(&p);
    aha_model_destroy(&m);
    zmq_ctx_term(zctx);
}

static void test_no_verifier(void) {
    void *zctx = zmq_ctx_new();
    aha_model_t *m = rt_model(6);
    aha_vpool_t *p = NULL;
    REQUIRE_OK(aha_vpool_new(zctx, "tcp://127.0.0.1:*", 1 << 20, m->cfg.max_seq_len, DEADLINE_MS,
                             NULL, NULL, &p));
    CHECK(aha_vpool_wait_verifiers(p, 1, 50) == AHA_ERR_TIMEOUT, "nobody joins");
    const double t0 = aha_now_ms();
    score_and_compare(p, m, 3);
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.local == 1 && st.remote == 0, "scored in process: local %llu",
          (unsigned long long)st.local);
    CHECK(aha_now_ms() - t0 < DEADLINE_MS, "without verifiers no deadline is waited");
    CHECK(aha_vpool_new(zctx, "tcp://127.0.0.1:*", 1 << 20, 0, DEADLINE_MS, NULL, NULL, &p) ==
              AHA_ERR_ARG,
          "bad arguments refused");
    CHECK(p != NULL, "a refused constructor leaves *out alone");
    aha_vpool_destroy(&p);
    aha_model_destroy(&m);
    zmq_ctx_term(zctx);
}

static const tu_case_t cases[] = {
    {"failover", test_failover}, {"no_verifier", test_no_verifier}, {NULL, NULL}};

int main(int argc, char **argv) {
    return tu_main(argc, argv, cases, __FILE__);
}
