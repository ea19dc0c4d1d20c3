/* model/rollout.c — the rollout buffers (model/rollout.h). */
#include "model/rollout.h"
#include "core/err.h"
#include "model/tokenizer.h"
#include <stdlib.h>

int aha_rollout_new(const aha_model_t *m, int n, int max_len, int record_experts,
                    aha_rollout_t **out) {
    if (!m || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_rollout_new: NULL argument");
    if (n <= 0 || max_len < 2 || max_len > m->cfg.max_seq_len)
        return AHA_FAIL(AHA_ERR_ARG,
                        "aha_rollout_new: n=%d max_len=%d (need n >= 1, 2 <= max_len <= %d)", n,
                        max_len, m->cfg.max_seq_len);
    aha_rollout_t *r = calloc(1, sizeof *r);
    if (!r) return AHA_FAIL(AHA_ERR_NOMEM, "rollout");
    r->n = n;
    r->max_len = max_len;
    r->n_layers = m->cfg.n_layers;
    r->top_k = m->cfg.n_routed_experts > 0 ? m->cfg.top_k : 0;
    /* one zeroed block: tokens, prompt_len, total_len, finished, expert_ids (ints), logprobs */
    const size_t cells = (size_t)n * max_len;
    const size_t ids = record_experts && r->top_k > 0 ? (size_t)r->n_layers * cells * r->top_k : 0;
    const size_t ints = cells + 3 * (size_t)n + ids;
    r->mem = calloc(ints * sizeof(int) + cells * sizeof(float), 1);
    if (!r->mem) {
        free(r);
        return AHA_FAIL(AHA_ERR_NOMEM, "rollout: %d x %d", n, max_len);
    }
    int *at = r->mem;
    r->tokens = at;
    r->prompt_len = at + cells;
    r->total_len = r->prompt_len + n;
    r->finished = r->total_len + n;
    r->expert_ids = ids ? r->finished + n : NULL;
    r->logprobs = (float *)(at + ints);
    *out = r;
    return AHA_OK;
}

void aha_rollout_destroy(aha_rollout_t **rp) {
    if (!rp || !*rp) return;
    free((*rp)->mem);
    free((*rp)->work);
    free(*rp);
    *rp = NULL;
}

int aha_rollout_response_text(const aha_rollout_t *r, int b, char *buf, size_t cap) {
    if (!r || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_rollout_response_text: NULL argument");
    if (b < 0 || b >= r->n) return AHA_FAIL(AHA_ERR_RANGE, "rollout row %d of %d", b, r->n);
    const int *row = r->tokens + (size_t)b * r->max_len;
    return aha_tok_decode(row + r->prompt_len[b], r->total_len[b] - r->prompt_len[b], buf, cap);
}
