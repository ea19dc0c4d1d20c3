/* actor/rollout.h — batched generation with the KV cache: one call samples a continuation for
 * each row (a GRPO group is one call with G copies of a prompt), recording each sampled token's
 * behaviour log-prob and, optionally, the routed expert ids (routing record for R3).
 *
 * Row b's randomness comes only from rngs[b], so a row's output does not depend on which other
 * rows share the batch or which process runs it. The rollout owns its buffers. */
#ifndef AHA_ACTOR_ROLLOUT_H
#define AHA_ACTOR_ROLLOUT_H
#include "core/rng.h"
#include "model/model.h"
#include "model/rollout.h"

typedef struct {
    int max_new_tokens;
    float temperature; /* 0 = greedy */
    float top_p;       /* 1 = off */
} aha_gen_config_t;

/* Generates rows 0..r->n-1 from prompts[b][0..prompt_lens[b]) until <eos>, max_new_tokens or
 * max_len. KV must have r->n rows and hold at least max_len - 1 positions; it is reset first.
 * After success, row b is tokens[0..total_len) then <pad>; logprobs are 0 outside the response;
 * the last token of a row is never fed to the model, so its expert ids are -1 like everything
 * from total_len on. Every argument (NULLs, a rollout or KV of another shape, prompt lengths in
 * [1, max_len), prompt tokens in the vocabulary, max_new_tokens >= 1, a finite temperature >= 0,
 * top_p in (0, 1]) is checked before anything is written: AHA_ERR_ARG / AHA_ERR_RANGE. */
int aha_generate(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                 const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                 aha_rollout_t *r);
/* Prompts: aha_generate prefills each distinct prompt once (aha_kv_prefill, one pass over its
 * positions) and the rows with the same prompt (the G samples of a group; rows of several groups
 * can share one call) copy its KV rows, logits and routing record. aha_generate_stepwise is the
 * reference path: every row feeds its prompt one position per aha_decode_step. Same maths; the
 * float rounding of sgemm over other row counts may differ in the last bits (tests compare the
 * two, docs/model.md). Each path is deterministic and a row's RNG draws are the same in both. */
int aha_generate_stepwise(const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                          const int *prompt_lens, aha_rng_t *rngs, const aha_gen_config_t *gen,
                          aha_rollout_t *r);

#endif
