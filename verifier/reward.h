/* verifier/reward.h — rule rewards on a decoded response (tokenizer spellings, e.g.
 * "<think>7+8=15;</think><answer>15</answer><eos>"). Pure functions: deterministic, no allocation,
 * bounded work (linear in the text length). */
#ifndef AHA_VERIFIER_REWARD_H
#define AHA_VERIFIER_REWARD_H
#include <stddef.h>
#include <stdint.h>

/* 1 if RESPONSE is exactly "<think>X</think><answer>Y</answer>" optionally followed by "<eos>",
 * where X and Y contain no tag ("<think>", "</think>", "<answer>", "</answer>", "<eos>", "<bos>",
 * "<|User|>", "<|Assistant|>") and Y is non-empty; else 0. */
int aha_reward_format_ok(const char *response);

/* Extracts the answer text of a well-formed response (aha_reward_format_ok) into buf;
 * AHA_ERR_FORMAT if malformed, AHA_ERR_RANGE if it does not fit. */
int aha_reward_extract_answer(const char *response, char *buf, size_t cap);

/* Parses a decimal integer answer: optional '-', 1..18 digits, nothing else. */
int aha_reward_parse_int(const char *text, int64_t *out);

#endif
