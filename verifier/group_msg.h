/* verifier/group_msg.h — a sampled group as the wire message proto/aha.proto Group.
 *
 * aha_group_msg_t owns every array its Aha__Group points to; the message is valid until
 * aha_group_msg_destroy. Layout (see aha.proto): samples concatenated, behaviour log-probs of
 * the response tokens only, the routing record of every fed position (all but the last token of
 * each sample) ordered [sample][position][layer][k]. */
#ifndef AHA_VERIFIER_GROUP_MSG_H
#define AHA_VERIFIER_GROUP_MSG_H
#include "model/rollout.h"
#include "core/wire.h"
#include "tasks/task.h"

typedef struct aha_group_msg {
    Aha__Group group;
    Aha__Problem problem;
    char kind[16];
    char actor[64];
} aha_group_msg_t;

/* Builds the message for rows 0..r->n-1 of rollout R: sample s is row s (sample_index s), for
 * problem PROB (addition / countdown) of id PROMPT_ID, sampled by ACTOR with weights VERSION.
 * The routing record is included iff R recorded one. *out owned by the caller. */
int aha_group_msg_from_rollout(const aha_rollout_t *r, uint64_t lease_id, uint64_t prompt_id,
                               uint64_t version, const aha_reward_problem_t *prob,
                               const char *actor, aha_group_msg_t **out);
void aha_group_msg_destroy(aha_group_msg_t **m);

/* The inverse: fills rollout R (made for the same model: r->n == samples, r->max_len >= every
 * total_len, routing record iff R has one and G carries one) from group G, which must have
 * passed aha_wire_check. Sample s becomes row sample_index[s]; rows are then exactly what
 * aha_generate would have left. AHA_ERR_ARG on a shape mismatch (R untouched). */
int aha_group_msg_to_rollout(const Aha__Group *g, aha_rollout_t *r);

#endif
