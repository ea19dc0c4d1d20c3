/* core/wire.h — aha messages over ZeroMQ: one proto/aha.proto Envelope per frame (after the
 * routing identity on ROUTER sockets), packed with protobuf-c.
 *
 * Receiving is defensive: a frame larger than the wire's max_bytes, a multipart message with the
 * wrong number of frames, bytes that do not unpack as an Envelope, another protocol number, an
 * empty body, or content that fails the content check registered with aha_wire_set_check() (the
 * role's: core knows nothing about what a Group or a Lease may hold) is counted in aha_wire_stats,
 * logged with its sender (routing identity, the Envelope's sender field when it unpacked, peer
 * address) and dropped; aha_wire_recv then goes on waiting. Nothing a peer sends can crash the
 * receiver or make it allocate more than about max_bytes: ZMQ_MAXMSGSIZE is set to max_bytes + 64
 * KiB, and libzmq closes the connection of a peer that sends more than that (such frames are never
 * seen, so they are not counted; the peer reconnects).
 *
 * Ownership: an aha_wire_t owns its ZeroMQ socket (not the context). Envelopes returned by
 * aha_wire_recv are owned by the caller and freed with aha_wire_free. aha_wire_send does not take
 * ownership of the envelope it is given (it sets its protocol, sender and seq fields).
 * An aha_wire_t is used by one thread at a time (ZeroMQ sockets are not thread-safe). */
#ifndef AHA_CORE_WIRE_H
#define AHA_CORE_WIRE_H
#include "proto/aha.pb-c.h"
#include <stddef.h>
#include <stdint.h>

#define AHA_WIRE_PROTOCOL 1
#define AHA_WIRE_MAX_ID 255 /* bytes of a ZeroMQ routing identity */

typedef struct aha_wire aha_wire_t;

/* Who sent a message (filled by aha_wire_recv) or whom to send to (ROUTER sockets). */
typedef struct {
    unsigned char id[AHA_WIRE_MAX_ID]; /* routing identity (ROUTER sockets), id_len bytes */
    size_t id_len;
    char addr[64]; /* "Peer-Address" metadata (tcp/ipc), "" if unknown */
    char user[16]; /* "User-Id" metadata: the ZAP handler's name for a CURVE peer's key
                      (core/curve.h: "worker", "operator"), "" without CURVE */
} aha_peer_t;

/* Also binds the Unix-domain socket PATH (ipc://PATH; at most 100 bytes): the local operator's
 * endpoint (aha ctl). Does not change aha_wire_endpoint. PATH's directory should be owner-only. */
int aha_wire_bind_local(aha_wire_t *w, const char *path);
/* 1 if P came over a Unix-domain socket from a process of this process's user (SO_PEERCRED), 0
 * otherwise (any tcp peer). */
int aha_wire_peer_is_local_owner(const aha_peer_t *p);

/* 1 if P may send control commands (aha ctl): a local owner (above), or a CURVE peer whose key
 * the ZAP handler admitted as the operator's (core/curve.h); 0 otherwise (a worker's key, no
 * CURVE). */
int aha_wire_peer_may_control(const aha_peer_t *p);

/* The operator check of a Control envelope E from P, received by SERVER ("coordinator", ...):
 * 1 if P may send control commands; else 0, with *REFUSED counted, a warning naming the command,
 * the peer's identity, sender, address and key (aha_log_nth of the count), and the reply text
 * "refused: ..." in text[0..cap). */
int aha_wire_control_allowed(const aha_peer_t *p, const Aha__Envelope *e, const char *server,
                             uint64_t *refused, char *text, size_t cap);

/* Counts a dropped message in *COUNTER and, for aha_log_nth of the count (core/log.h), logs
 * "WHERE: dropped WHAT from id=... sender=... addr=...: REASON (N of this kind)", REASON from FMT.
 * SENDER (the Envelope's sender field) may be NULL. For every drop of what peers send. */
void aha_wire_drop(const char *where, const char *what, uint64_t *counter, const aha_peer_t *peer,
                   const char *sender, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Printable form of P's routing identity: as is if printable ASCII, else hex; "-" if none. */
void aha_wire_peer_text(const aha_peer_t *p, char *out, size_t cap);

/* Counters of everything received, since aha_wire_new. */
typedef struct {
    uint64_t accepted;     /* returned to the caller */
    uint64_t oversize;     /* frame larger than max_bytes */
    uint64_t bad_framing;  /* wrong number of frames (or empty identity) */
    uint64_t malformed;    /* not a protobuf Envelope */
    uint64_t bad_protocol; /* Envelope.protocol != AHA_WIRE_PROTOCOL, or no body */
    uint64_t invalid;      /* content failed the registered check */
} aha_wire_stats_t;

/* A content check: 0 if ENV is acceptable, else an error code with a reason (naming the message
 * and field) in why[0..cap). CTX is the pointer given to aha_wire_set_check. */
typedef int (*aha_wire_check_fn)(const Aha__Envelope *env, const void *ctx, char *why, size_t cap);

/* A socket of TYPE (ZMQ_ROUTER, ZMQ_DEALER, ZMQ_PUB, ZMQ_SUB (subscribed to everything), ...)
 * in context ZCTX. NAME ("learner/0", "actor/3", ...) goes into every envelope sent and into
 * logs. Frames above MAX_BYTES are dropped (>= 1024). Sends block for at most 10 s. LINGER is 0:
 * unsent messages are discarded on close. ROUTER sockets report unroutable peers as errors. */
int aha_wire_new(void *zctx, int type, const char *name, size_t max_bytes, aha_wire_t **out);
/* Closes the socket; NULLs *w. NULL-safe. */
void aha_wire_destroy(aha_wire_t **w);

/* Binds / connects to a ZeroMQ endpoint ("tcp://127.0.0.1:*" picks a port). */
int aha_wire_bind(aha_wire_t *w, const char *endpoint);
int aha_wire_connect(aha_wire_t *w, const char *endpoint);
/* Liveness of a connecting socket (workers; call before aha_wire_connect): ZMTP heartbeats every
 * HEARTBEAT_MS, a connection whose peer answers none for HEARTBEAT_TIMEOUT_MS is dropped (and
 * redialled), and a socket monitor follows whether a peer is up (handshake done). The peer's
 * ZeroMQ I/O thread answers the heartbeats, so a learner busy in a long step still counts as up;
 * a dead, frozen or never-reachable one does not. ZCTX is the socket's context. */
int aha_wire_watch(aha_wire_t *w, void *zctx, int heartbeat_ms, int heartbeat_timeout_ms);
/* With aha_wire_watch: AHA_ERR_TIMEOUT, with a message naming the endpoint, once no peer has been
 * up for LIMIT_MS (since the watch began, or since the connection was lost); AHA_OK otherwise,
 * and always without a watch or with LIMIT_MS <= 0. Call it regularly (e.g. after each receive
 * timeout). */
int aha_wire_peer_check(aha_wire_t *w, int limit_ms);
/* The endpoint last bound (with the real port), NUL-terminated into buf. */
int aha_wire_endpoint(const aha_wire_t *w, char *buf, size_t cap);
/* Sets the routing identity this socket presents to ROUTER peers (before connect). */
int aha_wire_set_identity(aha_wire_t *w, const char *id);
/* Content check applied to every received envelope that passed the framing, size and protobuf
 * checks; CTX is borrowed (it must outlive W or the next call). CHECK NULL turns it off. */
void aha_wire_set_check(aha_wire_t *w, aha_wire_check_fn check, const void *ctx);

/* The underlying ZeroMQ socket, for zmq_poll. Do not close it. */
void *aha_wire_socket(aha_wire_t *w);
const aha_wire_stats_t *aha_wire_stats(const aha_wire_t *w);

/* Packs ENV (its protocol, sender and seq are set here) and sends it, to peer TO on a ROUTER
 * socket (TO ignored otherwise). AHA_ERR_RANGE if the packed envelope exceeds max_bytes (nothing
 * sent), AHA_ERR_TIMEOUT if the send would block for more than 10 s, AHA_ERR_NET if a ROUTER
 * does not know TO or ZeroMQ fails. */
int aha_wire_send(aha_wire_t *w, const aha_peer_t *to, Aha__Envelope *env);

/* Sets ENV's body to BODY (a message of one of the Envelope's body types, borrowed): the body
 * field of its type and body_case. AHA_ERR_ARG (ENV untouched) for a NULL BODY or one of another
 * type. */
int aha_wire_envelope_set_body(Aha__Envelope *env, const ProtobufCMessage *body);
/* Sends BODY in an Envelope (aha_wire_envelope_set_body; TO as for aha_wire_send). */
int aha_wire_send_body(aha_wire_t *w, const aha_peer_t *to, const ProtobufCMessage *body);

/* Shorthands for the small messages: a Control {command, ok, text} and a Heartbeat {done}
 * (TO as for aha_wire_send). */
int aha_wire_send_control(aha_wire_t *w, const aha_peer_t *to, const char *command, int ok,
                          const char *text);
int aha_wire_send_heartbeat(aha_wire_t *w, const aha_peer_t *to, uint64_t done);

/* Waits up to TIMEOUT_MS (< 0: forever, 0: poll) for an acceptable envelope; bad frames on the
 * way are counted, logged and dropped. On success *out owns the envelope and *from (if not NULL)
 * says who sent it. AHA_ERR_TIMEOUT if none arrived in time, AHA_ERR_NET on a ZeroMQ error. */
int aha_wire_recv(aha_wire_t *w, int timeout_ms, aha_peer_t *from, Aha__Envelope **out);
/* What the receiving checks made of one payload frame (the aha_wire_stats_t counter it goes to). */
typedef enum {
    AHA_WIRE_ACCEPTED = 0,
    AHA_WIRE_MALFORMED,    /* not a protobuf Envelope */
    AHA_WIRE_BAD_PROTOCOL, /* another protocol number, or no body */
    AHA_WIRE_INVALID,      /* the content check refused it */
} aha_wire_verdict_t;

/* The checks aha_wire_recv applies to a payload frame that passed framing and size, without a
 * socket: unpacks DATA[0..LEN) as an Envelope, checks its protocol number and that a body is set,
 * then runs CHECK with CTX (NULL: none). Returns an aha_wire_verdict_t; the reason of a drop is
 * written to why[0..cap) ("" when accepted). *out (if OUT is not NULL) gets the unpacked envelope
 * for every verdict but AHA_WIRE_MALFORMED (NULL then): the caller frees it with aha_wire_free,
 * also after a drop (its sender field names the peer). Pure: no socket, no log, no counter. */
int aha_wire_decode(const void *data, size_t len, aha_wire_check_fn check, const void *ctx,
                    char *why, size_t cap, Aha__Envelope **out);
/* Frees an envelope from aha_wire_recv; NULLs *env. NULL-safe. */
void aha_wire_free(Aha__Envelope **env);

/* The protocol's own checks of ENV beyond what protobuf guarantees, for the messages core itself
 * speaks (Hello names, WeightAnnounce checksum and chunk size, Chunk data, Control command); the
 * task messages (Group, ScoredGroup, Lease) and everything else pass. 0 if acceptable, else
 * AHA_ERR_FORMAT with a message naming the message and field (also written to why[0..cap) if WHY
 * is not NULL). Content checks of a role call it first (verifier/msg_check.h). */
int aha_wire_check_envelope(const Aha__Envelope *env, char *why, size_t cap);

#endif
