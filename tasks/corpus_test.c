/* corpus: determinism, the measured document mix matches the configuration (addition.h), every
 * document tokenizes, injected mistakes really make traces (and answers) wrong, wrong direct
 * answers are plausible, malformed documents really are malformed, config and capacity errors. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include "tasks/trace_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_tags[] = {"<think>", "</think>", "<answer>",      "</answer>", "<eos>",
                                     "<bos>",   "<|User|>", "<|Assistant|>", "<pad>"};

/* 1 if [s, e) contains a tag spelling. */
static int has_tag(const char *s, const char *e) {
    for (const char *q = s; q < e; q++)
        for (size_t k = 0; k < sizeof k_tags / sizeof *k_tags; k++)
            if (!strncmp(q, k_tags[k], strlen(k_tags[k])) && q + strlen(k_tags[k]) <= e) return 1;
    return 0;
}

/* The format the verifier rewards: exactly "<think>X</think><answer>Y</answer><eos>", X and Y
 * tag-free, Y non-empty. Returns 1 and the think span, else 0. */
static int well_formed_trace(const char *r, const char **x, const char **xe) {
    if (strncmp(r, "<think>", 7)) return 0;
    const char *e = strstr(r, "</think>");
    if (!e || strncmp(e, "</think><answer>", 16)) return 0;
    const char *y = e + 16, *ye = strstr(y, "</answer>");
    if (!ye || ye == y || strcmp(ye, "</answer><eos>")) return 0;
    if (has_tag(r + 7, e) || has_tag(y, ye)) return 0;
    *x = r + 7;
    *xe = e;
    return 1;
}

/* A well-formed direct answer: exactly "<answer>Y</answer><eos>", Y tag-free and non-empty. */
static int well_formed_direct(const char *r) {
    if (strncmp(r, "<answer>", 8)) return 0;
    const char *ye = strstr(r + 8, "</answer>");
    return ye && ye != r + 8 && !strcmp(ye, "</answer><eos>") && !has_tag(r + 8, ye);
}

static int is_power_of_ten(int64_t d) {
    if (d < 1) return 0;
    while (d % 10 == 0)
        d /= 10;
    return d == 1;
}

/* w is v with one digit moved by 1 or 2, v with one digit dropped, or v +- 10^k. */
static int plausible_wrong(int64_t w, int64_t v) {
    if (w == v || w < 0) return 0;
    if (is_power_of_ten(w > v ? w - v : v - w)) return 1;
    char sv[32], sw[32];
    snprintf(sv, sizeof sv, "%lld", (long long)v);
    snprintf(sw, sizeof sw, "%lld", (long long)w);
    size_t n = strlen(sv);
    if (strlen(sw) == n) {
        int diffs = 0, ok = 1;
        for (size_t i = 0; i < n; i++)
            if (sv[i] != sw[i]) diffs++, ok &= abs(sv[i] - sw[i]) <= 2;
        if (diffs == 1 && ok) return 1;
    }
    for (size_t i = 0; i < n && n > 1; i++) { /* drop digit i, leading zeros vanish */
        char d[32];
        memcpy(d, sv, i);
        strcpy(d + i, sv + i + 1);
        if (strtoll(d, NULL, 10) == w) return 1;
    }
    return 0;
}

typedef struct {
    int n, malformed, malformed_from_trace, direct, direct_correct, direct_implausible, trace,
        trace_mistake;
    int trace_bad_mistake, mal_kind[5], unparsed, correct_malformed;
} stats_t;

/* Classifies documents [0, n) of the corpus for (cc, ac, seed) and checks each one. */
static void measure(const aha_corpus_config_t *cc, const aha_add_config_t *ac, uint64_t seed, int n,
                    stats_t *st) {
    memset(st, 0, sizeof *st);
    st->n = n;
    char doc[1024], doc2[1024];
    int ids[1024], nt;
    for (int i = 0; i < n; i++) {
        int rc = aha_corpus_document(cc, ac, seed, (uint64_t)i, doc, sizeof doc);
        CHECK(rc == 0, "doc %d: %s", i, aha_last_error());
        if (rc) continue;
        CHECK(aha_corpus_document(cc, ac, seed, (uint64_t)i, doc2, sizeof doc2) == 0 &&
                  !strcmp(doc, doc2),
              "deterministic");
        CHECK(aha_tok_encode(doc, ids, 1024, &nt) == 0, "tokenizes: %s: %s", doc, aha_last_error());
        if (ac->max_digits <= 3)
            CHECK(nt <= 128, "document %d fits the demo context (%d tokens): %s", i, nt, doc);
        aha_add_problem_t p;
        if (tc_parse_problem(doc, &p) != 0 || strncmp(doc, "<bos><|User|>", 13)) {
            st->unparsed++;
            CHECK(0, "prompt of %s", doc);
            continue;
        }
        CHECK(!aha_add_is_test(ac, &p), "corpus uses a test problem: %s", doc);
        const char *resp = strstr(doc, "<|Assistant|>") + 13;
        int64_t v;
        const int parsed = aha_add_parse_answer(resp, &v) == 0;
        const int correct = parsed && v == p.a + p.b;
        const char *x, *xe;
        if (well_formed_direct(resp)) {
            st->direct++;
            CHECK(parsed, "direct answer parses: %s", doc);
            if (correct)
                st->direct_correct++;
            else if (!plausible_wrong(v, p.a + p.b)) {
                st->direct_implausible++;
                CHECK(0, "implausible wrong answer: %s", doc);
            }
        } else if (well_formed_trace(resp, &x, &xe)) {
            st->trace++;
            tc_result_t tr = {0, -1, -1};
            CHECK(tc_check(&p, x, xe, &tr) == 0, "trace parses: %s", doc);
            CHECK(parsed && v == tr.value, "the answer is the one the trace spells: %s", doc);
            if (tr.errors == 0) {
                CHECK(correct, "a clean trace gives the right answer: %s", doc);
            } else {
                st->trace_mistake++;
                if (tr.errors != 1 || correct) st->trace_bad_mistake++;
                CHECK(tr.errors == 1, "exactly one wrong step (%d): %s", tr.errors, doc);
                CHECK(!correct, "an injected mistake makes the answer wrong: %s", doc);
            }
        } else {
            st->malformed++;
            st->correct_malformed += correct;
            st->malformed_from_trace += strchr(resp, ';') != NULL;
            const char *last_answer_end = NULL;
            for (const char *q = strstr(resp, "</answer>"); q; q = strstr(q + 1, "</answer>"))
                last_answer_end = q;
            if (strstr(resp, "<think>") && !strstr(resp, "</think>"))
                st->mal_kind[0]++;
            else if (!strstr(resp, "<answer>") || !strstr(resp, "</answer>"))
                st->mal_kind[1]++;
            else if (strstr(resp, "</answer><answer>"))
                st->mal_kind[2]++;
            else if (!strncmp(resp, "<answer>", 8) && strstr(resp, "<think>"))
                st->mal_kind[4]++;
            else if (last_answer_end && strcmp(last_answer_end, "</answer><eos>"))
                st->mal_kind[3]++;
            else
                CHECK(0, "unclassified malformed document: %s", doc);
            /* every malformed document ends with <eos> and keeps the prompt intact */
            CHECK(strlen(resp) >= 5 && !strcmp(resp + strlen(resp) - 5, "<eos>"),
                  "ends with <eos>: %s", doc);
        }
    }
}

static void near(double got, double want, double tol, const char *what) {
    CHECK(fabs(got - want) <= tol, "%s: measured %.4f, configured %.4f (tolerance %.3f)", what, got,
          want, tol);
}

static void test_mixes(void) {
    aha_corpus_config_t cc;
    aha_corpus_config_default(&cc);
    CHECK(cc.p_direct == 0.6 && cc.p_direct_correct == 0.25 && cc.p_trace == 0.4 &&
              cc.p_trace_mistake == 0.25 && cc.p_malformed == 0.1,
          "default mix (docs/corpus.md)");
    aha_add_config_t ac = {1, 3, 0.1};

    /* the default mix over 10k documents */
    const int N = 10000;
    stats_t st;
    measure(&cc, &ac, 3, N, &st);
    const double mal = (double)st.malformed / N, dir = (double)st.direct / N,
                 tr = (double)st.trace / N;
    printf("default mix over %d docs: direct %.3f (correct %.3f of them), trace %.3f (one mistake "
           "%.3f of them), "
           "malformed %.3f (%.3f from traces, %.3f correct); malformed kinds %d %d %d %d %d\n",
           N, dir, (double)st.direct_correct / st.direct, tr, (double)st.trace_mistake / st.trace,
           mal, (double)st.malformed_from_trace / st.malformed,
           (double)st.correct_malformed / st.malformed, st.mal_kind[0], st.mal_kind[1],
           st.mal_kind[2], st.mal_kind[3], st.mal_kind[4]);
    const double wd = cc.p_direct / (cc.p_direct + cc.p_trace);
    near(mal, cc.p_malformed, 0.015, "malformed share");
    near(dir, (1 - cc.p_malformed) * wd, 0.02, "well-formed direct share");
    near(tr, (1 - cc.p_malformed) * (1 - wd), 0.02, "well-formed trace share");
    near((double)st.direct_correct / st.direct, cc.p_direct_correct, 0.03,
         "direct answers correct");
    near((double)st.trace_mistake / st.trace, cc.p_trace_mistake, 0.03, "traces with a mistake");
    near((double)st.malformed_from_trace / st.malformed, 1 - wd, 0.06,
         "malformed documents built from traces");
    /* expected kind shares among malformed: direct picks 1 of 4 kinds, traces 1 of 5 */
    for (int k = 0; k < 5; k++) {
        double want = (k < 4 ? wd / 4 : 0) + (1 - wd) / 5;
        near((double)st.mal_kind[k] / st.malformed, want, 0.05, "malformation kind share");
    }
    CHECK(st.trace_bad_mistake == 0 && st.direct_implausible == 0 && st.unparsed == 0,
          "per-document checks");
    /* correct and well-formed: what a perfect imitator of the corpus would score */
    const double imitator = (st.trace - st.trace_mistake) / (double)N;
    printf("well-formed and correct trace documents: %.3f\n", imitator);
    near(imitator, (1 - cc.p_malformed) * (1 - wd) * (1 - cc.p_trace_mistake), 0.02,
         "well-formed correct traces");

    /* a different mix is followed too (shares come from the config, not constants) */
    aha_corpus_config_t c2 = {0.6, 0.5, 0.4, 0.5, 0.3, 0, 0, 0, 0};
    aha_add_config_t ac2 = {2, 5, 0.2};
    measure(&c2, &ac2, 8, 5000, &st);
    near((double)st.malformed / 5000, 0.3, 0.025, "mix 2 malformed");
    near((double)st.direct / 5000, 0.7 * 0.6, 0.025, "mix 2 direct");
    near((double)st.direct_correct / st.direct, 0.5, 0.04, "mix 2 direct correct");
    near((double)st.trace_mistake / st.trace, 0.5, 0.04, "mix 2 trace mistakes");

    /* extremes: every trace mistaken; every document malformed; only direct answers */
    aha_corpus_config_t all_wrong = {0, 0, 1, 1, 0, 0, 0, 0, 0};
    measure(&all_wrong, &ac, 3, 2000, &st);
    CHECK(st.trace == 2000 && st.trace_mistake == 2000 && st.trace_bad_mistake == 0,
          "all traces mistaken: %d/%d", st.trace_mistake, st.trace);
    aha_corpus_config_t all_bad = cc;
    all_bad.p_malformed = 1;
    measure(&all_bad, &ac, 3, 2000, &st);
    CHECK(st.malformed == 2000, "all documents malformed: %d", st.malformed);
    for (int k = 0; k < 5; k++)
        CHECK(st.mal_kind[k] > 100, "malformation kind %d occurs (%d)", k, st.mal_kind[k]);
    aha_corpus_config_t only_direct = {1, 0, 0, 0, 0, 0, 0, 0, 0};
    measure(&only_direct, &ac, 3, 2000, &st);
    CHECK(st.direct == 2000 && st.direct_correct == 0 && st.direct_implausible == 0,
          "all direct answers wrong");
    aha_add_config_t one_digit = {1, 1, 0.1}; /* wrong answers for sums like 0 stay non-negative */
    measure(&only_direct, &one_digit, 3, 2000, &st);
    CHECK(st.direct == 2000 && st.direct_correct == 0, "one-digit wrong answers");
    aha_add_config_t twelve = {12, 12, 0.1}; /* longest documents still fit and check out */
    measure(&cc, &twelve, 3, 1000, &st);
    CHECK(st.unparsed == 0 && st.trace_bad_mistake == 0, "twelve digits");

    /* determinism across calls and seeds; documents differ by index and seed */
    char a[1024], b[1024];
    aha_corpus_document(&cc, &ac, 3, 17, a, sizeof a);
    aha_corpus_document(&cc, &ac, 4, 17, b, sizeof b);
    int same = !strcmp(a, b);
    aha_corpus_document(&cc, &ac, 3, 18, b, sizeof b);
    CHECK(!same && strcmp(a, b), "documents vary with seed and index");

    /* capacity: untouched buffer below the need (exact heap buffers for ASan), exact fit works */
    char full[1024];
    CHECK(aha_corpus_document(&cc, &ac, 3, 5, full, sizeof full) == 0, "doc");
    const size_t need = strlen(full) + 1;
    for (size_t cap = 0; cap <= need; cap++) {
        char *buf = malloc(cap ? cap : 1);
        if (cap) buf[0] = 'Z';
        int rc = aha_corpus_document(&cc, &ac, 3, 5, buf, cap);
        if (cap < need)
            CHECK(rc == AHA_ERR_RANGE && (cap == 0 || buf[0] == 'Z'), "cap %zu: %d", cap, rc);
        else
            CHECK(rc == 0 && !strcmp(buf, full), "exact cap");
        free(buf);
    }

    /* config errors */
    const aha_corpus_config_t bad[] = {
        {0, 0.25, 0, 0.25, 0.1, 0, 0, 0, 0},   {-0.1, 0.25, 0.6, 0.25, 0.1, 0, 0, 0, 0}, {0.4, 1.5, 0.6, 0.25, 0.1, 0, 0, 0, 0},
        {0.4, 0.25, 0.6, -1, 0.1, 0, 0, 0, 0}, {0.4, 0.25, 0.6, 0.25, 1.01, 0, 0, 0, 0}, {0.4, 0.25, 0.6, 0.25, 0.1, 1.5, 0, 0, 0},
        {0.4, 0.25, 0.6, 0.25, 0.1, 0, -0.5, 0, 0}, {0.4, 0.25, 0.6, 0.25, 0.1, 0, 0, 2, 0}, {NAN, 0.25, 0.6, 0.25, 0.1, 0, 0, 0, 0}, {0.4, 0.25, 0.6, 0.25, 0.1, 0, 0, 0, 1.5},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        strcpy(a, "keep");
        CHECK(aha_corpus_document(&bad[k], &ac, 3, 0, a, sizeof a) == AHA_ERR_CONFIG &&
                  !strcmp(a, "keep"),
              "bad corpus config %zu", k);
    }
    aha_add_config_t bad_ac = {4, 2, 0.1};
    CHECK(aha_corpus_document(&cc, &bad_ac, 3, 0, a, sizeof a) == AHA_ERR_CONFIG,
          "bad task config");
    CHECK(aha_corpus_document(NULL, &ac, 3, 0, a, sizeof a) == AHA_ERR_ARG, "NULL corpus config");
}

/* The think text of DOC mapped back from the second language (aha_add_lang2) into OUT: the whole
 * document with every byte between <think> and </think> translated; *n2 counts the bytes that
 * were in the second language, *n1 those of the first (digits, + = ;). */
static void from_lang2(const char *doc, char *out, size_t cap, int *n1, int *n2) {
    snprintf(out, cap, "%s", doc);
    *n1 = *n2 = 0;
    char *t = strstr(out, "<think>"), *e = t ? strstr(t, "</think>") : NULL;
    char *e2 = t ? strstr(t, "<answer>") : NULL; /* an unclosed think block ends there */
    if (!e || (e2 && e2 < e)) e = e2;
    if (!t || !e) return;
    for (char *q = t + 7; q < e; q++) {
        int back = -1;
        for (int c = 0; c < 128 && back < 0; c++)
            if (strchr("0123456789+=;", c) && c && aha_add_lang2((char)c) == *q) back = c;
        if (back >= 0) {
            *q = (char)back;
            ++*n2;
        } else if (strchr("0123456789+=;", *q)) {
            ++*n1;
        }
    }
}

/* Document I of seed SEED under configs X and Y, each also mapped back from the second language
 * (from_lang2: n1 / n2 count its first / second-language think bytes). */
typedef struct {
    char x[1024], y[1024], x_back[1024], y_back[1024];
    int x_n1, x_n2, y_n1, y_n2;
} doc_pair_t;

static int doc_pair(const aha_corpus_config_t *x, const aha_corpus_config_t *y,
                    const aha_add_config_t *ac, uint64_t seed, uint64_t i, doc_pair_t *d) {
    AHA_TRY(aha_corpus_document(x, ac, seed, i, d->x, sizeof d->x));
    AHA_TRY(aha_corpus_document(y, ac, seed, i, d->y, sizeof d->y));
    from_lang2(d->x, d->x_back, sizeof d->x_back, &d->x_n1, &d->x_n2);
    from_lang2(d->y, d->y_back, sizeof d->y_back, &d->y_n1, &d->y_n2);
    return AHA_OK;
}

/* corpus.p_lang_mix: documents are the same as without it once their think text is mapped back,
 * the traces with it have second-language steps, and some mix both languages. */
static void test_lang_mix(void) {
    aha_corpus_config_t base, mix; /* the defaults: no self-checks, no second language */
    aha_corpus_config_default(&base);
    mix = base;
    mix.p_lang_mix = 0.5;
    aha_add_config_t ac = {3, 5, 0.1};
    int same = 1, with2 = 0, both = 0, traces = 0, plain_has2 = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        doc_pair_t d;
        REQUIRE_OK(doc_pair(&base, &mix, &ac, 5, i, &d));
        same &= !strcmp(d.y_back, d.x);
        plain_has2 += d.x_n2 > 0;
        if (strstr(d.x, "<think>")) traces++;
        with2 += d.y_n2 > 0;
        both += d.y_n2 > 0 && d.y_n1 > 0;
    }
    printf("p_lang_mix 0.5: %d of %d documents with a think block have second-language steps, %d "
           "mix both\n", with2, traces, both);
    CHECK(same, "mapped back, every document is the one without p_lang_mix");
    CHECK(plain_has2 == 0, "without p_lang_mix no second-language byte (%d documents)", plain_has2);
    CHECK(fabs((double)with2 / traces - 0.5) < 0.05, "share with the second language %.3f",
          (double)with2 / traces);
    CHECK(both > with2 / 2, "most mixed traces mix both languages (%d of %d)", both, with2);
}

/* corpus.p_lang_ops: a third stream, so documents with only p_lang_mix are unchanged and, mapped
 * back, the documents are those without it; the traces it picks write & : | with the first
 * language's digits, half of them in every step; the mistake rate (answers that differ from
 * a + b) is the same in both languages. */
static void test_lang_ops(void) {
    aha_corpus_config_t mix, ops, mix_ops;
    aha_corpus_config_default(&mix);
    mix.p_lang_mix = 0.3;
    mix.p_selfcheck = 0.05;
    mix_ops = mix;
    mix_ops.p_lang_ops = 0.4;
    aha_corpus_config_default(&ops);
    ops.p_lang_ops = 0.4;
    aha_add_config_t ac = {3, 5, 0.1};
    int same = 1, changed = 0, letters = 0, traces = 0, with_ops = 0, whole = 0;
    int wrong2 = 0, n2 = 0, wrong1 = 0, n1 = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        doc_pair_t d;
        REQUIRE_OK(doc_pair(&mix, &mix_ops, &ac, 5, i, &d));
        same &= !strcmp(d.x_back, d.y_back);
        changed += strcmp(d.x, d.y) != 0;
        /* p_lang_ops alone: operators only, never a second-language digit */
        char b[1024];
        REQUIRE_OK(aha_corpus_document(&ops, &ac, 5, i, b, sizeof b));
        const char *t = strstr(b, "<think>"), *te = t ? strstr(t, "</think>") : NULL;
        if (!t || !te || strstr(b, "<answer>") < t) continue;
        traces++;
        int n_ops2 = 0, n_ops1 = 0;
        for (const char *q = t + 7; q < te; q++) {
            letters += *q >= 'A' && *q <= 'J';
            n_ops2 += *q == '&' || *q == ':' || *q == '|';
            n_ops1 += *q == '+' || *q == '=' || *q == ';';
        }
        with_ops += n_ops2 > 0;
        whole += n_ops2 > 0 && n_ops1 == 0;
        long long x, y, v;
        const char *u = strstr(b, "<|User|>"), *ans = strstr(b, "<answer>");
        if (!u || !ans || sscanf(u + 8, "%lld+%lld", &x, &y) != 2 || sscanf(ans + 8, "%lld", &v) != 1)
            continue;
        if (n_ops2 > 0)
            n2++, wrong2 += v != x + y;
        else
            n1++, wrong1 += v != x + y;
    }
    printf("p_lang_ops 0.4: %d of %d traces with second-language operators, %d wholly; wrong "
           "answers %.3f (second) vs %.3f (first)\n", with_ops, traces, whole,
           (double)wrong2 / n2, (double)wrong1 / n1);
    CHECK(same, "mapped back, the documents are those of p_lang_mix alone");
    CHECK(changed > 0, "p_lang_ops changes some documents (%d)", changed);
    CHECK(letters == 0, "p_lang_ops keeps the digits (%d letters)", letters);
    CHECK(fabs((double)with_ops / traces - 0.4) < 0.04, "share with second-language operators %.3f",
          (double)with_ops / traces);
    CHECK(fabs((double)whole / with_ops - 0.5) < 0.06, "half of them wholly %.3f",
          (double)whole / with_ops);
    CHECK(fabs((double)wrong2 / n2 - (double)wrong1 / n1) < 0.05,
          "same mistake rate in both languages (%.3f, %.3f)", (double)wrong2 / n2,
          (double)wrong1 / n1);
}

/* corpus.p_lang_carry: a fourth stream, so mapped back the documents are those without it, and
 * traces p_lang_ops already chose are unchanged; of the others that carry somewhere it picks its
 * share, and in a correct trace it picked, a step has the second language's operators exactly when
 * it takes a carry (three terms: "5&6&1:12|"). */
static void test_lang_carry(void) {
    aha_corpus_config_t base, carry;
    aha_corpus_config_default(&base);
    base.p_lang_ops = 0.3;
    base.p_selfcheck = 0.05;
    carry = base;
    carry.p_lang_carry = 0.6;
    aha_add_config_t ac = {3, 5, 0.1};
    int same = 1, ops_kept = 1, eligible = 0, picked = 0, checked = 0, bad_steps = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        doc_pair_t d;
        REQUIRE_OK(doc_pair(&base, &carry, &ac, 9, i, &d));
        same &= !strcmp(d.x_back, d.y_back);
        if (d.x_n2 > 0) { /* p_lang_ops chose it: left alone */
            ops_kept &= !strcmp(d.x, d.y);
            continue;
        }
        const char *b = d.y;
        const int b2 = d.y_n2;
        const char *t = strstr(b, "<think>"), *te = t ? strstr(t, "</think>") : NULL;
        const char *u = strstr(b, "<|User|>"), *ans = strstr(b, "<answer>");
        long long x, y, v;
        if (!t || !te || !u || !ans || ans < te || sscanf(u + 8, "%lld+%lld", &x, &y) != 2 ||
            sscanf(ans + 8, "%lld", &v) != 1)
            continue;
        int carries = 0;
        for (long long m = 10; m <= 1000000; m *= 10) carries += x % m + y % m >= m;
        if (!carries) continue;
        eligible++;
        picked += b2 > 0;
        if (b2 == 0 || v != x + y || strstr(t, "wait")) continue;
        checked++;
        /* steps end in ';' (first language) or '|' (second); a step with a carry has 2 pluses */
        int pluses = 0;
        for (const char *q = t + 7; q < te; q++) {
            pluses += *q == '+' || *q == '&';
            if (*q != ';' && *q != '|') continue;
            bad_steps += (*q == '|') != (pluses == 2);
            pluses = 0;
        }
    }
    printf("p_lang_carry 0.6: %d of %d carrying traces picked; %d correct ones checked step by "
           "step\n", picked, eligible, checked);
    CHECK(same, "mapped back, the documents are those without p_lang_carry");
    CHECK(ops_kept, "traces with p_lang_ops's operators are unchanged");
    CHECK(eligible > 500 && fabs((double)picked / eligible - 0.6) < 0.05,
          "share picked %.3f of %d", (double)picked / eligible, eligible);
    CHECK(checked > 300, "%d picked traces checked", checked);
    CHECK(bad_steps == 0, "%d steps whose language does not follow their incoming carry", bad_steps);
}

/* corpus.p_selfcheck: "wait" appears only in correct traces, once, after a step whose sum is off
 * by one; without the slip and the marker the document is the one without p_selfcheck. */
static void test_selfcheck(void) {
    aha_corpus_config_t base, sc;
    aha_corpus_config_default(&base);
    sc = base;
    sc.p_selfcheck = 0.5;
    aha_add_config_t ac = {3, 5, 0.1};
    int same = 1, with = 0, bad = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        char a[1024], b[1024];
        REQUIRE_OK(aha_corpus_document(&base, &ac, 9, i, a, sizeof a));
        REQUIRE_OK(aha_corpus_document(&sc, &ac, 9, i, b, sizeof b));
        CHECK(!strstr(a, "wait"), "no marker without p_selfcheck: %s", a);
        char *w = strstr(b, "wait");
        if (!w) {
            same &= !strcmp(a, b);
            continue;
        }
        with++;
        bad += strstr(w + 4, "wait") != NULL;
        /* the slip: the step before the marker, from the previous ';' (or <think>) */
        char *start = w - 1; /* the slip's ';' */
        while (start > b && start[-1] != ';' && start[-1] != '>')
            start--;
        char slip[32], redo[32];
        snprintf(slip, sizeof slip, "%.*s", (int)(w - start), start);
        const char *re = strchr(w + 4, ';');
        REQUIRE(re, "a step after the marker: %s", b);
        snprintf(redo, sizeof redo, "%.*s", (int)(re + 1 - (w + 4)), w + 4);
        char *eq1 = strchr(slip, '='), *eq2 = strchr(redo, '=');
        REQUIRE(eq1 && eq2, "steps '%s' / '%s'", slip, redo);
        bad += (eq1 - slip) != (eq2 - redo) || strncmp(slip, redo, (size_t)(eq1 - slip)) ||
               abs(atoi(eq1 + 1) - atoi(eq2 + 1)) != 1;
        char fixed[1024];
        snprintf(fixed, sizeof fixed, "%.*s%s", (int)(start - b), b, w + 4);
        same &= !strcmp(fixed, a);
    }
    printf("p_selfcheck 0.5: %d of 2000 documents with a self-check\n", with);
    CHECK(same, "without the slip and the marker every document is the one without p_selfcheck");
    CHECK(bad == 0, "%d self-checks are not 'slip off by one, wait, same terms right'", bad);
    /* traces are 40%, 75% of them correct: ~0.5 * 0.4 * 0.75 = 15% of documents */
    CHECK(with > 200 && with < 400, "%d of 2000 documents with a self-check (want ~300)", with);
}


static const tu_case_t cases[] = {
    {"mixes", test_mixes},
    {"lang_mix", test_lang_mix},
    {"lang_ops", test_lang_ops},
    {"lang_carry", test_lang_carry},
    {"selfcheck", test_selfcheck},
};

TU_MAIN(cases)
