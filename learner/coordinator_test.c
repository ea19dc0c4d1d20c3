/* coordinator: the lease coordinator in process, on real ZeroMQ sockets (tcp on 127.0.0.1),
 * with peers played by threads. A lease whose holder goes silent expires and is re-issued to the
 * next actor that asks, and the silent holder's group, arriving later, is dropped as late; a
 * duplicate group and a group for a prompt that was never leased are dropped and counted, never
 * delivered twice; with no actor a collect gives up after a lease period with every group missing
 * (the learner samples them); and real actor workers (actor/worker.h) fetch the published weights
 * and deliver exactly the groups the learner would sample itself, for two weight versions, until
 * told to stop, also one actor holding several groups and decoding them together (at most 64
 * rows per batch). An actor that leaves while holding a lease hands it back at once; a lease
 * request replaces the actor's unanswered one. */
#include "actor/worker.h"
#include "core/blob.h"
#include "core/clock.h"
#include "core/err.h"
#include "learner/coordinator.h"
#include "learner/roles_testutil.h"
#include "model/weights.h"
#include <zmq.h>

enum { LEASE_MS = 1000 };
enum { GOOD, SILENT, DUP_STRAY, STALE_ONCE, HOLDER, LEAVER }; /* fake actor behaviours */

/* A fake actor: a thread peer (learner/roles_testutil.h rt_peer_t: stop it with
 * rt_peer_stop(&a.peer)) that answers leases as its mode says. */
typedef struct {
    rt_peer_t peer; /* first: the thread gets &peer */
    const char *name;
    int mode;
    volatile int *start_after; /* if not NULL: connect only once *start_after is set */
    volatile int got_lease;    /* SILENT: holds a lease */
    volatile int release;      /* SILENT: send the held group now */
    volatile int released;
    volatile uint64_t held; /* HOLDER: the lease id it holds */
} fake_actor_t;

static void *fake_actor(void *arg);

/* Starts fake actor A on a thread for the coordinator of fixture F: NAME behaving as MODE, with
 * groups of F's model; it connects only once *START_AFTER is set when that is not NULL. */
static void fake_actor_start(fake_actor_t *a, const rt_fixture_t *f, const char *name, int mode,
                             volatile int *start_after) {
    *a = (fake_actor_t){.name = name, .mode = mode, .start_after = start_after};
    rt_peer_start(&a->peer, f->zctx, f->ep, f->m, fake_actor);
}

static int send_group(aha_wire_t *w, const aha_model_t *m, uint64_t lease, uint64_t pid,
                      uint64_t version, const char *name) {
    aha_group_msg_t *g = NULL;
    AHA_TRY(rt_fake_group(m, lease, pid, version, name, &g));
    int rc = aha_wire_send_body(w, NULL, &g->group.base);
    aha_group_msg_destroy(&g);
    return rc;
}

static void *fake_actor(void *arg) {
    fake_actor_t *f = arg;
    const aha_model_t *m = f->peer.m;
    while (f->start_after && !*f->start_after && !f->peer.stop)
        usleep(1000);
    aha_wire_t *w = NULL;
    int rc = rt_peer_new(f->peer.zctx, f->peer.ep, "actor", f->name, 1, &w);
    if (rc == AHA_OK) rc = rt_ask_lease(w);
    uint64_t held_lease = 0, held_pid = 0, held_version = 0;
    while (rc == AHA_OK && !f->peer.stop) {
        if (f->mode == SILENT && f->release && !f->released) {
            rc = send_group(w, m, held_lease, held_pid, held_version, f->name);
            f->released = 1;
        }
        if (f->mode == HOLDER && f->release && !f->released && f->got_lease) {
            /* a wrong lease id, then the right one with a version never leased, then again */
            rc = send_group(w, m, held_lease ^ 1, held_pid, held_version, f->name);
            if (rc == AHA_OK) rc = send_group(w, m, held_lease, held_pid, 1ull << 63, f->name);
            f->released = 1;
            if (rc == AHA_OK) rc = rt_ask_lease(w);
        }
        Aha__Envelope *e = NULL;
        if (!rt_next(w, &rc, &e)) continue;
        if (e->body_case == AHA__ENVELOPE__BODY_LEASE) {
            const uint64_t lease = e->lease->lease_id, pid = e->lease->prompt_id,
                           v = e->lease->min_policy_version;
            if (f->mode == HOLDER && !f->got_lease) {
                held_lease = lease, held_pid = pid, held_version = v;
                f->held = lease;
                f->got_lease = 1;
            } else if (f->mode == STALE_ONCE) { /* first group with the wrong version, then right */
                rc = send_group(w, m, lease, pid, f->released ? v : v + 1, f->name);
                f->released = 1;
                if (rc == AHA_OK) rc = rt_ask_lease(w);
            } else if (f->mode == SILENT) {
                held_lease = lease, held_pid = pid, held_version = v;
                f->got_lease = 1;
            } else if (f->mode == LEAVER) { /* stopped (SIGTERM) while holding the lease */
                rc = rt_ask_leases(w, 0);
                f->got_lease = 1;
            } else {
                if (f->mode == DUP_STRAY) rc = send_group(w, m, lease, pid + 1000, v, f->name);
                if (rc == AHA_OK) rc = send_group(w, m, lease, pid, v, f->name);
                if (rc == AHA_OK && f->mode == DUP_STRAY)
                    rc = send_group(w, m, lease, pid, v, f->name);
                if (rc == AHA_OK) rc = rt_ask_lease(w);
            }
        }
        aha_wire_free(&e);
    }
    return rt_peer_exit(&f->peer, &w, rc);
}

/* The re-issue both tests below start with: fake actor FIRST (NAME, behaving as MODE) takes the
 * lease of prompt 0 from C, fake actor GOOD ("good") starts once FIRST holds it, and C collects
 * prompt 0 with leases of LEASE_MS until DEADLINE_MS. Checks that FIRST got the first lease and
 * the group came from GOOD after one re-issue; returns the collect's wall time in ms with the
 * group in *out (the caller frees it). Both actors keep running. */
static double reissue_to_good(aha_coord_t *c, const rt_fixture_t *f, fake_actor_t *first,
                              const char *name, int mode, fake_actor_t *good, int lease_ms,
                              int deadline_ms, Aha__Envelope **out) {
    fake_actor_start(first, f, name, mode, NULL);
    fake_actor_start(good, f, "good", GOOD, &first->got_lease);
    const uint64_t pids[] = {0};
    const double t0 = aha_now_ms();
    REQUIRE_OK(aha_coord_collect(c, pids, 1, lease_ms, deadline_ms, out));
    const double took = aha_now_ms() - t0;
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    CHECK(first->got_lease, "%s got the first lease", name);
    REQUIRE(out[0] != NULL, "the group was delivered after the re-issue");
    CHECK(!strcmp(out[0]->group->actor, "good"), "delivered by %s", out[0]->group->actor);
    CHECK(st.leases == 2 && st.reissued == 1 && st.delivered == 1 && st.missing == 0,
          "leases %llu reissued %llu delivered %llu missing %llu", (unsigned long long)st.leases,
          (unsigned long long)st.reissued, (unsigned long long)st.delivered,
          (unsigned long long)st.missing);
    return took;
}

/* A lease whose holder goes silent expires and goes to the next actor that asks; the holder's
 * group, arriving later, is dropped as late. */
static void test_lease_expiry_reissue(void) {
    rt_fixture_t f = rt_fixture(1);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    fake_actor_t silent, good;
    Aha__Envelope *out[1] = {NULL};
    const double took =
        reissue_to_good(c, &f, &silent, "silent", SILENT, &good, LEASE_MS, 10 * LEASE_MS, out);
    CHECK(out[0]->group->prompt_id == 0 && out[0]->group->lease_id > 2,
          "prompt %llu lease %llu (random, not sequential)",
          (unsigned long long)out[0]->group->prompt_id,
          (unsigned long long)out[0]->group->lease_id);
    CHECK(took >= LEASE_MS, "re-issued only after the lease expired (%.0f ms)", took);
    CHECK(aha_coord_actors(c) == 2, "%d actors joined", aha_coord_actors(c));
    aha_wire_free(&out[0]);
    /* the silent holder wakes up and delivers its expired lease: dropped as late */
    silent.release = 1;
    while (!silent.released)
        usleep(1000);
    usleep(50 * 1000);
    const uint64_t next[] = {1};
    REQUIRE_OK(aha_coord_collect(c, next, 1, LEASE_MS, 10 * LEASE_MS, out));
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    REQUIRE(out[0] != NULL, "the next group was delivered");
    CHECK(out[0]->group->prompt_id == 1 && !strcmp(out[0]->group->actor, "good"),
          "prompt %llu from %s", (unsigned long long)out[0]->group->prompt_id,
          out[0]->group->actor);
    CHECK(st.late == 1 && st.delivered == 2, "late %llu delivered %llu",
          (unsigned long long)st.late, (unsigned long long)st.delivered);
    aha_wire_free(&out[0]);
    const int rc_silent = rt_peer_stop(&silent.peer), rc_good = rt_peer_stop(&good.peer);
    CHECK(rc_silent == AHA_OK && rc_good == AHA_OK, "fake actors: %d %d", rc_silent, rc_good);
    aha_coord_destroy(&c);
    CHECK(c == NULL, "destroy NULLs the pointer");
    rt_fixture_end(&f);
}

/* An actor that leaves while holding a lease (LeaseRequest for 0 groups, what actor/worker.c
 * sends on SIGTERM) hands it back: it is re-issued at once to the next actor, long before the
 * lease would expire, and the leaver no longer counts as joined. */
static void test_actor_leaves(void) {
    rt_fixture_t f = rt_fixture(1);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    fake_actor_t leaver, good;
    Aha__Envelope *out[1] = {NULL};
    const double took =
        reissue_to_good(c, &f, &leaver, "leaver", LEAVER, &good, 30 * LEASE_MS, 60 * LEASE_MS, out);
    CHECK(took < 10 * LEASE_MS, "handed back lease re-issued at once (%.0f ms; lease 30 s)", took);
    CHECK(aha_coord_actors(c) == 1, "%d actors counted (the leaver left)", aha_coord_actors(c));
    aha_wire_free(&out[0]);
    const int rc_leaver = rt_peer_stop(&leaver.peer), rc_good = rt_peer_stop(&good.peer);
    CHECK(rc_leaver == AHA_OK && rc_good == AHA_OK, "fake actors: %d %d", rc_leaver, rc_good);
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

/* Peers are untrusted: while actor "holder" holds the lease of prompt 0, a second socket that
 * never held it sends groups for it with guessed lease ids 1..16 and with the holder's own lease
 * id; then the holder sends one with a wrong lease id and one with version 2^63. All are
 * dropped and counted (forged / stale); the group delivered is the holder's, with version 0. */
static void test_forged_groups(void) {
    rt_fixture_t f = rt_fixture(1);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    fake_actor_t holder;
    fake_actor_start(&holder, &f, "holder", HOLDER, NULL);
    REQUIRE_OK(aha_coord_want(c, (const uint64_t[]){0}, (const uint64_t[]){0}, 1));
    REQUIRE_OK(aha_coord_pump_start(c, LEASE_MS)); /* serves the holder its lease */
    for (int i = 0; i < 1000 && !holder.got_lease; i++)
        usleep(10000);
    REQUIRE(holder.got_lease, "the holder got a lease");
    aha_wire_t *w = NULL;
    REQUIRE_OK(aha_wire_new(f.zctx, ZMQ_DEALER, "forger", 1 << 20, &w));
    REQUIRE_OK(aha_wire_set_identity(w, "forger"));
    REQUIRE_OK(aha_wire_connect(w, f.ep));
    for (uint64_t id = 1; id <= 16; id++)
        REQUIRE_OK(send_group(w, f.m, id, 0, 0, "forger"));
    REQUIRE_OK(send_group(w, f.m, holder.held, 0, 0, "forger"));
    const uint64_t pids[] = {0}, versions[] = {0};
    Aha__Envelope *out[1] = {NULL};
    /* the forger's groups are read first; then the holder's bad ones, then its good one */
    usleep(300000);
    REQUIRE_OK(aha_coord_pump_stop(c));
    holder.release = 1;
    REQUIRE_OK(aha_coord_collect_at(c, pids, versions, 1, LEASE_MS, 10 * LEASE_MS, out));
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    REQUIRE(out[0] != NULL, "the holder's group was delivered");
    CHECK(!strcmp(out[0]->group->actor, "holder") && out[0]->group->policy_version == 0,
          "delivered by %s with version %llu", out[0]->group->actor,
          (unsigned long long)out[0]->group->policy_version);
    CHECK(st.forged == 18 && st.stale == 1 && st.delivered == 1,
          "forged %llu (want 18), stale %llu (want 1), delivered %llu",
          (unsigned long long)st.forged, (unsigned long long)st.stale,
          (unsigned long long)st.delivered);
    rt_peer_stop(&holder.peer);
    aha_wire_free(&out[0]);
    aha_wire_destroy(&w);
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

static void test_duplicate_and_stray(void) {
    rt_fixture_t f = rt_fixture(2);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    REQUIRE_OK(aha_coord_publish(c, f.m, 3));
    fake_actor_t dup;
    fake_actor_start(&dup, &f, "dup", DUP_STRAY, NULL);
    /* per lease it sends: a group for prompt id + 1000 (never leased), the group, the group again */
    const uint64_t pids[] = {5, 6, 7};
    Aha__Envelope *out[3] = {NULL};
    REQUIRE_OK(aha_coord_collect(c, pids, 3, LEASE_MS, 10 * LEASE_MS, out));
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    for (int i = 0; i < 3; i++) {
        REQUIRE(out[i] != NULL, "group %d delivered", i);
        CHECK(out[i]->group->prompt_id == pids[i], "out[%d] is prompt %llu", i,
              (unsigned long long)out[i]->group->prompt_id);
        CHECK(out[i]->group->policy_version == 3, "version %llu",
              (unsigned long long)out[i]->group->policy_version);
        aha_wire_free(&out[i]);
    }
    /* stray 1, dup 1, stray 2, dup 2, stray 3 come before the third group; dup 3 may not */
    CHECK(st.delivered == 3 && st.late >= 5 && st.late <= 6 && st.leases == 3 && st.reissued == 0,
          "delivered %llu late %llu leases %llu reissued %llu", (unsigned long long)st.delivered,
          (unsigned long long)st.late, (unsigned long long)st.leases,
          (unsigned long long)st.reissued);
    CHECK(rt_peer_stop(&dup.peer) == AHA_OK, "fake actor: %d", dup.peer.rc);
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

static void test_no_actors(void) {
    rt_fixture_t f = rt_fixture(3);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    const uint64_t pids[] = {0, 1, 2};
    Aha__Envelope *out[3] = {NULL, NULL, NULL};
    CHECK(aha_coord_collect(c, pids, 3, 200, 5000, out) == AHA_ERR_STATE,
          "collect before any publish is refused");
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    CHECK(aha_coord_wait_actors(c, 1, 100) == AHA_ERR_TIMEOUT, "nobody joins");
    const double t0 = aha_now_ms();
    REQUIRE_OK(aha_coord_collect(c, pids, 3, 200, 5000, out));
    const double took = aha_now_ms() - t0;
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    CHECK(!out[0] && !out[1] && !out[2], "nothing delivered");
    CHECK(st.missing == 3 && st.leases == 0, "missing %llu leases %llu",
          (unsigned long long)st.missing, (unsigned long long)st.leases);
    CHECK(took < 2000, "gave up after about a lease period, not the collect deadline (%.0f ms)",
          took);
    aha_coord_destroy(&c);
    aha_coord_destroy(&c); /* NULL-safe */
    rt_fixture_end(&f);
}

/* A LeaseRequest for N groups replaces the actor's unanswered request: asked for 3 twice before
 * any group is wanted, the actor is leased 3 groups of the 8 wanted, not 6. */
static void test_request_replaces(void) {
    rt_fixture_t f = rt_fixture(8);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    aha_wire_t *w = NULL;
    REQUIRE_OK(rt_peer_new(f.zctx, f.ep, "actor", "asker", 1, &w));
    REQUIRE_OK(rt_ask_leases(w, 3));
    REQUIRE_OK(rt_ask_leases(w, 3));
    REQUIRE_OK(aha_coord_wait_actors(c, 1, 10000));
    /* both requests handled while no group is wanted (a request answered is not replaced) */
    CHECK(aha_coord_wait_actors(c, 2, 300) == AHA_ERR_TIMEOUT, "one actor only");
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    const uint64_t pids[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    Aha__Envelope *out[8] = {NULL};
    REQUIRE_OK(aha_coord_collect(c, pids, 8, 10000, 500, out)); /* nothing delivered */
    int leases = 0, rc = AHA_OK;
    for (int i = 0; i < 20 && rc == AHA_OK; i++) {
        Aha__Envelope *e = NULL;
        if (!rt_next(w, &rc, &e)) continue;
        leases += e->body_case == AHA__ENVELOPE__BODY_LEASE;
        aha_wire_free(&e);
    }
    CHECK(leases == 3, "%d leases for two requests of 3 groups (the second replaces the first)",
          leases);
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    CHECK(st.leases == 3 && st.missing == 8, "leases %llu missing %llu",
          (unsigned long long)st.leases, (unsigned long long)st.missing);
    for (int i = 0; i < 8; i++)
        aha_wire_free(&out[i]);
    aha_wire_destroy(&w);
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

/* ---- real actor workers ---- */

/* Checks that G (delivered) equals the group the learner samples itself from M for its prompt. */
static void check_same_as_local(const aha_model_t *m, const aha_gen_config_t *gen,
                                const Aha__Group *g) {
    aha_train_set_t set;
    rt_train_set(&set);
    aha_reward_problem_t rp;
    aha_rng_t rngs[RT_G];
    int ids[64], n = 0, lens[RT_G];
    const int *prompts[RT_G];
    REQUIRE_OK(aha_train_group(&set, g->prompt_id, ids, 64, &n, &rp, rngs, RT_G));
    for (int b = 0; b < RT_G; b++)
        prompts[b] = ids, lens[b] = n;
    aha_kv_t *kv = NULL;
    aha_rollout_t *local = NULL, *got = NULL;
    REQUIRE_OK(aha_kv_new(m, RT_G, m->cfg.max_seq_len, &kv));
    REQUIRE_OK(aha_rollout_new(m, RT_G, m->cfg.max_seq_len, 0, &local));
    REQUIRE_OK(aha_rollout_new(m, RT_G, m->cfg.max_seq_len, 0, &got));
    REQUIRE_OK(aha_generate(m, kv, prompts, lens, rngs, gen, local));
    REQUIRE_OK(aha_group_msg_to_rollout(g, got));
    const size_t cells = (size_t)RT_G * m->cfg.max_seq_len;
    CHECK(!memcmp(local->tokens, got->tokens, sizeof(int) * cells) &&
              !memcmp(local->total_len, got->total_len, sizeof(int) * RT_G),
          "prompt %llu: the actor's tokens are the learner's", (unsigned long long)g->prompt_id);
    CHECK(!memcmp(local->logprobs, got->logprobs, sizeof(float) * cells),
          "prompt %llu: behaviour log-probs bit-identical", (unsigned long long)g->prompt_id);
    aha_rollout_destroy(&local);
    aha_rollout_destroy(&got);
    aha_kv_destroy(&kv);
}

static void test_actor_worker(void) {
    rt_fixture_t f = rt_fixture(4);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    rt_actor_t w[2];
    for (int i = 0; i < 2; i++) {
        rt_actor_init(&w[i], f.zctx, f.ep, 100 + i); /* other weights until the first fetch */
        w[i].cfg.name = i ? "a1" : "a0";
        w[i].cfg.fetch_timeout_ms = 10000;
        rt_actor_start(&w[i]);
    }
    REQUIRE_OK(aha_coord_wait_actors(c, 2, 10000));
    CHECK(aha_coord_actors(c) == 2, "%d actors joined", aha_coord_actors(c));
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    const uint64_t pids[] = {0, 1, 2, 3};
    Aha__Envelope *out[4] = {NULL};
    REQUIRE_OK(aha_coord_collect(c, pids, 4, 10000, 30000, out));
    for (int i = 0; i < 4; i++) {
        REQUIRE(out[i] != NULL, "group %d delivered by an actor", i);
        CHECK(out[i]->group->policy_version == 0, "version %llu",
              (unsigned long long)out[i]->group->policy_version);
        check_same_as_local(f.m, &rt_gen, out[i]->group);
        aha_wire_free(&out[i]);
    }
    /* a new version: the actors fetch it before sampling again */
    for (size_t i = 0; i < f.m->n_params; i += 7)
        f.m->params[i] *= 0.5f;
    REQUIRE_OK(aha_coord_publish(c, f.m, 1));
    const uint64_t more[] = {4, 5};
    REQUIRE_OK(aha_coord_collect(c, more, 2, 10000, 30000, out));
    for (int i = 0; i < 2; i++) {
        REQUIRE(out[i] != NULL, "group %d of version 1 delivered", i);
        CHECK(out[i]->group->policy_version == 1, "version %llu",
              (unsigned long long)out[i]->group->policy_version);
        check_same_as_local(f.m, &rt_gen, out[i]->group);
        aha_wire_free(&out[i]);
    }
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    CHECK(st.delivered == 6 && st.missing == 0 && st.reissued == 0,
          "delivered %llu missing %llu reissued %llu", (unsigned long long)st.delivered,
          (unsigned long long)st.missing, (unsigned long long)st.reissued);
    aha_coord_stop_actors(c);
    uint64_t groups = 0;
    for (int i = 0; i < 2; i++) {
        CHECK(rt_actor_join(&w[i]) == AHA_OK, "actor %d returned %d: %s", i, w[i].rc,
              aha_last_error());
        groups += w[i].stats.groups;
        if (w[i].stats.version == 1) {
            const size_t n = aha_weights_bytes(f.m);
            uint8_t *a = malloc(n), *b = malloc(n);
            REQUIRE(a && b, "malloc");
            aha_weights_pack(f.m, a);
            aha_weights_pack(w[i].m, b);
            CHECK(!memcmp(a, b, n), "actor %d holds the learner's weights of version 1", i);
            free(a);
            free(b);
        }
        aha_model_destroy(&w[i].m);
    }
    CHECK(groups == 6, "the actors sampled %llu groups", (unsigned long long)groups);
    CHECK(w[0].stats.version == 1 || w[1].stats.version == 1, "some actor fetched version 1");
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

/* One actor holding GROUPS groups at once (rl.actor_groups) samples the groups PIDS[0..N) for a
 * coordinator of fixture SEED, starting from other weights (ACTOR_SEED) until its first fetch;
 * each delivered group must be bit-identical (tokens, log-probs, expert ids) to the group sampled
 * alone by the learner. Writes the actor's and the coordinator's counters. */
static void run_grouped_actor(int seed, uint64_t actor_seed, const char *name, int groups,
                              const uint64_t *pids, int n, aha_actor_stats_t *actor_st,
                              aha_coord_stats_t *coord_st) {
    rt_fixture_t f = rt_fixture(seed);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    rt_actor_t w;
    rt_actor_init(&w, f.zctx, f.ep, actor_seed);
    w.cfg.name = name;
    w.cfg.groups = groups;
    w.cfg.fetch_timeout_ms = 10000;
    rt_actor_start(&w);
    REQUIRE_OK(aha_coord_wait_actors(c, 1, 10000));
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    Aha__Envelope **out = calloc((size_t)n, sizeof *out);
    REQUIRE(out != NULL, "out of memory");
    REQUIRE_OK(aha_coord_collect(c, pids, n, 10000, 30000, out));
    for (int i = 0; i < n; i++) {
        REQUIRE(out[i] != NULL, "group %d delivered by the actor", i);
        check_same_as_local(f.m, &rt_gen, out[i]->group);
        aha_wire_free(&out[i]);
    }
    free(out);
    aha_coord_stop_actors(c);
    CHECK(rt_actor_join(&w) == AHA_OK, "actor returned %d: %s", w.rc, aha_last_error());
    CHECK(w.stats.groups == (uint64_t)n, "the actor sampled %llu groups",
          (unsigned long long)w.stats.groups);
    *actor_st = w.stats;
    aha_coord_stats(c, coord_st);
    aha_model_destroy(&w.m);
    aha_coord_destroy(&c);
    rt_fixture_end(&f);
}

/* One actor holding 3 groups decodes them in one batch, each the group sampled alone. */
static void test_actor_groups(void) {
    aha_actor_config_t defaults;
    aha_actor_config_default(&defaults);
    CHECK(defaults.groups == 1, "default: one group at a time (%d)", defaults.groups);
    enum { NP = 7 };
    const uint64_t pids[NP] = {10, 11, 12, 13, 14, 15, 16};
    aha_actor_stats_t as;
    aha_coord_stats_t st;
    run_grouped_actor(5, 200, "a3", 3, pids, NP, &as, &st);
    /* 7 groups with 3 held at once: batches of 3, 3, 1 (never more than 3 in one) */
    CHECK(as.batches >= 3 && as.batches < NP,
          "%llu groups in %llu batches: several groups decoded together",
          (unsigned long long)as.groups, (unsigned long long)as.batches);
    CHECK(st.delivered == NP && st.missing == 0 && st.reissued == 0,
          "delivered %llu missing %llu reissued %llu", (unsigned long long)st.delivered,
          (unsigned long long)st.missing, (unsigned long long)st.reissued);
}

/* An actor holding AHA_ACTOR_MAX_GROUPS groups of RT_G = 4 samples (128 rows) decodes at most
 * K_MATMUL_ROWS_MAX rows per batch (16 groups): beyond that the matmuls go to sgemm, whose
 * rounding depends on the row count, and the groups would no longer be the learner's. */
static void test_actor_groups_capped(void) {
    enum { NP = 40 };
    uint64_t pids[NP];
    for (int i = 0; i < NP; i++)
        pids[i] = 100 + (uint64_t)i;
    aha_actor_stats_t as;
    aha_coord_stats_t st;
    run_grouped_actor(6, 201, "a32", AHA_ACTOR_MAX_GROUPS, pids, NP, &as, &st);
    /* 40 groups, at most 16 per batch: 3 batches at least */
    CHECK(as.batches >= 3 && as.batches < NP, "%llu groups in %llu batches",
          (unsigned long long)as.groups, (unsigned long long)as.batches);
}

/* Bounded staleness: the coordinator keeps the last 2 versions servable (a fetch of a kept old
 * version gets exactly it, of a dropped one the newest); groups wanted ahead are leased with the
 * version they name while the pump thread serves the actors; a group sampled with another
 * version is dropped, counted stale and leased again; collect_at hands over the right ones. */
static void test_versions_ahead(void) {
    rt_fixture_t f = rt_fixture(1);
    aha_model_t *m2 = rt_model(2);
    aha_coord_t *c = rt_coord_new(f.zctx, f.m, f.ep, sizeof f.ep);
    CHECK(aha_coord_set_keep(c, 0) == AHA_ERR_ARG, "keep 0 refused");
    REQUIRE_OK(aha_coord_set_keep(c, 2));
    REQUIRE_OK(aha_coord_publish(c, f.m, 0));
    REQUIRE_OK(aha_coord_publish(c, m2, 1));
    fake_actor_t stale;
    fake_actor_start(&stale, &f, "stale", STALE_ONCE, NULL);
    REQUIRE_OK(aha_coord_wait_actors(c, 1, 10000));
    const uint64_t pids[2] = {20, 21}, vers[2] = {0, 0};
    REQUIRE_OK(aha_coord_want(c, pids, vers, 2));
    REQUIRE_OK(aha_coord_pump_start(c, LEASE_MS));
    CHECK(aha_coord_pump_start(c, LEASE_MS) == AHA_ERR_STATE, "one pump at a time");
    Aha__Envelope *out[2] = {NULL, NULL};
    CHECK(aha_coord_collect_at(c, pids, vers, 2, LEASE_MS, LEASE_MS, out) == AHA_ERR_STATE,
          "no collect while pumping");
    /* meanwhile a fetcher gets the kept old version 0, not the newest */
    aha_wire_t *w = NULL;
    REQUIRE_OK(aha_wire_new(f.zctx, ZMQ_DEALER, "fetcher", 1 << 20, &w));
    REQUIRE_OK(aha_wire_connect(w, f.ep));
    uint8_t *blob = NULL;
    size_t len = 0;
    uint64_t got = 99;
    REQUIRE_OK(aha_blob_fetch(w, 0, aha_weights_bytes(f.m), 4, 10000, &got, &blob, &len));
    uint8_t *want_blob = malloc(aha_weights_bytes(f.m));
    aha_weights_pack(f.m, want_blob);
    CHECK(got == 0 && len == aha_weights_bytes(f.m) && !memcmp(blob, want_blob, len),
          "fetched version %llu, %zu bytes: the kept version 0", (unsigned long long)got, len);
    free(blob);
    usleep(300 * 1000); /* the actor samples ahead */
    REQUIRE_OK(aha_coord_pump_stop(c));
    REQUIRE_OK(aha_coord_collect_at(c, pids, vers, 2, LEASE_MS, 10 * LEASE_MS, out));
    for (int i = 0; i < 2; i++)
        CHECK(out[i] && out[i]->group->prompt_id == pids[i] && out[i]->group->policy_version == 0,
              "group %d: the version its lease named", i);
    aha_coord_stats_t st;
    aha_coord_stats(c, &st);
    CHECK(st.stale == 1 && st.delivered == 2 && st.missing == 0 && st.wanted == 0,
          "stale %llu delivered %llu missing %llu wanted %llu", (unsigned long long)st.stale,
          (unsigned long long)st.delivered, (unsigned long long)st.missing,
          (unsigned long long)st.wanted);
    for (int i = 0; i < 2; i++)
        aha_wire_free(&out[i]);
    /* version 2 published: 0 is no longer kept, a fetch of it gets the newest */
    REQUIRE_OK(aha_coord_publish(c, f.m, 2));
    REQUIRE_OK(aha_coord_pump_start(c, LEASE_MS));
    REQUIRE_OK(aha_blob_fetch(w, 0, aha_weights_bytes(f.m), 4, 10000, &got, &blob, &len));
    CHECK(got == 2, "version 0 dropped: got %llu", (unsigned long long)got);
    free(blob);
    REQUIRE_OK(aha_coord_pump_stop(c));
    free(want_blob);
    aha_wire_destroy(&w);
    CHECK(rt_peer_stop(&stale.peer) == AHA_OK, "fake actor: %d", stale.peer.rc);
    aha_coord_destroy(&c);
    aha_model_destroy(&m2);
    rt_fixture_end(&f);
}

static const tu_case_t cases[] = {{"lease_expiry_reissue", test_lease_expiry_reissue},
                                  {"actor_leaves", test_actor_leaves},
                                  {"forged_groups", test_forged_groups},
                                  {"versions_ahead", test_versions_ahead},
                                  {"duplicate_and_stray", test_duplicate_and_stray},
                                  {"no_actors", test_no_actors},
                                  {"actor_worker", test_actor_worker},
                                  {"request_replaces", test_request_replaces},
                                  {"actor_groups", test_actor_groups},
                                  {"actor_groups_capped", test_actor_groups_capped}};

TU_MAIN(cases)
