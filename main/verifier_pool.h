/* main/verifier_pool.h — `aha train` with rl.verifiers > 0: verifier workers as separate local
 * processes (`aha verifier`), reached through the learner's broker (learner/broker.h).
 *
 * aha_vpool_score falls back to in-process scoring when no verifier is live, so a crashed, killed
 * or hung verifier costs at most one deadline per group and never stops training; the rules are
 * deterministic, so the run's numbers do not depend on where a group was scored. The pool owns
 * its ZeroMQ context, broker and child processes. */
#ifndef AHA_MAIN_VERIFIER_POOL_H
#define AHA_MAIN_VERIFIER_POOL_H
#include "actor/rollout.h"
#include "main/run_config.h"
#include "verifier/reward.h"
#include <stdint.h>

typedef struct aha_vpool aha_vpool_t;

/* Binds the broker on net.host (CURVE with net.keys), starts N >= 0 local `aha verifier --config
 * CONFIG_PATH` processes and waits (up to 20 s) until the running ones have registered.
 * Verifiers started elsewhere may join at any time. */
int aha_vpool_new(const aha_run_config_t *rc, const char *config_path, int n, aha_vpool_t **out);
/* Stops the workers (Control stop, then SIGKILL after 2 s) and frees everything. NULL-safe. */
void aha_vpool_destroy(aha_vpool_t **p);

/* Scores the group in rollout R (problem PROB, id PROMPT_ID, weights VERSION) into out[0..r->n)
 * through a verifier; in process with RCFG if none is live. */
int aha_vpool_score(aha_vpool_t *p, const aha_reward_config_t *rcfg, const aha_rollout_t *r,
                    const aha_reward_problem_t *prob, uint64_t prompt_id, uint64_t version,
                    aha_reward_breakdown_t *out);

/* The broker's endpoint (for workers started elsewhere: net.serve). */
int aha_vpool_endpoint(const aha_vpool_t *p, char *buf, size_t cap);

/* Scores the group in R in this process: the rules of RCFG, and with rl.verifier_exec that
 * command (sandboxed) for the accuracy — exactly what a verifier worker would send back. */
int aha_score_local(const aha_run_config_t *rc, const aha_reward_config_t *rcfg,
                    const aha_rollout_t *r, const aha_reward_problem_t *prob, uint64_t prompt_id,
                    aha_reward_breakdown_t *out);

typedef struct {
    uint64_t remote, local, redispatched, lost, late;
    int live;
} aha_vpool_stats_t;
void aha_vpool_stats(const aha_vpool_t *p, aha_vpool_stats_t *out);

#endif
