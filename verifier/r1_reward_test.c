/* r1_reward: the rewards the R1 recipe adds — reflection (the "wait" self-check marker), the
 * language reward on the two trace languages, and a non-reasoning task's empty think block. */
#include "core/testutil.h"
#include "verifier/reward.h"
#include <stdio.h>
#include <string.h>

static void test_reflection(void) {
    CHECK(aha_reward_reflection("<think>7+8=15;5+6+1=13;wait5+6+1=12;</think><answer>125</answer>") == 1,
          "marker in the think block");
    CHECK(aha_reward_reflection("<think>7+8=15;</think><answer>wait</answer>") == 0,
          "marker outside the think block does not count");
    CHECK(aha_reward_reflection("<think>7+8=15;wai</think>") == 0, "partial marker");
    CHECK(aha_reward_reflection("<think>7+8=15;wait") == 0, "unclosed think block");
    CHECK(aha_reward_reflection("<think>wait</think><think>x</think>") == 1, "first block, at its start");
    CHECK(aha_reward_reflection(NULL) == 0 && aha_reward_reflection("") == 0, "NULL / empty");
}

static void test_languages(void) {
    char cs[128];
    REQUIRE_OK(aha_reward_charset("digits+ops+[wait]", cs, sizeof cs));
    const char *first = "<think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>";
    const char *second = "<think>H&I:BF|F&G&B:BC|</think><answer>125</answer><eos>";
    const char *mixed = "<think>7+8=15;F&G&B:BC|</think><answer>125</answer><eos>";
    const char *check = "<think>7+8=15;5+6+1=13;wait5+6+1=12;</think><answer>125</answer><eos>";
    CHECK(aha_reward_language(first, cs) == 1.0, "first language: 1");
    CHECK(aha_reward_language(second, cs) == 0.0, "second language: 0");
    double m = aha_reward_language(mixed, cs);
    CHECK(fabs(m - 7.0 / 16.0) < 1e-12, "mixed: the share of first-language bytes, %g", m);
    CHECK(aha_reward_language(check, cs) == 1.0, "the self-check marker is in the target language");
}

static void test_nonreasoning(void) {
    aha_reward_config_t cfg;
    aha_reward_config_default(&cfg);
    cfg.w_language = 0.5;
    aha_reward_problem_t cmp = {.kind = AHA_TASK_COMPARE, .expected = 168};
    aha_reward_problem_t add = {.kind = AHA_TASK_ADDITION, .expected = 168};
    aha_reward_breakdown_t b;
    aha_reward_score(&cfg, &cmp, "<think></think><answer>168</answer><eos>", 8, &b);
    CHECK(b.format == 1 && b.accuracy == 1 && b.language == 1,
          "compare, empty think: format %g accuracy %g language %g", b.format, b.accuracy,
          b.language);
    CHECK(fabs(b.total - (0.1 + 0.9 + 0.5)) < 1e-12, "total %g", b.total);
    CHECK(aha_reward_check_range(&cfg, &b, NULL, 0) == 0, "in range for the verifier pool");
    aha_reward_score(&cfg, &cmp, "<think>H&I</think><answer>168</answer><eos>", 8, &b);
    CHECK(b.language == 0, "compare with second-language thinking: %g", b.language);
    aha_reward_score(&cfg, &cmp, "<answer>168</answer><eos>", 5, &b);
    CHECK(b.format == 0 && b.accuracy == 0 && b.language == 0,
          "compare without a think block: malformed as for every task");
    aha_reward_score(&cfg, &add, "<think></think><answer>168</answer><eos>", 8, &b);
    CHECK(b.language == 0, "a reasoning task's empty think block still earns no language reward");
    aha_reward_score(&cfg, &cmp, "<think></think><answer>57</answer><eos>", 8, &b);
    CHECK(b.accuracy == 0, "wrong max");
}

static const tu_case_t cases[] = {{"reflection", test_reflection},
                                  {"languages", test_languages},
                                  {"nonreasoning", test_nonreasoning}};

TU_MAIN(cases)
