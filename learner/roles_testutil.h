/* learner/roles_testutil.h — fixtures of the in-process role selftests (coordinator, verifier
 * pool, trainer; header only, tests only): a small model, the addition training set,
 * hand-made groups, and actor and verifier worker threads; the tests play peers with threads on
 * real ZeroMQ sockets. */
#ifndef AHA_LEARNER_ROLES_TESTUTIL_H
#define AHA_LEARNER_ROLES_TESTUTIL_H
#include "core/rng.h"
#include "core/wire.h"
#include "actor/worker.h"
#include "learner/coordinator.h"
#include "model/model.h"
#include "model/rollout.h"
#include "model/tokenizer.h"
#include "tasks/train_group.h"
#include "verifier/group_msg.h"
#include "verifier/worker.h"
#include "core/testutil.h"
#include <pthread.h>
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test peer: a DEALER on ZCTX named NAME (and with NAME as its routing identity when
 * SET_IDENTITY), connected to EP, that has said Hello as ROLE NAME@1. *out written on success. */
static inline int rt_peer_new(void *zctx, const char *ep, const char *role, const char *name,
                              int set_identity, aha_wire_t **out) {
    aha_wire_t *w = NULL;
    int rc = aha_wire_new(zctx, ZMQ_DEALER, name, 1 << 20, &w);
    if (rc == AHA_OK && set_identity) rc = aha_wire_set_identity(w, name);
    if (rc == AHA_OK) rc = aha_wire_connect(w, ep);
    Aha__Hello hello = AHA__HELLO__INIT;
    hello.role = (char *)role;
    hello.name = (char *)name;
    hello.version = "1";
    if (rc == AHA_OK) rc = aha_wire_send_body(w, NULL, &hello.base);
    if (rc == AHA_OK)
        *out = w;
    else
        aha_wire_destroy(&w);
    return rc;
}

/* The receive step of a test peer's loop: waits up to 10 ms for a message on W. 1 with *e set
 * (the caller frees it) when one came; 0 on a timeout; 0 with *rc set on an error, so a loop
 * `while (rc == AHA_OK ...) { Aha__Envelope *e; if (!rt_next(w, &rc, &e)) continue; ... }` ends. */
static inline int rt_next(aha_wire_t *w, int *rc, Aha__Envelope **e) {
    *e = NULL;
    const int r = aha_wire_recv(w, 10, NULL, e);
    if (r != AHA_OK && r != AHA_ERR_TIMEOUT) *rc = r;
    return r == AHA_OK;
}

/* Asks the coordinator on W for N leases (0: hands back the ones held, as an actor that stops). */
static inline int rt_ask_leases(aha_wire_t *w, int n) {
    Aha__LeaseRequest r = AHA__LEASE_REQUEST__INIT;
    r.max_groups = n;
    return aha_wire_send_body(w, NULL, &r.base);
}

/* Asks the coordinator on W for one lease. */
static inline int rt_ask_lease(aha_wire_t *w) {
    return rt_ask_leases(w, 1);
}

enum { RT_G = 4, RT_MAX_NEW = 6 };

/* How the tests sample, in process and in the actor threads: RT_MAX_NEW new tokens at
 * temperature 1, top_p 1. */
static const aha_gen_config_t rt_gen = {RT_MAX_NEW, 1.0f, 1.0f};

/* The shared small MoE of the tests (tu_small_config: the tokenizer's vocabulary, 48 positions)
 * with the training init from SEED. */
static inline aha_model_t *rt_model(uint64_t seed) {
    aha_model_config_t c;
    tu_small_config(&c);
    return tu_random_model(&c, seed);
}

/* What a role test starts from: a ZeroMQ context, the model rt_model(seed) and room for the
 * endpoint of the role under test. rt_fixture_end destroys the model and terminates the context
 * (destroy the role and every socket first). */
typedef struct {
    void *zctx;
    aha_model_t *m;
    char ep[256];
} rt_fixture_t;

static inline rt_fixture_t rt_fixture(uint64_t seed) {
    rt_fixture_t f = {zmq_ctx_new(), rt_model(seed), ""};
    REQUIRE(f.zctx && f.m, "fixture");
    return f;
}

static inline void rt_fixture_end(rt_fixture_t *f) {
    aha_model_destroy(&f->m);
    zmq_ctx_term(f->zctx);
}

/* A peer played by a thread (a fake actor or verifier): rt_peer_start runs RUN(peer) on a thread;
 * RUN connects to EP in ZCTX (rt_peer_new), counts the groups it receives in groups, loops until
 * stop is set (or its script ends) and sets rc. rt_peer_stop sets stop, waits and returns rc. */
typedef struct {
    void *zctx;
    const char *ep;
    const aha_model_t *m; /* shape of the groups it makes up, if it does */
    volatile int stop;
    volatile int groups;
    int rc;
    pthread_t th;
} rt_peer_t;

static inline void rt_peer_start(rt_peer_t *p, void *zctx, const char *ep, const aha_model_t *m,
                                 void *(*run)(void *)) {
    *p = (rt_peer_t){.zctx = zctx, .ep = ep, .m = m};
    REQUIRE(pthread_create(&p->th, NULL, run, p) == 0, "peer thread");
}

static inline int rt_peer_stop(rt_peer_t *p) {
    p->stop = 1;
    pthread_join(p->th, NULL);
    return p->rc;
}

/* The end of RUN: closes the peer's socket *W and records RC as its result; returns the thread's
 * NULL. */
static inline void *rt_peer_exit(rt_peer_t *p, aha_wire_t **w, int rc) {
    aha_wire_destroy(w);
    p->rc = rc;
    return NULL;
}

/* A coordinator on 127.0.0.1 in ZCTX for groups of RT_G samples of model M (the content checks of
 * M's shape); its endpoint into ep[0..cap). */
static inline aha_coord_t *rt_coord_new(void *zctx, const aha_model_t *m, char *ep, size_t cap) {
    const aha_msg_limits_t limits = {AHA_TOK_VOCAB, m->cfg.max_seq_len,      m->cfg.n_layers,
                                     m->cfg.top_k,  m->cfg.n_routed_experts, RT_G};
    aha_coord_t *c = NULL;
    REQUIRE_OK(aha_coord_new(zctx, "tcp://127.0.0.1:*", 1 << 20, &limits, RT_G, NULL, &c));
    REQUIRE_OK(aha_wire_endpoint(aha_coord_wire(c), ep, cap));
    return c;
}

/* Training problems: 1-2 digit additions, compact prompts, seed 7. */
static inline void rt_train_set(aha_train_set_t *s) {
    memset(s, 0, sizeof *s);
    s->task = aha_task_by_name("addition");
    s->cfg.add = (aha_add_config_t){1, 2, 0.1};
    s->cfg.template_kind = AHA_TEMPLATE_COMPACT;
    s->seed = 7;
}

/* An actor worker (aha_actor_serve) on a thread: rt_actor_init sets it up for the coordinator at
 * EP (groups of RT_G sampled with rt_gen from rt_train_set's problems) with the model
 * rt_model(SEED), other weights until its first fetch; the test may change cfg, then
 * rt_actor_start runs it until the coordinator stops it; rt_actor_join waits and returns its
 * result. The test destroys m. */
typedef struct {
    void *zctx;
    aha_actor_config_t cfg;
    aha_model_t *m;
    aha_actor_stats_t stats;
    int rc;
    pthread_t th;
} rt_actor_t;

static inline void *rt_actor_main(void *arg) {
    rt_actor_t *a = arg;
    a->rc = aha_actor_serve(a->zctx, &a->cfg, a->m, &a->stats);
    return NULL;
}

static inline void rt_actor_init(rt_actor_t *a, void *zctx, const char *ep, uint64_t seed) {
    memset(a, 0, sizeof *a);
    a->zctx = zctx;
    aha_actor_config_default(&a->cfg);
    a->cfg.endpoint = ep;
    a->cfg.group_size = RT_G;
    a->cfg.gen = rt_gen;
    rt_train_set(&a->cfg.train);
    a->m = rt_model(seed);
}

static inline void rt_actor_start(rt_actor_t *a) {
    REQUIRE(pthread_create(&a->th, NULL, rt_actor_main, a) == 0, "actor thread");
}

static inline int rt_actor_join(rt_actor_t *a) {
    pthread_join(a->th, NULL);
    return a->rc;
}

/* A verifier worker (aha_verifier_serve) on a thread, started for the broker at EP as NAME (NULL:
 * the default), for sequences up to MAX_LEN, with the user command SANDBOX or NULL; it runs until
 * the pool stops it or stop is set; rt_verifier_join waits and returns its result. */
typedef struct {
    void *zctx;
    aha_verifier_config_t cfg;
    volatile sig_atomic_t stop;
    aha_verifier_stats_t stats;
    int rc;
    pthread_t th;
} rt_verifier_t;

static inline void *rt_verifier_main(void *arg) {
    rt_verifier_t *v = arg;
    v->rc = aha_verifier_serve(v->zctx, &v->cfg, &v->stats);
    return NULL;
}

static inline void rt_verifier_start(rt_verifier_t *v, void *zctx, const char *ep, const char *name,
                                     int max_len, const aha_sandbox_config_t *sandbox) {
    memset(v, 0, sizeof *v);
    v->zctx = zctx;
    aha_verifier_config_default(&v->cfg);
    v->cfg.endpoint = ep;
    if (name) v->cfg.name = name;
    v->cfg.limits.max_len = max_len;
    v->cfg.sandbox = sandbox;
    v->cfg.link.stop = &v->stop;
    REQUIRE(pthread_create(&v->th, NULL, rt_verifier_main, v) == 0, "verifier thread");
}

static inline int rt_verifier_join(rt_verifier_t *v) {
    pthread_join(v->th, NULL);
    return v->rc;
}

/* The group of training prompt PID with made-up responses instead of sampling: row b answers
 * "<think>1</think><answer>X</answer><eos>" with X the right sum for even b and a wrong one for odd b. *r is a
 * new rollout (caller destroys), *rp the problem. */
static inline int rt_fake_rollout(const aha_model_t *m, uint64_t pid, aha_rollout_t **out,
                                  aha_reward_problem_t *rp) {
    aha_train_set_t set;
    rt_train_set(&set);
    aha_rng_t rngs[RT_G];
    int ids[64], n = 0;
    AHA_TRY(aha_train_group(&set, pid, ids, 64, &n, rp, rngs, RT_G));
    aha_rollout_t *r = NULL;
    AHA_TRY(aha_rollout_new(m, RT_G, m->cfg.max_seq_len, 0, &r));
    for (int b = 0; b < RT_G; b++) {
        char text[64];
        int resp[32], nr = 0;
        snprintf(text, sizeof text, "<think>1</think><answer>%lld</answer>",
                 (long long)(rp->expected + (b % 2 ? b : 0)));
        if (aha_tok_encode(text, resp, 31, &nr) < 0 || n + nr + 1 > r->max_len) {
            aha_rollout_destroy(&r);
            return AHA_FAIL(AHA_ERR_RANGE, "fake response too long");
        }
        resp[nr++] = AHA_TOK_EOS;
        int *row = r->tokens + (size_t)b * r->max_len;
        memcpy(row, ids, sizeof(int) * n);
        memcpy(row + n, resp, sizeof(int) * nr);
        for (int i = n; i < n + nr; i++)
            r->logprobs[(size_t)b * r->max_len + i] = -0.5f;
        r->prompt_len[b] = n;
        r->total_len[b] = n + nr;
        r->finished[b] = 1;
    }
    *out = r;
    return AHA_OK;
}

/* The group of rt_fake_rollout as an actor would send it. *out owned by the caller. */
static inline int rt_fake_group(const aha_model_t *m, uint64_t lease_id, uint64_t pid,
                                uint64_t version, const char *actor, aha_group_msg_t **out) {
    aha_reward_problem_t rp;
    aha_rollout_t *r = NULL;
    AHA_TRY(rt_fake_rollout(m, pid, &r, &rp));
    int rc = aha_group_msg_from_rollout(r, lease_id, pid, version, &rp, actor, out);
    aha_rollout_destroy(&r);
    return rc;
}

#endif
