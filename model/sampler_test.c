/* model/sampler_test.c — aha_sample_logits: greedy, tiny top-p, sampling frequencies with and
 * without nucleus truncation, behaviour log-prob, determinism, argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"
#include "core/testutil.h"

static void check_greedy(void) {
    aha_rng_t rng;
    aha_rng_seed(&rng, 1);
    int V = 57;
    float lg[57];
    aha_sample_cand_t scratch[57];
    double worst = 0.0;
    for (int trial = 0; trial < 200; trial++) {
        int am = 0;
        for (int j = 0; j < V; j++) {
            lg[j] = 3.0f * aha_rng_normal(&rng);
            if (lg[j] > lg[am]) am = j;
        }
        aha_rng_t before = rng;
        float lp;
        int tok = aha_sample_logits(lg, V, 0.0f, 0.9f, &rng, scratch, &lp);
        REQUIRE(tok == am, "greedy %d != argmax %d", tok, am);
        REQUIRE(memcmp(&before, &rng, sizeof rng) == 0, "greedy consumed randomness");
        worst = fmax(worst, fabs(lp - tu_log_softmax_at(lg, V, 1.0, am)));
        /* tiny top-p keeps only the most likely token */
        tok = aha_sample_logits(lg, V, 1.0f, 1e-6f, &rng, scratch, &lp);
        REQUIRE(tok == am, "top_p tiny gave %d, argmax %d", tok, am);
        worst = fmax(worst, fabs(lp - tu_log_softmax_at(lg, V, 1.0, am)));
        tok = aha_sample_logits(lg, V, 0.7f, 0.0f, &rng, scratch, &lp);
        REQUIRE(tok == am, "top_p 0 gave %d, argmax %d", tok, am);
    }
    /* ties: lowest index */
    float tie[4] = {1.0f, 5.0f, 5.0f, 2.0f};
    REQUIRE(aha_sample_logits(tie, 4, 0.0f, 1.0f, NULL, NULL, NULL) == 1, "greedy tie");
    REQUIRE(aha_sample_logits(tie, 4, 1.0f, 1e-6f, &rng, scratch, NULL) == 1, "top-p tie");
    printf("[greedy] ok, max logprob err %.3g\n", worst);
    REQUIRE(worst < 1e-5, "greedy logprob error %g", worst);
}

/* Draws n samples and compares the frequencies with the expected (nucleus-renormalised)
 * distribution; also checks every logprob. */
static void check_freq(float temp, float top_p, uint64_t seed) {
    enum { V = 6 };
    const float lg[V] = {1.0f, 0.2f, -0.5f, 2.0f, 0.9f, -2.0f};
    double p[V], mx = -INFINITY, s = 0.0;
    for (int j = 0; j < V; j++)
        mx = fmax(mx, lg[j] / (double)temp);
    for (int j = 0; j < V; j++)
        s += (p[j] = exp(lg[j] / (double)temp - mx));
    for (int j = 0; j < V; j++)
        p[j] /= s;
    /* nucleus: sort descending, smallest prefix with cumulative >= top_p */
    int order[V];
    for (int j = 0; j < V; j++)
        order[j] = j;
    for (int i = 0; i < V; i++)
        for (int j = i + 1; j < V; j++)
            if (p[order[j]] > p[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double want[V] = {0}, cum = 0.0;
    for (int i = 0; i < V; i++) {
        want[order[i]] = p[order[i]];
        cum += p[order[i]];
        if (top_p < 1.0f && cum >= top_p) break;
    }
    for (int j = 0; j < V; j++)
        want[j] /= cum;

    aha_rng_t rng;
    aha_rng_seed(&rng, seed);
    aha_sample_cand_t scratch[V];
    int n = 200000, cnt[V] = {0};
    double lp_err = 0.0;
    for (int i = 0; i < n; i++) {
        float lp;
        int tok = aha_sample_logits(lg, V, temp, top_p, &rng, scratch, &lp);
        REQUIRE_OK(tok);
        REQUIRE(tok < V, "token %d", tok);
        cnt[tok]++;
        lp_err = fmax(lp_err, fabs(lp - tu_log_softmax_at(lg, V, temp, tok)));
    }
    double worst_z = 0.0;
    printf("[freq T=%.2f top_p=%.2f]", temp, top_p);
    for (int j = 0; j < V; j++) {
        double f = (double)cnt[j] / n;
        double sd = sqrt(fmax(want[j] * (1 - want[j]), 1e-12) / n);
        if (want[j] == 0.0)
            REQUIRE(cnt[j] == 0, "token %d outside the nucleus drawn", j);
        else
            worst_z = fmax(worst_z, fabs(f - want[j]) / sd);
        printf(" %d:%.4f/%.4f", j, f, want[j]);
    }
    printf("  max |z| %.2f, logprob err %.3g\n", worst_z, lp_err);
    REQUIRE(worst_z < 5.0, "frequencies off (z %.2f)", worst_z);
    REQUIRE(lp_err < 1e-5, "logprob error %g", lp_err);
}

static void check_determinism_and_errors(void) {
    int V = 105;
    float lg[105];
    aha_sample_cand_t scratch[105];
    aha_rng_t r0;
    aha_rng_seed(&r0, 3);
    for (int j = 0; j < V; j++)
        lg[j] = aha_rng_normal(&r0);
    int a[300], b[300];
    aha_rng_t r1, r2;
    aha_rng_seed(&r1, 77);
    aha_rng_seed(&r2, 77);
    for (int i = 0; i < 300; i++) {
        a[i] = aha_sample_logits(lg, V, 0.8f, 0.9f, &r1, scratch, NULL);
        b[i] = aha_sample_logits(lg, V, 0.8f, 0.9f, &r2, scratch, NULL);
    }
    REQUIRE(memcmp(a, b, sizeof a) == 0, "same RNG state gave different samples");
    REQUIRE(aha_sample_logits(lg, V, -1.0f, 1.0f, &r1, scratch, NULL) == AHA_ERR_ARG,
            "negative temperature accepted");
    REQUIRE(aha_sample_logits(lg, V, NAN, 1.0f, &r1, scratch, NULL) == AHA_ERR_ARG,
            "NaN temperature accepted");
    REQUIRE(aha_sample_logits(lg, 0, 1.0f, 1.0f, &r1, scratch, NULL) == AHA_ERR_ARG,
            "V=0 accepted");
    REQUIRE(aha_sample_logits(lg, V, 1.0f, 1.0f, NULL, scratch, NULL) == AHA_ERR_ARG,
            "missing rng accepted");
    /* a huge logit dominates; -inf logits never drawn */
    float sharp[5] = {-INFINITY, 0.0f, 50.0f, -INFINITY, 1.0f};
    for (int i = 0; i < 100; i++) {
        float lp;
        int t = aha_sample_logits(sharp, 5, 1.0f, 1.0f, &r1, scratch, &lp);
        REQUIRE(t == 2 && fabsf(lp) < 1e-6f, "sharp sample %d lp %g", t, lp);
    }
    printf("[determinism/errors] ok\n");
}

static void test_freq_t1(void) {
    check_freq(1.0f, 1.0f, 11);
}
static void test_freq_t07(void) {
    check_freq(0.7f, 1.0f, 12);
}
static void test_freq_t13_p08(void) {
    check_freq(1.3f, 0.8f, 13);
}
static void test_freq_t06_p095(void) {
    check_freq(0.6f, 0.95f, 14);
}

static const tu_case_t cases[] = {
    {"greedy", check_greedy},
    {"freq-t1", test_freq_t1},
    {"freq-t0.7", test_freq_t07},
    {"freq-t1.3-p0.8", test_freq_t13_p08},
    {"freq-t0.6-p0.95", test_freq_t06_p095},
    {"determinism-and-errors", check_determinism_and_errors},
};

TU_MAIN(cases)
