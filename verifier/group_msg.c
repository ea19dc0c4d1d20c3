#include "verifier/group_msg.h"
#include "core/err.h"
#include "core/mem.h"
#include "model/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aha_group_msg_destroy(aha_group_msg_t **mp) {
    if (!mp || !*mp) return;
    aha_group_msg_t *m = *mp;
    Aha__Group *g = &m->group;
    AHA_FREE(g->sample_index, g->prompt_len, g->total_len, g->finished, g->tokens, g->logprobs,
             g->expert_ids, m->problem.numbers, m);
    *mp = NULL;
}

int aha_group_msg_from_rollout(const aha_rollout_t *r, uint64_t lease_id, uint64_t prompt_id,
                               uint64_t version, const aha_reward_problem_t *prob,
                               const char *actor, aha_group_msg_t **out) {
    if (!r || !prob || !actor || !out)
        return AHA_FAIL(AHA_ERR_ARG, "aha_group_msg_from_rollout: NULL argument");
    const aha_task_t *task = aha_task_by_kind(prob->kind);
    if (!task)
        return AHA_FAIL(AHA_ERR_ARG, "group message: unknown problem kind %d", (int)prob->kind);
    if (prob->n_numbers < 0 || prob->n_numbers > AHA_TASK_MAX_NUMBERS)
        return AHA_FAIL(AHA_ERR_ARG, "group message: %d numbers", prob->n_numbers);
    const size_t n = (size_t)r->n;
    size_t tokens = 0, responses = 0, fed = 0;
    for (size_t s = 0; s < n; s++) {
        tokens += (size_t)r->total_len[s];
        responses += (size_t)(r->total_len[s] - r->prompt_len[s]);
        fed += (size_t)(r->total_len[s] - 1);
    }
    const size_t LK = r->expert_ids ? (size_t)r->n_layers * r->top_k : 0;
    aha_group_msg_t *m = calloc(1, sizeof *m);
    if (!m) return AHA_FAIL(AHA_ERR_NOMEM, "group message");
    Aha__Group gi = AHA__GROUP__INIT;
    Aha__Problem pi = AHA__PROBLEM__INIT;
    m->group = gi;
    m->problem = pi;
    Aha__Group *g = &m->group;
    g->sample_index = malloc(sizeof(uint32_t) * n);
    g->prompt_len = malloc(sizeof(uint32_t) * n);
    g->total_len = malloc(sizeof(uint32_t) * n);
    g->finished = malloc(sizeof(uint32_t) * n);
    g->tokens = malloc(sizeof(uint32_t) * (tokens ? tokens : 1));
    g->logprobs = malloc(sizeof(float) * (responses ? responses : 1));
    if (LK) g->expert_ids = malloc(sizeof(int32_t) * (fed > 0 ? fed * LK : 1));
    m->problem.numbers = malloc(sizeof(int32_t) * AHA_TASK_MAX_NUMBERS);
    if (!g->sample_index || !g->prompt_len || !g->total_len || !g->finished || !g->tokens ||
        !g->logprobs || (LK && !g->expert_ids) || !m->problem.numbers) {
        aha_group_msg_destroy(&m);
        return AHA_FAIL(AHA_ERR_NOMEM, "group message of %zu tokens", tokens);
    }
    size_t t_off = 0, l_off = 0, e_off = 0;
    for (size_t s = 0; s < n; s++) {
        const int P = r->prompt_len[s], T = r->total_len[s];
        const int *row = r->tokens + s * (size_t)r->max_len;
        g->sample_index[s] = (uint32_t)s;
        g->prompt_len[s] = (uint32_t)P;
        g->total_len[s] = (uint32_t)T;
        g->finished[s] = r->finished[s] ? 1 : 0;
        for (int t = 0; t < T; t++)
            g->tokens[t_off++] = (uint32_t)row[t];
        for (int t = P; t < T; t++)
            g->logprobs[l_off++] = r->logprobs[s * (size_t)r->max_len + t];
        for (int t = 0; LK && t < T - 1; t++)
            for (int l = 0; l < r->n_layers; l++)
                for (int k = 0; k < r->top_k; k++)
                    g->expert_ids[e_off++] =
                        r->expert_ids[(((size_t)l * n + s) * r->max_len + t) * r->top_k + k];
    }
    g->n_sample_index = g->n_prompt_len = g->n_total_len = g->n_finished = n;
    g->n_tokens = tokens;
    g->n_logprobs = responses;
    g->n_expert_ids = fed * LK;
    g->n_layers = LK ? (uint32_t)r->n_layers : 0;
    g->top_k = LK ? (uint32_t)r->top_k : 0;
    g->lease_id = lease_id;
    g->prompt_id = prompt_id;
    g->policy_version = version;
    snprintf(m->kind, sizeof m->kind, "%s", task->name);
    snprintf(m->actor, sizeof m->actor, "%s", actor);
    m->problem.kind = m->kind;
    m->problem.expected = prob->expected;
    m->problem.target = prob->target;
    m->problem.n_numbers = (size_t)prob->n_numbers;
    for (int i = 0; i < prob->n_numbers; i++)
        m->problem.numbers[i] = prob->numbers[i];
    g->problem = &m->problem;
    g->actor = m->actor;
    *out = m;
    return AHA_OK;
}

int aha_group_msg_to_rollout(const Aha__Group *g, aha_rollout_t *r) {
    if (!g || !r) return AHA_FAIL(AHA_ERR_ARG, "aha_group_msg_to_rollout: NULL argument");
    const size_t n = g->n_sample_index;
    if (n != (size_t)r->n)
        return AHA_FAIL(AHA_ERR_ARG, "group of %zu samples into a rollout of %d rows", n, r->n);
    const size_t LK = (size_t)r->n_layers * r->top_k;
    const int record = r->expert_ids != NULL;
    if (record && (g->n_expert_ids == 0 || g->n_layers != (uint32_t)r->n_layers ||
                   g->top_k != (uint32_t)r->top_k))
        return AHA_FAIL(AHA_ERR_ARG,
                        "group routing record (%u x %u, %zu ids) does not fit the "
                        "rollout (%d x %d)",
                        g->n_layers, g->top_k, g->n_expert_ids, r->n_layers, r->top_k);
    int seen[AHA_GROUP_MAX] = {0};
    for (size_t s = 0; s < n; s++) {
        if (g->total_len[s] > (uint32_t)r->max_len || g->sample_index[s] >= n ||
            n > AHA_GROUP_MAX || seen[g->sample_index[s]]++)
            return AHA_FAIL(AHA_ERR_ARG, "group sample %zu (index %u, %u tokens) does not fit", s,
                            g->sample_index[s], g->total_len[s]);
    }
    size_t t_off = 0, l_off = 0, e_off = 0;
    for (size_t s = 0; s < n; s++) {
        const size_t row = g->sample_index[s];
        const int P = (int)g->prompt_len[s], T = (int)g->total_len[s];
        int *tok = r->tokens + row * r->max_len;
        float *lp = r->logprobs + row * r->max_len;
        for (int t = 0; t < r->max_len; t++) {
            tok[t] = t < T ? (int)g->tokens[t_off + t] : AHA_TOK_PAD;
            lp[t] = 0;
        }
        t_off += (size_t)T;
        for (int t = P; t < T; t++)
            lp[t] = g->logprobs[l_off++];
        r->prompt_len[row] = P;
        r->total_len[row] = T;
        r->finished[row] = (int)g->finished[s];
        if (!record) continue;
        for (int t = 0; t < r->max_len; t++)
            for (int l = 0; l < r->n_layers; l++)
                for (int k = 0; k < r->top_k; k++)
                    r->expert_ids[(((size_t)l * n + row) * r->max_len + t) * r->top_k + k] =
                        t < T - 1
                            ? g->expert_ids[e_off + ((size_t)t * r->n_layers + l) * r->top_k + k]
                            : -1;
        e_off += (size_t)(T - 1) * LK;
    }
    return AHA_OK;
}
