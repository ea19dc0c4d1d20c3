/* model/sampler.c — temperature / nucleus (top-p) sampling from one row of logits. */
#include <math.h>
#include <stddef.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"

/* True if candidate a ranks before b: higher probability, ties -> lower token id. */
static int ranks_before(const aha_sample_cand_t *a, const aha_sample_cand_t *b) {
    return a->p > b->p || (a->p == b->p && a->id < b->id);
}

/* Moves c[root] down the max-heap on "ranks after" over c[0..n). */
static void sift_down(aha_sample_cand_t *c, int root, int n) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) break;
        if (child + 1 < n && ranks_before(&c[child], &c[child + 1])) child++;
        if (!ranks_before(&c[root], &c[child])) break;
        aha_sample_cand_t t = c[root];
        c[root] = c[child];
        c[child] = t;
        root = child;
    }
}

/* Sorts c[0..n) so that the best ranked (ranks_before) comes first. Heap sort: in place, no
 * allocation, deterministic. The heap is on "ranks after", so the worst ranked ends up at the
 * root and is moved to the end. */
static void sort_desc(aha_sample_cand_t *c, int n) {
    for (int start = n / 2 - 1; start >= 0; start--)
        sift_down(c, start, n);
    for (int end = n - 1; end > 0; end--) {
        aha_sample_cand_t t = c[0];
        c[0] = c[end];
        c[end] = t;
        sift_down(c, 0, end);
    }
}

int aha_sample_logits(const float *logits, int V, float temperature, float top_p, aha_rng_t *rng,
                      aha_sample_cand_t *scratch, float *logprob_out) {
    if (!logits || V <= 0) return AHA_FAIL(AHA_ERR_ARG, "aha_sample_logits: no logits (V=%d)", V);
    if (!(temperature >= 0.0f) || !isfinite(temperature))
        return AHA_FAIL(AHA_ERR_ARG, "aha_sample_logits: temperature must be >= 0 (got %g)",
                        (double)temperature);
    if (isnan(top_p)) return AHA_FAIL(AHA_ERR_ARG, "aha_sample_logits: top_p is NaN");

    if (temperature == 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        if (logprob_out) {
            double mx = logits[best], sum = 0.0;
            for (int i = 0; i < V; i++)
                sum += exp((double)logits[i] - mx);
            *logprob_out = (float)(-log(sum));
        }
        return best;
    }
    if (!rng || !scratch)
        return AHA_FAIL(AHA_ERR_ARG,
                        "aha_sample_logits: rng and scratch needed for temperature > 0");

    /* c[i] = (exp(z - max z), i) with z = logits / temperature (unnormalised) */
    aha_sample_cand_t *c = scratch;
    float mx = logits[0] / temperature;
    for (int i = 1; i < V; i++) {
        float z = logits[i] / temperature;
        mx = z > mx ? z : mx;
    }
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        double e = exp((double)(logits[i] / temperature) - mx);
        c[i].p = (float)e;
        c[i].id = i;
        sum += e;
    }
    float u = aha_rng_uniform(rng);
    int tok = -1;
    if (top_p >= 1.0f) {
        double target = (double)u * sum, cum = 0.0;
        for (int i = 0; i < V; i++) {
            if (c[i].p <= 0.0f) continue;
            tok = i;
            cum += c[i].p;
            if (cum > target) break;
        }
    } else {
        sort_desc(c, V);
        double need = (double)top_p * sum, cum = 0.0;
        int n_keep = 0;
        while (n_keep < V) {
            cum += c[n_keep].p;
            n_keep++;
            if (cum >= need) break;
        }
        double target = (double)u * cum, run = 0.0;
        for (int i = 0; i < n_keep; i++) {
            tok = c[i].id;
            run += c[i].p;
            if (run > target) break;
        }
    }
    if (tok < 0) tok = 0; /* unreachable: the maximum has p = 1 */
    if (logprob_out) {
        double z = (double)(logits[tok] / temperature) - mx;
        *logprob_out = (float)(z - log(sum));
    }
    return tok;
}
