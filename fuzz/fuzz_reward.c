/* fuzz/fuzz_reward.c — the reward parsers (verifier/reward.h) on an arbitrary response: format
 * check, answer extraction (well-formed and first answer), number parsing and equivalence, the
 * addition answer rule (tasks/addition.h), the language reward and charset specs, the task
 * table's accuracy on the raw bytes (no NUL: over-reads show) and the combined scorer under a few
 * recipes. Every result must lie in its documented range and agree with the others. */
#include "core/err.h"
#include "core/log.h"
#include "fuzz/fuzz.h"
#include "tasks/addition.h"
#include "tasks/task.h"
#include "verifier/reward.h"
#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    aha_log_set_level(AHA_LOG_ERROR);
    return 0;
}

static void check_breakdown(const aha_reward_config_t *cfg, const aha_reward_breakdown_t *b) {
    FUZZ_ASSERT(b->format == 0 || b->format == 1);
    FUZZ_ASSERT(b->accuracy == 0 || b->accuracy == 1);
    FUZZ_ASSERT(b->language >= 0 && b->language <= 1);
    FUZZ_ASSERT(b->overlong >= -1 && b->overlong <= 0);
    FUZZ_ASSERT(isfinite(b->total));
    double want = cfg->w_format * b->format + cfg->w_accuracy * b->accuracy +
                  cfg->w_language * b->language + cfg->w_overlong * b->overlong;
    FUZZ_ASSERT(fabs(b->total - want) <= 1e-9 * (1 + fabs(want)));
    if (cfg->correct_requires_format && b->format == 0) FUZZ_ASSERT(b->accuracy == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_strndup(data, size);
    const size_t len = strlen(text);
    char ans[512], first[512];

    /* format and answer extraction */
    int fmt = aha_reward_format_ok(text);
    FUZZ_ASSERT(fmt == 0 || fmt == 1);
    int rc = aha_reward_extract_answer(text, ans, sizeof ans);
    if (fmt) {
        FUZZ_ASSERT(rc == AHA_OK || (rc == AHA_ERR_RANGE && len >= sizeof ans));
    } else {
        FUZZ_ASSERT(rc == AHA_ERR_FORMAT);
    }
    if (rc == AHA_OK) FUZZ_ASSERT(strlen(ans) < len && strstr(text, ans) != NULL);
    char tiny[4];
    int rc_tiny = aha_reward_extract_answer(text, tiny, sizeof tiny);
    FUZZ_ASSERT(rc_tiny == AHA_OK || rc_tiny == AHA_ERR_FORMAT || rc_tiny == AHA_ERR_RANGE);
    int rc_first = aha_reward_first_answer(text, first, sizeof first);
    FUZZ_ASSERT(rc_first == AHA_OK || rc_first == AHA_ERR_FORMAT || rc_first == AHA_ERR_RANGE);
    if (rc == AHA_OK && rc_first == AHA_OK) FUZZ_ASSERT(strcmp(ans, first) == 0);

    /* numbers: the whole text and the extracted answer */
    const char *nums[2] = {text, rc_first == AHA_OK ? first : ""};
    for (int i = 0; i < 2; i++) {
        aha_rational_t q = {7, 7};
        int prc = aha_reward_parse_number(nums[i], &q);
        FUZZ_ASSERT(prc == AHA_OK || prc == AHA_ERR_FORMAT);
        if (prc == AHA_OK) {
            FUZZ_ASSERT(q.den > 0 && q.num != INT64_MIN);
            FUZZ_ASSERT(aha_reward_numbers_equal(nums[i], nums[i]) == 1);
        } else {
            FUZZ_ASSERT(q.num == 7 && q.den == 7);
            FUZZ_ASSERT(aha_reward_numbers_equal(nums[i], nums[i]) == 0);
        }
        int64_t v = 0x5eed;
        int arc = aha_add_parse_int(nums[i], strlen(nums[i]), &v);
        FUZZ_ASSERT(arc == 0 || arc == -1);
        if (arc == 0) {
            FUZZ_ASSERT(aha_reward_addition(nums[i], v) == 1);
            FUZZ_ASSERT(prc == AHA_OK && q.den == 1 && q.num == v);
        } else {
            FUZZ_ASSERT(v == 0x5eed);
            FUZZ_ASSERT(aha_reward_addition(nums[i], 0) == 0);
        }
    }
    int64_t pa = 0;
    int parc = aha_add_parse_answer(text, &pa);
    FUZZ_ASSERT(parc == AHA_OK || parc == AHA_ERR_FORMAT);

    /* the task table's accuracy on the raw bytes, exactly SIZE of them */
    uint8_t *raw = malloc(size ? size : 1);
    if (!raw) abort();
    if (size) memcpy(raw, data, size);
    aha_reward_problem_t prob[2] = {
        {.kind = AHA_TASK_ADDITION, .expected = 46},
        {.kind = AHA_TASK_COUNTDOWN, .numbers = {3, 7, 25, 2}, .n_numbers = 4, .target = 46},
    };
    for (int k = 0; k < 2; k++) {
        const aha_task_t *t = aha_task_by_kind(prob[k].kind);
        FUZZ_ASSERT(t != NULL);
        int acc = t->accuracy(&prob[k], (const char *)raw, size);
        FUZZ_ASSERT(acc == 0 || acc == 1);
    }
    free(raw);

    /* language reward and charset specs */
    char set[128];
    int crc = aha_reward_charset(text, set, sizeof set);
    FUZZ_ASSERT(crc == AHA_OK || crc == AHA_ERR_CONFIG || crc == AHA_ERR_RANGE);
    if (crc == AHA_OK) {
        FUZZ_ASSERT(set[0] != '\0');
        for (size_t i = 1; set[i]; i++)
            FUZZ_ASSERT((unsigned char)set[i - 1] < (unsigned char)set[i]);
        double l = aha_reward_language(text, set);
        FUZZ_ASSERT(l >= 0 && l <= 1);
    }
    double lang = aha_reward_language(text, "0123456789+-*/=;() ");
    FUZZ_ASSERT(lang >= 0 && lang <= 1);

    /* the combined scorer under a few recipes */
    aha_reward_config_t cfg[3];
    aha_reward_config_default(&cfg[0]);
    cfg[1] = cfg[0];
    cfg[1].correct_requires_format = 0;
    cfg[1].w_language = 0.5;
    cfg[1].w_overlong = 1;
    cfg[2] = cfg[1];
    cfg[2].max_len = 8;
    cfg[2].overlong_cache = 4;
    for (int c = 0; c < 3; c++) {
        FUZZ_ASSERT(aha_reward_config_check(&cfg[c]) == AHA_OK);
        for (int k = 0; k < 2; k++) {
            aha_reward_breakdown_t b;
            aha_reward_score(&cfg[c], &prob[k], text, (int)(len % 97), &b);
            check_breakdown(&cfg[c], &b);
        }
    }
    free(text);
    aha_error_clear();
    return 0;
}
