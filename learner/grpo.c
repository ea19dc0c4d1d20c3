#include "learner/grpo.h"
#include "core/err.h"
#include "core/mem.h"
#include "learner/dist.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct aha_grpo {
    aha_model_t *m;
    aha_model_t *ref; /* frozen reference (beta > 0) or NULL */
    aha_grpo_config_t cfg;
    aha_acts_t *acts;
    aha_adamw_t *opt;
    int max_rows, max_len;
    /* minibatch scratch, [max_rows * max_len] unless noted */
    int *tokens, *targets, *lengths /* [max_rows] */, *replay /* [L*rows*len*K] or NULL */;
    float *logp, *ent, *ref_logp, *dlogp_pos;
    int *seq_start; /* [max_rows + 1] */
    float *f_lp, *f_old, *f_ref, *f_dlp, *f_adv /* [max_rows] */, *f_prox;
    float *prox; /* decoupled: proximal log-probs of the whole batch, laid out like behav_logp */
    int *f_pos;  /* flat token -> position in the minibatch */
    void *work;  /* one allocation holding every buffer above */
    const aha_dist_t *dist; /* data parallel over its ranks, or NULL (learner/dist.h) */
    int group;              /* rows per group (whole groups per rank) */
    float *load;            /* [n_layers * E] expert load summed over the ranks */
    aha_dist_ep_t *ep;      /* expert parallel over the ranks of dist, or NULL */
};

/* Carves N elements of SIZE bytes (aligned to 16) from *at; with BASE NULL only counts. */
static void *carve(char *base, size_t *at, size_t n, size_t size) {
    void *p = base ? base + *at : NULL;
    *at += (n * size + 15) & ~(size_t)15;
    return p;
}

/* Lays the scratch buffers of G out in BASE (NULL: only measures); returns the bytes needed. */
static size_t layout_work(aha_grpo_t *g, char *base, size_t replay_cells) {
    const size_t cells = (size_t)g->max_rows * g->max_len, rows = (size_t)g->max_rows;
    size_t at = 0;
    g->tokens = carve(base, &at, cells, sizeof(int));
    g->targets = carve(base, &at, cells, sizeof(int));
    g->lengths = carve(base, &at, rows, sizeof(int));
    g->logp = carve(base, &at, cells, sizeof(float));
    g->ent = carve(base, &at, cells, sizeof(float));
    g->ref_logp = carve(base, &at, cells, sizeof(float));
    g->dlogp_pos = carve(base, &at, cells, sizeof(float));
    g->seq_start = carve(base, &at, rows + 1, sizeof(int));
    g->f_lp = carve(base, &at, cells, sizeof(float));
    g->f_old = carve(base, &at, cells, sizeof(float));
    g->f_ref = carve(base, &at, cells, sizeof(float));
    g->f_dlp = carve(base, &at, cells, sizeof(float));
    g->f_adv = carve(base, &at, rows, sizeof(float));
    g->f_pos = carve(base, &at, cells, sizeof(int));
    g->f_prox = carve(base, &at, cells, sizeof(float));
    g->prox = carve(base, &at, cells + rows, sizeof(float));
    g->replay = replay_cells ? carve(base, &at, replay_cells, sizeof(int)) : NULL;
    return at;
}

void aha_gather_logp(const float *logits, const int *targets, int n_pos, int V, float tau,
                     float *logp_out, float *entropy_out) {
    const float inv = 1.0f / tau;
    for (int i = 0; i < n_pos; i++) {
        if (targets[i] < 0) {
            logp_out[i] = 0;
            if (entropy_out) entropy_out[i] = 0;
            continue;
        }
        const float *z = logits + (size_t)i * V;
        double mx = -INFINITY;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, z[v] * inv);
        double sum = 0, sum_zp = 0;
        for (int v = 0; v < V; v++) {
            double e = exp(z[v] * inv - mx);
            sum += e;
            sum_zp += e * (z[v] * inv - mx);
        }
        double lse = log(sum);
        logp_out[i] = (float)(z[targets[i]] * inv - mx - lse);
        if (entropy_out) entropy_out[i] = (float)(lse - sum_zp / sum);
    }
}

void aha_logp_backward(const float *logits, const int *targets, const float *dlogp, int n_pos,
                       int V, float tau, float *dlogits) {
    const float inv = 1.0f / tau;
    for (int i = 0; i < n_pos; i++) {
        if (targets[i] < 0 || dlogp[i] == 0) continue;
        const float *z = logits + (size_t)i * V;
        float *dz = dlogits + (size_t)i * V;
        double mx = -INFINITY;
        for (int v = 0; v < V; v++)
            mx = fmax(mx, z[v] * inv);
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += exp(z[v] * inv - mx);
        const double g = dlogp[i] * inv;
        for (int v = 0; v < V; v++) {
            double p = exp(z[v] * inv - mx) / sum;
            dz[v] += (float)(g * ((v == targets[i]) - p));
        }
    }
}

int aha_grpo_new(aha_model_t *m, const aha_grpo_config_t *cfg, int max_rows, int max_len,
                 aha_grpo_t **out) {
    if (!m || !cfg || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_grpo_new: NULL argument");
    if (max_rows <= 0 || max_len <= 1 || cfg->epochs <= 0 || cfg->minibatches <= 0)
        return AHA_FAIL(AHA_ERR_ARG, "grpo: rows %d len %d epochs %d minibatches %d", max_rows,
                        max_len, cfg->epochs, cfg->minibatches);
    aha_grpo_t *g = calloc(1, sizeof *g);
    if (!g) return AHA_FAIL(AHA_ERR_NOMEM, "grpo");
    g->m = m;
    g->cfg = *cfg;
    g->max_rows = max_rows;
    g->max_len = max_len;
    int rc = AHA_OK;
    const size_t cells = (size_t)max_rows * max_len;
    const int K = m->cfg.n_routed_experts > 0 ? m->cfg.top_k : 0;
    const size_t replay_cells = cfg->r3 && K > 0 ? (size_t)m->cfg.n_layers * cells * K : 0;
    const size_t bytes = layout_work(g, NULL, replay_cells);
    g->work = calloc(1, bytes);
    if (!g->work) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "grpo buffers (%zu bytes)", bytes);
        goto fail;
    }
    layout_work(g, g->work, replay_cells);
    if (!m->grads) AHA_TRY_GOTO(rc, aha_model_alloc_grads(m), fail);
    AHA_TRY_GOTO(rc, aha_acts_new(m, max_rows, max_len, &g->acts), fail);
    AHA_TRY_GOTO(rc, aha_adamw_new(m->n_params, &g->opt), fail);
    for (size_t i = 0; i < aha_model_tensor_count(&m->cfg); i++) {
        aha_tensor_info_t ti;
        AHA_TRY_GOTO(rc, aha_model_tensor_info(&m->cfg, i, &ti), fail);
        if (ti.ndim < 2) aha_adamw_set_decay(g->opt, ti.offset, ti.numel, 0);
    }
    if (cfg->loss.beta > 0) {
        AHA_TRY_GOTO(rc, aha_model_new(&m->cfg, &g->ref), fail);
        memcpy(g->ref->params, m->params, sizeof(float) * m->n_params);
        if (m->expert_bias && g->ref->expert_bias)
            memcpy(g->ref->expert_bias, m->expert_bias,
                   sizeof(float) * (size_t)m->cfg.n_layers * m->cfg.n_routed_experts);
    }
    *out = g;
    return AHA_OK;
fail:
    aha_grpo_destroy(&g);
    return rc;
}

void aha_grpo_destroy(aha_grpo_t **gp) {
    if (!gp || !*gp) return;
    aha_grpo_t *g = *gp;
    aha_acts_destroy(&g->acts);
    aha_dist_ep_destroy(&g->ep);
    aha_adamw_destroy(&g->opt);
    aha_model_destroy(&g->ref);
    AHA_FREE(g->load, g->work, g);
    *gp = NULL;
}

aha_adamw_t *aha_grpo_optimizer(aha_grpo_t *g) {
    return g->opt;
}
void aha_grpo_set_lr(aha_grpo_t *g, double lr) {
    g->cfg.lr = lr;
}
const float *aha_grpo_expert_load(const aha_grpo_t *g) {
    return aha_dist_active(g->dist) ? g->load : aha_acts_expert_load(g->acts);
}
/* Replaces G's optimizer by the shard of [lo, lo + count) (ZeRO-1) or the whole one, carrying
 * over the moments, step count and decay mask of the range it had. */
static int reshard_optimizer(aha_grpo_t *g, size_t lo, size_t count) {
    aha_adamw_t *old = g->opt, *o = NULL;
    if (old->offset == lo && old->n == count) return AHA_OK;
    AHA_TRY(aha_adamw_new_shard(old->total, lo, count, &o));
    const size_t a = lo > old->offset ? lo : old->offset;
    const size_t b = lo + count < old->offset + old->n ? lo + count : old->offset + old->n;
    if (a < b) {
        memcpy(o->m + (a - lo), old->m + (a - old->offset), sizeof(float) * (b - a));
        memcpy(o->v + (a - lo), old->v + (a - old->offset), sizeof(float) * (b - a));
    }
    if ((a < b ? b - a : 0) != count && old->t > 0) {
        aha_adamw_destroy(&o);
        return AHA_FAIL(AHA_ERR_STATE, "grpo: the optimizer state of parameters [%zu, +%zu) is on "
                                       "another rank",
                        lo, count);
    }
    for (size_t i = 0; i < aha_model_tensor_count(&g->m->cfg); i++) {
        aha_tensor_info_t ti;
        if (aha_model_tensor_info(&g->m->cfg, i, &ti) == AHA_OK && ti.ndim < 2)
            aha_adamw_set_decay(o, ti.offset, ti.numel, 0);
    }
    o->t = old->t;
    aha_adamw_destroy(&g->opt);
    g->opt = o;
    return AHA_OK;
}

int aha_grpo_set_dist(aha_grpo_t *g, const aha_dist_t *d, int group_size) {
    if (!g || group_size < 1) return AHA_FAIL(AHA_ERR_ARG, "aha_grpo_set_dist: bad argument");
    const size_t n = (size_t)g->m->cfg.n_layers * g->m->cfg.n_routed_experts;
    if (aha_dist_active(d) && !g->load && n > 0) {
        g->load = calloc(n, sizeof(float));
        if (!g->load) return AHA_FAIL(AHA_ERR_NOMEM, "grpo expert load");
    }
    /* ZeRO-1: this rank keeps the AdamW moments of its shard of the parameters only */
    size_t lo = 0, count = g->m->n_params;
    if (aha_dist_active(d)) aha_dist_shard(d, g->m->n_params, &lo, &count);
    AHA_TRY(reshard_optimizer(g, lo, count));
    aha_dist_ep_destroy(&g->ep);
    aha_acts_set_expert_fn(g->acts, NULL, NULL);
    if (aha_dist_active(d) && g->cfg.expert_parallel && g->m->cfg.n_routed_experts > 0) {
        AHA_TRY(aha_dist_ep_new(d, &g->m->cfg, &g->ep));
        aha_acts_set_expert_fn(g->acts, aha_dist_ep_call, g->ep);
    }
    g->dist = d;
    g->group = group_size;
    return AHA_OK;
}
double aha_grpo_ep_bytes(const aha_grpo_t *g) {
    return g ? aha_dist_ep_bytes(g->ep) : 0;
}
const int *aha_grpo_expert_ids(const aha_grpo_t *g) {
    return aha_acts_expert_ids(g->acts);
}

/* Lays rows [r0, r1) of the batch out as a training minibatch: position p of row b predicts
 * token p+1; only response tokens are targets; the last token is never fed. Returns T. */
static int build_minibatch(aha_grpo_t *g, const aha_rl_batch_t *b, int r0, int r1,
                           aha_batch_t *mb) {
    const aha_model_config_t *c = &g->m->cfg;
    const int B = r1 - r0, K = c->n_routed_experts > 0 ? c->top_k : 0;
    int T = 1;
    for (int r = r0; r < r1; r++)
        if (b->total_len[r] - 1 > T) T = b->total_len[r] - 1;
    int n_flat = 0;
    g->seq_start[0] = 0;
    for (int i = 0; i < B; i++) {
        const int r = r0 + i;
        const int *row = b->tokens + (size_t)r * b->max_len;
        g->lengths[i] = b->total_len[r] - 1;
        for (int p = 0; p < T; p++) {
            int valid = p < g->lengths[i];
            g->tokens[i * T + p] = valid ? row[p] : 0;
            int is_target = valid && p + 1 >= b->prompt_len[r];
            g->targets[i * T + p] = is_target ? row[p + 1] : -1;
            if (is_target) {
                g->f_pos[n_flat] = i * T + p;
                g->f_old[n_flat] = b->behav_logp[(size_t)r * b->max_len + p + 1];
                if (g->cfg.loss.off_policy == AHA_OFFPOL_DECOUPLED)
                    g->f_prox[n_flat] = g->prox[(size_t)r * b->max_len + p + 1];
                n_flat++;
            }
        }
        g->seq_start[i + 1] = n_flat;
        g->f_adv[i] = b->adv[r];
    }
    if (g->replay && b->expert_ids) {
        for (int l = 0; l < c->n_layers; l++)
            for (int i = 0; i < B; i++)
                for (int p = 0; p < T; p++)
                    for (int k = 0; k < K; k++) {
                        int v =
                            p < g->lengths[i]
                                ? b->expert_ids[(((size_t)l * b->n_seq + r0 + i) * b->max_len + p) *
                                                    K +
                                                k]
                                : -1;
                        g->replay[(((size_t)l * B + i) * T + p) * K + k] = v;
                    }
    }
    mb->B = B;
    mb->T = T;
    mb->tokens = g->tokens;
    mb->lengths = g->lengths;
    mb->replay_ids = (g->replay && b->expert_ids) ? g->replay : NULL;
    return T;
}

/* Response tokens (training targets) of rows [r0, r1). */
static int count_targets(const aha_rl_batch_t *b, int r0, int r1) {
    int n = 0;
    for (int r = r0; r < r1; r++)
        n += b->total_len[r] - (b->prompt_len[r] > 1 ? b->prompt_len[r] : 1);
    return n;
}

/* Data parallel: sums the gradient and the routed expert load of the rank's share MB (n_flat
 * tokens; the minibatch has n_seq rows and n_tok tokens) over the ranks, and turns the share's
 * loss statistics *PS (scaled by SCALE) and entropy sum *ENT into the whole minibatch's. */
static int dp_reduce(aha_grpo_t *g, const aha_batch_t *mb, int n_flat, int n_seq, int n_tok,
                     double scale, aha_pg_stats_t *ps, double *ent) {
    aha_model_t *m = g->m;
    /* ZeRO-1: only this rank's shard of the summed gradient is needed (its optimizer shard) */
    AHA_TRY(aha_dist_reduce_scatter_f32(g->dist, m->grads, m->n_params));
    const size_t n_load = (size_t)m->cfg.n_layers * m->cfg.n_routed_experts;
    if (g->load) {
        if (mb->B > 0)
            memcpy(g->load, aha_acts_expert_load(g->acts), sizeof(float) * n_load);
        else
            memset(g->load, 0, sizeof(float) * n_load);
        AHA_TRY(aha_dist_allreduce_f32(g->dist, g->load, n_load));
    }
    /* per-token means (gspo: clip and ratio per sequence) weighted by the share's counts */
    const int gspo = g->cfg.loss.kind == AHA_LOSS_GSPO;
    const double w = gspo ? mb->B : n_flat, w_all = gspo ? n_seq : n_tok;
    double v[7] = {ps->loss * scale,
                   ps->pg_loss * scale,
                   ps->kl * n_flat,
                   ps->clip_frac * w,
                   ps->ratio_mean * w,
                   ps->approx_kl * n_flat,
                   *ent};
    AHA_TRY(aha_dist_allreduce_f64(g->dist, v, 7, 0));
    ps->loss = v[0];
    ps->pg_loss = v[1];
    ps->kl = v[2] / n_tok;
    ps->clip_frac = v[3] / w_all;
    ps->ratio_mean = v[4] / w_all;
    ps->approx_kl = v[5] / n_tok;
    *ent = v[6] / n_tok;
    return AHA_OK;
}

/* Data parallel (ZeRO-1): the norm of the summed gradient from the ranks' shards (the sums of
 * squares in double, summed over the ranks), and the rank's shard clipped as aha_grad_clip would
 * clip the whole. */
static int shard_grad_clip(aha_grpo_t *g, double *norm) {
    const aha_adamw_t *o = g->opt;
    float *sg = g->m->grads + o->offset;
    double ss = 0;
    for (size_t i = 0; i < o->n; i++)
        ss += (double)sg[i] * sg[i];
    AHA_TRY(aha_dist_allreduce_f64(g->dist, &ss, 1, 0));
    const double nrm = sqrt(ss), max_norm = g->cfg.grad_clip;
    if (max_norm > 0 && nrm > max_norm) {
        const float scale = (float)(max_norm / (nrm + 1e-6));
        for (size_t i = 0; i < o->n; i++)
            sg[i] *= scale;
    }
    *norm = nrm;
    return AHA_OK;
}

int aha_grpo_step(aha_grpo_t *g, const aha_rl_batch_t *b, aha_grpo_stats_t *st) {
    if (!g || !b || !st) return AHA_FAIL(AHA_ERR_ARG, "aha_grpo_step: NULL argument");
    if (b->n_seq <= 0 || b->n_seq > g->max_rows || b->max_len > g->max_len + 1)
        return AHA_FAIL(AHA_ERR_ARG, "grpo_step: %d rows of %d (trainer sized %d x %d)", b->n_seq,
                        b->max_len, g->max_rows, g->max_len);
    for (int r = 0; r < b->n_seq; r++)
        if (b->prompt_len[r] < 1 || b->total_len[r] < b->prompt_len[r] ||
            b->total_len[r] > b->max_len)
            return AHA_FAIL(AHA_ERR_ARG, "grpo_step: row %d lengths %d/%d", r, b->prompt_len[r],
                            b->total_len[r]);
    aha_model_t *m = g->m;
    const int V = m->cfg.vocab_size;
    const float tau = g->cfg.temperature > 0 ? (float)g->cfg.temperature : 1.0f;
    memset(st, 0, sizeof *st);
    const int per = (b->n_seq + g->cfg.minibatches - 1) / g->cfg.minibatches;
    /* decoupled objective: the proximal policy is the current one before this step's updates.
     * With one update per step that is the first pass itself; otherwise one forward first. */
    const int decoupled = g->cfg.loss.off_policy == AHA_OFFPOL_DECOUPLED;
    const int prox_pass = decoupled && g->cfg.epochs * ((b->n_seq + per - 1) / per) > 1;
    for (int r0 = 0; prox_pass && r0 < b->n_seq; r0 += per) {
        int r1 = r0 + per < b->n_seq ? r0 + per : b->n_seq, a = r0;
        /* expert parallel: every rank runs the forwards the others run (the same decision) */
        if (g->ep && count_targets(b, r0, r1) == 0) continue;
        if (aha_dist_active(g->dist)) /* data parallel: only the rows this rank will train on */
            aha_dist_share(r0, r1, g->group, aha_dist_rank(g->dist), aha_dist_size(g->dist), &a,
                           &r1);
        aha_batch_t mb;
        const int T = build_minibatch(g, b, a, r1, &mb);
        if (g->ep && mb.B == 0) {
            AHA_TRY(aha_dist_ep_idle(g->ep, m, 0));
            continue;
        }
        if (!g->ep && g->seq_start[mb.B] == 0) continue;
        AHA_TRY(aha_forward(m, g->acts, &mb));
        aha_gather_logp(aha_acts_logits(g->acts), g->targets, mb.B * T, V, tau, g->logp, NULL);
        for (int j = 0; j < g->seq_start[mb.B]; j++) {
            const int i = g->f_pos[j] / T, p = g->f_pos[j] % T;
            g->prox[(size_t)(a + i) * b->max_len + p + 1] = g->logp[g->f_pos[j]];
        }
    }
    for (int epoch = 0; epoch < g->cfg.epochs; epoch++) {
        for (int r0 = 0; r0 < b->n_seq; r0 += per) {
            const int r1 = r0 + per < b->n_seq ? r0 + per : b->n_seq;
            /* data parallel (learner/dist.h): this rank's whole groups of the minibatch */
            const int dp = aha_dist_active(g->dist);
            int a = r0, z = r1, n_glob = 0;
            if (dp) {
                n_glob = count_targets(b, r0, r1);
                aha_dist_share(r0, r1, g->group, aha_dist_rank(g->dist), aha_dist_size(g->dist), &a,
                               &z);
            }
            aha_batch_t mb;
            const int T = build_minibatch(g, b, a, z, &mb);
            const int n_pos = mb.B * T, n_flat = g->seq_start[mb.B];
            if (dp ? n_glob == 0 : n_flat == 0) continue;
            aha_pg_stats_t ps;
            double ent = 0, scale = 1;
            const float aux_alpha = m->cfg.seq_aux_alpha;
            if (dp) {
                memset(&ps, 0, sizeof ps);
                scale = aha_dist_loss_scale(g->cfg.loss.kind, mb.B, n_flat, r1 - r0, n_glob);
                /* the balance loss is a mean over the minibatch's rows: this share's part of it */
                m->cfg.seq_aux_alpha = (float)((double)aux_alpha * mb.B / (r1 - r0));
                if (mb.B == 0) {
                    aha_model_zero_grads(m);
                    if (g->ep) { /* serve the other ranks' expert rows */
                        if (g->ref) AHA_TRY(aha_dist_ep_idle(g->ep, g->ref, 0));
                        AHA_TRY(aha_dist_ep_idle(g->ep, m, 0));
                        AHA_TRY(aha_dist_ep_idle(g->ep, m, 1));
                    }
                    goto reduce;
                }
            }
            if (g->ref) {
                AHA_TRY(aha_forward(g->ref, g->acts, &mb));
                aha_gather_logp(aha_acts_logits(g->acts), g->targets, n_pos, V, tau, g->ref_logp,
                                NULL);
                for (int j = 0; j < n_flat; j++)
                    g->f_ref[j] = g->ref_logp[g->f_pos[j]];
            }
            AHA_TRY(aha_forward(m, g->acts, &mb));
            const float *logits = aha_acts_logits(g->acts);
            aha_gather_logp(logits, g->targets, n_pos, V, tau, g->logp, g->ent);
            for (int j = 0; j < n_flat; j++) {
                g->f_lp[j] = g->logp[g->f_pos[j]];
                ent += g->ent[g->f_pos[j]];
                if (epoch == 0)
                    st->logp_diff_max =
                        fmax(st->logp_diff_max, fabs((double)g->f_lp[j] - g->f_old[j]));
            }
            if (decoupled && !prox_pass) memcpy(g->f_prox, g->f_lp, sizeof(float) * n_flat);
            aha_pg_batch_t pb = {mb.B,
                                 g->seq_start,
                                 g->f_lp,
                                 g->f_old,
                                 g->ref ? g->f_ref : NULL,
                                 g->f_adv,
                                 decoupled ? g->f_prox : NULL};
            AHA_TRY(aha_pg_loss(&g->cfg.loss, &pb, g->f_dlp, &ps));
            if (dp) /* this share's part of the whole minibatch's loss */
                for (int j = 0; j < n_flat; j++)
                    g->f_dlp[j] *= (float)scale;
            memset(g->dlogp_pos, 0, sizeof(float) * n_pos);
            for (int j = 0; j < n_flat; j++)
                g->dlogp_pos[g->f_pos[j]] = g->f_dlp[j];
            float *dlogits = aha_acts_dlogits(g->acts);
            aha_logp_backward(logits, g->targets, g->dlogp_pos, n_pos, V, tau, dlogits);
            aha_model_zero_grads(m);
            AHA_TRY(aha_backward(m, g->acts, &mb));
        reduce:
            if (dp) {
                m->cfg.seq_aux_alpha = aux_alpha;
                AHA_TRY(dp_reduce(g, &mb, n_flat, r1 - r0, n_glob, scale, &ps, &ent));
            }
            double gn = 0;
            if (dp)
                AHA_TRY(shard_grad_clip(g, &gn));
            else
                gn = aha_grad_clip(m->grads, m->n_params, g->cfg.grad_clip);
            if (!isfinite(ps.loss) || !isfinite(gn)) {
                if (g->cfg.on_nonfinite != AHA_NONFINITE_SKIP)
                    return AHA_FAIL(AHA_ERR_RANGE,
                                    "grpo: non-finite loss (%g) or gradient norm (%g) in epoch "
                                    "%d, rows %d..%d; stopping before the update "
                                    "(rl.on_nonfinite: stop; 'skip' drops such batches)",
                                    ps.loss, gn, epoch, r0, r1 - 1);
                aha_model_zero_grads(m);
                st->n_nonfinite++;
                continue;
            }
            aha_adamw_step(g->opt, m->params, m->grads, g->cfg.lr, &g->cfg.adamw);
            if (dp) AHA_TRY(aha_dist_allgather_f32(g->dist, m->params, m->n_params));
            if (g->cfg.update_expert_bias) aha_model_update_expert_bias(m, aha_grpo_expert_load(g));
            st->loss += ps.loss;
            st->pg_loss += ps.pg_loss;
            st->kl += ps.kl;
            st->clip_frac += ps.clip_frac;
            st->ratio_mean += ps.ratio_mean;
            st->approx_kl += ps.approx_kl;
            st->entropy += dp ? ent : ent / n_flat;
            st->grad_norm += gn;
            st->n_tokens += dp ? n_glob : n_flat;
            st->n_updates++;
        }
    }
    if (aha_dist_active(g->dist))
        AHA_TRY(aha_dist_allreduce_f64(g->dist, &st->logp_diff_max, 1, 1));
    if (st->n_updates) {
        double u = st->n_updates;
        st->loss /= u;
        st->pg_loss /= u;
        st->kl /= u;
        st->clip_frac /= u;
        st->ratio_mean /= u;
        st->approx_kl /= u;
        st->entropy /= u;
        st->grad_norm /= u;
        st->n_tokens /= g->cfg.epochs;
    }
    return AHA_OK;
}
