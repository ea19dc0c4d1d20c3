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

/* Copies the text inside the first "<answer>…</answer>" of RESPONSE (whatever the rest of the
 * format) into buf; AHA_ERR_FORMAT if there is none, AHA_ERR_RANGE if it does not fit. */
int aha_reward_first_answer(const char *response, char *buf, size_t cap);

/* ---- numeric equivalence ---- */

/* Exact rational, den > 0, lowest terms. */
typedef struct {
    int64_t num, den;
} aha_rational_t;

/* Parses "[+-]digits[.digits]" (at most 18 digits in all, no exponent, no spaces) exactly;
 * AHA_ERR_FORMAT otherwise. "012", "+12" and "12.00" all equal 12. */
int aha_reward_parse_number(const char *text, aha_rational_t *out);
/* 1 if both texts parse (aha_reward_parse_number) and are equal, else 0. */
int aha_reward_numbers_equal(const char *a, const char *b);

/* ---- countdown ---- */

#define AHA_COUNTDOWN_MAX_LEN 256   /* expression bytes */
#define AHA_COUNTDOWN_MAX_DEPTH 16  /* nested parentheses */
#define AHA_COUNTDOWN_MAX_NUMBERS 8

/* 1 if EXPR — integers, + - * /, parentheses and spaces; no unary minus — uses each of
 * numbers[0..n) at most once (as a multiset), evaluates exactly (int64 rationals; overflow and
 * division by zero make it wrong) to TARGET. Anything else, including over-long or too deeply
 * nested input, is 0. Linear time. */
int aha_reward_countdown(const char *expr, const int *numbers, int n, int64_t target);

/* ---- shaping ---- */

/* Fraction of the bytes inside <think>…</think> that belong to CHARSET (a NUL-terminated set of
 * allowed bytes) — the R1 language-consistency reward. 0 when there is no think block or it is empty. */
double aha_reward_language(const char *response, const char *charset);

/* DAPO overlong shaping for a response of LEN tokens, cap MAX_LEN, soft window CACHE:
 * 0 if len <= max_len - cache; (max_len - cache - len) / cache inside the window; -1 beyond. */
double aha_reward_overlong(int len, int max_len, int cache);

/* ---- combined scorer ---- */

typedef enum { AHA_TASK_ADDITION = 0, AHA_TASK_COUNTDOWN = 1 } aha_task_kind_t;

typedef struct {
    aha_task_kind_t kind;
    int64_t expected;                         /* addition: a + b */
    int numbers[AHA_COUNTDOWN_MAX_NUMBERS];   /* countdown */
    int n_numbers;
    int64_t target;
} aha_reward_problem_t;

/* total = w_format*format + w_accuracy*accuracy + w_language*language + w_overlong*overlong.
 * With correct_requires_format, accuracy counts only in a well-formed response (the answer of the
 * strict format); otherwise the first <answer>…</answer> anywhere is judged. The DESIGN recipe
 * (1 correct / 0.1 well-formed / 0 else) is w_format 0.1, w_accuracy 0.9, correct_requires_format. */
typedef struct {
    double w_format, w_accuracy, w_language, w_overlong;
    int correct_requires_format;
    int max_len, overlong_cache; /* tokens, for the overlong term */
    char charset[128];           /* language reward's allowed bytes */
} aha_reward_config_t;

typedef struct {
    double format, accuracy, language, overlong, total;
} aha_reward_breakdown_t;

/* Defaults: the DESIGN recipe above; charset for arithmetic traces "0123456789+-*=/;() ". */
void aha_reward_config_default(aha_reward_config_t *cfg);
/* Scores RESPONSE (decoded text) of RESPONSE_TOKENS tokens. Deterministic; never fails. */
void aha_reward_score(const aha_reward_config_t *cfg, const aha_reward_problem_t *prob,
                      const char *response, int response_tokens, aha_reward_breakdown_t *out);

#endif
