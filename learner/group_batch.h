/* learner/group_batch.h — assembles scored groups into the batch aha_grpo_step trains on.
 *
 * Each group is one rollout of G rows (the same prompt) plus G rewards. Adding a group computes
 * its advantages and copies tokens, behaviour log-probs and (if recorded) the routing record into
 * the next free slot. With drop_zero_std (DAPO dynamic sampling) a group whose rewards are all
 * equal carries no signal and is refused, so the caller samples more until the batch is full.
 * The batch owns its buffers; views returned by aha_group_batch_view stay valid until the next add
 * or reset. */
#ifndef AHA_LEARNER_GROUP_BATCH_H
#define AHA_LEARNER_GROUP_BATCH_H
#include "model/rollout.h"
#include "learner/grpo.h"

typedef struct aha_group_batch aha_group_batch_t;

typedef struct {
    int normalize_std; /* advantages (r - mean) / (std + eps), else r - mean */
    float adv_eps;
    int drop_zero_std; /* dynamic sampling */
} aha_group_batch_config_t;

/* Room for n_groups groups of G rows of max_len tokens; routing record kept if record_experts
 * and the model has routed experts (n_layers, top_k as in the rollouts). */
int aha_group_batch_new(int n_groups, int G, int max_len, int n_layers, int top_k,
                        int record_experts, const aha_group_batch_config_t *cfg,
                        aha_group_batch_t **out);
void aha_group_batch_destroy(aha_group_batch_t **b);
/* Empties the batch (counters of groups seen / dropped too). */
void aha_group_batch_reset(aha_group_batch_t *b);

/* Adds group RO (ro->n == G rows, same max_len) with REWARDS[G]. Returns 1 if kept, 0 if
 * dropped (zero variance with drop_zero_std), AHA_ERR_STATE if the batch is full or has been
 * viewed since the last reset, AHA_ERR_ARG on a shape mismatch. */
int aha_group_batch_add(aha_group_batch_t *b, const aha_rollout_t *ro, const float *rewards);

int aha_group_batch_full(const aha_group_batch_t *b);
int aha_group_batch_groups(const aha_group_batch_t *b);   /* groups kept */
int aha_group_batch_seen(const aha_group_batch_t *b);     /* groups offered */
int aha_group_batch_zero_std(const aha_group_batch_t *b); /* offered groups with zero variance */

/* The kept groups as a training batch (routing record compacted to the kept rows). */
void aha_group_batch_view(aha_group_batch_t *b, aha_rl_batch_t *out);

#endif
