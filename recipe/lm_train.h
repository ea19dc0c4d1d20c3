/* recipe/lm_train.h — supervised next-token training of a model on rows from a caller's source:
 * the loop shared by `aha pretrain` (corpus documents) and `aha sft` (prompt/response pairs).
 *
 *   aha_lm_train_t cfg; aha_lm_train_default(&cfg); cfg.steps = ...;
 *   aha_lm_train(model, &cfg, "runs/x/sft", row_fn, ctx);
 *
 * Each step fills B rows by calling ROW(ctx, step * B + b, ...) (so the data of a step is a pure
 * function of the step: resume is exact), runs forward, masked cross-entropy (targets < 0 carry no
 * loss), backward, global-norm clipping, AdamW (no weight decay on vectors: norms) with warmup +
 * cosine and the aux-loss-free bias update. It writes, under DIR:
 *   metrics.jsonl   every log_every steps: step, loss, aux_loss, lr, grad_norm,
 *                   nonfinite_skipped, tokens_per_s, expert_imbalance, elapsed_s
 *   checkpoint/     every checkpoint_every steps (learner/run_state.h: model, optimizer, state)
 *   final/          after the last step
 * With resume set it continues bit-exactly from DIR/checkpoint (metrics rows after it dropped).
 * The model is the caller's (initialised or loaded); gradients are allocated here if missing. */
#ifndef AHA_RECIPE_LM_TRAIN_H
#define AHA_RECIPE_LM_TRAIN_H
#include "model/model.h"
#include <stdint.h>

typedef struct {
    const char *label; /* progress line prefix ("pretrain", "sft") */
    int steps, batch_size, warmup, log_every, checkpoint_every;
    double lr, min_lr, weight_decay, beta1, beta2, grad_clip;
    int on_nonfinite; /* AHA_NONFINITE_STOP | _SKIP (learner/grpo.h) */
    int resume;       /* continue from DIR/checkpoint */
    int nan_step;     /* tests: the loss of this step (1-based) reads as NaN; 0 = off */
} aha_lm_train_t;

/* The pretraining defaults of the run config (400 steps of 64, lr 2e-3 -> 2e-4, ...). */
void aha_lm_train_default(aha_lm_train_t *cfg);

/* Fills tokens[0..T) and targets[0..T) of the row for data INDEX (targets[t] = the token to
 * predict after position t, or -1 for no loss; positions past the row padded by the caller or
 * left as they are) and *len (1..T). Returns AHA_OK or an error code with the message set. */
typedef int (*aha_lm_row_fn)(void *ctx, uint64_t index, int T, int *tokens, int *targets,
                             int *len);

/* Trains M for cfg->steps steps (see above). Rows are at most M's max_seq_len tokens. Errors:
 * AHA_ERR_ARG for a bad config, the ROW callback's errors, AHA_ERR_RANGE for a non-finite step
 * with on_nonfinite stop (nothing saved), I/O errors naming the path. */
int aha_lm_train(aha_model_t *m, const aha_lm_train_t *cfg, const char *dir, aha_lm_row_fn row,
                 void *ctx);

/* Masked loss of M on ROWS rows (indices 0..rows) of ROW, in batches of B, without any update:
 * the mean over rows' target tokens into *out. For tests and reports. */
int aha_lm_eval_loss(const aha_model_t *m, int rows, int B, aha_lm_row_fn row, void *ctx,
                     double *out);

/* Targets of a row whose loss is on the tokens after the first PROMPT_LEN: targets[t] =
 * tokens[t+1] for prompt_len - 1 <= t < len - 1, else -1 (t < T). */
void aha_lm_mask_prompt(const int *tokens, int len, int prompt_len, int T, int *targets);

#endif
