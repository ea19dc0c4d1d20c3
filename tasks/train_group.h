/* tasks/train_group.h — the sampling setup of one training group, shared by the learner (which
 * samples in process when no actor delivered a group) and the actor worker, so both sample the
 * same group: the prompt of training problem PID, its reward problem, and the RNG stream of each
 * sample (docs/rl.md: a sample's randomness depends only on (seed, prompt id, sample index)). */
#ifndef AHA_TASKS_TRAIN_GROUP_H
#define AHA_TASKS_TRAIN_GROUP_H
#include "core/rng.h"
#include "tasks/task.h"
#include <stdint.h>

/* The training problems of a run: TASK (borrowed; an entry of the task table) with settings CFG,
 * and the run's seed. Training problem PID is TASK's problem PID of the train split. */
typedef struct {
    const aha_task_t *task;
    aha_task_config_t cfg;
    uint64_t seed;
} aha_train_set_t;

/* Prompt token ids of training problem PID into ids[0..*n) (CAP entries), its reward problem
 * into *rp, and for g < G the RNG stream (seed, AHA_STREAM_TRAIN_SAMPLE, pid, g) of sample g into
 * rngs[g]. Errors (a prompt longer than CAP tokens, a problem the task cannot make) leave *rp and
 * *n untouched. */
int aha_train_group(const aha_train_set_t *set, uint64_t pid, int *ids, int cap, int *n,
                    aha_reward_problem_t *rp, aha_rng_t *rngs, int G);

#endif
