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

/* One option of a command's table (ended by a row with a NULL name): NAME ("--out") and the slot
 * its value goes to, exactly one of: flag (set to 1; the option takes no value), str (the next
 * argument), count (the next argument, an integer in [min, max]) or number (the next argument, a
 * finite double). The slots belong to the caller. */
typedef struct {
    const char *name;
    int *flag;
    const char **str;
    int *count;
    double *number;
    int min, max; /* count's range */
} cli_opt_t;
/* The option table parser: if argv[*i] is an option of OPTS (may be NULL), stores its value
 * (advancing *i past it) and returns 1; returns 0 if it is not one (nothing stored), or an error
 * for a missing or bad value ("NAME needs a value", "NAME: expected an integer in [MIN, MAX], got
 * 'V'", "NAME: 'V' is not a number"). */
int cli_take_opt(const cli_opt_t *opts, int argc, char **argv, int *i);

/* The command line of the config-driven commands: [CONFIG] [--config CONFIG] [--set k=v]...
 * [--help | -h] and the options of the command's table. */
typedef struct {
    const char *config; /* positional or --config */
    const char *overrides[128];
    size_t n_overrides;
    int help; /* --help or -h anywhere: nothing else is parsed */
} cli_common_t;
/* Parses ARGV into *out and the slots of OPTS (cli_take_opt); anything else is an error ("unknown
 * option 'A' (see --help)"). Returns 0 or an error (message set). */
int cli_parse(int argc, char **argv, const cli_opt_t *opts, cli_common_t *out);
/* The start of a command: cli_parse into *cli and OPTS, and for --help USAGE (a printf format,
 * with its arguments) on stdout. Returns 1 when the command goes on; 0 when it is done, with its
 * exit code in *status (0 after --help, cli_fail's on a parse error). */
int cli_begin(int argc, char **argv, const cli_opt_t *opts, cli_common_t *cli, int *status,
              const char *usage, ...) __attribute__((format(printf, 6, 7)));
/* The options of the training commands (pretrain, sft, train). */
typedef struct {
    int resume;    /* --resume: continue bit-exactly from the command's checkpoint */
    int cached_ok; /* --cached-ok (pretrain): reuse a checkpoint trained with the same config */
} cli_train_opts_t;
/* A training command: cli_parse with --resume (and --cached-ok when CACHED_OK); --help prints USAGE
 * and the config keys; otherwise RUN gets the run config ([CONFIG], --set) and the options.
 * Returns the process exit code. */
int cli_train_command(int argc, char **argv, const char *usage, int cached_ok,
                      int (*run)(const aha_run_config_t *rc, const cli_train_opts_t *opts));
/* A command's exit code for the result RC of its work: 0, or cli_fail(RC). */
int cli_exit(int rc);

/* The command line of a worker command (aha actor, aha verifier): [CONFIG] [--set k=v]...,
 * --connect ENDPOINT | --endpoints-file FILE, --name N and the command's own options OPTS (at most
 * 4 rows). */
typedef struct {
    int help;             /* --help: USAGE printed, nothing else done */
    const char *name;     /* --name, or the default the caller put here */
    char endpoint[300];   /* where to connect */
    aha_run_config_t cfg; /* the run config (CONFIG, or the learner's beside FILE) */
    /* the worker's link from the run config: net.heartbeat_timeout_s, net.connect_timeout_s, the
     * CURVE keys of net.keys (kept in curve_keys) and the stop flag of SIGTERM/SIGINT; it points
     * into this struct, which must not be copied */
    aha_link_t link;
    aha_keypair_t curve_keys[2]; /* the server's (public key only) and this worker's */
} cli_worker_t;
/* Parses into *w (w->name holds the default on entry) and the slots of OPTS, prints USAGE for
 * --help, installs the stop signal handlers and resolves the endpoint (KEY of endpoints.json,
 * "coordinator" or "broker"), the run config (main/procs.h aha_worker_setup) and the link. */
int cli_worker_parse(int argc, char **argv, const char *usage, const char *key,
                     const cli_opt_t *opts, cli_worker_t *w);

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
