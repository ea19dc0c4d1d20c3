#include "actor/worker.h"
#include "verifier/group_msg.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"
#include "model/kernels.h"
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
    cfg->groups = 1;
    cfg->max_bytes = (size_t)64 << 20;
    cfg->fetch_timeout_ms = 30000;
    aha_link_default(&cfg->link);
}

/* A lease taken and not yet delivered. */
typedef struct {
    uint64_t lease_id, pid, version;
} held_t;

/* Sampling state for up to GROUPS groups of G rows, freed in one place. */
typedef struct {
    /* [n-1]: KV cache and rollout of n * G rows, for a batch of n groups (made on first use:
     * aha_generate decodes exactly the rows of its rollout) */
    aha_kv_t *kv[AHA_ACTOR_MAX_GROUPS];
    aha_rollout_t *roll[AHA_ACTOR_MAX_GROUPS];
    aha_rollout_t *one;     /* G rows: one group's rows, copied out to be sent */
    aha_rng_t *rngs;        /* [groups * G] */
    const int **prompts;    /* [groups * G] */
    int *lens;              /* [groups * G] */
    int *ids;               /* [groups * MAX_PROMPT] prompt tokens */
    aha_reward_problem_t *rp; /* [groups] */
    held_t held[AHA_ACTOR_MAX_GROUPS];
    int n_held, group_size, stop_asked;
    uint32_t bad_group_size; /* a lease for groups of this size arrived (0: none) */
    aha_wire_t *w;
} actor_t;

static void actor_free(actor_t *a) {
    aha_wire_destroy(&a->w);
    for (int i = 0; i < AHA_ACTOR_MAX_GROUPS; i++) {
        aha_rollout_destroy(&a->roll[i]);
        aha_kv_destroy(&a->kv[i]);
    }
    aha_rollout_destroy(&a->one);
    free(a->rngs);
    free(a->prompts);
    free(a->lens);
    free(a->ids);
    free(a->rp);
}

/* A request for MAX_GROUPS more groups (it replaces the last one); 0 says the actor leaves (the
 * coordinator takes back the leases it holds). */
static int request_lease(aha_wire_t *w, uint64_t version, uint32_t max_groups) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__LeaseRequest r = AHA__LEASE_REQUEST__INIT;
    r.max_groups = max_groups;
    r.policy_version = version;
    env.body_case = AHA__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &r;
    return aha_wire_send(w, NULL, &env);
}

static int send_hello(aha_wire_t *w, const char *name, int groups) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Hello hello = AHA__HELLO__INIT;
    hello.role = "actor";
    hello.name = (char *)name;
    hello.version = "1";
    hello.capacity = (uint32_t)groups;
    env.body_case = AHA__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    return aha_wire_send(w, NULL, &env);
}

/* Rows [Q*G, Q*G+G) of FROM into ONE (G rows, same max_len and routing record). */
static void copy_group(aha_rollout_t *one, const aha_rollout_t *from, int q) {
    const int G = one->n, L = from->max_len;
    const size_t cells = (size_t)G * L, at = (size_t)q * G * L;
    memcpy(one->tokens, from->tokens + at, sizeof(int) * cells);
    memcpy(one->logprobs, from->logprobs + at, sizeof(float) * cells);
    memcpy(one->prompt_len, from->prompt_len + (size_t)q * G, sizeof(int) * G);
    memcpy(one->total_len, from->total_len + (size_t)q * G, sizeof(int) * G);
    memcpy(one->finished, from->finished + (size_t)q * G, sizeof(int) * G);
    if (one->expert_ids && from->expert_ids) {
        const size_t K = (size_t)from->top_k;
        for (int l = 0; l < from->n_layers; l++)
            memcpy(one->expert_ids + (size_t)l * cells * K,
                   from->expert_ids + ((size_t)l * from->n * L + at) * K,
                   sizeof(int) * cells * K);
    }
}

/* Samples the groups of the first N held leases (all of version VERSION) in one aha_generate call
 * with A's buffers and sends each; removes them from A's held leases. A group's rows are rows
 * [q*G, q*G+G) of the batch, with the RNG streams of that group alone. */
static int sample_and_send(actor_t *a, const aha_actor_config_t *cfg, const aha_model_t *m, int n,
                           uint64_t version, const char *id) {
    const int G = cfg->group_size;
    aha_rng_t *rngs = a->rngs;
    for (int q = 0; q < n; q++) {
        int *ids = a->ids + (size_t)q * MAX_PROMPT, len = 0;
        AHA_TRY(aha_train_group(&cfg->train, a->held[q].pid, ids, MAX_PROMPT, &len, &a->rp[q],
                                rngs + (size_t)q * G, G));
        for (int g = 0; g < G; g++) {
            a->prompts[q * G + g] = ids;
            a->lens[q * G + g] = len;
        }
    }
    const int max_len = m->cfg.max_seq_len;
    int rc = AHA_OK;
    if (!a->roll[n - 1]) {
        AHA_TRY(aha_kv_new(m, n * G, max_len, &a->kv[n - 1]));
        AHA_TRY(aha_rollout_new(m, n * G, max_len, cfg->record_experts, &a->roll[n - 1]));
    }
    aha_rollout_t *roll = a->roll[n - 1];
    aha_kv_t *kv = a->kv[n - 1];
    AHA_TRY_GOTO(rc, aha_generate(m, kv, a->prompts, a->lens, rngs, &cfg->gen, roll), out);
    for (int q = 0; q < n; q++) {
        aha_rollout_t *g = roll;
        if (n > 1) {
            copy_group(a->one, roll, q);
            g = a->one;
        }
        aha_group_msg_t *msg = NULL;
        AHA_TRY_GOTO(rc,
                     aha_group_msg_from_rollout(g, a->held[q].lease_id, a->held[q].pid, version,
                                                &a->rp[q], id, &msg),
                     out);
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        env.body_case = AHA__ENVELOPE__BODY_GROUP;
        env.group = &msg->group;
        rc = aha_wire_send(a->w, NULL, &env);
        aha_group_msg_destroy(&msg);
        if (rc != AHA_OK) goto out;
    }
    memmove(a->held, a->held + n, sizeof(held_t) * (size_t)(a->n_held - n));
    a->n_held -= n;
out:
    return rc;
}

/* A message from the coordinator: a lease is kept (a group size other than the config's is
 * remembered as an error), "stop" is noted, anything else is ignored. */
static void take_message(actor_t *a, const Aha__Envelope *e) {
    if (e->body_case == AHA__ENVELOPE__BODY_CONTROL && !strcmp(e->control->command, "stop")) {
        a->stop_asked = 1;
        return;
    }
    if (e->body_case != AHA__ENVELOPE__BODY_LEASE) return;
    if (e->lease->group_size != (uint32_t)a->group_size) {
        a->bad_group_size = e->lease->group_size ? e->lease->group_size : UINT32_MAX;
        return;
    }
    if (a->n_held == AHA_ACTOR_MAX_GROUPS) { /* more than asked for: its lease expires */
        AHA_WARN("actor: lease %llu beyond the %d groups held; left to expire",
                 (unsigned long long)e->lease->lease_id, AHA_ACTOR_MAX_GROUPS);
        return;
    }
    held_t *h = &a->held[a->n_held++];
    h->lease_id = e->lease->lease_id;
    h->pid = e->lease->prompt_id;
    h->version = e->lease->min_policy_version;
}

static void take_other(void *ctx, const Aha__Envelope *e) { take_message(ctx, e); }

int aha_actor_serve(void *zctx, const aha_actor_config_t *cfg, aha_model_t *m,
                    aha_actor_stats_t *stats) {
    aha_actor_stats_t st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!zctx || !cfg || !m || !cfg->endpoint || !cfg->name || !cfg->train.task)
        return AHA_FAIL(AHA_ERR_ARG, "aha_actor_serve: NULL argument");
    if (cfg->group_size < 1 || cfg->group_size > AHA_GROUP_MAX || cfg->max_bytes < 1024 ||
        cfg->fetch_timeout_ms <= 0 || cfg->groups < 1 || cfg->groups > AHA_ACTOR_MAX_GROUPS)
        return AHA_FAIL(AHA_ERR_ARG,
                        "aha_actor_serve: group size %d (1..%d), groups %d (1..%d), max_bytes %zu, "
                        "fetch timeout %d",
                        cfg->group_size, AHA_GROUP_MAX, cfg->groups, AHA_ACTOR_MAX_GROUPS,
                        cfg->max_bytes, cfg->fetch_timeout_ms);
    const int G = cfg->group_size, NG = cfg->groups;
    /* groups per aha_generate call: up to K_MATMUL_ROWS_MAX rows decoding's matmuls are per row
     * (a row's bits do not depend on the others); beyond, sgemm rounds by row count and a group
     * would differ from the same group sampled alone. More leases held wait for the next call. */
    int batch = K_MATMUL_ROWS_MAX / G;
    batch = batch > NG ? NG : batch < 1 ? 1 : batch;
    if (batch < NG)
        AHA_INFO("actor %s: holds %d groups of %d, decodes at most %d per batch (%d rows at most)",
                 cfg->name, NG, G, batch, K_MATMUL_ROWS_MAX);
    actor_t a;
    memset(&a, 0, sizeof a);
    a.group_size = G;
    char id[128];
    snprintf(id, sizeof id, "actor/%s/%d", cfg->name, (int)getpid());
    int rc = AHA_OK, have = 0;
    a.rngs = malloc(sizeof(aha_rng_t) * (size_t)NG * G);
    a.prompts = malloc(sizeof(int *) * (size_t)NG * G);
    a.lens = malloc(sizeof(int) * (size_t)NG * G);
    a.ids = malloc(sizeof(int) * (size_t)NG * MAX_PROMPT);
    a.rp = calloc((size_t)NG, sizeof(aha_reward_problem_t));
    if (!a.rngs || !a.prompts || !a.lens || !a.ids || !a.rp) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "actor buffers");
        goto done;
    }
    AHA_TRY_GOTO(rc, aha_kv_new(m, G, m->cfg.max_seq_len, &a.kv[0]), done);
    AHA_TRY_GOTO(
        rc, aha_rollout_new(m, G, m->cfg.max_seq_len, cfg->record_experts, &a.roll[0]), done);
    if (NG > 1)
        AHA_TRY_GOTO(
            rc, aha_rollout_new(m, G, m->cfg.max_seq_len, cfg->record_experts, &a.one), done);
    AHA_TRY_GOTO(rc, aha_link_open(zctx, &cfg->link, id, cfg->max_bytes, 1000, cfg->endpoint, &a.w),
                 done);
    AHA_TRY_GOTO(rc, send_hello(a.w, cfg->name, NG), done);
    AHA_TRY_GOTO(rc, request_lease(a.w, st.version, (uint32_t)NG), done);
    int stop_asked = 0;
    while (!aha_link_stopped(&cfg->link) && !stop_asked) {
        /* take what has arrived: wait for the first lease, then whatever else is queued */
        while (a.n_held < NG && !stop_asked) {
            Aha__Envelope *e = NULL;
            int r = aha_wire_recv(a.w, a.n_held ? 0 : 100, NULL, &e);
            if (r == AHA_ERR_TIMEOUT) {
                if (a.n_held) break;
                AHA_TRY_GOTO(rc, aha_wire_peer_check(a.w, cfg->link.peer_timeout_ms), done);
                if (aha_link_stopped(&cfg->link)) break;
                continue;
            }
            AHA_TRY_GOTO(rc, r, done);
            take_message(&a, e);
            aha_wire_free(&e);
            stop_asked = a.stop_asked;
        }
        if (stop_asked || a.n_held == 0) continue;
        if (a.bad_group_size) {
            rc = AHA_FAIL(AHA_ERR_CONFIG, "lease for groups of %u; this actor's config says %d",
                          a.bad_group_size, G);
            goto done;
        }
        const uint64_t need = a.held[0].version;
        if (!have || st.version != need) { /* the lease names the exact version */
            /* straight into the model as the chunks arrive: a failed fetch leaves it unusable,
             * and the actor stops; leases granted meanwhile are kept */
            uint64_t version = 0;
            aha_blob_sink_t sink = aha_weights_sink(m);
            sink.other = take_other;
            sink.other_ctx = &a;
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
            if (a.stop_asked) break;
        }
        /* one batch: the leading leases of this version (a lease of another version waits), at
         * most BATCH groups */
        int n = 0;
        while (n < a.n_held && n < batch && a.held[n].version == need)
            n++;
        AHA_TRY_GOTO(rc, sample_and_send(&a, cfg, m, n, st.version, id), done);
        st.groups += (uint64_t)n;
        st.batches++;
        if (a.n_held < NG)
            AHA_TRY_GOTO(rc, request_lease(a.w, st.version, (uint32_t)(NG - a.n_held)), done);
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
