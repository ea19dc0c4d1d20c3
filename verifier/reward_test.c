/* reward: rule rewards on adversarial outputs — format (several, nested, unclosed tags), addition
 * accuracy (huge numbers, signs, spellings), numeric equivalence, countdown accuracy (division by
 * zero, exact 1/3*3, depth / token / length limits, reused and foreign numbers, overflow), the
 * language charset spec and reward, overlong shaping, the combined scorer; 1 MB outputs are fast;
 * fuzzed bytes never crash, stay in range and are deterministic; the countdown evaluator agrees
 * with an independent exact evaluator on random expressions. */
#include "core/err.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "verifier/reward.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
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

static int near(double a, double b) {
    return fabs(a - b) < 1e-12;
}

static void test_format(void) {
    /* a text, whether it is well formed, what it shows */
    static const struct {
        const char *text;
        int well_formed;
        const char *what;
    } cases[] = {
        {"<think>1+2=03;</think><answer>3</answer><eos>", 1, "well formed"},
        {"<think></think><answer>3</answer>", 1, "empty think, no eos"},
        {"<think>a < b > c</think><answer>x<y</answer>", 1, "stray angle brackets are text"},
        {"<think>\xff\xfe</think><answer>\x80</answer>", 1, "non-ASCII content is format-neutral"},
        {"<think>x</think><answer></answer>", 0, "empty answer"},
        {"<think>x</think><answer> \n</answer>", 0, "blank answer"},
        {"<think>x</think><answer>1</answer><answer>2</answer>", 0, "two answers"},
        {"<think>x</think><answer>1<answer>2</answer>", 0, "nested answer"},
        {"<think>a<think>b</think><answer>1</answer>", 0, "nested think"},
        {"<think>a</think><think>b</think><answer>1</answer>", 0, "two think blocks"},
        {"<think>x</think><answer>1", 0, "unclosed answer"},
        {"<think>x<answer>1</answer>", 0, "unclosed think"},
        {"<think>x</answer></think><answer>1</answer>", 0, "closing answer inside think"},
        {"hi<think>x</think><answer>1</answer>", 0, "text before"},
        {"\n<think>x</think><answer>1</answer>", 0, "newline before"},
        {"<think>x</think><answer>1</answer>tail", 0, "text after"},
        {"<think>x</think><answer>1</answer>\n", 0, "newline after"},
        {"<think>x</think> <answer>1</answer>", 0, "text between"},
        {"<answer>1</answer>", 0, "no think"},
        {"<answer>1</answer><think>x</think>", 0, "answer first"},
        {"<think>x</think><answer>1</answer><eos><eos>", 0, "two eos"},
        {"<think>x<eos></think><answer>1</answer>", 0, "eos inside think"},
        {"<think>x<pad></think><answer>1</answer>", 0, "pad inside think"},
        {"<think>x</think><answer>1<|User|></answer>", 0, "user marker in answer"},
        {"<think>x<|Assistant|></think><answer>1</answer>", 0, "assistant marker in think"},
        {"<think>x</think><answer>1<bos></answer>", 0, "bos in answer"},
        {"<think>x</think><answer>1</answer><eos>x", 0, "text after eos"},
        {"<think>", 0, "only think"},
        {"<THINK>x</THINK><ANSWER>1</ANSWER>", 0, "case matters"},
        {"", 0, "empty"},
        {NULL, 0, "NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK((aha_reward_format_ok(cases[i].text) != 0) == cases[i].well_formed, cases[i].what);

    char buf[16];
    CHECK(aha_reward_extract_answer("<think>x</think><answer>42</answer><eos>", buf, sizeof buf) ==
                  0 &&
              !strcmp(buf, "42"),
          "extract");
    memset(buf, 'z', sizeof buf);
    CHECK(aha_reward_extract_answer("<think>x</think><answer>42</answer><eos>", buf, 2) ==
                  AHA_ERR_RANGE &&
              buf[0] == 'z',
          "extract: too small, untouched");
    CHECK(aha_reward_extract_answer("<think>x</think><answer>42</answer><eos>", buf, 3) == 0 &&
              !strcmp(buf, "42"),
          "extract: exact fit");
    CHECK(aha_reward_extract_answer("<answer>42</answer>", buf, sizeof buf) == AHA_ERR_FORMAT,
          "extract: malformed");
    CHECK(aha_reward_extract_answer(NULL, buf, sizeof buf) == AHA_ERR_ARG &&
              aha_reward_extract_answer("x", NULL, 1) == AHA_ERR_ARG,
          "extract: NULL");
    CHECK(aha_reward_first_answer("junk<answer>7</answer><answer>8</answer>", buf, sizeof buf) ==
                  0 &&
              !strcmp(buf, "7"),
          "first answer wins");
    CHECK(aha_reward_first_answer("<answer></answer>", buf, sizeof buf) == 0 && buf[0] == 0,
          "empty first answer");
    CHECK(aha_reward_first_answer("<answer>7", buf, sizeof buf) == AHA_ERR_FORMAT,
          "unclosed first answer");
    CHECK(aha_reward_first_answer("</answer>7<answer>", buf, sizeof buf) == AHA_ERR_FORMAT,
          "reversed tags");
    CHECK(aha_reward_first_answer(NULL, buf, sizeof buf) == AHA_ERR_ARG, "first answer NULL");
}

static void test_addition(void) {
    /* the scorer's default recipe: 1 / 0.1 / 0 */
    CHECK(near(score_add("<think>1+2=03;</think><answer>3</answer><eos>", 3, 1), 1.0), "correct");
    CHECK(near(score_add("<think>1+2=03;</think><answer>4</answer><eos>", 3, 1), 0.1),
          "wrong but formed");
    CHECK(score_add("<answer>3</answer><eos>", 3, 1) == 0,
          "correct but malformed counts 0 when format is required");
    CHECK(near(score_add("<answer>3</answer><eos>", 3, 0), 0.9),
          "correct, malformed, format not required");
    CHECK(near(score_add("<think></think><answer>003</answer>", 3, 1), 1.0), "leading zeros equal");
    CHECK(near(score_add("<think></think><answer>123456789012345678901234567890</answer>", 3, 1),
               0.1),
          "30-digit answer is wrong, not an overflow");
    CHECK(near(score_add("<think></think><answer>3\xff</answer>", 3, 1), 0.1),
          "non-ASCII answer wrong");
    CHECK(near(score_add("<think></think><answer>-3</answer>", -3, 1), 1.0), "negative");
    CHECK(near(score_add("<think></think><answer>3</answer><answer>3</answer>", 3, 1), 0),
          "two answers: 0");
    CHECK(near(score_add("<think></think><answer>4</answer><answer>3</answer>", 3, 0), 0),
          "loose mode judges the first");

    CHECK(aha_reward_addition("15", 15) && aha_reward_addition("015", 15) &&
              aha_reward_addition("-0", 0) && aha_reward_addition("-15", -15) &&
              aha_reward_addition("0", 0),
          "integer spellings");
    CHECK(!aha_reward_addition("+15", 15) && !aha_reward_addition("15.0", 15) &&
              !aha_reward_addition(" 15", 15) && !aha_reward_addition("15 ", 15) &&
              !aha_reward_addition("1 5", 15) && !aha_reward_addition("", 0) &&
              !aha_reward_addition("-", 0) && !aha_reward_addition("--1", 1) &&
              !aha_reward_addition("1e1", 10) && !aha_reward_addition("0x0F", 15) &&
              !aha_reward_addition("15", 16) && !aha_reward_addition(NULL, 0),
          "non-integers and wrong values");
    CHECK(aha_reward_addition("999999999999999999", 999999999999999999LL) &&
              aha_reward_addition("-999999999999999999", -999999999999999999LL),
          "18 digits");
    CHECK(!aha_reward_addition("9223372036854775807", INT64_MAX) &&
              !aha_reward_addition("0000000000000000015", 15),
          "19 digits are out of bounds, even with leading zeros");
    CHECK(!aha_reward_addition("18446744073709551631", 15), "2^64 + 15 does not wrap to 15");
    char big[2000];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(!aha_reward_addition(big, -1), "2000 nines");
}

static void test_numbers(void) {
    CHECK(aha_reward_numbers_equal("12", "12.0") && aha_reward_numbers_equal("+12", "012") &&
              aha_reward_numbers_equal("0.5", ".50") && aha_reward_numbers_equal("+.5", "0.500") &&
              aha_reward_numbers_equal("-0", "0.0") && aha_reward_numbers_equal("-1.25", "-01.250"),
          "equivalent spellings");
    CHECK(!aha_reward_numbers_equal("12", "12.01") && !aha_reward_numbers_equal("1e3", "1000") &&
              !aha_reward_numbers_equal("", "0") && !aha_reward_numbers_equal("1.", "1") &&
              !aha_reward_numbers_equal("-", "0") && !aha_reward_numbers_equal("1 ", "1") &&
              !aha_reward_numbers_equal(".", "0") && !aha_reward_numbers_equal("+-1", "-1") &&
              !aha_reward_numbers_equal("1.2.3", "1.2") &&
              !aha_reward_numbers_equal("1/2", "0.5") && !aha_reward_numbers_equal(NULL, "1") &&
              !aha_reward_numbers_equal("-1", "1"),
          "non-equivalent or malformed");
    CHECK(aha_reward_numbers_equal("123456789012345678", "123456789012345678.0") == 0,
          "19 digits in all rejected");
    CHECK(aha_reward_numbers_equal("123456789012345678", "123456789012345678"),
          "18 digits accepted");
    CHECK(!aha_reward_numbers_equal("1234567890123456789", "1234567890123456789"),
          "over 18 digits rejected");
    aha_rational_t r = {7, 7};
    CHECK(aha_reward_parse_number("12.5", &r) == 0 && r.num == 25 && r.den == 2, "12.5 = 25/2");
    CHECK(aha_reward_parse_number("-0.25", &r) == 0 && r.num == -1 && r.den == 4, "-0.25 = -1/4");
    CHECK(aha_reward_parse_number("-0", &r) == 0 && r.num == 0 && r.den == 1, "-0 = 0/1");
    CHECK(aha_reward_parse_number(".000000000000000001", &r) == 0 && r.num == 1 &&
              r.den == 1000000000000000000LL,
          "10^-18 (18 digits)");
    CHECK(aha_reward_parse_number("0.000000000000000001", &r) == AHA_ERR_FORMAT,
          "19 digits with the leading 0");
    r.num = 99;
    CHECK(aha_reward_parse_number("1e3", &r) == AHA_ERR_FORMAT && r.num == 99,
          "error leaves out untouched");
    CHECK(strstr(aha_last_error(), "1e3") != NULL, "message names the input: %s", aha_last_error());
    CHECK(aha_reward_parse_number(NULL, &r) == AHA_ERR_ARG &&
              aha_reward_parse_number("1", NULL) == AHA_ERR_ARG,
          "NULL");
}

static int cd_code(const char *e, const int *nums, int n) {
    aha_rational_t v;
    return aha_reward_countdown_eval(e, nums, n, &v);
}

static void test_countdown(void) {
    int nums[4] = {3, 7, 25, 2};
    CHECK(aha_reward_countdown("(25 - 7) * 3 - 2", nums, 4, 52), "valid expression");
    CHECK(aha_reward_countdown("25+7*3", nums, 4, 46), "precedence (25+21)");
    CHECK(aha_reward_countdown("25-7-3", nums, 4, 15), "left associative minus");
    aha_rational_t q = {0, 0};
    CHECK(aha_reward_countdown_eval("25/ 2/ 7 *3 *7", (int[]){25, 2, 7, 3, 7}, 5, &q) == 0 &&
              q.num == 75 && q.den == 2,
          "left associative division: 25/2/7*3*7 = 75/2");
    CHECK(aha_reward_countdown("\t25\n+ 7 ", nums, 4, 32), "whitespace around tokens");
    CHECK(aha_reward_countdown("25", nums, 4, 25), "not every number need be used");
    CHECK(!aha_reward_countdown("(25+7)*3", nums, 4, 46), "wrong value");
    CHECK(!aha_reward_countdown("25/(7-7)", nums, 4, 0), "number used twice");
    CHECK(!aha_reward_countdown("25+4", nums, 4, 29), "number not in the list");
    CHECK(!aha_reward_countdown("025+3", nums, 4, 28), "leading zero is not the given spelling");
    CHECK(!aha_reward_countdown("-3+25", nums, 4, 22), "no unary minus");
    CHECK(!aha_reward_countdown("+3", nums, 4, 3), "no unary plus");
    CHECK(!aha_reward_countdown("", nums, 4, 0), "empty");
    CHECK(!aha_reward_countdown("   ", nums, 4, 0), "blank");
    CHECK(!aha_reward_countdown("3+", nums, 4, 3), "dangling operator");
    CHECK(!aha_reward_countdown("3++7", nums, 4, 10), "double operator");
    CHECK(!aha_reward_countdown("(3+7", nums, 4, 10), "unclosed paren");
    CHECK(!aha_reward_countdown("3+7)", nums, 4, 10), "extra paren");
    CHECK(!aha_reward_countdown("()", nums, 4, 0), "empty parens");
    CHECK(!aha_reward_countdown("3 7", nums, 4, 37), "juxtaposition");
    CHECK(!aha_reward_countdown("3(7)", nums, 4, 21), "implicit multiplication");
    CHECK(!aha_reward_countdown("3x7", nums, 4, 21), "x is not an operator");
    CHECK(!aha_reward_countdown("3*7=21", nums, 4, 21), "no equation");
    CHECK(!aha_reward_countdown("3.0*7", nums, 4, 21), "no decimals");
    CHECK(!aha_reward_countdown("3*7\xff", nums, 4, 21), "non-ASCII byte");
    CHECK(!aha_reward_countdown("3+7", NULL, 4, 10) && !aha_reward_countdown(NULL, nums, 4, 0),
          "NULL");
    CHECK(!aha_reward_countdown("3+7", nums, -1, 10) && !aha_reward_countdown("3+7", nums, 9, 10),
          "bad n");

    /* exactness and multisets */
    int nz[3] = {5, 3, 3};
    CHECK(!aha_reward_countdown("5/(3-3)", nz, 3, 0), "division by zero is wrong, no crash");
    CHECK(aha_reward_countdown("5/3*3", nz, 3, 5), "exact rationals: 5/3*3 == 5");
    CHECK(aha_reward_countdown("5*3*3", nz, 3, 45),
          "multiset: a number given twice may be used twice");
    CHECK(!aha_reward_countdown("5*3*3*3", nz, 3, 135), "but not three times");
    int third[3] = {1, 3, 3};
    aha_rational_t v = {0, 0};
    CHECK(aha_reward_countdown_eval("1/3*3", third, 3, &v) == 0 && v.num == 1 && v.den == 1,
          "1/3*3 = 1 exactly");
    CHECK(aha_reward_countdown("1/3*3", third, 3, 1), "1/3*3 reaches 1");
    CHECK(aha_reward_countdown_eval("1/3", third, 3, &v) == 0 && v.num == 1 && v.den == 3, "1/3");
    CHECK(!aha_reward_countdown("1/3", third, 3, 0), "1/3 is not an integer");
    int six[6] = {1, 3, 1, 3, 1, 3};
    CHECK(aha_reward_countdown("1/3+1/3+1/3", six, 6, 1), "1/3+1/3+1/3 == 1 exactly");
    CHECK(aha_reward_countdown_eval("7/2", (int[]){7, 2}, 2, &v) == 0 && v.num == 7 && v.den == 2 &&
              !aha_reward_countdown("7/2", (int[]){7, 2}, 2, 3) &&
              !aha_reward_countdown("7/2", (int[]){7, 2}, 2, 4),
          "7/2 reaches no integer");
    CHECK(aha_reward_countdown_eval("3-7-25", nums, 4, &v) == 0 && v.num == -29 && v.den == 1,
          "negative values");
    CHECK(aha_reward_countdown("2/(3-7)", nums, 4, 0) == 0 &&
              aha_reward_countdown_eval("2/(3-7)", nums, 4, &v) == 0 && v.num == -1 && v.den == 2,
          "division by a negative normalises the sign");
    int zero[2] = {0, 5};
    CHECK(aha_reward_countdown("5*0", zero, 2, 0) && aha_reward_countdown("0/5", zero, 2, 0),
          "zero as a number");
    CHECK(cd_code("5/0", zero, 2) == AHA_ERR_RANGE, "5/0: range error");
    CHECK(cd_code("0", zero, 2) == 0 && cd_code("00", zero, 2) == AHA_ERR_FORMAT, "0 but not 00");

    /* error codes */
    CHECK(cd_code("3+", nums, 4) == AHA_ERR_FORMAT, "syntax -> FORMAT");
    CHECK(cd_code("3+4", nums, 4) == AHA_ERR_NOTFOUND, "foreign number -> NOTFOUND");
    CHECK(cd_code("3+3", nums, 4) == AHA_ERR_NOTFOUND, "reused number -> NOTFOUND");
    CHECK(cd_code("25/(3-3)", (int[]){25, 3, 3}, 3) == AHA_ERR_RANGE, "division by zero -> RANGE");
    CHECK(cd_code("3", NULL, 0) == AHA_ERR_NOTFOUND && cd_code("3", NULL, 1) == AHA_ERR_ARG,
          "no numbers");
    CHECK(aha_reward_countdown_eval("3", nums, 4, NULL) == AHA_ERR_ARG, "NULL out");
    v.num = 77;
    CHECK(aha_reward_countdown_eval("3+", nums, 4, &v) < 0 && v.num == 77,
          "out untouched on error");

    /* overflow: int64 wrap-around must not fake a correct answer */
    int big[8] = {999999999, 999999999, 999999999, 999999999,
                  999999999, 999999999, 999999999, 999999999};
    CHECK(!aha_reward_countdown("999999999*999999999*999999999*999999999", big, 8, 0),
          "overflow is wrong, no UB");
    CHECK(cd_code("999999999*999999999*999999999", big, 8) == AHA_ERR_RANGE, "overflow -> RANGE");
    CHECK(aha_reward_countdown("999999999*999999999", big, 8, 999999998000000001LL),
          "10^18 still exact");
    CHECK(cd_code("999999999/(999999999*999999999*999999999)", big, 8) == AHA_ERR_RANGE,
          "denominator overflow");
    int two[2] = {2000000000, 2000000000};
    CHECK(aha_reward_countdown("2000000000*2000000000", two, 2, 4000000000000000000LL),
          "4e18 fits");
    int wrap[4] = {2000000000, 2000000000, 2000000000, 2};
    CHECK(cd_code("2000000000*2000000000*2", wrap, 4) == 0 &&
              cd_code("2000000000*2000000000*2*2000000000", wrap, 4) == AHA_ERR_RANGE,
          "8e18 fits, 1.6e28 does not");
    int nine[1] = {1234567890};
    CHECK(aha_reward_countdown("1234567890", nine, 1, 1234567890), "10-digit literal");
    CHECK(cd_code("12345678901", nine, 1) == AHA_ERR_NOTFOUND,
          "11-digit literal is never a given number");
    CHECK(cd_code("00000000000000000000000000001", (int[]){1}, 1) == AHA_ERR_NOTFOUND,
          "29-digit literal");

    /* depth limit: 16 nested parentheses are fine, 17 are not */
    char deep[600];
    for (int d = 15; d <= 18; d++) {
        memset(deep, '(', (size_t)d);
        deep[d] = '3';
        memset(deep + d + 1, ')', (size_t)d);
        deep[2 * d + 1] = 0;
        CHECK(aha_reward_countdown(deep, nums, 4, 3) == (d <= AHA_COUNTDOWN_MAX_DEPTH), "depth %d",
              d);
    }
    memset(deep, '(', 300);
    deep[300] = 0;
    CHECK(cd_code(deep, nums, 4) == AHA_ERR_FORMAT,
          "300 open parens: rejected without deep recursion");
    /* token limit: 7 ones in 6 parentheses each = 97 tokens > 96; 6 of them = 83 */
    int ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int terms = 6; terms <= 7; terms++) {
        size_t k = 0;
        for (int t = 0; t < terms; t++) {
            if (t) deep[k++] = '+';
            k += (size_t)snprintf(deep + k, sizeof deep - k, "((((((1))))))");
        }
        CHECK(aha_reward_countdown(deep, ones, 8, terms) == (terms == 6), "%d terms: %s", terms,
              deep);
        if (terms == 7) CHECK(cd_code(deep, ones, 8) == AHA_ERR_FORMAT, "token limit -> FORMAT");
    }
    /* length limit: 256 bytes are fine, 257 are not */
    memset(deep, ' ', sizeof deep);
    deep[0] = '3';
    deep[AHA_COUNTDOWN_MAX_LEN] = 0;
    CHECK(aha_reward_countdown(deep, nums, 4, 3), "256 bytes");
    deep[AHA_COUNTDOWN_MAX_LEN] = ' ';
    deep[AHA_COUNTDOWN_MAX_LEN + 1] = 0;
    CHECK(!aha_reward_countdown(deep, nums, 4, 3) && cd_code(deep, nums, 4) == AHA_ERR_FORMAT,
          "257 bytes");

    /* through the scorer */
    aha_reward_config_t cc;
    aha_reward_config_default(&cc);
    aha_reward_problem_t cp = {
        .kind = AHA_TASK_COUNTDOWN, .numbers = {3, 7, 25}, .n_numbers = 3, .target = 46};
    aha_reward_breakdown_t b;
    aha_reward_score(&cc, &cp, "<think>7*3=21;25+21=46;</think><answer>25+7*3</answer><eos>", 20,
                     &b);
    CHECK(b.accuracy == 1 && b.format == 1 && near(b.total, 1) && b.language == 1,
          "countdown scored");
    aha_reward_score(&cc, &cp, "<think>25+21=46</think><answer>25+7*3=46</answer><eos>", 20, &b);
    CHECK(b.accuracy == 0 && near(b.total, 0.1), "an equation is not an expression");
    aha_reward_score(&cc, &cp, "<think></think><answer>25+21</answer><eos>", 20, &b);
    CHECK(b.accuracy == 0 && near(b.total, 0.1), "21 is not a given number");
    cp.n_numbers = 9;
    aha_reward_score(&cc, &cp, "<think></think><answer>25+7*3</answer><eos>", 20, &b);
    CHECK(b.accuracy == 0 && near(b.total, 0.1), "bad n_numbers: accuracy 0");
}

static void test_language(void) {
    char cs[128];
    CHECK(aha_reward_charset("digits+ops", cs, sizeof cs) == 0 &&
              !strcmp(cs, " ()*+-/0123456789;="),
          "digits+ops: '%s'", cs);
    CHECK(aha_reward_charset("lower+[.,]", cs, sizeof cs) == 0 &&
              !strcmp(cs, ",.abcdefghijklmnopqrstuvwxyz"),
          "lower+[.,]");
    CHECK(aha_reward_charset("[ba]+[ab]+digits", cs, sizeof cs) == 0 && !strcmp(cs, "0123456789ab"),
          "dedup, sorted");
    CHECK(aha_reward_charset("printable+newline", cs, sizeof cs) == 0 && strlen(cs) == 96 &&
              cs[0] == '\n',
          "96 bytes");
    CHECK(aha_reward_charset("letters+space", cs, sizeof cs) == 0 && strlen(cs) == 53,
          "letters+space");
    CHECK(aha_reward_charset("punct", cs, sizeof cs) == 0 && strlen(cs) == 32 && !strchr(cs, ' '),
          "punct: 32 bytes");
    CHECK(aha_reward_charset("upper", cs, sizeof cs) == 0 &&
              !strcmp(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
          "upper");
    strcpy(cs, "keep");
    CHECK(aha_reward_charset("digit", cs, sizeof cs) == AHA_ERR_CONFIG && !strcmp(cs, "keep"),
          "unknown name");
    CHECK(strstr(aha_last_error(), "\"digit\"") != NULL, "message names it: %s", aha_last_error());
    CHECK(aha_reward_charset("", cs, sizeof cs) == AHA_ERR_CONFIG, "empty spec");
    CHECK(aha_reward_charset("digits+", cs, sizeof cs) == AHA_ERR_CONFIG, "trailing +");
    CHECK(aha_reward_charset("[abc", cs, sizeof cs) == AHA_ERR_CONFIG, "unclosed [");
    CHECK(aha_reward_charset("[]", cs, sizeof cs) == AHA_ERR_CONFIG, "empty []");
    CHECK(aha_reward_charset("[a]x", cs, sizeof cs) == AHA_ERR_CONFIG, "junk after ]");
    CHECK(aha_reward_charset("digits", cs, 10) == AHA_ERR_RANGE && !strcmp(cs, "keep"),
          "too small, untouched");
    CHECK(aha_reward_charset("digits", cs, 11) == 0 && !strcmp(cs, "0123456789"), "exact fit");
    CHECK(aha_reward_charset(NULL, cs, 11) == AHA_ERR_ARG, "NULL");

    CHECK(near(aha_reward_language("<think>1+2=03;</think><answer>3</answer>", "0123456789+=;"), 1),
          "all in set");
    CHECK(near(aha_reward_language("<think>1+2 ok</think>", "0123456789+"), 0.5),
          "half in set (3 of 6)");
    CHECK(near(aha_reward_language("<think>12ab</think>", "0123456789"), 0.5), "2 of 4");
    CHECK(near(aha_reward_language("<think>1\xff\xfe"
                                   "2</think>",
                                   "0123456789"),
               0.5),
          "non-ASCII bytes count against");
    CHECK(near(aha_reward_language("<think>ab</think><think>12</think>", "0123456789"), 0),
          "only the first block");
    CHECK(near(aha_reward_language("junk<think>1a</think>", "0123456789"), 0.5),
          "found whatever the format");
    CHECK(aha_reward_language("<think></think><answer>1</answer>", "0123456789") == 0,
          "empty think: 0");
    CHECK(aha_reward_language("<answer>1</answer>", "0123456789") == 0, "no think: 0");
    CHECK(aha_reward_language("<think>123", "0123456789") == 0, "unclosed think: 0");
    CHECK(aha_reward_language("<think>123</think>", "") == 0, "empty charset: 0");
    CHECK(aha_reward_language(NULL, "1") == 0 && aha_reward_language("<think>1</think>", NULL) == 0,
          "NULL: 0");
}

static void test_overlong(void) {
    CHECK(aha_reward_overlong(40, 64, 16) == 0 && aha_reward_overlong(48, 64, 16) == 0, "short");
    CHECK(near(aha_reward_overlong(49, 64, 16), -1.0 / 16), "window start");
    CHECK(near(aha_reward_overlong(56, 64, 16), -0.5), "in the window");
    CHECK(aha_reward_overlong(64, 64, 16) == -1 && aha_reward_overlong(65, 64, 16) == -1,
          "at and beyond the cap");
    CHECK(aha_reward_overlong(64, 64, 0) == 0 && aha_reward_overlong(65, 64, 0) == -1, "no window");
    CHECK(aha_reward_overlong(65, 64, -5) == -1 && aha_reward_overlong(64, 64, -5) == 0,
          "negative window = none");
    CHECK(near(aha_reward_overlong(4, 8, 20), -0.5) && aha_reward_overlong(0, 8, 20) == 0,
          "window clamped to max_len");
    CHECK(aha_reward_overlong(1000, 0, 16) == 0 && aha_reward_overlong(5, -3, 1) == 0,
          "max_len <= 0 disables");
    CHECK(aha_reward_overlong(-7, 64, 16) == 0, "negative length");
    CHECK(aha_reward_overlong(INT_MAX, INT_MAX, INT_MAX) == -1 &&
              aha_reward_overlong(INT_MIN, INT_MAX, INT_MIN) == 0,
          "extreme ints");
    aha_rng_t r;
    aha_rng_seed(&r, 5);
    int out_of_range = 0, not_monotone = 0;
    for (int i = 0; i < 100000; i++) {
        int l = (int)aha_rng_u64(&r), m = (int)aha_rng_u64(&r), c = (int)aha_rng_u64(&r);
        if (i & 1) l %= 200, m %= 200, c %= 50;
        double x = aha_reward_overlong(l, m, c);
        out_of_range += !(x >= -1 && x <= 0);
        if (l < INT_MAX) not_monotone += aha_reward_overlong(l + 1, m, c) > x;
    }
    CHECK(out_of_range == 0 && not_monotone == 0,
          "range [-1, 0] and non-increasing in len (%d, %d)", out_of_range, not_monotone);
}

static void test_scorer(void) {
    aha_reward_config_t cc;
    aha_reward_config_default(&cc);
    CHECK(cc.w_format == 0.1 && cc.w_accuracy == 0.9 && cc.w_language == 0 && cc.w_overlong == 0 &&
              cc.correct_requires_format == 1 && !strcmp(cc.charset, " ()*+-/0123456789;="),
          "defaults: the 1 / 0.1 / 0 recipe");
    CHECK(aha_reward_config_check(&cc) == 0, "defaults check");
    aha_reward_config_t bad = cc;
    bad.w_language = NAN;
    CHECK(aha_reward_config_check(&bad) == AHA_ERR_CONFIG && strstr(aha_last_error(), "w_language"),
          "NaN weight");
    bad = cc, bad.overlong_cache = 65;
    CHECK(aha_reward_config_check(&bad) == AHA_ERR_CONFIG, "cache > max_len");
    bad = cc, bad.max_len = -1;
    CHECK(aha_reward_config_check(&bad) == AHA_ERR_CONFIG, "negative max_len");
    memset(bad.charset, 'a', sizeof bad.charset);
    bad.max_len = 64;
    CHECK(aha_reward_config_check(&bad) == AHA_ERR_CONFIG, "unterminated charset");
    CHECK(aha_reward_config_check(NULL) == AHA_ERR_ARG, "NULL config");

    /* every component and the weighted total */
    cc.w_overlong = 1;
    cc.w_language = 0.5;
    aha_reward_problem_t ap = {.kind = AHA_TASK_ADDITION, .expected = 3};
    aha_reward_breakdown_t b;
    aha_reward_score(&cc, &ap, "<think>1+2=03;</think><answer>3</answer><eos>", 56, &b);
    CHECK(b.format == 1 && b.accuracy == 1 && b.language == 1 && near(b.overlong, -0.5),
          "components");
    CHECK(near(b.total, 0.1 + 0.9 + 0.5 * 1.0 - 0.5), "weights combine: %g", b.total);
    aha_reward_score(&cc, &ap, "<think>1+2 is 3</think><answer>3</answer>", 70, &b);
    CHECK(near(b.language, 6.0 / 8) && b.overlong == -1 && near(b.total, 1 + 0.5 * 0.75 - 1),
          "language 6/8, overlong -1: %g", b.total);
    aha_reward_score(&cc, &ap, "<think>1+2=03;</think>3", 10, &b);
    CHECK(b.format == 0 && b.accuracy == 0 && b.language == 1 && near(b.total, 0.5),
          "malformed keeps language: %g", b.total);
    /* unusual inputs never fail */
    aha_reward_score(&cc, &ap, NULL, 70, &b);
    CHECK(b.format == 0 && b.accuracy == 0 && b.language == 0 && b.overlong == -1 && b.total == -1,
          "NULL response");
    aha_reward_score(NULL, &ap, "x", 1, &b);
    CHECK(b.total == 0 && b.format == 0, "NULL config: zeros");
    aha_reward_score(&cc, NULL, "x", 1, &b);
    CHECK(b.total == 0, "NULL problem: zeros");
    aha_reward_score(&cc, &ap, "x", 1, NULL); /* nothing to do, no crash */
    aha_reward_problem_t odd = {.kind = (aha_task_kind_t)7};
    aha_reward_score(&cc, &odd, "<think></think><answer>0</answer>", 1, &b);
    CHECK(b.format == 1 && b.accuracy == 0, "unknown task kind: accuracy 0");
    /* the scorer leaves the caller's last error alone */
    AHA_FAIL(AHA_ERR_IO, "sentinel %d", 42);
    aha_reward_score(&cc, &ap, "<answer>1e99</answer><think>", 1, &b);
    CHECK(strstr(aha_last_error(), "sentinel 42") != NULL, "last error kept: %s", aha_last_error());
    aha_error_clear();
}

/* 1 MB outputs: every reward is linear and still correct */
static void test_huge(void) {
    const size_t big_n = 1 << 20;
    char *huge = malloc(big_n + 64);
    int nums[4] = {3, 7, 25, 2};
    strcpy(huge, "<think>");
    memset(huge + 7, '7', big_n);
    strcpy(huge + 7 + big_n, "</think><answer>3</answer>");
    clock_t t0 = clock();
    for (int i = 0; i < 10; i++) {
        CHECK(near(score_add(huge, 3, 1), 1.0), "1 MB think is still scored");
        CHECK(aha_reward_language(huge, "7") > 0.999, "1 MB language");
    }
    /* adversarial patterns: many '<', tag prefixes, repeated tags */
    static const char *const pats[] = {"<",
                                       "<thin",
                                       "</think",
                                       "<answer",
                                       "</answer><",
                                       "<think>",
                                       "</think><answer>",
                                       "<answer></answer>",
                                       "((((",
                                       "1+",
                                       "<|User"};
    for (size_t k = 0; k < sizeof pats / sizeof *pats; k++) {
        size_t l = strlen(pats[k]), n = 0;
        while (n + l < big_n)
            memcpy(huge + n, pats[k], l), n += l;
        huge[n] = 0;
        CHECK(score_add(huge, 3, 1) == 0 && score_add(huge, 3, 0) == 0, "1 MB of '%s'", pats[k]);
        CHECK(!aha_reward_countdown(huge, nums, 4, 3), "1 MB expression rejected by length");
        CHECK(aha_reward_language(huge, "0123456789") <= 1, "language bounded");
    }
    /* a huge answer block */
    strcpy(huge, "<think>1</think><answer>");
    memset(huge + 24, '1', big_n);
    strcpy(huge + 24 + big_n, "</answer>");
    CHECK(near(score_add(huge, 1, 1), 0.1), "1 MB answer: formed, wrong");
    aha_reward_problem_t cp = {
        .kind = AHA_TASK_COUNTDOWN, .numbers = {1}, .n_numbers = 1, .target = 1};
    aha_reward_config_t cc;
    aha_reward_config_default(&cc);
    aha_reward_breakdown_t b;
    aha_reward_score(&cc, &cp, huge, 1 << 20, &b);
    CHECK(b.format == 1 && b.accuracy == 0, "1 MB countdown answer: formed, wrong");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 10, "1 MB inputs took %.2fs", secs);
    fprintf(stderr, "1 MB inputs: %.3f s in all\n", secs);
    free(huge);
}

/* ---- an independent exact evaluator for random expression trees (int64 rationals without
 * cross-cancellation, on small numbers where nothing can overflow) ---- */

typedef struct {
    long long num, den; /* den != 0; not normalised */
    int ok;             /* 0 after a division by zero */
} ref_t;

static ref_t ref_op(ref_t a, ref_t b, char op) {
    ref_t r = {0, 1, a.ok && b.ok};
    if (!r.ok) return r;
    switch (op) {
    case '+':
        r.num = a.num * b.den + b.num * a.den, r.den = a.den * b.den;
        break;
    case '-':
        r.num = a.num * b.den - b.num * a.den, r.den = a.den * b.den;
        break;
    case '*':
        r.num = a.num * b.num, r.den = a.den * b.den;
        break;
    default:
        if (b.num == 0)
            r.ok = 0;
        else
            r.num = a.num * b.den, r.den = a.den * b.num;
    }
    if (r.ok) { /* reduce to keep values small */
        long long x = r.num < 0 ? -r.num : r.num, y = r.den < 0 ? -r.den : r.den;
        while (y) {
            long long t = x % y;
            x = y;
            y = t;
        }
        if (x > 1) r.num /= x, r.den /= x;
        if (r.den < 0) r.num = -r.num, r.den = -r.den;
    }
    return r;
}

/* Builds a random fully parenthesised expression over numbers[lo..hi) into buf; returns its value.
 */
static ref_t rand_expr(aha_rng_t *r, const int *numbers, int lo, int hi, char *buf, size_t *pos) {
    if (hi - lo == 1) {
        int sp = (int)aha_rng_below(r, 2);
        *pos += (size_t)sprintf(buf + *pos, "%s%d", sp ? " " : "", numbers[lo]);
        return (ref_t){numbers[lo], 1, 1};
    }
    int mid = lo + 1 + (int)aha_rng_below(r, (uint64_t)(hi - lo - 1));
    char op = "+-*/"[aha_rng_below(r, 4)];
    buf[(*pos)++] = '(';
    ref_t a = rand_expr(r, numbers, lo, mid, buf, pos);
    buf[(*pos)++] = op;
    ref_t b = rand_expr(r, numbers, mid, hi, buf, pos);
    buf[(*pos)++] = ')';
    return ref_op(a, b, op);
}

static void test_differential(void) {
    aha_rng_t r;
    aha_rng_seed(&r, 77);
    int agree = 0, total = 0, n_div0 = 0, n_frac = 0;
    for (int it = 0; it < 20000; it++) {
        int n = 1 + (int)aha_rng_below(&r, 6), numbers[6];
        for (int i = 0; i < n; i++)
            numbers[i] = (int)aha_rng_below(&r, 30); /* zeros included */
        char buf[400];
        size_t pos = 0;
        ref_t want = rand_expr(&r, numbers, 0, n, buf, &pos);
        buf[pos] = 0;
        aha_rational_t got;
        int rc = aha_reward_countdown_eval(buf, numbers, n, &got);
        total++;
        if (!want.ok) {
            n_div0++;
            agree += rc == AHA_ERR_RANGE;
        } else {
            n_frac += want.den != 1;
            agree += rc == 0 && got.num == want.num && got.den == want.den &&
                     aha_reward_countdown(buf, numbers, n, want.num) == (want.den == 1);
        }
    }
    CHECK(agree == total, "evaluator agrees with the reference on %d/%d random expressions", agree,
          total);
    CHECK(n_div0 > 100 && n_frac > 1000, "cases covered: %d divisions by zero, %d fractions",
          n_div0, n_frac);
}

/* fuzz: random byte strings built from tag fragments and junk, plain random bytes and mutated
 * valid expressions; rewards stay in range, invariants hold, results are deterministic */
static void test_fuzz(void) {
    static const char *frags[] = {
        "<think>",    "</think>", "<answer>", "</answer>", "<eos>", "1",  "23",   "+", "*",
        "(",          ")",        "/",        "0",         "-",     " ",  "\xfe", "<", ">",
        "9999999999", "3",        "7",        "25",        "<pad>", "\n", "."};
    aha_rng_t rng;
    aha_rng_seed(&rng, 2024);
    aha_reward_config_t cc;
    aha_reward_config_default(&cc);
    cc.w_language = 0.3;
    cc.w_overlong = 1;
    aha_reward_config_t loose = cc;
    loose.correct_requires_format = 0;
    aha_reward_problem_t cp = {
        .kind = AHA_TASK_COUNTDOWN, .numbers = {3, 7, 25}, .n_numbers = 3, .target = 46};
    aha_reward_problem_t ap = {.kind = AHA_TASK_ADDITION, .expected = 23};
    int nums[4] = {3, 7, 25, 2};
    char buf[600];
    int bad_range = 0, bad_det = 0, bad_gate = 0, bad_extract = 0, bad_eval = 0, n_formed = 0,
        n_correct = 0;
    for (int it = 0; it < 60000; it++) {
        size_t n = 0;
        const int mode = it % 3;
        if (mode == 0) { /* fragments */
            int parts = (int)aha_rng_below(&rng, 14);
            for (int k = 0; k < parts; k++) {
                const char *f = frags[aha_rng_below(&rng, sizeof frags / sizeof *frags)];
                size_t l = strlen(f);
                if (n + l + 2 >= sizeof buf) break;
                memcpy(buf + n, f, l);
                n += l;
            }
            if (aha_rng_below(&rng, 4) == 0) buf[n++] = (char)(1 + aha_rng_below(&rng, 255));
        } else if (mode == 1) { /* random bytes, no NUL */
            n = (size_t)aha_rng_below(&rng, 300);
            for (size_t k = 0; k < n; k++)
                buf[k] = (char)(1 + aha_rng_below(&rng, 255));
        } else { /* a valid response, mutated */
            n = (size_t)snprintf(buf, sizeof buf, "<think>7*3=21;</think><answer>%s</answer><eos>",
                                 aha_rng_below(&rng, 2) ? "25+7*3" : "(25-3)*7/2");
            int muts = (int)aha_rng_below(&rng, 4);
            for (int k = 0; k < muts && n > 0; k++) {
                size_t at = (size_t)aha_rng_below(&rng, n);
                int kind = (int)aha_rng_below(&rng, 3);
                if (kind == 0)
                    buf[at] = "()+-*/0123 <>"[aha_rng_below(&rng, 13)];
                else if (kind == 1)
                    memmove(buf + at, buf + at + 1, n - at), n--;
                else if (n + 2 < sizeof buf)
                    memmove(buf + at + 1, buf + at, n - at),
                        buf[at] = "(7)3"[aha_rng_below(&rng, 4)], n++;
            }
        }
        buf[n] = 0;
        const int toks = (int)aha_rng_below(&rng, 100);
        for (int task = 0; task < 2; task++) {
            const aha_reward_problem_t *pb = task ? &ap : &cp;
            aha_reward_breakdown_t x, y, z;
            aha_reward_score(&cc, pb, buf, toks, &x);
            aha_reward_score(&cc, pb, buf, toks, &y);
            aha_reward_score(&loose, pb, buf, toks, &z);
            bad_det += memcmp(&x, &y, sizeof x) != 0;
            bad_range +=
                !((x.format == 0 || x.format == 1) && (x.accuracy == 0 || x.accuracy == 1) &&
                  x.language >= 0 && x.language <= 1 && x.overlong >= -1 && x.overlong <= 0 &&
                  x.total >= -1 - 1e-12 && x.total <= 1.3 + 1e-12 &&
                  near(x.total, 0.1 * x.format + 0.9 * x.accuracy + 0.3 * x.language + x.overlong));
            bad_gate += x.accuracy && !x.format; /* strict: accuracy needs format */
            bad_gate +=
                x.format && x.accuracy != z.accuracy; /* formed: both modes judge the same answer */
            bad_gate += x.format != z.format || x.language != z.language;
            n_formed += x.format == 1;
            n_correct += x.accuracy == 1;
        }
        /* a well-formed response's answer is also its first answer */
        char a1[700], a2[700];
        if (aha_reward_format_ok(buf))
            bad_extract += aha_reward_extract_answer(buf, a1, sizeof a1) != 0 ||
                           aha_reward_first_answer(buf, a2, sizeof a2) != 0 || strcmp(a1, a2) != 0;
        /* the 0/1 countdown judgement is exactly "evaluates to the target" */
        aha_rational_t v;
        int rc = aha_reward_countdown_eval(buf, nums, 4, &v);
        bad_eval +=
            !(rc == 0 || rc == AHA_ERR_FORMAT || rc == AHA_ERR_NOTFOUND || rc == AHA_ERR_RANGE);
        bad_eval += rc == 0 && (v.den <= 0 || v.num == INT64_MIN);
        bad_eval +=
            aha_reward_countdown(buf, nums, 4, 46) != (rc == 0 && v.den == 1 && v.num == 46);
        if (aha_reward_first_answer(buf, a1, sizeof a1) == 0) {
            rc = aha_reward_countdown_eval(a1, nums, 4, &v);
            bad_eval +=
                aha_reward_countdown(a1, nums, 4, 46) != (rc == 0 && v.den == 1 && v.num == 46);
        }
    }
    CHECK(bad_range == 0, "%d results out of range", bad_range);
    CHECK(bad_det == 0, "%d non-deterministic results", bad_det);
    CHECK(bad_gate == 0, "%d gating violations", bad_gate);
    CHECK(bad_extract == 0, "%d extract/first-answer mismatches", bad_extract);
    CHECK(bad_eval == 0, "%d evaluator inconsistencies", bad_eval);
    CHECK(n_formed > 1000 && n_correct > 100, "fuzz reached formed (%d) and correct (%d) responses",
          n_formed, n_correct);
}

static const tu_case_t cases[] = {
    {"format", test_format},       {"addition", test_addition}, {"numbers", test_numbers},
    {"countdown", test_countdown}, {"language", test_language}, {"overlong", test_overlong},
    {"scorer", test_scorer},       {"huge", test_huge},         {"differential", test_differential},
    {"fuzz", test_fuzz},
};

TU_MAIN(cases)
