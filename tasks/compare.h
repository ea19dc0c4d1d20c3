/* tasks/compare.h — the non-reasoning task: name the larger of two numbers, answered without
 * thinking (the "all scenarios" stages of the R1 recipe mix it with the reasoning tasks).
 *
 * PROBLEMS are addition's operand pairs (aha_add_problem with the same digit range, split and
 * index), so the train/test split is addition's and held-out problems are honest.
 * TEXT FORMATS (tokenizer spellings):
 *   prompt:    "<bos><|User|>max(57,68)<|Assistant|>"
 *   reference: "<think></think><answer>68</answer><eos>" — an empty think block: the verifier's
 *              format rule accepts it, and for a task that does not think the language reward
 *              reads an empty block as consistent (verifier/reward.h)
 * The answer rule is addition's integer rule (aha_add_parse_int) against max(a, b).
 *
 * PRETRAINING DOCUMENT INDEX for SEED: prompt + a response for a train problem drawn from its own
 * stream: correct with probability 3/4 (else the smaller number); with probability
 * p_direct / (p_direct + p_trace) of the corpus mix without the think block
 * ("<answer>V</answer><eos>"), else with the empty one; with probability p_malformed a digit of
 * text after the answer. */
#ifndef AHA_TASKS_COMPARE_H
#define AHA_TASKS_COMPARE_H
#include "tasks/addition.h"
#include <stddef.h>
#include <stdint.h>

int aha_cmp_prompt(const aha_add_problem_t *p, char *buf, size_t cap);
int aha_cmp_reference(const aha_add_problem_t *p, char *buf, size_t cap);
int aha_cmp_document(const aha_corpus_config_t *cc, const aha_add_config_t *ac, uint64_t seed,
                     uint64_t index, char *buf, size_t cap);

#endif
