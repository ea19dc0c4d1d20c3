#include "verifier/worker.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "model/tokenizer.h"
#include "core/buf.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

enum { MAX_TOKEN_CHARS = 16 }; /* longest spelling of one token ("<|Assistant|>" is 13) */

void aha_verifier_config_default(aha_verifier_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->name = "rules";
    cfg->version = "1";
    aha_reward_config_default(&cfg->reward);
    cfg->limits.vocab = AHA_TOK_VOCAB;
    cfg->max_bytes = (size_t)64 << 20;
    cfg->heartbeat_ms = 1000;
    aha_link_default(&cfg->link);
}

int aha_verifier_problem(const Aha__Problem *p, aha_reward_problem_t *out) {
    if (!p || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_verifier_problem: NULL argument");
    aha_reward_problem_t r;
    memset(&r, 0, sizeof r);
    const aha_task_t *task = aha_task_by_name(p->kind);
    if (!task)
        return AHA_FAIL(AHA_ERR_FORMAT, "problem kind '%.40s' is not judged by these rules",
                        p->kind);
    if (p->n_numbers > AHA_TASK_MAX_NUMBERS)
        return AHA_FAIL(AHA_ERR_FORMAT, "%s problem with %zu numbers (max %d)", task->name,
                        p->n_numbers, AHA_TASK_MAX_NUMBERS);
    /* the wire carries every field of a reward problem; each task reads its own */
    r.kind = task->kind;
    r.expected = p->expected;
    r.n_numbers = (int)p->n_numbers;
    for (size_t i = 0; i < p->n_numbers; i++)
        r.numbers[i] = p->numbers[i];
    r.target = p->target;
    *out = r;
    return AHA_OK;
}

void aha_verifier_scores_free(Aha__ScoredGroup *sg) {
    if (!sg) return;
    free(sg->total);
    free(sg->format);
    free(sg->accuracy);
    free(sg->language);
    free(sg->overlong);
    sg->total = sg->format = sg->accuracy = sg->language = sg->overlong = NULL;
    sg->n_total = sg->n_format = sg->n_accuracy = sg->n_language = sg->n_overlong = 0;
}

/* One JSON line for the sandboxed command (verifier/sandbox.h). */
static int json_line(aha_buf_t *b, const Aha__Problem *p, const char *text) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "json");
    char answer[1024];
    int has = aha_reward_first_answer(text, answer, sizeof answer) == AHA_OK;
    cJSON_AddStringToObject(o, "kind", p ? p->kind : "");
    cJSON_AddNumberToObject(o, "expected", p ? (double)p->expected : 0);
    cJSON *nums = cJSON_AddArrayToObject(o, "numbers");
    for (size_t i = 0; p && nums && i < p->n_numbers; i++)
        cJSON_AddItemToArray(nums, cJSON_CreateNumber(p->numbers[i]));
    cJSON_AddNumberToObject(o, "target", p ? (double)p->target : 0);
    cJSON_AddStringToObject(o, "response", text);
    if (has)
        cJSON_AddStringToObject(o, "answer", answer);
    else
        cJSON_AddNullToObject(o, "answer");
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return AHA_FAIL(AHA_ERR_NOMEM, "json");
    aha_buf_puts(b, line);
    aha_buf_puts(b, "\n");
    free(line);
    return b->err ? AHA_FAIL(AHA_ERR_NOMEM, "json") : AHA_OK;
}

int aha_verifier_score_group(const aha_reward_config_t *reward, const aha_sandbox_config_t *sandbox,
                             aha_sandbox_stats_t *sb_stats, const Aha__Group *g,
                             const char *verifier, Aha__ScoredGroup *sg) {
    if (!reward || !g || !verifier || !sg)
        return AHA_FAIL(AHA_ERR_ARG, "aha_verifier_score_group: NULL argument");
    const size_t n = g->n_sample_index;
    aha_reward_problem_t prob;
    int judged = g->problem && aha_verifier_problem(g->problem, &prob) == AHA_OK;
    size_t longest = 0, offset = 0;
    for (size_t s = 0; s < n; s++)
        if (g->total_len[s] - g->prompt_len[s] > longest)
            longest = g->total_len[s] - g->prompt_len[s];
    double *arr[5];
    for (int i = 0; i < 5; i++)
        arr[i] = malloc(sizeof(double) * (n ? n : 1));
    int *ids = malloc(sizeof(int) * (longest ? longest : 1));
    size_t text_cap = longest * MAX_TOKEN_CHARS + 1;
    char *text = malloc(text_cap);
    int rc = AHA_OK;
    aha_buf_t lines = {0};
    if (!arr[0] || !arr[1] || !arr[2] || !arr[3] || !arr[4] || !ids || !text) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "scoring a group of %zu samples", n);
        goto done;
    }
    for (size_t s = 0; s < n; s++) {
        const uint32_t p = g->prompt_len[s], t = g->total_len[s];
        for (uint32_t i = p; i < t; i++)
            ids[i - p] = (int)g->tokens[offset + i];
        offset += t;
        AHA_TRY_GOTO(rc, aha_tok_decode(ids, (int)(t - p), text, text_cap), done);
        aha_reward_breakdown_t b;
        if (judged) {
            aha_reward_score(reward, &prob, text, (int)(t - p), &b);
        } else {
            /* nothing to judge the answer against: format and shaping still count */
            aha_reward_problem_t none;
            memset(&none, 0, sizeof none);
            none.kind = (aha_task_kind_t)-1;
            aha_reward_score(reward, &none, text, (int)(t - p), &b);
        }
        if (sandbox) AHA_TRY_GOTO(rc, json_line(&lines, g->problem, text), done);
        arr[0][s] = b.total;
        arr[1][s] = b.format;
        arr[2][s] = b.accuracy;
        arr[3][s] = b.language;
        arr[4][s] = b.overlong;
    }
    if (sandbox) { /* the user's command decides accuracy; the total follows */
        AHA_TRY_GOTO(
            rc,
            aha_sandbox_run(sandbox, lines.p ? lines.p : "", lines.len, (int)n, arr[2], sb_stats),
            done);
        for (size_t s = 0; s < n; s++) {
            if (reward->correct_requires_format && arr[1][s] == 0) arr[2][s] = 0;
            arr[0][s] = reward->w_format * arr[1][s] + reward->w_accuracy * arr[2][s] +
                        reward->w_language * arr[3][s] + reward->w_overlong * arr[4][s];
        }
    }
    Aha__ScoredGroup init = AHA__SCORED_GROUP__INIT;
    *sg = init;
    sg->group = (Aha__Group *)g;
    sg->verifier = (char *)verifier;
    sg->n_total = sg->n_format = sg->n_accuracy = sg->n_language = sg->n_overlong = n;
    sg->total = arr[0];
    sg->format = arr[1];
    sg->accuracy = arr[2];
    sg->language = arr[3];
    sg->overlong = arr[4];
    for (int i = 0; i < 5; i++)
        arr[i] = NULL;
done:
    aha_buf_free(&lines);
    for (int i = 0; i < 5; i++)
        free(arr[i]);
    free(ids);
    free(text);
    return rc;
}

static int send_hello(aha_wire_t *w, const aha_verifier_config_t *cfg) {
    Aha__Hello hello = AHA__HELLO__INIT;
    char *kinds[AHA_TASK_COUNT];
    for (int i = 0; i < AHA_TASK_COUNT; i++)
        kinds[i] = (char *)aha_task_by_kind(i)->name;
    hello.role = "verifier";
    hello.name = (char *)cfg->name;
    hello.version = (char *)cfg->version;
    hello.n_reward_kinds = AHA_TASK_COUNT;
    hello.reward_kinds = kinds;
    hello.capacity = 1;
    return aha_wire_send_body(w, NULL, &hello.base);
}

int aha_verifier_serve(void *zctx, const aha_verifier_config_t *cfg, aha_verifier_stats_t *stats) {
    if (!zctx || !cfg || !cfg->endpoint || !cfg->name || !cfg->version)
        return AHA_FAIL(AHA_ERR_ARG, "aha_verifier_serve: NULL argument");
    if (cfg->heartbeat_ms <= 0) return AHA_FAIL(AHA_ERR_ARG, "verifier: heartbeat_ms must be > 0");
    AHA_TRY(aha_reward_config_check(&cfg->reward));
    aha_verifier_stats_t st;
    memset(&st, 0, sizeof st);
    char who[160], id[200];
    snprintf(who, sizeof who, "%s@%s", cfg->name, cfg->version);
    snprintf(id, sizeof id, "verifier/%s/%d", who, (int)getpid());
    aha_wire_t *w = NULL;
    int rc =
        aha_link_open(zctx, &cfg->link, id, cfg->max_bytes, cfg->heartbeat_ms, cfg->endpoint, &w);
    if (rc == AHA_OK) rc = send_hello(w, cfg);
    if (rc != AHA_OK) goto done;
    aha_wire_set_check(w, aha_msg_check_fn, &cfg->limits);
    AHA_INFO("verifier %s connecting to %s", who, cfg->endpoint);
    double last_sent = aha_now_ms();
    for (;;) {
        if (aha_link_stopped(&cfg->link)) break;
        Aha__Envelope *in = NULL;
        if (aha_now_ms() - last_sent >= cfg->heartbeat_ms) {
            AHA_TRY_GOTO(rc, aha_wire_send_heartbeat(w, NULL, st.groups), done);
            st.heartbeats++;
            last_sent = aha_now_ms();
        }
        /* wake up at least every 100 ms to notice *stop */
        int wait = cfg->heartbeat_ms < 100 ? cfg->heartbeat_ms : 100;
        rc = aha_wire_recv(w, wait, NULL, &in);
        if (rc == AHA_ERR_TIMEOUT) {
            AHA_TRY_GOTO(rc, aha_wire_peer_check(w, cfg->link.peer_timeout_ms), done);
            continue;
        }
        if (rc != AHA_OK) goto done;
        if (in->body_case == AHA__ENVELOPE__BODY_CONTROL && !strcmp(in->control->command, "stop")) {
            aha_wire_free(&in);
            break;
        }
        if (in->body_case == AHA__ENVELOPE__BODY_GROUP) {
            Aha__ScoredGroup sg;
            rc = aha_verifier_score_group(&cfg->reward, cfg->sandbox, &st.sandbox, in->group, who,
                                          &sg);
            if (rc == AHA_OK) {
                rc = aha_wire_send_body(w, NULL, &sg.base);
                last_sent = aha_now_ms();
                st.groups++;
                st.samples += in->group->n_sample_index;
                aha_verifier_scores_free(&sg);
            }
        } else {
            AHA_DEBUG("verifier %s: ignoring a message of kind %d from %s", who, (int)in->body_case,
                      in->sender);
        }
        aha_wire_free(&in);
        if (rc != AHA_OK) goto done;
    }
done:
    if (w) st.wire = *aha_wire_stats(w);
    aha_wire_destroy(&w);
    if (stats) *stats = st;
    return rc;
}
