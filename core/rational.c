/* core/rational.c — exact rationals (invariant: den > 0, lowest terms, num != INT64_MIN). */
#include "core/rational.h"

static int64_t gcd64(int64_t a, int64_t b) { /* a, b != INT64_MIN; result >= 1 */
    uint64_t x = (uint64_t)(a < 0 ? -a : a), y = (uint64_t)(b < 0 ? -b : b);
    while (y) {
        uint64_t t = x % y;
        x = y;
        y = t;
    }
    return x ? (int64_t)x : 1;
}

/* Lowest terms with den > 0; -1 on a zero denominator or an INT64_MIN part. */
int aha_rat_make(int64_t num, int64_t den, aha_rational_t *out) {
    if (den == 0 || den == INT64_MIN || num == INT64_MIN) return -1;
    if (den < 0) num = -num, den = -den;
    int64_t g = gcd64(num, den);
    out->num = num / g;
    out->den = den / g;
    return 0;
}

/* a ± b; -1 on overflow. Uses the denominators' gcd so results stay as small as possible. */
int aha_rat_add(aha_rational_t a, aha_rational_t b, int sub, aha_rational_t *out) {
    int64_t g = gcd64(a.den, b.den), x, y, d, n;
    if (__builtin_mul_overflow(a.num, b.den / g, &x) ||
        __builtin_mul_overflow(b.num, a.den / g, &y) ||
        __builtin_mul_overflow(a.den / g, b.den, &d))
        return -1;
    if (sub ? __builtin_sub_overflow(x, y, &n) : __builtin_add_overflow(x, y, &n)) return -1;
    return aha_rat_make(n, d, out);
}

/* a * b, or a / b when DIV; -1 on overflow or division by zero. Cross-cancels first. */
int aha_rat_mul(aha_rational_t a, aha_rational_t b, int div, aha_rational_t *out) {
    if (div) {
        if (b.num == 0) return -1;
        int64_t t = b.num; /* reciprocal; b.num != INT64_MIN by the invariant */
        b.num = t < 0 ? -b.den : b.den;
        b.den = t < 0 ? -t : t;
    }
    int64_t g1 = gcd64(a.num, b.den), g2 = gcd64(b.num, a.den), n, d;
    if (__builtin_mul_overflow(a.num / g1, b.num / g2, &n) ||
        __builtin_mul_overflow(a.den / g2, b.den / g1, &d))
        return -1;
    return aha_rat_make(n, d, out);
}
