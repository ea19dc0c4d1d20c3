/* aha eval / aha sample: held-out evaluation with pass@1 (mean over k samples), pass@k, cons@k. */
#include "actor/rollout.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include "verifier/reward.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    aha_kv_t *kv;
    aha_rollout_t *roll;
    aha_rng_t *rngs;
    int **prompts;
    int *prompt_lens;
    int prompt_ids[512];
} eval_ctx_t;

static void eval_ctx_free(eval_ctx_t *c) {
    aha_kv_destroy(&c->kv);
    aha_rollout_destroy(&c->roll);
    free(c->rngs);
    free(c->prompts);
    free(c->prompt_lens);
}

static int eval_ctx_init(const aha_model_t *m, int k, int max_new, eval_ctx_t *c) {
    memset(c, 0, sizeof *c);
    int max_len = m->cfg.max_seq_len;
    (void)max_new;
    AHA_TRY(aha_kv_new(m, k, max_len, &c->kv));
    AHA_TRY(aha_rollout_new(m, k, max_len, 0, &c->roll));
    c->rngs = malloc(sizeof(aha_rng_t) * k);
    c->prompts = malloc(sizeof(int *) * k);
    c->prompt_lens = malloc(sizeof(int) * k);
    if (!c->rngs || !c->prompts || !c->prompt_lens) return AHA_FAIL(AHA_ERR_NOMEM, "eval");
    return AHA_OK;
}

/* Samples k responses to test problem i. */
static int eval_problem(const aha_model_t *m, const aha_run_config_t *rc, eval_ctx_t *c, int i,
                        int k, const aha_gen_config_t *gen, aha_task_problem_t *prob) {
    AHA_TRY(aha_run_problem(rc, AHA_SPLIT_TEST, (uint64_t)i, prob));
    char text[1024];
    int n = 0;
    AHA_TRY(aha_run_prompt(rc, prob, text, sizeof text));
    AHA_TRY(aha_tok_encode(text, c->prompt_ids, 512, &n));
    for (int b = 0; b < k; b++) {
        c->prompts[b] = c->prompt_ids;
        c->prompt_lens[b] = n;
        const uint64_t ids[] = {AHA_STREAM_EVAL_SAMPLE, (uint64_t)i, (uint64_t)b};
        aha_rng_derive(&c->rngs[b], (uint64_t)rc->seed, ids, 3);
    }
    return aha_generate(m, c->kv, (const int *const *)c->prompts, c->prompt_lens, c->rngs, gen,
                        c->roll);
}

/* One JSON line per sample (aha eval --samples FILE): the problem's index and user text, the
 * sample's index, the response text, its judgement, its length in tokens and whether it stopped at
 * max_new without <eos> (truncated). */
static int write_sample_line(FILE *f, const aha_run_config_t *rc, const aha_task_problem_t *p,
                             int i, int b, const char *resp, int correct, int fmt, int tokens,
                             int truncated) {
    char prompt[1024];
    AHA_TRY(aha_run_prompt(rc, p, prompt, sizeof prompt));
    char *q = strstr(prompt, "<|User|>"), *e = strstr(prompt, "<|Assistant|>");
    if (q && e && e > q) *e = 0, q += 8;
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "eval samples");
    cJSON_AddNumberToObject(o, "problem", i);
    cJSON_AddNumberToObject(o, "sample", b);
    cJSON_AddStringToObject(o, "prompt", q && e ? q : prompt);
    cJSON_AddStringToObject(o, "response", resp);
    cJSON_AddBoolToObject(o, "correct", correct);
    cJSON_AddBoolToObject(o, "format", fmt);
    cJSON_AddNumberToObject(o, "tokens", tokens);
    cJSON_AddBoolToObject(o, "truncated", truncated);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return AHA_FAIL(AHA_ERR_NOMEM, "eval samples");
    int rc_ = fprintf(f, "%s\n", s) < 0 ? AHA_FAIL(AHA_ERR_IO, "eval samples: cannot write") : AHA_OK;
    free(s);
    return rc_;
}

int run_eval(const aha_model_t *m, const aha_run_config_t *rc, int n, int k, double temperature,
             double top_p, int max_new, int verbose, eval_result_t *out) {
    return run_eval_samples(m, rc, n, k, temperature, top_p, max_new, verbose, NULL, out);
}

int run_eval_samples(const aha_model_t *m, const aha_run_config_t *rc, int n, int k,
                     double temperature, double top_p, int max_new, int verbose, FILE *samples,
                     eval_result_t *out) {
    eval_ctx_t c;
    int rc_ = eval_ctx_init(m, k, max_new, &c);
    if (rc_ < 0) {
        eval_ctx_free(&c);
        return rc_;
    }
    const aha_gen_config_t gen = {max_new, (float)temperature, (float)top_p};
    double sum_correct = 0, sum_format = 0, sum_both = 0, sum_len = 0, sum_lang = 0, sum_refl = 0;
    int n_pass_k = 0, n_cons = 0;
    char(*answers)[64] = malloc(sizeof *answers * (size_t)k);
    int *has = malloc(sizeof(int) * k);
    aha_reward_config_t scfg;
    aha_reward_config_default(&scfg);
    scfg.correct_requires_format = 0; /* pass@1 judges the answer; format is reported apart */
    aha_reward_config_t rw; /* the run's language (rl.language_charset) */
    if (aha_run_config_reward(rc, &rw) == AHA_OK) memcpy(scfg.charset, rw.charset, sizeof rw.charset);
    if (!answers || !has) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "eval");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        aha_task_problem_t p;
        aha_reward_problem_t rp;
        AHA_TRY_GOTO(rc_, eval_problem(m, rc, &c, i, k, &gen, &p), done);
        aha_task_by_kind(p.kind)->reward_problem(&p, &rp);
        int any = 0;
        for (int b = 0; b < k; b++) {
            char resp[4096];
            AHA_TRY_GOTO(rc_, aha_rollout_response_text(c.roll, b, resp, sizeof resp), done);
            aha_reward_breakdown_t sc;
            aha_reward_score(&scfg, &rp, resp, 0, &sc);
            int fmt = sc.format != 0, correct = sc.accuracy != 0;
            has[b] = aha_reward_first_answer(resp, answers[b], sizeof answers[b]) == 0;
            sum_format += fmt;
            sum_correct += correct;
            sum_both += fmt && correct;
            sum_len += c.roll->total_len[b] - c.roll->prompt_len[b];
            sum_lang += sc.language;
            sum_refl += aha_reward_reflection(resp);
            any |= correct;
            if (samples) {
                const int len = c.roll->total_len[b], plen = c.roll->prompt_len[b];
                const int last = c.roll->tokens[(size_t)b * c.roll->max_len + len - 1];
                AHA_TRY_GOTO(rc_,
                             write_sample_line(samples, rc, &p, i, b, resp, correct, fmt,
                                               len - plen, last != AHA_TOK_EOS),
                             done);
            }
            if (verbose && b == 0) {
                char prompt[1024];
                AHA_TRY_GOTO(rc_, aha_run_prompt(rc, &p, prompt, sizeof prompt), done);
                char *q = strstr(prompt, "<|User|>"), *e = strstr(prompt, "<|Assistant|>");
                if (q && e) *e = 0, q += 8;
                printf("%-16s %-8s %s\n", q ? q : prompt,
                       correct ? (fmt ? "correct" : "correct*") : "wrong", resp);
            }
        }
        aha_error_clear();
        n_pass_k += any;
        /* majority vote over extracted answers; ties -> first seen */
        int best = -1, best_count = 0;
        for (int b = 0; b < k; b++) {
            if (!has[b]) continue;
            int cnt = 0;
            for (int j = 0; j < k; j++)
                cnt += has[j] && !strcmp(answers[j], answers[b]);
            if (cnt > best_count) best = b, best_count = cnt;
        }
        if (best >= 0) {
            /* judge the voted answer as if it had been the response */
            char voted[96];
            aha_reward_breakdown_t sc;
            snprintf(voted, sizeof voted, "<answer>%s</answer>", answers[best]);
            aha_reward_score(&scfg, &rp, voted, 0, &sc);
            n_cons += sc.accuracy != 0;
        }
    }
    out->n = n;
    out->k = k;
    out->pass1 = sum_correct / ((double)n * k);
    out->format_rate = sum_format / ((double)n * k);
    out->correct_formatted = sum_both / ((double)n * k);
    out->pass_k = (double)n_pass_k / n;
    out->cons_k = (double)n_cons / n;
    out->response_len_mean = sum_len / ((double)n * k);
    out->language_consistency = sum_lang / ((double)n * k);
    out->reflection_rate = sum_refl / ((double)n * k);
    out->model[0] = out->setting[0] = 0;
done:
    free(answers);
    free(has);
    eval_ctx_free(&c);
    return rc_;
}

void print_eval(const eval_result_t *r, double temperature, double top_p) {
    printf("held-out: %d problems x %d samples (temperature %.2f, top-p %.2f)\n", r->n, r->k,
           temperature, top_p);
    printf("  %-28s %6.1f%%\n", "pass@1 (answer correct)", 100 * r->pass1);
    printf("  %-28s %6.1f%%\n", "correct and well-formed", 100 * r->correct_formatted);
    printf("  %-28s %6.1f%%\n", "format rate", 100 * r->format_rate);
    printf("  pass@%-23d %6.1f%%\n", r->k, 100 * r->pass_k);
    printf("  cons@%-23d %6.1f%%\n", r->k, 100 * r->cons_k);
    printf("  %-28s %6.1f\n", "mean response tokens", r->response_len_mean);
    printf("  %-28s %6.1f%%\n", "language consistency", 100 * r->language_consistency);
    printf("  %-28s %6.1f%%\n", "reflection (\"wait\")", 100 * r->reflection_rate);
}

int write_eval_json(const eval_result_t *r, double temperature, double top_p, const char *path) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "eval json");
    cJSON_AddNumberToObject(o, "n", r->n);
    cJSON_AddNumberToObject(o, "k", r->k);
    cJSON_AddNumberToObject(o, "temperature", temperature);
    cJSON_AddNumberToObject(o, "top_p", top_p);
    cJSON_AddNumberToObject(o, "pass@1", r->pass1);
    cJSON_AddNumberToObject(o, "correct_and_formatted", r->correct_formatted);
    cJSON_AddNumberToObject(o, "format_rate", r->format_rate);
    cJSON_AddNumberToObject(o, "pass@k", r->pass_k);
    cJSON_AddNumberToObject(o, "cons@k", r->cons_k);
    cJSON_AddNumberToObject(o, "response_len_mean", r->response_len_mean);
    cJSON_AddNumberToObject(o, "language_consistency", r->language_consistency);
    cJSON_AddNumberToObject(o, "reflection_rate", r->reflection_rate);
    if (r->model[0]) cJSON_AddStringToObject(o, "model", r->model);
    if (r->setting[0]) cJSON_AddStringToObject(o, "setting", r->setting);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return AHA_FAIL(AHA_ERR_NOMEM, "eval json");
    FILE *f = fopen(path, "w");
    int rc = AHA_OK;
    if (!f || fprintf(f, "%s\n", s) < 0) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot write", path);
    if (f && fclose(f) != 0 && rc == AHA_OK) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot write", path);
    free(s);
    return rc;
}

/* The options of eval and sample: n, k and max_new 0 and temperature and top_p NaN until given,
 * then check_eval_opts takes them from the config's eval section (sample: n 8, k 1). */
typedef struct {
    const char *checkpoint, *out, *model, *setting, *samples, *task;
    int n, k, max_new;
    double temperature, top_p;
} eval_opts_t;

static int check_eval_opts(const aha_run_config_t *rc, eval_opts_t *o) {
    if (!o->checkpoint) return AHA_FAIL(AHA_ERR_ARG, "--checkpoint DIR is required");
    if (o->task && !aha_task_by_name(o->task))
        return AHA_FAIL(AHA_ERR_ARG, "--task: unknown task '%s' (%s)", o->task,
                        aha_task_names(", "));
    if (!o->n) o->n = rc->eval.n;
    if (!o->k) o->k = rc->eval.k;
    if (!o->max_new) o->max_new = rc->eval.max_new_tokens;
    if (isnan(o->temperature)) o->temperature = rc->eval.temperature;
    if (isnan(o->top_p)) o->top_p = rc->eval.top_p;
    if (o->temperature < 0 || o->top_p <= 0 || o->top_p > 1)
        return AHA_FAIL(AHA_ERR_ARG, "--temperature >= 0 and 0 < --top-p <= 1");
    return AHA_OK;
}

static int eval_main(int argc, char **argv, int sample_mode) {
    eval_opts_t o = {.model = "", .setting = "", .temperature = NAN, .top_p = NAN};
    const cli_opt_t opts[] = {{"--checkpoint", .str = &o.checkpoint},
                              {"--out", .str = &o.out},
                              {"--model", .str = &o.model},
                              {"--setting", .str = &o.setting},
                              {"--task", .str = &o.task},
                              {"--n", .count = &o.n, .min = 1, .max = 100000000},
                              {"--k", .count = &o.k, .min = 1, .max = 1024},
                              {"--max-new-tokens", .count = &o.max_new, .min = 1, .max = 100000000},
                              {"--temperature", .number = &o.temperature},
                              {"--top-p", .number = &o.top_p},
                              {sample_mode ? NULL : "--samples", .str = &o.samples},
                              {0}};
    cli_common_t cli;
    int rc;
    if (!cli_begin(argc, argv, opts, &cli, &rc,
                   "usage: aha %s --checkpoint DIR [--config CONFIG] [--set key=value]... [--task "
                   "%s]\n"
                   "       [--n N] [--k K] [--temperature T] [--top-p P] [--max-new-tokens M]%s\n"
                   "defaults come from the config's eval section (temperature 0.6, top-p 0.95).\n",
                   sample_mode ? "sample" : "eval", aha_task_names("|"),
                   sample_mode ? ""
                               : " [--out FILE.json] [--model NAME --setting NAME]\n"
                                 "       [--samples FILE.jsonl]   (one line per sample: problem, "
                                 "prompt, response, correct, format, tokens, truncated)"))
        return rc;
    if (sample_mode && !o.n) o.n = 8;
    if (sample_mode) o.k = 1;
    aha_run_config_t rcfg;
    aha_model_t *m = NULL;
    if ((rc = aha_run_config_load(cli.config, cli.overrides, cli.n_overrides, &rcfg)) < 0 ||
        (rc = check_eval_opts(&rcfg, &o)) < 0 || (rc = aha_checkpoint_load(o.checkpoint, &m)) < 0)
        return cli_fail(rc);
    if (o.task) snprintf(rcfg.task.kind, sizeof rcfg.task.kind, "%s", o.task);
    eval_result_t ev;
    FILE *sf = NULL;
    if (o.samples && !(sf = fopen(o.samples, "w"))) {
        aha_model_destroy(&m);
        return cli_fail(AHA_FAIL(AHA_ERR_IO, "--samples %s: cannot open for writing", o.samples));
    }
    rc = run_eval_samples(m, &rcfg, o.n, o.k, o.temperature, o.top_p, o.max_new, sample_mode, sf,
                          &ev);
    if (sf && fclose(sf) != 0 && rc == 0)
        rc = AHA_FAIL(AHA_ERR_IO, "--samples %s: cannot write", o.samples);
    if (rc == 0) {
        snprintf(ev.model, sizeof ev.model, "%s", o.model);
        snprintf(ev.setting, sizeof ev.setting, "%s", o.setting);
        print_eval(&ev, o.temperature, o.top_p);
        if (o.out) rc = write_eval_json(&ev, o.temperature, o.top_p, o.out);
    }
    aha_model_destroy(&m);
    return cli_exit(rc);
}

int cmd_eval(int argc, char **argv) {
    return eval_main(argc, argv, 0);
}
int cmd_sample(int argc, char **argv) {
    return eval_main(argc, argv, 1);
}
