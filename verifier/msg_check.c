/* verifier/msg_check.c — content checks of the task messages (msg_check.h). */
#include "verifier/msg_check.h"
#include "core/err.h"
#include "tasks/task.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        goto fail;                                                                                 \
    } while (0)

static int check_group(const Aha__Group *g, const aha_msg_limits_t *lim, char *out, size_t cap) {
    char msg[200];
    size_t n = g->n_sample_index;
    if (n == 0) BAD("Group: no samples");
    if (lim->max_group > 0 && n > (size_t)lim->max_group)
        BAD("Group: %zu samples > %d", n, lim->max_group);
    if (g->n_prompt_len != n || g->n_total_len != n || g->n_finished != n)
        BAD("Group: prompt_len/total_len/finished have %zu/%zu/%zu entries for %zu samples",
            g->n_prompt_len, g->n_total_len, g->n_finished, n);
    uint64_t tokens = 0, responses = 0, fed = 0;
    for (size_t s = 0; s < n; s++) {
        uint32_t p = g->prompt_len[s], t = g->total_len[s];
        if (p == 0 || p > t) BAD("Group: sample %zu prompt_len %u, total_len %u", s, p, t);
        if (lim->max_len > 0 && t > (uint32_t)lim->max_len)
            BAD("Group: sample %zu total_len %u > %d", s, t, lim->max_len);
        if (g->finished[s] > 1) BAD("Group: sample %zu finished %u", s, g->finished[s]);
        tokens += t;
        responses += t - p;
        fed += t - 1;
    }
    if (g->n_tokens != tokens)
        BAD("Group: %zu tokens, lengths say %llu", g->n_tokens, (unsigned long long)tokens);
    if (lim->vocab > 0)
        for (size_t i = 0; i < g->n_tokens; i++)
            if (g->tokens[i] >= (uint32_t)lim->vocab)
                BAD("Group: token %zu is %u (vocab %d)", i, g->tokens[i], lim->vocab);
    if (g->n_logprobs != responses)
        BAD("Group: %zu logprobs for %llu response tokens", g->n_logprobs,
            (unsigned long long)responses);
    for (size_t i = 0; i < g->n_logprobs; i++)
        if (!isfinite(g->logprobs[i]) || g->logprobs[i] > 1e-4f)
            BAD("Group: logprob %zu is %g", i, (double)g->logprobs[i]);
    if (g->n_expert_ids > 0) {
        if ((lim->n_layers > 0 && g->n_layers != (uint32_t)lim->n_layers) ||
            (lim->top_k > 0 && g->top_k != (uint32_t)lim->top_k))
            BAD("Group: routing record of %u layers x top-%u (want %d x %d)", g->n_layers, g->top_k,
                lim->n_layers, lim->top_k);
        if ((uint64_t)g->n_expert_ids != fed * g->n_layers * g->top_k)
            BAD("Group: %zu expert ids, lengths say %llu", g->n_expert_ids,
                (unsigned long long)(fed * g->n_layers * g->top_k));
        for (size_t i = 0; i < g->n_expert_ids; i++)
            if (g->expert_ids[i] < -1 || (lim->n_experts > 0 && g->expert_ids[i] >= lim->n_experts))
                BAD("Group: expert id %zu is %d", i, g->expert_ids[i]);
    }
    if (!g->problem) BAD("Group: no problem");
    if (!aha_task_by_name(g->problem->kind)) BAD("Group: problem kind '%.40s'", g->problem->kind);
    if (g->problem->n_numbers > AHA_TASK_MAX_NUMBERS)
        BAD("Group: problem has %zu numbers", g->problem->n_numbers);
    return AHA_OK;
fail:
    if (out) snprintf(out, cap, "%s", msg);
    return AHA_FAIL(AHA_ERR_FORMAT, "%s", msg);
}

static int check_scores(const double *v, size_t n, size_t want, const char *field, char *out,
                        size_t cap) {
    char msg[200];
    if (n != want) BAD("ScoredGroup: %zu %s scores for %zu samples", n, field, want);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) BAD("ScoredGroup: %s score %zu is %g", field, i, v[i]);
    return AHA_OK;
fail:
    if (out) snprintf(out, cap, "%s", msg);
    return AHA_FAIL(AHA_ERR_FORMAT, "%s", msg);
}

int aha_msg_check(const Aha__Envelope *env, const aha_msg_limits_t *limits, char *out, size_t cap) {
    char msg[200];
    static const aha_msg_limits_t none = {0};
    const aha_msg_limits_t *lim = limits ? limits : &none;
    if (!env) BAD("no envelope");
    switch (env->body_case) {
    case AHA__ENVELOPE__BODY_GROUP:
        return check_group(env->group, lim, out, cap);
    case AHA__ENVELOPE__BODY_SCORED_GROUP: {
        const Aha__ScoredGroup *sg = env->scored_group;
        if (!sg->group) BAD("ScoredGroup: no group");
        AHA_TRY(check_group(sg->group, lim, out, cap));
        size_t n = sg->group->n_sample_index;
        AHA_TRY(check_scores(sg->total, sg->n_total, n, "total", out, cap));
        AHA_TRY(check_scores(sg->format, sg->n_format, n, "format", out, cap));
        AHA_TRY(check_scores(sg->accuracy, sg->n_accuracy, n, "accuracy", out, cap));
        AHA_TRY(check_scores(sg->language, sg->n_language, n, "language", out, cap));
        AHA_TRY(check_scores(sg->overlong, sg->n_overlong, n, "overlong", out, cap));
        if (!sg->verifier[0]) BAD("ScoredGroup: no verifier name");
        return AHA_OK;
    }
    case AHA__ENVELOPE__BODY_LEASE:
        if (env->lease->group_size == 0 ||
            (lim->max_group > 0 && env->lease->group_size > (uint32_t)lim->max_group))
            BAD("Lease: group_size %u", env->lease->group_size);
        return AHA_OK;
    default:
        return aha_wire_check_envelope(env, out, cap);
    }
fail:
    if (out) snprintf(out, cap, "%s", msg);
    return AHA_FAIL(AHA_ERR_FORMAT, "%s", msg);
}

int aha_msg_check_fn(const Aha__Envelope *env, const void *ctx, char *why, size_t cap) {
    return aha_msg_check(env, (const aha_msg_limits_t *)ctx, why, cap);
}
