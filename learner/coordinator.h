/* learner/coordinator.h — the lease coordinator: feeds rollout actors (actor/worker.h) with
 * leases over ZeroMQ and collects the groups they sample (docs/rl.md, Actor processes);
 * synchronous (max staleness 0) or ahead of the learner (bounded staleness: several kept
 * versions, groups wanted ahead, a pump thread serving actors while the learner trains). Runs on
 * learner rank 0.
 *
 * Per step the learner publishes its weights (core/blob.h, version = updates so far) and asks for
 * the groups of a list of prompt ids. Actors pull work: an actor's LeaseRequest is answered with a
 * Lease (prompt id, group size, minimum weights version) as soon as one is pending; the actor
 * fetches newer weights if needed, samples the group with the setup of tasks/train_group.h and
 * sends it back. Lease ids are random 64-bit values (libsodium); a group is accepted only from
 * the routing identity its lease was issued to, for the leased prompt and version. A lease not
 * delivered within its deadline goes to the next actor that asks; a
 * late or duplicate group, or one for a prompt that is not leased, is dropped and counted, so no
 * group is lost or counted twice. Groups still missing when the collect deadline passes are left
 * NULL for the learner to sample itself, so dead actors slow a run down but never stop it.
 * Sampling depends only on (weights, seed, prompt id, sample index): the weights equal those of
 * in-process sampling.
 *
 * Ownership: the coordinator owns its socket and a copy of the published weights, not the
 * context; starting and reaping actor processes is the caller's (main/procs.h). One thread. */
#ifndef AHA_LEARNER_COORDINATOR_H
#define AHA_LEARNER_COORDINATOR_H
#include "core/curve.h"
#include "core/wire.h"
#include "model/model.h"
#include "verifier/msg_check.h"

typedef struct aha_coord aha_coord_t;

/* Binds a ROUTER at BIND (e.g. "tcp://127.0.0.1:*") in ZCTX (borrowed: it must outlive the
 * coordinator). LIMITS (copied) are the content checks of what actors send (verifier/msg_check.h);
 * leases ask for groups of GROUP_SIZE samples and a group of another size is dropped. CURVE (may be NULL) makes it a CURVE server
 * with that keypair (ZCTX then needs a ZAP handler, core/curve.h). MAX_BYTES caps a received
 * message. *out written only on success. Actors join whenever their Hello arrives. */
int aha_coord_new(void *zctx, const char *bind, size_t max_bytes, const aha_msg_limits_t *limits,
                  int group_size, const aha_keypair_t *curve, aha_coord_t **out);
/* Frees the socket and the published weights (the actors are not told: aha_coord_stop_actors).
 * NULL-safe; NULLs *c. */
void aha_coord_destroy(aha_coord_t **c);
/* The coordinator's socket (owned by the coordinator; NULL for a NULL one), for its endpoint with
 * the port, where actors connect (aha_wire_endpoint), what it dropped (aha_wire_stats) and a
 * second, Unix-domain endpoint (aha_wire_bind_local): control requests (aha ctl) are answered
 * there for a process of this user, and on any transport for a CURVE peer with the operator key
 * (core/wire.h aha_wire_peer_may_control); others are refused, counted and logged. */
aha_wire_t *aha_coord_wire(aha_coord_t *c);

/* Handles messages (hellos, lease requests, weight requests, aha ctl) until at least N actors
 * have joined; AHA_ERR_TIMEOUT after TIMEOUT_MS. */
int aha_coord_wait_actors(aha_coord_t *c, int n, int timeout_ms);
/* Actors that have joined. */
int aha_coord_actors(const aha_coord_t *c);
/* 1 once an authorised `aha ctl RUN_DIR stop` reached this coordinator (any thread may ask). The
 * learner then stops after its current step with a checkpoint, as on SIGTERM. */
int aha_coord_stop_asked(const aha_coord_t *c);
/* Sends Control "stop" to every actor that joined (best effort: some may be gone). */
void aha_coord_stop_actors(aha_coord_t *c);

#define AHA_COORD_MAX_KEEP 9
/* Most groups one LeaseRequest can ask for (more is read as this many). */
#define AHA_COORD_MAX_GROUPS 32

/* Keeps the last N (1..AHA_COORD_MAX_KEEP, default 1) published versions servable: with
 * rl.max_staleness k the learner keeps k + 1. */
int aha_coord_set_keep(aha_coord_t *c, int n);
/* Makes M's current weights version VERSION (copied); the oldest kept version beyond the keep
 * count is dropped. Actors fetch any kept version (a request for another gets the newest). */
int aha_coord_publish(aha_coord_t *c, const aha_model_t *m, uint64_t version);

/* Asks ahead for the groups of prompts PIDS[0..n), prompt i sampled with weights VERSIONS[i]
 * (a kept version): leased to actors as they ask, during later collects or while the pump
 * thread runs. A prompt already wanted with another version is reset to the new one (a group
 * already delivered for it is dropped and counted stale). */
int aha_coord_want(aha_coord_t *c, const uint64_t *pids, const uint64_t *versions, int n);
/* Collects the groups of PIDS[0..n) sampled with exactly VERSIONS[i] (wanted now if they were not
 * already): out[i] as aha_coord_collect. A group sampled with any other version is dropped,
 * counted stale and leased again. The collected prompts are no longer wanted afterwards. */
int aha_coord_collect_at(aha_coord_t *c, const uint64_t *pids, const uint64_t *versions, int n,
                         int lease_ms, int collect_ms, Aha__Envelope **out);
/* Serves the actors (leases of wanted groups, weights, hellos) in a background thread until
 * aha_coord_pump_stop, e.g. while the learner trains; nothing else may use the coordinator
 * meanwhile. pump_stop returns the thread's error, if any. */
int aha_coord_pump_start(aha_coord_t *c, int lease_ms);
int aha_coord_pump_stop(aha_coord_t *c);

/* Collects the groups of prompt ids PIDS[0..n) sampled with the newest published weights: out[i] is
 * the Group envelope for pids[i] (caller frees with aha_wire_free) or NULL if no actor delivered
 * it in time. Each lease gets LEASE_MS; the whole call at most COLLECT_MS. */
int aha_coord_collect(aha_coord_t *c, const uint64_t *pids, int n, int lease_ms, int collect_ms,
                      Aha__Envelope **out);

typedef struct {
    uint64_t leases, reissued, late, delivered, missing;
    uint64_t held;          /* of delivered: groups held for a later collect (wanted ahead) */
    uint64_t stale;         /* groups dropped: sampled with another version than wanted */
    uint64_t forged;        /* groups dropped: no such lease, or not from its holder */
    uint64_t unfit;         /* groups dropped: wrong number of samples */
    uint64_t ctl_refused;   /* control requests not from the operator (refused) */
    uint64_t in_flight;     /* groups leased and not yet delivered (last look) */
    uint64_t wanted;        /* groups wanted and not yet delivered */
    double actor_idle_frac; /* share of actor time spent waiting for a lease since the start */
    int actors;
} aha_coord_stats_t;
void aha_coord_stats(const aha_coord_t *c, aha_coord_stats_t *out);

#endif
