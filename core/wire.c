#include "core/wire.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define WIRE_SLACK (64 * 1024) /* ZMQ_MAXMSGSIZE = max_bytes + this */
#define WIRE_SEND_TIMEOUT_MS 10000

struct aha_wire {
    void *sock;
    int type;
    char name[64];
    char where[80]; /* "wire NAME", for logs */
    size_t max_bytes;
    uint64_t seq;
    aha_wire_check_fn check;
    const void *check_ctx;
    aha_wire_stats_t stats;
    /* liveness of a connecting socket (aha_wire_watch) */
    void *mon;          /* PAIR reading the socket monitor, or NULL */
    int up;             /* a ZMTP handshake succeeded and no disconnect since */
    int ever_up;        /* the peer was up once */
    double down_since;  /* aha_now_ms() when the peer was last seen going away (or watch began) */
    char endpoint[256]; /* last connected endpoint, for messages */
    char bound[256];    /* the first endpoint bound with aha_wire_bind, with its port */
};

static const char *type_name(int type) {
    switch (type) {
    case ZMQ_ROUTER:
        return "ROUTER";
    case ZMQ_DEALER:
        return "DEALER";
    case ZMQ_PUB:
        return "PUB";
    case ZMQ_SUB:
        return "SUB";
    case ZMQ_PUSH:
        return "PUSH";
    case ZMQ_PULL:
        return "PULL";
    case ZMQ_PAIR:
        return "PAIR";
    default:
        return "socket";
    }
}

int aha_wire_new(void *zctx, int type, const char *name, size_t max_bytes, aha_wire_t **out) {
    if (!zctx || !name || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_new: NULL argument");
    if (max_bytes < 1024 || max_bytes > ((size_t)1 << 40))
        return AHA_FAIL(AHA_ERR_ARG, "aha_wire_new: max_bytes %zu outside [1024, 2^40]", max_bytes);
    aha_wire_t *w = calloc(1, sizeof *w);
    if (!w) return AHA_FAIL(AHA_ERR_NOMEM, "aha_wire_new");
    w->sock = zmq_socket(zctx, type);
    if (!w->sock) {
        free(w);
        return AHA_FAIL(AHA_ERR_NET, "zmq_socket(%s): %s", type_name(type), zmq_strerror(errno));
    }
    w->type = type;
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->where, sizeof w->where, "wire %s", w->name);
    w->max_bytes = max_bytes;
    int64_t hard = (int64_t)(max_bytes + WIRE_SLACK);
    int zero = 0, one = 1, send_timeout = WIRE_SEND_TIMEOUT_MS;
    int rc = zmq_setsockopt(w->sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    if (rc == 0) rc = zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (rc == 0) rc = zmq_setsockopt(w->sock, ZMQ_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (rc == 0 && type == ZMQ_ROUTER)
        rc = zmq_setsockopt(w->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (rc == 0 && type == ZMQ_SUB) rc = zmq_setsockopt(w->sock, ZMQ_SUBSCRIBE, "", 0);
    if (rc != 0) {
        int e = errno;
        zmq_close(w->sock);
        free(w);
        return AHA_FAIL(AHA_ERR_NET, "wire %s: socket options: %s", name, zmq_strerror(e));
    }
    *out = w;
    return AHA_OK;
}

void aha_wire_destroy(aha_wire_t **wp) {
    if (!wp || !*wp) return;
    if ((*wp)->mon) {
        zmq_socket_monitor((*wp)->sock, NULL, 0);
        zmq_close((*wp)->mon);
    }
    zmq_close((*wp)->sock);
    free(*wp);
    *wp = NULL;
}

int aha_wire_bind(aha_wire_t *w, const char *endpoint) {
    if (!w || !endpoint) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_bind: NULL argument");
    if (zmq_bind(w->sock, endpoint) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: bind %s: %s", w->name, endpoint,
                        zmq_strerror(errno));
    size_t len = sizeof w->bound;
    if (!w->bound[0] && zmq_getsockopt(w->sock, ZMQ_LAST_ENDPOINT, w->bound, &len) != 0)
        w->bound[0] = 0;
    return AHA_OK;
}

int aha_wire_bind_local(aha_wire_t *w, const char *path) {
    if (!w || !path) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_bind_local: NULL argument");
    char ep[128];
    if (strlen(path) > 100) /* sun_path holds 108 bytes */
        return AHA_FAIL(AHA_ERR_RANGE, "wire %s: local socket path '%.200s' longer than 100 bytes",
                        w->name, path);
    snprintf(ep, sizeof ep, "ipc://%s", path);
    if (zmq_bind(w->sock, ep) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: bind %s: %s", w->name, ep, zmq_strerror(errno));
    return AHA_OK;
}

int aha_wire_peer_is_local_owner(const aha_peer_t *p) {
    /* libzmq gives an ipc peer's credentials as "localhost:UID:GID:PID" (SO_PEERCRED); a tcp
     * peer's address is numeric */
    unsigned long uid = 0;
    char rest = 0;
    if (!p || strncmp(p->addr, "localhost:", 10)) return 0;
    if (sscanf(p->addr + 10, "%lu%c", &uid, &rest) != 2 || rest != ':') return 0;
    return uid == (unsigned long)getuid();
}

int aha_wire_peer_may_control(const aha_peer_t *p) {
    return p && (aha_wire_peer_is_local_owner(p) || !strcmp(p->user, "operator"));
}

int aha_wire_connect(aha_wire_t *w, const char *endpoint) {
    if (!w || !endpoint) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_connect: NULL argument");
    if (zmq_connect(w->sock, endpoint) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: connect %s: %s", w->name, endpoint,
                        zmq_strerror(errno));
    snprintf(w->endpoint, sizeof w->endpoint, "%s", endpoint);
    return AHA_OK;
}

int aha_wire_watch(aha_wire_t *w, void *zctx, int heartbeat_ms, int heartbeat_timeout_ms) {
    if (!w || !zctx || heartbeat_ms <= 0 || heartbeat_timeout_ms <= 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_wire_watch: bad argument");
    if (w->mon) return AHA_FAIL(AHA_ERR_STATE, "wire %s: already watched", w->name);
    int ttl = heartbeat_timeout_ms > 6553500 ? 6553500 : heartbeat_timeout_ms;
    if (zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_IVL, &heartbeat_ms, sizeof heartbeat_ms) != 0 ||
        zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout_ms,
                       sizeof heartbeat_timeout_ms) != 0 ||
        zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: heartbeat options: %s", w->name,
                        zmq_strerror(errno));
    char addr[96];
    snprintf(addr, sizeof addr, "inproc://aha-wire-monitor-%p", (void *)w);
    const int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED;
    if (zmq_socket_monitor(w->sock, addr, events) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: monitor: %s", w->name, zmq_strerror(errno));
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0;
    if (!mon || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(mon, addr) != 0) {
        int e = errno;
        if (mon) zmq_close(mon);
        zmq_socket_monitor(w->sock, NULL, 0);
        return AHA_FAIL(AHA_ERR_NET, "wire %s: monitor socket: %s", w->name, zmq_strerror(e));
    }
    w->mon = mon;
    w->up = w->ever_up = 0;
    w->down_since = aha_now_ms();
    return AHA_OK;
}

/* Reads the monitor events that arrived, updating up / down_since. */
static void watch_events(aha_wire_t *w) {
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, w->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2) memcpy(&event, zmq_msg_data(&ev), 2);
        const int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) { /* the endpoint frame */
            zmq_msg_init(&ep);
            zmq_msg_recv(&ep, w->mon, 0);
            zmq_msg_close(&ep);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            if (!w->up && w->ever_up) AHA_INFO("wire %s: %s is back", w->name, w->endpoint);
            w->up = w->ever_up = 1;
        } else if (event == ZMQ_EVENT_DISCONNECTED && w->up) {
            AHA_WARN("wire %s: lost the connection to %s; reconnecting", w->name, w->endpoint);
            w->up = 0;
            w->down_since = aha_now_ms();
        }
    }
}

int aha_wire_peer_check(aha_wire_t *w, int limit_ms) {
    if (!w) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_peer_check: NULL argument");
    if (!w->mon || limit_ms <= 0) return AHA_OK;
    watch_events(w);
    if (w->up) return AHA_OK;
    const double down = aha_now_ms() - w->down_since;
    if (down < limit_ms) return AHA_OK;
    if (w->ever_up)
        return AHA_FAIL(AHA_ERR_TIMEOUT,
                        "wire %s: the learner at %s has been gone for %.0f s (connection lost or "
                        "no heartbeat answered; limit %.0f s): giving up",
                        w->name, w->endpoint, down / 1000, limit_ms / 1000.0);
    return AHA_FAIL(AHA_ERR_TIMEOUT,
                    "wire %s: could not reach a learner at %s in %.0f s (nothing listening, host "
                    "unresolvable or unreachable, or the handshake failed): giving up",
                    w->name, w->endpoint, down / 1000);
}

int aha_wire_endpoint(const aha_wire_t *w, char *buf, size_t cap) {
    if (!w || !buf || cap == 0) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_endpoint: bad argument");
    char tmp[256];
    size_t len = sizeof tmp;
    if (w->bound[0])
        snprintf(tmp, sizeof tmp, "%s", w->bound);
    else if (zmq_getsockopt(w->sock, ZMQ_LAST_ENDPOINT, tmp, &len) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: last endpoint: %s", w->name, zmq_strerror(errno));
    if (strlen(tmp) + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "wire endpoint '%s' too long", tmp);
    memcpy(buf, tmp, strlen(tmp) + 1);
    return AHA_OK;
}

int aha_wire_set_identity(aha_wire_t *w, const char *id) {
    if (!w || !id) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_set_identity: NULL argument");
    size_t n = strlen(id);
    if (n == 0 || n > AHA_WIRE_MAX_ID)
        return AHA_FAIL(AHA_ERR_ARG, "wire identity must have 1..%d bytes", AHA_WIRE_MAX_ID);
    if (zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, id, n) != 0)
        return AHA_FAIL(AHA_ERR_NET, "wire %s: identity: %s", w->name, zmq_strerror(errno));
    return AHA_OK;
}

void aha_wire_set_check(aha_wire_t *w, aha_wire_check_fn check, const void *ctx) {
    if (!w) return;
    w->check = check;
    w->check_ctx = ctx;
}

void *aha_wire_socket(aha_wire_t *w) {
    return w ? w->sock : NULL;
}
const aha_wire_stats_t *aha_wire_stats(const aha_wire_t *w) {
    return w ? &w->stats : NULL;
}

void aha_wire_free(Aha__Envelope **env) {
    if (!env || !*env) return;
    aha__envelope__free_unpacked(*env, NULL);
    *env = NULL;
}

/* ---- send ---- */

static int send_frame(aha_wire_t *w, const void *data, size_t len, int flags) {
    if (zmq_send(w->sock, data, len, flags) >= 0) return AHA_OK;
    int e = errno;
    if (e == EAGAIN)
        return AHA_FAIL(AHA_ERR_TIMEOUT, "wire %s: send blocked for %d ms", w->name,
                        WIRE_SEND_TIMEOUT_MS);
    return AHA_FAIL(AHA_ERR_NET, "wire %s: send: %s", w->name, zmq_strerror(e));
}

int aha_wire_send(aha_wire_t *w, const aha_peer_t *to, Aha__Envelope *env) {
    if (!w || !env) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_send: NULL argument");
    if (w->type == ZMQ_ROUTER && (!to || to->id_len == 0 || to->id_len > AHA_WIRE_MAX_ID))
        return AHA_FAIL(AHA_ERR_ARG, "wire %s: a ROUTER send needs a peer identity", w->name);
    env->protocol = AHA_WIRE_PROTOCOL;
    env->sender = w->name;
    env->seq = w->seq + 1;
    size_t n = aha__envelope__get_packed_size(env);
    if (n > w->max_bytes)
        return AHA_FAIL(AHA_ERR_RANGE, "wire %s: message of %zu bytes exceeds the %zu-byte cap",
                        w->name, n, w->max_bytes);
    /* packed straight into the message ZeroMQ sends (no second copy of a weights chunk) */
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, n) != 0)
        return AHA_FAIL(AHA_ERR_NOMEM, "wire %s: %zu bytes", w->name, n);
    aha__envelope__pack(env, (uint8_t *)zmq_msg_data(&msg));
    int rc = AHA_OK;
    if (w->type == ZMQ_ROUTER) rc = send_frame(w, to->id, to->id_len, ZMQ_SNDMORE);
    if (rc == AHA_OK && zmq_msg_send(&msg, w->sock, 0) < 0) {
        const int e = errno;
        rc = e == EAGAIN ? AHA_FAIL(AHA_ERR_TIMEOUT, "wire %s: send blocked for %d ms", w->name,
                                    WIRE_SEND_TIMEOUT_MS)
                         : AHA_FAIL(AHA_ERR_NET, "wire %s: send: %s", w->name, zmq_strerror(e));
    }
    zmq_msg_close(&msg);                           /* after a successful send: a no-op */
    env->sender = (char *)protobuf_c_empty_string; /* do not leave a pointer into w behind */
    if (rc == AHA_OK) w->seq++;
    return rc;
}

int aha_wire_envelope_set_body(Aha__Envelope *env, const ProtobufCMessage *body) {
    if (!env || !body) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_envelope_set_body: NULL argument");
    const ProtobufCMessageDescriptor *d = &aha__envelope__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->descriptor != body->descriptor)
            continue;
        env->body_case = (Aha__Envelope__BodyCase)f->id;
        memcpy((char *)env + f->offset, &body, sizeof body); /* the oneof's pointer */
        return AHA_OK;
    }
    return AHA_FAIL(AHA_ERR_ARG, "aha_wire_envelope_set_body: a %s is no Envelope body",
                    body->descriptor->name);
}

int aha_wire_send_body(aha_wire_t *w, const aha_peer_t *to, const ProtobufCMessage *body) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    AHA_TRY(aha_wire_envelope_set_body(&env, body));
    return aha_wire_send(w, to, &env);
}

int aha_wire_send_control(aha_wire_t *w, const aha_peer_t *to, const char *command, int ok,
                          const char *text) {
    Aha__Control ctl = AHA__CONTROL__INIT;
    ctl.command = (char *)(command ? command : "");
    ctl.ok = ok != 0;
    ctl.text = (char *)(text ? text : "");
    return aha_wire_send_body(w, to, &ctl.base);
}

int aha_wire_send_heartbeat(aha_wire_t *w, const aha_peer_t *to, uint64_t done) {
    Aha__Heartbeat hb = AHA__HEARTBEAT__INIT;
    hb.done = done;
    return aha_wire_send_body(w, to, &hb.base);
}

/* ---- receive ---- */

/* Printable form of a routing identity: as is if printable ASCII, else hex. */
void aha_wire_peer_text(const aha_peer_t *p, char *out, size_t cap) {
    int printable = p->id_len > 0;
    for (size_t i = 0; i < p->id_len; i++)
        printable &= p->id[i] >= 32 && p->id[i] < 127;
    size_t o = 0;
    out[0] = 0;
    if (printable) {
        snprintf(out, cap, "%.*s", (int)p->id_len, (const char *)p->id);
        return;
    }
    for (size_t i = 0; i < p->id_len && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", p->id[i]);
    if (p->id_len == 0) snprintf(out, cap, "-");
}

int aha_wire_control_allowed(const aha_peer_t *p, const Aha__Envelope *e, const char *server,
                             uint64_t *refused, char *text, size_t cap) {
    if (aha_wire_peer_may_control(p)) return 1;
    snprintf(text, cap,
             "refused: control commands are taken only from the run's operator (aha "
             "ctl RUN_DIR on the learner's host, or aha ctl --remote with the CURVE "
             "operator key)");
    if (aha_log_nth(++*refused)) {
        char id[2 * AHA_WIRE_MAX_ID + 1];
        aha_wire_peer_text(p, id, sizeof id);
        AHA_WARN("%s: refused control '%.40s' from id=%s sender=%.60s addr=%s key=%s: not the "
                 "run's operator (%llu refused)",
                 server, e->control ? e->control->command : "?", id,
                 e->sender && e->sender[0] ? e->sender : "?", p->addr[0] ? p->addr : "?",
                 p->user[0] ? p->user : "none", (unsigned long long)*refused);
    }
    return 0;
}

void aha_wire_drop(const char *where, const char *what, uint64_t *counter, const aha_peer_t *peer,
                   const char *sender, const char *fmt, ...) {
    if (!aha_log_nth(++*counter)) return;
    char why[256], id[2 * AHA_WIRE_MAX_ID + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    aha_wire_peer_text(peer, id, sizeof id);
    AHA_WARN("%s: dropped %s from id=%s sender=%.60s addr=%s: %s (%llu of this kind)", where, what,
             id, sender && *sender ? sender : "?", peer->addr[0] ? peer->addr : "?", why,
             (unsigned long long)*counter);
}

/* Reads one whole multipart message that is ready. Returns AHA_OK with payload in *payload
 * (caller closes) or 1 if the message was dropped for its framing/size, or an error. */
static int read_message(aha_wire_t *w, aha_peer_t *peer, zmq_msg_t *payload) {
    memset(peer, 0, sizeof *peer);
    int want_frames = w->type == ZMQ_ROUTER ? 2 : 1, frames = 0, bad = 0;
    size_t biggest = 0;
    int more = 1;
    int have_payload = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, w->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            if (have_payload) zmq_msg_close(payload);
            if (e == EAGAIN && frames == 0) return 1; /* nothing after all */
            return AHA_FAIL(AHA_ERR_NET, "wire %s: recv: %s", w->name, zmq_strerror(e));
        }
        frames++;
        more = zmq_msg_more(&part);
        size_t len = zmq_msg_size(&part);
        if (len > biggest) biggest = len;
        const char *addr = zmq_msg_gets(&part, "Peer-Address");
        if (addr && !peer->addr[0]) snprintf(peer->addr, sizeof peer->addr, "%s", addr);
        const char *user = zmq_msg_gets(&part, "User-Id");
        if (user && !peer->user[0]) snprintf(peer->user, sizeof peer->user, "%s", user);
        if (w->type == ZMQ_ROUTER && frames == 1) {
            if (len == 0 || len > AHA_WIRE_MAX_ID)
                bad = 1;
            else
                memcpy(peer->id, zmq_msg_data(&part), peer->id_len = len);
            zmq_msg_close(&part);
        } else if (frames == want_frames) {
            zmq_msg_init(payload);
            zmq_msg_move(payload, &part);
            zmq_msg_close(&part);
            have_payload = 1;
        } else {
            zmq_msg_close(&part);
        }
    }
    if (bad || frames != want_frames) {
        if (have_payload) zmq_msg_close(payload);
        aha_wire_drop(w->where, "a message", &w->stats.bad_framing, peer, NULL,
                      "%d frames (want %d)%s", frames, want_frames, bad ? ", bad identity" : "");
        return 1;
    }
    if (zmq_msg_size(payload) > w->max_bytes) {
        aha_wire_drop(w->where, "a message", &w->stats.oversize, peer, NULL, "%zu bytes > cap %zu",
                      zmq_msg_size(payload), w->max_bytes);
        zmq_msg_close(payload);
        return 1;
    }
    return AHA_OK;
}

int aha_wire_decode(const void *data, size_t len, aha_wire_check_fn check, const void *ctx,
                    char *why, size_t cap, Aha__Envelope **out) {
    char msg[200] = "";
    int v = AHA_WIRE_ACCEPTED;
    Aha__Envelope *env = aha__envelope__unpack(NULL, len, (const uint8_t *)data);
    if (!env) {
        v = AHA_WIRE_MALFORMED;
        snprintf(msg, sizeof msg, "%zu bytes that are not an Envelope", len);
    } else if (env->protocol != AHA_WIRE_PROTOCOL) {
        v = AHA_WIRE_BAD_PROTOCOL;
        snprintf(msg, sizeof msg, "protocol %u (want %d)", env->protocol, AHA_WIRE_PROTOCOL);
    } else if (env->body_case == AHA__ENVELOPE__BODY__NOT_SET) {
        v = AHA_WIRE_BAD_PROTOCOL;
        snprintf(msg, sizeof msg, "envelope without a body");
    } else if (check && check(env, ctx, msg, sizeof msg) != AHA_OK) {
        v = AHA_WIRE_INVALID;
    }
    if (why && cap > 0) snprintf(why, cap, "%s", msg);
    if (out)
        *out = env;
    else
        aha__envelope__free_unpacked(env, NULL);
    return v;
}

int aha_wire_recv(aha_wire_t *w, int timeout_ms, aha_peer_t *from, Aha__Envelope **out) {
    if (!w || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_wire_recv: NULL argument");
    const double deadline = aha_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        long wait = -1;
        if (timeout_ms >= 0) {
            double left = deadline - aha_now_ms();
            wait = left > 0 ? (long)left + 1 : 0;
        }
        zmq_pollitem_t item = {w->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            return AHA_FAIL(AHA_ERR_NET, "wire %s: poll: %s", w->name, zmq_strerror(errno));
        }
        if (n == 0) {
            if (timeout_ms >= 0 && aha_now_ms() >= deadline)
                return AHA_FAIL(AHA_ERR_TIMEOUT, "wire %s: nothing received in %d ms", w->name,
                                timeout_ms);
            continue;
        }
        aha_peer_t peer;
        zmq_msg_t payload;
        int rc = read_message(w, &peer, &payload);
        if (rc < 0) return rc;
        if (rc > 0) continue;
        char why[200] = "";
        Aha__Envelope *env = NULL;
        int v = aha_wire_decode(zmq_msg_data(&payload), zmq_msg_size(&payload), w->check,
                                w->check_ctx, why, sizeof why, &env);
        zmq_msg_close(&payload);
        if (v != AHA_WIRE_ACCEPTED) {
            uint64_t *counter = v == AHA_WIRE_MALFORMED      ? &w->stats.malformed
                                : v == AHA_WIRE_BAD_PROTOCOL ? &w->stats.bad_protocol
                                                             : &w->stats.invalid;
            aha_wire_drop(w->where, "a message", counter, &peer, env ? env->sender : NULL, "%s",
                          why);
            aha_wire_free(&env);
            continue;
        }
        w->stats.accepted++;
        if (from) *from = peer;
        *out = env;
        return AHA_OK;
    }
}

/* ---- content checks ---- */

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        goto fail;                                                                                 \
    } while (0)

int aha_wire_check_envelope(const Aha__Envelope *env, char *out, size_t cap) {
    char msg[200];
    if (!env) BAD("no envelope");
    switch (env->body_case) {
    case AHA__ENVELOPE__BODY_GROUP:
    case AHA__ENVELOPE__BODY_SCORED_GROUP:
    case AHA__ENVELOPE__BODY_LEASE: /* task content: the role's check */
        return AHA_OK;
    case AHA__ENVELOPE__BODY_HELLO:
        if (!env->hello->role[0] || !env->hello->name[0]) BAD("Hello: empty role or name");
        return AHA_OK;
    case AHA__ENVELOPE__BODY_WEIGHT_ANNOUNCE:
        if (env->weight_announce->checksum.len != 32 || env->weight_announce->chunk_bytes == 0)
            BAD("WeightAnnounce: checksum of %zu bytes, chunk_bytes %u",
                env->weight_announce->checksum.len, env->weight_announce->chunk_bytes);
        return AHA_OK;
    case AHA__ENVELOPE__BODY_CHUNK:
        if (env->chunk->data.len == 0) BAD("Chunk: no data");
        return AHA_OK;
    case AHA__ENVELOPE__BODY_CONTROL:
        if (!env->control->command[0]) BAD("Control: no command");
        return AHA_OK;
    case AHA__ENVELOPE__BODY_HEARTBEAT:
    case AHA__ENVELOPE__BODY_LEASE_REQUEST:
    case AHA__ENVELOPE__BODY_CHUNK_REQUEST:
        return AHA_OK;
    default:
        BAD("unknown body %d", (int)env->body_case);
    }
fail:
    if (out) snprintf(out, cap, "%s", msg);
    return AHA_FAIL(AHA_ERR_FORMAT, "%s", msg);
}
