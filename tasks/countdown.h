/* tasks/countdown.h — countdown problems: combine the given numbers with + - * / and parentheses
 * (each number at most once) to reach the target. This file generates problems, prompts,
 * reference responses and the pretraining corpus, and evaluates answers (aha_cd_eval, the rule the
 * task table's accuracy and verifier/reward.h's aha_reward_countdown use).
 *
 * PROBLEMS are a pure function of (cfg, seed, split, index): attempt k draws from the RNG stream
 * aha_rng_derive(seed, {0xCD01, split, index, k}). A problem draws its size n uniformly in
 * [min_numbers, max_numbers] and n numbers uniformly in 1..max_value, then builds the target from a
 * random expression over ALL of them, as in the countdown game: n-1 times, pick an ordered pair
 * (a, b) of the current values uniformly and an operator uniformly among the allowed ones —
 *     '+' always; '-' if a > b; '*' if a > 1, b > 1 and a*b <= 1000; '/' if b > 1 and b divides a
 * — and replace the pair by the result. So every intermediate value is a positive integer, no step
 * is an identity (x*1, x/1), and every problem is solvable by construction. Problems whose target
 * is one of the given numbers are rejected (too easy), as are the other split's problems.
 * The prompt lists the numbers in a shuffled order (so it does not give the solution's order).
 *
 * SPLITS: a problem is in the test split iff splitmix64-hash(target, sorted numbers) mod 1e6 <
 * test_fraction * 1e6 — a function of the problem as a multiset, not of the seed or the order — and
 * each split's generator rejects the other's problems, so train and test are disjoint.
 *
 * TEXT FORMATS (tokenizer spellings; numbers separated by one space, " -> " before the target):
 *   prompt:   "<bos><|User|>3 7 25 -> 46<|Assistant|>"
 *   response: "<think>3*7=21;21+25=46;</think><answer>3*7+25</answer><eos>"
 * The trace has one step "A op B=V;" per combination, in the order they were made (A, B the
 * operands, V the result, decimal); the last V is the target. The answer (the problem's
 * `solution`) is the same computation as one expression, with parentheses only where the
 * precedence of * and / over + and - needs them (it may regroup, e.g. a-(b+c) stays, a+(b-c) is
 * written a+b-c; exact rational evaluation gives the same value). */
#ifndef AHA_TASKS_COUNTDOWN_H
#define AHA_TASKS_COUNTDOWN_H
#include <stddef.h>
#include <stdint.h>
#include "core/rational.h"
#include "core/rng.h"

#define AHA_CD_MAX_NUMBERS 6 /* numbers of a generated problem; <= AHA_CD_EXPR_MAX_NUMBERS */

typedef struct {
    int n;
    int numbers[AHA_CD_MAX_NUMBERS]; /* in prompt order, n used */
    int64_t target;
    char solution[96]; /* a valid expression reaching target (the one the problem was built from) */
    char trace[160];   /* its steps, "A op B=V;" each */
} aha_cd_problem_t;

typedef struct {
    int min_numbers, max_numbers; /* 2 <= min <= max <= AHA_CD_MAX_NUMBERS */
    int max_value;                /* numbers drawn from 1..max_value, 2 <= max_value <= 1000 */
    double test_fraction;         /* in (0, 1) */
} aha_cd_config_t;

/* Fills *cfg with 3..4 numbers from 1..25, test_fraction 0.1. */
void aha_cd_config_default(aha_cd_config_t *cfg);

/* The index-th problem of SPLIT (AHA_SPLIT_TRAIN / AHA_SPLIT_TEST of tasks/addition.h) for SEED;
 * deterministic. AHA_ERR_ARG for NULL or an unknown split, AHA_ERR_CONFIG for a bad config,
 * AHA_ERR_STATE if no problem of the split is found in 2^16 attempts. *out written only on
 * success. */
int aha_cd_problem(const aha_cd_config_t *cfg, uint64_t seed, int split, uint64_t index,
                   aha_cd_problem_t *out);
/* 1 if P belongs to the test split for cfg->test_fraction, else 0 (also for NULL or p->n outside
 * 1..AHA_CD_MAX_NUMBERS). */
int aha_cd_is_test(const aha_cd_config_t *cfg, const aha_cd_problem_t *p);

/* Writes the prompt text (see above) into buf, NUL-terminated. AHA_ERR_ARG for NULL or p->n
 * outside 1..AHA_CD_MAX_NUMBERS, AHA_ERR_RANGE if it does not fit in CAP bytes; buf is written
 * only on success. */
int aha_cd_prompt(const aha_cd_problem_t *p, char *buf, size_t cap);
/* Writes the reference response "<think>TRACE</think><answer>SOLUTION</answer><eos>" into buf;
 * errors as aha_cd_prompt. */
int aha_cd_response(const aha_cd_problem_t *p, char *buf, size_t cap);

/* Pretraining document INDEX for SEED: prompt + response for a train-split problem drawn from its
 * own stream (not the RL prompts in the same order; never a test problem). Independent draws:
 *   with probability p_direct the think block is skipped: "<answer>E</answer><eos>", where E is
 *     the solution with probability 0.25, else a wrong expression (below);
 *   otherwise a trace response; with probability p_mistake it is WRONG: one step uses another
 *     operator than the solution's, the later steps redo their own operator on the new values
 *     ('+' instead where theirs no longer applies), the trace is arithmetically consistent and
 *     ends at a value other than the target, and the answer is the matching expression (it uses
 *     the given numbers but misses the target);
 *   then with probability p_malformed (trace documents only) "</think>" is dropped.
 * AHA_ERR_ARG for NULL, AHA_ERR_CONFIG for a probability outside [0, 1] or a bad cfg,
 * AHA_ERR_RANGE if the document does not fit in CAP bytes; buf is written only on success. */
int aha_cd_document(const aha_cd_config_t *cfg, uint64_t seed, uint64_t index, double p_direct,
                    double p_mistake, double p_malformed, char *buf, size_t cap);

/* ANSWERS. The answer of a countdown response is an arithmetic expression:
 *     expr   := term (('+' | '-') term)*
 *     term   := factor (('*' | '/') factor)*
 *     factor := NUMBER | '(' expr ')'
 *     NUMBER := '0' | [1-9][0-9]*        (at most 10 digits; no sign, no leading zero, no '.')
 * with whitespace (space, \t, \n, \r) allowed around tokens; no unary minus or plus. Each NUMBER
 * must consume one not yet used entry of numbers[] with that value (a number given twice may be
 * used twice); not all numbers need be used. Arithmetic is exact over int64 rationals. */
#define AHA_CD_EXPR_MAX_LEN 256   /* expression bytes */
#define AHA_CD_EXPR_MAX_DEPTH 16  /* nested parentheses */
#define AHA_CD_EXPR_MAX_TOKENS 96 /* numbers, operators and parentheses */
#define AHA_CD_EXPR_MAX_NUMBERS 8 /* given numbers */

enum {
    AHA_CD_EVAL_OK = 0,
    AHA_CD_EVAL_SYNTAX, /* syntax error */
    AHA_CD_EVAL_LIMIT,  /* beyond MAX_LEN bytes / MAX_DEPTH parens / MAX_TOKENS */
    AHA_CD_EVAL_NUMBER, /* a NUMBER not among the unused given numbers */
    AHA_CD_EVAL_ARITH   /* division by zero or int64 overflow */
};

/* Evaluates EXPR[0..LEN) over numbers[0..n) (0 <= n <= AHA_CD_EXPR_MAX_NUMBERS, the caller
 * checks) exactly: AHA_CD_EVAL_OK and *out, or another AHA_CD_EVAL_* code (*out untouched);
 * *at is the offset where parsing stopped. Pure: no allocation, no error message, recursion depth
 * bounded by MAX_DEPTH, time linear in min(len, MAX_LEN). */
int aha_cd_eval(const char *expr, size_t len, const int *numbers, int n, aha_rational_t *out,
                size_t *at);

#endif
