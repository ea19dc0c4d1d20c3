/* model_vs_torch: the C model against the PyTorch reference (tests/reference/model_ref.py) on the
 * committed fixtures (regenerate: make fixtures). For each fixture: load the checkpoint, forward,
 * cross-entropy + balance loss, backward; compare logits, losses, routing record and every gradient
 * tensor (relative error max|c - ref| / max|ref| <= 1e-4). */
#include "core/err.h"
#include "core/safetensors.h"
#include "core/testutil.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOL 1e-4

static const aha_st_tensor_t *need(const aha_st_file_t *f, const char *name, aha_st_dtype_t dt,
                                   size_t numel) {
    const aha_st_tensor_t *t = aha_st_find(f, name);
    size_t n = 1;
    if (t)
        for (int d = 0; d < t->ndim; d++)
            n *= (size_t)t->shape[d];
    if (!t || t->dtype != dt || n != numel) {
        fprintf(stderr, "FAIL: fixture tensor %s missing or wrong (%zu elements expected)\n", name,
                numel);
        return NULL;
    }
    return t;
}

static void run_fixture(const char *name) {
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    aha_model_t *m = NULL;
    aha_st_file_t *f = NULL;
    aha_acts_t *a = NULL;
    if (aha_checkpoint_load(dir, &m) < 0 || aha_st_open(path, &f) < 0) {
        CHECK(0, "%s: cannot load fixture (run `make fixtures`): %s", name, aha_last_error());
        goto done;
    }
    const aha_model_config_t *c = &m->cfg;
    const aha_st_tensor_t *tok = aha_st_find(f, "tokens");
    if (!tok || tok->ndim != 2) {
        CHECK(0, "%s: tokens", name);
        goto done;
    }
    const int B = (int)tok->shape[0], T = (int)tok->shape[1], V = c->vocab_size;
    const aha_st_tensor_t *len = need(f, "lengths", AHA_ST_I32, B),
                          *tg = need(f, "targets", AHA_ST_I32, (size_t)B * T),
                          *lg = need(f, "logits", AHA_ST_F32, (size_t)B * T * V);
    if (!len || !tg || !lg) {
        CHECK(0, "%s: fixture incomplete", name);
        goto done;
    }
    CHECK(aha_model_alloc_grads(m) == 0 && aha_acts_new(m, B, T, &a) == 0, "alloc");
    aha_batch_t batch = {B, T, tok->data, len->data, NULL};
    CHECK(aha_forward(m, a, &batch) == 0, "%s: forward: %s", name, aha_last_error());
    double e_logits = tu_max_rel_err(aha_acts_logits(a), lg->data, (size_t)B * T * V);
    float ce = 0, aux = aha_acts_aux_loss(a);
    CHECK(aha_ce_loss(a, tg->data, &ce) == 0, "%s: ce loss: %s", name, aha_last_error());
    float ref_ce = 0, ref_aux = 0;
    aha_st_read_f32(f, "ce_loss", &ref_ce, 1);
    aha_st_read_f32(f, "aux_loss", &ref_aux, 1);
    double e_ce = fabs(ce - ref_ce) / fabs(ref_ce),
           e_aux = fabs(aux - ref_aux) / fmax(fabs(ref_aux), 1e-12);
    if (ref_aux == 0) e_aux = fabs(aux);
    aha_model_zero_grads(m);
    CHECK(aha_backward(m, a, &batch) == 0, "%s: backward: %s", name, aha_last_error());
    /* routing record */
    int id_mismatch = 0;
    if (c->n_routed_experts > 0) {
        const aha_st_tensor_t *ids =
            need(f, "expert_ids", AHA_ST_I32, (size_t)c->n_layers * B * T * c->top_k);
        if (ids) {
            const int *want = ids->data, *got = aha_acts_expert_ids(a);
            for (size_t i = 0; i < (size_t)c->n_layers * B * T * c->top_k; i++)
                id_mismatch += want[i] != got[i];
        } else {
            id_mismatch = -1;
        }
    }
    /* every gradient tensor by name */
    double worst = 0;
    char worst_name[128] = "";
    size_t n_t = aha_model_tensor_count(c);
    for (size_t i = 0; i < n_t; i++) {
        aha_tensor_info_t ti;
        aha_model_tensor_info(c, i, &ti);
        char gname[160];
        snprintf(gname, sizeof gname, "grad.%s", ti.name);
        const aha_st_tensor_t *g = need(f, gname, AHA_ST_F32, ti.numel);
        if (!g) {
            CHECK(0, "%s: gradient %s missing", name, ti.name);
            continue;
        }
        double e = tu_max_rel_err(m->grads + ti.offset, g->data, ti.numel);
        if (e > worst) worst = e, snprintf(worst_name, sizeof worst_name, "%s", ti.name);
        CHECK(e <= TOL, "%s: grad %s rel err %.3g", name, ti.name, e);
    }
    printf("%-12s logits %.2g  ce %.2g  aux %.2g  expert-id mismatches %d  grads: %zu tensors, "
           "worst %.2g (%s)\n",
           name, e_logits, e_ce, e_aux, id_mismatch, n_t, worst, worst_name);
    CHECK(e_logits <= TOL, "%s: logits rel err %.3g", name, e_logits);
    CHECK(e_ce <= TOL, "%s: ce %.8f vs %.8f", name, ce, ref_ce);
    CHECK(e_aux <= TOL, "%s: aux %.8g vs %.8g", name, aux, ref_aux);
    CHECK(id_mismatch == 0, "%s: %d expert ids differ", name, id_mismatch);
done:
    aha_acts_destroy(&a);
    aha_st_close(&f);
    aha_model_destroy(&m);
}

static void test_moe_sigmoid(void) {
    run_fixture("moe_sigmoid");
}
static void test_moe_softmax(void) {
    run_fixture("moe_softmax");
}
static void test_dense(void) {
    run_fixture("dense");
}
static void test_moe_long(void) {
    run_fixture("moe_long");
}

static const tu_case_t cases[] = {
    {"moe_sigmoid", test_moe_sigmoid},
    {"moe_softmax", test_moe_softmax},
    {"dense", test_dense},
    {"moe_long", test_moe_long},
};

TU_MAIN(cases)
