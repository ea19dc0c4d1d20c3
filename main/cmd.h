/* main/cmd.h — subcommands of the aha executable. Each returns a process exit code. */
#ifndef AHA_MAIN_CMD_H
#define AHA_MAIN_CMD_H
#include "core/link.h"
#include "main/run_config.h"
#include "model/model.h"
#include "recipe/lm_train.h"
#include <stdio.h>

/* The subcommands, in `aha --help` order: X(name, function, synopsis, summary). main() dispatches
 * on name and builds the command list of `aha --help` from synopsis and summary. */
#define AHA_COMMANDS(X)                                                                            \
    X("pretrain", cmd_pretrain, "pretrain [CONFIG] [--set key=value]...",                          \
      "next-token pretraining on the task corpus")                                                 \
    X("sft", cmd_sft, "sft [CONFIG] [--set key=value]...",                                         \
      "supervised fine-tuning on (prompt, response) pairs (sft.data)")                             \
    X("gen-coldstart", cmd_gen_coldstart, "gen-coldstart [CONFIG] --out F [--n N]",                \
      "cold-start SFT pairs (readable, correct traces)")                                           \
    X("reject", cmd_reject, "reject [CONFIG] --checkpoint DIR --out F",                            \
      "rejection sampling: correct, readable samples (+ non-reasoning)")                           \
    X("pipeline", cmd_pipeline, "pipeline RECIPE [--set key=value]...",                            \
      "run a recipe's stages in order, skipping finished ones")                                    \
    X("train", cmd_train, "train [CONFIG] [--set key=value]...",                                   \
      "GRPO (R1-Zero) from the pretrained checkpoint")                                             \
    X("eval", cmd_eval, "eval --checkpoint DIR [options]",                                         \
      "pass@1 / pass@k / cons@k / format rate on held-out problems")                               \
    X("sample", cmd_sample, "sample --checkpoint DIR [options]",                                   \
      "print sampled responses for a few problems")                                                \
    X("report", cmd_report, "report RUN_DIR",                                                      \
      "Markdown table of a recipe run's evaluations + curves")                                     \
    X("plot", cmd_plot, "plot RUN_DIR", "PNG curves of a run's metrics (gnuplot)")                 \
    X("verifier", cmd_verifier, "verifier --connect ENDPOINT [CONFIG]",                            \
      "a verifier worker scoring groups for a broker")                                             \
    X("actor", cmd_actor, "actor --connect ENDPOINT [CONFIG]",                                     \
      "a rollout worker sampling groups for a learner")                                            \
    X("keygen", cmd_keygen, "keygen DIR", "CURVE keys for net.keys (server, client, operator)")    \
    X("ctl", cmd_ctl, "ctl RUN_DIR status | stop | verifier-use N@V",                              \
      "inspect, stop or swap verifiers of a run")

/* Each subcommand gets the arguments after its name and returns the process exit code. */
#define AHA_DECLARE_COMMAND(name, function, synopsis, summary) int function(int argc, char **argv);
AHA_COMMANDS(AHA_DECLARE_COMMAND)
#undef AHA_DECLARE_COMMAND

/* Parses "[CONFIG] [--set k=v]..." style options shared by commands. Unknown flags are left for
 * the command: it gets them in *rest (argv order kept). Returns 0 or an error (message set). */
typedef struct {
    const char *config; /* positional or --config */
    const char *overrides[128];
    size_t n_overrides;
    char *rest[64];
    int n_rest;
    int help;
} cli_common_t;
int cli_parse_common(int argc, char **argv, cli_common_t *out);
/* The start of a command with its own options: cli_parse_common into *cli, and for --help USAGE
 * (a printf format, with its arguments) on stdout. Returns 1 when the command goes on; 0 when it
 * is done, with its exit code in *status (0 after --help, cli_fail's on a parse error). */
int cli_begin(int argc, char **argv, cli_common_t *cli, int *status, const char *usage, ...)
    __attribute__((format(printf, 5, 6)));
/* Shared body of the config-driven commands (pretrain, train): parses [CONFIG] [--set k=v]...
 * and the boolean options FLAGS (NULL-terminated, at most 32), prints USAGE and the config keys
 * for --help, loads the config and calls RUN(config, given) where bit j of given is set iff
 * flags[j] was on the command line. Returns the process exit code. */
int cli_config_command(int argc, char **argv, const char *usage, const char *const *flags,
                       int (*run)(const aha_run_config_t *rc, unsigned given));

/* The command line of a worker command (aha actor, aha verifier): [CONFIG] [--set k=v]...,
 * --connect ENDPOINT | --endpoints-file FILE, --name N and the command's own options FLAGS
 * (NULL-terminated, at most 4, each with a value: extra[j] is flags[j]'s value or NULL). */
typedef struct {
    int help;             /* --help: USAGE printed, nothing else done */
    const char *name;     /* --name, or the default the caller put here */
    const char *extra[4]; /* values of the command's own options */
    char endpoint[300];   /* where to connect */
    aha_run_config_t cfg; /* the run config (CONFIG, or the learner's beside FILE) */
    /* the worker's link from the run config: net.heartbeat_timeout_s, net.connect_timeout_s, the
     * CURVE keys of net.keys (kept in curve_keys) and the stop flag of SIGTERM/SIGINT; it points
     * into this struct, which must not be copied */
    aha_link_t link;
    aha_keypair_t curve_keys[2]; /* the server's (public key only) and this worker's */
} cli_worker_t;
/* Parses into *w (w->name holds the default on entry), prints USAGE for --help, installs the stop
 * signal handlers and resolves the endpoint (KEY of endpoints.json, "coordinator" or "broker"),
 * the run config (main/procs.h aha_worker_setup) and the link. */
int cli_worker_parse(int argc, char **argv, const char *usage, const char *key,
                     const char *const *flags, cli_worker_t *w);

/* Prints "aha: <message>" from aha_last_error() and returns 1 (or 2 for usage errors). */
int cli_fail(int rc);

/* Held-out evaluation of a model on the addition task (for `aha eval` and after pretraining). */
typedef struct {
    int n, k;
    double pass1;  /* mean over problems and samples of "answer correct" */
    double pass_k; /* share of problems with at least one correct sample */
    double cons_k; /* share of problems whose majority answer is correct */
    double format_rate;
    double correct_formatted; /* correct answer AND strict R1 format (the reward-1 event) */
    double response_len_mean;
    double language_consistency; /* mean language score (rl.language_charset) */
    double reflection_rate;      /* share of responses with the self-check marker "wait" */
    char model[64], setting[64]; /* labels for `aha report` ("" = none) */
} eval_result_t;
int run_eval(const aha_model_t *m, const aha_run_config_t *rc, int n, int k, double temperature,
             double top_p, int max_new, int verbose, eval_result_t *out);
/* run_eval that also writes one JSON line per sample to SAMPLES when it is not NULL (aha eval
 * --samples FILE: problem, prompt, response, correct, format, tokens, truncated). */
int run_eval_samples(const aha_model_t *m, const aha_run_config_t *rc, int n, int k,
                     double temperature, double top_p, int max_new, int verbose, FILE *samples,
                     eval_result_t *out);
void print_eval(const eval_result_t *r, double temperature, double top_p);
int write_eval_json(const eval_result_t *r, double temperature, double top_p, const char *path);

/* The training loop settings of pretraining (pretrain.* keys; AHA_FAULT_NONFINITE_STEP makes
 * that step's loss NaN, for the tests); `aha sft` starts from them. */
void lm_train_config_pretrain(const aha_run_config_t *rc, aha_lm_train_t *out);

/* The end of a training command: evaluates M with the config's eval section, prints the result
 * and writes FINAL_DIR/eval.json and FINAL_DIR/config.yaml (the run's config). */
int final_eval(const aha_model_t *m, const aha_run_config_t *rc, const char *final_dir);
/* PNG curves of RUN's rl/, pretrain/ and sft/ metrics (those present; *done = how many). */
int plot_run_dir(const char *run, int *done);

/* Monotonic clock in seconds. */
double now_s(void);

#endif
