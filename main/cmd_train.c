/* aha train: R1-Zero GRPO — builds the trainer (learner/trainer.h) and the rank-0 servers
 * (main/servers.h: actors, verifiers) from the run config, then runs the steps: metrics JSONL,
 * progress line, periodic held-out eval, checkpoints. Under mpirun / srun the update is data
 * parallel over the ranks (learner/dist.h, docs/mpi.md); rank 0 alone writes the run directory,
 * starts the servers and evaluates. */
#include "actor/rollout.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "learner/dist.h"
#include "learner/run_state.h"
#include "learner/trainer.h"
#include "main/cmd.h"
#include "main/servers.h"
#include "model/checkpoint.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: aha train [CONFIG] [--set key=value]... [--resume]\n"
    "GRPO from rl.init (default RUN_DIR/pretrain/final).\n"
    "  --resume  continue bit-exactly from RUN_DIR/rl/checkpoint (model, optimizer, step, data "
    "cursor)\n\n";

/* In-process sampling for the trainer: aha_generate with the run's sampling settings (CTX). */
static int sample_group(void *ctx, const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                        const int *prompt_lens, aha_rng_t *rngs, aha_rollout_t *r) {
    return aha_generate(m, kv, prompts, prompt_lens, rngs, (const aha_gen_config_t *)ctx, r);
}

/* The trainer's settings from the run config (the caller sets the servers). */
static int trainer_config(const aha_run_config_t *rc, aha_loss_kind_t kind,
                          const aha_sandbox_config_t *sandbox, aha_gen_config_t *gen,
                          aha_trainer_config_t *tc) {
    memset(tc, 0, sizeof *tc);
    aha_grpo_config_t *gc = &tc->grpo;
    aha_loss_config_default(kind, &gc->loss);
    AHA_TRY(aha_off_policy_parse(rc->rl.off_policy, &gc->loss.off_policy));
    if (kind == AHA_LOSS_GSPO && gc->loss.off_policy != AHA_OFFPOL_CLIP)
        return AHA_FAIL(AHA_ERR_CONFIG, "rl.off_policy: gspo supports clip only (not %s)",
                        rc->rl.off_policy);
    gc->loss.is_cap = rc->rl.tis_cap;
    gc->loss.eps_low = rc->rl.eps_low;
    gc->loss.eps_high = rc->rl.eps_high;
    gc->loss.gspo_eps_low = rc->rl.gspo_eps_low;
    gc->loss.gspo_eps_high = rc->rl.gspo_eps_high;
    gc->loss.beta = rc->rl.beta;
    gc->loss.max_len = rc->rl.max_new_tokens;
    gc->epochs = rc->rl.epochs;
    gc->minibatches = rc->rl.minibatches;
    gc->r3 = rc->rl.r3;
    gc->temperature = rc->rl.temperature;
    gc->lr = rc->rl.lr;
    gc->grad_clip = rc->rl.grad_clip;
    gc->adamw =
        (aha_adamw_config_t){rc->rl.beta1, rc->rl.beta2, AHA_ADAMW_EPS, rc->rl.weight_decay};
    gc->update_expert_bias = rc->rl.update_expert_bias;
    gc->on_nonfinite = rc->rl.on_nonfinite;
    gc->expert_parallel = rc->learner.expert_parallel;
    tc->batch = (aha_group_batch_config_t){rc->rl.normalize_std, (float)rc->rl.adv_eps,
                                           rc->rl.dynamic_sampling};
    tc->steps = rc->rl.steps;
    tc->warmup_frac = rc->rl.warmup_frac;
    tc->prompts_per_step = rc->rl.prompts_per_step;
    tc->group_size = rc->rl.group_size;
    tc->max_resample_rounds = rc->rl.max_resample_rounds;
    tc->record_experts = rc->rl.r3;
    AHA_TRY(aha_run_config_train_set(rc, &tc->train));
    AHA_TRY(aha_run_config_reward(rc, &tc->reward));
    tc->sandbox = sandbox;
    tc->random_reward = rc->rl.random_reward;
    tc->lease_ms = rc->rl.lease_ms;
    tc->max_staleness = rc->rl.max_staleness;
    *gen =
        (aha_gen_config_t){rc->rl.max_new_tokens, (float)rc->rl.temperature, (float)rc->rl.top_p};
    tc->sample = sample_group;
    tc->sample_ctx = gen;
    return AHA_OK;
}

/* The held-out eval columns of a metrics row (and the result for the progress line). */
static int eval_columns(const aha_model_t *m, const aha_run_config_t *rc, aha_metrics_t *mt,
                        eval_result_t *ev) {
    AHA_TRY(run_eval(m, rc, rc->rl.eval_n, 1, rc->eval.temperature, rc->eval.top_p,
                     rc->eval.max_new_tokens, 0, ev));
    aha_metrics_num(mt, "eval_accuracy", ev->pass1);
    aha_metrics_num(mt, "eval_format_rate", ev->format_rate);
    return AHA_OK;
}

static int run_train_ranks(const aha_run_config_t *rc, int resume, const aha_dist_t *dist);
static int stop_pending(void);

/* Remote work the learner did itself: the groups of a step that no actor delivered (sampled
 * in the learner) and no verifier scored (scored in the learner), while it serves workers. */
typedef struct {
    aha_coord_stats_t c;
    aha_vpool_stats_t v;
    int warned, sampled_all, scored_all; /* steps warned about; steps with all sampled / scored */
} remote_work_t;

static void remote_work_begin(const aha_servers_t *s, remote_work_t *rw) {
    if (s->coord) aha_coord_stats(s->coord, &rw->c);
    if (s->vpool) aha_vpool_stats(s->vpool, &rw->v);
}

/* Metrics learner_sampled_all / learner_scored_all (1: every group of the step was sampled /
 * scored by the learner although it serves actors / verifiers); a loud warning (first 3 steps,
 * then every 50th), or with net.require_workers an error. */
static int remote_work_end(const aha_run_config_t *rc, const aha_servers_t *s, int step,
                           remote_work_t *rw, aha_metrics_t *mt) {
    int sampled_all = 0, scored_all = 0;
    if (s->coord) {
        aha_coord_stats_t c;
        aha_coord_stats(s->coord, &c);
        sampled_all = c.delivered == rw->c.delivered && c.missing > rw->c.missing;
        aha_metrics_num(mt, "learner_sampled_all", sampled_all);
    }
    if (s->vpool) {
        aha_vpool_stats_t v;
        aha_vpool_stats(s->vpool, &v);
        scored_all = v.remote == rw->v.remote && v.local > rw->v.local;
        aha_metrics_num(mt, "learner_scored_all", scored_all);
    }
    /* a stop signal (scancel) reaches the workers too: they leave first, as they should */
    if ((!sampled_all && !scored_all) || stop_pending()) return AHA_OK;
    rw->sampled_all += sampled_all;
    rw->scored_all += scored_all;
    char what[700];
    snprintf(what, sizeof what, "step %d: %s%s%s", step,
             sampled_all ? "no actor delivered a group, the learner sampled them all itself" : "",
             sampled_all && scored_all ? "; " : "",
             scored_all ? "no verifier scored a group, the learner scored them all itself" : "");
    if (rc->net.require_workers > 0)
        return AHA_FAIL(AHA_ERR_STATE,
                        "net.require_workers: %s (actors joined: %d, verifiers live: %d; workers "
                        "connect to %s and %s)",
                        what, s->coord ? aha_coord_actors(s->coord) : 0,
                        s->vpool ? aha_vpool_live(s->vpool) : 0, s->coord_ep[0] ? s->coord_ep : "-",
                        s->broker_ep[0] ? s->broker_ep : "-");
    if (++rw->warned <= 3 || rw->warned % 50 == 0)
        AHA_WARN("WORKERS MISSING: %s (actors joined: %d, verifiers live: %d; workers connect to "
                 "%s and %s; metrics learner_sampled_all / learner_scored_all; "
                 "net.require_workers makes this an error)",
                 what, s->coord ? aha_coord_actors(s->coord) : 0,
                 s->vpool ? aha_vpool_live(s->vpool) : 0, s->coord_ep[0] ? s->coord_ep : "-",
                 s->broker_ep[0] ? s->broker_ep : "-");
    return AHA_OK;
}

/* SIGTERM / SIGINT (scancel, a Slurm time limit via --signal, Ctrl-C) stop the run at the next
 * step boundary with a checkpoint. They are blocked from the start (every thread, MPI's and
 * ZeroMQ's included, inherits the mask, so no system call is interrupted) and looked for after
 * each step; the ranks agree with one max-allreduce, so all stop after the same step. */
static sigset_t stop_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

/* 1 if a stop signal is pending on this process (not consumed). */
static int stop_pending(void) {
    sigset_t pending;
    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT));
}

/* 1 if a stop signal arrived on any rank (consumed here) or `aha ctl RUN_DIR stop` reached the
 * coordinator (rank 0's COORD, NULL elsewhere); collective over the ranks. */
static int stop_requested(const aha_dist_t *dist, const aha_coord_t *coord, int *out) {
    sigset_t set = stop_signals();
    double stop = aha_coord_stop_asked(coord) ? 1 : 0;
    if (stop_pending()) {
        const struct timespec zero = {0, 0};
        const int sig = sigtimedwait(&set, NULL, &zero);
        AHA_WARN("%s received: stopping after this step with a checkpoint",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
        stop = 1;
    }
    AHA_TRY(aha_dist_allreduce_f64(dist, &stop, 1, 1));
    *out = stop > 0;
    return AHA_OK;
}

static int run_train(const aha_run_config_t *rc, const cli_train_opts_t *opts) {
    /* `srun -n N` without --mpi=pmix starts N independent learners on one run directory */
    const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
    if (tasks && atoi(tasks) > 1 && !aha_dist_launched())
        return AHA_FAIL(AHA_ERR_CONFIG,
                        "aha train started as %d srun tasks without an MPI launcher (no PMIx/PMI "
                        "in the environment): use srun --mpi=pmix (docs/slurm.md)",
                        atoi(tasks));
    sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    aha_dist_t *dist = NULL;
    AHA_TRY(aha_dist_init(&dist));
    if (aha_dist_active(dist))
        AHA_INFO("data-parallel learner: rank %d of %d%s", aha_dist_rank(dist), aha_dist_size(dist),
                 rc->learner.expert_parallel ? ", routed experts split over the ranks" : "");
    int rc_ = run_train_ranks(rc, opts->resume, dist);
    if (rc_ < 0 && aha_dist_active(dist)) {
        AHA_ERROR("rank %d: %s", aha_dist_rank(dist), aha_last_error());
        aha_dist_abort(dist, 1); /* the other ranks may wait in a collective */
    }
    aha_dist_finalize(&dist);
    return rc_;
}

static int run_train_ranks(const aha_run_config_t *rc, int resume, const aha_dist_t *dist) {
    const int rank0 = aha_dist_rank(dist) == 0;
    char dir[512], path[700], init[600];
    snprintf(dir, sizeof dir, "%s/rl", rc->run_dir);
    if (rc->rl.init[0])
        snprintf(init, sizeof init, "%s", rc->rl.init);
    else
        snprintf(init, sizeof init, "%s/pretrain/final", rc->run_dir);
    /* config errors are reported before anything of the run directory is touched */
    AHA_TRY(aha_run_config_check(rc));
    aha_loss_kind_t kind;
    AHA_TRY(aha_loss_kind_parse(rc->rl.loss, &kind));
    aha_sandbox_config_t sandbox;
    const int has_sandbox = aha_run_config_sandbox(rc, &sandbox);
    aha_trainer_config_t tc;
    aha_gen_config_t gen;
    AHA_TRY(trainer_config(rc, kind, has_sandbox ? &sandbox : NULL, &gen, &tc));
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (rank0) {
        AHA_TRY(aha_mkdir_p(dir));
        AHA_TRY(aha_cfg_save(rc, aha_run_config_fields, aha_run_config_n_fields, path));
    }

    aha_model_t *m = NULL;
    aha_trainer_t *t = NULL;
    aha_metrics_t *metrics = NULL;
    aha_servers_t servers;
    memset(&servers, 0, sizeof servers);
    int rc_ = AHA_OK;
    AHA_TRY_GOTO(rc_, aha_checkpoint_load(init, &m), done);
    AHA_TRY_GOTO(rc_, aha_trainer_new(&tc, &m, &t), done);
    AHA_TRY_GOTO(rc_, aha_trainer_set_dist(t, dist), done);
    /* resume: the policy, optimizer and data cursor of RUN_DIR/rl/checkpoint; the KL reference (if
     * any) stays the initial policy the trainer was built from */
    char ckpt_dir[600];
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/checkpoint", dir);
    if (resume) {
        AHA_TRY_GOTO(rc_, aha_trainer_resume(t, ckpt_dir), done);
        AHA_INFO("resuming from %s at step %d (next problem %llu)", ckpt_dir,
                 aha_trainer_steps_done(t), (unsigned long long)aha_trainer_next_prompt(t));
    }
    const int start = aha_trainer_steps_done(t);
    if (!rank0) { /* data-parallel worker: its share of every update and its checkpoint shard */
        int stop = 0;
        while (rc_ == AHA_OK && !stop && aha_trainer_steps_done(t) < rc->rl.steps) {
            rc_ = aha_trainer_step(t, NULL);
            if (rc_ == AHA_OK) rc_ = stop_requested(dist, NULL, &stop);
            const int v = aha_trainer_steps_done(t);
            if (rc_ == AHA_OK && (v % rc->rl.checkpoint_every == 0 || v == rc->rl.steps || stop)) {
                snprintf(path, sizeof path, "%s/%s", dir, v == rc->rl.steps ? "final" : "checkpoint");
                rc_ = aha_trainer_checkpoint(t, path);
            }
        }
        goto done;
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (resume) AHA_TRY_GOTO(rc_, aha_run_state_truncate_metrics(path, start), done);
    AHA_TRY_GOTO(rc_, aha_metrics_open(path, resume, &metrics), done);
    /* worker processes read the run's config.yaml: same rules, same sampling */
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    AHA_TRY_GOTO(rc_, aha_servers_start(rc, path, dir, has_sandbox ? &sandbox : NULL, &servers),
                 done);
    aha_trainer_set_servers(t, servers.coord, servers.vpool);
    aha_trainer_set_zap(t, servers.zap);
    const aha_model_t *policy = aha_trainer_model(t);

    AHA_INFO("GRPO (%s, R3 %s) from %s: %d steps x %d prompts x G=%d -> %s", rc->rl.loss,
             rc->rl.r3 ? "on" : "off", init, rc->rl.steps, rc->rl.prompts_per_step,
             rc->rl.group_size, dir);

    /* base-model eval as step 0 */
    eval_result_t ev;
    if (!resume) {
        aha_metrics_num(metrics, "step", 0);
        aha_metrics_num(metrics, "policy_version", 0);
        AHA_TRY_GOTO(rc_, eval_columns(policy, rc, metrics, &ev), done);
        AHA_INFO("step 0 held-out: accuracy %.1f%%  format %.1f%%", 100 * ev.pass1,
                 100 * ev.format_rate);
        AHA_TRY_GOTO(rc_, aha_metrics_end_row(metrics), done);
    }

    const int tty = isatty(2);
    const double t0 = now_s();
    int stop = 0;
    remote_work_t rw = {0};
    while (!stop && aha_trainer_steps_done(t) < rc->rl.steps) {
        aha_trainer_stats_t st;
        remote_work_begin(&servers, &rw);
        AHA_TRY_GOTO(rc_, aha_trainer_step(t, &st), done);
        const int version = st.version;
        AHA_TRY_GOTO(rc_, aha_trainer_metrics(t, &st, metrics), done);
        AHA_TRY_GOTO(rc_, remote_work_end(rc, &servers, version, &rw, metrics), done);
        int do_eval =
            (rc->rl.eval_every > 0 && version % rc->rl.eval_every == 0) || version == rc->rl.steps;
        if (do_eval) AHA_TRY_GOTO(rc_, eval_columns(policy, rc, metrics, &ev), done);
        AHA_TRY_GOTO(rc_, aha_metrics_end_row(metrics), done);
        double eta = (now_s() - t0) / (version - start) * (rc->rl.steps - version);
        char evs[64] = "";
        if (do_eval) snprintf(evs, sizeof evs, "  eval acc %.1f%%", 100 * ev.pass1);
        if (tty)
            fprintf(stderr,
                    "\r[grpo] step %d/%d  reward %.3f  acc %.1f%%  fmt %.1f%%  len %.1f  clip "
                    "%.3f%s  eta %.0fs   ",
                    version, rc->rl.steps, st.reward_mean, 100 * st.accuracy, 100 * st.format_rate,
                    st.response_len_mean, st.grpo.clip_frac, evs, eta);
        else
            AHA_INFO("step %d/%d reward %.3f acc %.1f%% fmt %.1f%% len %.1f kl %.4f clip %.3f%s "
                     "eta %.0fs",
                     version, rc->rl.steps, st.reward_mean, 100 * st.accuracy, 100 * st.format_rate,
                     st.response_len_mean, st.grpo.kl, st.grpo.clip_frac, evs, eta);
        if (tty && do_eval) fputc('\n', stderr);
        AHA_TRY_GOTO(rc_, stop_requested(dist, servers.coord, &stop), done);
        if (version % rc->rl.checkpoint_every == 0 || version == rc->rl.steps || stop) {
            snprintf(path, sizeof path, "%s/%s", dir,
                     version == rc->rl.steps ? "final" : "checkpoint");
            AHA_TRY_GOTO(rc_, aha_trainer_checkpoint(t, path), done);
        }
    }
    if (tty) fputc('\n', stderr);
    if (aha_trainer_steps_done(t) < rc->rl.steps)
        AHA_INFO("GRPO stopped by %s after step %d of %d (%.1fs); checkpoint %s/checkpoint, "
                 "continue with --resume",
                 aha_coord_stop_asked(servers.coord) ? "aha ctl stop" : "a signal",
                 aha_trainer_steps_done(t), rc->rl.steps, now_s() - t0, dir);
    else
        AHA_INFO("GRPO done in %.1fs; checkpoint %s/final", now_s() - t0, dir);
    if (rw.sampled_all || rw.scored_all)
        AHA_WARN("WORKERS MISSING: of %d steps the learner sampled every group of %d itself and "
                 "scored every group of %d itself (no actor / verifier took part)",
                 aha_trainer_steps_done(t) - start, rw.sampled_all, rw.scored_all);
    {
        char sum[2048];
        if (aha_trainer_summary(t, sum, sizeof sum) == AHA_OK) AHA_INFO("counters: %s", sum);
    }
done:;
    /* stopping the servers may fail to reach a gone worker: keep the error that ended the run */
    char why[4096] = "";
    if (rc_ < 0) snprintf(why, sizeof why, "%s", aha_last_error());
    aha_servers_stop(&servers);
    aha_trainer_destroy(&t);
    aha_metrics_close(&metrics);
    aha_model_destroy(&m);
    if (rc_ < 0 && strcmp(why, aha_last_error()) != 0) aha_errorf(rc_, __FILE__, __LINE__, "%s", why);
    return rc_;
}

int cmd_train(int argc, char **argv) {
    return cli_train_command(argc, argv, k_usage, 0, run_train);
}
