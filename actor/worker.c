#include "actor/worker.h"
#include "verifier/group_msg.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"
#include "model/weights.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

enum { MAX_PROMPT = 512 };

void aha_actor_config_default(aha_actor_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->name = "actor";
    cfg->max_bytes = (size_t)64 << 20;
    cfg->fetch_timeout_ms = 30000;
    aha_link_default(&cfg->link);
}

/* Sampling state: everything one group needs, freed in one place. */
typedef struct {
    aha_kv_t *kv;
    aha_rollout_t *roll;
    aha_rng_t *rngs;
    const int **prompts;
    int *lens;
    aha_wire_t *w;
} actor_t;

static void actor_free(actor_t *a) {
    aha_wire_destroy(&a->w);
    aha_rollout_destroy(&a->roll);
    aha_kv_destroy(&a->kv);
    free(a->rngs);
    free(a->prompts);
    free(a->lens);
}

/* A request for MAX_GROUPS more groups; 0 says the actor leaves (the coordinator takes back the
 * leases it holds). */
static int request_lease(aha_wire_t *w, uint64_t version, uint32_t max_groups) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__LeaseRequest r = AHA__LEASE_REQUEST__INIT;
    r.max_groups = max_groups;
    r.policy_version = version;
    env.body_case = AHA__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &r;
    return aha_wire_send(w, NULL, &env);
}

static int send_hello(aha_wire_t *w, const char *name) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Hello hello = AHA__HELLO__INIT;
    hello.role = "actor";
    hello.name = (char *)name;
    hello.version = "1";
    hello.capacity = 1;
    env.body_case = AHA__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    return aha_wire_send(w, NULL, &env);
}

/* Samples the group of lease (LEASE_ID, PID) with A's buffers and sends it. */
static int sample_and_send(actor_t *a, const aha_actor_config_t *cfg, const aha_model_t *m,
                           uint64_t lease_id, uint64_t pid, uint64_t version, const char *id) {
    const int G = cfg->group_size;
    aha_reward_problem_t rp;
    int ids[MAX_PROMPT], n = 0;
    AHA_TRY(aha_train_group(&cfg->train, pid, ids, MAX_PROMPT, &n, &rp, a->rngs, G));
    for (int g = 0; g < G; g++) {
        a->prompts[g] = ids;
        a->lens[g] = n;
    }
    AHA_TRY(aha_generate(m, a->kv, a->prompts, a->lens, a->rngs, &cfg->gen, a->roll));
    aha_group_msg_t *msg = NULL;
    AHA_TRY(aha_group_msg_from_rollout(a->roll, lease_id, pid, version, &rp, id, &msg));
    Aha__Envelope out = AHA__ENVELOPE__INIT;
    out.body_case = AHA__ENVELOPE__BODY_GROUP;
    out.group = &msg->group;
    int rc = aha_wire_send(a->w, NULL, &out);
    aha_group_msg_destroy(&msg);
    return rc;
}

int aha_actor_serve(void *zctx, const aha_actor_config_t *cfg, aha_model_t *m,
                    aha_actor_stats_t *stats) {
    aha_actor_stats_t st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!zctx || !cfg || !m || !cfg->endpoint || !cfg->name || !cfg->train.task)
        return AHA_FAIL(AHA_ERR_ARG, "aha_actor_serve: NULL argument");
    if (cfg->group_size < 1 || cfg->group_size > AHA_GROUP_MAX || cfg->max_bytes < 1024 ||
        cfg->fetch_timeout_ms <= 0)
        return AHA_FAIL(AHA_ERR_ARG,
                        "aha_actor_serve: group size %d (1..%d), max_bytes %zu, fetch timeout %d",
                        cfg->group_size, AHA_GROUP_MAX, cfg->max_bytes, cfg->fetch_timeout_ms);
    const int G = cfg->group_size, max_len = m->cfg.max_seq_len;
    actor_t a;
    memset(&a, 0, sizeof a);
    char id[128];
    snprintf(id, sizeof id, "actor/%s/%d", cfg->name, (int)getpid());
    int rc = AHA_OK, have = 0;
    a.rngs = malloc(sizeof(aha_rng_t) * G);
    a.prompts = malloc(sizeof(int *) * G);
    a.lens = malloc(sizeof(int) * G);
    if (!a.rngs || !a.prompts || !a.lens) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "actor buffers");
        goto done;
    }
    AHA_TRY_GOTO(rc, aha_kv_new(m, G, max_len, &a.kv), done);
    AHA_TRY_GOTO(rc, aha_rollout_new(m, G, max_len, cfg->record_experts, &a.roll), done);
    AHA_TRY_GOTO(rc, aha_link_open(zctx, &cfg->link, id, cfg->max_bytes, 1000, cfg->endpoint, &a.w),
                 done);
    AHA_TRY_GOTO(rc, send_hello(a.w, cfg->name), done);
    AHA_TRY_GOTO(rc, request_lease(a.w, st.version, 1), done);
    while (!aha_link_stopped(&cfg->link)) {
        Aha__Envelope *e = NULL;
        int r = aha_wire_recv(a.w, 100, NULL, &e);
        if (r == AHA_ERR_TIMEOUT) {
            AHA_TRY_GOTO(rc, aha_wire_peer_check(a.w, cfg->link.peer_timeout_ms), done);
            continue;
        }
        AHA_TRY_GOTO(rc, r, done);
        if (e->body_case == AHA__ENVELOPE__BODY_CONTROL && !strcmp(e->control->command, "stop")) {
            aha_wire_free(&e);
            break;
        }
        if (e->body_case != AHA__ENVELOPE__BODY_LEASE) {
            aha_wire_free(&e);
            continue;
        }
        const uint64_t lease_id = e->lease->lease_id, pid = e->lease->prompt_id,
                       need = e->lease->min_policy_version;
        const uint32_t group_size = e->lease->group_size;
        aha_wire_free(&e);
        if (group_size != (uint32_t)G) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "lease for groups of %u; this actor's config says %d",
                          group_size, G);
            goto done;
        }
        if (!have || st.version != need) { /* the lease names the exact version */
            /* straight into the model as the chunks arrive: a failed fetch leaves it unusable,
             * and the actor stops */
            uint64_t version = 0;
            const aha_blob_sink_t sink = aha_weights_sink(m);
            have = 0;
            rc = aha_blob_fetch_sink(a.w, need, &sink, 4, cfg->fetch_timeout_ms, cfg->link.stop,
                                     &version);
            if (rc != AHA_OK &&
                aha_link_stopped(&cfg->link)) { /* SIGTERM mid-fetch: leave cleanly */
                rc = AHA_OK;
                break;
            }
            if (rc != AHA_OK) goto done;
            have = 1;
            st.version = version;
            st.fetches++;
        }
        AHA_TRY_GOTO(rc, sample_and_send(&a, cfg, m, lease_id, pid, st.version, id), done);
        st.groups++;
        AHA_TRY_GOTO(rc, request_lease(a.w, st.version, 1), done);
    }
    if (aha_link_stopped(&cfg->link) && a.w) {
        /* leaving on SIGTERM (scancel): hand back the lease we hold, if any; the message gets up
         * to 1 s to leave before the socket closes */
        const int linger = 1000;
        zmq_setsockopt(aha_wire_socket(a.w), ZMQ_LINGER, &linger, sizeof linger);
        if (request_lease(a.w, st.version, 0) == AHA_OK)
            AHA_INFO("actor %s: stopping; told the coordinator (leases handed back)", cfg->name);
    }
done:
    actor_free(&a);
    if (stats) *stats = st;
    return rc;
}
