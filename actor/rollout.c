#include "actor/rollout.h"
#include "core/err.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* aha_generate's scratch, laid out in the rollout's workspace (one allocation, reused). */
typedef struct {
    int *feed, *active, *stopped; /* [n]; stopped: no more tokens (<eos> or a length limit) */
    float *logits;                /* [n*V] */
    aha_sample_cand_t *cands;     /* [V] sampler scratch */
    int *step_ids;                /* [L*n*K] or NULL */
} gen_work_t;

/* Carves N elements of SIZE bytes (16-byte aligned) from *at; with BASE NULL only counts. */
static void *carve(char *base, size_t *at, size_t n, size_t size) {
    void *p = base ? base + *at : NULL;
    *at += (n * size + 15) & ~(size_t)15;
    return p;
}

/* Points W into BASE (NULL: only measures); returns the bytes needed. */
static size_t layout_work(gen_work_t *w, char *base, int n, int V, int L, int K) {
    size_t at = 0;
    w->feed = carve(base, &at, (size_t)n, sizeof(int));
    w->active = carve(base, &at, (size_t)n, sizeof(int));
    w->stopped = carve(base, &at, (size_t)n, sizeof(int));
    w->logits = carve(base, &at, (size_t)n * V, sizeof(float));
    w->cands = carve(base, &at, (size_t)V, sizeof(aha_sample_cand_t));
    w->step_ids = K > 0 ? carve(base, &at, (size_t)L * n * K, sizeof(int)) : NULL;
    return at;
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
    gen_work_t w;
    const size_t need = layout_work(&w, NULL, n, V, L, K);
    if (r->work_bytes < need) { /* first call (or a larger vocabulary): allocated once */
        void *p = realloc(r->work, need);
        if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "generate workspace of %zu bytes", need);
        r->work = p;
        r->work_bytes = need;
    }
    layout_work(&w, r->work, n, V, L, K);
    int *feed = w.feed, *active = w.active, *stopped = w.stopped, *step_ids = w.step_ids;
    float *logits = w.logits;
    aha_sample_cand_t *scratch = w.cands;
    int rc = AHA_OK;
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
    return rc;
}
