/* core/link.h — how a worker process (actor, verifier) connects to a learner's server: a DEALER
 * with the worker's identity, optional CURVE, a watch on the server's liveness, and when the
 * worker gives up or stops. */
#ifndef AHA_CORE_LINK_H
#define AHA_CORE_LINK_H
#include "core/curve.h"
#include "core/wire.h"
#include <signal.h>
#include <stddef.h>

typedef struct {
    /* liveness of the learner (core/wire.h aha_wire_watch, ZMTP heartbeats): a connection whose
     * learner answers no heartbeat for heartbeat_timeout_ms is dropped; no learner up for
     * peer_timeout_ms (never reached, or gone) ends the worker with AHA_ERR_TIMEOUT naming the
     * endpoint. peer_timeout_ms 0: wait forever (and no watch). */
    int heartbeat_timeout_ms, peer_timeout_ms;
    /* optional CURVE: the server's public key and this worker's keypair (core/curve.h) */
    const char *curve_server_public;
    const aha_keypair_t *curve_client;
    /* optional: the worker returns AHA_OK soon after *stop becomes non-zero (e.g. from SIGTERM) */
    volatile sig_atomic_t *stop;
} aha_link_t;

/* Heartbeat timeout 30 s, peer timeout 300 s, no CURVE, no stop flag. */
void aha_link_default(aha_link_t *l);

/* 1 once L's stop flag is set. */
int aha_link_stopped(const aha_link_t *l);

/* Opens the worker's socket per L: a DEALER in ZCTX with wire cap MAX_BYTES and identity ID, a
 * CURVE client when curve_server_public is set (curve_client must be too), ZMTP heartbeats every
 * HEARTBEAT_MS watched when peer_timeout_ms > 0, connected to ENDPOINT. *out (the caller
 * destroys it) written on success only. */
int aha_link_open(void *zctx, const aha_link_t *l, const char *id, size_t max_bytes,
                  int heartbeat_ms, const char *endpoint, aha_wire_t **out);

#endif
