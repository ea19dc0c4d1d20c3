#include "learner/pg_loss.h"
#include "core/err.h"
#include <math.h>
#include <string.h>

void aha_loss_config_default(aha_loss_kind_t kind, aha_loss_config_t *c) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->eps_low = 0.2;
    c->eps_high = kind == AHA_LOSS_DAPO ? 0.28 : 0.2;
    c->gspo_eps_low = 3e-4;
    c->gspo_eps_high = 4e-4;
    c->max_len = 64;
    c->off_policy = AHA_OFFPOL_CLIP;
    c->is_cap = 2.0;
}

static const char *const op_names[] = {"clip", "tis", "decoupled"};

int aha_off_policy_parse(const char *name, aha_off_policy_t *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, op_names[i])) {
            *out = (aha_off_policy_t)i;
            return AHA_OK;
        }
    return AHA_FAIL(AHA_ERR_CONFIG, "unknown off-policy correction '%s' (clip, tis, decoupled)",
                    name);
}

const char *aha_off_policy_name(aha_off_policy_t mode) {
    return (unsigned)mode < 3 ? op_names[mode] : "?";
}

static const char *const k_names[] = {"grpo", "dr_grpo", "dapo", "gspo"};

int aha_loss_kind_parse(const char *name, aha_loss_kind_t *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, k_names[i])) {
            *out = (aha_loss_kind_t)i;
            return AHA_OK;
        }
    return AHA_FAIL(AHA_ERR_CONFIG, "unknown loss '%s' (grpo, dr_grpo, dapo, gspo)", name);
}

const char *aha_loss_kind_name(aha_loss_kind_t kind) {
    return (unsigned)kind < 4 ? k_names[kind] : "?";
}

/* d/dlp of -min(r A, clip(r) A) for r = exp(lp - old); sets *clipped. */
static double token_surrogate(double lp, double old, double A, double lo, double hi, double *dlp,
                              int *clipped) {
    double r = exp(lp - old);
    double rc = r < lo ? lo : (r > hi ? hi : r);
    double unclipped = r * A, cl = rc * A;
    *clipped = cl < unclipped; /* the clipped branch is the min and it is flat */
    if (*clipped) {
        *dlp = 0;
        return -cl;
    }
    *dlp = -r * A;
    return -unclipped;
}

int aha_pg_loss(const aha_loss_config_t *cfg, const aha_pg_batch_t *b, float *dlogp,
                aha_pg_stats_t *stats) {
    if (b->n_seq <= 0 || !b->seq_start || b->seq_start[0] != 0)
        return AHA_FAIL(AHA_ERR_ARG, "pg_loss: empty or malformed batch");
    if (cfg->beta != 0 && !b->logp_ref)
        return AHA_FAIL(AHA_ERR_ARG, "pg_loss: beta > 0 needs logp_ref");
    if ((unsigned)cfg->off_policy > AHA_OFFPOL_DECOUPLED ||
        (cfg->off_policy == AHA_OFFPOL_DECOUPLED && !b->logp_prox) ||
        (cfg->off_policy == AHA_OFFPOL_TIS && !(cfg->is_cap > 0)) ||
        (cfg->kind == AHA_LOSS_GSPO && cfg->off_policy != AHA_OFFPOL_CLIP))
        return AHA_FAIL(AHA_ERR_ARG, "pg_loss: off-policy '%s' with loss %s (is_cap %g, %s)",
                        aha_off_policy_name(cfg->off_policy), aha_loss_kind_name(cfg->kind),
                        cfg->is_cap, b->logp_prox ? "proximal log-probs" : "no proximal log-probs");
    for (int i = 0; i < b->n_seq; i++)
        if (b->seq_start[i + 1] < b->seq_start[i])
            return AHA_FAIL(AHA_ERR_ARG, "pg_loss: seq_start not monotonic at %d", i);
    const int n_tok = b->seq_start[b->n_seq];
    const double lo = 1.0 - cfg->eps_low, hi = 1.0 + cfg->eps_high;
    double loss = 0, pg = 0, kl_sum = 0, ratio_sum = 0;
    int n_clip = 0;

    if (cfg->kind == AHA_LOSS_GSPO) {
        const double glo = 1.0 - cfg->gspo_eps_low, ghi = 1.0 + cfg->gspo_eps_high;
        for (int i = 0; i < b->n_seq; i++) {
            int s = b->seq_start[i], e = b->seq_start[i + 1], n = e - s;
            if (n == 0) continue;
            double mean = 0;
            for (int t = s; t < e; t++)
                mean += (double)b->logp[t] - b->logp_old[t];
            mean /= n;
            double sr = exp(mean), A = b->adv[i];
            double src = sr < glo ? glo : (sr > ghi ? ghi : sr);
            int clipped = src * A < sr * A;
            double li = -(clipped ? src * A : sr * A) / b->n_seq;
            double dl = clipped ? 0 : -A * sr / n / b->n_seq;
            for (int t = s; t < e; t++)
                dlogp[t] = (float)dl;
            pg += li;
            n_clip += clipped;
            ratio_sum += sr;
        }
        stats->clip_frac = (double)n_clip / b->n_seq;
        stats->ratio_mean = ratio_sum / b->n_seq;
    } else {
        for (int i = 0; i < b->n_seq; i++) {
            int s = b->seq_start[i], e = b->seq_start[i + 1], n = e - s;
            if (n == 0) continue;
            /* weight of one token in the aggregate */
            double w = cfg->kind == AHA_LOSS_GRPO ? 1.0 / ((double)n * b->n_seq)
                       : cfg->kind == AHA_LOSS_DAPO
                           ? 1.0 / n_tok
                           : 1.0 / ((double)b->n_seq * (cfg->max_len > 0 ? cfg->max_len : 1));
            for (int t = s; t < e; t++) {
                double d;
                int clipped;
                double l;
                if (cfg->off_policy == AHA_OFFPOL_TIS) {
                    /* -sg(min(r, C) / r) r A: value and gradient -min(r, C) A */
                    double r = exp((double)b->logp[t] - b->logp_old[t]);
                    clipped = r > cfg->is_cap;
                    double wr = clipped ? cfg->is_cap : r;
                    l = -wr * b->adv[i];
                    d = -wr * b->adv[i];
                } else if (cfg->off_policy == AHA_OFFPOL_DECOUPLED) {
                    /* clip against the proximal policy, weighted by proximal / behaviour */
                    double wb = exp((double)b->logp_prox[t] - b->logp_old[t]);
                    l = wb * token_surrogate(b->logp[t], b->logp_prox[t], b->adv[i], lo, hi, &d,
                                             &clipped);
                    d *= wb;
                } else {
                    l = token_surrogate(b->logp[t], b->logp_old[t], b->adv[i], lo, hi, &d,
                                        &clipped);
                }
                pg += w * l;
                d *= w;
                n_clip += clipped;
                ratio_sum += exp((double)b->logp[t] - b->logp_old[t]);
                dlogp[t] = (float)d;
            }
        }
        stats->clip_frac = n_tok ? (double)n_clip / n_tok : 0;
        stats->ratio_mean = n_tok ? ratio_sum / n_tok : 0;
    }
    double akl = 0;
    for (int t = 0; t < n_tok; t++) {
        double x = (double)b->logp[t] - b->logp_old[t];
        akl += exp(x) - 1 - x;
    }
    stats->approx_kl = n_tok ? akl / n_tok : 0;
    loss = pg;
    /* k3 KL to the reference, aggregated like the surrogate (gspo: like grpo) */
    if (b->logp_ref) {
        for (int i = 0; i < b->n_seq; i++) {
            int s = b->seq_start[i], e = b->seq_start[i + 1], n = e - s;
            if (n == 0) continue;
            double w = cfg->kind == AHA_LOSS_DAPO ? 1.0 / n_tok
                       : cfg->kind == AHA_LOSS_DR_GRPO
                           ? 1.0 / ((double)b->n_seq * (cfg->max_len > 0 ? cfg->max_len : 1))
                           : 1.0 / ((double)n * b->n_seq);
            for (int t = s; t < e; t++) {
                double x = (double)b->logp_ref[t] - b->logp[t]; /* log(pi_ref / pi) */
                double k3 = exp(x) - x - 1;
                kl_sum += k3;
                if (cfg->beta != 0) {
                    loss += cfg->beta * w * k3;
                    /* d k3 / d logp = -exp(x) + 1 */
                    dlogp[t] += (float)(cfg->beta * w * (1.0 - exp(x)));
                }
            }
        }
    }
    stats->loss = loss;
    stats->pg_loss = pg;
    stats->kl = n_tok ? kl_sum / n_tok : 0;
    stats->n_tokens = n_tok;
    return AHA_OK;
}

void aha_group_advantages(const float *r, int G, int normalize_std, float eps, float *adv) {
    double mean = 0, var = 0;
    for (int i = 0; i < G; i++)
        mean += r[i];
    mean /= G;
    for (int i = 0; i < G; i++)
        var += (r[i] - mean) * (r[i] - mean);
    double sd = sqrt(var / G);
    for (int i = 0; i < G; i++) {
        if (var == 0)
            adv[i] = 0;
        else
            adv[i] = (float)(normalize_std ? (r[i] - mean) / (sd + eps) : r[i] - mean);
    }
}
