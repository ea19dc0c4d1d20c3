/* aha train: single-process R1-Zero GRPO on the addition task — sample groups, score them with the
 * rule rewards, update the policy; metrics JSONL, progress line, periodic held-out eval,
 * checkpoints. */
#include "actor/rollout.h"
#include "core/buf.h"
#include <cjson/cJSON.h>
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "learner/group_batch.h"
#include "learner/grpo.h"
#include "main/cmd.h"
#include "main/run_state.h"
#include "main/verifier_pool.h"
#include "main/coordinator.h"
#include "actor/group_msg.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include "verifier/reward.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WAVE_MAX = 1024 }; /* prompts leased to the actors at once */

/* Everything the loop needs, freed in one place. */
typedef struct {
    aha_model_t *m;
    aha_grpo_t *trainer;
    aha_kv_t *kv;
    aha_rollout_t *roll; /* one group */
    aha_metrics_t *metrics;
    aha_group_batch_t *batch;
    int max_len;
    aha_rng_t *rngs;
    int **prompts;
    int *prompt_lens;
    aha_vpool_t *vpool; /* rl.verifiers > 0 */
    aha_coord_t *coord; /* rl.actors > 0 */
} train_t;

static void train_free(train_t *t) {
    aha_coord_destroy(&t->coord);
    aha_vpool_destroy(&t->vpool);
    aha_grpo_destroy(&t->trainer);
    aha_kv_destroy(&t->kv);
    aha_rollout_destroy(&t->roll);
    aha_metrics_close(&t->metrics);
    aha_model_destroy(&t->m);
    aha_group_batch_destroy(&t->batch);
    free(t->rngs);
    free(t->prompts);
    free(t->prompt_lens);
}

/* RUN_DIR/rl/endpoints.json: where workers started elsewhere connect ({"coordinator": ...,
 * "broker": ...}); a wildcard bind address is replaced by this host's name. */
static int write_endpoints(const char *dir, const train_t *t) {
    char host[256] = "localhost", coord[300] = "", broker[300] = "", path[700];
    gethostname(host, sizeof host - 1);
    char *eps[2] = {coord, broker};
    if (t->coord) AHA_TRY(aha_coord_endpoint(t->coord, coord, sizeof coord));
    if (t->vpool) AHA_TRY(aha_vpool_endpoint(t->vpool, broker, sizeof broker));
    for (int i = 0; i < 2; i++) {
        char *star = strstr(eps[i], "//0.0.0.0:");
        if (!star) star = strstr(eps[i], "//*:");
        if (star) {
            char port[32];
            snprintf(port, sizeof port, "%s", strrchr(eps[i], ':'));
            snprintf(eps[i], sizeof coord, "tcp://%s%s", host, port);
        }
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    cJSON_AddStringToObject(o, "coordinator", coord);
    cJSON_AddStringToObject(o, "broker", broker);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    const void *parts[] = {text};
    const size_t lens[] = {strlen(text)};
    int rc = aha_write_file_atomic(path, parts, lens, 1);
    free(text);
    if (rc == AHA_OK)
        AHA_INFO("workers connect to %s (coordinator) and %s (broker), see %s",
                 coord[0] ? coord : "-", broker[0] ? broker : "-", path);
    return rc;
}

static int run_train(const aha_run_config_t *rc, unsigned flags) {
    const int resume = flags & 1;
    char dir[512], path[700], init[600];
    snprintf(dir, sizeof dir, "%s/rl", rc->run_dir);
    if (rc->rl.init[0])
        snprintf(init, sizeof init, "%s", rc->rl.init);
    else
        snprintf(init, sizeof init, "%s/pretrain/final", rc->run_dir);
    /* config errors are reported before anything of the run directory is touched */
    AHA_TRY(aha_run_config_check(rc));
    aha_reward_config_t rcfg;
    AHA_TRY(aha_run_config_reward(rc, &rcfg));
    aha_loss_kind_t kind;
    AHA_TRY(aha_loss_kind_parse(rc->rl.loss, &kind));
    AHA_TRY(aha_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    AHA_TRY(aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path));

    train_t t;
    memset(&t, 0, sizeof t);
    int rc_ = AHA_OK;
    aha_grpo_config_t gc;
    memset(&gc, 0, sizeof gc);
    aha_loss_config_default(kind, &gc.loss);
    gc.loss.eps_low = rc->rl.eps_low;
    gc.loss.eps_high = rc->rl.eps_high;
    gc.loss.gspo_eps_low = rc->rl.gspo_eps_low;
    gc.loss.gspo_eps_high = rc->rl.gspo_eps_high;
    gc.loss.beta = rc->rl.beta;
    gc.loss.max_len = rc->rl.max_new_tokens;
    gc.epochs = rc->rl.epochs;
    gc.minibatches = rc->rl.minibatches;
    gc.r3 = rc->rl.r3;
    gc.temperature = rc->rl.temperature;
    gc.lr = rc->rl.lr;
    gc.grad_clip = rc->rl.grad_clip;
    gc.adamw = (aha_adamw_config_t){rc->rl.beta1, rc->rl.beta2, AHA_ADAMW_EPS, rc->rl.weight_decay};
    gc.update_expert_bias = rc->rl.update_expert_bias;

    AHA_TRY_GOTO(rc_, aha_checkpoint_load(init, &t.m), done);
    const int G = rc->rl.group_size, P = rc->rl.prompts_per_step;
    t.max_len = t.m->cfg.max_seq_len;
    const int L = t.m->cfg.n_layers, K = t.m->cfg.n_routed_experts > 0 ? t.m->cfg.top_k : 0;
    t.rngs = malloc(sizeof(aha_rng_t) * G);
    t.prompts = malloc(sizeof(int *) * G);
    t.prompt_lens = malloc(sizeof(int) * G);
    if (!t.rngs || !t.prompts || !t.prompt_lens) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "train buffers");
        goto done;
    }
    const aha_group_batch_config_t bc = {rc->rl.normalize_std, (float)rc->rl.adv_eps,
                                         rc->rl.dynamic_sampling};
    AHA_TRY_GOTO(rc_, aha_group_batch_new(P, G, t.max_len, L, K, rc->rl.r3 && K > 0, &bc, &t.batch),
                 done);
    AHA_TRY_GOTO(rc_, aha_kv_new(t.m, G, t.max_len, &t.kv), done);
    AHA_TRY_GOTO(rc_, aha_rollout_new(t.m, G, t.max_len, rc->rl.r3, &t.roll), done);
    AHA_TRY_GOTO(rc_, aha_grpo_new(t.m, &gc, G * P, t.max_len, &t.trainer), done);
    /* resume: the policy, optimizer and data cursor of RUN_DIR/rl/checkpoint; the KL reference (if
     * any) stays the initial policy the trainer was built from */
    int start = 0;
    uint64_t next_prompt = 0; /* train problems are consumed in order: prompt id = index */
    char ckpt_dir[600];
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoint", dir);
    if (resume) {
        AHA_TRY_GOTO(
            rc_,
            aha_run_state_load(ckpt_dir, t.m, aha_grpo_optimizer(t.trainer), &start, &next_prompt),
            done);
        AHA_INFO("resuming from %s at step %d (next problem %llu)", ckpt_dir, start,
                 (unsigned long long)next_prompt);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (resume) AHA_TRY_GOTO(rc_, aha_run_state_truncate_metrics(path, start), done);
    AHA_TRY_GOTO(rc_, aha_metrics_open(path, resume, &t.metrics), done);
    /* worker processes read the run's config.yaml: same rules, same sampling */
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (rc->rl.verifiers > 0 || rc->net.serve)
        AHA_TRY_GOTO(rc_, aha_vpool_new(rc, path, rc->rl.verifiers, &t.vpool), done);
    if (rc->rl.actors > 0 || rc->net.serve)
        AHA_TRY_GOTO(rc_, aha_coord_new(rc, path, rc->rl.actors, &t.coord), done);
    if (t.vpool || t.coord) AHA_TRY_GOTO(rc_, write_endpoints(dir, &t), done);

    AHA_INFO("GRPO (%s, R3 %s) from %s: %d steps x %d prompts x G=%d -> %s", rc->rl.loss,
             rc->rl.r3 ? "on" : "off", init, rc->rl.steps, P, G, dir);

    /* base-model eval as step 0 */
    eval_result_t ev;
    if (!resume) {
        AHA_TRY_GOTO(rc_,
                     run_eval(t.m, rc, rc->rl.eval_n, 1, rc->eval.temperature, rc->eval.top_p,
                              rc->eval.max_new_tokens, 0, &ev),
                     done);
        AHA_INFO("step 0 held-out: accuracy %.1f%%  format %.1f%%", 100 * ev.pass1,
                 100 * ev.format_rate);
        aha_metrics_num(t.metrics, "step", 0);
        aha_metrics_num(t.metrics, "policy_version", 0);
        aha_metrics_num(t.metrics, "eval_accuracy", ev.pass1);
        aha_metrics_num(t.metrics, "eval_format_rate", ev.format_rate);
        AHA_TRY_GOTO(rc_, aha_metrics_end_row(t.metrics), done);
    }

    const int tty = isatty(2);
    const double t0 = now_s();
    const int warmup = (int)(rc->rl.warmup_frac * rc->rl.steps);
    for (int step = start; step < rc->rl.steps; step++) {
        aha_grpo_set_lr(t.trainer,
                        warmup > 0 && step < warmup ? rc->rl.lr * (step + 1) / warmup : rc->rl.lr);
        double ts = now_s(), t_sample = 0, t_train = 0;
        aha_group_batch_reset(t.batch);
        double sum_reward = 0, sum_acc = 0, sum_fmt = 0, sum_len = 0, sum_lang = 0, sum_over = 0;
        int n_scored = 0;
        const int round_limit = P + (rc->rl.dynamic_sampling ? rc->rl.max_resample_rounds * P : 0);
        if (t.coord) AHA_TRY_GOTO(rc_, aha_coord_publish(t.coord, t.m, (uint64_t)step), done);
        for (int round = 0; !aha_group_batch_full(t.batch) && round < round_limit;) {
            /* a wave of prompts, in order: sampled by the actors (if any) all at once, consumed
             * one by one until the batch is full exactly as in-process sampling would */
            int wave = 1;
            if (t.coord) {
                wave = P - aha_group_batch_groups(t.batch);
                if (wave > round_limit - round) wave = round_limit - round;
                if (wave < 1) wave = 1;
                if (wave > WAVE_MAX) wave = WAVE_MAX;
            }
            uint64_t wave_pids[WAVE_MAX];
            Aha__Envelope *wave_groups[WAVE_MAX] = {NULL};
            for (int i = 0; i < wave; i++)
                wave_pids[i] = next_prompt + (uint64_t)i;
            if (t.coord) {
                double a = now_s();
                rc_ = aha_coord_collect(t.coord, wave_pids, wave, rc->rl.lease_ms,
                                        4 * rc->rl.lease_ms, wave_groups);
                t_sample += now_s() - a;
                if (rc_ != AHA_OK) goto wave_done;
            }
            for (int wi = 0; wi < wave; wi++) {
                if (aha_group_batch_full(t.batch) || round >= round_limit) break;
                round++;
                const uint64_t pid = wave_pids[wi];
                next_prompt = pid + 1;
                aha_reward_problem_t rp;
                int ids[512], n = 0;
                AHA_TRY_GOTO(rc_, aha_train_group_setup(rc, pid, ids, 512, &n, &rp, t.rngs, G),
                             wave_done);
                for (int g = 0; g < G; g++) {
                    t.prompts[g] = ids;
                    t.prompt_lens[g] = n;
                }
                if (wave_groups[wi]) {
                    AHA_TRY_GOTO(rc_, aha_group_msg_to_rollout(wave_groups[wi]->group, t.roll),
                                 wave_done);
                } else {
                    const aha_gen_config_t gen = {rc->rl.max_new_tokens, (float)rc->rl.temperature,
                                                  (float)rc->rl.top_p};
                    double a = now_s();
                    AHA_TRY_GOTO(rc_,
                                 aha_generate(t.m, t.kv, (const int *const *)t.prompts,
                                              t.prompt_lens, t.rngs, &gen, t.roll),
                                 wave_done);
                    t_sample += now_s() - a;
                }
                float r[AHA_GROUP_MAX]; /* G <= AHA_GROUP_MAX: aha_run_config_check */
                aha_reward_breakdown_t scores[AHA_GROUP_MAX];
                if (t.vpool) {
                    AHA_TRY_GOTO(
                        rc_,
                        aha_vpool_score(t.vpool, &rcfg, t.roll, &rp, pid, (uint64_t)step, scores),
                        wave_done);
                } else {
                    AHA_TRY_GOTO(rc_, aha_score_local(rc, &rcfg, t.roll, &rp, pid, scores),
                                 wave_done);
                }
                for (int g = 0; g < G; g++) {
                    aha_reward_breakdown_t s = scores[g];
                    if (rc->rl.random_reward) {
                        aha_rng_t coin;
                        const uint64_t cid[] = {AHA_STREAM_REWARD_COIN, pid, (uint64_t)g};
                        aha_rng_derive(&coin, (uint64_t)rc->seed, cid, 3);
                        s.total = aha_rng_uniform(&coin) < 0.5f ? 1.0 : 0.0;
                    }
                    r[g] = (float)s.total;
                    sum_reward += s.total;
                    sum_acc += s.accuracy;
                    sum_fmt += s.format;
                    sum_lang += s.language;
                    sum_over += s.overlong;
                    sum_len += t.roll->total_len[g] - t.roll->prompt_len[g];
                    n_scored++;
                }
                AHA_TRY_GOTO(rc_, aha_group_batch_add(t.batch, t.roll, r), wave_done);
                rc_ = AHA_OK; /* 1 = kept, 0 = dropped */
            }
        wave_done:
            for (int i = 0; i < wave; i++)
                aha_wire_free(&wave_groups[i]);
            if (rc_ < 0) goto done;
        }
        aha_grpo_stats_t gs;
        memset(&gs, 0, sizeof gs);
        aha_rl_batch_t batch;
        aha_group_batch_view(t.batch, &batch);
        int n_tokens = 0;
        for (int i = 0; i < batch.n_seq; i++)
            n_tokens += batch.total_len[i];
        if (batch.n_seq > 0) {
            double a = now_s();
            AHA_TRY_GOTO(rc_, aha_grpo_step(t.trainer, &batch, &gs), done);
            t_train = now_s() - a;
        }
        double dt = now_s() - ts;
        int version = step + 1;
        aha_metrics_num(t.metrics, "step", version);
        aha_metrics_num(t.metrics, "policy_version", version);
        aha_metrics_num(t.metrics, "reward_mean", sum_reward / n_scored);
        aha_metrics_num(t.metrics, "accuracy", sum_acc / n_scored);
        aha_metrics_num(t.metrics, "format_rate", sum_fmt / n_scored);
        aha_metrics_num(t.metrics, "response_len_mean", sum_len / n_scored);
        aha_metrics_num(t.metrics, "reward_format", sum_fmt / n_scored);
        aha_metrics_num(t.metrics, "reward_accuracy", sum_acc / n_scored);
        aha_metrics_num(t.metrics, "reward_language", sum_lang / n_scored);
        aha_metrics_num(t.metrics, "reward_overlong", sum_over / n_scored);
        aha_metrics_num(t.metrics, "kl", gs.kl);
        aha_metrics_num(t.metrics, "entropy", gs.entropy);
        aha_metrics_num(t.metrics, "clip_frac", gs.clip_frac);
        aha_metrics_num(t.metrics, "zero_std_frac",
                        (double)aha_group_batch_zero_std(t.batch) / aha_group_batch_seen(t.batch));
        aha_metrics_num(t.metrics, "staleness_mean", 0);
        aha_metrics_num(t.metrics, "tokens_per_s", n_tokens / dt);
        aha_metrics_num(t.metrics, "learner_busy_frac", t_train / dt);
        aha_metrics_num(t.metrics, "loss", gs.loss);
        aha_metrics_num(t.metrics, "grad_norm", gs.grad_norm);
        aha_metrics_num(t.metrics, "ratio_mean", gs.ratio_mean);
        aha_metrics_num(t.metrics, "ppo_kl", gs.approx_kl);
        aha_metrics_num(t.metrics, "logp_mismatch_max", gs.logp_diff_max);
        aha_metrics_num(t.metrics, "groups_used", aha_group_batch_groups(t.batch));
        aha_metrics_num(t.metrics, "sample_s", t_sample);
        if (t.vpool) {
            aha_vpool_stats_t vs;
            aha_vpool_stats(t.vpool, &vs);
            aha_metrics_num(t.metrics, "verifier_groups_remote", (double)vs.remote);
            aha_metrics_num(t.metrics, "verifier_groups_local", (double)vs.local);
            aha_metrics_num(t.metrics, "verifier_lost", (double)vs.lost);
            aha_metrics_num(t.metrics, "verifiers_live", vs.live);
        }
        if (t.coord) {
            aha_coord_stats_t cs;
            aha_coord_stats(t.coord, &cs);
            aha_metrics_num(t.metrics, "actor_groups", (double)cs.delivered);
            aha_metrics_num(t.metrics, "actor_groups_missing", (double)cs.missing);
            aha_metrics_num(t.metrics, "actor_leases_reissued", (double)cs.reissued);
            aha_metrics_num(t.metrics, "actors", cs.actors);
        }
        aha_metrics_num(t.metrics, "train_s", t_train);
        if (K > 0 && batch.n_seq > 0) {
            /* routed load of the last update: max share of one expert, worst MoE layer */
            const float *load = aha_grpo_expert_load(t.trainer);
            const int E = t.m->cfg.n_routed_experts;
            double worst = 0;
            for (int l = 0; l < L; l++) {
                if (!aha_model_layer_is_moe(&t.m->cfg, l)) continue;
                double mx = 0, sum = 0;
                for (int e = 0; e < E; e++)
                    mx = fmax(mx, load[l * E + e]), sum += load[l * E + e];
                if (sum > 0) worst = fmax(worst, mx / sum);
                for (int e = 0; e < E && sum > 0; e++) { /* share of routed tokens per expert */
                    char key[48];
                    snprintf(key, sizeof key, "expert_load_l%d_e%d", l, e);
                    aha_metrics_num(t.metrics, key, load[l * E + e] / sum);
                }
            }
            aha_metrics_num(t.metrics, "expert_load_max_share", worst);
        }
        int do_eval =
            (rc->rl.eval_every > 0 && version % rc->rl.eval_every == 0) || version == rc->rl.steps;
        if (do_eval) {
            AHA_TRY_GOTO(rc_,
                         run_eval(t.m, rc, rc->rl.eval_n, 1, rc->eval.temperature, rc->eval.top_p,
                                  rc->eval.max_new_tokens, 0, &ev),
                         done);
            aha_metrics_num(t.metrics, "eval_accuracy", ev.pass1);
            aha_metrics_num(t.metrics, "eval_format_rate", ev.format_rate);
        }
        AHA_TRY_GOTO(rc_, aha_metrics_end_row(t.metrics), done);
        double eta = (now_s() - t0) / (version - start) * (rc->rl.steps - version);
        char evs[64] = "";
        if (do_eval) snprintf(evs, sizeof evs, "  eval acc %.1f%%", 100 * ev.pass1);
        if (tty)
            fprintf(stderr,
                    "\r[grpo] step %d/%d  reward %.3f  acc %.1f%%  fmt %.1f%%  len %.1f  clip "
                    "%.3f%s  eta %.0fs   ",
                    version, rc->rl.steps, sum_reward / n_scored, 100 * sum_acc / n_scored,
                    100 * sum_fmt / n_scored, sum_len / n_scored, gs.clip_frac, evs, eta);
        else
            AHA_INFO("step %d/%d reward %.3f acc %.1f%% fmt %.1f%% len %.1f kl %.4f clip %.3f%s "
                     "eta %.0fs",
                     version, rc->rl.steps, sum_reward / n_scored, 100 * sum_acc / n_scored,
                     100 * sum_fmt / n_scored, sum_len / n_scored, gs.kl, gs.clip_frac, evs, eta);
        if (tty && do_eval) fputc('\n', stderr);
        if (version % rc->rl.checkpoint_every == 0 || version == rc->rl.steps) {
            snprintf(path, sizeof path, "%s/%s", dir,
                     version == rc->rl.steps ? "final" : "checkpoint");
            AHA_TRY_GOTO(
                rc_,
                aha_run_state_save(path, t.m, aha_grpo_optimizer(t.trainer), version, next_prompt),
                done);
        }
    }
    if (tty) fputc('\n', stderr);
    AHA_INFO("GRPO done in %.1fs; checkpoint %s/final", now_s() - t0, dir);
done:
    train_free(&t);
    return rc_;
}

int cmd_train(int argc, char **argv) {
    return cli_config_command(
        argc, argv,
        "usage: aha train [CONFIG] [--set key=value]... [--resume]\n"
        "GRPO from rl.init (default RUN_DIR/pretrain/final).\n"
        "  --resume  continue bit-exactly from RUN_DIR/rl/checkpoint (model, optimizer, step, "
        "data cursor)\n\n",
        (const char *const[]){"--resume", NULL}, run_train);
}
