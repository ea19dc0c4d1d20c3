/* reward: rule rewards on adversarial outputs — format, addition and countdown accuracy, numeric
 * equivalence, language consistency, overlong shaping, the combined scorer; fuzzed bytes and 1 MB
 * outputs never crash and stay in range; every reward is deterministic. */
#include "core/rng.h"
#include "core/testutil.h"
#include "verifier/reward.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double score_add(const char *resp, int64_t expected, int requires_format) {
    aha_reward_config_t c;
    aha_reward_config_default(&c);
    c.correct_requires_format = requires_format;
    aha_reward_problem_t p = {.kind = AHA_TASK_ADDITION, .expected = expected};
    aha_reward_breakdown_t b;
    aha_reward_score(&c, &p, resp, 10, &b);
    return b.total;
}

int main(void) {
    /* format */
    CHECK(aha_reward_format_ok("<think>1+2=03;</think><answer>3</answer><eos>"), "well formed");
    CHECK(aha_reward_format_ok("<think></think><answer>3</answer>"), "empty think, no eos");
    CHECK(!aha_reward_format_ok("<think>x</think><answer></answer>"), "empty answer");
    CHECK(!aha_reward_format_ok("<think>x</think><answer>1</answer><answer>2</answer>"), "two answers");
    CHECK(!aha_reward_format_ok("<think>a<think>b</think><answer>1</answer>"), "nested think");
    CHECK(!aha_reward_format_ok("<think>x</think><answer>1"), "unclosed answer");
    CHECK(!aha_reward_format_ok("<think>x<answer>1</answer>"), "unclosed think");
    CHECK(!aha_reward_format_ok("hi<think>x</think><answer>1</answer>"), "text before");
    CHECK(!aha_reward_format_ok("<think>x</think><answer>1</answer>tail"), "text after");
    CHECK(!aha_reward_format_ok("<think>x</think> <answer>1</answer>"), "text between");
    CHECK(!aha_reward_format_ok("<answer>1</answer>"), "no think");
    CHECK(!aha_reward_format_ok("<think>x</think><answer>1</answer><eos><eos>"), "two eos");
    CHECK(!aha_reward_format_ok(""), "empty");
    CHECK(!aha_reward_format_ok(NULL), "NULL");

    /* addition accuracy through the scorer: 1 / 0.1 / 0 */
    CHECK(fabs(score_add("<think>1+2=03;</think><answer>3</answer><eos>", 3, 1) - 1.0) < 1e-12, "correct");
    CHECK(fabs(score_add("<think>1+2=03;</think><answer>4</answer><eos>", 3, 1) - 0.1) < 1e-12, "wrong but formed");
    CHECK(score_add("<answer>3</answer><eos>", 3, 1) == 0, "correct but malformed counts 0 when format is required");
    CHECK(fabs(score_add("<answer>3</answer><eos>", 3, 0) - 0.9) < 1e-12, "correct, malformed, format not required");
    CHECK(fabs(score_add("<think></think><answer>003</answer>", 3, 1) - 1.0) < 1e-12, "leading zeros equal");
    CHECK(fabs(score_add("<think></think><answer>123456789012345678901234567890</answer>", 3, 1) - 0.1) < 1e-12,
          "30-digit answer is wrong, not an overflow");
    CHECK(fabs(score_add("<think></think><answer>3\xff</answer>", 3, 1) - 0.1) < 1e-12, "non-ASCII answer wrong");
    CHECK(fabs(score_add("<think></think><answer>-3</answer>", -3, 1) - 1.0) < 1e-12, "negative");

    /* numeric equivalence */
    CHECK(aha_reward_numbers_equal("12", "12.0") && aha_reward_numbers_equal("+12", "012") &&
              aha_reward_numbers_equal("0.5", ".50"),
          "equivalent spellings");
    CHECK(!aha_reward_numbers_equal("12", "12.01") && !aha_reward_numbers_equal("1e3", "1000") &&
              !aha_reward_numbers_equal("", "0") && !aha_reward_numbers_equal("1.", "1") &&
              !aha_reward_numbers_equal("-", "0") && !aha_reward_numbers_equal("1 ", "1"),
          "non-equivalent or malformed");
    CHECK(!aha_reward_numbers_equal("1234567890123456789", "1234567890123456789"), "over 18 digits rejected");

    /* countdown */
    int nums[4] = {3, 7, 25, 2};
    CHECK(aha_reward_countdown("(25 - 7) * 3 - 2", nums, 4, 52), "valid expression");
    CHECK(aha_reward_countdown("25+7*3", nums, 4, 46), "precedence (25+21)");
    CHECK(!aha_reward_countdown("(25+7)*3", nums, 4, 46), "wrong value");
    CHECK(!aha_reward_countdown("25/(7-7)", nums, 4, 0), "number used twice");
    int nz[3] = {5, 3, 3};
    CHECK(!aha_reward_countdown("5/(3-3)", nz, 3, 0), "division by zero is wrong, no crash");
    CHECK(aha_reward_countdown("5/3*3", nz, 3, 5), "exact rationals: 5/3*3 == 5");
    CHECK(aha_reward_countdown("5*3*3", nz, 3, 45), "multiset: a number given twice may be used twice");
    CHECK(!aha_reward_countdown("5*3*3*3", nz, 3, 135), "but not three times");
    CHECK(!aha_reward_countdown("25+4", nums, 4, 29), "number not in the list");
    CHECK(!aha_reward_countdown("-3+25", nums, 4, 22), "no unary minus");
    CHECK(!aha_reward_countdown("", nums, 4, 0), "empty");
    CHECK(!aha_reward_countdown("3+", nums, 4, 3), "dangling operator");
    CHECK(!aha_reward_countdown("(3+7", nums, 4, 10), "unclosed paren");
    CHECK(!aha_reward_countdown("3+7)", nums, 4, 10), "extra paren");
    CHECK(!aha_reward_countdown("3 7", nums, 4, 37), "juxtaposition");
    char deep[200];
    memset(deep, '(', 40);
    strcpy(deep + 40, "3");
    memset(deep + 41, ')', 40);
    deep[81] = 0;
    CHECK(!aha_reward_countdown(deep, nums, 4, 3), "nesting beyond the limit");
    CHECK(aha_reward_countdown("((((3))))", nums, 4, 3), "nesting within the limit");
    int big[8] = {999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999};
    CHECK(!aha_reward_countdown("999999999*999999999*999999999*999999999", big, 8, 0), "overflow is wrong, no UB");
    int nine[1] = {1234567890};
    CHECK(!aha_reward_countdown("1234567890", nine, 1, 1234567890), "literals over 9 digits rejected");
    /* countdown through the scorer */
    aha_reward_config_t cc;
    aha_reward_config_default(&cc);
    aha_reward_problem_t cp = {.kind = AHA_TASK_COUNTDOWN, .numbers = {3, 7, 25}, .n_numbers = 3, .target = 46};
    aha_reward_breakdown_t b;
    aha_reward_score(&cc, &cp, "<think>25+21=46</think><answer>25+7*3</answer><eos>", 20, &b);
    CHECK(b.accuracy == 1 && b.format == 1 && fabs(b.total - 1) < 1e-12, "countdown scored");

    /* language consistency */
    CHECK(fabs(aha_reward_language("<think>1+2=03;</think><answer>3</answer>", "0123456789+=;") - 1) < 1e-12, "all in set");
    CHECK(fabs(aha_reward_language("<think>1+2 ok</think>", "0123456789+") - 0.5) < 1e-12, "half in set (3 of 6)");
    CHECK(aha_reward_language("<think></think><answer>1</answer>", "0123456789") == 0, "empty think");
    CHECK(aha_reward_language("<answer>1</answer>", "0123456789") == 0, "no think");
    CHECK(aha_reward_language("<think>123", "0123456789") == 0, "unclosed think");
    /* overlong */
    CHECK(aha_reward_overlong(40, 64, 16) == 0 && aha_reward_overlong(48, 64, 16) == 0, "short");
    CHECK(fabs(aha_reward_overlong(56, 64, 16) + 0.5) < 1e-12, "in the window");
    CHECK(aha_reward_overlong(64, 64, 16) == -1 && aha_reward_overlong(65, 64, 16) == -1, "beyond");
    cc.w_overlong = 1;
    cc.w_language = 0.5;
    aha_reward_problem_t ap = {.kind = AHA_TASK_ADDITION, .expected = 3};
    aha_reward_score(&cc, &ap, "<think>1+2=03;</think><answer>3</answer><eos>", 56, &b);
    CHECK(fabs(b.total - (0.1 + 0.9 + 0.5 * 1.0 - 0.5)) < 1e-12, "weights combine: %g", b.total);

    /* 1 MB outputs: linear time, correct verdicts */
    size_t big_n = 1 << 20;
    char *huge = malloc(big_n + 64);
    strcpy(huge, "<think>");
    memset(huge + 7, '7', big_n);
    strcpy(huge + 7 + big_n, "</think><answer>3</answer>");
    clock_t t0 = clock();
    for (int i = 0; i < 20; i++) {
        CHECK(fabs(score_add(huge, 3, 1) - 1.0) < 1e-12, "1 MB think is still scored");
        CHECK(aha_reward_language(huge, "7") > 0.999, "1 MB language");
    }
    memset(huge, '<', big_n);
    huge[big_n] = 0;
    for (int i = 0; i < 5; i++) CHECK(score_add(huge, 3, 1) == 0, "1 MB of '<'");
    CHECK(!aha_reward_countdown(huge, nums, 4, 3), "1 MB expression rejected by length");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 10, "1 MB inputs took %.2fs", secs);
    free(huge);

    /* fuzz: random byte strings built from tag fragments and junk; rewards stay in range and are
     * deterministic */
    static const char *frags[] = {"<think>", "</think>", "<answer>", "</answer>", "<eos>", "1", "23", "+", "*",
                                  "(", ")", "/", "0", "-", " ", "\xfe", "<", ">", "9999999999"};
    aha_rng_t rng;
    aha_rng_seed(&rng, 2024);
    char buf[512];
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        int parts = (int)aha_rng_below(&rng, 12);
        for (int k = 0; k < parts; k++) {
            const char *f = frags[aha_rng_below(&rng, sizeof frags / sizeof *frags)];
            size_t l = strlen(f);
            if (n + l + 1 >= sizeof buf) break;
            memcpy(buf + n, f, l);
            n += l;
        }
        if (aha_rng_below(&rng, 4) == 0 && n + 2 < sizeof buf) buf[n++] = (char)(1 + aha_rng_below(&rng, 255));
        buf[n] = 0;
        aha_reward_breakdown_t x, y;
        aha_reward_config_default(&cc);
        cc.w_language = 0.3;
        aha_reward_score(&cc, &cp, buf, (int)n, &x);
        aha_reward_score(&cc, &cp, buf, (int)n, &y);
        CHECK(!memcmp(&x, &y, sizeof x), "deterministic on '%s'", buf);
        CHECK((x.format == 0 || x.format == 1) && (x.accuracy == 0 || x.accuracy == 1) && x.language >= 0 &&
                  x.language <= 1 && x.total >= 0 && x.total <= 1.3 + 1e-12,
              "range on '%s'", buf);
        CHECK(!x.accuracy || x.format, "accuracy requires format here");
        (void)aha_reward_countdown(buf, nums, 4, 46);
    }
    return TEST_DONE();
}
