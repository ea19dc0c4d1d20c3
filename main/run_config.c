#include "main/run_config.h"
#include "core/err.h"
#include "core/log.h"
#include "model/tokenizer.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define F(key_, type_, member_, def_, lo_, hi_, help_)                                             \
    {                                                                                              \
        .key = key_, .type = type_, .offset = offsetof(aha_run_config_t, member_), .def = def_,    \
        .min = lo_, .max = hi_, .help = help_                                                      \
    }

#define FC(key_, member_, def_, choices_, help_)                                                   \
    {                                                                                              \
        .key = key_, .type = AHA_CFG_CHOICE, .offset = offsetof(aha_run_config_t, member_),        \
        .def = def_, .min = 1, .max = 0, .help = help_, .choices = choices_                        \
    }

/* one line per key reads as a table */
// clang-format off
const aha_cfg_field_t aha_run_config_fields[] = {
    F("run_dir", AHA_CFG_STRING, run_dir, "runs/demo", 1, AHA_CFG_STR_MAX - 1, "directory for checkpoints, metrics, plots"),
    F("seed", AHA_CFG_INT, seed, "1", 0, 2147483647, "run seed (all randomness derives from it)"),
    {"model", AHA_CFG_TABLE, offsetof(aha_run_config_t, model), .sub = aha_model_config_fields, .n_sub = AHA_MODEL_CONFIG_N_FIELDS},
    F("task.kind", AHA_CFG_STRING, task.kind, "addition", 1, 0, "addition | countdown | compare (non-reasoning: max(a,b) without thinking) | mixed (addition and compare)"),
    F("task.mix_compare", AHA_CFG_FLOAT, task.mix_compare, "0.25", 0, 1, "mixed task: share of compare problems and documents"),
    F("task.template", AHA_CFG_STRING, task.template, "compact", 1, 0, "prompt template: compact (<|User|>q<|Assistant|>) | r1zero (R1-Zero system text first)"),
    F("task.min_numbers", AHA_CFG_INT, task.min_numbers, "3", 2, 6, "countdown: fewest numbers"),
    F("task.max_numbers", AHA_CFG_INT, task.max_numbers, "4", 2, 6, "countdown: most numbers"),
    F("task.max_value", AHA_CFG_INT, task.max_value, "25", 1, 1000, "countdown: numbers drawn from 1..max_value"),
    F("task.min_digits", AHA_CFG_INT, task.min_digits, "1", 1, 12, "fewest digits per operand"),
    F("task.max_digits", AHA_CFG_INT, task.max_digits, "3", 1, 12, "most digits per operand"),
    F("task.test_fraction", AHA_CFG_FLOAT, task.test_fraction, "0.1", 0, 0.9, "problem-space share held out"),
    {"corpus", AHA_CFG_TABLE, offsetof(aha_run_config_t, corpus), .sub = aha_corpus_config_fields, .n_sub = AHA_CORPUS_CONFIG_N_FIELDS},
    F("pretrain.steps", AHA_CFG_INT, pretrain.steps, "400", 0, 100000000, "optimizer steps"),
    F("pretrain.batch_size", AHA_CFG_INT, pretrain.batch_size, "64", 1, 65536, "documents per step"),
    F("pretrain.warmup", AHA_CFG_INT, pretrain.warmup, "20", 0, 100000000, "LR warmup steps"),
    F("pretrain.log_every", AHA_CFG_INT, pretrain.log_every, "10", 1, 100000000, "metrics row every N steps"),
    F("pretrain.checkpoint_every", AHA_CFG_INT, pretrain.checkpoint_every, "100", 1, 100000000, "checkpoint every N steps"),
    F("pretrain.lr", AHA_CFG_FLOAT, pretrain.lr, "2e-3", 0, 1, "peak learning rate"),
    F("pretrain.min_lr", AHA_CFG_FLOAT, pretrain.min_lr, "2e-4", 0, 1, "final learning rate"),
    F("pretrain.weight_decay", AHA_CFG_FLOAT, pretrain.weight_decay, "0.1", 0, 10, "AdamW decoupled weight decay"),
    F("pretrain.beta1", AHA_CFG_FLOAT, pretrain.beta1, "0.9", 0, 0.999999, "AdamW beta1"),
    F("pretrain.beta2", AHA_CFG_FLOAT, pretrain.beta2, "0.95", 0, 0.999999, "AdamW beta2"),
    F("pretrain.grad_clip", AHA_CFG_FLOAT, pretrain.grad_clip, "1.0", 0, 1e9, "global grad-norm clip (0 = off)"),
    FC("pretrain.on_nonfinite", pretrain.on_nonfinite, "stop", "stop|skip", "a step whose loss or gradient norm is NaN/Inf: stop (error, nothing saved) | skip (drop the step's update, counted as nonfinite_skipped)"),
    F("eval.n", AHA_CFG_INT, eval.n, "200", 1, 1000000, "held-out problems"),
    F("eval.k", AHA_CFG_INT, eval.k, "4", 1, 1024, "samples per problem"),
    F("eval.max_new_tokens", AHA_CFG_INT, eval.max_new_tokens, "64", 1, 8192, "response cap"),
    F("eval.temperature", AHA_CFG_FLOAT, eval.temperature, "0.6", 0, 10, "sampling temperature"),
    F("eval.top_p", AHA_CFG_FLOAT, eval.top_p, "0.95", 0, 1, "nucleus sampling"),
    F("sft.data", AHA_CFG_STRING, sft.data, "", 1, 0, "aha sft: JSONL file of {\"prompt\", \"response\"} pairs (tokenizer spellings; loss on the response)"),
    F("sft.init", AHA_CFG_STRING, sft.init, "", 1, 0, "aha sft: checkpoint to start from (empty: RUN_DIR/pretrain/final)"),
    F("sft.dir", AHA_CFG_STRING, sft.dir, "sft", 1, 200, "aha sft: output directory under run_dir (checkpoints, metrics)"),
    F("sft.epochs", AHA_CFG_INT, sft.epochs, "2", 1, 100000, "aha sft: passes over the pairs (when sft.steps is 0)"),
    F("sft.steps", AHA_CFG_INT, sft.steps, "0", 0, 100000000, "aha sft: optimizer steps (0: epochs x pairs / batch_size, rounded up)"),
    F("sft.batch_size", AHA_CFG_INT, sft.batch_size, "32", 1, 65536, "aha sft: pairs per step"),
    F("sft.warmup", AHA_CFG_INT, sft.warmup, "10", 0, 100000000, "aha sft: LR warmup steps"),
    F("sft.log_every", AHA_CFG_INT, sft.log_every, "10", 1, 100000000, "aha sft: metrics row every N steps"),
    F("sft.checkpoint_every", AHA_CFG_INT, sft.checkpoint_every, "100", 1, 100000000, "aha sft: checkpoint every N steps"),
    F("sft.lr", AHA_CFG_FLOAT, sft.lr, "5e-4", 0, 1, "aha sft: peak learning rate (AdamW betas, weight decay, clip: pretrain.*)"),
    F("sft.min_lr", AHA_CFG_FLOAT, sft.min_lr, "5e-5", 0, 1, "aha sft: final learning rate"),
    F("rl.init", AHA_CFG_STRING, rl.init, "", 1, 0, "checkpoint to start from (empty: RUN_DIR/pretrain/final)"),
    F("rl.loss", AHA_CFG_STRING, rl.loss, "grpo", 1, 0, "grpo | dr_grpo | dapo | gspo"),
    F("rl.off_policy", AHA_CFG_STRING, rl.off_policy, "clip", 1, 0, "off-policy correction: clip | tis | decoupled (docs/rl.md; tis/decoupled: grpo, dr_grpo, dapo)"),
    F("rl.max_staleness", AHA_CFG_INT, rl.max_staleness, "0", 0, 8, "k: the groups of step s are sampled with the weights of version max(0, s-k); actors sample k steps ahead while the learner trains (0: synchronous)"),
    F("rl.tis_cap", AHA_CFG_FLOAT, rl.tis_cap, "2", 1, 1000, "rl.off_policy tis: truncation of the importance weight"),
    F("rl.steps", AHA_CFG_INT, rl.steps, "120", 0, 100000000, "policy updates (one batch of groups each)"),
    F("rl.prompts_per_step", AHA_CFG_INT, rl.prompts_per_step, "16", 1, 65536, "groups per batch"),
    F("rl.actor_groups", AHA_CFG_INT, rl.actor_groups, "1", 1, 32, "groups an actor holds at once and decodes together, up to 64 rows per batch (each group is bit for bit the group sampled alone)"),
    F("rl.group_size", AHA_CFG_INT, rl.group_size, "8", 2, AHA_GROUP_MAX, "samples per prompt (G)"),
    F("rl.max_new_tokens", AHA_CFG_INT, rl.max_new_tokens, "64", 1, 8192, "response cap"),
    F("rl.epochs", AHA_CFG_INT, rl.epochs, "1", 1, 100, "passes over each batch"),
    F("rl.minibatches", AHA_CFG_INT, rl.minibatches, "1", 1, 1024, "updates per pass"),
    F("rl.r3", AHA_CFG_BOOL, rl.r3, "true", 1, 0, "routing replay: train with the rollout's experts"),
    F("rl.dynamic_sampling", AHA_CFG_BOOL, rl.dynamic_sampling, "false", 1, 0, "DAPO: drop zero-variance groups and refill"),
    F("rl.max_resample_rounds", AHA_CFG_INT, rl.max_resample_rounds, "4", 0, 1000, "refill rounds with dynamic sampling"),
    F("rl.random_reward", AHA_CFG_BOOL, rl.random_reward, "false", 1, 0, "control run: rewards are coin flips"),
    F("rl.eval_every", AHA_CFG_INT, rl.eval_every, "20", 0, 100000000, "held-out eval every N steps (0 = end only)"),
    F("rl.eval_n", AHA_CFG_INT, rl.eval_n, "100", 1, 1000000, "held-out problems per periodic eval"),
    F("rl.checkpoint_every", AHA_CFG_INT, rl.checkpoint_every, "20", 1, 100000000, "checkpoint every N steps"),
    F("rl.update_expert_bias", AHA_CFG_BOOL, rl.update_expert_bias, "true", 1, 0, "keep aux-loss-free balancing on"),
    F("rl.temperature", AHA_CFG_FLOAT, rl.temperature, "1.0", 0.01, 10, "rollout temperature"),
    F("rl.top_p", AHA_CFG_FLOAT, rl.top_p, "1.0", 0.01, 1, "rollout nucleus"),
    F("rl.lr", AHA_CFG_FLOAT, rl.lr, "1e-4", 0, 1, "learning rate"),
    F("rl.warmup_frac", AHA_CFG_FLOAT, rl.warmup_frac, "0.0", 0, 1, "share of steps with linear warmup"),
    F("rl.weight_decay", AHA_CFG_FLOAT, rl.weight_decay, "0.0", 0, 10, "AdamW weight decay"),
    F("rl.beta1", AHA_CFG_FLOAT, rl.beta1, "0.9", 0, 0.999999, "AdamW beta1"),
    F("rl.beta2", AHA_CFG_FLOAT, rl.beta2, "0.99", 0, 0.999999, "AdamW beta2"),
    F("rl.grad_clip", AHA_CFG_FLOAT, rl.grad_clip, "1.0", 0, 1e9, "global grad-norm clip"),
    F("rl.beta", AHA_CFG_FLOAT, rl.beta, "0.0", 0, 100, "KL coefficient (0: no reference model)"),
    F("rl.eps_low", AHA_CFG_FLOAT, rl.eps_low, "0.2", 0, 1, "ratio clip below"),
    F("rl.eps_high", AHA_CFG_FLOAT, rl.eps_high, "0.2", 0, 10, "ratio clip above (dapo: 0.28)"),
    F("rl.gspo_eps_low", AHA_CFG_FLOAT, rl.gspo_eps_low, "3e-4", 0, 1, "gspo sequence-ratio clip below"),
    F("rl.gspo_eps_high", AHA_CFG_FLOAT, rl.gspo_eps_high, "4e-4", 0, 1, "gspo sequence-ratio clip above"),
    F("rl.adv_eps", AHA_CFG_FLOAT, rl.adv_eps, "1e-6", 0, 1, "advantage std epsilon"),
    F("rl.normalize_std", AHA_CFG_BOOL, rl.normalize_std, "true", 1, 0, "divide advantages by the group std (false for dr_grpo)"),
    F("rl.w_format", AHA_CFG_FLOAT, rl.w_format, "0.1", -100, 100, "format reward weight"),
    F("rl.w_accuracy", AHA_CFG_FLOAT, rl.w_accuracy, "0.9", -100, 100, "accuracy reward weight"),
    F("rl.w_language", AHA_CFG_FLOAT, rl.w_language, "0.0", -100, 100, "language-consistency reward weight"),
    F("rl.w_overlong", AHA_CFG_FLOAT, rl.w_overlong, "0.0", -100, 100, "DAPO overlong shaping weight"),
    F("rl.correct_requires_format", AHA_CFG_BOOL, rl.correct_requires_format, "true", 1, 0, "accuracy counts only in a well-formed response"),
    F("rl.overlong_cache", AHA_CFG_INT, rl.overlong_cache, "16", 0, 8192, "DAPO overlong soft-penalty window"),
    FC("rl.on_nonfinite", rl.on_nonfinite, "stop", "stop|skip", "a minibatch whose loss or gradient norm is NaN/Inf: stop (error, nothing saved) | skip (drop its update, counted as nonfinite_skipped)"),
    F("learner.expert_parallel", AHA_CFG_BOOL, learner.expert_parallel, "false", 1, 0, "with N MPI learner ranks: split the routed experts of each MoE layer over them, tokens sent to their expert's rank and back (MPI_Alltoallv); false: experts replicated like dense weights"),
    F("net.host", AHA_CFG_STRING, net.host, "127.0.0.1", 1, 0, "address the learner's sockets bind to (beyond loopback needs net.keys)"),
    F("net.serve", AHA_CFG_BOOL, net.serve, "false", 1, 0, "open the learner's sockets for actors/verifiers started elsewhere (endpoints in RUN_DIR/rl/endpoints.json)"),
    F("net.keys", AHA_CFG_STRING, net.keys, "", 1, 0, "CURVE key directory from `aha keygen DIR` (empty: no encryption)"),
    F("net.connect_timeout_s", AHA_CFG_INT, net.connect_timeout_s, "300", 1, 86400, "a worker (actor, verifier) that has no learner to talk to this long (never reached, or gone; also the wait for endpoints.json) exits with an error naming the endpoint"),
    F("net.heartbeat_timeout_s", AHA_CFG_INT, net.heartbeat_timeout_s, "30", 1, 3600, "a worker drops a connection whose learner answers no heartbeat this long (then net.connect_timeout_s applies)"),
    F("net.require_workers", AHA_CFG_INT, net.require_workers, "0", 0, 64, "with net.serve: before the first step, wait (up to net.connect_timeout_s) until this many actors and this many verifiers have joined, else fail; a step whose groups the learner then had to sample or score all by itself is an error (0: only a warning, log and metrics)"),
    F("net.advertise", AHA_CFG_STRING, net.advertise, "", 1, 0, "host (name or address) written into RUN_DIR/rl/endpoints.json for a wildcard net.host (empty: this host's name if it resolves to a non-loopback address, else the first non-loopback interface address)"),
    F("net.wait_verifiers", AHA_CFG_INT, net.wait_verifiers, "0", 0, 64, "with net.serve: before the first step, wait (up to net.connect_timeout_s) for this many verifiers started elsewhere"),
    F("rl.actors", AHA_CFG_INT, rl.actors, "0", 0, 64, "rollout actor processes (0: sample in the learner process)"),
    F("rl.lease_ms", AHA_CFG_INT, rl.lease_ms, "10000", 1, 3600000, "an actor that has not delivered its group by then loses the lease"),
    F("rl.verifiers", AHA_CFG_INT, rl.verifiers, "0", 0, 64, "verifier worker processes (0: score in the learner process)"),
    F("rl.verifier_deadline_ms", AHA_CFG_INT, rl.verifier_deadline_ms, "2000", 1, 3600000, "a verifier that has not scored a group by then is marked lost"),
    F("rl.verifier_exec", AHA_CFG_STRING, rl.verifier_exec, "", 1, 0, "user verifier command deciding accuracy (verifier/sandbox.h; empty: the built-in rules)"),
    F("rl.verifier_exec_deadline_ms", AHA_CFG_INT, rl.verifier_exec_deadline_ms, "5000", 1, 3600000, "wall-clock limit of one verifier_exec call (one group)"),
    F("rl.verifier_exec_memory_mb", AHA_CFG_INT, rl.verifier_exec_memory_mb, "512", 0, 1048576, "address-space limit of verifier_exec (0: none)"),
    F("rl.language_charset", AHA_CFG_STRING, rl.language_charset, "digits+ops", 1, 0, "bytes the language reward accepts in the think text (e.g. digits+ops, letters+space+[.,])"),
};
// clang-format on
const size_t aha_run_config_n_fields = sizeof aha_run_config_fields / sizeof *aha_run_config_fields;

/* The rules between keys, each message naming SOURCE and the keys: the model's shape, the task's
 * ranges, then everything a run derives from the config (task, template, rewards, corpus). */
static int cross_check(const aha_run_config_t *rc, const char *source) {
#define BAD(fmt, ...) return AHA_FAIL(AHA_ERR_CONFIG, "%s: " fmt, source, __VA_ARGS__)
    aha_model_config_t mc = rc->model;
    mc.vocab_size = AHA_TOK_VOCAB;
    AHA_TRY(aha_model_config_validate_in(&mc, source, 0));
    if (rc->task.min_digits > rc->task.max_digits)
        BAD("task.min_digits (%d) must be <= task.max_digits (%d)", rc->task.min_digits,
            rc->task.max_digits);
    if (rc->task.min_numbers > rc->task.max_numbers)
        BAD("task.min_numbers (%d) must be <= task.max_numbers (%d)", rc->task.min_numbers,
            rc->task.max_numbers);
    /* what the task, template, reward and corpus code check themselves, under the file's name */
    aha_reward_config_t rw;
    aha_task_problem_t p;
    char text[2048];
    int r = aha_run_config_reward(rc, &rw);
    if (r >= 0) r = aha_run_problem(rc, AHA_SPLIT_TRAIN, 0, &p);
    if (r >= 0) r = aha_run_prompt(rc, &p, text, sizeof text);
    if (r >= 0) r = aha_run_document(rc, 0, text, sizeof text);
    if (r < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", aha_last_error());
        why[strcspn(why, "\n")] = 0; /* the message, not its trace */
        BAD("%s", why);
    }
    return AHA_OK;
#undef BAD
}

int aha_run_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                        aha_run_config_t *out) {
    const char *source = path ? path : "configs/demo.yaml (embedded)";
    aha_run_config_t c;
    memset(&c, 0, sizeof c);
    if (path)
        AHA_TRY(aha_cfg_load_file(&c, sizeof c, aha_run_config_fields, aha_run_config_n_fields,
                                  path, overrides, n_overrides));
    else
        AHA_TRY(aha_cfg_load_string(&c, sizeof c, aha_run_config_fields, aha_run_config_n_fields,
                                    aha_demo_yaml, source, overrides, n_overrides));
    if (n_overrides) {
        char src[1024];
        snprintf(src, sizeof src, "%s with --set", source);
        AHA_TRY(cross_check(&c, src));
    } else {
        AHA_TRY(cross_check(&c, source));
    }
    *out = c;
    return AHA_OK;
}

int aha_run_config_model(const aha_run_config_t *rc, aha_model_config_t *out) {
    aha_model_config_t c = rc->model;
    c.vocab_size = AHA_TOK_VOCAB;
    AHA_TRY(aha_model_config_validate(&c));
    *out = c;
    return AHA_OK;
}

int aha_run_config_reward(const aha_run_config_t *rc, aha_reward_config_t *out) {
    aha_reward_config_t c;
    aha_reward_config_default(&c);
    c.w_format = rc->rl.w_format;
    c.w_accuracy = rc->rl.w_accuracy;
    c.w_language = rc->rl.w_language;
    c.w_overlong = rc->rl.w_overlong;
    c.correct_requires_format = rc->rl.correct_requires_format;
    c.max_len = rc->rl.max_new_tokens;
    c.overlong_cache = rc->rl.overlong_cache < c.max_len ? rc->rl.overlong_cache : c.max_len;
    if (aha_reward_charset(rc->rl.language_charset, c.charset, sizeof c.charset) != AHA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", aha_last_error());
        return AHA_FAIL(AHA_ERR_CONFIG, "rl.language_charset: %s", why);
    }
    AHA_TRY(aha_reward_config_check(&c));
    *out = c;
    return AHA_OK;
}

int aha_run_config_task(const aha_run_config_t *rc, const aha_task_t **task,
                        aha_task_config_t *out) {
    aha_task_config_t c;
    memset(&c, 0, sizeof c);
    c.add.min_digits = rc->task.min_digits;
    c.add.max_digits = rc->task.max_digits;
    c.add.test_fraction = rc->task.test_fraction;
    c.cd.min_numbers = rc->task.min_numbers;
    c.cd.max_numbers = rc->task.max_numbers;
    c.cd.max_value = rc->task.max_value;
    c.cd.test_fraction = rc->task.test_fraction;
    c.corpus = rc->corpus;
    c.mix_compare = rc->task.mix_compare;
    AHA_TRY(aha_task_lookup(rc->task.kind, task));
    AHA_TRY(aha_template_parse(rc->task.template, &c.template_kind));
    *out = c;
    return AHA_OK;
}

int aha_run_problem(const aha_run_config_t *rc, int split, uint64_t index,
                    aha_task_problem_t *out) {
    const aha_task_t *t;
    aha_task_config_t c;
    AHA_TRY(aha_run_config_task(rc, &t, &c));
    return t->problem(&c, (uint64_t)rc->seed, split, index, out);
}

int aha_run_prompt(const aha_run_config_t *rc, const aha_task_problem_t *p, char *buf, size_t cap) {
    const aha_task_t *t;
    aha_task_config_t c;
    AHA_TRY(aha_run_config_task(rc, &t, &c));
    return aha_task_prompt(&c, p, buf, cap);
}

int aha_run_document(const aha_run_config_t *rc, uint64_t index, char *buf, size_t cap) {
    const aha_task_t *t;
    aha_task_config_t c;
    AHA_TRY(aha_run_config_task(rc, &t, &c));
    return aha_task_document(t, &c, (uint64_t)rc->seed, index, buf, cap);
}

int aha_run_config_check(const aha_run_config_t *rc) {
    aha_model_config_t mc;
    aha_reward_config_t rw;
    aha_task_problem_t p;
    char text[2048];
    AHA_TRY(aha_run_config_model(rc, &mc));
    AHA_TRY(aha_run_config_reward(rc, &rw));
    AHA_TRY(aha_run_problem(rc, AHA_SPLIT_TRAIN, 0, &p));
    AHA_TRY(aha_run_prompt(rc, &p, text, sizeof text));
    AHA_TRY(aha_run_document(rc, 0, text, sizeof text));
    if (rc->rl.actors > 0 || rc->rl.verifiers > 0 || rc->net.serve) {
        int on;
        aha_keypair_t s, c;
        AHA_TRY(aha_run_config_keys(rc, &on, &s, &c));
    }
    return AHA_OK;
}

int aha_run_config_train_set(const aha_run_config_t *rc, aha_train_set_t *out) {
    aha_train_set_t s;
    AHA_TRY(aha_run_config_task(rc, &s.task, &s.cfg));
    s.seed = (uint64_t)rc->seed;
    *out = s;
    return AHA_OK;
}

int aha_run_config_keys(const aha_run_config_t *rc, int *on, aha_keypair_t *server,
                        aha_keypair_t *client) {
    const int loopback = !strcmp(rc->net.host, "127.0.0.1") || !strcmp(rc->net.host, "localhost");
    if (!rc->net.keys[0]) {
        if (!loopback)
            return AHA_FAIL(AHA_ERR_CONFIG,
                            "net.keys: CURVE keys are required when net.host (%s) is not loopback "
                            "(create them with `aha keygen DIR`)",
                            rc->net.host);
        *on = 0;
        return AHA_OK;
    }
    AHA_TRY(aha_keys_load(rc->net.keys, "server", server));
    AHA_TRY(aha_keys_load(rc->net.keys, "client", client));
    *on = 1;
    return AHA_OK;
}

int aha_run_config_sandbox(const aha_run_config_t *rc, aha_sandbox_config_t *out) {
    if (!rc->rl.verifier_exec[0]) return 0;
    aha_sandbox_config_default(out);
    out->command = rc->rl.verifier_exec;
    out->deadline_ms = rc->rl.verifier_exec_deadline_ms;
    out->memory_bytes = (size_t)rc->rl.verifier_exec_memory_mb << 20;
    return 1;
}

int aha_run_config_listen(const aha_run_config_t *rc, void *zctx, char *bind, size_t cap,
                          int *curve, aha_keypair_t *server, aha_zap_t **zap) {
    aha_keypair_t client;
    if ((size_t)snprintf(bind, cap, "tcp://%s:*", rc->net.host) >= cap)
        return AHA_FAIL(AHA_ERR_CONFIG, "net.host: '%s' is too long", rc->net.host);
    AHA_TRY(aha_run_config_keys(rc, curve, server, &client));
    if (!*curve) return AHA_OK;
    const char *allowed[] = {client.public_key};
    /* the operator's public key, if the keys directory has one: aha ctl --remote */
    char op[AHA_Z85_KEY];
    const int lr = aha_keys_load_public(rc->net.keys, "operator", op);
    if (lr == AHA_ERR_IO) {
        AHA_INFO("no %s/operator.pub: control commands only on the run's local socket",
                 rc->net.keys);
        return aha_zap_start(zctx, allowed, 1, NULL, zap);
    }
    AHA_TRY(lr);
    char beside[1100];
    snprintf(beside, sizeof beside, "%s/operator.key", rc->net.keys);
    AHA_INFO("remote control (aha ctl --remote) admitted for the key of %s/operator.pub%s",
             rc->net.keys,
             access(beside, F_OK) == 0
                 ? "; operator.key lies beside it, so whoever reads the workers' keys can "
                   "control the run (move it off the shared storage)"
                 : "");
    return aha_zap_start(zctx, allowed, 1, op, zap);
}
