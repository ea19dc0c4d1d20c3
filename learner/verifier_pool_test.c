/* verifier_pool: the learner's scoring in process, on real ZeroMQ sockets (tcp on 127.0.0.1)
 * with verifiers played by threads: a verifier that takes a group and dies before answering
 * costs one deadline, is marked lost and the group is re-dispatched to a live verifier
 * (verifier/worker.h) whose scores equal in-process scoring sample by sample; the next group
 * goes straight to the live one; once no verifier is left the pool scores in process; and
 * aha_score_local gives the same scores as the rules applied to each response. aha_vpool_score_all
 * puts all the groups in flight at once: with a slow user verifier command, N groups over 4
 * verifiers take about N/4 of the time one at a time would, every verifier gets work; a verifier
 * that dies holding a group costs one deadline, the group goes to another, and all scores equal
 * in-process scoring. */
#include "core/clock.h"
#include "core/err.h"
#include "learner/roles_testutil.h"
#include "learner/verifier_pool.h"
#include "verifier/worker.h"
#include <zmq.h>

enum { DEADLINE_MS = 500 };

/* Registers as verifier "dies@1", takes one group and closes its socket without answering. */
static void *dying_verifier(void *arg) {
    rt_peer_t *d = arg;
    aha_wire_t *w = NULL;
    int rc = rt_peer_new(d->zctx, d->ep, "verifier", "dies", 0, &w);
    const double until = aha_now_ms() + 20000;
    while (rc == AHA_OK && !d->groups && aha_now_ms() < until) {
        Aha__Envelope *e = NULL;
        if (!rt_next(w, &rc, &e)) continue;
        if (e->body_case == AHA__ENVELOPE__BODY_GROUP) d->groups = 1;
        aha_wire_free(&e);
    }
    return rt_peer_exit(d, &w, rc); /* dies mid-group */
}

/* A pool for model M's sequences on 127.0.0.1 (verifier deadline DEADLINE, user command SB or
 * NULL); its endpoint into ep[0..256). */
static aha_vpool_t *pool_new(void *zctx, const aha_model_t *m, int deadline,
                             const aha_sandbox_config_t *sb, char *ep) {
    aha_vpool_t *p = NULL;
    REQUIRE_OK(aha_vpool_new(zctx, "tcp://127.0.0.1:*", 1 << 20, m->cfg.max_seq_len, deadline, sb,
                             NULL, &p));
    REQUIRE_OK(aha_wire_endpoint(aha_vpool_wire(p), ep, 256));
    return p;
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

/* Registers as verifier "liar@1" and answers every group with its true scores but one field of
 * sample 0 replaced by what the count of groups before it, mod 6, picks: 0 total 1e6, 1 accuracy
 * 7, 2 total -1e6, 3 language 2, 4 overlong -3, 5 format -0.5. */
static void *liar_verifier(void *arg) {
    rt_peer_t *d = arg;
    aha_wire_t *w = NULL;
    int rc = rt_peer_new(d->zctx, d->ep, "verifier", "liar", 0, &w);
    aha_reward_config_t rcfg;
    aha_reward_config_default(&rcfg);
    while (rc == AHA_OK && !d->stop) {
        Aha__Envelope *e = NULL;
        if (!rt_next(w, &rc, &e)) continue;
        if (e->body_case == AHA__ENVELOPE__BODY_GROUP) {
            static aha_sandbox_stats_t sb;
            Aha__ScoredGroup sg;
            rc = aha_verifier_score_group(&rcfg, NULL, &sb, e->group, "liar@1", &sg);
            if (rc == AHA_OK) {
                double *const score[] = {sg.total,    sg.accuracy, sg.total,
                                         sg.language, sg.overlong, sg.format};
                const double lie[] = {1e6, 7, -1e6, 2, -3, -0.5};
                const int k = d->groups++ % 6;
                score[k][0] = lie[k];
                rc = aha_wire_send_body(w, NULL, &sg.base);
                aha_verifier_scores_free(&sg);
            }
        }
        aha_wire_free(&e);
    }
    return rt_peer_exit(d, &w, rc);
}

/* Scores out of range (totals of +-1e6, accuracy 7, ...) from the only verifier are dropped,
 * counted and the groups scored in process: the scores equal the true ones. */
static void test_scores_out_of_range(void) {
    rt_fixture_t f = rt_fixture(5);
    aha_vpool_t *p = pool_new(f.zctx, f.m, DEADLINE_MS, NULL, f.ep);
    rt_peer_t d;
    rt_peer_start(&d, f.zctx, f.ep, f.m, liar_verifier);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 1, 10000));
    for (uint64_t pid = 0; pid < 6; pid++)
        score_and_compare(p, f.m, pid);
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(d.groups == 6 && st.bad_scores == 6 && st.local == 6,
          "liar answered %d, %llu dropped (want 6), %llu scored in process", d.groups,
          (unsigned long long)st.bad_scores, (unsigned long long)st.local);
    rt_peer_stop(&d);
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

/* Registers as verifier "sleepy@1", never answers a group, heartbeats every 20 ms. */
static void *sleepy_verifier(void *arg) {
    rt_peer_t *d = arg;
    aha_wire_t *w = NULL;
    int rc = rt_peer_new(d->zctx, d->ep, "verifier", "sleepy", 0, &w);
    while (rc == AHA_OK && !d->stop) {
        Aha__Envelope *e = NULL;
        int r = aha_wire_recv(w, 20, NULL, &e);
        if (r != AHA_OK && r != AHA_ERR_TIMEOUT) rc = r;
        if (e && e->body_case == AHA__ENVELOPE__BODY_GROUP) d->groups++; /* but never answers */
        aha_wire_free(&e);
        if (rc == AHA_OK) rc = aha_wire_send_heartbeat(w, NULL, 0);
    }
    return rt_peer_exit(d, &w, rc);
}

/* A verifier that keeps missing its deadline is taken back with exponential back-off (1 s,
 * 2 s, ...): over 3.5 s of groups it is lost at most 3 times, not once per group. */
static void test_backoff(void) {
    rt_fixture_t f = rt_fixture(5);
    aha_vpool_t *p = pool_new(f.zctx, f.m, 100, NULL, f.ep);
    rt_peer_t d;
    rt_peer_start(&d, f.zctx, f.ep, f.m, sleepy_verifier);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 1, 10000));
    const double until = aha_now_ms() + 3500;
    int groups = 0;
    while (aha_now_ms() < until) {
        score_and_compare(p, f.m, (uint64_t)groups++);
        usleep(50000);
    }
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.lost >= 2 && st.lost <= 3 && st.readmitted == st.lost - 1 + (st.live ? 1 : 0),
          "%d groups: lost %llu times (want 2..3), taken back %llu times", groups,
          (unsigned long long)st.lost, (unsigned long long)st.readmitted);
    rt_peer_stop(&d);
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

/* Control commands only from the run's local socket: an anonymous tcp peer's verifier-use is
 * refused and counted and retires nobody; the same request on the local socket works. */
static void test_control_only_local(void) {
    rt_fixture_t f = rt_fixture(5);
    aha_vpool_t *p = NULL;
    char dir[] = "/tmp/aha_ctl_test_XXXXXX", path[300], local[320];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/broker.sock", dir);
    snprintf(local, sizeof local, "ipc://%s", path);
    REQUIRE_OK(aha_vpool_new(f.zctx, "tcp://127.0.0.1:*", 1 << 20, f.m->cfg.max_seq_len,
                             DEADLINE_MS, NULL, NULL, &p));
    REQUIRE_OK(aha_wire_bind_local(aha_vpool_wire(p), path));
    REQUIRE_OK(aha_wire_endpoint(aha_vpool_wire(p), f.ep, sizeof f.ep));
    CHECK(!strncmp(f.ep, "tcp://", 6), "the endpoint stays the tcp one: %s", f.ep);
    rt_verifier_t v[2];
    const char *names[2] = {"va", "vb"};
    for (int i = 0; i < 2; i++)
        rt_verifier_start(&v[i], f.zctx, f.ep, names[i], f.m->cfg.max_seq_len, NULL);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 2, 10000));
    /* the broker answers while it reads its socket: a scoring call in a loop does that */
    int ok_tcp = -2, ok_local = -2, live_after_tcp = -1;
    for (int round = 0; round < 2; round++) {
        char vep[320];
        snprintf(vep, sizeof vep, "%s", round == 0 ? f.ep : local);
        aha_wire_t *w = NULL;
        REQUIRE_OK(aha_wire_new(f.zctx, ZMQ_DEALER, "ctl-test", 1 << 20, &w));
        REQUIRE_OK(aha_wire_connect(w, vep));
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Control c = AHA__CONTROL__INIT;
        char *args[1] = {"va@1"};
        c.command = "verifier-use";
        c.n_args = 1;
        c.args = args;
        env.body_case = AHA__ENVELOPE__BODY_CONTROL;
        env.control = &c;
        REQUIRE_OK(aha_wire_send(w, NULL, &env));
        int got = -1;
        for (int i = 0; i < 200 && got < 0; i++) {
            aha_vpool_wait_verifiers(p, 3, 10); /* reads the socket */
            Aha__Envelope *e = NULL;
            if (aha_wire_recv(w, 0, NULL, &e) == AHA_OK &&
                e->body_case == AHA__ENVELOPE__BODY_CONTROL)
                got = e->control->ok;
            aha_wire_free(&e);
        }
        if (round == 0) {
            ok_tcp = got;
            live_after_tcp = aha_vpool_live(p);
        } else
            ok_local = got;
        aha_wire_destroy(&w);
    }
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(live_after_tcp == 2, "the tcp peer retired nobody: %d live", live_after_tcp);
    CHECK(ok_tcp == 0 && st.ctl_refused == 1, "tcp peer: ok %d, %llu refused (want 0, 1)", ok_tcp,
          (unsigned long long)st.ctl_refused);
    CHECK(ok_local == 1, "local socket: verifier-use va@1 accepted (%d)", ok_local);
    aha_vpool_stop_verifiers(p);
    for (int i = 0; i < 2; i++)
        rt_verifier_join(&v[i]);
    aha_vpool_destroy(&p);
    unlink(path);
    rmdir(dir);
    rt_fixture_end(&f);
}

/* A pool at F's endpoint whose first verifier is the dying one D (it joins first, so it gets the
 * first group), then N_LIVE real verifiers v[i] named names[i]; returns when all have joined. */
static aha_vpool_t *pool_dying_first(rt_fixture_t *f, rt_peer_t *d, rt_verifier_t *v,
                                     const char *const *names, int n_live) {
    aha_vpool_t *p = pool_new(f->zctx, f->m, DEADLINE_MS, NULL, f->ep);
    rt_peer_start(d, f->zctx, f->ep, f->m, dying_verifier);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 1, 10000));
    for (int i = 0; i < n_live; i++)
        rt_verifier_start(&v[i], f->zctx, f->ep, names[i], f->m->cfg.max_seq_len, NULL);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, 1 + n_live, 10000));
    return p;
}

/* After the dying verifier D lost its group and the group went to a live one: D had it, the
 * pool's counters are REMOTE scored remotely, one lost, one redispatched, none in process and
 * LIVE verifiers left, and it cost about one deadline (at least, and below MAX_DEADLINES). */
static void check_one_loss(const aha_vpool_t *p, const rt_peer_t *d, unsigned long long remote,
                           int live, double took_ms, int max_deadlines) {
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(d->groups, "the dying verifier had a group");
    CHECK(st.remote == remote && st.lost == 1 && st.redispatched == 1 && st.local == 0 &&
              st.live == live,
          "remote %llu lost %llu redispatched %llu local %llu live %d",
          (unsigned long long)st.remote, (unsigned long long)st.lost,
          (unsigned long long)st.redispatched, (unsigned long long)st.local, st.live);
    CHECK(took_ms >= DEADLINE_MS && took_ms < max_deadlines * DEADLINE_MS,
          "cost one deadline: %.0f ms", took_ms);
}

static void test_failover(void) {
    rt_fixture_t f = rt_fixture(5);
    rt_peer_t d;
    rt_verifier_t v;
    aha_vpool_t *p = pool_dying_first(&f, &d, &v, (const char *const[]){"live"}, 1);
    CHECK(aha_vpool_live(p) == 2, "%d live", aha_vpool_live(p));

    const double t0 = aha_now_ms();
    score_and_compare(p, f.m, 0);
    check_one_loss(p, &d, 1, 1, aha_now_ms() - t0, 4);

    score_and_compare(p, f.m, 1); /* straight to the live verifier */
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.remote == 2 && st.redispatched == 1 && st.local == 0, "remote %llu redispatched %llu",
          (unsigned long long)st.remote, (unsigned long long)st.redispatched);

    /* the last verifier stops: the pool scores in process */
    aha_vpool_stop_verifiers(p);
    CHECK(rt_verifier_join(&v) == AHA_OK && v.stats.groups == 2,
          "live verifier: rc %d, %llu groups", v.rc, (unsigned long long)v.stats.groups);
    score_and_compare(p, f.m, 2);
    aha_vpool_stats(p, &st);
    CHECK(st.local == 1 && st.remote == 2 && st.live == 0, "local %llu remote %llu live %d",
          (unsigned long long)st.local, (unsigned long long)st.remote, st.live);
    CHECK(rt_peer_stop(&d) == AHA_OK, "dying verifier: %d", d.rc);
    aha_vpool_destroy(&p);
    CHECK(p == NULL, "destroy NULLs the pointer");
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

static void test_no_verifier(void) {
    rt_fixture_t f = rt_fixture(6);
    aha_vpool_t *p = NULL;
    REQUIRE_OK(aha_vpool_new(f.zctx, "tcp://127.0.0.1:*", 1 << 20, f.m->cfg.max_seq_len,
                             DEADLINE_MS, NULL, NULL, &p));
    CHECK(aha_vpool_wait_verifiers(p, 1, 50) == AHA_ERR_TIMEOUT, "nobody joins");
    const double t0 = aha_now_ms();
    score_and_compare(p, f.m, 3);
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.local == 1 && st.remote == 0, "scored in process: local %llu",
          (unsigned long long)st.local);
    CHECK(aha_now_ms() - t0 < DEADLINE_MS, "without verifiers no deadline is waited");
    CHECK(aha_vpool_new(f.zctx, "tcp://127.0.0.1:*", 1 << 20, 0, DEADLINE_MS, NULL, NULL, &p) ==
              AHA_ERR_ARG,
          "bad arguments refused");
    CHECK(p != NULL, "a refused constructor leaves *out alone");
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

/* Made-up groups of prompts 0..N) and their problems. */
typedef struct {
    aha_rollout_t *r[16];
    aha_reward_problem_t rp[16];
    uint64_t pid[16];
    aha_reward_breakdown_t got[16][RT_G], want[16][RT_G];
    aha_reward_breakdown_t *outs[16];
} groups_t;

static void groups_make(groups_t *g, const aha_model_t *m, int n) {
    memset(g, 0, sizeof *g);
    for (int j = 0; j < n; j++) {
        g->pid[j] = (uint64_t)(100 + j);
        REQUIRE_OK(rt_fake_rollout(m, g->pid[j], &g->r[j], &g->rp[j]));
        g->outs[j] = g->got[j];
    }
}

static void groups_free(groups_t *g, int n) {
    for (int j = 0; j < n; j++)
        aha_rollout_destroy(&g->r[j]);
}

/* Scores of G through P equal in-process scoring (with SANDBOX, may be NULL). */
static void groups_check(groups_t *g, int n, const aha_sandbox_config_t *sandbox) {
    aha_reward_config_t rcfg;
    aha_reward_config_default(&rcfg);
    for (int j = 0; j < n; j++) {
        REQUIRE_OK(aha_score_local(&rcfg, sandbox, g->r[j], &g->rp[j], g->pid[j], g->want[j]));
        for (int s = 0; s < RT_G; s++)
            CHECK(!memcmp(&g->got[j][s], &g->want[j][s], sizeof g->want[j][s]),
                  "group %d sample %d: total %g vs in process %g", j, s, g->got[j][s].total,
                  g->want[j][s].total);
    }
}

enum { NV = 4, NG = 12, SLEEP_MS = 250 };

static void test_parallel(void) {
    rt_fixture_t f = rt_fixture(8);
    aha_sandbox_config_t sb;
    aha_sandbox_config_default(&sb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "sleep %.3f; awk '{ print NR %% 2 }'", SLEEP_MS / 1e3);
    sb.command = cmd;
    aha_vpool_t *p = pool_new(f.zctx, f.m, 20000, &sb, f.ep);
    rt_verifier_t v[NV];
    const char *names[NV] = {"v0", "v1", "v2", "v3"};
    for (int i = 0; i < NV; i++)
        rt_verifier_start(&v[i], f.zctx, f.ep, names[i], f.m->cfg.max_seq_len, &sb);
    REQUIRE_OK(aha_vpool_wait_verifiers(p, NV, 10000));
    static groups_t g;
    groups_make(&g, f.m, NG);
    aha_reward_config_t rcfg;
    aha_reward_config_default(&rcfg);
    const double t0 = aha_now_ms();
    REQUIRE_OK(aha_vpool_score_all(p, &rcfg, (const aha_rollout_t *const *)g.r, g.rp, g.pid, 0, NG,
                                   g.outs));
    const double took = aha_now_ms() - t0;
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.remote == NG && st.local == 0 && st.lost == 0 && st.redispatched == 0,
          "remote %llu local %llu lost %llu", (unsigned long long)st.remote,
          (unsigned long long)st.local, (unsigned long long)st.lost);
    /* one at a time would take NG * SLEEP_MS; all at once about NG / NV * SLEEP_MS */
    CHECK(took < 0.6 * NG * SLEEP_MS, "%d groups over %d verifiers took %.0f ms (serial: %d)", NG,
          NV, took, NG * SLEEP_MS);
    aha_vpool_stop_verifiers(p);
    for (int i = 0; i < NV; i++) {
        CHECK(rt_verifier_join(&v[i]) == AHA_OK && v[i].stats.groups >= 1,
              "verifier %d: rc %d, %llu groups", i, v[i].rc, (unsigned long long)v[i].stats.groups);
    }
    groups_check(&g, NG, &sb);
    CHECK(g.want[0][0].accuracy == 1 && g.want[0][1].accuracy == 0, "the command's answers");
    groups_free(&g, NG);
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

static void test_death_mid_flight(void) {
    rt_fixture_t f = rt_fixture(9);
    rt_peer_t d;
    rt_verifier_t v[2];
    aha_vpool_t *p = pool_dying_first(&f, &d, v, (const char *const[]){"a", "b"}, 2);
    static groups_t g;
    groups_make(&g, f.m, 6);
    aha_reward_config_t rcfg;
    aha_reward_config_default(&rcfg);
    const double t0 = aha_now_ms();
    REQUIRE_OK(aha_vpool_score_all(p, &rcfg, (const aha_rollout_t *const *)g.r, g.rp, g.pid, 0, 6,
                                   g.outs));
    check_one_loss(p, &d, 6, 2, aha_now_ms() - t0, 6);
    groups_check(&g, 6, NULL);
    aha_vpool_stop_verifiers(p);
    for (int i = 0; i < 2; i++) {
        CHECK(rt_verifier_join(&v[i]) == AHA_OK && v[i].stats.groups >= 1,
              "verifier %d: %llu groups", i, (unsigned long long)v[i].stats.groups);
    }
    CHECK(v[0].stats.groups + v[1].stats.groups == 6, "every group scored once by the live ones");
    rt_peer_stop(&d);
    /* nobody left: everything in process */
    REQUIRE_OK(aha_vpool_score_all(p, &rcfg, (const aha_rollout_t *const *)g.r, g.rp, g.pid, 0, 6,
                                   g.outs));
    aha_vpool_stats_t st;
    aha_vpool_stats(p, &st);
    CHECK(st.local == 6 && st.remote == 6, "local %llu", (unsigned long long)st.local);
    groups_check(&g, 6, NULL);
    groups_free(&g, 6);
    aha_vpool_destroy(&p);
    rt_fixture_end(&f);
}

static const tu_case_t cases[] = {{"failover", test_failover},
                                  {"scores_out_of_range", test_scores_out_of_range},
                                  {"control_only_local", test_control_only_local},
                                  {"backoff", test_backoff},
                                  {"no_verifier", test_no_verifier},
                                  {"parallel", test_parallel},
                                  {"death_mid_flight", test_death_mid_flight}};

TU_MAIN(cases)
