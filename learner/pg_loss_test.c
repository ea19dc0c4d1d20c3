/* pg_loss: the four GRPO-family losses and group advantages against PyTorch autograd
 * (tests/fixtures/pg_loss.safetensors, regenerate: /usr/bin/python3
 * tests/reference/gen_pg_fixture.py). */
#include "core/err.h"
#include "core/testutil.h"
#include "core/safetensors.h"
#include "learner/pg_loss.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { NSEQ = 6, NTOK = 30 };

static void test_vs_torch(void) {
    aha_st_file_t *f = NULL;
    REQUIRE_OK(aha_st_open("tests/fixtures/pg_loss.safetensors", &f));
    const aha_st_tensor_t *ss = aha_st_find(f, "seq_start");
    REQUIRE(ss && ss->dtype == AHA_ST_I32 && ss->shape[0] == NSEQ + 1, "fixture seq_start");
    int starts[NSEQ + 1];
    memcpy(starts, ss->data, sizeof starts);
    float lp[NTOK], old[NTOK], old_g[NTOK], ref[NTOK], adv[NSEQ], dlogp[NTOK], want[NTOK], wl[1];
    int rc = aha_st_read_f32(f, "logp", lp, NTOK) | aha_st_read_f32(f, "logp_old", old, NTOK) |
             aha_st_read_f32(f, "logp_old_gspo", old_g, NTOK) |
             aha_st_read_f32(f, "logp_ref", ref, NTOK) | aha_st_read_f32(f, "adv", adv, NSEQ);
    CHECK(rc == 0 && starts[NSEQ] == NTOK, "fixture inputs: %s", aha_last_error());
    const char *kinds[] = {"grpo", "dr_grpo", "dapo", "gspo"};
    for (int k = 0; k < 4; k++) {
        aha_loss_kind_t kind;
        CHECK(aha_loss_kind_parse(kinds[k], &kind) == 0, "parse %s", kinds[k]);
        aha_loss_config_t cfg;
        aha_loss_config_default(kind, &cfg);
        cfg.beta = 0.04;
        cfg.max_len = 12;
        aha_pg_batch_t b = {NSEQ, starts, lp, kind == AHA_LOSS_GSPO ? old_g : old, ref, adv};
        aha_pg_stats_t st;
        CHECK(aha_pg_loss(&cfg, &b, dlogp, &st) == 0, "%s: %s", kinds[k], aha_last_error());
        char name[64];
        snprintf(name, sizeof name, "%s.loss", kinds[k]);
        CHECK(aha_st_read_f32(f, name, wl, 1) == 0, "fixture %s", name);
        snprintf(name, sizeof name, "%s.dlogp", kinds[k]);
        CHECK(aha_st_read_f32(f, name, want, NTOK) == 0, "fixture %s", name);
        double el = fabs(st.loss - wl[0]) / fmax(fabs(wl[0]), 1e-8);
        double eg = tu_max_rel_err(dlogp, want, NTOK);
        printf("%-8s loss %.6f (torch %.6f, rel err %.2g)  dlogp rel err %.2g  clip_frac %.3f\n",
               kinds[k], st.loss, wl[0], el, eg, st.clip_frac);
        CHECK(el <= 1e-4, "%s loss rel err %g", kinds[k], el);
        CHECK(eg <= 1e-4, "%s dlogp rel err %g", kinds[k], eg);
        CHECK(st.n_tokens == NTOK, "n_tokens");
        CHECK(st.clip_frac > 0 && st.clip_frac < 1, "%s: fixture should clip some but not all (%g)",
              kinds[k], st.clip_frac);
    }
    /* beta > 0 without reference is an error; beta 0 ignores the KL gradient */
    aha_loss_config_t cfg;
    aha_loss_config_default(AHA_LOSS_GRPO, &cfg);
    cfg.beta = 0.1;
    aha_pg_batch_t nb = {NSEQ, starts, lp, old, NULL, adv};
    aha_pg_stats_t st;
    CHECK(aha_pg_loss(&cfg, &nb, dlogp, &st) == AHA_ERR_ARG, "beta without reference must fail");
    aha_loss_kind_t kk;
    CHECK(aha_loss_kind_parse("ppo2", &kk) == AHA_ERR_CONFIG, "unknown loss name");

    float rewards[8], a_std[8], a_nostd[8], out[8];
    rc = aha_st_read_f32(f, "rewards", rewards, 8) | aha_st_read_f32(f, "adv_std", a_std, 8) |
         aha_st_read_f32(f, "adv_nostd", a_nostd, 8);
    CHECK(rc == 0, "advantage fixture");
    aha_group_advantages(rewards, 8, 1, 1e-6f, out);
    CHECK(tu_max_rel_err(out, a_std, 8) <= 1e-5, "std-normalised advantages");
    aha_group_advantages(rewards, 8, 0, 1e-6f, out);
    CHECK(tu_max_rel_err(out, a_nostd, 8) <= 1e-5, "mean-centred advantages");
    float same[4] = {0.1f, 0.1f, 0.1f, 0.1f};
    aha_group_advantages(same, 4, 1, 1e-6f, out);
    CHECK(out[0] == 0 && out[3] == 0, "zero-variance group gives zero advantages");
    aha_st_close(&f);
}

static const tu_case_t cases[] = {
    {"vs_torch", test_vs_torch},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    return tu_main(argc, argv, cases, __FILE__);
}
