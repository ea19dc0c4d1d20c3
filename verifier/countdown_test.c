/* countdown: generated problems are deterministic, their own solutions verify, the splits are
 * disjoint, prompts/responses tokenize, corpus mistakes really miss the target. */
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include "tasks/countdown.h"
#include "verifier/reward.h"
#include <string.h>

int main(void) {
    aha_cd_config_t c;
    aha_cd_config_default(&c);
    aha_cd_problem_t p, q;
    char buf[512];
    int ids[512], n;
    int sizes[AHA_CD_MAX_NUMBERS + 1] = {0};
    for (uint64_t i = 0; i < 5000; i++) {
        for (int split = 0; split < 2; split++) {
            CHECK(aha_cd_problem(&c, 7, split, i, &p) == 0, "problem");
            CHECK(aha_cd_problem(&c, 7, split, i, &q) == 0 && !memcmp(&p, &q, sizeof p), "deterministic");
            CHECK(aha_cd_is_test(&c, &p) == split, "split membership");
            CHECK(p.target > 0, "positive target");
            CHECK(aha_reward_countdown(p.solution, p.numbers, p.n, p.target),
                  "solution %s reaches %lld with the given numbers", p.solution, (long long)p.target);
            sizes[p.n]++;
            CHECK(aha_cd_prompt(&p, buf, sizeof buf) == 0 && aha_tok_encode(buf, ids, 512, &n) == 0, "prompt");
            CHECK(aha_cd_response(&p, buf, sizeof buf) == 0 && aha_tok_encode(buf, ids, 512, &n) == 0, "response");
            aha_reward_config_t rc;
            aha_reward_config_default(&rc);
            aha_reward_problem_t rp = {.kind = AHA_TASK_COUNTDOWN, .n_numbers = p.n, .target = p.target};
            memcpy(rp.numbers, p.numbers, sizeof(int) * p.n);
            aha_reward_breakdown_t b;
            aha_reward_score(&rc, &rp, buf, n, &b);
            CHECK(b.total == 1.0, "reference response scores 1: %s", buf);
        }
    }
    CHECK(sizes[3] > 1000 && sizes[4] > 1000, "3 and 4 numbers both drawn");
    aha_cd_prompt(&(aha_cd_problem_t){.n = 3, .numbers = {3, 7, 25}, .target = 46}, buf, sizeof buf);
    CHECK(!strcmp(buf, "<bos><|User|>3 7 25 -> 46<|Assistant|>"), "prompt format: %s", buf);
    /* corpus: mistakes miss the target, documents tokenize */
    int n_wrong = 0, n_docs = 2000;
    for (uint64_t i = 0; i < (uint64_t)n_docs; i++) {
        CHECK(aha_cd_document(&c, 7, i, 0.0, 1.0, 0.0, buf, sizeof buf) == 0, "document");
        CHECK(aha_tok_encode(buf, ids, 512, &n) == 0, "document tokenizes");
        aha_cd_problem(&c, 7, AHA_SPLIT_TRAIN, i, &p);
        const char *resp = strstr(buf, "<|Assistant|>") + 13;
        char ans[128];
        n_wrong += aha_reward_extract_answer(resp, ans, sizeof ans) == 0 &&
                   !aha_reward_countdown(ans, p.numbers, p.n, p.target);
    }
    CHECK(n_wrong == n_docs, "every injected mistake misses the target (%d/%d)", n_wrong, n_docs);
    aha_cd_config_t bad = c;
    bad.min_numbers = 1;
    CHECK(aha_cd_problem(&bad, 1, 0, 0, &p) < 0, "bad config rejected");
    return TEST_DONE();
}
