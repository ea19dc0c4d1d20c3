/* verifier/reward.h — rule rewards on a decoded response (tokenizer spellings, e.g.
 * "<think>7+8=15;</think><answer>15</answer><eos>").
 *
 * Every function here is pure: deterministic, no allocation, no global state (it does not touch
 * the thread's last-error message unless it returns an error code), bounded work linear in the
 * length of its text arguments, and total on arbitrary bytes — a model's output, a fuzzer's or a
 * peer's message never crashes it and never leaves the documented range. Strings are
 * NUL-terminated and owned by the caller; nothing is retained after a call returns.
 *
 * REWARD DEFINITIONS (one line each; the functions below give the details)
 *   format    1 iff the response is exactly "<think>X</think><answer>Y</answer>" + optional
 *             "<eos>", X and Y free of tag spellings, Y not blank; else 0.
 *   accuracy  addition: the answer is -?[0-9]{1,18} and equals the expected integer (1/0).
 *             countdown: the answer is an arithmetic expression over the given numbers (each at
 *             most once, as a multiset) that evaluates exactly to the target (1/0).
 *   language  share of the bytes of the think text that lie in a character set, in [0, 1];
 *             0 for a missing, unclosed or empty think block.
 *   overlong  DAPO soft length penalty in [-1, 0].
 *   total     w_format*format + w_accuracy*accuracy + w_language*language + w_overlong*overlong. */
#ifndef AHA_VERIFIER_REWARD_H
#define AHA_VERIFIER_REWARD_H
#include <stddef.h>
#include <stdint.h>
#include "core/rational.h"
#include "tasks/task.h" /* aha_reward_problem_t, the task table (accuracy of each task) */

/* ---- format ---- */

/* 1 if RESPONSE is exactly "<think>X</think><answer>Y</answer>", optionally followed by one
 * "<eos>", else 0 (also for NULL). X (may be empty) and Y contain no tag spelling — the nine
 * special tokens of model/tokenizer.h: <pad> <bos> <eos> <think> </think> <answer> </answer>
 * <|User|> <|Assistant|> — so nested, duplicated or unclosed tags fail; Y must contain a byte
 * other than whitespace (space, \t, \n, \r). Nothing is allowed before "<think>", between
 * "</think>" and "<answer>" (not even a newline) or after the end. The bytes of X and Y are
 * otherwise unrestricted (their content is judged by accuracy and language). */
int aha_reward_format_ok(const char *response);

/* Copies Y of a well-formed RESPONSE (aha_reward_format_ok) into buf[0..cap) with a NUL.
 * AHA_ERR_ARG for NULL arguments, AHA_ERR_FORMAT if malformed, AHA_ERR_RANGE if Y and its NUL do
 * not fit in CAP bytes; buf is written only on success. */
int aha_reward_extract_answer(const char *response, char *buf, size_t cap);

/* Copies the text between the first "<answer>" of RESPONSE and the first "</answer>" after it
 * into buf (whatever the rest of the format; later answers are ignored). AHA_ERR_ARG for NULL
 * arguments, AHA_ERR_FORMAT if there is no "<answer>" or it is unclosed, AHA_ERR_RANGE if it does
 * not fit; buf is written only on success. May be empty. */
int aha_reward_first_answer(const char *response, char *buf, size_t cap);

/* ---- numeric equivalence ---- */

#define AHA_REWARD_MAX_DIGITS 18 /* digits of a number literal (fits int64 exactly) */

/* Parses a decimal number "[+-]D[.F]" or "[+-].F" (D, F decimal digits; at most
 * AHA_REWARD_MAX_DIGITS digits in all, leading zeros included) exactly into *out. No exponent,
 * no spaces, no trailing '.', nothing else. So "12", "+12", "012", "12.0", "12.000" are all 12/1
 * and "0.5" == ".50" == 1/2. AHA_ERR_ARG for NULL, AHA_ERR_FORMAT otherwise (message names the
 * input); *out is written only on success. */
int aha_reward_parse_number(const char *text, aha_rational_t *out);
/* 1 if both texts parse (aha_reward_parse_number) and are the same rational, else 0 (also for
 * NULL or malformed input: "1e3", "1.", "", " 1" are never equal to anything). */
int aha_reward_numbers_equal(const char *a, const char *b);

/* ---- addition accuracy ---- */

/* 1 if ANSWER is an optional '-' followed by 1..AHA_REWARD_MAX_DIGITS decimal digits (leading
 * zeros allowed, nothing else: no '+', no spaces, no '.') whose value equals EXPECTED, else 0.
 * Longer digit strings (e.g. 30 digits) are simply wrong; never overflows. The rule (and the
 * parser) is aha_add_parse_int of tasks/addition.h. */
int aha_reward_addition(const char *answer, int64_t expected);

/* ---- countdown accuracy ---- */

#define AHA_COUNTDOWN_MAX_LEN AHA_CD_EXPR_MAX_LEN         /* expression bytes */
#define AHA_COUNTDOWN_MAX_DEPTH AHA_CD_EXPR_MAX_DEPTH     /* nested parentheses */
#define AHA_COUNTDOWN_MAX_TOKENS AHA_CD_EXPR_MAX_TOKENS   /* numbers, operators, parentheses */
#define AHA_COUNTDOWN_MAX_NUMBERS AHA_CD_EXPR_MAX_NUMBERS /* given numbers */

/* Evaluates the countdown expression EXPR over the multiset numbers[0..n) exactly, with the
 * grammar and rules of aha_cd_eval (tasks/countdown.h), which does the parsing.
 * On success writes the value to *out. Errors (nothing written):
 *     AHA_ERR_ARG       NULL expr/out, numbers NULL with n > 0, n outside [0, MAX_NUMBERS]
 *     AHA_ERR_FORMAT    syntax error, or beyond MAX_LEN bytes / MAX_DEPTH parens / MAX_TOKENS
 *     AHA_ERR_NOTFOUND  a NUMBER not among the unused given numbers
 *     AHA_ERR_RANGE     division by zero or int64 overflow in any intermediate result
 * Recursion depth is bounded by MAX_DEPTH; time is linear in min(strlen(expr), MAX_LEN). */
int aha_reward_countdown_eval(const char *expr, const int *numbers, int n, aha_rational_t *out);

/* 1 if aha_reward_countdown_eval succeeds and the value is exactly TARGET (an integer: 1/3*3
 * counts, 7/2 never equals an integer), else 0 — every error above is simply a wrong answer. */
int aha_reward_countdown(const char *expr, const int *numbers, int n, int64_t target);

/* ---- shaping ---- */

/* Builds a byte set from SPEC, names joined by '+':
 *   digits 0-9 · ops "+-*" "/=;() " (with space) · space · newline · lower a-z · upper A-Z ·
 *   letters a-zA-Z · punct printable ASCII other than letters, digits and space ·
 *   printable ASCII 32..126 · [xyz] the literal bytes between the brackets (no ']').
 * e.g. "digits+ops" (the arithmetic traces of our tasks), "letters+space+[.,]". Writes the set's
 * distinct bytes (ascending, NUL-terminated) into out[0..cap). AHA_ERR_ARG for NULL arguments,
 * AHA_ERR_CONFIG for an unknown or empty name (message names it), AHA_ERR_RANGE if the set does
 * not fit; out is written only on success. */
int aha_reward_charset(const char *spec, char *out, size_t cap);

/* R1's language-consistency reward: the fraction of the bytes of the think text — between the
 * first "<think>" of RESPONSE and the first "</think>" after it — that belong to CHARSET (the
 * bytes of a NUL-terminated string, e.g. from aha_reward_charset). In [0, 1]. Defined as 0 when
 * there is no "<think>", it is unclosed, or the think text is empty: there is no reasoning to
 * read, and a positive language weight must not pay for skipping the thinking. The think block is
 * looked for whatever the rest of the format. 0 for NULL arguments. */
double aha_reward_language(const char *response, const char *charset);

/* For a task that does not think (tasks/task.h: thinks == 0, e.g. compare) aha_reward_score
 * gives language 1 to a closed, empty think block — there is no reasoning in another language —
 * and the share above otherwise. */

/* Reflection: 1 if the first think block of RESPONSE (closed) contains the self-check marker
 * "wait" (corpus.p_selfcheck writes it before a column it redoes), else 0 (also for NULL). The
 * share of such responses is the reflection frequency of RL metrics and `aha eval`. */
#define AHA_REWARD_REFLECTION_MARKER "wait"
int aha_reward_reflection(const char *response);

/* DAPO overlong shaping for a response of LEN tokens, hard cap MAX_LEN, soft window CACHE:
 *     0                                  if len <= max_len - cache
 *     ((max_len - cache) - len) / cache  if max_len - cache < len <= max_len   (in [-1, 0))
 *     -1                                 if len > max_len
 * In [-1, 0]. CACHE <= 0 means no soft window (0 up to max_len, -1 beyond), CACHE > MAX_LEN is
 * taken as MAX_LEN, a negative LEN as 0, and MAX_LEN <= 0 disables the shaping (always 0). */
double aha_reward_overlong(int len, int max_len, int cache);

/* ---- combined scorer ---- */

/* The problem (aha_reward_problem_t) and the accuracy of its answer come from the task table
 * (tasks/task.h); everything else here is the same for every task. */

/* Scoring rule:
 *     total = w_format*format + w_accuracy*accuracy + w_language*language + w_overlong*overlong
 * format in {0,1}, accuracy in {0,1}, language in [0,1], overlong in [-1,0] (definitions above).
 * The answer judged by accuracy: with correct_requires_format, Y of a well-formed response — a
 * malformed response has accuracy 0 even if its answer is right; without it, the first
 * "<answer>…</answer>" anywhere in the response (aha_reward_first_answer). Language and overlong
 * are computed whatever the format.
 * The default recipe (docs/rl.md, One step: 1 correct and well-formed / 0.1 well-formed but
 * wrong / 0 else) is w_format 0.1, w_accuracy 0.9, w_language 0, w_overlong 0,
 * correct_requires_format 1. R1's second RL stage adds w_language > 0; DAPO adds w_overlong = 1. */
typedef struct {
    double w_format, w_accuracy, w_language, w_overlong;
    int correct_requires_format;
    int max_len, overlong_cache; /* tokens, for the overlong term */
    char charset[128];           /* language reward's allowed bytes (NUL-terminated) */
} aha_reward_config_t;

typedef struct {
    double format, accuracy, language, overlong, total;
} aha_reward_breakdown_t;

/* Fills *cfg with the default recipe above; max_len 64, overlong_cache 16, charset "digits+ops". */
void aha_reward_config_default(aha_reward_config_t *cfg);
/* 0 if *cfg is usable: finite weights, max_len >= 0, 0 <= overlong_cache <= max_len, charset
 * NUL-terminated. AHA_ERR_ARG for NULL, AHA_ERR_CONFIG naming the bad field otherwise. */
int aha_reward_config_check(const aha_reward_config_t *cfg);

/* 0 if breakdown B is one that CFG's rules can give: format, accuracy and language in [0, 1],
 * overlong in [-1, 0], total within what the weights allow for those ranges (a tolerance of 1e-9
 * for rounding), all finite. Else AHA_ERR_RANGE naming the field and value (also in why[0..cap)
 * if WHY is not NULL). For scores that come from a peer (learner/verifier_pool.h). */
int aha_reward_check_range(const aha_reward_config_t *cfg, const aha_reward_breakdown_t *b,
                           char *why, size_t cap);

/* Scores RESPONSE (decoded text) of RESPONSE_TOKENS tokens for problem PROB into *out. Never
 * fails: NULL or malformed input scores 0 on the affected terms (a NULL response is ""; a NULL
 * cfg or prob gives an all-zero breakdown; an unknown task kind or n_numbers outside
 * [0, AHA_COUNTDOWN_MAX_NUMBERS] gives accuracy 0); nothing is done if out is NULL. Deterministic
 * and linear in strlen(response); does not touch the thread's last-error message. */
void aha_reward_score(const aha_reward_config_t *cfg, const aha_reward_problem_t *prob,
                      const char *response, int response_tokens, aha_reward_breakdown_t *out);

#endif
