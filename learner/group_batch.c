#include "learner/group_batch.h"
#include "core/err.h"
#include "core/mem.h"
#include <stdlib.h>
#include <string.h>

struct aha_group_batch {
    aha_group_batch_config_t cfg;
    int n_groups, G, max_len, L, K;
    int kept, seen, zero_std;
    int viewed; /* the view compacted the routing record: no more adds until reset */
    int *tokens, *prompt_len, *total_len, *expert_ids;
    float *logp, *adv;
};

int aha_group_batch_new(int n_groups, int G, int max_len, int n_layers, int top_k,
                        int record_experts, const aha_group_batch_config_t *cfg,
                        aha_group_batch_t **out) {
    if (n_groups <= 0 || G <= 0 || max_len <= 0)
        return AHA_FAIL(AHA_ERR_ARG, "group batch: %d groups of %d x %d", n_groups, G, max_len);
    aha_group_batch_t *b = calloc(1, sizeof *b);
    if (!b) return AHA_FAIL(AHA_ERR_NOMEM, "group batch");
    b->cfg = *cfg;
    b->n_groups = n_groups;
    b->G = G;
    b->max_len = max_len;
    b->L = n_layers;
    b->K = record_experts ? top_k : 0;
    const size_t rows = (size_t)n_groups * G, cells = rows * max_len;
    b->tokens = malloc(sizeof(int) * cells);
    b->logp = malloc(sizeof(float) * cells);
    b->prompt_len = malloc(sizeof(int) * rows);
    b->total_len = malloc(sizeof(int) * rows);
    b->adv = malloc(sizeof(float) * rows);
    if (b->K > 0) b->expert_ids = malloc(sizeof(int) * (size_t)n_layers * cells * b->K);
    if (!b->tokens || !b->logp || !b->prompt_len || !b->total_len || !b->adv ||
        (b->K > 0 && !b->expert_ids)) {
        aha_group_batch_destroy(&b);
        return AHA_FAIL(AHA_ERR_NOMEM, "group batch: %zu rows", rows);
    }
    *out = b;
    return AHA_OK;
}

void aha_group_batch_destroy(aha_group_batch_t **bp) {
    if (!bp || !*bp) return;
    aha_group_batch_t *b = *bp;
    AHA_FREE(b->tokens, b->logp, b->prompt_len, b->total_len, b->adv, b->expert_ids, b);
    *bp = NULL;
}

void aha_group_batch_reset(aha_group_batch_t *b) {
    b->kept = b->seen = b->zero_std = b->viewed = 0;
}
int aha_group_batch_full(const aha_group_batch_t *b) {
    return b->kept == b->n_groups;
}
int aha_group_batch_groups(const aha_group_batch_t *b) {
    return b->kept;
}
int aha_group_batch_seen(const aha_group_batch_t *b) {
    return b->seen;
}
int aha_group_batch_zero_std(const aha_group_batch_t *b) {
    return b->zero_std;
}

int aha_group_batch_add(aha_group_batch_t *b, const aha_rollout_t *ro, const float *rewards) {
    if (ro->n != b->G || ro->max_len != b->max_len ||
        (b->K > 0 && (!ro->expert_ids || ro->top_k != b->K)))
        return AHA_FAIL(AHA_ERR_ARG, "group batch: rollout %d x %d does not fit %d x %d", ro->n,
                        ro->max_len, b->G, b->max_len);
    if (aha_group_batch_full(b) || b->viewed)
        return AHA_FAIL(AHA_ERR_STATE, "group batch is %s",
                        b->viewed ? "being trained on (reset first)" : "full");
    const int G = b->G, T = b->max_len;
    int zero = 1;
    for (int g = 1; g < G; g++)
        zero &= rewards[g] == rewards[0];
    b->seen++;
    b->zero_std += zero;
    if (zero && b->cfg.drop_zero_std) return 0;
    const size_t row0 = (size_t)b->kept * G, rows = (size_t)b->n_groups * G;
    aha_group_advantages(rewards, G, b->cfg.normalize_std, b->cfg.adv_eps, b->adv + row0);
    memcpy(b->tokens + row0 * T, ro->tokens, sizeof(int) * (size_t)G * T);
    memcpy(b->logp + row0 * T, ro->logprobs, sizeof(float) * (size_t)G * T);
    memcpy(b->prompt_len + row0, ro->prompt_len, sizeof(int) * G);
    memcpy(b->total_len + row0, ro->total_len, sizeof(int) * G);
    /* routing record stored with a stride of the full capacity; compacted by the view */
    for (int l = 0; l < b->L && b->K > 0; l++)
        memcpy(b->expert_ids + ((size_t)l * rows + row0) * T * b->K,
               ro->expert_ids + (size_t)l * G * T * b->K, sizeof(int) * (size_t)G * T * b->K);
    b->kept++;
    return 1;
}

void aha_group_batch_view(aha_group_batch_t *b, aha_rl_batch_t *out) {
    const size_t n = (size_t)b->kept * b->G, rows = (size_t)b->n_groups * b->G, T = b->max_len;
    if (b->K > 0 && n < rows &&
        !b->viewed) /* layer l's block moves from l*rows to l*n (never overlaps forward) */
        for (int l = 1; l < b->L; l++)
            memmove(b->expert_ids + (size_t)l * n * T * b->K,
                    b->expert_ids + (size_t)l * rows * T * b->K, sizeof(int) * n * T * b->K);
    out->n_seq = (int)n;
    out->max_len = b->max_len;
    out->tokens = b->tokens;
    out->prompt_len = b->prompt_len;
    out->total_len = b->total_len;
    out->behav_logp = b->logp;
    out->expert_ids = b->K > 0 ? b->expert_ids : NULL;
    out->adv = b->adv;
    b->viewed = 1;
}
