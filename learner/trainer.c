#include "learner/trainer.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "learner/dist.h"
#include "learner/run_state.h"
#include "model/weights.h"
#include "verifier/group_msg.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WAVE_MAX = 1024 /* prompts leased to the actors at once */, MAX_PROMPT = 512 /* tokens */ };

struct aha_trainer {
    aha_trainer_config_t cfg;
    aha_model_t *m;
    aha_grpo_t *grpo;
    aha_kv_t *kv;
    aha_rollout_t **rolls;          /* the groups of a wave (at most prompts_per_step) */
    aha_reward_problem_t *probs;    /* their problems */
    aha_reward_breakdown_t *scores; /* and scores: group i at [i * group_size] */
    aha_group_batch_t *batch;
    aha_rng_t *rngs;
    const int **prompts;
    int *prompt_lens;
    int step; /* updates done */
    /* max_staleness k > 0: the weights of the last k + 1 versions, and a model to sample with */
    uint8_t *vw[AHA_COORD_MAX_KEEP];
    int64_t vw_version[AHA_COORD_MAX_KEEP];
    size_t vw_len;
    aha_model_t *bm;           /* the behaviour model: version bm_version */
    int64_t bm_version;        /* -1: none loaded */
    int republish;             /* resumed with k > 0: the kept versions go to the coordinator */
    uint64_t next_prompt;      /* train problems are consumed in order: prompt id = index */
    const aha_dist_t *dist;    /* data parallel (learner/dist.h) or NULL */
    aha_dist_batch_buf_t recv; /* the batch received from rank 0 */
    uint64_t unfit;            /* delivered groups that did not fit the rollout: sampled here */
    double counter_base[32];   /* the counters of the run before this process (--resume) */
    const aha_zap_t *zap;      /* the servers' ZAP handler, for curve_refused (may be NULL) */
};

static double now_s(void) {
    return aha_now_ms() / 1e3;
}

void aha_trainer_destroy(aha_trainer_t **tp) {
    if (!tp || !*tp) return;
    aha_trainer_t *t = *tp;
    aha_grpo_destroy(&t->grpo);
    aha_kv_destroy(&t->kv);
    for (int i = 0; t->rolls && i < t->cfg.prompts_per_step; i++)
        aha_rollout_destroy(&t->rolls[i]);
    AHA_FREE(t->rolls, t->probs, t->scores);
    aha_group_batch_destroy(&t->batch);
    aha_model_destroy(&t->m);
    aha_model_destroy(&t->bm);
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
        free(t->vw[i]);
    aha_dist_batch_buf_free(&t->recv);
    AHA_FREE(t->rngs, t->prompts, t->prompt_lens, t);
    *tp = NULL;
}

int aha_trainer_new(const aha_trainer_config_t *cfg, aha_model_t **model, aha_trainer_t **out) {
    if (!cfg || !model || !*model || !out || !cfg->sample || !cfg->train.task)
        return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_new: NULL argument");
    if (cfg->group_size < 1 || cfg->group_size > AHA_GROUP_MAX || cfg->prompts_per_step < 1 ||
        cfg->steps < 0 || cfg->lease_ms < 1 || cfg->max_staleness < 0 ||
        cfg->max_staleness >= AHA_COORD_MAX_KEEP)
        return AHA_FAIL(AHA_ERR_ARG,
                        "aha_trainer_new: G %d (1..%d), %d prompts per step, max staleness %d "
                        "(0..%d)",
                        cfg->group_size, AHA_GROUP_MAX, cfg->prompts_per_step, cfg->max_staleness,
                        AHA_COORD_MAX_KEEP - 1);
    aha_trainer_t *t = calloc(1, sizeof *t);
    if (!t) return AHA_FAIL(AHA_ERR_NOMEM, "trainer");
    t->cfg = *cfg;
    t->bm_version = -1;
    for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
        t->vw_version[i] = -1;
    aha_model_t *m = *model;
    const int G = cfg->group_size, P = cfg->prompts_per_step, max_len = m->cfg.max_seq_len;
    const int L = m->cfg.n_layers, K = m->cfg.n_routed_experts > 0 ? m->cfg.top_k : 0;
    int rc = AHA_OK;
    t->rngs = malloc(sizeof(aha_rng_t) * G);
    t->prompts = malloc(sizeof(int *) * G);
    t->prompt_lens = malloc(sizeof(int) * G);
    t->rolls = calloc((size_t)P, sizeof *t->rolls);
    t->probs = calloc((size_t)P, sizeof *t->probs);
    t->scores = calloc((size_t)P * G, sizeof *t->scores);
    if (!t->rngs || !t->prompts || !t->prompt_lens || !t->rolls || !t->probs || !t->scores) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "trainer buffers");
        goto fail;
    }
    AHA_TRY_GOTO(rc,
                 aha_group_batch_new(P, G, max_len, L, K, cfg->record_experts && K > 0, &cfg->batch,
                                     &t->batch),
                 fail);
    AHA_TRY_GOTO(rc, aha_kv_new(m, G, max_len, &t->kv), fail);
    for (int i = 0; i < P; i++)
        AHA_TRY_GOTO(rc, aha_rollout_new(m, G, max_len, cfg->record_experts, &t->rolls[i]), fail);
    AHA_TRY_GOTO(rc, aha_grpo_new(m, &cfg->grpo, G * P, max_len, &t->grpo), fail);
    if (cfg->max_staleness > 0) {
        t->vw_len = aha_weights_bytes(m);
        AHA_TRY_GOTO(rc, aha_model_new(&m->cfg, &t->bm), fail);
        for (int i = 0; i <= cfg->max_staleness; i++)
            if (!(t->vw[i] = malloc(t->vw_len))) {
                rc = AHA_FAIL(AHA_ERR_NOMEM, "trainer: %d weight versions", i + 1);
                goto fail;
            }
    }
    if (cfg->coord) AHA_TRY_GOTO(rc, aha_coord_set_keep(cfg->coord, cfg->max_staleness + 1), fail);
    t->m = m;
    *model = NULL;
    *out = t;
    return AHA_OK;
fail:
    aha_trainer_destroy(&t); /* the model is still the caller's */
    return rc;
}

void aha_trainer_set_zap(aha_trainer_t *t, const aha_zap_t *zap) {
    if (t) t->zap = zap;
}

void aha_trainer_set_servers(aha_trainer_t *t, aha_coord_t *coord, aha_vpool_t *vpool) {
    if (!t) return;
    t->cfg.coord = coord;
    t->cfg.vpool = vpool;
    if (coord && t->step > 0) t->republish = 1; /* it needs the older kept versions too */
    if (coord && aha_coord_set_keep(coord, t->cfg.max_staleness + 1) != AHA_OK)
        AHA_WARN("trainer: %s", aha_last_error());
}

int aha_trainer_set_dist(aha_trainer_t *t, const aha_dist_t *d) {
    if (!t) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_set_dist: NULL trainer");
    AHA_TRY(aha_grpo_set_dist(t->grpo, d, t->cfg.group_size));
    t->dist = d;
    return AHA_OK;
}

/* The versions the next k steps sample from that are older than the current one (k > 0):
 * [*lo, t->step). */
static uint64_t older_versions_lo(const aha_trainer_t *t) {
    const int k = t->cfg.max_staleness;
    return t->step > k ? (uint64_t)(t->step - k) : 0;
}

/* The run's cumulative counters (metrics.jsonl columns, the end-of-run summary, counters.json in
 * checkpoints): this process's plus those of the run before a --resume. X(id, name) in column
 * order: the enum C_* and the names k_counters come from this one list. */
#define TRAINER_COUNTERS(X)                                                                        \
    X(C_ACTOR_GROUPS, "actor_groups")                                                              \
    X(C_MISSING, "actor_groups_missing")                                                           \
    X(C_REISSUED, "actor_leases_reissued")                                                         \
    X(C_STALE, "groups_dropped_stale")                                                             \
    X(C_FORGED, "groups_dropped_forged")                                                           \
    X(C_UNFIT, "groups_dropped_unfit")                                                             \
    X(C_LATE, "groups_dropped_late")                                                               \
    X(C_V_REMOTE, "verifier_groups_remote")                                                        \
    X(C_V_LOCAL, "verifier_groups_local")                                                          \
    X(C_V_LOST, "verifier_lost")                                                                   \
    X(C_V_READMITTED, "verifier_readmitted")                                                       \
    X(C_SCORES_DROPPED, "verifier_scores_dropped")                                                 \
    X(C_CTL_REFUSED, "ctl_refused")                                                                \
    X(C_CURVE_REFUSED, "curve_refused")                                                            \
    X(C_WIRE_OVERSIZE, "wire_dropped_oversize")                                                    \
    X(C_WIRE_FRAMING, "wire_dropped_framing")                                                      \
    X(C_WIRE_MALFORMED, "wire_dropped_malformed")                                                  \
    X(C_WIRE_PROTOCOL, "wire_dropped_protocol")                                                    \
    X(C_WIRE_INVALID, "wire_dropped_invalid")
#define COUNTER_ID(id, name) id,
#define COUNTER_NAME(id, name) name,
enum { TRAINER_COUNTERS(COUNTER_ID) C_N };
static const char *const k_counters[C_N] = {TRAINER_COUNTERS(COUNTER_NAME)};
#undef COUNTER_ID
#undef COUNTER_NAME

static void add_wire(double *v, const aha_wire_stats_t *w) {
    if (!w) return;
    v[C_WIRE_OVERSIZE] += (double)w->oversize;
    v[C_WIRE_FRAMING] += (double)w->bad_framing;
    v[C_WIRE_MALFORMED] += (double)w->malformed;
    v[C_WIRE_PROTOCOL] += (double)w->bad_protocol;
    v[C_WIRE_INVALID] += (double)w->invalid;
}

static void counters(const aha_trainer_t *t, double *v) {
    const aha_trainer_config_t *c = &t->cfg;
    for (int i = 0; i < C_N; i++)
        v[i] = t->counter_base[i];
    v[C_UNFIT] += (double)t->unfit;
    v[C_CURVE_REFUSED] += (double)aha_zap_rejected(t->zap);
    if (c->coord) {
        aha_coord_stats_t cs;
        aha_coord_stats(c->coord, &cs);
        /* groups delivered ahead for later steps count when a step takes them: a checkpoint
         * after this step does not cover them, so a resumed run has them sampled again */
        v[C_ACTOR_GROUPS] += (double)(cs.delivered - cs.held);
        v[C_MISSING] += (double)cs.missing;
        v[C_REISSUED] += (double)cs.reissued;
        v[C_STALE] += (double)cs.stale;
        v[C_FORGED] += (double)cs.forged;
        v[C_UNFIT] += (double)cs.unfit;
        v[C_LATE] += (double)cs.late;
        v[C_CTL_REFUSED] += (double)cs.ctl_refused;
        add_wire(v, aha_wire_stats(aha_coord_wire(c->coord)));
    }
    if (c->vpool) {
        aha_vpool_stats_t vs;
        aha_vpool_stats(c->vpool, &vs);
        v[C_V_REMOTE] += (double)vs.remote;
        v[C_V_LOCAL] += (double)vs.local;
        v[C_V_LOST] += (double)vs.lost;
        v[C_V_READMITTED] += (double)vs.readmitted;
        v[C_SCORES_DROPPED] += (double)vs.bad_scores;
        v[C_CTL_REFUSED] += (double)vs.ctl_refused;
        add_wire(v, aha_wire_stats(aha_vpool_wire(c->vpool)));
    }
}

int aha_trainer_summary(const aha_trainer_t *t, char *buf, size_t cap) {
    if (!t || !buf || cap == 0) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_summary: bad argument");
    double v[C_N];
    counters(t, v);
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < C_N && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s %.0f", i ? ", " : "", k_counters[i], v[i]);
    return AHA_OK;
}

int aha_trainer_resume(aha_trainer_t *t, const char *dir) {
    if (!t || !dir) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_resume: NULL argument");
    int step = 0;
    uint64_t next = 0;
    if (aha_dist_active(t->dist)) { /* rank 0 finishes an interrupted swap before anyone reads */
        int e = aha_dist_rank(t->dist) == 0 ? aha_run_state_recover(dir) : AHA_OK;
        AHA_TRY(aha_dist_all_ok(t->dist, e));
    }
    AHA_TRY(aha_run_state_load(dir, t->m, aha_grpo_optimizer(t->grpo), &step, &next));
    double base[C_N] = {0};
    AHA_TRY(aha_run_state_load_counters(dir, step, k_counters, base, C_N));
    memcpy(t->counter_base, base, sizeof base);
    t->step = step;
    t->next_prompt = next;
    if (t->cfg.max_staleness > 0) {
        /* the kept versions become the checkpoint's: the next k steps sample from them */
        t->bm_version = -1;
        for (int i = 0; i < AHA_COORD_MAX_KEEP; i++)
            t->vw_version[i] = -1;
        int slot = 0;
        for (uint64_t v = older_versions_lo(t); v < (uint64_t)step; v++, slot++) {
            AHA_TRY(aha_run_state_load_version(dir, v, t->vw[slot], t->vw_len));
            t->vw_version[slot] = (int64_t)v;
        }
        t->republish = 1;
    }
    return AHA_OK;
}

int aha_trainer_checkpoint(aha_trainer_t *t, const char *final_dir) {
    if (!t || !final_dir) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_checkpoint: NULL argument");
    /* every part into DIR.tmp, then swapped in whole (run_state.h): a kill leaves one step */
    char dir[1100];
    const int sharded = aha_dist_active(t->dist), rank = aha_dist_rank(t->dist);
    if (sharded) {
        /* rank 0 stages DIR.tmp; every rank writes its optimizer shard into it; rank 0 writes the
         * rest and swaps it in only when every shard is there */
        int e = rank == 0 ? aha_run_state_stage(final_dir, dir, sizeof dir)
                          : aha_run_state_stage_path(final_dir, dir, sizeof dir);
        AHA_TRY(aha_dist_all_ok(t->dist, e));
        e = aha_run_state_save_shard(dir, aha_grpo_optimizer(t->grpo), rank,
                                     aha_dist_size(t->dist));
        AHA_TRY(aha_dist_all_ok(t->dist, e));
        if (rank != 0) return AHA_OK;
    } else {
        AHA_TRY(aha_run_state_stage(final_dir, dir, sizeof dir));
    }
    const uint64_t lo = older_versions_lo(t), hi = (uint64_t)t->step;
    for (uint64_t v = lo; t->cfg.max_staleness > 0 && v < hi; v++) {
        int slot = -1;
        for (int i = 0; i <= t->cfg.max_staleness; i++)
            if (t->vw_version[i] == (int64_t)v) slot = i;
        if (slot < 0)
            return AHA_FAIL(AHA_ERR_STATE, "trainer checkpoint: weights version %llu not kept",
                            (unsigned long long)v);
        AHA_TRY(aha_run_state_save_version(dir, v, t->vw[slot], t->vw_len));
    }
    double cv[C_N];
    counters(t, cv);
    AHA_TRY(aha_run_state_save_counters(dir, t->step, k_counters, cv, C_N));
    if (sharded)
        AHA_TRY(aha_run_state_save_sharded(dir, t->m, aha_dist_size(t->dist), t->step,
                                           t->next_prompt));
    else
        AHA_TRY(aha_run_state_save(dir, t->m, aha_grpo_optimizer(t->grpo), t->step,
                                   t->next_prompt));
    return aha_run_state_publish(final_dir);
}

int aha_trainer_steps_done(const aha_trainer_t *t) {
    return t ? t->step : 0;
}
uint64_t aha_trainer_groups_unfit(const aha_trainer_t *t) {
    return t ? t->unfit : 0;
}
uint64_t aha_trainer_next_prompt(const aha_trainer_t *t) {
    return t ? t->next_prompt : 0;
}
aha_model_t *aha_trainer_model(aha_trainer_t *t) {
    return t ? t->m : NULL;
}

/* Sums over the scored samples of a step. */
typedef struct {
    double reward, acc, fmt, len, lang, over, refl;
    int n;
} sums_t;

/* Keeps the current weights as VERSION (k > 0): in the slot of the oldest kept version. */
static int keep_version(aha_trainer_t *t, int64_t version) {
    const int n = t->cfg.max_staleness + 1;
    int slot = 0;
    for (int i = 0; i < n; i++) {
        if (t->vw_version[i] == version) {
            slot = i;
            break;
        }
        if (t->vw_version[i] < t->vw_version[slot]) slot = i;
    }
    aha_weights_pack(t->m, t->vw[slot]);
    t->vw_version[slot] = version;
    return AHA_OK;
}

/* The model to sample with for VERSION: the policy (k = 0) or the behaviour model loaded with
 * that kept version. */
static int sampler_model(aha_trainer_t *t, int64_t version, const aha_model_t **out) {
    if (t->cfg.max_staleness == 0) {
        *out = t->m;
        return AHA_OK;
    }
    if (t->bm_version != version) {
        int slot = -1;
        for (int i = 0; i <= t->cfg.max_staleness; i++)
            if (t->vw_version[i] == version) slot = i;
        if (slot < 0)
            return AHA_FAIL(AHA_ERR_STATE, "trainer: weights version %lld not kept",
                            (long long)version);
        t->bm_version = -1;
        AHA_TRY(aha_weights_unpack(t->bm, t->vw[slot], t->vw_len));
        t->bm_version = version;
    }
    *out = t->bm;
    return AHA_OK;
}

/* Gets group PID into rollout R with its problem *RP: DELIVERED if an actor sent it, else
 * sampled here. */
static int get_group(aha_trainer_t *t, uint64_t pid, const Aha__Envelope *delivered,
                     aha_rollout_t *r, aha_reward_problem_t *rp, double *t_sample) {
    const aha_trainer_config_t *c = &t->cfg;
    const int G = c->group_size;
    int ids[MAX_PROMPT], n = 0;
    AHA_TRY(aha_train_group(&c->train, pid, ids, MAX_PROMPT, &n, rp, t->rngs, G));
    for (int g = 0; g < G; g++) {
        t->prompts[g] = ids;
        t->prompt_lens[g] = n;
    }
    if (delivered) {
        /* a peer's group that does not fit (e.g. no routing record when R3 needs one) never ends
         * the run: dropped, counted, and sampled here as if no actor had delivered it */
        if (aha_group_msg_to_rollout(delivered->group, r) == AHA_OK) return AHA_OK;
        if (t->unfit++ < 10)
            AHA_WARN("trainer: group for prompt %llu from actor '%.60s' dropped (%s); sampled by "
                     "the learner",
                     (unsigned long long)pid, delivered->sender, aha_last_error());
    }
    const aha_model_t *sm = NULL;
    AHA_TRY(sampler_model(t, t->step > c->max_staleness ? t->step - c->max_staleness : 0, &sm));
    double a = now_s();
    AHA_TRY(c->sample(c->sample_ctx, sm, t->kv, t->prompts, t->prompt_lens, t->rngs, r));
    *t_sample += now_s() - a;
    return AHA_OK;
}

/* Offers scored group PID (rollout R, SCORES) to the batch. */
static int offer_group(aha_trainer_t *t, uint64_t pid, const aha_rollout_t *r,
                       const aha_reward_breakdown_t *scores, sums_t *s) {
    const aha_trainer_config_t *c = &t->cfg;
    float rw[AHA_GROUP_MAX]; /* G <= AHA_GROUP_MAX: checked in aha_trainer_new */
    for (int g = 0; g < c->group_size; g++) {
        aha_reward_breakdown_t sc = scores[g];
        if (c->random_reward) {
            aha_rng_t coin;
            const uint64_t cid[] = {AHA_STREAM_REWARD_COIN, pid, (uint64_t)g};
            aha_rng_derive(&coin, c->train.seed, cid, 3);
            sc.total = aha_rng_uniform(&coin) < 0.5f ? 1.0 : 0.0;
        }
        rw[g] = (float)sc.total;
        s->reward += sc.total;
        s->acc += sc.accuracy;
        s->fmt += sc.format;
        s->lang += sc.language;
        s->over += sc.overlong;
        s->len += r->total_len[g] - r->prompt_len[g];
        char text[4096]; /* reflection: the self-check marker in the think block */
        if (aha_rollout_response_text(r, g, text, sizeof text) == AHA_OK)
            s->refl += aha_reward_reflection(text);
        s->n++;
    }
    int kept = aha_group_batch_add(t->batch, r, rw); /* 1 = kept, 0 = dropped */
    return kept < 0 ? kept : AHA_OK;
}

/* The N groups of a wave (prompt ids PIDS; DELIVERED[i] from an actor or NULL): gathered, scored
 * all at once (in flight together across the verifiers), then offered to the batch in order. */
static int take_wave(aha_trainer_t *t, const uint64_t *pids, Aha__Envelope *const *delivered, int n,
                     sums_t *s, double *t_sample, double *t_score) {
    const aha_trainer_config_t *c = &t->cfg;
    aha_reward_breakdown_t *outs[WAVE_MAX];
    for (int i = 0; i < n; i++) {
        AHA_TRY(get_group(t, pids[i], delivered[i], t->rolls[i], &t->probs[i], t_sample));
        outs[i] = t->scores + (size_t)i * c->group_size;
    }
    double a = now_s();
    if (c->vpool) {
        AHA_TRY(aha_vpool_score_all(c->vpool, &c->reward, (const aha_rollout_t *const *)t->rolls,
                                    t->probs, pids, (uint64_t)t->step, n, outs));
    } else {
        for (int i = 0; i < n; i++)
            AHA_TRY(aha_score_local(&c->reward, c->sandbox, t->rolls[i], &t->probs[i], pids[i],
                                    outs[i]));
    }
    *t_score += now_s() - a;
    for (int i = 0; i < n; i++)
        AHA_TRY(offer_group(t, pids[i], t->rolls[i], outs[i], s));
    return AHA_OK;
}

int aha_trainer_step(aha_trainer_t *t, aha_trainer_stats_t *out) {
    if (!t) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_step: NULL trainer");
    const aha_trainer_config_t *c = &t->cfg;
    const int P = c->prompts_per_step, step = t->step;
    const int warmup = (int)(c->warmup_frac * c->steps);
    aha_grpo_set_lr(t->grpo,
                    warmup > 0 && step < warmup ? c->grpo.lr * (step + 1) / warmup : c->grpo.lr);
    const double ts = now_s();
    double t_sample = 0, t_train = 0, t_score = 0;
    aha_group_batch_reset(t->batch);
    sums_t s;
    memset(&s, 0, sizeof s);
    int rc = AHA_OK;
    const int round_limit = P + (c->batch.drop_zero_std ? c->max_resample_rounds * P : 0);
    const int k = c->max_staleness;
    const uint64_t version = step > k ? (uint64_t)(step - k) : 0; /* the groups' weights */
    const int worker = aha_dist_rank(t->dist) > 0; /* data parallel: rank 0 gathers the batch */
    if (k > 0 && !worker) AHA_TRY(keep_version(t, step));
    if (c->coord && t->republish) {
        /* resumed: the coordinator serves the kept older versions too, oldest first */
        for (uint64_t v = older_versions_lo(t); v < (uint64_t)step; v++) {
            const aha_model_t *vm = NULL;
            AHA_TRY(sampler_model(t, (int64_t)v, &vm));
            AHA_TRY(aha_coord_publish(c->coord, vm, v));
        }
        t->republish = 0;
    }
    if (c->coord) AHA_TRY(aha_coord_publish(c->coord, t->m, (uint64_t)step));
    for (int round = 0; !worker && !aha_group_batch_full(t->batch) && round < round_limit;) {
        /* a wave of prompts, in order: sampled by the actors (if any) all at once, scored all at
         * once, offered to the batch in order exactly as one-by-one sampling would. A wave never
         * holds more groups than the batch still needs, so each of its groups is consumed. */
        int wave = P - aha_group_batch_groups(t->batch);
        if (wave > round_limit - round) wave = round_limit - round;
        if (wave < 1) wave = 1;
        if (wave > WAVE_MAX) wave = WAVE_MAX;
        uint64_t wave_pids[WAVE_MAX];
        Aha__Envelope *wave_groups[WAVE_MAX] = {NULL};
        for (int i = 0; i < wave; i++)
            wave_pids[i] = t->next_prompt + (uint64_t)i;
        if (c->coord) {
            double a = now_s();
            uint64_t versions[WAVE_MAX];
            for (int i = 0; i < wave; i++)
                versions[i] = version;
            rc = k > 0 ? aha_coord_collect_at(c->coord, wave_pids, versions, wave, c->lease_ms,
                                              4 * c->lease_ms, wave_groups)
                       : aha_coord_collect(c->coord, wave_pids, wave, c->lease_ms, 4 * c->lease_ms,
                                           wave_groups);
            t_sample += now_s() - a;
        }
        if (rc == AHA_OK) {
            round += wave;
            t->next_prompt = wave_pids[wave - 1] + 1;
            rc = take_wave(t, wave_pids, wave_groups, wave, &s, &t_sample, &t_score);
        }
        for (int i = 0; i < wave; i++)
            aha_wire_free(&wave_groups[i]);
        if (rc != AHA_OK) return rc;
    }
    aha_rl_batch_t batch;
    aha_group_batch_view(t->batch, &batch);
    if (aha_dist_active(t->dist)) {
        const aha_model_config_t *mc = &t->m->cfg;
        uint64_t cursor = t->next_prompt;
        AHA_TRY(aha_dist_bcast_batch(t->dist, &batch, mc->n_layers,
                                     mc->n_routed_experts > 0 ? mc->top_k : 0, &cursor, 1,
                                     &t->recv));
        t->next_prompt = cursor;
    }
    aha_trainer_stats_t st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < batch.n_seq; i++)
        st.n_tokens += batch.total_len[i];
    if (c->coord && k > 0) {
        /* the next k steps' groups (prompts_per_step each, in order; none past the run's last
         * step) are wanted ahead, with the versions their steps will use (all kept already), and
         * sampled while this step trains */
        uint64_t ahead[WAVE_MAX], av[WAVE_MAX];
        int n_ahead = 0;
        for (int j = 1; j <= k && step + j < c->steps; j++)
            for (int i = 0; i < P && n_ahead < WAVE_MAX; i++) {
                ahead[n_ahead] = t->next_prompt + (uint64_t)((j - 1) * P + i);
                av[n_ahead++] = step + j > k ? (uint64_t)(step + j - k) : 0;
            }
        AHA_TRY(aha_coord_want(c->coord, ahead, av, n_ahead));
        AHA_TRY(aha_coord_pump_start(c->coord, c->lease_ms));
    }
    int trc = AHA_OK;
    if (batch.n_seq > 0) {
        double a = now_s();
        trc = aha_grpo_step(t->grpo, &batch, &st.grpo);
        t_train = now_s() - a;
    }
    if (c->coord && k > 0) {
        int prc = aha_coord_pump_stop(c->coord);
        if (trc == AHA_OK) trc = prc;
    }
    AHA_TRY(trc);
    t->step = step + 1;
    st.step_s = now_s() - ts;
    st.version = t->step;
    st.n_scored = s.n;
    st.reward_mean = s.reward / s.n;
    st.accuracy = s.acc / s.n;
    st.format_rate = s.fmt / s.n;
    st.language = s.lang / s.n;
    st.reflection = s.refl / s.n;
    st.overlong = s.over / s.n;
    st.response_len_mean = s.len / s.n;
    st.n_seq = batch.n_seq;
    st.groups_used = aha_group_batch_groups(t->batch);
    st.groups_seen = aha_group_batch_seen(t->batch);
    st.groups_zero_std = aha_group_batch_zero_std(t->batch);
    st.sample_s = t_sample;
    st.train_s = t_train;
    st.score_s = t_score;
    st.staleness = (double)((uint64_t)step - version);
    if (out) *out = st;
    return AHA_OK;
}

int aha_trainer_metrics(const aha_trainer_t *t, const aha_trainer_stats_t *s, aha_metrics_t *mt) {
    if (!t || !s || !mt) return AHA_FAIL(AHA_ERR_ARG, "aha_trainer_metrics: NULL argument");
    const aha_trainer_config_t *c = &t->cfg;
    aha_metrics_num(mt, "step", s->version);
    aha_metrics_num(mt, "policy_version", s->version);
    aha_metrics_num(mt, "reward_mean", s->reward_mean);
    aha_metrics_num(mt, "accuracy", s->accuracy);
    aha_metrics_num(mt, "format_rate", s->format_rate);
    aha_metrics_num(mt, "response_len_mean", s->response_len_mean);
    aha_metrics_num(mt, "reward_format", s->format_rate);
    aha_metrics_num(mt, "reward_accuracy", s->accuracy);
    aha_metrics_num(mt, "reward_language", s->language);
    aha_metrics_num(mt, "reward_overlong", s->overlong);
    aha_metrics_num(mt, "language_consistency", s->language);
    aha_metrics_num(mt, "reflection_rate", s->reflection);
    aha_metrics_num(mt, "kl", s->grpo.kl);
    aha_metrics_num(mt, "entropy", s->grpo.entropy);
    aha_metrics_num(mt, "clip_frac", s->grpo.clip_frac);
    aha_metrics_num(mt, "zero_std_frac", (double)s->groups_zero_std / s->groups_seen);
    aha_metrics_num(mt, "staleness_mean", s->staleness);
    aha_metrics_num(mt, "tokens_per_s", s->n_tokens / s->step_s);
    aha_metrics_num(mt, "learner_busy_frac", s->train_s / s->step_s);
    aha_metrics_num(mt, "loss", s->grpo.loss);
    aha_metrics_num(mt, "grad_norm", s->grpo.grad_norm);
    aha_metrics_num(mt, "nonfinite_skipped", s->grpo.n_nonfinite);
    aha_metrics_num(mt, "ratio_mean", s->grpo.ratio_mean);
    aha_metrics_num(mt, "ppo_kl", s->grpo.approx_kl);
    aha_metrics_num(mt, "logp_mismatch_max", s->grpo.logp_diff_max);
    aha_metrics_num(mt, "groups_used", s->groups_used);
    aha_metrics_num(mt, "sample_s", s->sample_s);
    aha_metrics_num(mt, "score_s", s->score_s);
    double cv[C_N]; /* cumulative over the run, --resume included */
    counters(t, cv);
    for (int i = 0; i < C_N; i++)
        aha_metrics_num(mt, k_counters[i], cv[i]);
    if (c->vpool) aha_metrics_num(mt, "verifiers_live", aha_vpool_live(c->vpool));
    if (c->coord) {
        aha_coord_stats_t cs;
        aha_coord_stats(c->coord, &cs);
        aha_metrics_num(mt, "actors", cs.actors);
        aha_metrics_num(mt, "actor_idle_frac", cs.actor_idle_frac);
        aha_metrics_num(mt, "groups_in_flight", (double)cs.in_flight);
        aha_metrics_num(mt, "groups_wanted_ahead", (double)cs.wanted);
    }
    aha_metrics_num(mt, "train_s", s->train_s);
    const aha_model_config_t *mc = &t->m->cfg;
    const int L = mc->n_layers, E = mc->n_routed_experts;
    if (E > 0 && mc->top_k > 0 && s->n_seq > 0) {
        /* routed load of the last update: max share of one expert, worst MoE layer */
        const float *load = aha_grpo_expert_load(t->grpo);
        double worst = 0;
        for (int l = 0; l < L; l++) {
            if (!aha_model_layer_is_moe(mc, l)) continue;
            double mx = 0, sum = 0;
            for (int e = 0; e < E; e++)
                mx = fmax(mx, load[l * E + e]), sum += load[l * E + e];
            if (sum > 0) worst = fmax(worst, mx / sum);
            for (int e = 0; e < E && sum > 0; e++) { /* share of routed tokens per expert */
                char key[48];
                snprintf(key, sizeof key, "expert_load_l%d_e%d", l, e);
                aha_metrics_num(mt, key, load[l * E + e] / sum);
            }
        }
        aha_metrics_num(mt, "expert_load_max_share", worst);
    }
    return AHA_OK;
}
