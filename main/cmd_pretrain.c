/* aha pretrain: next-token pretraining of the MoE on the addition corpus. */
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "learner/grpo.h"
#include "learner/optim.h"
#include "main/cmd.h"
#include "learner/run_state.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Fills row b of tokens/targets with corpus document INDEX; loss only on the response (after
 * <|Assistant|>). Returns the row length. */
static int fill_row(const aha_run_config_t *rc, uint64_t index, int T, int *tokens, int *targets,
                    int *len_out) {
    char text[1024];
    int n = 0;
    AHA_TRY(aha_run_document(rc, index, text, sizeof text));
    AHA_TRY(aha_tok_encode(text, tokens, T, &n));
    int resp = n;
    for (int t = 0; t < n; t++)
        if (tokens[t] == AHA_TOK_ASSISTANT) {
            resp = t;
            break;
        }
    for (int t = 0; t < T; t++)
        targets[t] = (t >= resp && t + 1 < n) ? tokens[t + 1] : -1;
    for (int t = n; t < T; t++)
        tokens[t] = AHA_TOK_PAD;
    *len_out = n;
    return AHA_OK;
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) eq = 0;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return eq;
}

/* Writes a checkpoint into DIR.tmp and swaps it in whole (learner/run_state.h). */
static int save_state(const char *dir, const aha_model_t *m, const aha_adamw_t *opt, int step,
                      uint64_t next) {
    char tmp[1100];
    AHA_TRY(aha_run_state_stage(dir, tmp, sizeof tmp));
    AHA_TRY(aha_run_state_save(tmp, m, opt, step, next));
    return aha_run_state_publish(dir);
}

static int run_pretrain(const aha_run_config_t *rc, unsigned flags) {
    const int cached_ok = flags & 1, resume = flags & 2;
    char dir[512], path[1100], ckpt[600], final_dir[600];
    snprintf(dir, sizeof dir, "%s/pretrain", rc->run_dir);
    snprintf(final_dir, sizeof final_dir, "%s/final", dir);
    AHA_TRY(aha_run_config_check(rc)); /* before anything is written */
    AHA_TRY(aha_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    /* the cache key: the config without the rl and net sections, which pretraining never reads */
    aha_run_config_t key_cfg = *rc;
    memset(&key_cfg.rl, 0, sizeof key_cfg.rl);
    memset(&key_cfg.net, 0, sizeof key_cfg.net);
    char final_key[1100];
    snprintf(final_key, sizeof final_key, "%s/pretrain_key.yaml", final_dir);
    if (cached_ok && access(final_key, R_OK) == 0) {
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s/pretrain_key.yaml.new", dir);
        AHA_TRY(aha_cfg_save(&key_cfg, aha_run_config_fields, aha_run_config_n_fields, tmp));
        int same = files_equal(tmp, final_key);
        remove(tmp);
        if (same) {
            AHA_INFO("pretrained checkpoint %s matches this config: reusing it", final_dir);
            return AHA_OK;
        }
    }
    AHA_TRY(aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path));

    aha_model_config_t mc;
    AHA_TRY(aha_run_config_model(rc, &mc));

    const int B = rc->pretrain.batch_size, T = mc.max_seq_len;
    aha_model_t *m = NULL;
    aha_acts_t *acts = NULL;
    aha_adamw_t *opt = NULL;
    aha_metrics_t *metrics = NULL;
    int *tokens = malloc(sizeof(int) * (size_t)B * T);
    int *targets = malloc(sizeof(int) * (size_t)B * T);
    int *lengths = malloc(sizeof(int) * B);
    int rc_ = AHA_OK;
    if (!tokens || !targets || !lengths) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "pretrain batch");
        goto done;
    }
    AHA_TRY_GOTO(rc_, aha_model_new(&mc, &m), done);
    aha_rng_t rng;
    const uint64_t init_stream[] = {AHA_STREAM_MODEL_INIT};
    aha_rng_derive(&rng, (uint64_t)rc->seed, init_stream, 1);
    aha_model_init_random(m, &rng);
    AHA_TRY_GOTO(rc_, aha_model_alloc_grads(m), done);
    AHA_TRY_GOTO(rc_, aha_acts_new(m, B, T, &acts), done);
    AHA_TRY_GOTO(rc_, aha_adamw_new(m->n_params, &opt), done);
    for (size_t i = 0; i < aha_model_tensor_count(&mc); i++) {
        aha_tensor_info_t ti;
        AHA_TRY_GOTO(rc_, aha_model_tensor_info(&mc, i, &ti), done);
        if (ti.ndim < 2) aha_adamw_set_decay(opt, ti.offset, ti.numel, 0);
    }
    /* resume: model, routing biases, optimizer and step of RUN_DIR/pretrain/checkpoint; the data
     * is a pure function of the step (document index = step * B + row) */
    int start = 0;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    if (resume) {
        uint64_t next_doc = 0;
        AHA_TRY_GOTO(rc_, aha_run_state_load(ckpt, m, opt, &start, &next_doc), done);
        AHA_INFO("resuming from %s at step %d", ckpt, start);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (resume) AHA_TRY_GOTO(rc_, aha_run_state_truncate_metrics(path, start), done);
    AHA_TRY_GOTO(rc_, aha_metrics_open(path, resume, &metrics), done);
    AHA_INFO("pretraining %zu parameters for %d steps of %d documents -> %s", m->n_params,
             rc->pretrain.steps, B, dir);

    const aha_adamw_config_t ocfg = {rc->pretrain.beta1, rc->pretrain.beta2, AHA_ADAMW_EPS,
                                     rc->pretrain.weight_decay};
    const int tty = isatty(2);
    double t_start = now_s(), t_last = t_start;
    long tokens_since = 0;
    double loss_ema = NAN;
    long nonfinite = 0;
    /* fault injection for the tests: the loss of this step (1-based) reads as NaN */
    const char *fault = getenv("AHA_FAULT_NONFINITE_STEP");
    const int nan_step = fault ? atoi(fault) : 0;
    for (int step = start; step < rc->pretrain.steps; step++) {
        int Tb = 1;
        for (int b = 0; b < B; b++) {
            AHA_TRY_GOTO(rc_,
                         fill_row(rc, (uint64_t)step * B + b, T, tokens + (size_t)b * T,
                                  targets + (size_t)b * T, &lengths[b]),
                         done);
            if (lengths[b] > Tb) Tb = lengths[b];
        }
        /* compact rows to the batch's longest document */
        if (Tb < T)
            for (int b = 1; b < B; b++) {
                memmove(tokens + (size_t)b * Tb, tokens + (size_t)b * T, sizeof(int) * Tb);
                memmove(targets + (size_t)b * Tb, targets + (size_t)b * T, sizeof(int) * Tb);
            }
        aha_batch_t batch = {.B = B, .T = Tb, .tokens = tokens, .lengths = lengths};
        AHA_TRY_GOTO(rc_, aha_forward(m, acts, &batch), done);
        float loss;
        AHA_TRY_GOTO(rc_, aha_ce_loss(acts, targets, &loss), done);
        float aux = aha_acts_aux_loss(acts);
        aha_model_zero_grads(m);
        AHA_TRY_GOTO(rc_, aha_backward(m, acts, &batch), done);
        double gnorm = aha_grad_clip(m->grads, m->n_params, rc->pretrain.grad_clip);
        double lr = aha_lr_schedule(step, rc->pretrain.warmup, rc->pretrain.steps, rc->pretrain.lr,
                                    rc->pretrain.min_lr);
        if (step + 1 == nan_step) loss = NAN;
        if (!isfinite(loss) || !isfinite(gnorm)) {
            if (rc->pretrain.on_nonfinite != AHA_NONFINITE_SKIP) {
                rc_ = AHA_FAIL(AHA_ERR_RANGE,
                               "pretrain step %d: non-finite loss (%g) or gradient norm (%g); "
                               "stopping before the update, nothing saved "
                               "(pretrain.on_nonfinite: stop; 'skip' drops such steps)",
                               step + 1, (double)loss, gnorm);
                goto done;
            }
            AHA_WARN("pretrain step %d: non-finite loss (%g) or gradient norm (%g): update skipped",
                     step + 1, (double)loss, gnorm);
            nonfinite++;
        } else {
            aha_adamw_step(opt, m->params, m->grads, lr, &ocfg);
            aha_model_update_expert_bias(m, aha_acts_expert_load(acts));
            loss_ema = isnan(loss_ema) ? loss : 0.9 * loss_ema + 0.1 * loss;
        }
        for (int b = 0; b < B; b++)
            tokens_since += lengths[b];

        int last = step + 1 == rc->pretrain.steps;
        if ((step + 1) % rc->pretrain.log_every == 0 || last) {
            double t = now_s();
            double tps = tokens_since / fmax(t - t_last, 1e-9);
            /* load balance: max / mean routed load over experts, worst MoE layer */
            double imbalance = 0;
            if (mc.n_routed_experts > 0) {
                const float *load = aha_acts_expert_load(acts);
                for (int l = 0; l < mc.n_layers; l++) {
                    if (!aha_model_layer_is_moe(&mc, l)) continue;
                    double mx = 0, sum = 0;
                    for (int e = 0; e < mc.n_routed_experts; e++) {
                        double v = load[l * mc.n_routed_experts + e];
                        mx = fmax(mx, v);
                        sum += v;
                    }
                    if (sum > 0) imbalance = fmax(imbalance, mx * mc.n_routed_experts / sum);
                }
            }
            aha_metrics_num(metrics, "step", step + 1);
            aha_metrics_num(metrics, "loss", loss);
            aha_metrics_num(metrics, "aux_loss", aux);
            aha_metrics_num(metrics, "lr", lr);
            aha_metrics_num(metrics, "grad_norm", gnorm);
            aha_metrics_num(metrics, "nonfinite_skipped", (double)nonfinite);
            aha_metrics_num(metrics, "tokens_per_s", tps);
            aha_metrics_num(metrics, "expert_imbalance", imbalance);
            aha_metrics_num(metrics, "elapsed_s", t - t_start);
            AHA_TRY_GOTO(rc_, aha_metrics_end_row(metrics), done);
            double eta = (t - t_start) / (step + 1 - start) * (rc->pretrain.steps - step - 1);
            if (tty)
                fprintf(stderr,
                        "\r[pretrain] step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  eta %.0fs   ",
                        step + 1, rc->pretrain.steps, loss_ema, lr, tps, eta);
            else
                AHA_INFO("step %d/%d loss %.4f lr %.2e grad_norm %.3f %.0f tok/s eta %.0fs",
                         step + 1, rc->pretrain.steps, loss_ema, lr, gnorm, tps, eta);
            t_last = t;
            tokens_since = 0;
        }
        if ((step + 1) % rc->pretrain.checkpoint_every == 0 && !last)
            AHA_TRY_GOTO(rc_, save_state(ckpt, m, opt, step + 1, (uint64_t)(step + 1) * B), done);
    }
    if (tty) fputc('\n', stderr);
    AHA_TRY_GOTO(
        rc_, save_state(final_dir, m, opt, rc->pretrain.steps, (uint64_t)rc->pretrain.steps * B),
        done);
    AHA_INFO("pretraining done in %.1fs; checkpoint %s", now_s() - t_start, final_dir);

    eval_result_t ev;
    AHA_TRY_GOTO(rc_,
                 run_eval(m, rc, rc->eval.n, rc->eval.k, rc->eval.temperature, rc->eval.top_p,
                          rc->eval.max_new_tokens, 0, &ev),
                 done);
    print_eval(&ev, rc->eval.temperature, rc->eval.top_p);
    snprintf(path, sizeof path, "%s/eval.json", final_dir);
    AHA_TRY_GOTO(rc_, write_eval_json(&ev, rc->eval.temperature, rc->eval.top_p, path), done);
    /* config.yaml records the run; pretrain_key.yaml, written last, marks the checkpoint complete
     * and is what --cached-ok compares */
    snprintf(path, sizeof path, "%s/config.yaml", final_dir);
    AHA_TRY_GOTO(rc_, aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path), done);
    AHA_TRY_GOTO(rc_,
                 aha_cfg_save(&key_cfg, aha_run_config_fields, aha_run_config_n_fields, final_key),
                 done);
done:
    aha_metrics_close(&metrics);
    aha_adamw_destroy(&opt);
    aha_acts_destroy(&acts);
    aha_model_destroy(&m);
    free(tokens);
    free(targets);
    free(lengths);
    return rc_;
}

int cmd_pretrain(int argc, char **argv) {
    return cli_config_command(
        argc, argv,
        "usage: aha pretrain [CONFIG] [--set key=value]... [--cached-ok] [--resume]\n"
        "  --cached-ok  reuse RUN_DIR/pretrain/final if it was trained with the same config\n"
        "  --resume     continue bit-exactly from RUN_DIR/pretrain/checkpoint (model, optimizer, "
        "step)\n\n",
        (const char *const[]){"--cached-ok", "--resume", NULL}, run_pretrain);
}
