/* tasks/trace_check.h — test helper (header-only): re-reads an addition carry trace independently
 * of the generator in addition.c and reports how many of its steps are wrong.
 *
 * A step is wrong if its terms are not exactly (a's digit, b's digit — 0 past an operand's last
 * digit —, "1" if the trace's previous step carried) or its two-digit sum is not the sum of its
 * terms. The carry
 * between steps is the one the trace itself wrote, so a single mistake counts once. */
#ifndef AHA_TASKS_TRACE_CHECK_H
#define AHA_TASKS_TRACE_CHECK_H
#include <stdint.h>
#include <string.h>
#include "tasks/addition.h"

typedef struct {
    int steps;     /* steps read */
    int errors;    /* wrong steps */
    int64_t value; /* the number the trace spells: sums' low digits plus the final carry */
} tc_result_t;

static inline int tc_digits(int64_t v) {
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* Parses the trace text in [s, end) (between <think> and </think>) for problem P. Returns 0 and
 * fills *res, or -1 if the text is not a sequence of well-formed steps, one per column. */
static inline int tc_check(const aha_add_problem_t *p, const char *s, const char *end,
                           tc_result_t *res) {
    const int na = tc_digits(p->a), nb = tc_digits(p->b), cols = na > nb ? na : nb;
    int64_t a = p->a, b = p->b, value = 0, place = 1;
    int carry = 0, col = 0, errors = 0;
    while (s < end) {
        int terms[4], nt = 0;
        for (;;) { /* digit ('+' digit)* */
            if (s >= end || *s < '0' || *s > '9' || nt == 4) return -1;
            terms[nt++] = *s++ - '0';
            if (s < end && *s == '+')
                s++;
            else
                break;
        }
        if (end - s < 4 || s[0] != '=' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
            s[3] != ';')
            return -1;
        const int sum = (s[1] - '0') * 10 + (s[2] - '0');
        s += 4;
        if (col >= cols) return -1;
        int want[3], nw = 0;
        want[nw++] = col < na ? (int)(a % 10) : 0;
        want[nw++] = col < nb ? (int)(b % 10) : 0;
        if (carry) want[nw++] = 1;
        int bad = nt != nw, total = 0;
        for (int i = 0; i < nt; i++) {
            total += terms[i];
            if (i < nw && terms[i] != want[i]) bad = 1;
        }
        if (sum != total) bad = 1;
        errors += bad;
        value += (int64_t)(sum % 10) * place;
        place *= 10;
        carry = sum / 10;
        a /= 10, b /= 10, col++;
    }
    if (col != cols) return -1;
    res->steps = col;
    res->errors = errors;
    res->value = value + carry * place;
    return 0;
}

/* Reads "A+B" between "<|User|>" and "<|Assistant|>" of a prompt or document. */
static inline int tc_parse_problem(const char *doc, aha_add_problem_t *p) {
    const char *s = strstr(doc, "<|User|>");
    if (!s) return -1;
    s += strlen("<|User|>");
    int64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (*s < '0' || *s > '9') return -1;
        while (*s >= '0' && *s <= '9')
            v[k] = v[k] * 10 + (*s++ - '0');
        if (*s++ != (k == 0 ? '+' : '<')) return -1;
    }
    if (strncmp(s - 1, "<|Assistant|>", 13)) return -1;
    p->a = v[0];
    p->b = v[1];
    return 0;
}

#endif
