#include "learner/optim.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/safetensors.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int aha_adamw_new(size_t n, aha_adamw_t **out) {
    return aha_adamw_new_shard(n, 0, n, out);
}

int aha_adamw_new_shard(size_t total, size_t offset, size_t n, aha_adamw_t **out) {
    if (!out || offset > total || n > total - offset)
        return AHA_FAIL(AHA_ERR_ARG, "adamw: shard [%zu, +%zu) of %zu parameters", offset, n,
                        total);
    aha_adamw_t *o = calloc(1, sizeof *o);
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "adamw: %zu params", n);
    o->n = n;
    o->offset = offset;
    o->total = total;
    o->m = calloc(n ? n : 1, sizeof(float));
    o->v = calloc(n ? n : 1, sizeof(float));
    o->decay = malloc(n ? n : 1);
    if (!o->m || !o->v || !o->decay) {
        aha_adamw_destroy(&o);
        return AHA_FAIL(AHA_ERR_NOMEM, "adamw: %zu params", n);
    }
    memset(o->decay, 1, n);
    *out = o;
    return AHA_OK;
}

void aha_adamw_destroy(aha_adamw_t **opt) {
    if (!opt || !*opt) return;
    aha_adamw_t *o = *opt;
    AHA_FREE(o->m, o->v, o->decay, o);
    *opt = NULL;
}

void aha_adamw_set_decay(aha_adamw_t *opt, size_t offset, size_t count, int on) {
    /* intersect [offset, offset + count) with the optimizer's [o0, o1) */
    const size_t o0 = opt->offset, o1 = opt->offset + opt->n;
    size_t a = offset > o0 ? offset : o0;
    size_t b = count > SIZE_MAX - offset ? SIZE_MAX : offset + count;
    if (b > o1) b = o1;
    if (a >= b) return;
    memset(opt->decay + (a - o0), on ? 1 : 0, b - a);
}

void aha_adamw_step(aha_adamw_t *opt, float *params, const float *grads, double lr,
                    const aha_adamw_config_t *cfg) {
    opt->t++;
    const double b1 = cfg->beta1, b2 = cfg->beta2;
    const double bc1 = 1.0 - pow(b1, (double)opt->t);
    const double bc2 = 1.0 - pow(b2, (double)opt->t);
    const float decay_mul = (float)(1.0 - lr * cfg->weight_decay);
    const float step = (float)(lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float eps = (float)cfg->eps, fb1 = (float)b1, fb2 = (float)b2;
    params += opt->offset; /* a shard: its part of the vector */
    grads += opt->offset;
    for (size_t i = 0; i < opt->n; i++) {
        float g = grads[i];
        if (opt->decay[i]) params[i] *= decay_mul;
        float m = opt->m[i] = fb1 * opt->m[i] + (1.0f - fb1) * g;
        float v = opt->v[i] = fb2 * opt->v[i] + (1.0f - fb2) * g * g;
        params[i] -= step * m / (sqrtf(v) * inv_sqrt_bc2 + eps);
    }
}

double aha_grad_norm(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return sqrt(s);
}

double aha_grad_clip(float *g, size_t n, double max_norm) {
    double norm = aha_grad_norm(g, n);
    if (max_norm > 0 && norm > max_norm) {
        float scale = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++)
            g[i] *= scale;
    }
    return norm;
}

double aha_lr_schedule(int64_t step, int64_t warmup, int64_t total, double lr_max, double lr_min) {
    if (warmup > 0 && step < warmup) return lr_max * (double)(step + 1) / (double)warmup;
    if (step >= total || total <= warmup) return lr_min;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + cos(M_PI * progress));
}

int aha_adamw_save(const aha_adamw_t *opt, const char *path) {
    if (opt->offset != 0 || opt->n != opt->total)
        return AHA_FAIL(AHA_ERR_ARG, "%s: adamw save of a shard (learner/run_state.h saves those)",
                        path);
    aha_st_writer_t *w = aha_st_writer_new();
    if (!w) return AHA_FAIL(AHA_ERR_NOMEM, "adamw save");
    int64_t n = (int64_t)opt->n, one = 1;
    int64_t t = opt->t;
    int rc = AHA_OK;
    AHA_TRY_GOTO(rc, aha_st_writer_add(w, "m", AHA_ST_F32, 1, &n, opt->m), done);
    AHA_TRY_GOTO(rc, aha_st_writer_add(w, "v", AHA_ST_F32, 1, &n, opt->v), done);
    AHA_TRY_GOTO(rc, aha_st_writer_add(w, "t", AHA_ST_I64, 1, &one, &t), done);
    AHA_TRY_GOTO(rc, aha_st_writer_save(w, path), done);
done:
    aha_st_writer_destroy(&w);
    return rc;
}

int aha_adamw_load(aha_adamw_t *opt, const char *path) {
    aha_st_file_t *f = NULL;
    AHA_TRY(aha_st_open(path, &f));
    int rc = AHA_OK;
    const aha_st_tensor_t *t = aha_st_find(f, "t");
    if (!t || t->dtype != AHA_ST_I64 || t->nbytes != sizeof(int64_t)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: missing or bad tensor 't'", path);
        goto done;
    }
    /* read both moments before touching the optimizer: it stays unchanged on error */
    const aha_st_tensor_t *m = aha_st_find(f, "m"), *v = aha_st_find(f, "v");
    if (!m || !v || m->dtype != AHA_ST_F32 || v->dtype != AHA_ST_F32 ||
        m->nbytes != opt->n * sizeof(float) || v->nbytes != opt->n * sizeof(float)) {
        rc = AHA_FAIL(AHA_ERR_FORMAT, "%s: moments missing or not %zu floats", path, opt->n);
        goto done;
    }
    memcpy(opt->m, m->data, m->nbytes);
    memcpy(opt->v, v->data, v->nbytes);
    memcpy(&opt->t, t->data, sizeof(int64_t));
done:
    aha_st_close(&f);
    return rc;
}
