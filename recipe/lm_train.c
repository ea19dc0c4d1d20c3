/* recipe/lm_train.c — the supervised next-token loop (see lm_train.h). */
#include "recipe/lm_train.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "learner/grpo.h"
#include "learner/optim.h"
#include "learner/run_state.h"
#include "model/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void aha_lm_train_default(aha_lm_train_t *c) {
    memset(c, 0, sizeof *c);
    c->label = "train";
    c->steps = 400;
    c->batch_size = 64;
    c->warmup = 20;
    c->log_every = 10;
    c->checkpoint_every = 100;
    c->lr = 2e-3;
    c->min_lr = 2e-4;
    c->weight_decay = 0.1;
    c->beta1 = 0.9;
    c->beta2 = 0.95;
    c->grad_clip = 1.0;
    c->on_nonfinite = AHA_NONFINITE_STOP;
}

void aha_lm_mask_prompt(const int *tokens, int len, int prompt_len, int T, int *targets) {
    for (int t = 0; t < T; t++)
        targets[t] = (t >= prompt_len - 1 && t + 1 < len) ? tokens[t + 1] : -1;
}

/* Writes a checkpoint into DIR.tmp and swaps it in whole (learner/run_state.h). */
static int save_state(const char *dir, const aha_model_t *m, const aha_adamw_t *opt, int step,
                      uint64_t next) {
    char tmp[1100];
    AHA_TRY(aha_run_state_stage(dir, tmp, sizeof tmp));
    AHA_TRY(aha_run_state_save(tmp, m, opt, step, next));
    return aha_run_state_publish(dir);
}

/* Fills the B rows of data indices first..first+B and compacts them to the longest; *Tb_out. */
static int fill_batch(aha_lm_row_fn row, void *ctx, uint64_t first, int B, int T, int *tokens,
                      int *targets, int *lengths, int *Tb_out) {
    int Tb = 1;
    for (int b = 0; b < B; b++) {
        int *tk = tokens + (size_t)b * T, *tg = targets + (size_t)b * T;
        int len = 0;
        AHA_TRY(row(ctx, first + (uint64_t)b, T, tk, tg, &len));
        if (len < 1 || len > T)
            return AHA_FAIL(AHA_ERR_RANGE, "row %llu has %d tokens (1..%d allowed)",
                            (unsigned long long)(first + (uint64_t)b), len, T);
        for (int t = len; t < T; t++) {
            tk[t] = AHA_TOK_PAD;
            tg[t] = -1;
        }
        lengths[b] = len;
        if (len > Tb) Tb = len;
    }
    if (Tb < T)
        for (int b = 1; b < B; b++) {
            memmove(tokens + (size_t)b * Tb, tokens + (size_t)b * T, sizeof(int) * Tb);
            memmove(targets + (size_t)b * Tb, targets + (size_t)b * T, sizeof(int) * Tb);
        }
    *Tb_out = Tb;
    return AHA_OK;
}

/* max / mean routed load over experts, worst MoE layer (1 = balanced). */
static double imbalance_of(const aha_model_config_t *mc, const float *load) {
    double imbalance = 0;
    if (mc->n_routed_experts <= 0) return 0;
    for (int l = 0; l < mc->n_layers; l++) {
        if (!aha_model_layer_is_moe(mc, l)) continue;
        double mx = 0, sum = 0;
        for (int e = 0; e < mc->n_routed_experts; e++) {
            double v = load[l * mc->n_routed_experts + e];
            mx = fmax(mx, v);
            sum += v;
        }
        if (sum > 0) imbalance = fmax(imbalance, mx * mc->n_routed_experts / sum);
    }
    return imbalance;
}

int aha_lm_train(aha_model_t *m, const aha_lm_train_t *cfg, const char *dir, aha_lm_row_fn row,
                 void *ctx) {
    if (!m || !cfg || !dir || !row || cfg->steps < 0 || cfg->batch_size < 1 ||
        cfg->log_every < 1 || cfg->checkpoint_every < 1)
        return AHA_FAIL(AHA_ERR_ARG, "lm_train: needs a model, a row source, steps >= 0, "
                                     "batch_size, log_every and checkpoint_every >= 1");
    const char *label = cfg->label ? cfg->label : "train";
    char path[1100], ckpt[1100], final_dir[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    snprintf(final_dir, sizeof final_dir, "%s/final", dir);
    AHA_TRY(aha_mkdir_p(dir));
    const aha_model_config_t mc = m->cfg;
    const int B = cfg->batch_size, T = mc.max_seq_len;
    aha_acts_t *acts = NULL;
    aha_adamw_t *opt = NULL;
    aha_metrics_t *metrics = NULL;
    int *tokens = malloc(sizeof(int) * (size_t)B * T);
    int *targets = malloc(sizeof(int) * (size_t)B * T);
    int *lengths = malloc(sizeof(int) * B);
    int rc_ = AHA_OK;
    if (!tokens || !targets || !lengths) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "%s batch", label);
        goto done;
    }
    if (!m->grads) AHA_TRY_GOTO(rc_, aha_model_alloc_grads(m), done);
    AHA_TRY_GOTO(rc_, aha_acts_new(m, B, T, &acts), done);
    AHA_TRY_GOTO(rc_, aha_adamw_new(m->n_params, &opt), done);
    for (size_t i = 0; i < aha_model_tensor_count(&mc); i++) {
        aha_tensor_info_t ti;
        AHA_TRY_GOTO(rc_, aha_model_tensor_info(&mc, i, &ti), done);
        if (ti.ndim < 2) aha_adamw_set_decay(opt, ti.offset, ti.numel, 0);
    }
    /* resume: model, routing biases, optimizer and step of DIR/checkpoint; the data is a pure
     * function of the step (row index = step * B + row) */
    int start = 0;
    if (cfg->resume) {
        uint64_t next_doc = 0;
        AHA_TRY_GOTO(rc_, aha_run_state_load(ckpt, m, opt, &start, &next_doc), done);
        AHA_INFO("resuming from %s at step %d", ckpt, start);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (cfg->resume) AHA_TRY_GOTO(rc_, aha_run_state_truncate_metrics(path, start), done);
    AHA_TRY_GOTO(rc_, aha_metrics_open(path, cfg->resume, &metrics), done);
    AHA_INFO("%s: %zu parameters, %d steps of %d rows -> %s", label, m->n_params, cfg->steps, B,
             dir);

    const aha_adamw_config_t ocfg = {cfg->beta1, cfg->beta2, AHA_ADAMW_EPS, cfg->weight_decay};
    const int tty = isatty(2);
    double t_start = aha_now_ms() * 1e-3, t_last = t_start;
    long tokens_since = 0;
    double loss_ema = NAN;
    long nonfinite = 0;
    for (int step = start; step < cfg->steps; step++) {
        int Tb = 1;
        AHA_TRY_GOTO(rc_,
                     fill_batch(row, ctx, (uint64_t)step * B, B, T, tokens, targets, lengths, &Tb),
                     done);
        aha_batch_t batch = {.B = B, .T = Tb, .tokens = tokens, .lengths = lengths};
        AHA_TRY_GOTO(rc_, aha_forward(m, acts, &batch), done);
        float loss;
        AHA_TRY_GOTO(rc_, aha_ce_loss(acts, targets, &loss), done);
        float aux = aha_acts_aux_loss(acts);
        aha_model_zero_grads(m);
        AHA_TRY_GOTO(rc_, aha_backward(m, acts, &batch), done);
        double gnorm = aha_grad_clip(m->grads, m->n_params, cfg->grad_clip);
        double lr = aha_lr_schedule(step, cfg->warmup, cfg->steps, cfg->lr, cfg->min_lr);
        if (step + 1 == cfg->nan_step) loss = NAN;
        if (!isfinite(loss) || !isfinite(gnorm)) {
            if (cfg->on_nonfinite != AHA_NONFINITE_SKIP) {
                rc_ = AHA_FAIL(AHA_ERR_RANGE,
                               "%s step %d: non-finite loss (%g) or gradient norm (%g); "
                               "stopping before the update, nothing saved "
                               "(%s.on_nonfinite: stop; 'skip' drops such steps)",
                               label, step + 1, (double)loss, gnorm, label);
                goto done;
            }
            AHA_WARN("%s step %d: non-finite loss (%g) or gradient norm (%g): update skipped", label,
                     step + 1, (double)loss, gnorm);
            nonfinite++;
        } else {
            aha_adamw_step(opt, m->params, m->grads, lr, &ocfg);
            aha_model_update_expert_bias(m, aha_acts_expert_load(acts));
            loss_ema = isnan(loss_ema) ? loss : 0.9 * loss_ema + 0.1 * loss;
        }
        for (int b = 0; b < B; b++)
            tokens_since += lengths[b];

        int last = step + 1 == cfg->steps;
        if ((step + 1) % cfg->log_every == 0 || last) {
            double t = aha_now_ms() * 1e-3;
            double tps = tokens_since / fmax(t - t_last, 1e-9);
            aha_metrics_num(metrics, "step", step + 1);
            aha_metrics_num(metrics, "loss", loss);
            aha_metrics_num(metrics, "aux_loss", aux);
            aha_metrics_num(metrics, "lr", lr);
            aha_metrics_num(metrics, "grad_norm", gnorm);
            aha_metrics_num(metrics, "nonfinite_skipped", (double)nonfinite);
            aha_metrics_num(metrics, "tokens_per_s", tps);
            aha_metrics_num(metrics, "expert_imbalance",
                            imbalance_of(&mc, aha_acts_expert_load(acts)));
            aha_metrics_num(metrics, "elapsed_s", t - t_start);
            AHA_TRY_GOTO(rc_, aha_metrics_end_row(metrics), done);
            double eta = (t - t_start) / (step + 1 - start) * (cfg->steps - step - 1);
            if (tty)
                fprintf(stderr, "\r[%s] step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  eta %.0fs   ",
                        label, step + 1, cfg->steps, loss_ema, lr, tps, eta);
            else
                AHA_INFO("step %d/%d loss %.4f lr %.2e grad_norm %.3f %.0f tok/s eta %.0fs",
                         step + 1, cfg->steps, loss_ema, lr, gnorm, tps, eta);
            t_last = t;
            tokens_since = 0;
        }
        if ((step + 1) % cfg->checkpoint_every == 0 && !last)
            AHA_TRY_GOTO(rc_, save_state(ckpt, m, opt, step + 1, (uint64_t)(step + 1) * B), done);
    }
    if (tty && cfg->steps > start) fputc('\n', stderr);
    AHA_TRY_GOTO(rc_, save_state(final_dir, m, opt, cfg->steps, (uint64_t)cfg->steps * B), done);
    AHA_INFO("%s done in %.1fs; checkpoint %s", label, aha_now_ms() * 1e-3 - t_start, final_dir);
done:
    aha_metrics_close(&metrics);
    aha_adamw_destroy(&opt);
    aha_acts_destroy(&acts);
    free(tokens);
    free(targets);
    free(lengths);
    return rc_;
}

int aha_lm_eval_loss(const aha_model_t *m, int rows, int B, aha_lm_row_fn row, void *ctx,
                     double *out) {
    if (!m || !row || !out || rows < 1 || B < 1)
        return AHA_FAIL(AHA_ERR_ARG, "lm_eval_loss: needs a model, rows >= 1 and B >= 1");
    const int T = m->cfg.max_seq_len;
    aha_acts_t *acts = NULL;
    int *tokens = malloc(sizeof(int) * (size_t)B * T);
    int *targets = malloc(sizeof(int) * (size_t)B * T);
    int *lengths = malloc(sizeof(int) * B);
    int rc_ = AHA_OK;
    double sum = 0;
    long count = 0;
    if (!tokens || !targets || !lengths) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "lm_eval_loss");
        goto done;
    }
    AHA_TRY_GOTO(rc_, aha_acts_new(m, B, T, &acts), done);
    for (int first = 0; first < rows; first += B) {
        int nb = rows - first < B ? rows - first : B, Tb = 1;
        AHA_TRY_GOTO(rc_,
                     fill_batch(row, ctx, (uint64_t)first, nb, T, tokens, targets, lengths, &Tb),
                     done);
        aha_batch_t batch = {.B = nb, .T = Tb, .tokens = tokens, .lengths = lengths};
        AHA_TRY_GOTO(rc_, aha_forward(m, acts, &batch), done);
        float loss;
        AHA_TRY_GOTO(rc_, aha_ce_loss(acts, targets, &loss), done);
        long n = 0;
        for (size_t i = 0; i < (size_t)nb * Tb; i++)
            n += targets[i] >= 0;
        sum += (double)loss * n;
        count += n;
    }
    *out = count ? sum / count : 0;
done:
    aha_acts_destroy(&acts);
    free(tokens);
    free(targets);
    free(lengths);
    return rc_;
}
