/* countdown_reward: the generator (tasks/countdown.h) and the verifier agree — every reference
 * solution reaches its target with the given numbers and its reference response scores exactly 1
 * (and language 1 for the "digits+ops" set); corpus documents score as they claim: correct traces
 * 1, injected mistakes 0.1 (well-formed, wrong), direct answers format 0 and correct 25% of the
 * time, malformed ones format 0. */
#include "core/testutil.h"
#include "tasks/addition.h"
#include "tasks/countdown.h"
#include "tasks/countdown_testutil.h"
#include "verifier/reward.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads "<|User|>N N N -> T<|Assistant|>" into a reward problem. */
static int problem_of(const char *doc, aha_reward_problem_t *rp) {
    memset(rp, 0, sizeof *rp);
    rp->kind = AHA_TASK_COUNTDOWN;
    long long target;
    if (tu_cd_parse_prompt(doc, rp->numbers, AHA_COUNTDOWN_MAX_NUMBERS, &rp->n_numbers, &target))
        return -1;
    rp->target = target;
    return 0;
}

static void test_solutions(void) {
    aha_cd_config_t c;
    aha_cd_config_default(&c);
    aha_reward_config_t rc;
    aha_reward_config_default(&rc);
    aha_cd_problem_t p;
    char buf[512];
    int bad_solution = 0, bad_score = 0, bad_language = 0;
    for (uint64_t i = 0; i < 5000; i++) {
        for (int split = 0; split < 2; split++) {
            CHECK(aha_cd_problem(&c, 7, split, i, &p) == 0, "problem");
            bad_solution += !aha_reward_countdown(p.solution, p.numbers, p.n, p.target);
            aha_reward_problem_t rp = {
                .kind = AHA_TASK_COUNTDOWN, .n_numbers = p.n, .target = p.target};
            memcpy(rp.numbers, p.numbers, sizeof(int) * (size_t)p.n);
            CHECK(aha_cd_response(&p, buf, sizeof buf) == 0, "response");
            aha_reward_breakdown_t b;
            aha_reward_score(&rc, &rp, buf, 30, &b);
            bad_score += !(b.format == 1 && b.accuracy == 1 && b.total == 1.0);
            bad_language += b.language != 1.0;
            /* one number short or one too many never verifies */
            if (p.n > 1)
                bad_solution += aha_reward_countdown(p.solution, p.numbers, p.n - 1, p.target);
            bad_solution += aha_reward_countdown(p.solution, p.numbers, p.n, p.target + 1);
        }
    }
    CHECK(bad_solution == 0, "%d solutions misjudged", bad_solution);
    CHECK(bad_score == 0, "%d reference responses do not score 1", bad_score);
    CHECK(bad_language == 0, "%d reference traces are not all digits+ops", bad_language);

    /* wider problems also verify (2..6 numbers up to 1000) */
    aha_cd_config_t w = {2, 6, 1000, 0.3};
    bad_solution = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        CHECK(aha_cd_problem(&w, 1, (int)(i % 2), i, &p) == 0, "wide problem");
        bad_solution += !aha_reward_countdown(p.solution, p.numbers, p.n, p.target);
    }
    CHECK(bad_solution == 0, "%d wide solutions misjudged", bad_solution);

    /* corpus documents score as they claim */
    const int N = 4000;
    int ok_trace = 0, ok_mistake = 0, direct_format = 0, direct_correct = 0, malformed = 0;
    aha_reward_config_t loose = rc;
    loose.correct_requires_format = 0;
    for (int i = 0; i < N; i++) {
        aha_reward_problem_t rp;
        aha_reward_breakdown_t b;
        CHECK(aha_cd_document(&c, 3, (uint64_t)i, 0, 0, 0, buf, sizeof buf) == 0, "document");
        CHECK(problem_of(buf, &rp) == 0, "prompt parses");
        const char *resp = strstr(buf, "<|Assistant|>") + 13;
        aha_reward_score(&rc, &rp, resp, 30, &b);
        ok_trace += b.total == 1.0;
        CHECK(aha_cd_document(&c, 3, (uint64_t)i, 0, 1, 0, buf, sizeof buf) == 0,
              "mistake document");
        resp = strstr(buf, "<|Assistant|>") + 13;
        aha_reward_score(&loose, &rp, resp, 30, &b);
        ok_mistake += b.format == 1 && b.accuracy == 0 && fabs(b.total - 0.1) < 1e-12;
        CHECK(aha_cd_document(&c, 3, (uint64_t)i, 1, 0, 0, buf, sizeof buf) == 0,
              "direct document");
        resp = strstr(buf, "<|Assistant|>") + 13;
        aha_reward_score(&loose, &rp, resp, 30, &b);
        direct_format += b.format == 1;
        direct_correct += b.accuracy == 1;
        CHECK(aha_cd_document(&c, 3, (uint64_t)i, 0, 0, 1, buf, sizeof buf) == 0,
              "malformed document");
        resp = strstr(buf, "<|Assistant|>") + 13;
        aha_reward_score(&rc, &rp, resp, 30, &b);
        malformed += b.format == 0 && b.total == 0;
    }
    CHECK(ok_trace == N, "correct trace documents score 1 (%d/%d)", ok_trace, N);
    CHECK(ok_mistake == N, "mistake documents are well-formed and wrong (%d/%d)", ok_mistake, N);
    CHECK(direct_format == 0, "direct documents have no think block (%d formed)", direct_format);
    CHECK(direct_correct > 0.22 * N && direct_correct < 0.28 * N,
          "direct documents correct %d/%d (25%% expected)", direct_correct, N);
    CHECK(malformed == N, "malformed documents score 0 (%d/%d)", malformed, N);
}

static const tu_case_t cases[] = {
    {"solutions", test_solutions},
};

TU_MAIN(cases)
