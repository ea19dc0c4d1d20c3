#include "verifier/reward.h"
#include "core/err.h"
#include <string.h>

static const char *const k_tags[] = {"<think>", "</think>", "<answer>", "</answer>",
                                     "<eos>",   "<bos>",    "<|User|>", "<|Assistant|>"};

/* 1 if [s, e) contains any tag spelling. */
static int has_tag(const char *s, const char *e) {
    for (const char *p = s; p < e; p++) {
        if (*p != '<') continue;
        for (size_t i = 0; i < sizeof k_tags / sizeof *k_tags; i++) {
            size_t n = strlen(k_tags[i]);
            if ((size_t)(e - p) >= n && !memcmp(p, k_tags[i], n)) return 1;
        }
    }
    return 0;
}

/* Locates X and Y of "<think>X</think><answer>Y</answer>[<eos>]"; 0 on success. */
static int split_response(const char *r, const char **ans, size_t *ans_len) {
    static const char T0[] = "<think>", T1[] = "</think><answer>", T2[] = "</answer>";
    if (strncmp(r, T0, sizeof T0 - 1)) return -1;
    const char *x = r + sizeof T0 - 1;
    const char *x_end = strstr(x, T1);
    if (!x_end || has_tag(x, x_end)) return -1;
    const char *y = x_end + sizeof T1 - 1;
    const char *y_end = strstr(y, T2);
    if (!y_end || y_end == y || has_tag(y, y_end)) return -1;
    const char *rest = y_end + sizeof T2 - 1;
    if (*rest && strcmp(rest, "<eos>")) return -1;
    *ans = y;
    *ans_len = (size_t)(y_end - y);
    return 0;
}

int aha_reward_format_ok(const char *response) {
    const char *a;
    size_t n;
    return response && split_response(response, &a, &n) == 0;
}

int aha_reward_extract_answer(const char *response, char *buf, size_t cap) {
    const char *a;
    size_t n;
    if (!response || split_response(response, &a, &n))
        return AHA_FAIL(AHA_ERR_FORMAT, "response is not <think>..</think><answer>..</answer>");
    if (n + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "answer of %zu bytes", n);
    memcpy(buf, a, n);
    buf[n] = 0;
    return AHA_OK;
}

int aha_reward_parse_int(const char *text, int64_t *out) {
    const char *p = text;
    int neg = 0;
    if (*p == '-') neg = 1, p++;
    size_t nd = strspn(p, "0123456789");
    if (nd == 0 || nd > 18 || p[nd]) return AHA_FAIL(AHA_ERR_FORMAT, "not an integer answer");
    int64_t v = 0;
    for (size_t i = 0; i < nd; i++) v = v * 10 + (p[i] - '0');
    *out = neg ? -v : v;
    return AHA_OK;
}
