/* core/rational.h — exact int64 rationals (overflow-checked), for judging arithmetic exactly. */
#ifndef AHA_CORE_RATIONAL_H
#define AHA_CORE_RATIONAL_H
#include <stdint.h>

/* Exact rational: den > 0, gcd(|num|, den) == 1, num != INT64_MIN. */
typedef struct {
    int64_t num, den;
} aha_rational_t;

/* NUM/DEN in lowest terms with den > 0 into *out; -1 (nothing written) on a zero denominator or
 * an INT64_MIN part. */
int aha_rat_make(int64_t num, int64_t den, aha_rational_t *out);
/* a + b (a - b when SUB) into *out; -1 on overflow. */
int aha_rat_add(aha_rational_t a, aha_rational_t b, int sub, aha_rational_t *out);
/* a * b (a / b when DIV) into *out; -1 on overflow or division by zero. */
int aha_rat_mul(aha_rational_t a, aha_rational_t b, int div, aha_rational_t *out);

#endif
