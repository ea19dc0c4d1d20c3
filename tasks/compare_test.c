/* compare: the non-reasoning task (prompt, reference, documents, answer rule) and the mixed task
 * (addition and compare problems in one run) through the task table. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/task.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cfg_of(aha_task_config_t *c) {
    memset(c, 0, sizeof *c);
    c->add = (aha_add_config_t){3, 5, 0.1};
    aha_corpus_config_default(&c->corpus);
    c->mix_compare = 0.25;
}

static void test_texts(void) {
    const aha_task_t *t = aha_task_by_name("compare");
    REQUIRE(t && t->kind == AHA_TASK_COMPARE && !t->thinks, "compare is in the table, no thinking");
    aha_task_problem_t p = {.kind = AHA_TASK_COMPARE, .add = {57, 168}};
    char buf[256];
    REQUIRE_OK(t->prompt(&p, buf, sizeof buf));
    CHECK(!strcmp(buf, "<bos><|User|>max(57,168)<|Assistant|>"), "prompt '%s'", buf);
    REQUIRE_OK(aha_task_reference(&p, buf, sizeof buf));
    CHECK(!strcmp(buf, "<think></think><answer>168</answer><eos>"), "reference '%s'", buf);
    aha_reward_problem_t rp;
    t->reward_problem(&p, &rp);
    CHECK(rp.kind == AHA_TASK_COMPARE && rp.expected == 168, "reward problem expects max");
    CHECK(t->accuracy(&rp, "168", 3) == 1 && t->accuracy(&rp, "57", 2) == 0 &&
              t->accuracy(&rp, "0168", 4) == 1 && t->accuracy(&rp, "16 8", 4) == 0,
          "the answer rule is addition's integer rule against max(a, b)");
    char small[10];
    strcpy(small, "keep");
    CHECK(t->prompt(&p, small, sizeof small) == AHA_ERR_RANGE && !strcmp(small, "keep"),
          "capacity checked, buffer untouched");
    aha_task_problem_t neg = {.kind = AHA_TASK_COMPARE, .add = {-1, 3}};
    CHECK(t->prompt(&neg, buf, sizeof buf) == AHA_ERR_ARG, "negative operand refused");
}

static void test_documents(void) {
    const aha_task_t *t = aha_task_by_name("compare");
    aha_task_config_t c;
    cfg_of(&c);
    const int N = 4000;
    int correct = 0, direct = 0, malformed = 0, tokenizes = 1;
    for (int i = 0; i < N; i++) {
        char d[512];
        int ids[256], n;
        REQUIRE_OK(t->document(&c, 4, (uint64_t)i, d, sizeof d));
        tokenizes &= aha_tok_encode(d, ids, 256, &n) == 0;
        long long a, b, v;
        REQUIRE(sscanf(d, "<bos><|User|>max(%lld,%lld)<|Assistant|>", &a, &b) == 2, "doc %s", d);
        const char *ans = strstr(d, "<answer>");
        REQUIRE(ans && sscanf(ans, "<answer>%lld</answer>", &v) == 1, "doc %s", d);
        correct += v == (a > b ? a : b);
        direct += strstr(d, "<think>") == NULL;
        malformed += strstr(d, "</answer><eos>") == NULL;
    }
    printf("compare documents: correct %.3f, without think %.3f, malformed %.3f\n",
           (double)correct / N, (double)direct / N, (double)malformed / N);
    CHECK(tokenizes, "every document tokenizes");
    CHECK(abs(correct - 3 * N / 4) < N / 25, "3/4 correct: %d of %d", correct, N);
    CHECK(abs(direct - (int)(0.6 * N)) < N / 25, "p_direct share without think: %d", direct);
    CHECK(abs(malformed - N / 10) < N / 40, "p_malformed share malformed: %d", malformed);
}

static void test_mixed(void) {
    const aha_task_t *t = aha_task_by_name("mixed");
    REQUIRE(t && t->kind == AHA_TASK_MIXED, "mixed is in the table");
    aha_task_config_t c;
    cfg_of(&c);
    const int N = 4000;
    int cmp = 0, add = 0, honest = 1, docs_cmp = 0;
    for (int i = 0; i < N; i++) {
        aha_task_problem_t p;
        REQUIRE_OK(t->problem(&c, 6, AHA_SPLIT_TRAIN, (uint64_t)i, &p));
        cmp += p.kind == AHA_TASK_COMPARE;
        add += p.kind == AHA_TASK_ADDITION;
        honest &= !aha_add_is_test(&c.add, &p.add);
        char prompt[256], d[512];
        REQUIRE_OK(aha_task_prompt(&c, &p, prompt, sizeof prompt));
        CHECK((p.kind == AHA_TASK_COMPARE) == (strstr(prompt, "max(") != NULL), "prompt %s",
              prompt);
        REQUIRE_OK(t->document(&c, 6, (uint64_t)i, d, sizeof d));
        docs_cmp += strstr(d, "max(") != NULL;
    }
    printf("mixed: %d compare, %d addition problems; %d compare documents of %d\n", cmp, add,
           docs_cmp, N);
    CHECK(cmp + add == N, "every problem is addition or compare");
    CHECK(abs(cmp - N / 4) < N / 25 && abs(docs_cmp - N / 4) < N / 25,
          "task.mix_compare 0.25 of problems (%d) and documents (%d)", cmp, docs_cmp);
    CHECK(honest, "train problems are never test problems");
    aha_task_problem_t p;
    int test_ok = 1;
    for (int i = 0; i < 200; i++) {
        REQUIRE_OK(t->problem(&c, 6, AHA_SPLIT_TEST, (uint64_t)i, &p));
        test_ok &= aha_add_is_test(&c.add, &p.add);
    }
    CHECK(test_ok, "test problems are test problems");
    c.mix_compare = 1.5;
    CHECK(t->problem(&c, 6, AHA_SPLIT_TRAIN, 0, &p) == AHA_ERR_CONFIG &&
              strstr(aha_last_error(), "task.mix_compare"),
          "a share outside [0, 1] is named");
}

static const tu_case_t cases[] = {
    {"texts", test_texts}, {"documents", test_documents}, {"mixed", test_mixed}};

TU_MAIN(cases)
