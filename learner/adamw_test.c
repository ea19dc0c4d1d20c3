/* adamw: AdamW, grad clipping and the LR schedule against torch (tests/fixtures/adamw.safetensors,
 * regenerate with /usr/bin/python3 tests/reference/gen_adamw_fixture.py). */
#include "core/err.h"
#include "core/testutil.h"
#include "core/safetensors.h"
#include "learner/optim.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_vs_torch(void) {
    aha_st_file_t *f = NULL;
    REQUIRE_OK(aha_st_open("tests/fixtures/adamw.safetensors", &f));
    enum { N = 64, STEPS = 5 };
    float p[N], grads[STEPS * N], lrs[STEPS], p_final[N], clip_in[N], clip_out[N], clip_norm[1],
        sched[40];
    int rc = 0;
    rc |= aha_st_read_f32(f, "p0", p, N);
    rc |= aha_st_read_f32(f, "grads", grads, STEPS * N);
    rc |= aha_st_read_f32(f, "lrs", lrs, STEPS);
    rc |= aha_st_read_f32(f, "p_final", p_final, N);
    rc |= aha_st_read_f32(f, "clip_in", clip_in, N);
    rc |= aha_st_read_f32(f, "clip_out", clip_out, N);
    rc |= aha_st_read_f32(f, "clip_norm", clip_norm, 1);
    rc |= aha_st_read_f32(f, "sched", sched, 40);
    aha_st_close(&f);
    REQUIRE(rc == 0, "fixture incomplete: %s", aha_last_error());

    aha_adamw_t *opt = NULL;
    CHECK(aha_adamw_new(N, &opt) == 0, "adamw_new");
    aha_adamw_set_decay(opt, 48, 16, 0);
    aha_adamw_config_t cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    for (int s = 0; s < STEPS; s++)
        aha_adamw_step(opt, p, grads + s * N, lrs[s], &cfg);
    double e = tu_max_rel_err(p, p_final, N);
    printf("adamw vs torch: max rel err %.3g after %d steps\n", e, STEPS);
    CHECK(e < 1e-5, "adamw trajectory differs from torch: %g", e);
    CHECK(opt->t == STEPS, "step count %lld", (long long)opt->t);
    /* save / load round trip, and a wrong-size file is refused without touching the optimizer */
    char path[] = "/tmp/aha_adamw_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    CHECK(aha_adamw_save(opt, path) == 0, "save: %s", aha_last_error());
    aha_adamw_t *back = NULL, *small = NULL;
    CHECK(aha_adamw_new(N, &back) == 0 && aha_adamw_load(back, path) == 0, "load: %s",
          aha_last_error());
    CHECK(back && back->t == opt->t && !memcmp(back->m, opt->m, sizeof(float) * N) &&
              !memcmp(back->v, opt->v, sizeof(float) * N),
          "moments and step restored bit-exactly");
    CHECK(aha_adamw_new(N - 1, &small) == 0 && aha_adamw_load(small, path) == AHA_ERR_FORMAT &&
              small->t == 0,
          "size mismatch refused");
    remove(path);
    aha_adamw_destroy(&back);
    aha_adamw_destroy(&small);
    aha_adamw_destroy(&opt);
    CHECK(opt == NULL, "destroy must NULL the pointer");

    double norm = aha_grad_clip(clip_in, N, 1.0);
    CHECK(fabs(norm - clip_norm[0]) < 1e-4 * clip_norm[0], "clip norm %g vs %g", norm,
          clip_norm[0]);
    e = tu_max_rel_err(clip_in, clip_out, N);
    CHECK(e < 1e-5, "clipped grads differ: %g", e);
    CHECK(fabs(aha_grad_norm(clip_in, N) - 1.0) < 1e-4, "norm after clip %g",
          aha_grad_norm(clip_in, N));

    for (int s = 0; s < 40; s++) {
        double lr = aha_lr_schedule(s, 5, 30, 1e-3, 1e-4);
        CHECK(fabs(lr - sched[s]) < 1e-9 + 1e-6 * sched[s], "schedule step %d: %g vs %g", s, lr,
              sched[s]);
    }
}

static const tu_case_t cases[] = {
    {"vs_torch", test_vs_torch},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    return tu_main(argc, argv, cases, __FILE__);
}
