/* main/run_config.h — the run configuration (YAML sections model/task/corpus/pretrain/eval) and
 * its field table; configs/demo.yaml is the embedded default. */
#ifndef AHA_MAIN_RUN_CONFIG_H
#define AHA_MAIN_RUN_CONFIG_H
#include "core/config.h"
#include "model/rollout.h"
#include "model/model.h"
#include "tasks/task.h"
#include "tasks/train_group.h"
#include "verifier/reward.h"
#include "verifier/sandbox.h"
#include "core/rng.h"
#include "core/curve.h"

typedef struct {
    char run_dir[AHA_CFG_STR_MAX];
    int seed;
    aha_model_config_t model; /* model.* keys: aha_model_config_fields (vocab_size fixed) */
    struct {
        char kind[AHA_CFG_STR_MAX];     /* addition | countdown */
        char template[AHA_CFG_STR_MAX]; /* compact | r1zero */
        int min_digits, max_digits;
        double test_fraction;
        int min_numbers, max_numbers, max_value; /* countdown */
        double mix_compare;                      /* mixed: share of compare problems */
    } task;
    aha_corpus_config_t corpus; /* corpus.* keys: aha_corpus_config_fields */
    struct {
        int steps, batch_size, warmup, log_every, checkpoint_every;
        double lr, min_lr, weight_decay, beta1, beta2, grad_clip;
        int on_nonfinite; /* AHA_NONFINITE_STOP | _SKIP (learner/grpo.h) */
    } pretrain;
    struct {
        int n, k, max_new_tokens;
        double temperature, top_p;
    } eval;
    struct {
        char data[AHA_CFG_STR_MAX]; /* JSONL of (prompt, response) pairs (recipe/sft_data.h) */
        char init[AHA_CFG_STR_MAX]; /* checkpoint to start from ("" = RUN_DIR/pretrain/final) */
        char dir[AHA_CFG_STR_MAX];  /* output directory under run_dir */
        int epochs, steps, batch_size, warmup, log_every, checkpoint_every;
        double lr, min_lr;
    } sft;
    struct {
        char init[AHA_CFG_STR_MAX]; /* checkpoint to start from ("" = RUN_DIR/pretrain/final) */
        char loss[AHA_CFG_STR_MAX];
        char off_policy[AHA_CFG_STR_MAX];
        double tis_cap;
        int max_staleness;
        int actor_groups; /* groups one actor holds and decodes at once */
        int steps, prompts_per_step, group_size, max_new_tokens, epochs, minibatches, r3,
            dynamic_sampling, max_resample_rounds, random_reward, eval_every, eval_n,
            checkpoint_every, update_expert_bias;
        double temperature, top_p, lr, warmup_frac, weight_decay, grad_clip, beta, eps_low,
            eps_high, gspo_eps_low, gspo_eps_high, adv_eps, beta1, beta2;
        int normalize_std;
        double w_format, w_accuracy, w_language, w_overlong;
        int correct_requires_format;
        int overlong_cache;
        char language_charset[AHA_CFG_STR_MAX]; /* aha_reward_charset spec */
        int verifiers, verifier_deadline_ms;
        int actors, lease_ms;
        char verifier_exec[AHA_CFG_STR_MAX];
        int verifier_exec_deadline_ms, verifier_exec_memory_mb;
        int on_nonfinite; /* AHA_NONFINITE_STOP | _SKIP (learner/grpo.h) */
    } rl;
    struct {
        char host[AHA_CFG_STR_MAX]; /* bind address of the learner's sockets */
        char keys[AHA_CFG_STR_MAX]; /* CURVE key directory, "" = off */
        int serve;                  /* accept workers started elsewhere */
        int connect_timeout_s;      /* a worker with no learner up this long gives up */
        int heartbeat_timeout_s;    /* a learner answering no heartbeat this long is gone */
        int wait_verifiers;         /* with serve: external verifiers to wait for */
        int require_workers;        /* with serve: actors and verifiers that must take part */
        char advertise[AHA_CFG_STR_MAX]; /* host written into endpoints.json, "" = found */
    } net;
    struct {
        int expert_parallel; /* MPI ranks: routed experts split over them (docs/mpi.md) */
    } learner;
} aha_run_config_t;

extern const aha_cfg_field_t aha_run_config_fields[];
extern const size_t aha_run_config_n_fields;
/* Text of configs/demo.yaml compiled into the binary. */
extern const char aha_demo_yaml[];

/* Loads PATH (NULL: the embedded demo config) plus --set overrides. */
int aha_run_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                        aha_run_config_t *out);
/* Model struct from the run config. */
int aha_run_config_model(const aha_run_config_t *rc, aha_model_config_t *out);
/* The run's task (task.kind, looked up in the task table) and task settings (task, corpus and
 * template keys). AHA_ERR_CONFIG naming the key for an unknown task or template. */
int aha_run_config_task(const aha_run_config_t *rc, const aha_task_t **task,
                        aha_task_config_t *out);
/* Reward weights, overlong window (max_len = rl.max_new_tokens) and language charset of the run.
 * AHA_ERR_CONFIG naming rl.language_charset for a bad charset spec; *out written only on success.
 */
int aha_run_config_reward(const aha_run_config_t *rc, aha_reward_config_t *out);
/* Checks everything a run derives from the config (model shape, task, template, corpus, rewards)
 * so commands can reject a bad config before they write anything; the error names the key. */
int aha_run_config_check(const aha_run_config_t *rc);

/* The user verifier command of the run (rl.verifier_exec): 1 and *out filled if set, else 0. The
 * command string stays owned by RC. */
int aha_run_config_sandbox(const aha_run_config_t *rc, aha_sandbox_config_t *out);

/* Network security of a run: *on = 0 without net.keys; else the server and client keypairs from
 * the key directory. AHA_ERR_CONFIG if net.host is not loopback and there are no keys. */
int aha_run_config_keys(const aha_run_config_t *rc, int *on, aha_keypair_t *server,
                        aha_keypair_t *client);
/* The listening side of a learner socket in ZCTX: BIND = "tcp://<net.host>:*"; with net.keys
 * *curve = 1, the server keypair in *server and a ZAP handler admitting the client key in *zap
 * (stop it before terminating ZCTX); without, *curve = 0 and *zap stays NULL. */
int aha_run_config_listen(const aha_run_config_t *rc, void *zctx, char *bind, size_t cap,
                          int *curve, aha_keypair_t *server, aha_zap_t **zap);

/* ---- the task a run trains on (through the task table, tasks/task.h) ---- */

/* Problem INDEX of SPLIT for the run's task and seed. */
int aha_run_problem(const aha_run_config_t *rc, int split, uint64_t index, aha_task_problem_t *out);
/* Prompt text of P in the run's template (task.template). */
int aha_run_prompt(const aha_run_config_t *rc, const aha_task_problem_t *p, char *buf, size_t cap);
/* Pretraining document INDEX of the run's task corpus. */
int aha_run_document(const aha_run_config_t *rc, uint64_t index, char *buf, size_t cap);

/* The run's training problems (task.kind, task settings, seed) for tasks/train_group.h. */
int aha_run_config_train_set(const aha_run_config_t *rc, aha_train_set_t *out);
#endif
