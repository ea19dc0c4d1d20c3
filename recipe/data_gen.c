/* recipe/data_gen.c — cold-start and rejection-sampling SFT data (see data_gen.h). */
#include "recipe/data_gen.h"
#include "core/err.h"
#include "core/log.h"
#include "model/tokenizer.h"
#include "recipe/sft_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_CAP 4096

static int open_tmp(const char *path, char *tmp, size_t cap, FILE **f) {
    if ((size_t)snprintf(tmp, cap, "%s.tmp", path) >= cap)
        return AHA_FAIL(AHA_ERR_ARG, "%s: path too long", path);
    *f = fopen(tmp, "w");
    if (!*f) return AHA_FAIL(AHA_ERR_IO, "%s: cannot write", tmp);
    return AHA_OK;
}

/* Closes F and renames TMP to PATH on success (RC >= 0); removes TMP otherwise. */
static int close_tmp(FILE *f, const char *tmp, const char *path, int rc) {
    if (fclose(f) != 0 && rc >= 0) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot write", tmp);
    if (rc >= 0 && rename(tmp, path) != 0) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot rename", tmp);
    if (rc < 0) remove(tmp);
    return rc;
}

/* Prompt and reference of problem INDEX of SPLIT into P and R. */
static int reference_pair(const aha_data_source_t *src, const aha_task_t *task, uint64_t index,
                          char *prompt, char *resp) {
    aha_task_problem_t p;
    AHA_TRY(task->problem(&src->cfg, src->seed, AHA_SPLIT_TRAIN, index, &p));
    AHA_TRY(aha_task_prompt(&src->cfg, &p, prompt, TEXT_CAP));
    return aha_task_reference(&p, resp, TEXT_CAP);
}

int aha_data_coldstart(const aha_data_source_t *src, int n, const char *path) {
    if (!src || !src->task || !path || n < 1)
        return AHA_FAIL(AHA_ERR_ARG, "coldstart: needs a task, n >= 1 and a path");
    char tmp[1100], *prompt = malloc(TEXT_CAP), *resp = malloc(TEXT_CAP);
    FILE *f = NULL;
    int rc = prompt && resp ? AHA_OK : AHA_FAIL(AHA_ERR_NOMEM, "coldstart");
    if (rc >= 0) rc = open_tmp(path, tmp, sizeof tmp, &f);
    for (int i = 0; rc >= 0 && i < n; i++) {
        rc = reference_pair(src, src->task, AHA_DATA_COLDSTART_BASE + (uint64_t)i, prompt, resp);
        if (rc >= 0) rc = aha_sft_write_pair(f, prompt, resp);
    }
    if (f) rc = close_tmp(f, tmp, path, rc);
    free(prompt);
    free(resp);
    return rc;
}

int aha_data_keep(const aha_reward_breakdown_t *b, double min_language) {
    return b && b->format == 1 && b->accuracy == 1 && b->language >= min_language;
}

int aha_data_reject(const aha_model_t *m, const aha_data_source_t *src,
                    const aha_reject_config_t *cfg, const char *path, aha_reject_stats_t *stats) {
    if (!m || !src || !src->task || !cfg || !path || cfg->prompts < 0 || cfg->k < 1 ||
        cfg->k > AHA_GROUP_MAX || cfg->nonreasoning < 0)
        return AHA_FAIL(AHA_ERR_ARG, "reject: needs a model, a task, prompts >= 0, 1 <= k <= %d",
                        AHA_GROUP_MAX);
    const int K = cfg->k, max_len = m->cfg.max_seq_len;
    aha_kv_t *kv = NULL;
    aha_rollout_t *roll = NULL;
    aha_rng_t *rngs = malloc(sizeof(aha_rng_t) * K);
    const int **prompts = malloc(sizeof(int *) * K);
    int *plens = malloc(sizeof(int) * K), *ids = malloc(sizeof(int) * max_len);
    char *prompt = malloc(TEXT_CAP), *resps = malloc((size_t)K * TEXT_CAP);
    char tmp[1100];
    FILE *f = NULL;
    aha_reject_stats_t st;
    memset(&st, 0, sizeof st);
    int rc = AHA_OK;
    if (!rngs || !prompts || !plens || !ids || !prompt || !resps) {
        rc = AHA_FAIL(AHA_ERR_NOMEM, "reject");
        goto done;
    }
    AHA_TRY_GOTO(rc, aha_kv_new(m, K, max_len, &kv), done);
    AHA_TRY_GOTO(rc, aha_rollout_new(m, K, max_len, 0, &roll), done);
    AHA_TRY_GOTO(rc, open_tmp(path, tmp, sizeof tmp, &f), done);
    for (int i = 0; i < cfg->prompts; i++) {
        const uint64_t index = AHA_DATA_REJECT_BASE + (uint64_t)i;
        aha_task_problem_t p;
        aha_reward_problem_t rp;
        int n = 0;
        AHA_TRY_GOTO(rc, src->task->problem(&src->cfg, src->seed, AHA_SPLIT_TRAIN, index, &p),
                     done);
        AHA_TRY_GOTO(rc, aha_task_prompt(&src->cfg, &p, prompt, TEXT_CAP), done);
        AHA_TRY_GOTO(rc, aha_tok_encode(prompt, ids, max_len - 1, &n), done);
        aha_task_by_kind(p.kind)->reward_problem(&p, &rp);
        for (int b = 0; b < K; b++) {
            prompts[b] = ids;
            plens[b] = n;
            const uint64_t sid[] = {AHA_STREAM_REJECT_SAMPLE, index, (uint64_t)b};
            aha_rng_derive(&rngs[b], src->seed, sid, 3);
        }
        AHA_TRY_GOTO(rc, aha_generate(m, kv, prompts, plens, rngs, &cfg->gen, roll), done);
        int kept_here = 0;
        for (int b = 0; b < K; b++) {
            char *r = resps + (size_t)b * TEXT_CAP;
            r[0] = 0;
            st.samples++;
            if (aha_rollout_response_text(roll, b, r, TEXT_CAP) < 0) {
                aha_error_clear();
                st.malformed++;
                continue;
            }
            aha_reward_breakdown_t sc;
            aha_reward_score(&cfg->reward, &rp, r, roll->total_len[b] - roll->prompt_len[b], &sc);
            if (!aha_data_keep(&sc, cfg->min_language)) {
                if (!sc.format)
                    st.malformed++;
                else if (!sc.accuracy)
                    st.wrong++;
                else
                    st.mixed_language++;
                r[0] = 0;
                continue;
            }
            int dup = 0;
            for (int j = 0; j < b && !dup; j++)
                dup = !strcmp(resps + (size_t)j * TEXT_CAP, r);
            if (dup) {
                st.duplicates++;
                continue;
            }
            AHA_TRY_GOTO(rc, aha_sft_write_pair(f, prompt, r), done);
            st.kept++;
            kept_here = 1;
        }
        st.prompts_with_kept += kept_here;
    }
    /* non-reasoning data: the compare task's references, on the run's digit range */
    const aha_task_t *cmp = aha_task_by_kind(AHA_TASK_COMPARE);
    char *resp = resps; /* reuse */
    for (int i = 0; i < cfg->nonreasoning; i++) {
        AHA_TRY_GOTO(rc, reference_pair(src, cmp, AHA_DATA_NONREASONING_BASE + (uint64_t)i, prompt, resp),
                     done);
        AHA_TRY_GOTO(rc, aha_sft_write_pair(f, prompt, resp), done);
        st.nonreasoning++;
    }
done:
    if (f) rc = close_tmp(f, tmp, path, rc);
    aha_kv_destroy(&kv);
    aha_rollout_destroy(&roll);
    free(rngs);
    free(prompts);
    free(plens);
    free(ids);
    free(prompt);
    free(resps);
    if (rc >= 0 && stats) *stats = st;
    return rc;
}
