/* tasks/addition.h — multi-digit addition problems, R1-Zero prompts, carry traces and the
 * pretraining corpus.
 *
 * Problems are a pure function of (seed, split, index): train and test are disjoint (a problem
 * belongs to the test split iff a hash of (a, b) falls in the test fraction; each split's
 * generator rejects the other's problems), so held-out accuracy is honest.
 *
 * Text formats (tokenizer spellings):
 *   prompt:   "<bos><|User|>57+68<|Assistant|>"
 *   response: "<think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>"
 * The trace walks the columns from the least significant digit; each step lists the column's digits
 * that exist (a shorter operand contributes none), then "+1" if a carry comes in, then "=" and the
 * two-digit column sum: 123+9 -> "3+9=12;2+1=03;1=01;" (answer 132). A final carry becomes the
 * leading digit of the answer. */
#ifndef AHA_TASKS_ADDITION_H
#define AHA_TASKS_ADDITION_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"

typedef struct {
    int64_t a, b;
} aha_add_problem_t;

enum { AHA_SPLIT_TRAIN = 0, AHA_SPLIT_TEST = 1 };

typedef struct {
    int min_digits, max_digits; /* digits of each operand, 1..12 */
    double test_fraction;       /* share of the problem space reserved for test, e.g. 0.1 */
} aha_add_config_t;

/* The index-th problem of SPLIT for SEED. Deterministic. */
int aha_add_problem(const aha_add_config_t *cfg, uint64_t seed, int split, uint64_t index,
                    aha_add_problem_t *out);
/* 1 if the problem belongs to the test split. */
int aha_add_is_test(const aha_add_config_t *cfg, const aha_add_problem_t *p);
/* Writes the prompt text (see above) into buf; AHA_ERR_RANGE if it does not fit. */
int aha_add_prompt(const aha_add_problem_t *p, char *buf, size_t cap);
/* Writes the correct response text (trace + answer + <eos>). */
int aha_add_response(const aha_add_problem_t *p, char *buf, size_t cap);

/* Integer inside the first "<answer>…</answer>" of RESPONSE (digits, optional leading '-', 1..18
 * digits); AHA_ERR_FORMAT otherwise. Does not check the rest of the format. */
int aha_add_parse_answer(const char *response, int64_t *out);

/* Pretraining corpus mix. Each document = prompt + one response. A document is malformed with
 * probability p_malformed (one of: unclosed think, missing <answer>, duplicated answer, text after
 * </answer>, answer before think) applied on top of its kind; the kind is direct with probability
 * p_direct / (p_direct + p_trace), else a trace. Direct answers are correct with probability
 * p_direct_correct (else a plausible wrong number); traces carry one column mistake (sum off by
 * one, the rest of the trace and the answer follow it) with probability p_trace_mistake. */
typedef struct {
    double p_direct;      /* "<answer>N</answer><eos>" with no think block */
    double p_direct_correct; /* of direct answers, share that is correct (rest: plausible wrong) */
    double p_trace;       /* full think trace + answer */
    double p_trace_mistake; /* of traces, share with one injected column mistake (answer follows the mistake) */
    double p_malformed;   /* tags dropped / unclosed / duplicated */
} aha_corpus_config_t;

void aha_corpus_config_default(aha_corpus_config_t *cfg);
/* Writes document number INDEX of the corpus for SEED (a train-split problem) into buf. */
int aha_corpus_document(const aha_corpus_config_t *ccfg, const aha_add_config_t *acfg,
                        uint64_t seed, uint64_t index, char *buf, size_t cap);

#endif
