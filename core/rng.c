#include "core/rng.h"
#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void aha_rng_seed(aha_rng_t *rng, uint64_t seed) {
    /* Four consecutive splitmix64 outputs: distinct inputs to a bijection, so never all zero. */
    for (int i = 0; i < 4; i++) {
        seed += GOLDEN;
        rng->s[i] = mix64(seed);
    }
}

void aha_rng_derive(aha_rng_t *rng, uint64_t seed, const uint64_t *ids, size_t n_ids) {
    /* Sponge-like absorption: the state is mixed before each id is xored in, so both the
     * values and their order (and the tuple length) change the final seed. */
    uint64_t h = seed;
    for (size_t i = 0; i < n_ids; i++)
        h = mix64(mix64(h + GOLDEN) ^ mix64(ids[i] + (i + 1) * GOLDEN));
    aha_rng_seed(rng, h);
}

uint64_t aha_rng_u64(aha_rng_t *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void aha_rng_split(aha_rng_t *parent, aha_rng_t *child) {
    /* Re-mixing the draw keeps the child's seed unrelated to values the parent hands out. */
    aha_rng_seed(child, mix64(aha_rng_u64(parent) ^ 0x5851f42d4c957f2dULL));
}

float aha_rng_uniform(aha_rng_t *rng) {
    return (float)(aha_rng_u64(rng) >> 40) * 0x1p-24f;
}

double aha_rng_uniform_d(aha_rng_t *rng) {
    return (double)(aha_rng_u64(rng) >> 11) * 0x1p-53;
}

uint64_t aha_rng_below(aha_rng_t *rng, uint64_t n) {
    if (n == 0) return 0;
    uint64_t threshold = -n % n; /* 2^64 mod n: draws below it would bias the result */
    for (;;) {
        uint64_t r = aha_rng_u64(rng);
        if (r >= threshold) return r % n;
    }
}

float aha_rng_normal(aha_rng_t *rng) {
    double u1 = 1.0 - aha_rng_uniform_d(rng); /* (0, 1]: log() stays finite */
    double u2 = aha_rng_uniform_d(rng);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
