/* recipe/sft_test.c — SFT data (JSONL pairs, masking, epoch order) and the shared supervised loop
 * (recipe/lm_train.h): SFT lowers the loss on its data, resume is exact. */
#include "model/model.h"
#include "core/testutil.h"
#include "core/err.h"
#include "learner/grpo.h"
#include "model/checkpoint.h"
#include "model/tokenizer.h"
#include "recipe/lm_train.h"
#include "recipe/sft_data.h"
#include "tasks/addition.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Loading TEXT fails with ERR and a message containing WANT; the out-param stays NULL. */
static void expect_bad(const char *name, const char *text, int err, const char *want) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmp_dir(), name);
    write_file(path, text);
    aha_sft_data_t *d = NULL;
    int rc = aha_sft_data_load(path, 48, 1, &d);
    CHECK(rc == err, "%s: rc %d, want %d (%s)", name, rc, err, aha_last_error());
    CHECK(d == NULL, "%s: out-param written on error", name);
    char full[600];
    snprintf(full, sizeof full, "%s%s", path, want);
    CHECK(strstr(aha_last_error(), full) != NULL, "%s: message '%s' lacks '%s'", name,
          aha_last_error(), full);
    aha_sft_data_destroy(&d);
}

static void test_bad_lines(void) {
    const char *good = "{\"prompt\":\"<bos><|User|>1+2<|Assistant|>\",\"response\":\"<answer>3</answer><eos>\"}\n";
    char text[4096];
    snprintf(text, sizeof text, "%s\n%snot json\n", good, good);
    expect_bad("notjson.jsonl", text, AHA_ERR_FORMAT, ":4: not a JSON object");
    snprintf(text, sizeof text, "%s{\"prompt\":\"x\"}\n", good);
    expect_bad("noresp.jsonl", text, AHA_ERR_FORMAT, ":2: needs string keys");
    snprintf(text, sizeof text, "%s{\"prompt\":\"x\",\"response\":3}\n", good);
    expect_bad("numresp.jsonl", text, AHA_ERR_FORMAT, ":2: needs string keys");
    snprintf(text, sizeof text, "{\"prompt\":\"x\",\"response\":\"caf\\u00e9\"}\n");
    expect_bad("vocab.jsonl", text, AHA_ERR_FORMAT, ":1: tokenizer: byte");
    snprintf(text, sizeof text, "%s{\"prompt\":\"x\",\"response\":\"\"}\n", good);
    expect_bad("empty.jsonl", text, AHA_ERR_FORMAT, ":2: empty response");
    char longresp[200];
    memset(longresp, '7', 60);
    longresp[60] = 0;
    snprintf(text, sizeof text, "%s%s{\"prompt\":\"x\",\"response\":\"%s\"}\n", good, good,
             longresp);
    expect_bad("long.jsonl", text, AHA_ERR_RANGE, ":3: the pair");
    expect_bad("nothing.jsonl", "\n  \n", AHA_ERR_FORMAT, ":2: no (prompt, response) pair");
    aha_sft_data_t *d = NULL;
    CHECK(aha_sft_data_load("/nonexistent/x.jsonl", 48, 1, &d) == AHA_ERR_IO && !d,
          "missing file: %s", aha_last_error());
}

static void test_masking(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/one.jsonl", tu_tmp_dir());
    write_file(path, "{\"prompt\":\"<bos><|User|>1+2<|Assistant|>\",\"response\":\"<answer>3</answer><eos>\",\"extra\":1}\n");
    aha_sft_data_t *d = NULL;
    REQUIRE_OK(aha_sft_data_load(path, 48, 1, &d));
    REQUIRE(aha_sft_data_count(d) == 1, "one pair");
    int tokens[48], targets[48], len = 0, plen = 0;
    for (int t = 0; t < 48; t++)
        targets[t] = 99;
    REQUIRE_OK(aha_sft_data_row(d, 5, 48, tokens, targets, &len));
    aha_sft_data_pair(d, 0, NULL, &plen);
    CHECK(plen == 6 && len == 10, "prompt %d tokens, row %d (want 6, 10)", plen, len);
    CHECK(tokens[5] == AHA_TOK_ASSISTANT && tokens[6] == AHA_TOK_ANSWER, "row is prompt+response");
    int ok = 1;
    for (int t = 0; t < 48; t++) {
        int want = (t >= 5 && t < 9) ? tokens[t + 1] : -1;
        ok &= targets[t] == want;
    }
    CHECK(ok, "loss only on the response tokens (targets at positions 5..8)");
    aha_sft_data_destroy(&d);
    CHECK(d == NULL, "destroy clears the pointer");
}

/* N addition pairs (1-2 digits) into PATH. */
static void write_addition(const char *path, int n) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    aha_add_config_t ac = {1, 2, 0.1};
    for (int i = 0; i < n; i++) {
        aha_add_problem_t p;
        char prompt[256], resp[256];
        REQUIRE_OK(aha_add_problem(&ac, 7, AHA_SPLIT_TRAIN, (uint64_t)i, &p));
        REQUIRE_OK(aha_add_prompt(&p, prompt, sizeof prompt));
        REQUIRE_OK(aha_add_response(&p, resp, sizeof resp));
        REQUIRE_OK(aha_sft_write_pair(f, prompt, resp));
    }
    fclose(f);
}

static void test_epochs(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/add10.jsonl", tu_tmp_dir());
    write_addition(path, 10);
    aha_sft_data_t *a = NULL, *b = NULL;
    REQUIRE_OK(aha_sft_data_load(path, 48, 3, &a));
    REQUIRE_OK(aha_sft_data_load(path, 48, 3, &b));
    int seen[2][10] = {{0}}, same_seed = 1;
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 10; i++) {
            int tk[48], tg[48], len, tk2[48], tg2[48], len2;
            REQUIRE_OK(aha_sft_data_row(a, (uint64_t)(e * 10 + i), 48, tk, tg, &len));
            REQUIRE_OK(aha_sft_data_row(b, (uint64_t)(e * 10 + i), 48, tk2, tg2, &len2));
            same_seed &= len == len2 && !memcmp(tk, tk2, sizeof(int) * len);
            for (int j = 0; j < 10; j++) {
                int pl, pn;
                const int *ids = aha_sft_data_pair(a, (size_t)j, &pn, &pl);
                if (pn == len && !memcmp(ids, tk, sizeof(int) * len)) {
                    seen[e][j]++;
                    break;
                }
            }
        }
    int each_once = 1;
    for (int e = 0; e < 2; e++)
        for (int j = 0; j < 10; j++)
            each_once &= seen[e][j] == 1;
    CHECK(each_once, "every pair exactly once per epoch");
    CHECK(same_seed, "row INDEX is a pure function of (seed, INDEX)");
    /* a row of epoch 0 read after epoch 1 is still the same */
    int tk[48], tg[48], len, tk2[48], tg2[48], len2;
    REQUIRE_OK(aha_sft_data_row(b, 3, 48, tk, tg, &len));
    REQUIRE_OK(aha_sft_data_row(b, 13, 48, tk2, tg2, &len2));
    REQUIRE_OK(aha_sft_data_row(b, 3, 48, tk2, tg2, &len2));
    CHECK(len == len2 && !memcmp(tk, tk2, sizeof(int) * len), "going back an epoch gives the same row");
    aha_sft_data_destroy(&a);
    aha_sft_data_destroy(&b);
}

static aha_model_t *small_model(void) {
    aha_model_config_t c;
    tu_small_config(&c);
    c.vocab_size = AHA_TOK_VOCAB;
    return tu_random_model(&c, 11);
}

static void train_cfg(aha_lm_train_t *tc, int steps) {
    aha_lm_train_default(tc);
    tc->label = "sft";
    tc->steps = steps;
    tc->batch_size = 16;
    tc->warmup = 2;
    tc->log_every = 5;
    tc->checkpoint_every = 1000;
    tc->lr = 3e-3;
    tc->min_lr = 3e-4;
}

static void test_sft_lowers_loss(void) {
    char path[512], dir[512], file[700];
    snprintf(path, sizeof path, "%s/add64.jsonl", tu_tmp_dir());
    snprintf(dir, sizeof dir, "%s/run_lower", tu_tmp_dir());
    write_addition(path, 64);
    aha_sft_data_t *d = NULL;
    aha_model_t *m = small_model();
    REQUIRE_OK(aha_sft_data_load(path, m->cfg.max_seq_len, 1, &d));
    double before, after;
    REQUIRE_OK(aha_lm_eval_loss(m, 64, 16, aha_sft_data_row, d, &before));
    aha_lm_train_t tc;
    train_cfg(&tc, 40);
    REQUIRE_OK(aha_lm_train(m, &tc, dir, aha_sft_data_row, d));
    REQUIRE_OK(aha_lm_eval_loss(m, 64, 16, aha_sft_data_row, d, &after));
    fprintf(stderr, "  response loss %.3f -> %.3f after 40 steps\n", before, after);
    CHECK(after < 0.6 * before, "loss %.3f -> %.3f: SFT must lower it by 40%%", before, after);
    snprintf(file, sizeof file, "%s/final/model.safetensors", dir);
    struct stat st;
    CHECK(stat(file, &st) == 0 && st.st_size > 0, "final checkpoint written");
    snprintf(file, sizeof file, "%s/metrics.jsonl", dir);
    FILE *f = fopen(file, "r");
    int rows = 0, ch;
    while (f && (ch = fgetc(f)) != EOF)
        rows += ch == '\n';
    if (f) fclose(f);
    CHECK(rows == 8, "metrics rows: %d, want 8 (every 5 of 40 steps)", rows);
    /* the checkpoint loads back into the trained model */
    aha_model_t *back = NULL;
    snprintf(file, sizeof file, "%s/final", dir);
    REQUIRE_OK(aha_checkpoint_load(file, &back));
    CHECK(back->n_params == m->n_params &&
              !memcmp(back->params, m->params, sizeof(float) * m->n_params),
          "final/ holds the trained weights");
    aha_model_destroy(&back);
    aha_model_destroy(&m);
    aha_sft_data_destroy(&d);
}

static void test_resume_exact(void) {
    char path[512], d1[512], d2[512];
    snprintf(path, sizeof path, "%s/add40.jsonl", tu_tmp_dir());
    snprintf(d1, sizeof d1, "%s/run_straight", tu_tmp_dir());
    snprintf(d2, sizeof d2, "%s/run_resumed", tu_tmp_dir());
    write_addition(path, 40);
    aha_sft_data_t *d = NULL;
    REQUIRE_OK(aha_sft_data_load(path, 48, 1, &d));
    aha_lm_train_t tc;
    train_cfg(&tc, 8);
    tc.checkpoint_every = 4;
    aha_model_t *a = small_model(), *b = small_model(), *c = small_model();
    REQUIRE_OK(aha_lm_train(a, &tc, d1, aha_sft_data_row, d));
    /* stopped after the step-4 checkpoint: a run of 8 steps whose loss turns NaN at step 6 */
    tc.nan_step = 6;
    int rc = aha_lm_train(b, &tc, d2, aha_sft_data_row, d);
    CHECK(rc == AHA_ERR_RANGE && strstr(aha_last_error(), "sft step 6: non-finite"),
          "a non-finite step stops the run: %d %s", rc, aha_last_error());
    tc.nan_step = 0;
    tc.resume = 1;
    REQUIRE_OK(aha_lm_train(c, &tc, d2, aha_sft_data_row, d));
    CHECK(!memcmp(a->params, c->params, sizeof(float) * a->n_params) &&
              !memcmp(a->expert_bias, c->expert_bias,
                      sizeof(float) * a->cfg.n_layers * a->cfg.n_routed_experts),
          "4 steps + resume + 4 steps = 8 steps straight, bit for bit");
    aha_model_destroy(&a);
    aha_model_destroy(&b);
    aha_model_destroy(&c);
    aha_sft_data_destroy(&d);
}

static void test_bad_args(void) {
    aha_lm_train_t tc;
    train_cfg(&tc, 1);
    tc.batch_size = 0;
    aha_model_t *m = small_model();
    CHECK(aha_lm_train(m, &tc, "/tmp", aha_sft_data_row, NULL) == AHA_ERR_ARG, "batch 0 refused");
    double loss = 42;
    CHECK(aha_lm_eval_loss(m, 0, 4, aha_sft_data_row, NULL, &loss) == AHA_ERR_ARG && loss == 42,
          "no rows refused, out untouched");
    aha_model_destroy(&m);
}

static const tu_case_t cases[] = {{"bad_lines", test_bad_lines},
                                  {"masking", test_masking},
                                  {"epochs", test_epochs},
                                  {"sft_lowers_loss", test_sft_lowers_loss},
                                  {"resume_exact", test_resume_exact},
                                  {"bad_args", test_bad_args}};

TU_MAIN(cases)
