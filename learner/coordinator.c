#include "learner/coordinator.h"
#include "core/clock.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"
#include "model/weights.h"
#include "verifier/msg_check.h"
#include "model/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { MAX_ACTORS = 64, MAX_WAITING = 256 };

typedef struct {
    uint64_t lease_id;
    int item; /* index into the current collect's pids, -1 = free slot */
    double due_ms;
    aha_peer_t holder; /* who has it */
} lease_t;

struct aha_coord {
    aha_wire_t *w;
    int group_size;
    aha_peer_t actors[MAX_ACTORS];
    int n_actors;
    aha_peer_t waiting[MAX_WAITING]; /* actors with an unanswered LeaseRequest */
    int n_waiting;
    uint8_t *weights;
    size_t weights_len;
    aha_blob_t blob;
    uint64_t next_lease;
    double last_heard; /* last message from any actor (ms) */
    aha_coord_stats_t stats;
    aha_msg_limits_t limits; /* content checks of what the actors send */
};

static int is_actor(const aha_coord_t *c, const aha_peer_t *p) {
    for (int i = 0; i < c->n_actors; i++)
        if (c->actors[i].id_len == p->id_len && !memcmp(c->actors[i].id, p->id, p->id_len))
            return 1;
    return 0;
}

/* Handles a message that is not a Group: hello, lease request, weight requests. */
static void handle(aha_coord_t *c, const aha_peer_t *from, const Aha__Envelope *e) {
    switch (e->body_case) {
    case AHA__ENVELOPE__BODY_HELLO:
        if (!strcmp(e->hello->role, "actor") && !is_actor(c, from) && c->n_actors < MAX_ACTORS) {
            c->actors[c->n_actors++] = *from;
            AHA_INFO("coordinator: actor %s joined", e->sender);
        }
        break;
    case AHA__ENVELOPE__BODY_LEASE_REQUEST:
        if (c->n_waiting < MAX_WAITING) c->waiting[c->n_waiting++] = *from;
        break;
    case AHA__ENVELOPE__BODY_CHUNK_REQUEST:
        if (c->weights && aha_blob_serve(&c->blob, c->w, from, e->chunk_request) != AHA_OK)
            AHA_WARN("coordinator: weights request from %s: %s", e->sender, aha_last_error());
        break;
    case AHA__ENVELOPE__BODY_CONTROL: { /* aha ctl */
        char text[4096];
        int ok = !strcmp(e->control->command, "status");
        if (ok)
            snprintf(text, sizeof text,
                     "actors (%d joined): %llu groups delivered, %llu leases re-issued, %llu "
                     "sampled by the learner; weights version %llu\n",
                     c->n_actors, (unsigned long long)c->stats.delivered,
                     (unsigned long long)c->stats.reissued, (unsigned long long)c->stats.missing,
                     (unsigned long long)c->blob.version);
        else
            snprintf(text, sizeof text, "unknown command '%.60s' (status)", e->control->command);
        if (aha_wire_send_control(c->w, from, e->control->command, ok, text) != AHA_OK)
            AHA_WARN("coordinator: could not answer aha ctl: %s", aha_last_error());
        break;
    }
    default:
        break;
    }
}

int aha_coord_publish(aha_coord_t *c, const aha_model_t *m, uint64_t version) {
    if (!c || !m) return AHA_FAIL(AHA_ERR_ARG, "aha_coord_publish: NULL argument");
    size_t n = aha_weights_bytes(m);
    if (n != c->weights_len) {
        uint8_t *p = realloc(c->weights, n);
        if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "weights blob of %zu bytes", n);
        c->weights = p;
        c->weights_len = n;
    }
    aha_weights_pack(m, c->weights);
    return aha_blob_set(&c->blob, version, c->weights, n, 1u << 20);
}

static int grant(aha_coord_t *c, const aha_peer_t *to, uint64_t lease_id, uint64_t pid) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Lease l = AHA__LEASE__INIT;
    l.lease_id = lease_id;
    l.prompt_id = pid;
    l.group_size = (uint32_t)c->group_size;
    l.min_policy_version = c->blob.version;
    env.body_case = AHA__ENVELOPE__BODY_LEASE;
    env.lease = &l;
    return aha_wire_send(c->w, to, &env);
}

int aha_coord_collect(aha_coord_t *c, const uint64_t *pids, int n, int lease_ms, int collect_ms,
                      Aha__Envelope **out) {
    if (!c || !pids || !out || n < 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_collect: bad argument");
    if (!c->weights) return AHA_FAIL(AHA_ERR_STATE, "coordinator: no weights published");
    int *state = calloc((size_t)n + 1, sizeof(int)); /* 0 pending, 1 leased, 2 done */
    lease_t *leases = calloc((size_t)n + 1, sizeof(lease_t));
    if (!state || !leases) {
        free(state);
        free(leases);
        return AHA_FAIL(AHA_ERR_NOMEM, "collect of %d groups", n);
    }
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        leases[i].item = -1;
    }
    int done = 0, rc = AHA_OK;
    const double give_up = aha_now_ms() + collect_ms;
    while (done < n && aha_now_ms() < give_up) {
        /* expired leases go back to pending */
        double now = aha_now_ms();
        for (int i = 0; i < n; i++)
            if (state[i] == 1 && leases[i].due_ms < now) {
                state[i] = 0;
                c->stats.reissued++;
                /* its holder is dead or stuck: forget its queued request (a live one asks again
                 * after it delivers) */
                for (int k = 0; k < c->n_waiting; k++)
                    if (c->waiting[k].id_len == leases[i].holder.id_len &&
                        !memcmp(c->waiting[k].id, leases[i].holder.id, c->waiting[k].id_len)) {
                        memmove(c->waiting + k, c->waiting + k + 1,
                                sizeof(aha_peer_t) * (size_t)(c->n_waiting - k - 1));
                        c->n_waiting--;
                        k--;
                    }
                AHA_WARN("coordinator: lease %llu (prompt %llu) expired; re-issuing",
                         (unsigned long long)leases[i].lease_id, (unsigned long long)pids[i]);
            }
        /* hand pending items to waiting actors, in order */
        for (int i = 0; i < n && c->n_waiting > 0; i++) {
            if (state[i] != 0) continue;
            aha_peer_t to = c->waiting[0];
            memmove(c->waiting, c->waiting + 1, sizeof(aha_peer_t) * (size_t)--c->n_waiting);
            uint64_t id = ++c->next_lease;
            if (grant(c, &to, id, pids[i]) != AHA_OK) {
                AHA_WARN("coordinator: could not send a lease: %s", aha_last_error());
                continue;
            }
            leases[i] = (lease_t){id, i, aha_now_ms() + lease_ms, to};
            state[i] = 1;
            c->stats.leases++;
        }
        /* nobody holds a lease, nobody asks, no actor spoke for a lease period: none is live */
        int leased = 0;
        for (int i = 0; i < n; i++)
            leased += state[i] == 1;
        const int idle = !leased && c->n_waiting == 0 && aha_now_ms() - c->last_heard > lease_ms;
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        /* when idle, only look at what has already arrived (e.g. an actor joining) */
        rc = aha_wire_recv(c->w, idle ? 0 : 50, &from, &e);
        if (rc == AHA_ERR_TIMEOUT) {
            rc = AHA_OK;
            if (idle) break;
            continue;
        }
        if (rc != AHA_OK) break;
        c->last_heard = aha_now_ms();
        if (e->body_case == AHA__ENVELOPE__BODY_GROUP) {
            const Aha__Group *g = e->group;
            int hit = -1;
            for (int i = 0; i < n && hit < 0; i++)
                if (state[i] == 1 && leases[i].lease_id == g->lease_id && pids[i] == g->prompt_id)
                    hit = i;
            if (hit >= 0 && g->policy_version >= c->blob.version &&
                g->n_sample_index == (size_t)c->group_size) {
                out[hit] = e;
                state[hit] = 2;
                done++;
                c->stats.delivered++;
                e = NULL; /* the envelope now belongs to out[] */
            } else {
                c->stats.late++;
                AHA_DEBUG("coordinator: dropped group for prompt %llu (lease %llu): late or "
                          "duplicate",
                          (unsigned long long)g->prompt_id, (unsigned long long)g->lease_id);
            }
        } else {
            handle(c, &from, e);
        }
        aha_wire_free(&e);
    }
    const uint64_t missing_before = c->stats.missing; /* warn the first time, then every 100 */
    c->stats.missing += (uint64_t)(n - done);
    if (done < n && rc == AHA_OK &&
        (missing_before == 0 || missing_before / 100 != c->stats.missing / 100))
        AHA_WARN("coordinator: %d of %d groups not delivered; the learner samples them", n - done,
                 n);
    free(state);
    free(leases);
    return rc;
}

int aha_coord_endpoint(const aha_coord_t *c, char *buf, size_t cap) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "aha_coord_endpoint: NULL coordinator");
    return aha_wire_endpoint(c->w, buf, cap);
}

void aha_coord_stats(const aha_coord_t *c, aha_coord_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!c) return;
    *out = c->stats;
    out->actors = c->n_actors;
}

void aha_coord_stop_actors(aha_coord_t *c) {
    for (int i = 0; c && i < c->n_actors; i++) /* best effort: some may be gone */
        aha_wire_send_control(c->w, &c->actors[i], "stop", 1, "");
}

int aha_coord_actors(const aha_coord_t *c) {
    return c ? c->n_actors : 0;
}

int aha_coord_wait_actors(aha_coord_t *c, int n, int timeout_ms) {
    if (!c) return AHA_FAIL(AHA_ERR_ARG, "aha_coord_wait_actors: NULL coordinator");
    const double until = aha_now_ms() + timeout_ms;
    while (c->n_actors < n) {
        const double left = until - aha_now_ms();
        if (left <= 0)
            return AHA_FAIL(AHA_ERR_TIMEOUT, "coordinator: %d of %d actors joined in %d ms",
                            c->n_actors, n, timeout_ms);
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        int q = aha_wire_recv(c->w, left < 100 ? (int)left + 1 : 100, &from, &e);
        if (q == AHA_ERR_TIMEOUT) continue;
        if (q != AHA_OK) return q;
        c->last_heard = aha_now_ms();
        handle(c, &from, e);
        aha_wire_free(&e);
    }
    return AHA_OK;
}

void aha_coord_destroy(aha_coord_t **cp) {
    if (!cp || !*cp) return;
    aha_coord_t *c = *cp;
    aha_wire_destroy(&c->w);
    free(c->weights);
    free(c);
    *cp = NULL;
}

int aha_coord_new(void *zctx, const char *bind, size_t max_bytes, const aha_msg_limits_t *limits,
                  int group_size, const aha_keypair_t *curve, aha_coord_t **out) {
    if (!zctx || !bind || !limits || !out || group_size < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_new: bad argument");
    aha_coord_t *c = calloc(1, sizeof *c);
    if (!c) return AHA_FAIL(AHA_ERR_NOMEM, "coordinator");
    c->group_size = group_size;
    c->limits = *limits;
    c->last_heard = aha_now_ms();
    int r = aha_wire_new(zctx, ZMQ_ROUTER, "learner/coordinator", max_bytes, &c->w);
    if (r == AHA_OK && curve) r = aha_wire_curve_server(c->w, curve);
    if (r == AHA_OK) r = aha_wire_bind(c->w, bind);
    if (r != AHA_OK) {
        aha_coord_destroy(&c);
        return r;
    }
    aha_wire_set_check(c->w, aha_msg_check_fn, &c->limits);
    *out = c;
    return AHA_OK;
}
