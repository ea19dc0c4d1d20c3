/* model/sampler.c — temperature / nucleus (top-p) sampling from one row of logits. */
#include <math.h>
#include <stddef.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/model.h"

/* True if candidate a ranks before b: higher probability, ties -> lower token id. */
static int ranks_before(const float *p, int a, int b) {
    return p[a] > p[b] || (p[a] == p[b] && a < b);
}

/* Sorts idx[0..n) (token ids stored as floats, exact below 2^24) so that the best ranked
 * (ranks_before) comes first. Heap sort: in place, no allocation, deterministic. */
static void sort_desc(float *idx, int n, const float *p) {
    /* max-heap on "ranks after", so the worst ranked ends up at the root and is moved to the end */
    for (int start = n / 2 - 1; start >= 0; start--) {
        int root = start;
        for (;;) {
            int child = 2 * root + 1;
            if (child >= n) break;
            if (child + 1 < n && ranks_before(p, (int)idx[child], (int)idx[child + 1])) child++;
            if (!ranks_before(p, (int)idx[root], (int)idx[child])) break;
            float t = idx[root];
            idx[root] = idx[child];
            idx[child] = t;
            root = child;
        }
    }
    for (int end = n - 1; end > 0; end--) {
        float t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        int root = 0;
        for (;;) {
            int child = 2 * root + 1;
            if (child >= end) break;
            if (child + 1 < end && ranks_before(p, (int)idx[child], (int)idx[child + 1])) child++;
            if (!ranks_before(p, (int)idx[root], (int)idx[child])) break;
            float s = idx[root];
            idx[root] = idx[child];
            idx[child] = s;
            root = child;
        }
    }
}

int aha_sample_logits(const float *logits, int V, float temperature, float top_p, aha_rng_t *rng,
                      float *scratch, float *logprob_out) {
    if (!logits || V <= 0) return AHA_FAIL(AHA_ERR_ARG, "aha_sample_logits: no logits (V=%d)", V);
    if (V >= (1 << 24)) return AHA_FAIL(AHA_ERR_ARG, "aha_sample_logits: V=%d too large", V);
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

    /* p = exp(z - max z) with z = logits / temperature (unnormalised) */
    float *p = scratch, *idx = scratch + V;
    float mx = logits[0] / temperature;
    for (int i = 1; i < V; i++) {
        float z = logits[i] / temperature;
        mx = z > mx ? z : mx;
    }
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        double e = exp((double)(logits[i] / temperature) - mx);
        p[i] = (float)e;
        sum += e;
    }
    float u = aha_rng_uniform(rng);
    int tok = -1;
    if (top_p >= 1.0f) {
        double target = (double)u * sum, cum = 0.0;
        for (int i = 0; i < V; i++) {
            if (p[i] <= 0.0f) continue;
            tok = i;
            cum += p[i];
            if (cum > target) break;
        }
    } else {
        for (int i = 0; i < V; i++)
            idx[i] = (float)i;
        sort_desc(idx, V, p);
        double need = (double)top_p * sum, cum = 0.0;
        int n_keep = 0;
        while (n_keep < V) {
            cum += p[(int)idx[n_keep]];
            n_keep++;
            if (cum >= need) break;
        }
        double target = (double)u * cum, run = 0.0;
        for (int i = 0; i < n_keep; i++) {
            tok = (int)idx[i];
            run += p[tok];
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
