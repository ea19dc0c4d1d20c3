/* aha pretrain: next-token pretraining of the MoE on the addition corpus. */
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "main/cmd.h"
#include "recipe/lm_train.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: aha pretrain [CONFIG] [--set key=value]... [--cached-ok] [--resume]\n"
    "  --cached-ok  reuse RUN_DIR/pretrain/final if it was trained with the same config\n"
    "  --resume     continue bit-exactly from RUN_DIR/pretrain/checkpoint (model, optimizer, "
    "step)\n"
    "\n";

/* The row source of pretraining: corpus document INDEX, loss only on the response (after
 * <|Assistant|>). */
static int corpus_row(void *ctx, uint64_t index, int T, int *tokens, int *targets, int *len_out) {
    const aha_run_config_t *rc = ctx;
    char text[1024];
    int n = 0;
    AHA_TRY(aha_run_document(rc, index, text, sizeof text));
    AHA_TRY(aha_tok_encode(text, tokens, T, &n));
    int resp = n;
    for (int t = 0; t < n; t++)
        if (tokens[t] == AHA_TOK_ASSISTANT) {
            resp = t + 1;
            break;
        }
    aha_lm_mask_prompt(tokens, n, resp, T, targets);
    *len_out = n;
    return AHA_OK;
}

void lm_train_config_pretrain(const aha_run_config_t *rc, aha_lm_train_t *out) {
    aha_lm_train_default(out);
    out->label = "pretrain";
    out->steps = rc->pretrain.steps;
    out->batch_size = rc->pretrain.batch_size;
    out->warmup = rc->pretrain.warmup;
    out->log_every = rc->pretrain.log_every;
    out->checkpoint_every = rc->pretrain.checkpoint_every;
    out->lr = rc->pretrain.lr;
    out->min_lr = rc->pretrain.min_lr;
    out->weight_decay = rc->pretrain.weight_decay;
    out->beta1 = rc->pretrain.beta1;
    out->beta2 = rc->pretrain.beta2;
    out->grad_clip = rc->pretrain.grad_clip;
    out->on_nonfinite = rc->pretrain.on_nonfinite;
    /* fault injection for the tests: the loss of this step (1-based) reads as NaN */
    const char *fault = getenv("AHA_FAULT_NONFINITE_STEP");
    out->nan_step = fault ? atoi(fault) : 0;
}

int final_eval(const aha_model_t *m, const aha_run_config_t *rc, const char *final_dir) {
    char path[1100];
    eval_result_t ev;
    AHA_TRY(run_eval(m, rc, rc->eval.n, rc->eval.k, rc->eval.temperature, rc->eval.top_p,
                     rc->eval.max_new_tokens, 0, &ev));
    print_eval(&ev, rc->eval.temperature, rc->eval.top_p);
    snprintf(path, sizeof path, "%s/eval.json", final_dir);
    AHA_TRY(write_eval_json(&ev, rc->eval.temperature, rc->eval.top_p, path));
    snprintf(path, sizeof path, "%s/config.yaml", final_dir);
    return aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path);
}

static int run_pretrain(const aha_run_config_t *rc, const cli_train_opts_t *opts) {
    char dir[512], path[1100], final_dir[600];
    snprintf(dir, sizeof dir, "%s/pretrain", rc->run_dir);
    snprintf(final_dir, sizeof final_dir, "%s/final", dir);
    AHA_TRY(aha_run_config_check(rc)); /* before anything is written */
    AHA_TRY(aha_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    /* the cache key: the config without the rl and net sections, which pretraining never reads */
    aha_run_config_t key_cfg = *rc;
    memset(&key_cfg.rl, 0, sizeof key_cfg.rl);
    memset(&key_cfg.net, 0, sizeof key_cfg.net);
    memset(&key_cfg.sft, 0, sizeof key_cfg.sft);
    char final_key[1100];
    snprintf(final_key, sizeof final_key, "%s/pretrain_key.yaml", final_dir);
    if (opts->cached_ok && access(final_key, R_OK) == 0) {
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s/pretrain_key.yaml.new", dir);
        AHA_TRY(aha_cfg_save(&key_cfg, aha_run_config_fields, aha_run_config_n_fields, tmp));
        int same = aha_files_equal(tmp, final_key);
        remove(tmp);
        if (same) {
            AHA_INFO("pretrained checkpoint %s matches this config: reusing it", final_dir);
            return AHA_OK;
        }
    }
    AHA_TRY(aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path));

    aha_model_config_t mc;
    AHA_TRY(aha_run_config_model(rc, &mc));
    aha_model_t *m = NULL;
    int rc_ = AHA_OK;
    AHA_TRY_GOTO(rc_, aha_model_new(&mc, &m), done);
    aha_rng_t rng;
    const uint64_t init_stream[] = {AHA_STREAM_MODEL_INIT};
    aha_rng_derive(&rng, (uint64_t)rc->seed, init_stream, 1);
    aha_model_init_random(m, &rng);
    aha_lm_train_t tc;
    lm_train_config_pretrain(rc, &tc);
    tc.resume = opts->resume;
    AHA_TRY_GOTO(rc_, aha_lm_train(m, &tc, dir, corpus_row, (void *)rc), done);

    AHA_TRY_GOTO(rc_, final_eval(m, rc, final_dir), done);
    /* pretrain_key.yaml, written last, marks the checkpoint complete and is what --cached-ok
     * compares */
    AHA_TRY_GOTO(rc_,
                 aha_cfg_save(&key_cfg, aha_run_config_fields, aha_run_config_n_fields, final_key),
                 done);
done:
    aha_model_destroy(&m);
    return rc_;
}

int cmd_pretrain(int argc, char **argv) {
    return cli_train_command(argc, argv, k_usage, 1, run_pretrain);
}
