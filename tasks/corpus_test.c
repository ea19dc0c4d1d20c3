/* corpus: the measured document mix matches the configuration; mistakes are wrong, malformed
 * documents are malformed, everything tokenizes. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include "tasks/addition.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* strict "<think>X</think><answer>Y</answer><eos>" with no further tags */
static int well_formed(const char *r) {
    if (strncmp(r, "<think>", 7)) return 0;
    const char *e = strstr(r, "</think><answer>");
    if (!e) return 0;
    const char *a = e + 16, *ae = strstr(a, "</answer>");
    if (!ae || strcmp(ae, "</answer><eos>")) return 0;
    for (const char *p = r + 7; p < e; p++) if (*p == '<') return 0;
    for (const char *p = a; p < ae; p++) if (*p == '<') return 0;
    return 1;
}

int main(void) {
    aha_corpus_config_t cc;
    aha_corpus_config_default(&cc);
    aha_add_config_t ac = {1, 3, 0.1};
    const int N = 10000;
    int n_formed = 0, n_direct = 0, n_trace_ok = 0, n_trace_wrong = 0, n_direct_ok = 0;
    char doc[1024], doc2[1024];
    int ids[1024], n;
    for (int i = 0; i < N; i++) {
        CHECK(aha_corpus_document(&cc, &ac, 3, (uint64_t)i, doc, sizeof doc) == 0, "doc %d: %s", i, aha_last_error());
        CHECK(aha_corpus_document(&cc, &ac, 3, (uint64_t)i, doc2, sizeof doc2) == 0 && !strcmp(doc, doc2), "deterministic");
        CHECK(aha_tok_encode(doc, ids, 1024, &n) == 0, "tokenizes: %s", doc);
        aha_add_problem_t p;
        aha_add_problem(&ac, 3, AHA_SPLIT_TRAIN, (uint64_t)i, &p);
        const char *resp = strstr(doc, "<|Assistant|>");
        CHECK(resp != NULL, "prompt marker");
        if (!resp) continue;
        resp += strlen("<|Assistant|>");
        int64_t v;
        int correct = aha_add_parse_answer(resp, &v) == 0 && v == p.a + p.b;
        if (well_formed(resp)) {
            n_formed++;
            if (correct) n_trace_ok++;
            else n_trace_wrong++;
        } else if (!strncmp(resp, "<answer>", 8) && !strstr(resp, "<think>") && strstr(resp, "</answer><eos>") &&
                   strstr(resp, "</answer><eos>") == strstr(resp, "</answer>")) {
            n_direct++;
            n_direct_ok += correct;
        }
    }
    /* expected shares: malformed 10%; of the rest 40% direct / 60% trace */
    double formed = (double)n_formed / N, direct = (double)n_direct / N;
    double want_formed = 0.9 * 0.6, want_direct = 0.9 * 0.4;
    printf("well-formed traces %.3f (want ~%.3f), direct %.3f (want >= %.3f), trace mistakes %.3f, direct correct %.3f\n",
           formed, want_formed, direct, want_direct, (double)n_trace_wrong / n_formed, (double)n_direct_ok / n_direct);
    CHECK(fabs(formed - want_formed) < 0.03, "well-formed share %.3f", formed);
    /* some malformed kinds (missing <think> close etc.) never look direct; a few may (e.g. "missing
     * answer tag" never does), so direct is at least its clean share */
    CHECK(direct > want_direct - 0.03 && direct < want_direct + 0.06, "direct share %.3f", direct);
    CHECK(fabs((double)n_trace_wrong / n_formed - 0.25) < 0.03, "trace mistake share");
    CHECK(fabs((double)n_direct_ok / n_direct - 0.25) < 0.04, "direct correct share");
    /* no malformed: every trace document is well formed */
    cc.p_malformed = 0;
    cc.p_direct = 0;
    cc.p_trace_mistake = 1;
    for (int i = 0; i < 500; i++) {
        aha_corpus_document(&cc, &ac, 3, (uint64_t)i, doc, sizeof doc);
        const char *resp = strstr(doc, "<|Assistant|>") + 13;
        aha_add_problem_t p;
        aha_add_problem(&ac, 3, AHA_SPLIT_TRAIN, (uint64_t)i, &p);
        int64_t v;
        CHECK(well_formed(resp), "trace is well formed: %s", resp);
        CHECK(aha_add_parse_answer(resp, &v) == 0 && v != p.a + p.b, "injected mistake makes the answer wrong: %s", doc);
    }
    cc.p_malformed = 1;
    for (int i = 0; i < 500; i++) {
        aha_corpus_document(&cc, &ac, 3, (uint64_t)i, doc, sizeof doc);
        CHECK(!well_formed(strstr(doc, "<|Assistant|>") + 13), "malformed document is malformed: %s", doc);
    }
    CHECK(aha_corpus_document(&cc, &ac, 3, 0, doc, 10) == AHA_ERR_RANGE, "capacity");
    return TEST_DONE();
}
