#include "tasks/train_group.h"
#include "core/err.h"
#include "model/tokenizer.h"

int aha_train_group(const aha_train_set_t *set, uint64_t pid, int *ids, int cap, int *n,
                    aha_reward_problem_t *rp, aha_rng_t *rngs, int G) {
    if (!set || !set->task || !ids || !n || !rp || (G > 0 && !rngs))
        return AHA_FAIL(AHA_ERR_ARG, "aha_train_group: NULL argument");
    aha_task_problem_t prob;
    char text[1024];
    int len = 0;
    AHA_TRY(set->task->problem(&set->cfg, set->seed, AHA_SPLIT_TRAIN, pid, &prob));
    AHA_TRY(aha_task_prompt(&set->cfg, &prob, text, sizeof text));
    AHA_TRY(aha_tok_encode(text, ids, cap, &len));
    aha_task_by_kind(prob.kind)->reward_problem(&prob, rp);
    *n = len;
    for (int g = 0; g < G; g++) {
        const uint64_t sid[] = {AHA_STREAM_TRAIN_SAMPLE, pid, (uint64_t)g};
        aha_rng_derive(&rngs[g], set->seed, sid, 3);
    }
    return AHA_OK;
}
