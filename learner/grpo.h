/* learner/grpo.h — one GRPO optimisation step on a batch of scored groups (single process; the
 * distributed learner reuses it per rank).
 *
 * A batch is n_seq rows (groups laid out consecutively, group_size rows each). Row b holds
 * tokens[b*max_len ..] = prompt (prompt_len[b]) + response (up to total_len[b]), the behaviour
 * log-prob of each response token (recorded by the sampler at the same temperature), optionally the
 * routing record of the rollout (R3), and an advantage. aha_grpo_step runs `epochs` passes over the
 * batch split into `minibatches`, each: forward (replaying the rollout's experts when r3),
 * log-probs of the response tokens at the sampling temperature, the configured policy-gradient
 * loss, backward, grad clipping, AdamW, and the aux-loss-free bias update. The trainer owns its
 * scratch buffers, the optimizer and the optional frozen reference model. */
#ifndef AHA_LEARNER_GRPO_H
#define AHA_LEARNER_GRPO_H
#include "learner/optim.h"
#include "learner/pg_loss.h"
#include "model/model.h"

typedef struct {
    aha_loss_config_t loss;
    int epochs, minibatches;
    int r3;             /* replay the rollout's expert ids in the training forward */
    double temperature; /* sampling temperature (log-probs are computed at it) */
    double lr, grad_clip;
    aha_adamw_config_t adamw;
    int update_expert_bias; /* continue aux-loss-free balancing during RL */
    int on_nonfinite;       /* a non-finite loss or gradient norm: AHA_NONFINITE_STOP / _SKIP */
    int expert_parallel;    /* with ranks (aha_grpo_set_dist): routed experts split over them */
} aha_grpo_config_t;

/* What a minibatch with a non-finite loss or gradient norm does: STOP fails the step with
 * AHA_ERR_RANGE before the weights change (nothing is applied, so nothing non-finite can be
 * saved); SKIP drops that minibatch's update and counts it in aha_grpo_stats_t.n_nonfinite. */
enum { AHA_NONFINITE_STOP = 0, AHA_NONFINITE_SKIP = 1 };

typedef struct {
    int n_seq, max_len;
    const int *tokens;       /* [n_seq*max_len] */
    const int *prompt_len;   /* [n_seq] */
    const int *total_len;    /* [n_seq] */
    const float *behav_logp; /* [n_seq*max_len], at response positions */
    const int *expert_ids;   /* [n_layers*n_seq*max_len*top_k] rollout routing record, or NULL */
    const float *adv;        /* [n_seq] */
} aha_rl_batch_t;

typedef struct {
    double loss, pg_loss, kl, clip_frac, entropy, grad_norm, ratio_mean, approx_kl;
    double logp_diff_max; /* max |logp - behav_logp| on the first pass (rollout/train mismatch) */
    int n_tokens, n_updates;
    int n_nonfinite; /* minibatches skipped for a non-finite loss or gradient norm */
} aha_grpo_stats_t;

typedef struct aha_grpo aha_grpo_t;

/* Creates a trainer for model M (borrowed; must outlive it) with rows up to max_rows x max_len.
 * If cfg->loss.beta > 0 a frozen copy of M's current weights becomes the KL reference. The
 * scratch buffers are one allocation made here. AHA_ERR_ARG for NULL arguments or sizes <= 0,
 * AHA_ERR_NOMEM; *out written only on success. */
int aha_grpo_new(aha_model_t *m, const aha_grpo_config_t *cfg, int max_rows, int max_len,
                 aha_grpo_t **out);
void aha_grpo_destroy(aha_grpo_t **g);
/* Routed-token counts [n_layers * E] of the last update's forward. */
const float *aha_grpo_expert_load(const aha_grpo_t *g);
/* Routing record [n_layers * B * T * top_k] of the last update's forward, in the layout of that
 * minibatch (B rows, T = its longest row - 1); -1 at padding. */
const int *aha_grpo_expert_ids(const aha_grpo_t *g);
/* Optimizer (for checkpointing): with more than one rank its shard (aha_adamw_t offset, n). */
aha_adamw_t *aha_grpo_optimizer(aha_grpo_t *g);

/* Data parallel (learner/dist.h): the following steps split each minibatch into whole groups of
 * GROUP_SIZE rows across the ranks of D (borrowed; NULL or one rank: this process alone) and sum
 * gradients, expert load and statistics over them. With more than one rank the optimizer becomes
 * this rank's ZeRO-1 shard (aha_dist_shard of the parameters): the gradient is reduce-scattered,
 * the shard updated and the parameters allgathered, so after a step m->grads is the summed
 * gradient on the shard only. AHA_ERR_NOMEM; AHA_ERR_STATE if the optimizer has taken steps and
 * the new shard needs moments it does not hold. With cfg->expert_parallel and a MoE model the
 * routed experts are also split over the ranks (learner/dist.h, expert parallel); AHA_ERR_CONFIG
 * if there are fewer routed experts than ranks. */
struct aha_dist;
int aha_grpo_set_dist(aha_grpo_t *g, const struct aha_dist *d, int group_size);

/* Expert parallel: bytes of expert rows this rank has sent to other ranks (0 without it). */
double aha_grpo_ep_bytes(const aha_grpo_t *g);

/* Learning rate of the following steps (schedules). */
void aha_grpo_set_lr(aha_grpo_t *g, double lr);

/* Runs the update on BATCH; fills stats (averaged over updates). */
int aha_grpo_step(aha_grpo_t *g, const aha_rl_batch_t *batch, aha_grpo_stats_t *stats);

/* Log-probs at temperature TAU: for each of n_pos logits rows [V] with targets[i] >= 0,
 * logp_out[i] = log_softmax(logits[i] / tau)[targets[i]] and, if entropy_out, the entropy of that
 * distribution (rows with targets[i] < 0 get 0). */
void aha_gather_logp(const float *logits, const int *targets, int n_pos, int V, float tau,
                     float *logp_out, float *entropy_out);

/* Adds to dlogits the chain rule of d loss / d logp through aha_gather_logp:
 * dlogits[i][v] += dlogp[i] * (1[v == targets[i]] - softmax(logits[i]/tau)[v]) / tau. */
void aha_logp_backward(const float *logits, const int *targets, const float *dlogp, int n_pos,
                       int V, float tau, float *dlogits);

#endif
