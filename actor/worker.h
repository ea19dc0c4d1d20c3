/* actor/worker.h — the rollout actor: a worker that samples groups for the learner's lease
 * coordinator (learner/coordinator.h; docs/rl.md, Actor processes).
 *
 * Protocol (core/wire.h envelopes over one DEALER socket connected to the coordinator's ROUTER):
 *   -> Hello {role "actor", name, version "1", capacity groups}
 *   -> LeaseRequest {max_groups N, policy_version v}   N = groups - leases held (replaces the last)
 *   <- Lease {lease_id, prompt_id, group_size, min_policy_version}   (one or more)
 *      the worker takes the leases that have arrived (up to groups), fetches the weights
 *      (core/blob.h) the first one names if it holds another version, samples the groups of the
 *      leading taken leases of that version in one aha_generate call (G rows each, at most
 *      K_MATMUL_ROWS_MAX = 64 rows: 64 / G groups, at least one; the setup of
 *      tasks/train_group.h) and sends each
 *   -> Group {lease_id, prompt_id, policy_version, samples ...}   then asks again
 *   <- Control {command "stop"}                            -> the worker returns AHA_OK
 *   *stop set (SIGTERM): -> LeaseRequest {max_groups 0}    (leaving: the coordinator takes back
 *      the lease it holds at once), then the worker returns AHA_OK
 * Other messages are ignored. A sample's tokens depend only on (weights, seed, prompt id, sample
 * index), so a group is the same whichever actor samples it, with which other groups in its batch,
 * and the same as the learner's own in-process sampling (a decoded row's numbers do not depend on
 * the other rows of its batch: docs/model.md).
 *
 * Ownership: the worker owns its socket (not the context) and its sampling buffers; the model is
 * the caller's, and the worker overwrites its weights with each version it fetches. */
#ifndef AHA_ACTOR_WORKER_H
#define AHA_ACTOR_WORKER_H
#include "actor/rollout.h"
#include "core/link.h"
#include "model/model.h"
#include "tasks/train_group.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define AHA_ACTOR_MAX_GROUPS 32

typedef struct {
    const char *endpoint; /* the coordinator's ROUTER, e.g. "tcp://127.0.0.1:5556" */
    const char *name;     /* e.g. "actor-0"; the socket identity is "actor/NAME/PID" */
    int group_size;       /* G: a lease for another group size is an error (AHA_ERR_CONFIG) */
    int groups; /* groups held at once (1..AHA_ACTOR_MAX_GROUPS), decoded together in batches of
                 * up to 64 rows (model/kernels.h K_MATMUL_ROWS_MAX) */
    int record_experts;   /* send the routing record (rl.r3) */
    aha_gen_config_t gen; /* max_new_tokens, temperature, top_p */
    aha_train_set_t train;
    size_t max_bytes;     /* wire cap (>= 1024) */
    int fetch_timeout_ms; /* per weight fetch (> 0) */
    /* liveness of the coordinator (ZMTP heartbeats every second), CURVE, stop flag */
    aha_link_t link;
} aha_actor_config_t;

typedef struct {
    uint64_t groups;  /* groups sampled and sent */
    uint64_t batches; /* aha_generate calls that sampled them (groups / batches: groups per batch) */
    uint64_t fetches; /* weight versions fetched */
    uint64_t version; /* weights version held last (0: none yet) */
} aha_actor_stats_t;

/* Fills *cfg with name "actor", groups 1, max_bytes 64 MiB, fetch_timeout_ms 30000 and the
 * default link (core/link.h aha_link_default); everything else zero (endpoint, group_size, gen and
 * train must be set). */
void aha_actor_config_default(aha_actor_config_t *cfg);

/* Runs the worker in ZCTX with model M (its shape must be the learner's; its weights are replaced
 * by each fetched version) until a Control "stop" arrives or *cfg->link.stop is set: AHA_OK then,
 * or an error (socket set-up, ZeroMQ, a weight fetch that fails, a lease for another group size).
 * *stats (if not NULL) is written before returning, also on error. */
int aha_actor_serve(void *zctx, const aha_actor_config_t *cfg, aha_model_t *m,
                    aha_actor_stats_t *stats);

#endif
