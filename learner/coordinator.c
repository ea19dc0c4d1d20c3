#include "learner/coordinator.h"
#include "core/clock.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"
#include "model/weights.h"
#include "verifier/msg_check.h"
#include "model/tokenizer.h"
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { MAX_ACTORS = 64, MAX_WAITING = 256, MAX_ISSUED = 4096 /* leases remembered */ };

/* A wanted group: prompt PID sampled with weights VERSION. */
typedef struct {
    uint64_t pid, version;
    int state; /* 0 pending, 1 leased, 2 delivered */
    uint64_t lease_id;
    double due_ms;
    aha_peer_t holder; /* who has it */
    Aha__Envelope *group;
} item_t;

/* A servable weights version. */
typedef struct {
    aha_blob_t blob; /* its chunks framed (aha_blob_set_framed) */
    int used;
} kept_t;

struct aha_coord {
    aha_wire_t *w;
    int group_size;
    aha_peer_t actors[MAX_ACTORS];
    int n_actors;
    aha_peer_t waiting[MAX_WAITING]; /* actors with an unanswered LeaseRequest */
    double waiting_since[MAX_WAITING];
    int n_waiting;
    kept_t kept[AHA_COORD_MAX_KEEP]; /* the last `keep` published versions */
    int keep;
    uint64_t newest; /* newest published version */
    int published;
    uint64_t issued[MAX_ISSUED][2]; /* recent leases: {id, hash of the holder's identity} */
    uint64_t n_issued;              /* leases issued (ring position: n_issued % MAX_ISSUED) */
    item_t *items;                  /* wanted groups, in the order they were asked for */
    int n_items, cap_items;
    double last_heard;  /* last message from any actor (ms) */
    double t0, idle_ms; /* actor idle time: LeaseRequests waiting for a lease */
    aha_coord_stats_t stats;
    aha_msg_limits_t limits; /* content checks of what the actors send */
    pthread_t pump;          /* aha_coord_pump_start */
    volatile int pump_stop, pumping;
    int pump_rc, pump_lease_ms;
    char pump_err[512]; /* the pump thread's error message (errors are thread-local) */
    int stop_asked;     /* an authorised `aha ctl stop` arrived (set by the pump thread: atomic) */
};

static const kept_t *blob_for(const aha_coord_t *c, uint64_t version) {
    const kept_t *newest = NULL;
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++) {
        if (!c->kept[i].used) continue;
        if (c->kept[i].blob.version == version) return &c->kept[i];
        if (!newest || c->kept[i].blob.version > newest->blob.version) newest = &c->kept[i];
    }
    return newest;
}

static int same_peer(const aha_peer_t *a, const aha_peer_t *b) {
    return a->id_len == b->id_len && !memcmp(a->id, b->id, a->id_len);
}

static uint64_t peer_hash(const aha_peer_t *p) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < p->id_len; i++)
        h = (h ^ p->id[i]) * 1099511628211ull;
    return h;
}

/* Whether lease ID was recently issued to FROM (its group is late or a duplicate, not forged). */
static int was_issued(const aha_coord_t *c, uint64_t id, const aha_peer_t *from) {
    const int n = c->n_issued < MAX_ISSUED ? (int)c->n_issued : MAX_ISSUED;
    const uint64_t h = peer_hash(from);
    for (int i = 0; i < n; i++)
        if (c->issued[i][0] == id && c->issued[i][1] == h) return 1;
    return 0;
}

/* An unguessable lease id (never 0). */
static uint64_t new_lease_id(void) {
    uint64_t id = 0;
    while (id == 0)
        randombytes_buf(&id, sizeof id);
    return id;
}

static int is_actor(const aha_coord_t *c, const aha_peer_t *p) {
    for (int i = 0; i < c->n_actors; i++)
        if (same_peer(&c->actors[i], p)) return 1;
    return 0;
}

/* Drops the queued lease requests of peer P. */
static void drop_waiting(aha_coord_t *c, const aha_peer_t *p) {
    for (int k = 0; k < c->n_waiting; k++)
        if (same_peer(&c->waiting[k], p)) {
            memmove(c->waiting + k, c->waiting + k + 1,
                    sizeof(aha_peer_t) * (size_t)(c->n_waiting - k - 1));
            memmove(c->waiting_since + k, c->waiting_since + k + 1,
                    sizeof(double) * (size_t)(c->n_waiting - k - 1));
            c->n_waiting--;
            k--;
        }
}

/* An actor that leaves (SIGTERM, scancel) says so with a LeaseRequest for 0 groups: the leases it
 * holds go back to pending at once (re-issued to another actor, or sampled by the learner),
 * its queued request is dropped and it no longer counts as joined. */
static void leave(aha_coord_t *c, const aha_peer_t *from, const char *sender) {
    int returned = 0;
    for (int i = 0; i < c->n_items; i++) {
        item_t *it = &c->items[i];
        if (it->state != 1 || !same_peer(&it->holder, from)) continue;
        it->state = 0;
        c->stats.reissued++;
        returned++;
    }
    drop_waiting(c, from);
    for (int k = 0; k < c->n_actors; k++)
        if (same_peer(&c->actors[k], from)) {
            c->actors[k] = c->actors[--c->n_actors];
            k--;
        }
    AHA_INFO("coordinator: actor %s left; %d lease(s) handed back", sender, returned);
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
        if (e->lease_request->max_groups == 0) {
            leave(c, from, e->sender);
            break;
        }
        /* "up to max_groups more groups": replaces this actor's unanswered request (an actor
         * that holds several groups asks for the free places it has each time it delivers, so a
         * request dropped with an expired lease does not shrink it for good) */
        drop_waiting(c, from);
        for (uint32_t k = 0; k < e->lease_request->max_groups && k < AHA_COORD_MAX_GROUPS &&
                             c->n_waiting < MAX_WAITING;
             k++) {
            c->waiting_since[c->n_waiting] = aha_now_ms();
            c->waiting[c->n_waiting++] = *from;
        }
        break;
    case AHA__ENVELOPE__BODY_CHUNK_REQUEST: {
        /* any version still kept: actors sample with the version their lease names */
        const kept_t *k = blob_for(c, e->chunk_request->version);
        if (k && aha_blob_serve(&k->blob, c->w, from, e->chunk_request) != AHA_OK)
            AHA_WARN("coordinator: weights request from %s: %s", e->sender, aha_last_error());
        break;
    }
    case AHA__ENVELOPE__BODY_CONTROL: { /* aha ctl */
        char text[4096];
        int ok = !strcmp(e->control->command, "status");
        if (!aha_wire_control_allowed(from, e, "coordinator", &c->stats.ctl_refused, text,
                                      sizeof text)) {
            ok = 0;
        } else if (!strcmp(e->control->command, "stop")) {
            ok = 1;
            __atomic_store_n(&c->stop_asked, 1, __ATOMIC_RELEASE);
            AHA_WARN("coordinator: aha ctl stop from %s: the learner stops after this step with a "
                     "checkpoint",
                     e->sender);
            snprintf(text, sizeof text,
                     "the learner stops after its current step with a checkpoint (continue with "
                     "--resume)\n");
        } else if (ok)
            snprintf(text, sizeof text,
                     "actors (%d joined): %llu groups delivered, %llu leases re-issued, %llu "
                     "sampled by the learner; weights version %llu\n",
                     c->n_actors, (unsigned long long)c->stats.delivered,
                     (unsigned long long)c->stats.reissued, (unsigned long long)c->stats.missing,
                     (unsigned long long)c->newest);
        else
            snprintf(text, sizeof text, "unknown command '%.60s' (status, stop)",
                     e->control->command);
        if (aha_wire_send_control(c->w, from, e->control->command, ok, text) != AHA_OK)
            AHA_WARN("coordinator: could not answer aha ctl: %s", aha_last_error());
        break;
    }
    default:
        break;
    }
}

int aha_coord_set_keep(aha_coord_t *c, int n) {
    if (!c || n < 1 || n > AHA_COORD_MAX_KEEP)
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_set_keep: %d versions (1..%d)", n,
                        AHA_COORD_MAX_KEEP);
    c->keep = n;
    return AHA_OK;
}

static void weights_fill(void *m, size_t off, uint8_t *dst, size_t n) {
    aha_weights_read(m, off, dst, n);
}

int aha_coord_publish(aha_coord_t *c, const aha_model_t *m, uint64_t version) {
    if (!c || !m) return AHA_FAIL(AHA_ERR_ARG, "aha_coord_publish: NULL argument");
    /* the slot of this version if kept, else a free one, else the oldest */
    kept_t *slot = NULL;
    int used = 0;
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
        used += c->kept[i].used;
    for (int i = 0; i < AHA_COORD_MAX_KEEP && !slot; i++)
        if (c->kept[i].used && c->kept[i].blob.version == version) slot = &c->kept[i];
    for (int i = 0; i < AHA_COORD_MAX_KEEP && !slot && used < c->keep; i++)
        if (!c->kept[i].used) slot = &c->kept[i];
    for (int i = 0; i < AHA_COORD_MAX_KEEP && !slot; i++)
        if (c->kept[i].used) {
            kept_t *o = NULL;
            for (int j = 0; j < AHA_COORD_MAX_KEEP; j++)
                if (c->kept[j].used && (!o || c->kept[j].blob.version < o->blob.version))
                    o = &c->kept[j];
            slot = o;
        }
    /* chunks framed once per version, served without a copy (core/blob.h); frames of the
     * version this slot held are freed once ZeroMQ has sent what it still queues */
    slot->used = 0;
    aha_blob_release(&slot->blob);
    AHA_TRY(aha_blob_set_framed(&slot->blob, version, aha_weights_bytes(m), 1u << 20,
                                "learner/coordinator", weights_fill, (void *)m));
    slot->used = 1;
    /* more kept than wanted (keep lowered): drop the oldest */
    used = 0;
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
        used += c->kept[i].used;
    for (int extra = used - c->keep; extra > 0; extra--) {
        kept_t *o = NULL;
        for (int j = 0; j < AHA_COORD_MAX_KEEP; j++)
            if (c->kept[j].used && &c->kept[j] != slot &&
                (!o || c->kept[j].blob.version < o->blob.version))
                o = &c->kept[j];
        if (o) o->used = 0;
    }
    if (!c->published || version > c->newest) c->newest = version;
    c->published = 1;
    return AHA_OK;
}

static int grant(aha_coord_t *c, const aha_peer_t *to, const item_t *it) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__Lease l = AHA__LEASE__INIT;
    l.lease_id = it->lease_id;
    l.prompt_id = it->pid;
    l.group_size = (uint32_t)c->group_size;
    l.min_policy_version = it->version; /* exactly this version */
    env.body_case = AHA__ENVELOPE__BODY_LEASE;
    env.lease = &l;
    return aha_wire_send(c->w, to, &env);
}

static int find_item(const aha_coord_t *c, uint64_t pid) {
    for (int i = 0; i < c->n_items; i++)
        if (c->items[i].pid == pid) return i;
    return -1;
}

/* Wants prompt PID sampled with VERSION; returns its item index or -1 (no memory). An item of
 * the same prompt with another version is reset (a delivered group is dropped as stale). */
static int want(aha_coord_t *c, uint64_t pid, uint64_t version) {
    int i = find_item(c, pid);
    if (i >= 0) {
        item_t *it = &c->items[i];
        if (it->version != version) {
            if (it->state == 2) c->stats.stale++;
            aha_wire_free(&it->group);
            it->state = 0;
            it->version = version;
        }
        return i;
    }
    if (c->n_items == c->cap_items) {
        int cap = c->cap_items ? 2 * c->cap_items : 64;
        item_t *p = realloc(c->items, sizeof *p * (size_t)cap);
        if (!p) return -1;
        c->items = p;
        c->cap_items = cap;
    }
    item_t *it = &c->items[c->n_items];
    memset(it, 0, sizeof *it);
    it->pid = pid;
    it->version = version;
    return c->n_items++;
}

static void remove_item(aha_coord_t *c, int i) {
    aha_wire_free(&c->items[i].group);
    memmove(c->items + i, c->items + i + 1, sizeof(item_t) * (size_t)(c->n_items - i - 1));
    c->n_items--;
}

int aha_coord_want(aha_coord_t *c, const uint64_t *pids, const uint64_t *versions, int n) {
    if (!c || n < 0 || (n > 0 && (!pids || !versions)))
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_want: bad argument");
    for (int i = 0; i < n; i++)
        if (want(c, pids[i], versions[i]) < 0)
            return AHA_FAIL(AHA_ERR_NOMEM, "coordinator: %d wanted groups", c->n_items);
    return AHA_OK;
}

/* One round: expired leases back to pending, pending items to waiting actors (in order), then at
 * most WAIT_MS for one message. *IDLE (if not NULL) is set when no item is leased, no actor asks
 * and none spoke for a lease period. */
static int service(aha_coord_t *c, int lease_ms, int wait_ms, int *idle) {
    double now = aha_now_ms();
    for (int i = 0; i < c->n_items; i++) {
        item_t *it = &c->items[i];
        if (it->state != 1 || it->due_ms >= now) continue;
        it->state = 0;
        c->stats.reissued++;
        /* its holder is dead or stuck: forget its queued request (a live one asks again after it
         * delivers) */
        drop_waiting(c, &it->holder);
        AHA_WARN("coordinator: lease %llu (prompt %llu) expired; re-issuing",
                 (unsigned long long)it->lease_id, (unsigned long long)it->pid);
    }
    for (int i = 0; i < c->n_items && c->n_waiting > 0; i++) {
        item_t *it = &c->items[i];
        if (it->state != 0) continue;
        aha_peer_t to = c->waiting[0];
        c->idle_ms += aha_now_ms() - c->waiting_since[0];
        memmove(c->waiting, c->waiting + 1, sizeof(aha_peer_t) * (size_t)(c->n_waiting - 1));
        memmove(c->waiting_since, c->waiting_since + 1,
                sizeof(double) * (size_t)(c->n_waiting - 1));
        c->n_waiting--;
        it->lease_id = new_lease_id();
        if (grant(c, &to, it) != AHA_OK) {
            AHA_WARN("coordinator: could not send a lease: %s", aha_last_error());
            continue;
        }
        it->due_ms = aha_now_ms() + lease_ms;
        it->holder = to;
        c->issued[c->n_issued % MAX_ISSUED][0] = it->lease_id;
        c->issued[c->n_issued % MAX_ISSUED][1] = peer_hash(&to);
        c->n_issued++;
        it->state = 1;
        c->stats.leases++;
    }
    int leased = 0;
    for (int i = 0; i < c->n_items; i++)
        leased += c->items[i].state == 1;
    c->stats.in_flight = (uint64_t)leased;
    const int is_idle = !leased && c->n_waiting == 0 && aha_now_ms() - c->last_heard > lease_ms;
    if (idle) *idle = is_idle;
    aha_peer_t from;
    Aha__Envelope *e = NULL;
    int rc = aha_wire_recv(c->w, wait_ms, &from, &e);
    if (rc == AHA_ERR_TIMEOUT) return rc;
    AHA_TRY(rc);
    c->last_heard = aha_now_ms();
    if (e->body_case == AHA__ENVELOPE__BODY_GROUP) {
        const Aha__Group *g = e->group;
        /* accepted only from the peer the lease was issued to, for the leased prompt and
         * version; everything else is counted, logged and dropped (never fatal) */
        int hit = -1, done = 0;
        for (int i = 0; i < c->n_items && hit < 0; i++)
            if (c->items[i].lease_id == g->lease_id && c->items[i].pid == g->prompt_id) {
                if (c->items[i].state == 1)
                    hit = i;
                else
                    done = 1;
            }
        if (hit >= 0 && !same_peer(&from, &c->items[hit].holder)) {
            aha_wire_drop("coordinator", "a group", &c->stats.forged, &from, e->sender,
                          "lease %llu of prompt %llu is held by another peer",
                          (unsigned long long)g->lease_id, (unsigned long long)g->prompt_id);
        } else if (hit >= 0 && g->policy_version != c->items[hit].version) {
            c->items[hit].state = 0; /* lease it again */
            aha_wire_drop("coordinator", "a group", &c->stats.stale, &from, e->sender,
                          "prompt %llu sampled with version %llu, leased for %llu (stale)",
                          (unsigned long long)g->prompt_id, (unsigned long long)g->policy_version,
                          (unsigned long long)c->items[hit].version);
        } else if (hit >= 0 && g->n_sample_index != (size_t)c->group_size) {
            c->items[hit].state = 0;
            aha_wire_drop("coordinator", "a group", &c->stats.unfit, &from, e->sender,
                          "%zu samples for groups of %d", g->n_sample_index, c->group_size);
        } else if (hit >= 0) {
            c->items[hit].group = e;
            c->items[hit].state = 2;
            c->stats.delivered++;
            e = NULL; /* the envelope now belongs to the item */
        } else if (done || was_issued(c, g->lease_id, &from)) {
            c->stats.late++;
            AHA_DEBUG("coordinator: dropped group for prompt %llu (lease %llu): late or "
                      "duplicate",
                      (unsigned long long)g->prompt_id, (unsigned long long)g->lease_id);
        } else {
            aha_wire_drop("coordinator", "a group", &c->stats.forged, &from, e->sender,
                          "no lease %llu for prompt %llu", (unsigned long long)g->lease_id,
                          (unsigned long long)g->prompt_id);
        }
    } else {
        handle(c, &from, e);
    }
    aha_wire_free(&e);
    return AHA_OK;
}

int aha_coord_collect_at(aha_coord_t *c, const uint64_t *pids, const uint64_t *versions, int n,
                         int lease_ms, int collect_ms, Aha__Envelope **out) {
    if (!c || !pids || !versions || !out || n < 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_collect: bad argument");
    if (c->pumping) return AHA_FAIL(AHA_ERR_STATE, "coordinator: pump thread running");
    if (!c->published) return AHA_FAIL(AHA_ERR_STATE, "coordinator: no weights published");
    for (int i = 0; i < n; i++)
        if (want(c, pids[i], versions[i]) < 0)
            return AHA_FAIL(AHA_ERR_NOMEM, "collect of %d groups", n);
    int rc = AHA_OK;
    const double give_up = aha_now_ms() + collect_ms;
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++) {
            int k = find_item(c, pids[i]);
            done += k >= 0 && c->items[k].state == 2;
        }
        if (done == n || aha_now_ms() >= give_up) break;
        int idle = 0;
        /* when idle, only look at what has already arrived (e.g. an actor joining) */
        rc = service(c, lease_ms, 0, &idle);
        if (rc == AHA_ERR_TIMEOUT) {
            rc = AHA_OK;
            if (idle) break;
            rc = service(c, lease_ms, 50, NULL);
            if (rc == AHA_ERR_TIMEOUT) rc = AHA_OK;
        }
        if (rc != AHA_OK) break;
    }
    int done = 0;
    for (int i = 0; i < n; i++) {
        int k = find_item(c, pids[i]);
        out[i] = NULL;
        if (k < 0) continue;
        if (c->items[k].state == 2) {
            out[i] = c->items[k].group;
            c->items[k].group = NULL;
            done++;
        }
        remove_item(c, k);
    }
    const uint64_t missing_before = c->stats.missing; /* warn the first time, then every 100 */
    c->stats.missing += (uint64_t)(n - done);
    if (done < n && rc == AHA_OK &&
        (missing_before == 0 || missing_before / 100 != c->stats.missing / 100))
        AHA_WARN("coordinator: %d of %d groups not delivered; the learner samples them", n - done,
                 n);
    if (rc != AHA_OK)
        for (int i = 0; i < n; i++)
            aha_wire_free(&out[i]);
    return rc;
}

int aha_coord_collect(aha_coord_t *c, const uint64_t *pids, int n, int lease_ms, int collect_ms,
                      Aha__Envelope **out) {
    if (!c || !pids || !out || n < 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_coord_collect: bad argument");
    if (!c->published) return AHA_FAIL(AHA_ERR_STATE, "coordinator: no weights published");
    uint64_t *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
    if (!v) return AHA_FAIL(AHA_ERR_NOMEM, "collect of %d groups", n);
    for (int i = 0; i < n; i++)
        v[i] = c->newest;
    int rc = aha_coord_collect_at(c, pids, v, n, lease_ms, collect_ms, out);
    free(v);
    return rc;
}

static void *pump_main(void *arg) {
    aha_coord_t *c = arg;
    while (!c->pump_stop) {
        int r = service(c, c->pump_lease_ms, 20, NULL);
        if (r != AHA_OK && r != AHA_ERR_TIMEOUT) {
            snprintf(c->pump_err, sizeof c->pump_err, "%s", aha_last_error());
            c->pump_rc = r;
            break;
        }
    }
    return NULL;
}

int aha_coord_pump_start(aha_coord_t *c, int lease_ms) {
    if (!c || lease_ms < 1) return AHA_FAIL(AHA_ERR_ARG, "aha_coord_pump_start: bad argument");
    if (c->pumping) return AHA_FAIL(AHA_ERR_STATE, "coordinator: pump thread already running");
    c->pump_stop = 0;
    c->pump_rc = AHA_OK;
    c->pump_lease_ms = lease_ms;
    if (pthread_create(&c->pump, NULL, pump_main, c) != 0)
        return AHA_FAIL(AHA_ERR_STATE, "coordinator: cannot start the pump thread");
    c->pumping = 1;
    return AHA_OK;
}

int aha_coord_pump_stop(aha_coord_t *c) {
    if (!c || !c->pumping) return AHA_OK;
    c->pump_stop = 1;
    pthread_join(c->pump, NULL);
    c->pumping = 0;
    if (c->pump_rc != AHA_OK)
        return AHA_FAIL(c->pump_rc, "coordinator pump thread: %s", c->pump_err);
    return AHA_OK;
}

aha_wire_t *aha_coord_wire(aha_coord_t *c) {
    return c ? c->w : NULL;
}

void aha_coord_stats(const aha_coord_t *c, aha_coord_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!c) return;
    *out = c->stats;
    out->actors = c->n_actors;
    int wanted = 0, held = 0;
    for (int i = 0; i < c->n_items; i++) {
        wanted += c->items[i].state != 2;
        held += c->items[i].state == 2;
    }
    out->wanted = (uint64_t)wanted;
    out->held = (uint64_t)held;
    const double span = (aha_now_ms() - c->t0) * c->n_actors;
    out->actor_idle_frac = span > 0 ? c->idle_ms / span : 0;
}

void aha_coord_stop_actors(aha_coord_t *c) {
    for (int i = 0; c && i < c->n_actors; i++) /* best effort: some may be gone */
        aha_wire_send_control(c->w, &c->actors[i], "stop", 1, "");
}

int aha_coord_stop_asked(const aha_coord_t *c) {
    return c ? __atomic_load_n(&c->stop_asked, __ATOMIC_ACQUIRE) : 0;
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
    aha_coord_pump_stop(c);
    aha_wire_destroy(&c->w);
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
        aha_blob_release(&c->kept[i].blob);
    for (int i = 0; i < c->n_items; i++)
        aha_wire_free(&c->items[i].group);
    free(c->items);
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
    c->t0 = c->last_heard;
    c->keep = 1;
    if (sodium_init() < 0) {
        free(c);
        return AHA_FAIL(AHA_ERR_STATE, "libsodium failed to initialise");
    }
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
