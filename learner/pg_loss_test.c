/* pg_loss: the four GRPO-family losses and group advantages against PyTorch autograd
 * (tests/fixtures/pg_loss.safetensors, regenerate: /usr/bin/python3
 * tests/reference/gen_pg_fixture.py). */
#include "core/err.h"
#include "core/testutil.h"
#include "core/rng.h"
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
        aha_pg_batch_t b = {NSEQ, starts, lp, kind == AHA_LOSS_GSPO ? old_g : old, ref, adv, NULL};
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
    aha_pg_batch_t nb = {NSEQ, starts, lp, old, NULL, adv, NULL};
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

/* The off-policy corrections (tis, decoupled) of the token-level kinds against PyTorch autograd,
 * with a behaviour policy far enough away that some tis weights are truncated. */
static void test_off_policy_vs_torch(void) {
    aha_st_file_t *f = NULL;
    REQUIRE_OK(aha_st_open("tests/fixtures/pg_loss.safetensors", &f));
    int starts[NSEQ + 1];
    const aha_st_tensor_t *ss = aha_st_find(f, "seq_start");
    REQUIRE(ss && ss->shape[0] == NSEQ + 1, "fixture seq_start");
    memcpy(starts, ss->data, sizeof starts);
    float lp[NTOK], old[NTOK], prox[NTOK], adv[NSEQ], dlogp[NTOK], want[NTOK], wl[1];
    int rc = aha_st_read_f32(f, "logp", lp, NTOK) | aha_st_read_f32(f, "logp_old_far", old, NTOK) |
             aha_st_read_f32(f, "logp_prox", prox, NTOK) | aha_st_read_f32(f, "adv", adv, NSEQ);
    REQUIRE(rc == 0, "fixture inputs: %s", aha_last_error());
    const char *modes[] = {"tis", "decoupled"}, *kinds[] = {"grpo", "dr_grpo", "dapo"};
    for (int mo = 0; mo < 2; mo++)
        for (int k = 0; k < 3; k++) {
            aha_loss_kind_t kind;
            aha_off_policy_t op;
            REQUIRE_OK(aha_loss_kind_parse(kinds[k], &kind));
            REQUIRE_OK(aha_off_policy_parse(modes[mo], &op));
            aha_loss_config_t cfg;
            aha_loss_config_default(kind, &cfg);
            cfg.max_len = 12;
            cfg.off_policy = op;
            aha_pg_batch_t b = {NSEQ, starts, lp, old, NULL, adv, prox};
            aha_pg_stats_t st;
            CHECK(aha_pg_loss(&cfg, &b, dlogp, &st) == 0, "%s %s: %s", modes[mo], kinds[k],
                  aha_last_error());
            char name[64];
            snprintf(name, sizeof name, "%s.%s.loss", modes[mo], kinds[k]);
            CHECK(aha_st_read_f32(f, name, wl, 1) == 0, "fixture %s", name);
            snprintf(name, sizeof name, "%s.%s.dlogp", modes[mo], kinds[k]);
            CHECK(aha_st_read_f32(f, name, want, NTOK) == 0, "fixture %s", name);
            double el = fabs(st.loss - wl[0]) / fmax(fabs(wl[0]), 1e-8);
            double eg = tu_max_rel_err(dlogp, want, NTOK);
            printf("%-9s %-8s loss %.6f (torch %.6f, rel err %.2g)  dlogp rel err %.2g  "
                   "clip_frac %.3f\n",
                   modes[mo], kinds[k], st.loss, wl[0], el, eg, st.clip_frac);
            CHECK(el <= 1e-4, "%s %s loss rel err %g", modes[mo], kinds[k], el);
            CHECK(eg <= 1e-4, "%s %s dlogp rel err %g", modes[mo], kinds[k], eg);
            CHECK(st.clip_frac > 0 && st.clip_frac < 1, "%s: some but not all clipped (%g)",
                  modes[mo], st.clip_frac);
        }
    aha_st_close(&f);
}

/* Decoupled: the proximal weight is a constant, so the loss is differentiable where no token sits
 * on a clip boundary: central differences in double agree with dlogp. And on-policy (current ==
 * proximal == behaviour) the three corrections give the same loss and gradient. */
static void test_off_policy_fd(void) {
    int starts[4] = {0, 3, 7, 12};
    float lp[12], old[12], prox[12], adv[3] = {0.8f, -1.1f, 0.4f}, d[12], dd[12], d2[12];
    aha_rng_t rng;
    aha_rng_seed(&rng, 3);
    for (int t = 0; t < 12; t++) {
        lp[t] = -3.0f * aha_rng_uniform(&rng) - 0.1f;
        prox[t] = lp[t] + 0.1f * (aha_rng_uniform(&rng) - 0.5f);
        old[t] = prox[t] + 0.6f * (aha_rng_uniform(&rng) - 0.5f);
    }
    aha_loss_config_t cfg;
    aha_loss_config_default(AHA_LOSS_GRPO, &cfg);
    cfg.off_policy = AHA_OFFPOL_DECOUPLED;
    aha_pg_batch_t b = {3, starts, lp, old, NULL, adv, prox};
    aha_pg_stats_t st;
    REQUIRE_OK(aha_pg_loss(&cfg, &b, d, &st));
    CHECK(st.clip_frac == 0, "proximal ratios within 1 +- 0.05 are not clipped (%g)", st.clip_frac);
    const float h = 1e-2f;
    double worst = 0;
    for (int t = 0; t < 12; t++) {
        float keep = lp[t];
        aha_pg_stats_t sp, sm;
        lp[t] = keep + h;
        REQUIRE_OK(aha_pg_loss(&cfg, &b, dd, &sp));
        lp[t] = keep - h;
        REQUIRE_OK(aha_pg_loss(&cfg, &b, dd, &sm));
        lp[t] = keep;
        double fd = (sp.loss - sm.loss) / (2.0 * h);
        worst = fmax(worst, fabs(fd - d[t]) / fmax(fabs(d[t]), 1e-6));
    }
    CHECK(worst < 1e-3, "decoupled dlogp vs central differences: rel err %g", worst);
    /* on-policy: all the same */
    aha_pg_batch_t on = {3, starts, lp, lp, NULL, adv, lp};
    aha_pg_stats_t s0;
    REQUIRE_OK(aha_pg_loss(&cfg, &on, d, &s0));
    const aha_off_policy_t others[] = {AHA_OFFPOL_CLIP, AHA_OFFPOL_TIS};
    for (int i = 0; i < 2; i++) {
        cfg.off_policy = others[i];
        REQUIRE_OK(aha_pg_loss(&cfg, &on, d2, &st));
        CHECK(fabs(st.loss - s0.loss) < 1e-12 && tu_max_rel_err(d2, d, 12) < 1e-6,
              "%s on-policy equals decoupled: %g vs %g", aha_off_policy_name(others[i]), st.loss,
              s0.loss);
    }
    /* refused combinations */
    cfg.off_policy = AHA_OFFPOL_DECOUPLED;
    aha_pg_batch_t noprox = {3, starts, lp, old, NULL, adv, NULL};
    CHECK(aha_pg_loss(&cfg, &noprox, d, &st) == AHA_ERR_ARG, "decoupled needs logp_prox");
    cfg.off_policy = AHA_OFFPOL_TIS;
    cfg.is_cap = 0;
    CHECK(aha_pg_loss(&cfg, &b, d, &st) == AHA_ERR_ARG, "tis needs is_cap > 0");
    aha_loss_config_default(AHA_LOSS_GSPO, &cfg);
    cfg.off_policy = AHA_OFFPOL_TIS;
    CHECK(aha_pg_loss(&cfg, &b, d, &st) == AHA_ERR_ARG, "gspo supports clip only");
    aha_off_policy_t op = AHA_OFFPOL_TIS;
    CHECK(aha_off_policy_parse("vtrace", &op) == AHA_ERR_CONFIG && op == AHA_OFFPOL_TIS,
          "unknown mode refused, out untouched");
}

static const tu_case_t cases[] = {
    {"vs_torch", test_vs_torch},
    {"off_policy_vs_torch", test_off_policy_vs_torch},
    {"off_policy_fd", test_off_policy_fd},
};

TU_MAIN(cases)
