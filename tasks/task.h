/* tasks/task.h — the table of tasks. Every place that needs to know which task a run, a message
 * or a problem is about looks the task up here, by name ("addition") or by kind (its index), and
 * calls through the entry; nothing else spells task names. Adding a task means one entry in
 * tasks/task.c plus its own file (problems, prompt, corpus documents, answer rule).
 *
 * An entry gives: the name, problem generation (train/test split), the prompt, pretraining/SFT
 * documents, the reward problem (what a verifier needs to judge a response) and the accuracy of
 * an extracted answer. Prompt templates (task.template) apply to every task alike. */
#ifndef AHA_TASKS_TASK_H
#define AHA_TASKS_TASK_H
#include <stddef.h>
#include <stdint.h>
#include "tasks/addition.h"
#include "tasks/countdown.h"
#include "tasks/compare.h"

/* Index of a task in the table (kept stable: it travels in reward problems). */
typedef enum {
    AHA_TASK_ADDITION = 0,
    AHA_TASK_COUNTDOWN = 1,
    AHA_TASK_COMPARE = 2, /* non-reasoning: max(a, b) answered without thinking (compare.h) */
    AHA_TASK_MIXED = 3,   /* addition and compare problems in one run (task.mix_compare) */
    AHA_TASK_COUNT
} aha_task_kind_t;

#define AHA_TASK_MAX_NUMBERS AHA_CD_EXPR_MAX_NUMBERS /* numbers[] of a reward problem */

/* What the verifier needs to know about a problem. The task kind lives here, not in the config,
 * so one config can score a batch that mixes tasks. */
typedef struct {
    aha_task_kind_t kind;
    int64_t expected;                  /* addition: a + b; compare: max(a, b) */
    int numbers[AHA_TASK_MAX_NUMBERS]; /* countdown: the given numbers (multiset) */
    int n_numbers;                     /* countdown: 0..AHA_TASK_MAX_NUMBERS */
    int64_t target;                    /* countdown */
} aha_reward_problem_t;

typedef enum { AHA_TEMPLATE_COMPACT = 0, AHA_TEMPLATE_R1ZERO = 1 } aha_template_t;

/* The task settings of a run: every task's generator config and the corpus mix. */
typedef struct {
    aha_add_config_t add;
    aha_cd_config_t cd;
    aha_corpus_config_t corpus;
    aha_template_t template_kind;
    double mix_compare; /* mixed task: share of compare problems and documents */
} aha_task_config_t;

/* One problem of some task (the member of its kind is set). */
typedef struct {
    aha_task_kind_t kind;
    aha_add_problem_t add;
    aha_cd_problem_t cd;
} aha_task_problem_t;

typedef struct {
    const char *name;
    aha_task_kind_t kind;
    /* Problem INDEX of SPLIT (AHA_SPLIT_*) for SEED; *out written only on success. */
    int (*problem)(const aha_task_config_t *cfg, uint64_t seed, int split, uint64_t index,
                   aha_task_problem_t *out);
    /* Prompt text of P (compact template) into buf[0..cap). */
    int (*prompt)(const aha_task_problem_t *p, char *buf, size_t cap);
    /* Pretraining/SFT document INDEX for SEED (compact template) into buf[0..cap). */
    int (*document)(const aha_task_config_t *cfg, uint64_t seed, uint64_t index, char *buf,
                    size_t cap);
    /* What the verifier needs to score a response to P. */
    void (*reward_problem)(const aha_task_problem_t *p, aha_reward_problem_t *out);
    /* 1 if ANSWER[0..len) (the text of the answer block) is right for PROB, else 0. Pure, total
     * on arbitrary bytes, sets no error message. */
    int (*accuracy)(const aha_reward_problem_t *prob, const char *answer, size_t len);
    /* The reference response of P (compact template): correct, readable, in the target language,
     * as the cold-start data of the R1 recipe has it. */
    int (*reference)(const aha_task_problem_t *p, char *buf, size_t cap);
    int thinks; /* 1: a reasoning task; 0: answered without thinking (an empty think block) */
} aha_task_t;

/* The entry named NAME, or NULL (also for NULL). */
const aha_task_t *aha_task_by_name(const char *name);
/* The entry of KIND, or NULL for a kind outside the table. */
const aha_task_t *aha_task_by_kind(int kind);
/* The task names joined by SEP ("addition | countdown" with " | "), for help and errors; a static
 * buffer (not thread-safe while the first call runs; the table is fixed). */
const char *aha_task_names(const char *sep);

/* The prompt-template names: "compact" | "r1zero". AHA_ERR_CONFIG for another. */
int aha_template_parse(const char *name, aha_template_t *out);

/* Task KIND of NAME with the settings CFG: AHA_ERR_CONFIG naming the known tasks for an unknown
 * name. */
int aha_task_lookup(const char *name, const aha_task_t **out);
/* Prompt text of P with CFG's template. */
int aha_task_prompt(const aha_task_config_t *cfg, const aha_task_problem_t *p, char *buf,
                    size_t cap);
/* The reference response of P (the task of P's kind). */
int aha_task_reference(const aha_task_problem_t *p, char *buf, size_t cap);
/* Pretraining document INDEX of task T with CFG's template. */
int aha_task_document(const aha_task_t *t, const aha_task_config_t *cfg, uint64_t seed,
                      uint64_t index, char *buf, size_t cap);

#endif
