/* main/coordinator.h — `aha train` with rl.actors > 0: rollout actors as separate local
 * processes (`aha actor`), fed with leases over ZeroMQ (docs/rl.md, Actor processes), synchronous
 * (max staleness 0).
 *
 * Per step the learner publishes its weights (core/blob.h, version = updates so far) and asks for
 * the groups of a list of prompt ids. Actors pull work: an actor's LeaseRequest is answered with a
 * Lease (prompt id, group size, minimum weights version) as soon as one is pending; the actor
 * fetches newer weights if needed, samples the group with the RNG streams of
 * aha_train_group_setup and sends it back. A lease not delivered within its deadline goes to the
 * next actor that asks; a late or duplicate group is dropped, so no group is lost or counted
 * twice. Groups still missing when the collect deadline passes are left NULL for the learner to
 * sample itself, so dead actors slow a run down but never stop it. Sampling depends only on
 * (weights, seed, prompt id, sample index): the weights equal those of in-process sampling.
 * The coordinator owns its context, socket and processes. */
#ifndef AHA_MAIN_COORDINATOR_H
#define AHA_MAIN_COORDINATOR_H
#include "core/wire.h"
#include "main/run_config.h"
#include "model/model.h"

typedef struct aha_coord aha_coord_t;

/* Binds on net.host (CURVE with net.keys), starts N >= 0 local `aha actor --config CONFIG_PATH`
 * processes and waits (20 s) until the running ones said hello. Actors started elsewhere may
 * join at any time. */
int aha_coord_new(const aha_run_config_t *rc, const char *config_path, int n, aha_coord_t **out);
/* The coordinator's endpoint (for actors started elsewhere: net.serve). */
int aha_coord_endpoint(const aha_coord_t *c, char *buf, size_t cap);
/* Stops the actors (Control stop; SIGKILL after 2 s) and frees everything. NULL-safe. */
void aha_coord_destroy(aha_coord_t **c);

/* Makes M's current weights version VERSION (copied). */
int aha_coord_publish(aha_coord_t *c, const aha_model_t *m, uint64_t version);

/* Collects the groups of prompt ids PIDS[0..n) sampled with the published weights: out[i] is
 * the Group envelope for pids[i] (caller frees with aha_wire_free) or NULL if no actor delivered
 * it in time. Each lease gets LEASE_MS; the whole call at most COLLECT_MS. */
int aha_coord_collect(aha_coord_t *c, const uint64_t *pids, int n, int lease_ms, int collect_ms,
                      Aha__Envelope **out);

typedef struct {
    uint64_t leases, reissued, late, delivered, missing;
    int actors;
} aha_coord_stats_t;
void aha_coord_stats(const aha_coord_t *c, aha_coord_stats_t *out);

#endif
