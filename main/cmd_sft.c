/* aha sft: supervised fine-tuning on a JSONL of (prompt, response) pairs, loss on the response
 * only; the training loop, checkpoints and metrics are pretraining's (recipe/lm_train.h). */
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "model/checkpoint.h"
#include "recipe/lm_train.h"
#include "recipe/sft_data.h"
#include <stdio.h>
#include <string.h>

static int run_sft(const aha_run_config_t *rc, unsigned flags) {
    const int resume = flags & 1;
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
    tc.resume = resume;
    AHA_INFO("sft: %zu pairs from %s, %d steps of %d (%.2f epochs), from %s", n, rc->sft.data,
             tc.steps, tc.batch_size, (double)tc.steps * tc.batch_size / (double)n, init);
    AHA_TRY_GOTO(rc_, aha_mkdir_p(dir), done);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    AHA_TRY_GOTO(rc_, aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path), done);
    AHA_TRY_GOTO(rc_, aha_lm_train(m, &tc, dir, aha_sft_data_row, data), done);

    eval_result_t ev;
    AHA_TRY_GOTO(rc_,
                 run_eval(m, rc, rc->eval.n, rc->eval.k, rc->eval.temperature, rc->eval.top_p,
                          rc->eval.max_new_tokens, 0, &ev),
                 done);
    print_eval(&ev, rc->eval.temperature, rc->eval.top_p);
    snprintf(path, sizeof path, "%s/final/eval.json", dir);
    AHA_TRY_GOTO(rc_, write_eval_json(&ev, rc->eval.temperature, rc->eval.top_p, path), done);
    snprintf(path, sizeof path, "%s/final/config.yaml", dir);
    AHA_TRY_GOTO(rc_, aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path), done);
done:
    aha_sft_data_destroy(&data);
    aha_model_destroy(&m);
    return rc_;
}

int cmd_sft(int argc, char **argv) {
    return cli_config_command(
        argc, argv,
        "usage: aha sft [CONFIG] [--set key=value]... [--resume]\n"
        "Supervised fine-tuning of sft.init (default RUN_DIR/pretrain/final) on sft.data, a JSONL\n"
        "file of {\"prompt\": P, \"response\": R} lines in tokenizer spellings; the loss is on R.\n"
        "Writes RUN_DIR/<sft.dir>/ (metrics.jsonl, checkpoint/, final/ with eval.json) as "
        "pretraining does.\n"
        "  --resume     continue bit-exactly from RUN_DIR/<sft.dir>/checkpoint\n\n",
        (const char *const[]){"--resume", NULL}, run_sft);
}
