/* data_gen: cold-start data (readable, correct, in the target language, the exact trace) and
 * rejection sampling (keeps only correct and readable samples, each once, plus non-reasoning
 * pairs) from a small model fine-tuned to answer in every way. */
#include "model/model.h"
#include "core/testutil.h"
#include "core/err.h"
#include "model/tokenizer.h"
#include "recipe/data_gen.h"
#include "recipe/lm_train.h"
#include "recipe/sft_data.h"
#include "tasks/trace_check.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void source(aha_data_source_t *src, const char *task, int min_d, int max_d) {
    memset(src, 0, sizeof *src);
    REQUIRE_OK(aha_task_lookup(task, &src->task));
    src->cfg.add = (aha_add_config_t){min_d, max_d, 0.1};
    aha_corpus_config_default(&src->cfg.corpus);
    src->cfg.mix_compare = 0.25;
    src->seed = 5;
}

/* Calls FN(prompt, response, ctx) for every line of PATH; returns the line count. */
static int each_pair(const char *path, void (*fn)(const char *, const char *, void *), void *ctx) {
    FILE *f = fopen(path, "r");
    REQUIRE(f, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        REQUIRE(o, "line %d is JSON", n + 1);
        fn(cJSON_GetObjectItem(o, "prompt")->valuestring,
           cJSON_GetObjectItem(o, "response")->valuestring, ctx);
        cJSON_Delete(o);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

/* Independent judge: the response of "<bos><|User|>A+B<|Assistant|>" is well-formed, its answer
 * is A+B and its think text is only digits, + = ; and "wait". */
typedef struct {
    int n, ok, exact, compare, compare_ok;
} judge_t;

static void judge(const char *prompt, const char *resp, void *ctx) {
    judge_t *j = ctx;
    j->n++;
    long long a, b, v;
    if (sscanf(prompt, "<bos><|User|>max(%lld,%lld)<|Assistant|>", &a, &b) == 2) {
        char want[96];
        snprintf(want, sizeof want, "<think></think><answer>%lld</answer><eos>", a > b ? a : b);
        j->compare++;
        j->compare_ok += !strcmp(resp, want);
        return;
    }
    if (sscanf(prompt, "<bos><|User|>%lld+%lld<|Assistant|>", &a, &b) != 2) return;
    const char *te = strstr(resp, "</think><answer>");
    if (strncmp(resp, "<think>", 7) || !te) return;
    if (sscanf(te, "</think><answer>%lld</answer>", &v) != 1 || v != a + b) return;
    const char *end = strstr(te, "</answer>");
    if (strcmp(end, "</answer><eos>") && strcmp(end, "</answer>")) return;
    for (const char *q = resp + 7; q < te; q++)
        if (!strchr("0123456789+=;", *q) && strncmp(q, "wait", 4) && strncmp(q - 1, "wait", 4) &&
            strncmp(q - 2, "wait", 4) && strncmp(q - 3, "wait", 4))
            return;
    /* the think text is exactly the correct carry trace (no summary step after it) */
    const aha_add_problem_t p = {a, b};
    tc_result_t res;
    j->exact += tc_check(&p, resp + 7, te, &res) == 0 && res.errors == 0 && res.value == a + b;
    j->ok++;
}

static void test_coldstart(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/coldstart.jsonl", tu_tmp_dir());
    aha_data_source_t src;
    source(&src, "addition", 3, 5);
    REQUIRE_OK(aha_data_coldstart(&src, 300, path));
    judge_t j = {0};
    each_pair(path, judge, &j);
    CHECK(j.n == 300 && j.ok == 300 && j.exact == 300,
          "300 pairs, all correct, in the target language, the trace exact (%d, %d, %d)", j.n,
          j.ok, j.exact);
    /* they are not RL prompts (train problems 0, 1, ...) and never test problems */
    aha_task_problem_t p0;
    REQUIRE_OK(src.task->problem(&src.cfg, src.seed, AHA_SPLIT_TRAIN, 0, &p0));
    char want[128];
    snprintf(want, sizeof want, "%lld+%lld<", (long long)p0.add.a, (long long)p0.add.b);
    FILE *f = fopen(path, "r");
    char line[2048];
    int hit = 0;
    while (f && fgets(line, sizeof line, f))
        hit |= strstr(line, want) != NULL;
    if (f) fclose(f);
    CHECK(!hit, "the first RL prompt is not in the cold-start data");
    aha_sft_data_t *d = NULL;
    REQUIRE_OK(aha_sft_data_load(path, 128, 1, &d)); /* loads for aha sft */
    CHECK(aha_sft_data_count(d) == 300, "aha sft reads it");
    aha_sft_data_destroy(&d);
    CHECK(aha_data_coldstart(&src, 0, path) == AHA_ERR_ARG, "n = 0 refused");
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.jsonl", tu_tmp_dir());
    CHECK(aha_data_coldstart(&src, 3, bad) == AHA_ERR_IO && strstr(aha_last_error(), "no/such"),
          "an unwritable path is named");
}

static void test_keep_rule(void) {
    aha_reward_breakdown_t good = {1, 1, 1, 0, 1}, wrong = {1, 0, 1, 0, 0.1},
                           bad = {0, 1, 1, 0, 0.9}, mixed = {1, 1, 0.6, 0, 1};
    CHECK(aha_data_keep(&good, 1) && !aha_data_keep(&wrong, 1) && !aha_data_keep(&bad, 1) &&
              !aha_data_keep(&mixed, 1) && aha_data_keep(&mixed, 0.5) && !aha_data_keep(NULL, 0),
          "keep = well-formed, correct and consistent enough");
}

/* SFT pairs that answer 1-digit sums in every way: correct in the target language, correct in
 * the second language, wrong, malformed. */
static void write_varied(const char *path) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    for (int i = 0; i < 400; i++) {
        int a = i % 10, b = (i / 10) % 10, s = a + b;
        char prompt[64], resp[128], t1[32], t2[32];
        snprintf(prompt, sizeof prompt, "<bos><|User|>%d+%d<|Assistant|>", a, b);
        snprintf(t1, sizeof t1, "%d+%d=%02d;", a, b, s);
        snprintf(t2, sizeof t2, "%c&%c:%c%c|", 'A' + a, 'A' + b, 'A' + s / 10, 'A' + s % 10);
        switch (i % 4) {
        case 0: snprintf(resp, sizeof resp, "<think>%s</think><answer>%d</answer><eos>", t1, s); break;
        case 1: snprintf(resp, sizeof resp, "<think>%s</think><answer>%d</answer><eos>", t2, s); break;
        case 2: snprintf(resp, sizeof resp, "<think>%s</think><answer>%d</answer><eos>", t1, s + 1); break;
        default: snprintf(resp, sizeof resp, "<answer>%d</answer><eos>", s); break;
        }
        REQUIRE_OK(aha_sft_write_pair(f, prompt, resp));
    }
    fclose(f);
}

static void test_reject(void) {
    char data[512], dir[512], out[512];
    snprintf(data, sizeof data, "%s/varied.jsonl", tu_tmp_dir());
    snprintf(dir, sizeof dir, "%s/sft", tu_tmp_dir());
    snprintf(out, sizeof out, "%s/rejected.jsonl", tu_tmp_dir());
    write_varied(data);
    aha_model_config_t mc;
    tu_small_config(&mc);
    mc.vocab_size = AHA_TOK_VOCAB;
    aha_model_t *m = tu_random_model(&mc, 3);
    aha_sft_data_t *d = NULL;
    REQUIRE_OK(aha_sft_data_load(data, mc.max_seq_len, 1, &d));
    aha_lm_train_t tc;
    aha_lm_train_default(&tc);
    tc.label = "sft";
    tc.steps = 300;
    tc.batch_size = 32;
    tc.warmup = 5;
    tc.log_every = 50;
    tc.checkpoint_every = 1000;
    tc.lr = 3e-3;
    tc.min_lr = 3e-4;
    REQUIRE_OK(aha_lm_train(m, &tc, dir, aha_sft_data_row, d));
    aha_sft_data_destroy(&d);

    aha_data_source_t src;
    source(&src, "addition", 1, 1);
    aha_reject_config_t rj;
    memset(&rj, 0, sizeof rj);
    rj.prompts = 40;
    rj.k = 8;
    rj.gen = (aha_gen_config_t){24, 1.0f, 1.0f};
    rj.min_language = 1;
    rj.nonreasoning = 10;
    aha_reward_config_default(&rj.reward);
    REQUIRE_OK(aha_reward_charset("digits+ops+[wait]", rj.reward.charset, sizeof rj.reward.charset));
    aha_reject_stats_t st;
    REQUIRE_OK(aha_data_reject(m, &src, &rj, out, &st));
    printf("  %ld samples: kept %ld, duplicates %ld, wrong %ld, malformed %ld, mixed %ld\n",
           st.samples, st.kept, st.duplicates, st.wrong, st.malformed, st.mixed_language);
    CHECK(st.samples == 320, "40 prompts x 8 samples");
    CHECK(st.kept + st.duplicates + st.wrong + st.malformed + st.mixed_language == st.samples,
          "every sample counted once");
    CHECK(st.kept > 0 && st.wrong > 0 && st.malformed > 0 && st.mixed_language > 0,
          "the model answers in every way, and each kind is rejected");
    judge_t j = {0};
    int lines = each_pair(out, judge, &j);
    CHECK(lines == st.kept + st.nonreasoning, "file: %d lines, kept %ld + %ld", lines, st.kept,
          st.nonreasoning);
    CHECK(j.ok == st.kept, "every kept sample is correct, well-formed and in the target "
                           "language (%d of %ld by an independent judge)", j.ok, st.kept);
    CHECK(j.compare == 10 && j.compare_ok == 10, "10 non-reasoning pairs with their references");
    /* same seed, same file */
    char out2[600];
    snprintf(out2, sizeof out2, "%s/rejected2.jsonl", tu_tmp_dir());
    aha_reject_stats_t st2;
    REQUIRE_OK(aha_data_reject(m, &src, &rj, out2, &st2));
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", out, out2);
    CHECK(system(cmd) == 0 && st2.kept == st.kept, "deterministic for a seed");
    rj.k = 0;
    CHECK(aha_data_reject(m, &src, &rj, out2, &st2) == AHA_ERR_ARG, "k = 0 refused");
    aha_model_destroy(&m);
}

static const tu_case_t cases[] = {{"coldstart", test_coldstart},
                                  {"keep_rule", test_keep_rule},
                                  {"reject", test_reject}};

TU_MAIN(cases)
