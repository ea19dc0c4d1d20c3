/* recipe/sft_data.h — supervised fine-tuning data: a JSONL file of (prompt, response) pairs,
 *
 *   {"prompt": "<bos><|User|>57+68<|Assistant|>", "response": "<think>...</think><answer>125</answer><eos>"}
 *
 * one object a line (blank lines skipped, other keys ignored), both texts in tokenizer spellings
 * (model/tokenizer.h: the prompt as the run's template writes it, the response as the model should
 * continue it). A row is prompt + response with the loss on the response tokens only.
 * Rows are served in epochs: epoch e is a permutation of the pairs drawn from the stream
 * (seed, AHA_STREAM_SFT_SHUFFLE, e), so row INDEX is a pure function of (seed, INDEX) and a
 * resumed run sees the same rows. */
#ifndef AHA_RECIPE_SFT_DATA_H
#define AHA_RECIPE_SFT_DATA_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct aha_sft_data aha_sft_data_t;

/* Reads and tokenizes PATH; every pair must fit in MAX_LEN tokens. Errors name the file and the
 * line: AHA_ERR_IO (cannot read), AHA_ERR_FORMAT ("PATH:LINE: ..." for a line that is not a JSON
 * object, lacks a string "prompt" or "response", has an empty response, a byte outside the
 * vocabulary, or no pair at all), AHA_ERR_RANGE ("PATH:LINE: ... tokens, model.max_seq_len is
 * N"). *out written only on success. */
int aha_sft_data_load(const char *path, int max_len, uint64_t seed, aha_sft_data_t **out);
void aha_sft_data_destroy(aha_sft_data_t **d);
size_t aha_sft_data_count(const aha_sft_data_t *d);
/* Tokens of pair I (prompt first) and its prompt length; NULL for I out of range. */
const int *aha_sft_data_pair(const aha_sft_data_t *d, size_t i, int *len, int *prompt_len);

/* The row source of recipe/lm_train.h for CTX = an aha_sft_data_t: row INDEX is pair
 * perm_e[INDEX mod N] of epoch e = INDEX / N. Not thread-safe (keeps the epoch's permutation). */
int aha_sft_data_row(void *ctx, uint64_t index, int T, int *tokens, int *targets, int *len);

/* Appends one pair as a JSON line to F (strings escaped by cJSON). AHA_ERR_IO on a write error. */
int aha_sft_write_pair(FILE *f, const char *prompt, const char *response);

#endif
