/* aha sft: supervised fine-tuning on a JSONL of (prompt, response) pairs, loss on the response
 * only; the training loop, checkpoints and metrics are pretraining's (recipe/lm_train.h). */
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "model/checkpoint.h"
#include "recipe/data_gen.h"
#include "recipe/lm_train.h"
#include "recipe/sft_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_sft_usage[] =
    "usage: aha sft [CONFIG] [--set key=value]... [--resume]\n"
    "Supervised fine-tuning of sft.init (default RUN_DIR/pretrain/final) on sft.data, a JSONL\n"
    "file of {\"prompt\": P, \"response\": R} lines in tokenizer spellings; the loss is on R.\n"
    "Writes RUN_DIR/<sft.dir>/ (metrics.jsonl, checkpoint/, final/ with eval.json) as "
    "pretraining does.\n"
    "  --resume     continue bit-exactly from RUN_DIR/<sft.dir>/checkpoint\n\n";

static int run_sft(const aha_run_config_t *rc, const cli_train_opts_t *opts) {
    char dir[600], init[600], path[1100];
    if (!rc->sft.data[0])
        return AHA_FAIL(AHA_ERR_CONFIG, "sft.data: the JSONL file of (prompt, response) pairs is "
                                        "required (--set sft.data=FILE)");
    AHA_TRY(aha_run_config_check(rc)); /* before anything is written */
    if (strstr(rc->sft.dir, "..") || strchr(rc->sft.dir, '/'))
        return AHA_FAIL(AHA_ERR_CONFIG, "sft.dir: '%s' must be a plain directory name",
                        rc->sft.dir);
    snprintf(dir, sizeof dir, "%s/%s", rc->run_dir, rc->sft.dir);
    if (rc->sft.init[0])
        snprintf(init, sizeof init, "%s", rc->sft.init);
    else
        snprintf(init, sizeof init, "%s/pretrain/final", rc->run_dir);

    aha_model_t *m = NULL;
    aha_sft_data_t *data = NULL;
    int rc_ = AHA_OK;
    AHA_TRY_GOTO(rc_, aha_checkpoint_load(init, &m), done);
    AHA_TRY_GOTO(rc_, aha_sft_data_load(rc->sft.data, m->cfg.max_seq_len, (uint64_t)rc->seed, &data),
                 done);
    aha_lm_train_t tc;
    lm_train_config_pretrain(rc, &tc); /* optimizer settings and fault injection of pretraining */
    tc.label = "sft";
    tc.batch_size = rc->sft.batch_size;
    const size_t n = aha_sft_data_count(data);
    tc.steps = rc->sft.steps ? rc->sft.steps
                             : (int)(((size_t)rc->sft.epochs * n + (size_t)tc.batch_size - 1) /
                                     (size_t)tc.batch_size);
    tc.warmup = rc->sft.warmup;
    tc.log_every = rc->sft.log_every;
    tc.checkpoint_every = rc->sft.checkpoint_every;
    tc.lr = rc->sft.lr;
    tc.min_lr = rc->sft.min_lr;
    tc.resume = opts->resume;
    AHA_INFO("sft: %zu pairs from %s, %d steps of %d (%.2f epochs), from %s", n, rc->sft.data,
             tc.steps, tc.batch_size, (double)tc.steps * tc.batch_size / (double)n, init);
    AHA_TRY_GOTO(rc_, aha_mkdir_p(dir), done);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    AHA_TRY_GOTO(rc_, aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path), done);
    AHA_TRY_GOTO(rc_, aha_lm_train(m, &tc, dir, aha_sft_data_row, data), done);

    snprintf(path, sizeof path, "%s/final", dir);
    AHA_TRY_GOTO(rc_, final_eval(m, rc, path), done);
done:
    aha_sft_data_destroy(&data);
    aha_model_destroy(&m);
    return rc_;
}

int cmd_sft(int argc, char **argv) {
    return cli_train_command(argc, argv, k_sft_usage, 0, run_sft);
}

/* ---- aha gen-coldstart / aha reject: the recipe's SFT data (recipe/data_gen.h) ---- */

static const char k_gen_coldstart_usage[] =
    "usage: aha gen-coldstart [CONFIG] [--set key=value]... --out FILE [--n N]\n"
    "Writes N (default 2000) cold-start pairs of the run's task (task.kind, template)\n"
    "as JSONL for `aha sft`: long, readable reference responses in the target language\n"
    "(addition: the correct carry trace).\n";

static const char k_reject_usage[] =
    "usage: aha reject [CONFIG] [--set key=value]... --checkpoint DIR --out FILE\n"
    "       [--prompts N] [--k K] [--min-language X] [--nonreasoning N]\n"
    "Rejection sampling: K (default 4) samples for each of N (default 500) train\n"
    "prompts at the eval temperature / top-p; keeps the correct and readable ones\n"
    "(well-formed, right answer, language consistency >= X, default 1, with\n"
    "rl.language_charset), each once, adds N (default 100) non-reasoning pairs\n"
    "(compare), writes JSONL for `aha sft` and prints the counts.\n";

/* The run config of a data command and the data source of its task. */
static int data_source(const cli_common_t *cli, aha_run_config_t *rc, aha_data_source_t *src) {
    AHA_TRY(aha_run_config_load(cli->config, cli->overrides, cli->n_overrides, rc));
    AHA_TRY(aha_run_config_task(rc, &src->task, &src->cfg));
    src->seed = (uint64_t)rc->seed;
    return AHA_OK;
}

int cmd_gen_coldstart(int argc, char **argv) {
    const char *out = NULL;
    int n = 2000;
    const cli_opt_t opts[] = {
        {"--out", .str = &out}, {"--n", .count = &n, .min = 0, .max = 100000000}, {0}};
    cli_common_t cli;
    int rc;
    if (!cli_begin(argc, argv, opts, &cli, &rc, "%s", k_gen_coldstart_usage)) return rc;
    aha_run_config_t cfg;
    aha_data_source_t src;
    if ((rc = data_source(&cli, &cfg, &src)) < 0) return cli_fail(rc);
    if (!out || n < 1) return cli_fail(AHA_FAIL(AHA_ERR_ARG, "--out FILE and --n >= 1 are required"));
    if ((rc = aha_data_coldstart(&src, n, out)) < 0) return cli_fail(rc);
    AHA_INFO("wrote %d cold-start pairs of %s to %s", n, src.task->name, out);
    return 0;
}

int cmd_reject(int argc, char **argv) {
    const char *out = NULL, *ckpt = NULL;
    aha_reject_config_t rj;
    memset(&rj, 0, sizeof rj);
    rj.prompts = 500;
    rj.k = 4;
    rj.min_language = 1;
    rj.nonreasoning = 100;
    const cli_opt_t opts[] = {
        {"--out", .str = &out},
        {"--checkpoint", .str = &ckpt},
        {"--prompts", .count = &rj.prompts, .min = 0, .max = 100000000},
        {"--k", .count = &rj.k, .min = 0, .max = 100000000},
        {"--min-language", .number = &rj.min_language},
        {"--nonreasoning", .count = &rj.nonreasoning, .min = 0, .max = 100000000},
        {0}};
    cli_common_t cli;
    int rc;
    if (!cli_begin(argc, argv, opts, &cli, &rc, "%s", k_reject_usage)) return rc;
    aha_run_config_t cfg;
    aha_data_source_t src;
    aha_model_t *m = NULL;
    if ((rc = data_source(&cli, &cfg, &src)) < 0 ||
        (rc = aha_run_config_reward(&cfg, &rj.reward)) < 0)
        return cli_fail(rc);
    if (!out || !ckpt)
        return cli_fail(AHA_FAIL(AHA_ERR_ARG, "--checkpoint DIR and --out FILE are required"));
    if (rj.k < 1 || rj.k > AHA_GROUP_MAX)
        return cli_fail(AHA_FAIL(AHA_ERR_ARG, "--k must be in 1..%d", AHA_GROUP_MAX));
    rj.gen.max_new_tokens = cfg.eval.max_new_tokens;
    rj.gen.temperature = (float)cfg.eval.temperature;
    rj.gen.top_p = (float)cfg.eval.top_p;
    aha_reject_stats_t st;
    if ((rc = aha_checkpoint_load(ckpt, &m)) >= 0) rc = aha_data_reject(m, &src, &rj, out, &st);
    aha_model_destroy(&m);
    if (rc < 0) return cli_fail(rc);
    printf("rejection sampling: %ld samples of %d prompts; kept %ld (%.1f%%, %d prompts), "
           "duplicates %ld, wrong %ld, malformed %ld, mixed language %ld; + %ld non-reasoning "
           "-> %s\n",
           st.samples, rj.prompts, st.kept, st.samples ? 100.0 * st.kept / st.samples : 0.0,
           st.prompts_with_kept, st.duplicates, st.wrong, st.malformed, st.mixed_language,
           st.nonreasoning, out);
    return 0;
}
