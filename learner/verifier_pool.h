/* learner/verifier_pool.h — the learner's scoring: groups go to verifier workers
 * (verifier/worker.h) through the broker (learner/broker.h); runs on learner rank 0.
 *
 * aha_vpool_score falls back to in-process scoring when no verifier is live, so a crashed, killed
 * or hung verifier costs at most one deadline per group and never stops training; the rules are
 * deterministic, so the run's numbers do not depend on where a group was scored.
 *
 * Ownership: the pool owns its broker (and so its socket), not the context; starting and reaping
 * verifier processes is the caller's (main/procs.h). One thread. */
#ifndef AHA_LEARNER_VERIFIER_POOL_H
#define AHA_LEARNER_VERIFIER_POOL_H
#include "core/curve.h"
#include "core/wire.h"
#include "model/rollout.h"
#include "verifier/reward.h"
#include "verifier/sandbox.h"
#include <stdint.h>

typedef struct aha_vpool aha_vpool_t;

/* Binds the broker (learner/broker.h) at BIND in ZCTX (borrowed: it must outlive the pool), with
 * the content checks of scored groups for sequences of at most MAX_LEN tokens; CURVE (may be
 * NULL) makes it a CURVE server (ZCTX then needs a ZAP handler). Each remote attempt waits at
 * most DEADLINE_MS. SANDBOX (may be NULL; copied, its command string borrowed) is the user
 * verifier command used when scoring in process. *out written only on success. */
int aha_vpool_new(void *zctx, const char *bind, size_t max_bytes, int max_len, int deadline_ms,
                  const aha_sandbox_config_t *sandbox, const aha_keypair_t *curve,
                  aha_vpool_t **out);
/* Frees the broker (the verifiers are not told: aha_vpool_stop_verifiers). NULL-safe; NULLs *p. */
void aha_vpool_destroy(aha_vpool_t **p);

/* Handles messages until at least N verifiers are live; AHA_ERR_TIMEOUT after TIMEOUT_MS. */
int aha_vpool_wait_verifiers(aha_vpool_t *p, int n, int timeout_ms);
/* Live verifiers now. */
int aha_vpool_live(const aha_vpool_t *p);
/* Sends Control "stop" to every live verifier (best effort). */
void aha_vpool_stop_verifiers(aha_vpool_t *p);

/* Scores the group in rollout R (problem PROB, id PROMPT_ID, weights VERSION) into out[0..r->n)
 * through a verifier; in process with RCFG if none is live. */
int aha_vpool_score(aha_vpool_t *p, const aha_reward_config_t *rcfg, const aha_rollout_t *r,
                    const aha_reward_problem_t *prob, uint64_t prompt_id, uint64_t version,
                    aha_reward_breakdown_t *out);

/* Scores the N groups RS[j] (problem PROBS[j], id PIDS[j], weights VERSION) into
 * out[j][0..rs[j]->n), all in flight at once across the live verifiers
 * (aha_broker_score_all); the groups no verifier scored (none live, or all lost) are scored in
 * process with RCFG, and so are those whose scores are outside what RCFG's rules can give
 * (aha_reward_check_range: dropped, counted in bad_scores, logged with the verifier). Same scores as N calls of aha_vpool_score. */
int aha_vpool_score_all(aha_vpool_t *p, const aha_reward_config_t *rcfg,
                        const aha_rollout_t *const *rs, const aha_reward_problem_t *probs,
                        const uint64_t *pids, uint64_t version, int n,
                        aha_reward_breakdown_t *const *out);

/* The broker's socket (learner/broker.h aha_broker_wire; NULL for a NULL pool): its endpoint is
 * where verifier workers connect. */
aha_wire_t *aha_vpool_wire(aha_vpool_t *p);

/* Scores the group in R in this process: the rules of RCFG, and with SANDBOX (may be NULL) that
 * user command for the accuracy — exactly what a verifier worker would send back. */
int aha_score_local(const aha_reward_config_t *rcfg, const aha_sandbox_config_t *sandbox,
                    const aha_rollout_t *r, const aha_reward_problem_t *prob, uint64_t prompt_id,
                    aha_reward_breakdown_t *out);

typedef struct {
    uint64_t remote, local, redispatched, lost, late;
    uint64_t ctl_refused; /* control requests refused (learner/broker.h) */
    uint64_t readmitted;  /* lost verifiers taken back (after their back-off) */
    uint64_t bad_scores;  /* groups whose scores were out of range: dropped, scored in process */
    int live;
} aha_vpool_stats_t;
void aha_vpool_stats(const aha_vpool_t *p, aha_vpool_stats_t *out);

#endif
