/* adamw: AdamW, grad clipping and the LR schedule against torch (tests/fixtures/adamw.safetensors,
 * regenerate with /usr/bin/python3 tests/reference/gen_adamw_fixture.py). */
#include "core/err.h"
#include "core/testutil.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "learner/optim.h"
#include "learner/run_state.h"
#include "core/buf.h"
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

/* ZeRO-1 shards: two shard optimizers update a vector exactly as the whole one does; their
 * checkpoint files (learner/run_state.h) load into any other partition; a truncated, corrupt or
 * missing shard is refused naming the file. */
static void write_text(const char *path, const char *text) {
    const void *parts[] = {text};
    const size_t lens[] = {strlen(text)};
    REQUIRE_OK(aha_write_file_atomic(path, parts, lens, 1));
}

static void test_shards(void) {
    enum { N = 1000, CUT = 401, STEPS = 3 };
    const aha_adamw_config_t cfg = {0.9, 0.99, 1e-8, 0.1};
    static float pw[N], ps[N], g[N];
    aha_rng_t r;
    aha_rng_seed(&r, 3);
    for (int i = 0; i < N; i++)
        pw[i] = ps[i] = aha_rng_normal(&r);
    aha_adamw_t *whole = NULL, *s0 = NULL, *s1 = NULL;
    REQUIRE_OK(aha_adamw_new(N, &whole));
    REQUIRE_OK(aha_adamw_new_shard(N, 0, CUT, &s0));
    REQUIRE_OK(aha_adamw_new_shard(N, CUT, N - CUT, &s1));
    CHECK(aha_adamw_new_shard(N, 600, 401, &(aha_adamw_t *){NULL}) == AHA_ERR_ARG,
          "a shard past the end is refused");
    /* no decay on [300, 500): crosses the cut */
    aha_adamw_set_decay(whole, 300, 200, 0);
    aha_adamw_set_decay(s0, 300, 200, 0);
    aha_adamw_set_decay(s1, 300, 200, 0);
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < N; i++)
            g[i] = aha_rng_normal(&r);
        aha_adamw_step(whole, pw, g, 1e-2, &cfg);
        aha_adamw_step(s0, ps, g, 1e-2, &cfg);
        aha_adamw_step(s1, ps, g, 1e-2, &cfg);
    }
    CHECK(memcmp(pw, ps, sizeof pw) == 0, "two shards update like the whole optimizer");
    char dir[] = "/tmp/aha_shardsXXXXXX", path[256];
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp");
    REQUIRE_OK(aha_run_state_save_shard(dir, s0, 0, 2));
    REQUIRE_OK(aha_run_state_save_shard(dir, s1, 1, 2));
    snprintf(path, sizeof path, "%s/state.json", dir);
    write_text(path, "{\"step\": 3, \"next_index\": 0, \"optimizer_shards\": 2}");
    /* re-shard on load: three ranks' worth, and the whole vector */
    const size_t cuts[] = {0, 333, 666, N};
    int same = 1;
    for (int k = 0; k < 3; k++) {
        aha_adamw_t *o = NULL;
        REQUIRE_OK(aha_adamw_new_shard(N, cuts[k], cuts[k + 1] - cuts[k], &o));
        REQUIRE_OK(aha_run_state_load_optimizer(dir, o));
        same &= o->t == STEPS &&
                memcmp(o->m, whole->m + cuts[k], o->n * sizeof(float)) == 0 &&
                memcmp(o->v, whole->v + cuts[k], o->n * sizeof(float)) == 0;
        aha_adamw_destroy(&o);
    }
    CHECK(same, "three shards loaded from two equal the whole optimizer's moments");
    aha_adamw_t *back = NULL;
    REQUIRE_OK(aha_adamw_new(N, &back));
    REQUIRE_OK(aha_run_state_load_optimizer(dir, back));
    CHECK(back->t == STEPS && memcmp(back->m, whole->m, sizeof(float) * N) == 0 &&
              memcmp(back->v, whole->v, sizeof(float) * N) == 0,
          "the whole optimizer from two shards");
    /* corrupt: one flipped bit in shard 1's v */
    snprintf(path, sizeof path, "%s/optimizer-1-of-2.bin", dir);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f != NULL, "open %s", path);
    fseek(f, -5, SEEK_END);
    int c = fgetc(f);
    fseek(f, -5, SEEK_END);
    fputc(c ^ 0x10, f);
    fclose(f);
    back->t = 77;
    int e = aha_run_state_load_optimizer(dir, back);
    CHECK(e == AHA_ERR_FORMAT && strstr(aha_last_error(), "optimizer-1-of-2.bin") &&
              strstr(aha_last_error(), "checksum") && back->t == 77,
          "corrupt shard: %d %s", e, aha_last_error());
    /* a range that does not need shard 1's moments still checks its header and size */
    REQUIRE(truncate(path, 100 + 4 * 2 * (N - CUT)) == 0, "truncate");
    aha_adamw_t *o0 = NULL;
    REQUIRE_OK(aha_adamw_new_shard(N, 0, 100, &o0));
    e = aha_run_state_load_optimizer(dir, o0);
    CHECK(e == AHA_ERR_FORMAT && strstr(aha_last_error(), "optimizer-1-of-2.bin") &&
              strstr(aha_last_error(), "truncated"),
          "truncated shard: %d %s", e, aha_last_error());
    remove(path);
    e = aha_run_state_load_optimizer(dir, o0);
    CHECK(e == AHA_ERR_IO && strstr(aha_last_error(), "optimizer-1-of-2.bin"), "missing shard: %s",
          aha_last_error());
    /* a whole optimizer file sliced into a shard */
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    REQUIRE_OK(aha_adamw_save(whole, path));
    CHECK(aha_adamw_save(s1, path) == AHA_ERR_ARG, "a shard is not saved as a whole optimizer");
    snprintf(path, sizeof path, "%s/state.json", dir);
    write_text(path, "{\"step\": 3, \"next_index\": 0}");
    REQUIRE_OK(aha_run_state_load_optimizer(dir, s1));
    CHECK(memcmp(s1->m, whole->m + CUT, sizeof(float) * (N - CUT)) == 0, "shard from whole file");
    CHECK(tu_rm_rf(dir) == 0, "cleanup");
    aha_adamw_destroy(&o0);
    aha_adamw_destroy(&back);
    aha_adamw_destroy(&whole);
    aha_adamw_destroy(&s0);
    aha_adamw_destroy(&s1);
}

static const tu_case_t cases[] = {
    {"vs_torch", test_vs_torch},
    {"shards", test_shards},
};

TU_MAIN(cases)
