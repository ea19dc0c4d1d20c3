/* learner/broker.h — the learner's side of the verifier pool (docs/rl.md): a ROUTER socket that
 * verifier workers (verifier/worker.h) connect to, and a call that gets a group scored.
 *
 * Verifiers register with Hello (role "verifier"); each is known by its routing identity and
 * "name@version". aha_broker_score_all puts all the groups of a step in flight at once, one per
 * live verifier at a time (least loaded first), and matches the ScoredGroups back; a verifier
 * that does not answer within the deadline, or whose connection is gone, is marked lost and its
 * groups go to the others, so a dead or hung verifier costs one deadline, never the run. A lost
 * verifier that speaks again (heartbeat, hello) is taken back, but no sooner than 1 s after its
 * first loss, 2 s after its second, doubling up to 5 min (exponential back-off). Replies that arrive after their deadline are dropped and counted.
 * Everything received goes through core/wire.h checks.
 *
 * Ownership: the broker owns its socket (not the context). Envelopes returned by
 * aha_broker_score belong to the caller (aha_wire_free). One thread at a time. */
#ifndef AHA_LEARNER_BROKER_H
#define AHA_LEARNER_BROKER_H
#include "core/curve.h"
#include "core/wire.h"

typedef struct aha_broker aha_broker_t;

typedef struct {
    uint64_t scored;       /* groups scored remotely */
    uint64_t redispatched; /* sends to another verifier after a deadline or a lost peer */
    uint64_t lost;         /* times a verifier was marked lost */
    uint64_t late;         /* replies after their deadline (dropped) */
    uint64_t ctl_refused;  /* control requests not from the operator (refused) */
    uint64_t readmitted;   /* lost verifiers taken back */
} aha_broker_stats_t;

/* Binds a ROUTER at BIND (e.g. "tcp://127.0.0.1:*"); CHECK (may be NULL) with CHECK_CTX (borrowed,
 * must outlive the broker) checks what arrives (core/wire.h aha_wire_set_check; the task-message
 * check is verifier/msg_check.h); CURVE (may be NULL) makes it a CURVE server with that keypair
 * (the context needs a ZAP handler, core/curve.h). */
int aha_broker_new(void *zctx, const char *bind, size_t max_bytes, aha_wire_check_fn check,
                   const void *check_ctx, const aha_keypair_t *curve, aha_broker_t **out);
void aha_broker_destroy(aha_broker_t **b);
/* The broker's socket (owned by the broker; NULL for a NULL broker), for its endpoint with the
 * port (aha_wire_endpoint), what it dropped (aha_wire_stats) and a second, Unix-domain endpoint
 * (aha_wire_bind_local): control requests (aha ctl) are answered there for a process of this
 * user, and on any transport for a CURVE peer with the operator key (core/wire.h
 * aha_wire_peer_may_control); from anyone else they are refused, counted in ctl_refused and
 * logged. */
aha_wire_t *aha_broker_wire(aha_broker_t *b);

/* Handles messages until at least N verifiers are live; AHA_ERR_TIMEOUT after TIMEOUT_MS. */
int aha_broker_wait_verifiers(aha_broker_t *b, int n, int timeout_ms);
/* Handles whatever has arrived (hellos of verifiers joining late, heartbeats) without waiting. */
int aha_broker_poll(aha_broker_t *b);
/* Live verifiers now. */
int aha_broker_live(const aha_broker_t *b);

/* Gets the N groups GS[0..n) scored at once across the live verifiers: each verifier has one
 * credit (a worker scores one group at a time), queued groups go to the least-loaded verifier
 * with a free credit (ties: the one that has waited longest), and replies are matched back by
 * (lease, prompt id, sample indices) and the verifier they were sent to. A verifier that does not
 * answer within DEADLINE_MS of a send, or whose connection is gone, is marked lost and its groups
 * are queued again for the others. Returns when every group is scored or no live verifier
 * remains; on success out[j] is group j's ScoredGroup envelope (scores in ->scored_group,
 * producer in ->verifier; the caller frees it) or NULL if it could not be scored remotely (the
 * caller decides, e.g. scores locally). An error only for socket failures (out untouched). */
int aha_broker_score_all(aha_broker_t *b, Aha__Group *const *gs, int n, int deadline_ms,
                         Aha__Envelope **out);
/* One group: aha_broker_score_all of {G}; AHA_ERR_NOTFOUND when no verifier is (or remains)
 * live. */
int aha_broker_score(aha_broker_t *b, Aha__Group *g, int deadline_ms, Aha__Envelope **out);

/* Control requests from `aha ctl` are answered whenever the broker reads its socket:
 *   "status"                        live / lost / retired verifiers and their counts
 *   "verifier-use" NAME@VERSION     from now on only that verifier gets work; the others are
 *                                   told to stop (retired). Refused if none such is live.
 * Sends Control "stop" to every live verifier (best effort). */
void aha_broker_stop_verifiers(aha_broker_t *b);
const aha_broker_stats_t *aha_broker_stats(const aha_broker_t *b);

#endif
