#include "learner/broker.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { MAX_VERIFIERS = 256 };

typedef struct {
    aha_peer_t peer;
    char who[96]; /* name@version */
    int live;
    int retired;        /* told to stop by `aha ctl verifier-use`; never used again */
    uint64_t last_used; /* dispatch counter value of the last send: smallest goes next */
    uint64_t scored;
} verifier_t;

struct aha_broker {
    aha_wire_t *w;
    verifier_t v[MAX_VERIFIERS];
    int n;
    uint64_t dispatches;
    aha_broker_stats_t stats;
    char preferred[96]; /* `aha ctl verifier-use`: only this name@version gets work */
};

int aha_broker_new(void *zctx, const char *bind, size_t max_bytes, aha_wire_check_fn check,
                   const void *check_ctx, const aha_keypair_t *curve, aha_broker_t **out) {
    if (!zctx || !bind || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_new: NULL argument");
    aha_broker_t *b = calloc(1, sizeof *b);
    if (!b) return AHA_FAIL(AHA_ERR_NOMEM, "broker");
    int rc = aha_wire_new(zctx, ZMQ_ROUTER, "learner/broker", max_bytes, &b->w);
    if (rc == AHA_OK && curve) rc = aha_wire_curve_server(b->w, curve);
    if (rc == AHA_OK) rc = aha_wire_bind(b->w, bind);
    if (rc != AHA_OK) {
        aha_wire_destroy(&b->w);
        free(b);
        return rc;
    }
    aha_wire_set_check(b->w, check, check_ctx);
    *out = b;
    return AHA_OK;
}

void aha_broker_destroy(aha_broker_t **bp) {
    if (!bp || !*bp) return;
    aha_wire_destroy(&(*bp)->w);
    free(*bp);
    *bp = NULL;
}

int aha_broker_endpoint(const aha_broker_t *b, char *buf, size_t cap) {
    if (!b) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_endpoint: NULL broker");
    return aha_wire_endpoint(b->w, buf, cap);
}

int aha_broker_live(const aha_broker_t *b) {
    int n = 0;
    for (int i = 0; b && i < b->n; i++)
        n += b->v[i].live && !b->v[i].retired;
    return n;
}

const aha_broker_stats_t *aha_broker_stats(const aha_broker_t *b) {
    return b ? &b->stats : NULL;
}
const aha_wire_stats_t *aha_broker_wire_stats(const aha_broker_t *b) {
    return b ? aha_wire_stats(b->w) : NULL;
}

static verifier_t *find(aha_broker_t *b, const aha_peer_t *p) {
    for (int i = 0; i < b->n; i++)
        if (b->v[i].peer.id_len == p->id_len && !memcmp(b->v[i].peer.id, p->id, p->id_len))
            return &b->v[i];
    return NULL;
}

/* Bookkeeping for a message that is not the reply being waited for. */
static void send_control(aha_broker_t *b, const aha_peer_t *to, const char *command, int ok,
                         const char *text) {
    if (aha_wire_send_control(b->w, to, command, ok, text) != AHA_OK)
        AHA_WARN("broker: could not send '%s': %s", command, aha_last_error());
}

/* `aha ctl` requests: "status", "verifier-use NAME@VERSION". */
static void control(aha_broker_t *b, const aha_peer_t *from, const Aha__Control *c) {
    char text[4096];
    size_t o = 0;
    if (!strcmp(c->command, "status")) {
        o += (size_t)snprintf(text + o, sizeof text - o, "verifiers (%d live):\n",
                              aha_broker_live(b));
        for (int i = 0; i < b->n && o < sizeof text - 128; i++)
            o += (size_t)snprintf(text + o, sizeof text - o, "  %-28s %-8s %llu groups\n",
                                  b->v[i].who,
                                  b->v[i].retired ? "retired"
                                  : b->v[i].live  ? "live"
                                                  : "lost",
                                  (unsigned long long)b->v[i].scored);
        send_control(b, from, "status", 1, text);
        return;
    }
    if (!strcmp(c->command, "verifier-use") && c->n_args == 1) {
        const char *want = c->args[0];
        int match = 0;
        for (int i = 0; i < b->n; i++)
            match += b->v[i].live && !b->v[i].retired && !strcmp(b->v[i].who, want);
        if (!match) {
            snprintf(text, sizeof text, "no live verifier %s; nothing changed", want);
            send_control(b, from, "verifier-use", 0, text);
            return;
        }
        snprintf(b->preferred, sizeof b->preferred, "%s", want);
        o += (size_t)snprintf(text + o, sizeof text - o, "using %s (%d live); retired:", want,
                              match);
        for (int i = 0; i < b->n; i++) {
            verifier_t *v = &b->v[i];
            if (!v->live || v->retired || !strcmp(v->who, want)) continue;
            v->retired = 1;
            send_control(b, &v->peer, "stop", 1, "retired");
            if (o < sizeof text - 100)
                o += (size_t)snprintf(text + o, sizeof text - o, " %s", v->who);
        }
        AHA_INFO("broker: %s", text);
        send_control(b, from, "verifier-use", 1, text);
        return;
    }
    snprintf(text, sizeof text, "unknown command '%.60s' (status, verifier-use NAME@VERSION)",
             c->command);
    send_control(b, from, c->command, 0, text);
}

static void note(aha_broker_t *b, const aha_peer_t *from, const Aha__Envelope *e) {
    if (e->body_case == AHA__ENVELOPE__BODY_CONTROL) {
        control(b, from, e->control);
        return;
    }
    verifier_t *v = find(b, from);
    if (e->body_case == AHA__ENVELOPE__BODY_HELLO && !strcmp(e->hello->role, "verifier")) {
        if (!v && b->n < MAX_VERIFIERS) v = &b->v[b->n++];
        if (!v) {
            AHA_WARN("broker: more than %d verifiers; ignoring %s", MAX_VERIFIERS, e->sender);
            return;
        }
        v->peer = *from;
        snprintf(v->who, sizeof v->who, "%.40s@%.40s", e->hello->name, e->hello->version);
        if (!v->live) AHA_INFO("broker: verifier %s joined (%s)", v->who, e->sender);
        v->live = 1;
        return;
    }
    if (!v || v->retired) return;
    if (!v->live) {
        AHA_INFO("broker: verifier %s is back", v->who);
        v->live = 1;
    }
    if (e->body_case == AHA__ENVELOPE__BODY_SCORED_GROUP) {
        b->stats.late++;
        AHA_WARN("broker: late reply from %s for prompt %llu dropped", v->who,
                 e->scored_group->group ? (unsigned long long)e->scored_group->group->prompt_id
                                        : 0ULL);
    }
}

int aha_broker_wait_verifiers(aha_broker_t *b, int n, int timeout_ms) {
    if (!b) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_wait_verifiers: NULL broker");
    const double end = aha_now_ms() + timeout_ms;
    while (aha_broker_live(b) < n) {
        double left = end - aha_now_ms();
        if (left <= 0)
            return AHA_FAIL(AHA_ERR_TIMEOUT, "broker: %d of %d verifiers joined in %d ms",
                            aha_broker_live(b), n, timeout_ms);
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        int rc = aha_wire_recv(b->w, (int)left + 1, &from, &e);
        if (rc == AHA_ERR_TIMEOUT) continue;
        AHA_TRY(rc);
        note(b, &from, e);
        aha_wire_free(&e);
    }
    return AHA_OK;
}

int aha_broker_poll(aha_broker_t *b) {
    if (!b) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_poll: NULL broker");
    for (;;) {
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        int rc = aha_wire_recv(b->w, 0, &from, &e);
        if (rc == AHA_ERR_TIMEOUT) return AHA_OK;
        AHA_TRY(rc);
        note(b, &from, e);
        aha_wire_free(&e);
    }
}

static verifier_t *next_verifier(aha_broker_t *b, const int *tried) {
    verifier_t *best = NULL;
    for (int i = 0; i < b->n; i++)
        if (b->v[i].live && !b->v[i].retired && !tried[i] &&
            (!b->preferred[0] || !strcmp(b->v[i].who, b->preferred)) &&
            (!best || b->v[i].last_used < best->last_used))
            best = &b->v[i];
    return best;
}

int aha_broker_score(aha_broker_t *b, Aha__Group *g, int deadline_ms, Aha__Envelope **out) {
    if (!b || !g || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_score: NULL argument");
    int tried[MAX_VERIFIERS] = {0};
    int attempts = 0;
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.body_case = AHA__ENVELOPE__BODY_GROUP;
    env.group = g;
    for (verifier_t *v; (v = next_verifier(b, tried)) != NULL;) {
        tried[v - b->v] = 1;
        if (attempts++ > 0) b->stats.redispatched++;
        v->last_used = ++b->dispatches;
        int rc = aha_wire_send(b->w, &v->peer, &env);
        if (rc == AHA_ERR_NET) { /* connection gone */
            AHA_WARN("broker: verifier %s unreachable (%s); trying another", v->who,
                     aha_last_error());
            v->live = 0;
            b->stats.lost++;
            continue;
        }
        AHA_TRY(rc);
        const double end = aha_now_ms() + deadline_ms;
        for (;;) {
            double left = end - aha_now_ms();
            if (left <= 0) break;
            aha_peer_t from;
            Aha__Envelope *e = NULL;
            rc = aha_wire_recv(b->w, (int)left + 1, &from, &e);
            if (rc == AHA_ERR_TIMEOUT) break;
            AHA_TRY(rc);
            if (e->body_case == AHA__ENVELOPE__BODY_SCORED_GROUP && find(b, &from) == v &&
                e->scored_group->group && e->scored_group->group->lease_id == g->lease_id &&
                e->scored_group->group->prompt_id == g->prompt_id &&
                e->scored_group->n_total == g->n_sample_index) {
                b->stats.scored++;
                v->scored++;
                *out = e;
                return AHA_OK;
            }
            note(b, &from, e);
            aha_wire_free(&e);
        }
        AHA_WARN("broker: verifier %s did not score prompt %llu within %d ms; marked lost", v->who,
                 (unsigned long long)g->prompt_id, deadline_ms);
        v->live = 0;
        b->stats.lost++;
    }
    return AHA_FAIL(AHA_ERR_NOTFOUND, "broker: no live verifier scored prompt %llu",
                    (unsigned long long)g->prompt_id);
}

void aha_broker_stop_verifiers(aha_broker_t *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++)
        if (b->v[i].live && !b->v[i].retired &&
            aha_wire_send_control(b->w, &b->v[i].peer, "stop", 1, "") != AHA_OK)
            AHA_WARN("broker: could not tell %s to stop: %s", b->v[i].who, aha_last_error());
}
