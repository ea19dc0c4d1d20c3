/* tasks/countdown.h — countdown problems: combine the given numbers with + - * / (each at most
 * once) to reach the target. Every problem is generated from a solution, so it is solvable.
 *
 * Problems are a pure function of (seed, split, index); train and test are disjoint by a hash of
 * (numbers, target), as for addition. Text formats (tokenizer spellings):
 *   prompt:   "<bos><|User|>3 7 25 -> 46<|Assistant|>"
 *   response: "<think>3*7=21;21+25=46;</think><answer>3*7+25</answer><eos>"
 * The trace combines the numbers left to right in the solution's order, one step "x op y = v;" per
 * number; intermediate values are positive integers (exact division only). */
#ifndef AHA_TASKS_COUNTDOWN_H
#define AHA_TASKS_COUNTDOWN_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"

#define AHA_CD_MAX_NUMBERS 6

typedef struct {
    int n;
    int numbers[AHA_CD_MAX_NUMBERS]; /* in prompt order */
    int64_t target;
    char solution[96];  /* a valid expression (the one the problem was built from) */
    char trace[160];    /* its left-to-right steps, "x op y=v;" each */
} aha_cd_problem_t;

typedef struct {
    int min_numbers, max_numbers; /* 2..6 */
    int max_value;                /* numbers drawn from 1..max_value */
    double test_fraction;
} aha_cd_config_t;

void aha_cd_config_default(aha_cd_config_t *cfg);
int aha_cd_problem(const aha_cd_config_t *cfg, uint64_t seed, int split, uint64_t index,
                   aha_cd_problem_t *out);
int aha_cd_is_test(const aha_cd_config_t *cfg, const aha_cd_problem_t *p);
int aha_cd_prompt(const aha_cd_problem_t *p, char *buf, size_t cap);
/* The reference response (trace + solution + <eos>). */
int aha_cd_response(const aha_cd_problem_t *p, char *buf, size_t cap);
/* Pretraining document INDEX: prompt + response, where with probability p_mistake one trace step
 * is off by one (the answer then does not reach the target), with probability p_direct the think
 * block is skipped (answer only, correct with probability 0.25), and with probability p_malformed the
 * closing think tag is dropped. */
int aha_cd_document(const aha_cd_config_t *cfg, uint64_t seed, uint64_t index, double p_direct,
                    double p_mistake, double p_malformed, char *buf, size_t cap);

#endif
