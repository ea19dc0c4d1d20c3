#include "main/verifier_pool.h"
#include "actor/group_msg.h"
#include "core/err.h"
#include "core/log.h"
#include "learner/broker.h"
#include "verifier/msg_check.h"
#include "verifier/worker.h"
#include "main/procs.h"
#include "model/tokenizer.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { MAX_PROCS = 64 };

struct aha_vpool {
    void *zctx;
    aha_broker_t *broker;
    pid_t pids[MAX_PROCS];
    int n;
    int deadline_ms;
    uint64_t local;
    aha_zap_t *zap;
    const aha_run_config_t *rc;
    aha_msg_limits_t limits; /* content checks of the scored groups that come back */
};

/* Starts `aha verifier` (this executable) as process I. */
static int spawn(aha_vpool_t *p, int i, const char *endpoint, const char *config_path) {
    char name[32];
    snprintf(name, sizeof name, "rules-%d", i);
    char *argv[] = {"aha",       "verifier",
                    "--connect", (char *)endpoint,
                    "--config",  (char *)config_path,
                    "--name",    name,
                    "--version", "1",
                    NULL};
    return aha_spawn_self(argv, &p->pids[i]);
}

void aha_vpool_destroy(aha_vpool_t **pp) {
    if (!pp || !*pp) return;
    aha_vpool_t *p = *pp;
    aha_broker_stop_verifiers(p->broker);
    aha_reap(p->pids, p->n, 2000);
    aha_broker_destroy(&p->broker);
    aha_zap_stop(&p->zap);
    if (p->zctx) zmq_ctx_term(p->zctx);
    free(p);
    *pp = NULL;
}

int aha_vpool_new(const aha_run_config_t *rc, const char *config_path, int n, aha_vpool_t **out) {
    if (!rc || !config_path || !out || n < 0 || n > MAX_PROCS)
        return AHA_FAIL(AHA_ERR_ARG, "verifier pool: bad argument (n=%d)", n);
    aha_vpool_t *p = calloc(1, sizeof *p);
    if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "verifier pool");
    p->deadline_ms = rc->rl.verifier_deadline_ms;
    p->rc = rc;
    p->zctx = zmq_ctx_new();
    p->limits = (aha_msg_limits_t){AHA_TOK_VOCAB, rc->model.max_seq_len, 0, 0, 0, AHA_GROUP_MAX};
    char ep[256];
    int rcode = p->zctx ? AHA_OK : AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
    int curve = 0;
    aha_keypair_t server;
    char bind[300];
    if (rcode == AHA_OK)
        rcode = aha_run_config_listen(rc, p->zctx, bind, sizeof bind, &curve, &server, &p->zap);
    if (rcode == AHA_OK)
        rcode = aha_broker_new(p->zctx, bind, (size_t)64 << 20, aha_msg_check_fn, &p->limits,
                               curve ? &server : NULL, &p->broker);
    if (rcode == AHA_OK) rcode = aha_broker_endpoint(p->broker, ep, sizeof ep);
    for (int i = 0; rcode == AHA_OK && i < n; i++) {
        rcode = spawn(p, i, ep, config_path);
        if (rcode == AHA_OK) p->n++;
    }
    /* wait for the hellos of the workers that are still running (one may die while starting) */
    for (int waited = 0; rcode == AHA_OK; waited += 200) {
        int expect = aha_running(p->pids, p->n);
        if (aha_broker_live(p->broker) >= expect) break;
        if (waited >= 20000) {
            AHA_WARN("%d of %d verifier processes joined in 20 s; going on without the others",
                     aha_broker_live(p->broker), expect);
            break;
        }
        rcode = aha_broker_wait_verifiers(p->broker, expect, 200);
        if (rcode == AHA_ERR_TIMEOUT) rcode = AHA_OK;
    }
    if (rcode != AHA_OK) {
        aha_vpool_destroy(&p);
        return rcode;
    }
    AHA_INFO("%d verifier processes ready on %s%s", aha_broker_live(p->broker), ep,
             aha_broker_live(p->broker) ? "" : " (none: scoring in the learner)");
    *out = p;
    return AHA_OK;
}

/* The first N per-sample scores of SG as reward breakdowns. */
static void breakdowns(const Aha__ScoredGroup *sg, int n, aha_reward_breakdown_t *out) {
    for (int s = 0; s < n; s++)
        out[s] = (aha_reward_breakdown_t){sg->format[s], sg->accuracy[s], sg->language[s],
                                          sg->overlong[s], sg->total[s]};
}

int aha_score_local(const aha_run_config_t *rc, const aha_reward_config_t *rcfg,
                    const aha_rollout_t *r, const aha_reward_problem_t *prob, uint64_t prompt_id,
                    aha_reward_breakdown_t *out) {
    aha_sandbox_config_t sb;
    if (!aha_run_config_sandbox(rc, &sb)) {
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
    int rc_ = aha_verifier_score_group(rcfg, &sb, &stats, &m->group, "learner", &sg);
    if (rc_ == AHA_OK) {
        breakdowns(&sg, r->n, out);
        aha_verifier_scores_free(&sg);
    }
    aha_group_msg_destroy(&m);
    return rc_;
}

int aha_vpool_score(aha_vpool_t *p, const aha_reward_config_t *rcfg, const aha_rollout_t *r,
                    const aha_reward_problem_t *prob, uint64_t prompt_id, uint64_t version,
                    aha_reward_breakdown_t *out) {
    if (!p || !rcfg || !r || !prob || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_score: NULL argument");
    AHA_TRY(aha_broker_poll(p->broker)); /* verifiers that joined since */
    if (aha_broker_live(p->broker) > 0) {
        aha_group_msg_t *m = NULL;
        AHA_TRY(
            aha_group_msg_from_rollout(r, prompt_id, prompt_id, version, prob, "learner/0", &m));
        Aha__Envelope *e = NULL;
        int rc = aha_broker_score(p->broker, &m->group, p->deadline_ms, &e);
        aha_group_msg_destroy(&m);
        if (rc == AHA_OK) {
            breakdowns(e->scored_group, r->n, out);
            aha_wire_free(&e);
            return AHA_OK;
        }
        if (rc != AHA_ERR_NOTFOUND) return rc;
        AHA_WARN("no verifier process is live; scoring in process from now on");
    }
    AHA_TRY(aha_score_local(p->rc, rcfg, r, prob, prompt_id, out));
    p->local++;
    return AHA_OK;
}

int aha_vpool_endpoint(const aha_vpool_t *p, char *buf, size_t cap) {
    if (!p) return AHA_FAIL(AHA_ERR_ARG, "aha_vpool_endpoint: NULL pool");
    return aha_broker_endpoint(p->broker, buf, cap);
}

void aha_vpool_stats(const aha_vpool_t *p, aha_vpool_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (!p) return;
    const aha_broker_stats_t *b = aha_broker_stats(p->broker);
    out->remote = b->scored;
    out->redispatched = b->redispatched;
    out->lost = b->lost;
    out->late = b->late;
    out->local = p->local;
    out->live = aha_broker_live(p->broker);
}
