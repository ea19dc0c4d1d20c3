#include "actor/rollout.h"
#include "core/err.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    free(r);
    *rp = NULL;
}

/* Everything aha_generate can reject, checked before anything is written. */
static int check_generate_args(const aha_model_t *m, const aha_kv_t *kv, const int *const *prompts,
                               const int *prompt_lens, const aha_rng_t *rngs,
                               const aha_gen_config_t *gen, const aha_rollout_t *r) {
    if (!m || !kv || !prompts || !prompt_lens || !rngs || !gen || !r)
        return AHA_FAIL(AHA_ERR_ARG, "generate: NULL argument");
    const int K = m->cfg.n_routed_experts > 0 ? m->cfg.top_k : 0;
    if (r->n_layers != m->cfg.n_layers || r->top_k != K)
        return AHA_FAIL(AHA_ERR_ARG, "generate: rollout made for another model (%d layers, top-%d)",
                        r->n_layers, r->top_k);
    if (aha_kv_rows(kv) != r->n)
        return AHA_FAIL(AHA_ERR_ARG, "generate: KV cache has %d rows, rollout %d", aha_kv_rows(kv),
                        r->n);
    if (aha_kv_capacity(kv) < r->max_len - 1)
        return AHA_FAIL(AHA_ERR_RANGE, "generate: KV cache holds %d positions, rows need %d",
                        aha_kv_capacity(kv), r->max_len - 1);
    if (gen->max_new_tokens < 1 || !(gen->temperature >= 0) || isinf(gen->temperature) ||
        !(gen->top_p > 0 && gen->top_p <= 1))
        return AHA_FAIL(AHA_ERR_ARG,
                        "generate: max_new_tokens %d (>= 1), temperature %g (finite, >= 0), top_p "
                        "%g (in (0, 1])",
                        gen->max_new_tokens, gen->temperature, gen->top_p);
    for (int b = 0; b < r->n; b++) {
        if (!prompts[b] || prompt_lens[b] <= 0 || prompt_lens[b] >= r->max_len)
            return AHA_FAIL(AHA_ERR_ARG, "generate: row %d prompt length %d (max_len %d)", b,
                            prompt_lens[b], r->max_len);
        for (int t = 0; t < prompt_lens[b]; t++)
            if (prompts[b][t] < 0 || prompts[b][t] >= m->cfg.vocab_size)
                return AHA_FAIL(AHA_ERR_ARG, "generate: row %d token %d is %d (vocab %d)", b, t,
                                prompts[b][t], m->cfg.vocab_size);
    }
    return AHA_OK;
}

int aha_generate(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                 const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                 aha_rollout_t *r) {
    AHA_TRY(check_generate_args(m, kv, prompts, prompt_lens, rngs, gen, r));
    const int n = r->n, V = m->cfg.vocab_size, L = m->cfg.n_layers, K = r->top_k;
    int *feed = malloc(sizeof(int) * n);
    int *active = malloc(sizeof(int) * n);
    int *stopped = malloc(sizeof(int) * n); /* no more tokens: <eos> or a length limit */
    float *logits = malloc(sizeof(float) * (size_t)n * V);
    float *scratch = malloc(sizeof(float) * 2 * (size_t)V);
    int *step_ids = K > 0 ? malloc(sizeof(int) * (size_t)L * n * K) : NULL;
    int rc = AHA_OK;
    if (!feed || !active || !stopped || !logits || !scratch || (K > 0 && !step_ids)) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "generate");
        goto done;
    }
    aha_kv_reset(kv);
    memset(r->logprobs, 0, sizeof(float) * (size_t)n * r->max_len);
    if (r->expert_ids) {
        size_t cells = (size_t)L * n * r->max_len * K;
        for (size_t i = 0; i < cells; i++)
            r->expert_ids[i] = -1;
    }
    for (int b = 0; b < n; b++) {
        int *row = r->tokens + (size_t)b * r->max_len;
        memcpy(row, prompts[b], sizeof(int) * prompt_lens[b]);
        for (int t = prompt_lens[b]; t < r->max_len; t++)
            row[t] = AHA_TOK_PAD;
        r->prompt_len[b] = r->total_len[b] = prompt_lens[b];
        r->finished[b] = 0;
        stopped[b] = 0;
    }
    for (;;) {
        /* Feed position pos = kv_len of each live row: prompt tokens first, then sampled ones. */
        int any = 0;
        for (int b = 0; b < n; b++) {
            int pos = aha_kv_len(kv, b);
            int live = !stopped[b] && pos < r->total_len[b];
            active[b] = live;
            if (live) feed[b] = r->tokens[(size_t)b * r->max_len + pos];
            any |= live;
        }
        if (!any) break;
        AHA_TRY_GOTO(rc, aha_decode_step(m, kv, feed, active, logits, step_ids), done);
        for (int b = 0; b < n; b++) {
            if (!active[b]) continue;
            int pos = aha_kv_len(kv, b) - 1; /* position just fed */
            if (r->expert_ids)
                for (int l = 0; l < L; l++)
                    for (int k = 0; k < K; k++)
                        r->expert_ids[(((size_t)l * n + b) * r->max_len + pos) * K + k] =
                            step_ids[((size_t)l * n + b) * K + k];
            if (pos + 1 < r->total_len[b]) continue; /* still in the prompt */
            float lp = 0;
            int tok = aha_sample_logits(logits + (size_t)b * V, V, gen->temperature, gen->top_p,
                                        &rngs[b], scratch, &lp);
            if (tok < 0) {
                rc = tok;
                goto done;
            }
            r->tokens[(size_t)b * r->max_len + pos + 1] = tok;
            r->logprobs[(size_t)b * r->max_len + pos + 1] = lp;
            r->total_len[b]++;
            /* the last token is never fed: nothing would read its logits */
            if (tok == AHA_TOK_EOS) r->finished[b] = stopped[b] = 1;
            if (r->total_len[b] - r->prompt_len[b] >= gen->max_new_tokens ||
                r->total_len[b] >= r->max_len)
                stopped[b] = 1;
        }
    }
done:
    free(feed);
    free(active);
    free(stopped);
    free(logits);
    free(scratch);
    free(step_ids);
    return rc;
}

int aha_rollout_response_text(const aha_rollout_t *r, int b, char *buf, size_t cap) {
    if (!r || !buf) return AHA_FAIL(AHA_ERR_ARG, "aha_rollout_response_text: NULL argument");
    if (b < 0 || b >= r->n) return AHA_FAIL(AHA_ERR_RANGE, "rollout row %d of %d", b, r->n);
    const int *row = r->tokens + (size_t)b * r->max_len;
    return aha_tok_decode(row + r->prompt_len[b], r->total_len[b] - r->prompt_len[b], buf, cap);
}
