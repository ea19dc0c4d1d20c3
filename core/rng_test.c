/* rng: determinism, stream derivation, distributions, split and copy semantics. */
#include "core/rng.h"
#include "core/testutil.h"
#include <math.h>
#include <string.h>

static int same_stream(aha_rng_t a, aha_rng_t b, int n) {
    for (int i = 0; i < n; i++)
        if (aha_rng_u64(&a) != aha_rng_u64(&b)) return 0;
    return 1;
}

static void test_determinism(void) {
    aha_rng_t a, b, c;
    aha_rng_seed(&a, 42);
    aha_rng_seed(&b, 42);
    aha_rng_seed(&c, 43);
    CHECK(same_stream(a, b, 1000), "same seed gives same stream");
    CHECK(!same_stream(a, c, 4), "different seeds give different streams");
    aha_rng_seed(&a, 0);
    CHECK(a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 gives a non-zero state");
}

static void test_derive(void) {
    const uint64_t seed = 7;
    aha_rng_t a, b, r;
    aha_rng_derive(&a, seed, NULL, 0);
    aha_rng_seed(&b, seed);
    CHECK(same_stream(a, b, 100), "(seed, {}) == seed(seed)");

    uint64_t t12[] = {1, 2}, t21[] = {2, 1}, t1[] = {1}, t120[] = {1, 2, 0}, t13[] = {1, 3};
    aha_rng_derive(&a, seed, t12, 2);
    aha_rng_derive(&b, seed, t12, 2);
    CHECK(same_stream(a, b, 100), "derive is deterministic");
    aha_rng_derive(&b, seed, t21, 2);
    CHECK(!same_stream(a, b, 4), "order of ids matters");
    aha_rng_derive(&b, seed, t1, 1);
    CHECK(!same_stream(a, b, 4), "prefix tuple differs");
    aha_rng_derive(&b, seed, t120, 3);
    CHECK(!same_stream(a, b, 4), "tuple with trailing 0 differs");
    aha_rng_derive(&b, seed, t13, 2);
    CHECK(!same_stream(a, b, 4), "different last id differs");
    aha_rng_derive(&b, seed + 1, t12, 2);
    CHECK(!same_stream(a, b, 4), "different seed differs");
    uint64_t z = 0;
    aha_rng_derive(&b, seed, &z, 1);
    aha_rng_seed(&r, seed);
    CHECK(!same_stream(b, r, 4), "(seed, {0}) differs from (seed, {})");

    /* neighbouring streams (seed, {i}) should be uncorrelated: mean of first uniform draws */
    double sum = 0;
    int ones = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        aha_rng_derive(&r, seed, &i, 1);
        sum += aha_rng_uniform_d(&r);
        ones += __builtin_popcountll(aha_rng_u64(&r));
    }
    CHECK(fabs(sum / 4000 - 0.5) < 0.02, "first draws of derived streams average %g", sum / 4000);
    CHECK(fabs(ones / 4000.0 - 32) < 0.5, "bit balance across derived streams %g", ones / 4000.0);
}

static void test_uniform(void) {
    aha_rng_t r;
    aha_rng_seed(&r, 1);
    int bad = 0;
    double sum = 0, sumd = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = aha_rng_uniform(&r);
        double d = aha_rng_uniform_d(&r);
        if (!(u >= 0.0f && u < 1.0f) || !(d >= 0.0 && d < 1.0)) bad++;
        if (u * 16777216.0f != floorf(u * 16777216.0f)) bad++;
        sum += u;
        sumd += d;
    }
    CHECK(bad == 0, "%d uniform draws outside [0,1) or not on the 2^-24 grid", bad);
    CHECK(fabs(sum / n - 0.5) < 0.005, "uniform mean %g", sum / n);
    CHECK(fabs(sumd / n - 0.5) < 0.005, "uniform_d mean %g", sumd / n);
}

static void test_below(void) {
    aha_rng_t r;
    aha_rng_seed(&r, 2);
    enum { K = 10, N = 100000 };
    int counts[K] = {0}, bad = 0;
    for (int i = 0; i < N; i++) {
        uint64_t v = aha_rng_below(&r, K);
        if (v >= K)
            bad++;
        else
            counts[v]++;
    }
    CHECK(bad == 0, "%d draws out of range", bad);
    double chi2 = 0, e = (double)N / K;
    for (int k = 0; k < K; k++)
        chi2 += (counts[k] - e) * (counts[k] - e) / e;
    CHECK(chi2 < 40, "chi-square %g over %d bins (df=9; 40 is p < 1e-5)", chi2, K);
    for (int i = 0; i < 1000; i++)
        bad += aha_rng_below(&r, 1) != 0;
    uint64_t big = (1ULL << 63) + 12345;
    for (int i = 0; i < 1000; i++)
        bad += aha_rng_below(&r, big) >= big;
    CHECK(bad == 0, "below(1) / below(2^63+k) out of range");
}

static void test_normal(void) {
    aha_rng_t r;
    aha_rng_seed(&r, 3);
    const int n = 200000;
    double s = 0, s2 = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float x = aha_rng_normal(&r);
        if (!isfinite(x)) bad++;
        s += x;
        s2 += (double)x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK(bad == 0, "%d non-finite normals", bad);
    CHECK(fabs(mean) < 0.01, "normal mean %g", mean);
    CHECK(fabs(var - 1) < 0.02, "normal variance %g", var);
}

static void test_split_copy(void) {
    aha_rng_t p, p2, child;
    aha_rng_seed(&p, 9);
    p2 = p;
    aha_rng_split(&p, &child);
    aha_rng_u64(&p2);
    CHECK(same_stream(p, p2, 100), "split consumes exactly one parent draw");
    CHECK(!same_stream(p, child, 4), "child differs from parent");
    aha_rng_t q = p;
    CHECK(!same_stream(q, child, 4), "child differs from parent's continuation");

    aha_rng_t a;
    aha_rng_seed(&a, 11);
    for (int i = 0; i < 17; i++)
        aha_rng_u64(&a);
    aha_rng_t saved;
    memcpy(&saved, &a, sizeof a);
    float x[50], y[50];
    for (int i = 0; i < 50; i++)
        x[i] = i % 2 ? aha_rng_normal(&a) : aha_rng_uniform(&a);
    for (int i = 0; i < 50; i++)
        y[i] = i % 2 ? aha_rng_normal(&saved) : aha_rng_uniform(&saved);
    CHECK(!memcmp(x, y, sizeof x), "a copied state reproduces the sequence");
}

static const tu_case_t cases[] = {
    {"determinism", test_determinism},
    {"derive", test_derive},
    {"uniform", test_uniform},
    {"below", test_below},
    {"normal", test_normal},
    {"split_copy", test_split_copy},
};

TU_MAIN(cases)
