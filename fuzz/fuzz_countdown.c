/* fuzz/fuzz_countdown.c — countdown answer expressions (tasks/countdown.h aha_cd_eval, the
 * verifier's aha_reward_countdown_eval / aha_reward_countdown). Input: byte 0 gives the count n
 * of numbers (0..9: 9 is one too many, which must be refused), then n little-endian int16 numbers,
 * then the expression. aha_cd_eval gets the expression's exact bytes (no NUL, so an over-read is
 * an ASan report); the verifier functions a NUL-terminated copy. Values must be exact rationals in
 * lowest terms, and the two entry points must agree. */
#include "core/err.h"
#include "core/log.h"
#include "fuzz/fuzz.h"
#include "tasks/countdown.h"
#include "verifier/reward.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int n = data[0] % 10;
    size_t at = 1;
    int numbers[10] = {0};
    for (int i = 0; i < n; i++, at += 2)
        numbers[i] = at + 1 < size ? (int16_t)(data[at] | data[at + 1] << 8) : 0;
    if (at > size) at = size;
    size_t len = size - at;
    char *expr = malloc(len ? len : 1); /* exactly len bytes */
    if (!expr) abort();
    if (len) memcpy(expr, data + at, len);
    char *str = fuzz_strndup(data + at, len);

    aha_rational_t v = {3, 3};
    int rc = aha_reward_countdown_eval(str, numbers, n, &v);
    if (n > AHA_COUNTDOWN_MAX_NUMBERS) FUZZ_ASSERT(rc == AHA_ERR_ARG);
    FUZZ_ASSERT(rc == AHA_OK || rc == AHA_ERR_ARG || rc == AHA_ERR_FORMAT ||
                rc == AHA_ERR_NOTFOUND || rc == AHA_ERR_RANGE);
    if (rc == AHA_OK) {
        FUZZ_ASSERT(v.den > 0 && v.num != INT64_MIN && gcd64(v.num, v.den) == 1);
        FUZZ_ASSERT(aha_reward_countdown(str, numbers, n, v.num) == (v.den == 1));
    } else {
        FUZZ_ASSERT(v.num == 3 && v.den == 3);
        FUZZ_ASSERT(aha_reward_countdown(str, numbers, n, 0) == 0);
    }
    if (n <= AHA_CD_EXPR_MAX_NUMBERS) {
        aha_rational_t w = {5, 5};
        size_t stop = (size_t)-1;
        int erc = aha_cd_eval(expr, len, numbers, n, &w, &stop);
        FUZZ_ASSERT(erc >= AHA_CD_EVAL_OK && erc <= AHA_CD_EVAL_ARITH);
        FUZZ_ASSERT(stop <= len);
        if (erc == AHA_CD_EVAL_OK) {
            FUZZ_ASSERT(w.den > 0 && gcd64(w.num, w.den) == 1);
            /* the same bytes up to a NUL give the same value */
            if (strlen(str) == len) FUZZ_ASSERT(rc == AHA_OK && v.num == w.num && v.den == w.den);
        } else {
            FUZZ_ASSERT(w.num == 5 && w.den == 5);
            if (strlen(str) == len) FUZZ_ASSERT(rc != AHA_OK);
        }
    }
    free(expr);
    free(str);
    aha_error_clear();
    return 0;
}
