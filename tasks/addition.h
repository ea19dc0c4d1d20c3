/* tasks/addition.h — multi-digit addition problems, R1-Zero prompts, carry traces and the
 * pretraining corpus.
 *
 * PROBLEMS are a pure function of (seed, split, index): attempt k draws from the RNG stream
 * aha_rng_derive(seed, {tag, split, index, k}); each operand first draws its digit count uniformly
 * in [min_digits, max_digits], then a value uniformly among the numbers with exactly that many
 * digits (no leading zeros; 0 counts as a 1-digit number). Train and test are disjoint: a problem
 * is in the test split iff splitmix64(splitmix64(a) ^ b) mod 1e6 < test_fraction * 1e6 (it depends
 * on (a, b) and test_fraction only, not on the seed or the digit range), and each split's
 * generator rejects the other split's problems (k = 0, 1, ...), so held-out accuracy is honest.
 *
 * TEXT FORMATS (tokenizer spellings):
 *   prompt:   "<bos><|User|>57+68<|Assistant|>"
 *   response: "<think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>"
 * The trace has one step per column of the longer operand, least significant first. A step is
 *     TERMS "=" SS ";"
 * where TERMS are, in this order and joined by '+': a's digit of the column, b's digit, and "1" if
 * a carry comes in from the previous column; SS is the column sum as exactly two digits (carry-out
 * digit, then the answer's digit). A shorter operand contributes a 0 past its last digit, so every
 * step has the same shape and the trace can be read back unambiguously (without the 0, "2+1=03"
 * could be a digit 1 of b or the carry; a model learns the padded form far faster, see
 * docs/rl.md "Learning parity"):
 *     123+9  -> "3+9=12;2+0+1=03;1+0=01;"  answer 132
 *     999+1  -> "9+1=10;9+0+1=10;9+0+1=10;" answer 1000 (the final carry is the leading digit)
 *     0+0    -> "0+0=00;"                  answer 0
 * The answer is the concatenation of the sums' second digits (most significant first), preceded by
 * the last carry when it is 1, written without leading zeros. */
#ifndef AHA_TASKS_ADDITION_H
#define AHA_TASKS_ADDITION_H
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "core/rng.h"

#define AHA_ADD_MAX_DIGITS 12 /* per operand; sums fit in 13 digits */

typedef struct {
    int64_t a, b; /* 0 <= a, b < 10^AHA_ADD_MAX_DIGITS */
} aha_add_problem_t;

enum { AHA_SPLIT_TRAIN = 0, AHA_SPLIT_TEST = 1 };

typedef struct {
    int min_digits, max_digits; /* digits of each operand, 1 <= min <= max <= AHA_ADD_MAX_DIGITS */
    double test_fraction; /* share of the problem space reserved for test, in (0, 1), e.g. 0.1 */
} aha_add_config_t;

/* The index-th problem of SPLIT (AHA_SPLIT_TRAIN / AHA_SPLIT_TEST) for SEED; deterministic.
 * AHA_ERR_CONFIG for a bad config, AHA_ERR_ARG for an unknown split, AHA_ERR_STATE if no problem of
 * the split is found in 2^20 attempts (the split is empty or tiny for this digit range). */
int aha_add_problem(const aha_add_config_t *cfg, uint64_t seed, int split, uint64_t index,
                    aha_add_problem_t *out);
/* 1 if the problem belongs to the test split for cfg->test_fraction, else 0. */
int aha_add_is_test(const aha_add_config_t *cfg, const aha_add_problem_t *p);
/* Writes the prompt text (see above) into buf (NUL-terminated). AHA_ERR_ARG for operands outside
 * [0, 10^12); AHA_ERR_RANGE if it does not fit in CAP bytes (buf untouched then). */
int aha_add_prompt(const aha_add_problem_t *p, char *buf, size_t cap);
/* Writes the correct response text (think trace + answer + <eos>) into buf; errors as for
 * aha_add_prompt. It is also the cold-start reference (recipe stage 1: readable, in the target
 * language); a summary step "A+B=V;" after the trace was dropped: copying both operands is a task
 * of its own that a 2M-parameter model gets wrong (docs/r1.md). */
int aha_add_response(const aha_add_problem_t *p, char *buf, size_t cap);

/* THE SECOND LANGUAGE of traces (corpus.p_lang_mix): the same steps in a disjoint alphabet, digit
 * d as the letter 'A'+d, '+' as '&', '=' as ':', ';' as '|' ("7+8=15;" -> "H&I:BF|"). Returns the
 * byte C in that language (other bytes unchanged). The target language of the language reward is
 * the first one: rl.language_charset "digits+ops+[wait]" (the self-check marker included). */
char aha_add_lang2(char c);

/* The answer rule of addition: TEXT[0..LEN) is an optional leading '-' then 1..18 decimal digits
 * (leading zeros allowed), nothing else (no spaces, no '+', no '.'). 0 and *out on success, -1
 * otherwise (*out untouched); never overflows, sets no error message. The one parser of addition
 * answers: aha_add_parse_answer and the verifier's accuracy both use it. */
int aha_add_parse_int(const char *text, size_t len, int64_t *out);

/* Integer inside the first "<answer>" of RESPONSE and the first "</answer>" after it: optional
 * leading '-', then 1..18 decimal digits, nothing else (no spaces, no '+'). AHA_ERR_FORMAT
 * otherwise (no tag, unclosed, empty, other characters, too many digits) — later answer tags are
 * not consulted. Does not check the rest of the format. AHA_ERR_ARG for NULL arguments. */
int aha_add_parse_answer(const char *response, int64_t *out);

/* PRETRAINING CORPUS. Document INDEX for SEED is "<prompt><response>" for a train-split problem
 * drawn from its own stream (tag differs from aha_add_problem's, so corpus problems are not the RL
 * prompts in the same order; they are never test problems). Three independent draws per document:
 *
 *   kind       direct with probability p_direct / (p_direct + p_trace), else trace
 *   content    direct: correct with probability p_direct_correct, else a plausible wrong number
 *                      (one digit moved by 1 or 2, one digit dropped, or +-10^k as from a
 *                      forgotten / spurious carry; never negative, never the right sum)
 *              trace:  with probability p_trace_mistake exactly one column is wrong — its sum
 *                      off by one, or (when a carry comes in) the carry ignored; the later columns
 *                      carry what the wrong sum implies and the answer is the one the trace
 *                      spells, so it is wrong — else the correct trace
 *   malformed  with probability p_malformed, independently of kind and content, the format is
 *              broken in one way, uniformly among those that apply:
 *                unclosed think     "<think>T<answer>V</answer><eos>" (direct: "<think><answer>…")
 *                missing answer tag "<answer>" or "</answer>" dropped (one of the two)
 *                duplicated answer  "…<answer>V</answer><answer>V</answer><eos>"
 *                text after answer  "…<answer>V</answer>D<eos>" (D: 1-3 digits)
 *                answer first       "<answer>V</answer><think>T</think><eos>" (traces only)
 *              The value V is unchanged, so malformation is orthogonal to correctness.
 *
 * Two more draws, from their own stream (seed, {AHA_STREAM_ADD_CORPUS, index, 1}), so that with
 * both at 0 (the default) every document is what it was before they existed:
 *   language   with probability p_lang_mix a trace has steps in the second language
 *              (aha_add_lang2): each step independently with probability 1/2, at least one
 *   self-check with probability p_selfcheck a correct trace has one column first written with
 *              its sum off by one, then the marker "wait" and the column again, right:
 *                "7+8=15;5+6+1=13;wait5+6+1=12;" (the answer follows the corrected trace)
 * and one from a third stream (seed, {AHA_STREAM_ADD_CORPUS, index, 2}), so recipes that set only
 * the two above keep their documents:
 *   operators  with probability p_lang_ops a trace writes + = ; as the second language's & : |
 *              and keeps its digits ("7&8:15|"), as numbers read the same in English and
 *              Chinese: half of them in every step, half in each step with probability 1/2 (at
 *              least one); these steps are never also in p_lang_mix's alphabet. Mistakes and
 *              self-checks are drawn as for any trace and the arithmetic is the same, so the
 *              two languages are equally accurate and RL on accuracy alone has no reason to
 *              drop the second one (the language reward's job, docs/r1.md)
 * and one from a fourth stream (seed, {AHA_STREAM_ADD_CORPUS, index, 3}):
 *   dialect    with probability p_lang_carry a trace that p_lang_ops left alone writes the
 *              steps that take a carry ("5&6&1:12|") with the second language's operators and
 *              the others with the first's ("2+3=05;"): mixing decided by the content, which the
 *              model has already written (the step before ended in a sum >= 10) when it picks
 *              the step's first operator, so a policy that sharpens keeps the mixing when it
 *              is the majority way of writing such a step
 *
 * Well-formed documents are then "<answer>V</answer><eos>" (direct) or
 * "<think>T</think><answer>V</answer><eos>" (trace). With the defaults (docs/corpus.md: 60% direct,
 * 25% of them correct; 40% traces, 25% of them with one mistake; 10% malformed) the shares over
 * all documents are: 54% well-formed direct (13.5% correct, 40.5% wrong), 36% well-formed traces
 * (27% correct, 9% wrong), 10% malformed (6% from direct, 4% from traces). */
typedef struct {
    double p_direct;         /* weight of "<answer>N</answer><eos>" with no think block */
    double p_direct_correct; /* of direct answers, share that is correct (rest: plausible wrong) */
    double p_trace;          /* weight of full think trace + answer */
    double p_trace_mistake;  /* of traces, share with one injected column mistake */
    double p_malformed;      /* share of all documents with a broken format */
    double p_lang_mix;       /* of traces, share with steps in the second language */
    double p_selfcheck;      /* of correct traces, share with one slip caught by "wait" */
    double p_lang_ops;       /* of traces, share with the second language's operators */
    double p_lang_carry;     /* of traces, share whose steps taking a carry use those operators */
} aha_corpus_config_t;

/* The field table of aha_corpus_config_t (name, default, range [0, 1], help): the one source of
 * the defaults and of the run config's corpus.* keys. */
enum { AHA_CORPUS_CONFIG_N_FIELDS = 9 };
extern const aha_cfg_field_t aha_corpus_config_fields[AHA_CORPUS_CONFIG_N_FIELDS];
extern const size_t aha_corpus_config_n_fields; /* AHA_CORPUS_CONFIG_N_FIELDS */
/* The default mix (docs/corpus.md), from the table:
 * p_direct 0.6, p_direct_correct 0.25, p_trace 0.4, p_trace_mistake 0.25, p_malformed 0.1. */
void aha_corpus_config_default(aha_corpus_config_t *cfg);
/* Writes document number INDEX of the corpus for SEED into buf (NUL-terminated); deterministic.
 * AHA_ERR_CONFIG if a probability is outside [0, 1] or p_direct + p_trace is 0, errors of
 * aha_add_problem for ACFG, AHA_ERR_RANGE if it does not fit in CAP bytes (buf untouched then). */
int aha_corpus_document(const aha_corpus_config_t *ccfg, const aha_add_config_t *acfg,
                        uint64_t seed, uint64_t index, char *buf, size_t cap);

#endif
