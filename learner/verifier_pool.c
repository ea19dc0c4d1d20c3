#include "learner/verifier_pool.h"
#include "verifier/group_msg.h"
#include "core/err.h"
#include "core/log.h"
#include "learner/broker.h"
#include "verifier/msg_check.h"
#include "verifier/worker.h"
#include "model/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aha_vpool {
    aha_broker_t *broker;
    int deadline_ms;
    uint64_t local;
    uint64_t bad_scores; /* ScoredGroups with a score out of range: dropped, scored here */
    int has_sandbox;
    aha_sandbox_config_t sandbox; /* command string borrowed */
    aha_msg_limits_t limits;      /* content checks of the scored groups that come back */
};

void aha_vpool_destroy(aha_vpool_t **pp) {
    if (!pp || !*pp) return;
    aha_broker_destroy(&(*pp)->broker);
    free(*pp);
    *pp = NULL;
}

int aha_vpool_new(void *zctx, const char *bind, size_t max_bytes, int max_len, int deadline_ms,
                  const aha_sandbox_config_t *sandbox, const aha_keypair_t *curve,
                  aha_vpool_t **out) {
    if (!zctx || !bind || !out || max_len < 1 || deadline_ms < 1)
        return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_new: bad argument");
    aha_vpool_t *p = calloc(1, sizeof *p);
    if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "verifier pool");
    p->deadline_ms = deadline_ms;
    if (sandbox) {
        p->has_sandbox = 1;
        p->sandbox = *sandbox;
    }
    p->limits = (aha_msg_limits_t){AHA_TOK_VOCAB, max_len, 0, 0, 0, AHA_GROUP_MAX};
    int rc = aha_broker_new(zctx, bind, max_bytes, aha_msg_check_fn, &p->limits, curve, &p->broker);
    if (rc != AHA_OK) {
        aha_vpool_destroy(&p);
        return rc;
    }
    *out = p;
    return AHA_OK;
}

int aha_vpool_wait_verifiers(aha_vpool_t *p, int n, int timeout_ms) {
    if (!p) return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_wait_verifiers: NULL pool");
    return aha_broker_wait_verifiers(p->broker, n, timeout_ms);
}

int aha_vpool_live(const aha_vpool_t *p) {
    return p ? aha_broker_live(p->broker) : 0;
}

void aha_vpool_stop_verifiers(aha_vpool_t *p) {
    if (p) aha_broker_stop_verifiers(p->broker);
}

/* The first N per-sample scores of SG as reward breakdowns. */
static void breakdowns(const Aha__ScoredGroup *sg, int n, aha_reward_breakdown_t *out) {
    for (int s = 0; s < n; s++)
        out[s] = (aha_reward_breakdown_t){sg->format[s], sg->accuracy[s], sg->language[s],
                                          sg->overlong[s], sg->total[s]};
}

int aha_score_local(const aha_reward_config_t *rcfg, const aha_sandbox_config_t *sandbox,
                    const aha_rollout_t *r, const aha_reward_problem_t *prob, uint64_t prompt_id,
                    aha_reward_breakdown_t *out) {
    if (!rcfg || !r || !prob || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_score_local: NULL argument");
    if (!sandbox) {
        for (int s = 0; s < r->n; s++) {
            char resp[4096];
            AHA_TRY(aha_rollout_response_text(r, s, resp, sizeof resp));
            aha_reward_score(rcfg, prob, resp, r->total_len[s] - r->prompt_len[s], &out[s]);
        }
        return AHA_OK;
    }
    static aha_sandbox_stats_t stats; /* the learner's own calls, for its log lines */
    aha_group_msg_t *m = NULL;
    AHA_TRY(aha_group_msg_from_rollout(r, prompt_id, prompt_id, 0, prob, "learner/0", &m));
    Aha__ScoredGroup sg;
    int rc_ = aha_verifier_score_group(rcfg, sandbox, &stats, &m->group, "learner", &sg);
    if (rc_ == AHA_OK) {
        breakdowns(&sg, r->n, out);
        aha_verifier_scores_free(&sg);
    }
    aha_group_msg_destroy(&m);
    return rc_;
}

int aha_vpool_score_all(aha_vpool_t *p, const aha_reward_config_t *rcfg,
                        const aha_rollout_t *const *rs, const aha_reward_problem_t *probs,
                        const uint64_t *pids, uint64_t version, int n,
                        aha_reward_breakdown_t *const *out) {
    if (!p || !rcfg || n < 0 || (n > 0 && (!rs || !probs || !pids || !out)))
        return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_score_all: bad argument");
    if (n == 0) return AHA_OK;
    AHA_TRY(aha_broker_poll(p->broker)); /* verifiers that joined since */
    int rc = AHA_OK;
    if (aha_broker_live(p->broker) > 0) {
        aha_group_msg_t **m = calloc((size_t)n, sizeof *m);
        Aha__Group **gs = calloc((size_t)n, sizeof *gs);
        Aha__Envelope **e = calloc((size_t)n, sizeof *e);
        if (!m || !gs || !e) rc = AHA_FAIL(AHA_ERR_NOMEM, "verifier pool: %d groups", n);
        for (int j = 0; rc == AHA_OK && j < n; j++) {
            rc = aha_group_msg_from_rollout(rs[j], pids[j], pids[j], version, &probs[j],
                                            "learner/0", &m[j]);
            if (rc == AHA_OK) gs[j] = &m[j]->group;
        }
        if (rc == AHA_OK) rc = aha_broker_score_all(p->broker, gs, n, p->deadline_ms, e);
        int missing = 0, bad = 0;
        for (int j = 0; rc == AHA_OK && j < n; j++) {
            if (e[j]) {
                breakdowns(e[j]->scored_group, rs[j]->n, out[j]);
                /* a peer's scores are trusted only within what the rules can give */
                char why[200] = "";
                for (int s = 0; s < rs[j]->n && !why[0]; s++)
                    if (aha_reward_check_range(rcfg, &out[j][s], why, sizeof why) != AHA_OK &&
                        ++p->bad_scores <= 10)
                        AHA_WARN("verifier pool: dropped the scores of prompt %llu from "
                                 "%.60s (%.60s), sample %d: %s; scored in process",
                                 (unsigned long long)pids[j], e[j]->sender,
                                 e[j]->scored_group->verifier, s, why);
                if (why[0]) {
                    aha_wire_free(&e[j]);
                    bad++;
                }
            }
            if (!e[j]) missing++;
        }
        for (int j = 0; rc == AHA_OK && j < n && missing; j++) {
            if (e[j]) continue;
            rc = aha_score_local(rcfg, p->has_sandbox ? &p->sandbox : NULL, rs[j], &probs[j],
                                 pids[j], out[j]);
            p->local++;
        }
        if (rc == AHA_OK && missing > bad)
            AHA_WARN("no verifier process is live; %d group(s) scored in process", missing);
        for (int j = 0; j < n; j++) {
            if (e) aha_wire_free(&e[j]);
            if (m) aha_group_msg_destroy(&m[j]);
        }
        free(m);
        free(gs);
        free(e);
        return rc;
    }
    for (int j = 0; j < n; j++) {
        AHA_TRY(aha_score_local(rcfg, p->has_sandbox ? &p->sandbox : NULL, rs[j], &probs[j],
                                pids[j], out[j]));
        p->local++;
    }
    return AHA_OK;
}

int aha_vpool_score(aha_vpool_t *p, const aha_reward_config_t *rcfg, const aha_rollout_t *r,
                    const aha_reward_problem_t *prob, uint64_t prompt_id, uint64_t version,
                    aha_reward_breakdown_t *out) {
    if (!p || !rcfg || !r || !prob || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_score: NULL argument");
    return aha_vpool_score_all(p, rcfg, &r, prob, &prompt_id, version, 1, &out);
}

aha_wire_t *aha_vpool_wire(aha_vpool_t *p) {
    return p ? aha_broker_wire(p->broker) : NULL;
}

void aha_vpool_stats(const aha_vpool_t *p, aha_vpool_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!p) return;
    const aha_broker_stats_t *b = aha_broker_stats(p->broker);
    out->remote = b->scored;
    out->redispatched = b->redispatched;
    out->lost = b->lost;
    out->late = b->late;
    out->ctl_refused = b->ctl_refused;
    out->readmitted = b->readmitted;
    out->local = p->local;
    out->bad_scores = p->bad_scores;
    out->live = aha_broker_live(p->broker);
}
