/* learner/pg_loss.h — policy-gradient losses of the GRPO family on per-token log-probs.
 *
 * The caller flattens the response tokens of n_seq sequences: sequence i owns tokens
 * [seq_start[i], seq_start[i+1]). Given the current policy's log-probs (logp), the behaviour
 * log-probs recorded at sampling time (logp_old), optionally a frozen reference's (logp_ref) and
 * one advantage per sequence, aha_pg_loss() returns the loss and writes d loss / d logp for every
 * token; the model's backward turns that into parameter gradients (see aha_pg_dlogits).
 *
 *   grpo     per-token ratio r = exp(logp - logp_old), surrogate min(r A, clip(r, 1-eps_low,
 *            1+eps_high) A); mean over each sequence's tokens, then over sequences; plus
 *            beta * k3 KL (exp(ref - logp) - (ref - logp) - 1) aggregated the same way.
 *   dr_grpo  same surrogate, token sums divided by a constant (n_seq * max_len): no length bias.
 *            (Advantages without std normalisation: aha_group_advantages(normalize_std = 0).)
 *   dapo     clip-higher (eps_low 0.2, eps_high 0.28 by default) and one token-level mean over
 *            all tokens of the batch.
 *   gspo     sequence ratio s = exp(mean_t(logp - logp_old)), surrogate
 *            min(s A, clip(s, 1-gspo_eps_low, 1+gspo_eps_high) A), mean over sequences.
 *
 * Off-policy correction (cfg->off_policy; docs/rl.md, Off-policy), for the token-level kinds
 * (grpo, dr_grpo, dapo), with b = behaviour log-prob (logp_old) and p = proximal log-prob
 * (logp_prox: the current policy before this step's update, a constant):
 *   clip       the surrogate above, r = exp(logp - b) (PPO clipped against the behaviour policy).
 *   tis        truncated importance sampling: token loss -sg(min(r, is_cap) / r) * r * A, i.e.
 *              the policy gradient -min(r, is_cap) A d logp with the weight held constant; no
 *              clipping. clip_frac counts truncated tokens.
 *   decoupled  AReaL's decoupled PPO: token loss -w min(q A, clip(q, 1-eps_low, 1+eps_high) A)
 *              with q = exp(logp - p) and the constant weight w = exp(p - b) (proximal /
 *              behaviour). Needs logp_prox.
 * gspo supports clip only. With logp == logp_prox == logp_old all three give the same loss and
 * gradient. Pure functions; nothing allocated. */
#ifndef AHA_LEARNER_PG_LOSS_H
#define AHA_LEARNER_PG_LOSS_H
#include <stddef.h>

typedef enum { AHA_LOSS_GRPO = 0, AHA_LOSS_DR_GRPO, AHA_LOSS_DAPO, AHA_LOSS_GSPO } aha_loss_kind_t;

typedef enum { AHA_OFFPOL_CLIP = 0, AHA_OFFPOL_TIS, AHA_OFFPOL_DECOUPLED } aha_off_policy_t;

typedef struct {
    aha_loss_kind_t kind;
    aha_off_policy_t off_policy; /* correction of behaviour / current mismatch (default clip) */
    double is_cap;               /* tis: truncation of the importance weight (default 2) */
    double eps_low, eps_high;    /* token ratio clip range (grpo, dr_grpo, dapo) */
    double gspo_eps_low, gspo_eps_high; /* sequence ratio clip range (gspo) */
    double beta;                        /* KL coefficient; 0 = no reference needed */
    int max_len;                        /* dr_grpo's constant normaliser (max response tokens) */
} aha_loss_config_t;

/* Defaults for a kind: grpo/dr_grpo eps 0.2/0.2, dapo 0.2/0.28, gspo 3e-4/4e-4, beta 0. */
void aha_loss_config_default(aha_loss_kind_t kind, aha_loss_config_t *cfg);
/* "grpo" | "dr_grpo" | "dapo" | "gspo" -> kind; AHA_ERR_CONFIG otherwise. */
int aha_loss_kind_parse(const char *name, aha_loss_kind_t *out);
const char *aha_loss_kind_name(aha_loss_kind_t kind);
/* "clip" | "tis" | "decoupled" -> mode; AHA_ERR_CONFIG otherwise. */
int aha_off_policy_parse(const char *name, aha_off_policy_t *out);
const char *aha_off_policy_name(aha_off_policy_t mode);

typedef struct {
    int n_seq;
    const int *seq_start;   /* [n_seq + 1], non-decreasing, seq_start[0] = 0 */
    const float *logp;      /* [n_tok] current policy */
    const float *logp_old;  /* [n_tok] behaviour policy */
    const float *logp_ref;  /* [n_tok] reference policy, or NULL (requires beta == 0) */
    const float *adv;       /* [n_seq] */
    const float *logp_prox; /* [n_tok] proximal policy (decoupled), or NULL */
} aha_pg_batch_t;

typedef struct {
    double loss;       /* total */
    double pg_loss;    /* surrogate part */
    double kl;         /* mean k3 KL per token (0 without reference) */
    double clip_frac;  /* share of tokens (gspo: of sequences) whose ratio was clipped */
    double ratio_mean; /* mean token ratio to the behaviour policy (gspo: sequence ratio) */
    double approx_kl;  /* mean of r - 1 - log r: k3 estimate of KL(behaviour || current) */
    int n_tokens;
} aha_pg_stats_t;

/* Computes the loss and writes dlogp[n_tok] = d loss / d logp; AHA_ERR_ARG on inconsistent input
 * (also: decoupled without logp_prox, tis with is_cap <= 0, gspo with another mode than clip). */
int aha_pg_loss(const aha_loss_config_t *cfg, const aha_pg_batch_t *batch, float *dlogp,
                aha_pg_stats_t *stats);

/* Group-relative advantages of G rewards: (r - mean) / (std + eps) if normalize_std (population
 * std, as DeepSeek's GRPO), else r - mean (Dr. GRPO). A zero-variance group gets all zeros. */
void aha_group_advantages(const float *rewards, int G, int normalize_std, float eps, float *adv);

#endif
