/* verifier/worker.h — the verifier worker: a process that scores sampled groups with the rule
 * rewards of verifier/reward.h and sends them back (docs/rl.md, Verifier processes).
 *
 * Protocol (core/wire.h envelopes over one DEALER socket connected to the broker's ROUTER):
 *   -> Hello {role "verifier", name, version, reward_kinds ["addition", "countdown"]}
 *   <- Group ...            -> ScoredGroup {group, total/format/accuracy/language/overlong per
 *                              sample, verifier "name@version"}   (one reply per group, in order)
 *   -> Heartbeat {in_flight 0, done}   whenever heartbeat_ms pass without traffic
 *   <- Control {command "stop"}        -> the worker returns
 * Groups that fail the wire checks are dropped and counted (core/wire.h); a group whose problem
 * the rules cannot judge (unknown kind) is scored 0 on accuracy like any wrong answer. Scoring a
 * sample is bounded in time and memory (verifier/reward.h), so a worker cannot hang on any input.
 * Sample s's response is tokens[prompt_len[s] .. total_len[s]) decoded with model/tokenizer.h,
 * and its length for the overlong term is total_len[s] - prompt_len[s]. */
#ifndef AHA_VERIFIER_WORKER_H
#define AHA_VERIFIER_WORKER_H
#include "core/link.h"
#include "core/wire.h"
#include "verifier/msg_check.h"
#include "verifier/reward.h"
#include "verifier/sandbox.h"
#include <signal.h>
#include <stdint.h>

typedef struct {
    const char *endpoint; /* the broker's ROUTER, e.g. "tcp://127.0.0.1:5555" */
    const char *name;     /* e.g. "rules" */
    const char *version;  /* e.g. "1"; replies carry "name@version" */
    aha_reward_config_t reward;
    const aha_sandbox_config_t *sandbox; /* user verifier command for the accuracy, or NULL */
    aha_msg_limits_t limits;             /* content checks on received groups */
    size_t max_bytes;                    /* wire cap (>= 1024) */
    int heartbeat_ms;                    /* > 0 */
    /* liveness of the broker (ZMTP heartbeats every heartbeat_ms), CURVE, stop flag */
    aha_link_t link;
} aha_verifier_config_t;

typedef struct {
    uint64_t groups, samples, heartbeats;
    aha_sandbox_stats_t sandbox;
    aha_wire_stats_t wire; /* what the socket accepted and dropped */
} aha_verifier_stats_t;

/* Fills *cfg with name "rules", version "1", the default reward recipe, limits for the model
 * vocabulary (no routing-record constraints), max_bytes 64 MiB, heartbeat_ms 1000, the default
 * link (core/link.h aha_link_default); endpoint NULL (must be set). */
void aha_verifier_config_default(aha_verifier_config_t *cfg);

/* Runs the worker in ZCTX until a Control "stop" arrives or *cfg->link.stop is set. Returns AHA_OK
 * then, or an error if the socket cannot be set up or ZeroMQ fails. *stats (if not NULL) is
 * written before returning, also on error. */
int aha_verifier_serve(void *zctx, const aha_verifier_config_t *cfg, aha_verifier_stats_t *stats);

/* Scores every sample of group G into the arrays of SG (allocated with malloc, n = samples each;
 * free with aha_verifier_scores_free); SG->group is set to G, SG->verifier to VERIFIER (not
 * copied). G must have passed aha_msg_check. With SANDBOX (may be NULL) the accuracy of every
 * sample comes from that user command (verifier/sandbox.h; counted in SB_STATS) instead of the
 * rules; format, language and overlong stay the rules', and correct_requires_format still
 * applies. */
int aha_verifier_score_group(const aha_reward_config_t *reward, const aha_sandbox_config_t *sandbox,
                             aha_sandbox_stats_t *sb_stats, const Aha__Group *g,
                             const char *verifier, Aha__ScoredGroup *sg);
void aha_verifier_scores_free(Aha__ScoredGroup *sg);

/* The reward-library view of a wire Problem; AHA_ERR_FORMAT for an unknown kind or too many
 * numbers (*out untouched). */
int aha_verifier_problem(const Aha__Problem *p, aha_reward_problem_t *out);

#endif
