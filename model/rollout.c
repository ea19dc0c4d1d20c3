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
    size_t cells = (size_t)n * max_len;
    r->tokens = calloc(cells, sizeof(int));
    r->logprobs = calloc(cells, sizeof(float));
    r->prompt_len = calloc(n, sizeof(int));
    r->total_len = calloc(n, sizeof(int));
    r->finished = calloc(n, sizeof(int));
    if (record_experts && r->top_k > 0)
        r->expert_ids = malloc(sizeof(int) * (size_t)r->n_layers * cells * r->top_k);
    if (!r->tokens || !r->logprobs || !r->prompt_len || !r->total_len || !r->finished ||
        (record_experts && r->top_k > 0 && !r->expert_ids)) {
        aha_rollout_destroy(&r);
        return AHA_FAIL(AHA_ERR_NOMEM, "rollout: %d x %d", n, max_len);
    }
    *out = r;
    return AHA_OK;
}

void aha_rollout_destroy(aha_rollout_t **rp) {
    if (!rp || !*rp) return;
    aha_rollout_t *r = *rp;
    free(r->tokens);
    free(r->logprobs);
    free(r->prompt_len);
    free(r->total_len);
    free(r->finished);
    free(r->expert_ids);
    free(r->work);
    free(r);
    *rp = NULL;
}

int aha_rollout_response_text(const aha_rollout_t *r, int b, char *buf, size_t cap) {
    if (!r || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_rollout_response_text: NULL argument");
    if (b < 0 || b >= r->n) return AHA_FAIL(AHA_ERR_RANGE, "rollout row %d of %d", b, r->n);
    const int *row = r->tokens + (size_t)b * r->max_len;
    return aha_tok_decode(row + r->prompt_len[b], r->total_len[b] - r->prompt_len[b], buf, cap);
}
