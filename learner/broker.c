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
    int misses;     /* times marked lost */
    double back_at; /* a lost verifier is taken back no sooner than this (ms; back-off) */
} verifier_t;

enum { BACKOFF_BASE_MS = 1000, BACKOFF_MAX_MS = 300000 };

/* Whether lost verifier V may be taken back now (exponential back-off after each loss). */
static int may_return(const verifier_t *v) {
    return aha_now_ms() >= v->back_at;
}

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

aha_wire_t *aha_broker_wire(aha_broker_t *b) {
    return b ? b->w : NULL;
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
static void control(aha_broker_t *b, const aha_peer_t *from, const Aha__Envelope *e) {
    const Aha__Control *c = e->control;
    char text[4096];
    size_t o = 0;
    if (!aha_wire_control_allowed(from, e, "broker", &b->stats.ctl_refused, text, sizeof text)) {
        send_control(b, from, c->command, 0, text);
        return;
    }
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
        control(b, from, e);
        return;
    }
    verifier_t *v = find(b, from);
    if (e->body_case == AHA__ENVELOPE__BODY_HELLO && !strcmp(e->hello->role, "verifier")) {
        if (!v && b->n < MAX_VERIFIERS) v = &b->v[b->n++];
        if (!v) {
            AHA_WARN("broker: more than %d verifiers; ignoring %s", MAX_VERIFIERS, e->sender);
            return;
        }
        if (v->misses > 0 && !v->live && !may_return(v)) return; /* still backing off */
        v->peer = *from;
        snprintf(v->who, sizeof v->who, "%.40s@%.40s", e->hello->name, e->hello->version);
        if (!v->live) AHA_INFO("broker: verifier %s joined (%s)", v->who, e->sender);
        v->live = 1;
        return;
    }
    if (!v || v->retired) return;
    if (!v->live && may_return(v)) {
        AHA_INFO("broker: verifier %s is back (lost %d times)", v->who, v->misses);
        v->live = 1;
        b->stats.readmitted++;
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

enum { CREDITS = 1 /* groups in flight per verifier: a worker scores one at a time */ };

/* Where each group of one aha_broker_score_all call is. */
typedef struct {
    int at;          /* verifier index while in flight, else -1 */
    int sends;       /* times sent: more than one is a re-dispatch */
    double deadline; /* of the send in flight */
    Aha__Envelope *result;
} slot_t;

static int usable(const aha_broker_t *b, int i) {
    const verifier_t *v = &b->v[i];
    return v->live && !v->retired && (!b->preferred[0] || !strcmp(v->who, b->preferred));
}

/* Groups in flight at verifier I. */
static int load_of(const slot_t *sl, int n, int i) {
    int k = 0;
    for (int j = 0; j < n; j++)
        k += sl[j].at == i;
    return k;
}

/* The usable verifier with a free credit and the fewest groups in flight (ties: the one that
 * has waited longest), or -1. */
static int pick(const aha_broker_t *b, const slot_t *sl, int n) {
    int best = -1, best_load = 0;
    for (int i = 0; i < b->n; i++) {
        if (!usable(b, i)) continue;
        int load = load_of(sl, n, i);
        if (load >= CREDITS) continue;
        if (best < 0 || load < best_load ||
            (load == best_load && b->v[i].last_used < b->v[best].last_used))
            best = i, best_load = load;
    }
    return best;
}

/* Verifier I is gone or hung: its groups go back to the queue. */
static void lose(aha_broker_t *b, slot_t *sl, int n, int i) {
    verifier_t *v = &b->v[i];
    if (v->live) {
        b->stats.lost++;
        v->misses++;
        double wait = BACKOFF_BASE_MS;
        for (int k = 1; k < v->misses && wait < BACKOFF_MAX_MS; k++)
            wait *= 2;
        if (wait > BACKOFF_MAX_MS) wait = BACKOFF_MAX_MS;
        v->back_at = aha_now_ms() + wait;
        AHA_INFO("broker: verifier %s lost (%d times); taken back no sooner than in %.0f s", v->who,
                 v->misses, wait / 1e3);
    }
    v->live = 0;
    for (int j = 0; j < n; j++)
        if (sl[j].at == i) sl[j].at = -1;
}

/* Same group: lease, prompt and the sample indices (the reply carries the group back). */
static int same_group(const Aha__Group *a, const Aha__Group *g) {
    if (a->lease_id != g->lease_id || a->prompt_id != g->prompt_id ||
        a->n_sample_index != g->n_sample_index)
        return 0;
    for (size_t s = 0; s < g->n_sample_index; s++)
        if (a->sample_index[s] != g->sample_index[s]) return 0;
    return 1;
}

int aha_broker_score_all(aha_broker_t *b, Aha__Group *const *gs, int n, int deadline_ms,
                         Aha__Envelope **out) {
    if (!b || (!gs && n > 0) || (!out && n > 0) || n < 0 || deadline_ms < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_broker_score_all: bad argument");
    if (n == 0) return AHA_OK;
    slot_t *sl = calloc((size_t)n, sizeof *sl);
    if (!sl) return AHA_FAIL(AHA_ERR_NOMEM, "broker: %d groups", n);
    for (int j = 0; j < n; j++)
        sl[j].at = -1;
    int rc = AHA_OK, done = 0;
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    env.body_case = AHA__ENVELOPE__BODY_GROUP;
    while (done < n) {
        /* dispatch: every queued group to a verifier with a free credit, least loaded first */
        for (int j = 0; j < n; j++) {
            if (sl[j].result || sl[j].at >= 0) continue;
            int i = pick(b, sl, n);
            if (i < 0) break;
            verifier_t *v = &b->v[i];
            if (sl[j].sends++ > 0) b->stats.redispatched++;
            v->last_used = ++b->dispatches;
            env.group = gs[j];
            int r = aha_wire_send(b->w, &v->peer, &env);
            if (r == AHA_ERR_NET) { /* connection gone */
                AHA_WARN("broker: verifier %s unreachable (%s); trying another", v->who,
                         aha_last_error());
                lose(b, sl, n, i);
                j--; /* this group again */
                continue;
            }
            AHA_TRY_GOTO(rc, r, out_);
            sl[j].at = i;
            sl[j].deadline = aha_now_ms() + deadline_ms;
        }
        int in_flight = 0;
        double first = 0;
        for (int j = 0; j < n; j++)
            if (sl[j].at >= 0) {
                if (!in_flight || sl[j].deadline < first) first = sl[j].deadline;
                in_flight++;
            }
        if (!in_flight) break; /* queued groups but no verifier left: the caller decides */
        double left = first - aha_now_ms();
        aha_peer_t from;
        Aha__Envelope *e = NULL;
        int r = left > 0 ? aha_wire_recv(b->w, (int)left + 1, &from, &e) : AHA_ERR_TIMEOUT;
        if (r == AHA_ERR_TIMEOUT) {
            const double now = aha_now_ms();
            for (int j = 0; j < n; j++) {
                if (sl[j].at < 0 || sl[j].deadline > now) continue;
                verifier_t *v = &b->v[sl[j].at];
                AHA_WARN("broker: verifier %s did not score prompt %llu within %d ms; marked lost",
                         v->who, (unsigned long long)gs[j]->prompt_id, deadline_ms);
                lose(b, sl, n, sl[j].at);
            }
            continue;
        }
        AHA_TRY_GOTO(rc, r, out_);
        int taken = 0;
        if (e->body_case == AHA__ENVELOPE__BODY_SCORED_GROUP && e->scored_group->group) {
            verifier_t *v = find(b, &from);
            const Aha__ScoredGroup *sg = e->scored_group;
            for (int j = 0; v && j < n && !taken; j++)
                if (sl[j].at == v - b->v && same_group(sg->group, gs[j]) &&
                    sg->n_total == gs[j]->n_sample_index) {
                    sl[j].result = e;
                    sl[j].at = -1;
                    b->stats.scored++;
                    v->scored++;
                    done++;
                    taken = 1;
                }
        }
        if (!taken) {
            note(b, &from, e); /* late or duplicate replies are counted there */
            aha_wire_free(&e);
        }
    }
out_:
    if (rc != AHA_OK) {
        for (int j = 0; j < n; j++)
            aha_wire_free(&sl[j].result);
    } else {
        for (int j = 0; j < n; j++)
            out[j] = sl[j].result;
    }
    free(sl);
    return rc;
}

int aha_broker_score(aha_broker_t *b, Aha__Group *g, int deadline_ms, Aha__Envelope **out) {
    if (!b || !g || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_broker_score: NULL argument");
    Aha__Envelope *e = NULL;
    AHA_TRY(aha_broker_score_all(b, &g, 1, deadline_ms, &e));
    if (!e)
        return AHA_FAIL(AHA_ERR_NOTFOUND, "broker: no live verifier scored prompt %llu",
                        (unsigned long long)g->prompt_id);
    *out = e;
    return AHA_OK;
}

void aha_broker_stop_verifiers(aha_broker_t *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++)
        if (b->v[i].live && !b->v[i].retired &&
            aha_wire_send_control(b->w, &b->v[i].peer, "stop", 1, "") != AHA_OK)
            AHA_WARN("broker: could not tell %s to stop: %s", b->v[i].who, aha_last_error());
}
