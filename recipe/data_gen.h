/* recipe/data_gen.h — the SFT data of the R1 recipe, as JSONL pairs (recipe/sft_data.h):
 *
 *   cold start   a few thousand long, readable responses in the target language, from the
 *                task's reference (tasks/task.h: addition's correct carry trace), for train
 *                problems outside the RL prompts;
 *   rejection    K samples per train prompt from a checkpoint; kept only if correct and
 *   sampling     readable: well-formed (verifier/reward.h format), right answer, language
 *                consistency >= min_language; a prompt's duplicate samples are kept once; plus
 *                the reference responses of a non-reasoning task (compare), as R1 adds
 *                non-reasoning data to the reasoning samples.
 * Problem index ranges: cold start uses train problems AHA_DATA_COLDSTART_BASE + i, rejection
 * sampling AHA_DATA_REJECT_BASE + i (the RL runs use 0, 1, 2, ...), the non-reasoning data
 * AHA_DATA_NONREASONING_BASE + i. Files are written to PATH.tmp and renamed, so a file that
 * exists is complete (the pipeline's "outputs exist" test). */
#ifndef AHA_RECIPE_DATA_GEN_H
#define AHA_RECIPE_DATA_GEN_H
#include "actor/rollout.h"
#include "model/model.h"
#include "tasks/task.h"
#include "verifier/reward.h"
#include <stdint.h>

#define AHA_DATA_COLDSTART_BASE (1ull << 40)
#define AHA_DATA_REJECT_BASE (2ull << 40)
#define AHA_DATA_NONREASONING_BASE (3ull << 40)

/* The problems: TASK with settings CFG (template included) and SEED. */
typedef struct {
    const aha_task_t *task;
    aha_task_config_t cfg;
    uint64_t seed;
} aha_data_source_t;

/* Writes N cold-start pairs of SRC to PATH. Errors: the task's, AHA_ERR_IO naming the path. */
int aha_data_coldstart(const aha_data_source_t *src, int n, const char *path);

typedef struct {
    int prompts;          /* train prompts sampled */
    int k;                /* samples per prompt */
    aha_gen_config_t gen; /* max_new_tokens, temperature, top_p */
    double min_language;  /* language consistency a kept sample needs (1 = all of it) */
    int nonreasoning;     /* compare pairs added (reference responses) */
    aha_reward_config_t reward; /* format / accuracy / language rules (charset) */
} aha_reject_config_t;

typedef struct {
    long samples, kept, duplicates, wrong, malformed, mixed_language, nonreasoning;
    int prompts_with_kept;
} aha_reject_stats_t;

/* Rejection sampling from M (see above) into PATH; *stats (may be NULL) written on success. */
int aha_data_reject(const aha_model_t *m, const aha_data_source_t *src,
                    const aha_reject_config_t *cfg, const char *path, aha_reject_stats_t *stats);

/* The rule of aha_data_reject for one scored sample: 1 to keep it. */
int aha_data_keep(const aha_reward_breakdown_t *b, double min_language);

#endif
