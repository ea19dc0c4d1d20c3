/* learner/trainer.h — the GRPO trainer loop as a library (docs/rl.md): one call per step gathers
 * the step's groups (from the lease coordinator's actors, else sampled in process), scores them
 * (through the verifier pool, else in process), builds the batch (learner/group_batch.h) and runs
 * the update (learner/grpo.h). `aha train` drives it; the MPI learner ranks will too.
 *
 * A step s: the learning rate of the warmup schedule; publish the weights as version s (with a
 * coordinator); then waves of training prompts, in order from the data cursor: a wave is leased to
 * the actors at once, and its groups are consumed one by one, exactly as in-process sampling
 * would, until the batch holds prompts_per_step groups (dynamic sampling may offer up to
 * max_resample_rounds * prompts_per_step more). A group no actor delivered is sampled in process
 * with the CONFIG's sampler. Which process sampled or scored a group never changes the numbers:
 * a fixed seed gives the same weights with or without actors and verifiers.
 *
 * Bounded staleness (max_staleness k >= 1): the groups of step s are sampled with the weights of
 * version max(0, s - k) exactly — by the actors (leases name the version; the coordinator keeps
 * the last k + 1 versions) or in process from the trainer's own copy of that version — so the
 * numbers still do not depend on timing or on how many actors there are. Before each update the
 * prompts of the next k steps are wanted ahead (assuming prompts_per_step each) and the
 * coordinator serves the actors in a background thread while the learner trains.
 *
 * Rank-0 pieces are optional and borrowed: the coordinator and the verifier pool (ZeroMQ), and
 * the metrics file (aha_trainer_metrics); checkpoints (aha_trainer_checkpoint) are
 * learner/run_state.h directories.
 *
 * Ownership: the trainer owns the model it is given, its optimizer, batch and sampling buffers;
 * it borrows the coordinator, the pool, the sandbox and the sampler context (they must outlive
 * it). One thread. */
#ifndef AHA_LEARNER_TRAINER_H
#define AHA_LEARNER_TRAINER_H
#include "core/metrics.h"
#include "core/curve.h"
#include "learner/coordinator.h"
#include "learner/group_batch.h"
#include "learner/grpo.h"
#include "learner/verifier_pool.h"
#include "model/model.h"
#include "model/rollout.h"
#include "tasks/train_group.h"
#include "verifier/reward.h"
#include "verifier/sandbox.h"

/* In-process sampling of a group: rows of R from prompts[b][0..prompt_lens[b]) with model M, KV
 * (R->n rows) and rngs[b] (e.g. actor/rollout.h aha_generate with the run's sampling settings). */
typedef int (*aha_trainer_sample_fn)(void *ctx, const aha_model_t *m, aha_kv_t *kv,
                                     const int *const *prompts, const int *prompt_lens,
                                     aha_rng_t *rngs, aha_rollout_t *r);

typedef struct {
    aha_grpo_config_t grpo;         /* loss, epochs, minibatches, r3, temperature, lr, AdamW ... */
    aha_group_batch_config_t batch; /* advantage normalisation, dynamic sampling */
    int steps;                      /* of the run: the warmup is warmup_frac * steps */
    double warmup_frac;             /* linear warmup to grpo.lr */
    int prompts_per_step;           /* groups per update */
    int group_size;                 /* G <= AHA_GROUP_MAX */
    int max_resample_rounds;        /* with batch.dynamic_sampling */
    int record_experts;             /* keep the rollout's routing record (R3) */
    aha_train_set_t train;          /* training prompts, reward problems, RNG streams */
    aha_reward_config_t reward;     /* the rules, for in-process scoring */
    const aha_sandbox_config_t *sandbox; /* user verifier command, or NULL */
    int random_reward;                   /* control: reward a fair coin (seed, prompt, sample) */
    int lease_ms;                        /* per lease; a wave waits at most 4x */
    int max_staleness; /* k: the groups of step s are sampled with version max(0, s - k) */
    aha_trainer_sample_fn sample; /* in-process sampling (required) */
    void *sample_ctx;
    aha_coord_t *coord; /* actors, or NULL */
    aha_vpool_t *vpool; /* verifiers, or NULL */
} aha_trainer_config_t;

/* What one step did. Means are over the scored samples (NaN if none was scored). */
typedef struct {
    int version; /* updates done: the step's number, 1-based */
    int n_scored;
    double reward_mean, accuracy, format_rate, language, overlong, response_len_mean;
    double reflection; /* share of responses with the self-check marker (verifier/reward.h) */
    aha_grpo_stats_t grpo; /* zero if the batch was empty */
    int n_seq, n_tokens;   /* of the batch */
    int groups_used, groups_seen, groups_zero_std;
    double sample_s, train_s, step_s; /* wall time of sampling, of the update, of the step */
    double score_s;                   /* wall time of scoring (all groups of a wave at once) */
    double staleness;                 /* versions between the sampling weights and the policy */
} aha_trainer_stats_t;

typedef struct aha_trainer aha_trainer_t;

/* A trainer of *model (taken: *model is NULLed on success) with CFG (copied). With grpo.loss.beta
 * > 0 the model's current weights become the KL reference. *out written only on success. */
int aha_trainer_new(const aha_trainer_config_t *cfg, aha_model_t **model, aha_trainer_t **out);
/* Frees everything the trainer owns. NULL-safe; NULLs *t. */
void aha_trainer_destroy(aha_trainer_t **t);

/* Attaches the rank-0 servers COORD (actors) and VPOOL (verifiers) for the following steps
 * (borrowed; NULL: sample / score in process), replacing cfg->coord and cfg->vpool. */
void aha_trainer_set_servers(aha_trainer_t *t, aha_coord_t *coord, aha_vpool_t *vpool);
/* Counts the CURVE handshakes the servers' ZAP handler ZAP refused (unknown client keys; borrowed,
 * NULL: none) in the run's counters as curve_refused. */
void aha_trainer_set_zap(aha_trainer_t *t, const aha_zap_t *zap);

/* Data parallel over the ranks of D (learner/dist.h; borrowed, NULL or one rank: alone). Rank 0
 * gathers and scores the step's groups as above and broadcasts the batch; every rank then runs
 * its share of the update (aha_grpo_set_dist) and ends the step with the same weights. Only rank
 * 0 may have servers. */
struct aha_dist;
int aha_trainer_set_dist(aha_trainer_t *t, const struct aha_dist *d);

/* Restores the policy, optimizer, step and data cursor of checkpoint DIR (learner/run_state.h);
 * the KL reference stays the weights the trainer was made with. With max_staleness k > 0 also
 * the weights of the versions the next k steps sample from (DIR/versions; AHA_ERR_IO naming a
 * missing file, AHA_ERR_FORMAT a truncated or corrupt one); the next step publishes them to the
 * coordinator before its own version, so the run continues bit-exactly. */
int aha_trainer_resume(aha_trainer_t *t, const char *dir);
/* Runs the next step (aha_trainer_steps_done + 1) and fills *out (if not NULL). */
int aha_trainer_step(aha_trainer_t *t, aha_trainer_stats_t *out);
/* Writes the run state after the steps done into DIR (learner/run_state.h), with k > 0 the
 * weights of the last k versions before the current one first (older version files of DIR are
 * removed after state.json is written). Data parallel (aha_trainer_set_dist): a collective that
 * every rank calls with the same DIR; each writes its optimizer shard, rank 0 the rest, and the
 * directory is swapped in only when every rank's shard is written. Resume likewise reads the
 * shards on every rank (any rank count: re-sharded on load). */
int aha_trainer_checkpoint(aha_trainer_t *t, const char *dir);

/* The step's columns of the metrics row (docs/rl.md; the caller ends the row): rewards, loss
 * statistics, timing, the coordinator's and the pool's counters, the routed expert load. */
int aha_trainer_metrics(const aha_trainer_t *t, const aha_trainer_stats_t *s, aha_metrics_t *m);

/* Updates done so far. */
int aha_trainer_steps_done(const aha_trainer_t *t);
/* The next training prompt id (the data cursor). */
uint64_t aha_trainer_next_prompt(const aha_trainer_t *t);
/* One line of the run's cumulative counters ("actor_groups N, groups_dropped_stale N, ...": the
 * metrics.jsonl columns of the same names, kept across --resume in the checkpoint's
 * counters.json), for the end-of-run summary. */
int aha_trainer_summary(const aha_trainer_t *t, char *buf, size_t cap);
/* Groups delivered by actors that did not fit the rollout (dropped, sampled by the learner). */
uint64_t aha_trainer_groups_unfit(const aha_trainer_t *t);
/* The policy (borrowed: valid until aha_trainer_destroy). */
aha_model_t *aha_trainer_model(aha_trainer_t *t);

#endif
