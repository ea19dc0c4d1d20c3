/* trainer: the GRPO step loop as a library. Two steps sampled in process give bit-identical
 * weights, rewards and data cursor to the same two steps with the groups sampled by an actor
 * worker (actor/worker.h) through the lease coordinator and scored by a verifier worker
 * (verifier/worker.h) through the verifier pool, all in process on real sockets; a run stopped
 * after one step, checkpointed and resumed in a new trainer ends with the same weights as the
 * straight run; the metrics row carries the documented keys; bad arguments are refused; with
 * rl.max_staleness k each step samples with version max(0, s - k), and a k = 1 or k = 2 run
 * checkpointed after 3 steps and resumed ends as the straight run (the checkpoint holds the older
 * versions; a missing, truncated or corrupt version file is refused, naming the file); groups
 * delivered ahead of a checkpoint are counted once over the resume; counters.json of another step
 * than the checkpoint's is refused. */
#include "actor/rollout.h"
#include "actor/worker.h"
#include "core/err.h"
#include "learner/roles_testutil.h"
#include "learner/trainer.h"
#include "learner/run_state.h"
#include "model/weights.h"
#include "verifier/worker.h"
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

enum { STEPS = 2, P = 2 };

static int sample(void *ctx, const aha_model_t *m, aha_kv_t *kv, const int *const *prompts,
                  const int *lens, aha_rng_t *rngs, aha_rollout_t *r) {
    (void)ctx;
    return aha_generate(m, kv, prompts, lens, rngs, &rt_gen, r);
}

static void config(aha_trainer_config_t *c) {
    memset(c, 0, sizeof *c);
    aha_loss_config_default(AHA_LOSS_GRPO, &c->grpo.loss);
    c->grpo.loss.max_len = RT_MAX_NEW;
    c->grpo.epochs = 1;
    c->grpo.minibatches = 1;
    c->grpo.temperature = 1.0;
    c->grpo.lr = 1e-2;
    c->grpo.grad_clip = 1.0;
    c->grpo.adamw = (aha_adamw_config_t){0.9, 0.99, AHA_ADAMW_EPS, 0.0};
    c->batch = (aha_group_batch_config_t){1, 1e-4f, 0};
    c->steps = STEPS;
    c->prompts_per_step = P;
    c->group_size = RT_G;
    rt_train_set(&c->train);
    aha_reward_config_default(&c->reward);
    c->lease_ms = 10000;
    c->sample = sample;
}

static aha_trainer_t *trainer(uint64_t seed) {
    aha_trainer_config_t c;
    config(&c);
    aha_model_t *m = rt_model(seed);
    aha_trainer_t *t = NULL;
    REQUIRE_OK(aha_trainer_new(&c, &m, &t));
    CHECK(m == NULL, "the trainer took the model");
    return t;
}

/* Weights of T as bytes (caller frees). */
static uint8_t *weights(aha_trainer_t *t, size_t *n) {
    const aha_model_t *m = aha_trainer_model(t);
    *n = aha_weights_bytes(m);
    uint8_t *b = malloc(*n);
    REQUIRE(b, "malloc");
    aha_weights_pack(m, b);
    return b;
}

static void test_same_weights_with_workers(void) {
    aha_trainer_stats_t local[STEPS], remote[STEPS];
    aha_trainer_t *a = trainer(11);
    for (int s = 0; s < STEPS; s++)
        REQUIRE_OK(aha_trainer_step(a, &local[s]));

    void *zctx = zmq_ctx_new();
    aha_trainer_t *b = trainer(11);
    const aha_model_t *mb = aha_trainer_model(b);
    aha_vpool_t *pool = NULL;
    char cep[256], vep[256];
    aha_coord_t *coord = rt_coord_new(zctx, mb, cep, sizeof cep);
    REQUIRE_OK(aha_vpool_new(zctx, "tcp://127.0.0.1:*", 1 << 20, mb->cfg.max_seq_len, 10000, NULL,
                             NULL, &pool));
    REQUIRE_OK(aha_wire_endpoint(aha_vpool_wire(pool), vep, sizeof vep));
    rt_actor_t act;
    rt_actor_init(&act, zctx, cep, 99);
    rt_actor_start(&act);
    rt_verifier_t ver;
    rt_verifier_start(&ver, zctx, vep, NULL, mb->cfg.max_seq_len, NULL);
    REQUIRE_OK(aha_coord_wait_actors(coord, 1, 10000));
    REQUIRE_OK(aha_vpool_wait_verifiers(pool, 1, 10000));
    aha_trainer_set_servers(b, coord, pool);
    for (int s = 0; s < STEPS; s++)
        REQUIRE_OK(aha_trainer_step(b, &remote[s]));
    aha_coord_stats_t cs;
    aha_vpool_stats_t vs;
    aha_coord_stats(coord, &cs);
    aha_vpool_stats(pool, &vs);
    CHECK(cs.delivered == STEPS * P && cs.missing == 0, "actor delivered %llu, missing %llu",
          (unsigned long long)cs.delivered, (unsigned long long)cs.missing);
    CHECK(vs.remote == STEPS * P && vs.local == 0, "verifier scored %llu, local %llu",
          (unsigned long long)vs.remote, (unsigned long long)vs.local);
    aha_coord_stop_actors(coord);
    aha_vpool_stop_verifiers(pool);
    CHECK(rt_actor_join(&act) == AHA_OK && rt_verifier_join(&ver) == AHA_OK,
          "workers returned %d %d", act.rc, ver.rc);

    size_t na, nb;
    uint8_t *wa = weights(a, &na), *wb = weights(b, &nb);
    CHECK(na == nb && !memcmp(wa, wb, na), "same weights with and without workers");
    aha_trainer_t *fresh = trainer(11);
    size_t nf;
    uint8_t *wf = weights(fresh, &nf);
    CHECK(memcmp(wa, wf, na), "the steps changed the weights");
    for (int s = 0; s < STEPS; s++) {
        CHECK(local[s].version == s + 1 && remote[s].version == s + 1, "versions %d %d",
              local[s].version, remote[s].version);
        CHECK(local[s].reward_mean == remote[s].reward_mean &&
                  local[s].response_len_mean == remote[s].response_len_mean &&
                  local[s].grpo.loss == remote[s].grpo.loss,
              "step %d: reward %g vs %g, loss %g vs %g", s, local[s].reward_mean,
              remote[s].reward_mean, local[s].grpo.loss, remote[s].grpo.loss);
        CHECK(local[s].groups_used == P && local[s].n_scored == P * RT_G, "step %d: %d groups", s,
              local[s].groups_used);
    }
    CHECK(aha_trainer_next_prompt(a) == STEPS * P && aha_trainer_next_prompt(b) == STEPS * P,
          "data cursor %llu %llu", (unsigned long long)aha_trainer_next_prompt(a),
          (unsigned long long)aha_trainer_next_prompt(b));
    free(wa);
    free(wb);
    free(wf);
    aha_trainer_destroy(&a);
    aha_trainer_destroy(&b);
    aha_trainer_destroy(&fresh);
    CHECK(a == NULL, "destroy NULLs the pointer");
    aha_coord_destroy(&coord);
    aha_vpool_destroy(&pool);
    aha_model_destroy(&act.m);
    zmq_ctx_term(zctx);
}

/* An actor that answers every lease with a made-up group carrying no routing record (the proto
 * allows that) while the trainer keeps routing records (R3): the groups are dropped and counted,
 * the learner samples them itself, and the run ends with the weights of in-process sampling. */
static void *norouting_main(void *arg) {
    rt_peer_t *f = arg;
    aha_wire_t *w = NULL;
    int rc = rt_peer_new(f->zctx, f->ep, "actor", "norouting", 0, &w);
    if (rc == AHA_OK) rc = rt_ask_lease(w);
    while (rc == AHA_OK && !f->stop) {
        Aha__Envelope *e = NULL;
        if (!rt_next(w, &rc, &e)) continue;
        if (e->body_case == AHA__ENVELOPE__BODY_LEASE) {
            aha_group_msg_t *g = NULL;
            rc = rt_fake_group(f->m, e->lease->lease_id, e->lease->prompt_id,
                               e->lease->min_policy_version, "norouting", &g);
            if (rc == AHA_OK) rc = aha_wire_send_body(w, NULL, &g->group.base);
            aha_group_msg_destroy(&g);
            if (rc == AHA_OK) rc = rt_ask_lease(w);
        }
        aha_wire_free(&e);
    }
    return rt_peer_exit(f, &w, rc);
}

static aha_trainer_t *trainer_r3(uint64_t seed) {
    aha_trainer_config_t c;
    config(&c);
    c.record_experts = 1;
    aha_model_t *m = rt_model(seed);
    aha_trainer_t *t = NULL;
    REQUIRE_OK(aha_trainer_new(&c, &m, &t));
    return t;
}

static void test_group_without_routing(void) {
    aha_trainer_t *a = trainer_r3(14);
    for (int s = 0; s < STEPS; s++)
        REQUIRE_OK(aha_trainer_step(a, NULL));
    void *zctx = zmq_ctx_new();
    aha_trainer_t *b = trainer_r3(14);
    const aha_model_t *mb = aha_trainer_model(b);
    char cep[256];
    aha_coord_t *coord = rt_coord_new(zctx, mb, cep, sizeof cep);
    rt_peer_t norouting;
    rt_peer_start(&norouting, zctx, cep, mb, norouting_main);
    REQUIRE_OK(aha_coord_wait_actors(coord, 1, 10000));
    aha_trainer_set_servers(b, coord, NULL);
    for (int s = 0; s < STEPS; s++)
        CHECK(aha_trainer_step(b, NULL) == AHA_OK, "step %d survives groups without routing: %s", s,
              aha_last_error());
    aha_coord_stats_t cs;
    aha_coord_stats(coord, &cs);
    CHECK(cs.delivered == STEPS * P && aha_trainer_groups_unfit(b) == STEPS * P,
          "%llu delivered, %llu dropped as unfit (want %d)", (unsigned long long)cs.delivered,
          (unsigned long long)aha_trainer_groups_unfit(b), STEPS * P);
    rt_peer_stop(&norouting);
    size_t na, nb;
    uint8_t *wa = weights(a, &na), *wb = weights(b, &nb);
    CHECK(na == nb && !memcmp(wa, wb, na), "weights of in-process sampling");
    free(wa);
    free(wb);
    aha_trainer_destroy(&a);
    aha_trainer_destroy(&b);
    aha_coord_destroy(&coord);
    zmq_ctx_term(zctx);
}

/* A learner killed while it writes a checkpoint resumes from the previous one, whole: killed after
 * moving the old checkpoint aside (only DIR.old and a half-written DIR.tmp are there), and killed
 * before (DIR and a half-written DIR.tmp). Both resume at step 1 and step 2 then gives the straight
 * run's weights; the leftovers are removed. */
static void test_checkpoint_interrupted(void) {
    char dir[] = "/tmp/aha_trainer_test_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char ckpt[600], tmp[700], old[700], junk[800];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    snprintf(old, sizeof old, "%s.old", ckpt);
    aha_trainer_stats_t st;
    aha_trainer_t *straight = trainer(12);
    for (int s = 0; s < 2; s++)
        REQUIRE_OK(aha_trainer_step(straight, &st));
    size_t n1;
    uint8_t *w1 = weights(straight, &n1);
    for (int killed_after_move = 0; killed_after_move < 2; killed_after_move++) {
        aha_trainer_t *first = trainer(12);
        REQUIRE_OK(aha_trainer_step(first, &st));
        REQUIRE_OK(aha_trainer_checkpoint(first, ckpt));
        REQUIRE_OK(aha_trainer_step(first, &st));
        /* the step-2 checkpoint dies half-way: a model file in DIR.tmp, no state.json */
        REQUIRE_OK(aha_run_state_stage(ckpt, tmp, sizeof tmp));
        snprintf(junk, sizeof junk, "%s/model.safetensors", tmp);
        FILE *f = fopen(junk, "w");
        REQUIRE(f, "junk");
        fputs("half a file", f);
        fclose(f);
        if (killed_after_move) REQUIRE(rename(ckpt, old) == 0, "move aside");
        aha_trainer_destroy(&first);
        aha_trainer_t *second = trainer(12);
        REQUIRE_OK(aha_trainer_resume(second, ckpt));
        CHECK(aha_trainer_steps_done(second) == 1, "%s: resumed at step %d",
              killed_after_move ? "after the move" : "before the move",
              aha_trainer_steps_done(second));
        CHECK(access(tmp, F_OK) != 0 && access(old, F_OK) != 0, "leftovers removed");
        REQUIRE_OK(aha_trainer_step(second, &st));
        size_t n2;
        uint8_t *w2 = weights(second, &n2);
        CHECK(n1 == n2 && !memcmp(w1, w2, n1),
              "the resumed run ends with the straight run's weights");
        free(w2);
        aha_trainer_destroy(&second);
    }
    free(w1);
    aha_trainer_destroy(&straight);
}

static void test_checkpoint_resume(void) {
    char dir[] = "/tmp/aha_trainer_test_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char ckpt[600], metrics[600];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    aha_trainer_t *straight = trainer(12);
    aha_trainer_stats_t st;
    for (int s = 0; s < STEPS; s++)
        REQUIRE_OK(aha_trainer_step(straight, &st));

    aha_trainer_t *first = trainer(12);
    REQUIRE_OK(aha_trainer_step(first, &st));
    aha_metrics_t *mt = NULL;
    REQUIRE_OK(aha_metrics_open(metrics, 0, &mt));
    REQUIRE_OK(aha_trainer_metrics(first, &st, mt));
    REQUIRE_OK(aha_metrics_end_row(mt));
    aha_metrics_close(&mt);
    REQUIRE_OK(aha_trainer_checkpoint(first, ckpt));
    aha_trainer_destroy(&first);
    /* the run's counters go on from the checkpoint's counters.json (a run that had dropped 7
     * forged groups and 3 bad scores before this checkpoint); counters of another step than the
     * checkpoint's are refused by name */
    char cpath[700];
    snprintf(cpath, sizeof cpath, "%s/counters.json", ckpt);
    FILE *cf0 = fopen(cpath, "r");
    CHECK(cf0 != NULL, "the checkpoint has counters.json");
    if (cf0) fclose(cf0);
    for (int round = 0; round < 2; round++) {
        FILE *cf = fopen(cpath, "w");
        REQUIRE(cf, "write counters.json");
        fprintf(cf,
                "{\"step\": %d, \"counters\": {\"groups_dropped_forged\": 7, "
                "\"verifier_scores_dropped\": 3}}\n",
                round == 0 ? 9 : 1);
        fclose(cf);
        if (round == 1) break;
        aha_trainer_t *bad = trainer(12);
        CHECK(aha_trainer_resume(bad, ckpt) == AHA_ERR_FORMAT && strstr(aha_last_error(), cpath) &&
                  strstr(aha_last_error(), "step 1"),
              "counters of step 9 for a step-1 checkpoint refused: %s", aha_last_error());
        aha_trainer_destroy(&bad);
    }
    aha_trainer_t *second = trainer(12);
    REQUIRE_OK(aha_trainer_resume(second, ckpt));
    char sum[2048];
    REQUIRE_OK(aha_trainer_summary(second, sum, sizeof sum));
    CHECK(strstr(sum, "groups_dropped_forged 7,") && strstr(sum, "verifier_scores_dropped 3,") &&
              strstr(sum, "actor_groups 0,"),
          "counters survive the resume: %s", sum);
    CHECK(aha_trainer_steps_done(second) == 1 && aha_trainer_next_prompt(second) == P,
          "resumed at step %d, prompt %llu", aha_trainer_steps_done(second),
          (unsigned long long)aha_trainer_next_prompt(second));
    REQUIRE_OK(aha_trainer_step(second, &st));
    CHECK(st.version == 2, "version %d", st.version);
    size_t n1, n2;
    uint8_t *w1 = weights(straight, &n1), *w2 = weights(second, &n2);
    CHECK(n1 == n2 && !memcmp(w1, w2, n1), "resumed run ends with the straight run's weights");
    free(w1);
    free(w2);

    FILE *f = fopen(metrics, "r");
    REQUIRE(f, "metrics written");
    char line[16384];
    const int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    CHECK(got, "one row");
    const char *keys[] = {"\"step\":1",
                          "\"policy_version\":1",
                          "\"reward_mean\"",
                          "\"accuracy\"",
                          "\"format_rate\"",
                          "\"response_len_mean\"",
                          "\"kl\"",
                          "\"entropy\"",
                          "\"clip_frac\"",
                          "\"zero_std_frac\"",
                          "\"staleness_mean\"",
                          "\"tokens_per_s\"",
                          "\"learner_busy_frac\"",
                          "\"groups_dropped_forged\":0",
                          "\"wire_dropped_malformed\":0",
                          "\"expert_load_max_share\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK(got && strstr(line, keys[i]), "metrics row has %s", keys[i]);
    CHECK(aha_trainer_resume(second, "/nonexistent/aha") < 0, "resume from nothing fails");
    aha_trainer_destroy(&straight);
    aha_trainer_destroy(&second);
    CHECK(tu_rm_rf(dir) == 0, "clean up");
}

static void test_bad_arguments(void) {
    aha_trainer_config_t c;
    config(&c);
    aha_model_t *m = rt_model(13);
    aha_trainer_t *t = (aha_trainer_t *)&c; /* must stay untouched */
    aha_trainer_config_t bad = c;
    bad.sample = NULL;
    CHECK(aha_trainer_new(&bad, &m, &t) == AHA_ERR_ARG, "no sampler");
    bad = c;
    bad.group_size = AHA_GROUP_MAX + 1;
    CHECK(aha_trainer_new(&bad, &m, &t) == AHA_ERR_ARG, "group too large");
    CHECK(t == (aha_trainer_t *)&c && m != NULL, "refusals leave *out and the model alone");
    CHECK(aha_trainer_step(NULL, NULL) == AHA_ERR_ARG, "NULL trainer");
    aha_model_destroy(&m);
}

/* Bounded staleness in process: step s samples with version max(0, s - k). With random rewards
 * every step moves the weights, so: after step 1 k = 0, 1, 2 agree (all sample version 0); after
 * step 2 k = 1 and k = 2 still agree (version 0 again) and differ from k = 0 (version 1); after
 * step 3 all differ; staleness_mean is min(s, k). */
static void test_staleness_schedule(void) {
    aha_trainer_t *t[3];
    for (int k = 0; k < 3; k++) {
        aha_trainer_config_t c;
        config(&c);
        c.steps = 3;
        c.random_reward = 1;
        c.max_staleness = k;
        aha_model_t *m = rt_model(11);
        REQUIRE_OK(aha_trainer_new(&c, &m, &t[k]));
    }
    uint8_t *w[3][3];
    size_t n = 0;
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 3; k++) {
            aha_trainer_stats_t st;
            REQUIRE_OK(aha_trainer_step(t[k], &st));
            CHECK(st.staleness == (s < k ? s : k), "k %d step %d: staleness %g", k, s,
                  st.staleness);
            CHECK(st.grpo.n_updates == 1, "k %d step %d updated", k, s);
            w[k][s] = weights(t[k], &n);
        }
    CHECK(!memcmp(w[0][0], w[1][0], n) && !memcmp(w[0][0], w[2][0], n),
          "step 1: every k samples version 0");
    CHECK(!memcmp(w[1][1], w[2][1], n), "step 2: k = 1 and k = 2 sample version 0");
    CHECK(memcmp(w[0][1], w[1][1], n), "step 2: k = 0 samples version 1");
    CHECK(memcmp(w[1][2], w[2][2], n) && memcmp(w[0][2], w[1][2], n),
          "step 3: versions 2, 1, 0 differ");
    CHECK(aha_trainer_resume(t[1], "/nonexistent") < 0, "k > 0: resume from nothing fails");
    aha_trainer_config_t c;
    config(&c);
    c.max_staleness = AHA_COORD_MAX_KEEP;
    aha_model_t *m = rt_model(11);
    aha_trainer_t *bad = NULL;
    CHECK(aha_trainer_new(&c, &m, &bad) == AHA_ERR_ARG && bad == NULL && m != NULL,
          "max_staleness beyond the kept versions refused");
    aha_model_destroy(&m);
    for (int k = 0; k < 3; k++) {
        for (int s = 0; s < 3; s++)
            free(w[k][s]);
        aha_trainer_destroy(&t[k]);
    }
}

/* A trainer of k with random rewards for RS_STEPS steps. */
enum { RS_STEPS = 5, RS_CKPT = 3 };
static aha_trainer_t *stale_trainer(int k) {
    aha_trainer_config_t c;
    config(&c);
    c.steps = RS_STEPS;
    c.random_reward = 1;
    c.max_staleness = k;
    aha_model_t *m = rt_model(14);
    aha_trainer_t *t = NULL;
    REQUIRE_OK(aha_trainer_new(&c, &m, &t));
    return t;
}

static int file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* After the shell command CMD has damaged the version file VF of checkpoint CKPT, a new trainer
 * (k versions) refuses to resume from it with WANT_RC and an error naming VF and WORD. */
static void resume_refused(int k, const char *ckpt, const char *vf, const char *cmd, int want_rc,
                           const char *word) {
    REQUIRE(system(cmd) == 0, "%s", cmd);
    aha_trainer_t *t = stale_trainer(k);
    CHECK(aha_trainer_resume(t, ckpt) == want_rc && strstr(aha_last_error(), vf) &&
              strstr(aha_last_error(), word),
          "k %d: %s: resume refused: %s", k, cmd, aha_last_error());
    aha_trainer_destroy(&t);
}

/* k = 1, 2: RS_CKPT steps, checkpoint, a new trainer resumes and runs to RS_STEPS: the straight
 * run's weights and step stats. Version files: the last k before the checkpoint's step and no
 * older one (each checkpoint is a fresh directory swapped in whole); a missing, truncated or
 * corrupt one is refused with its name. */
static void test_staleness_resume(void) {
    for (int k = 1; k <= 2; k++) {
        char dir[] = "/tmp/aha_trainer_stale_XXXXXX";
        REQUIRE(mkdtemp(dir), "mkdtemp");
        char ckpt[600], vf[700], cmd[2600];
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
        aha_trainer_t *straight = stale_trainer(k), *first = stale_trainer(k);
        aha_trainer_stats_t a[RS_STEPS], b[RS_STEPS];
        for (int s = 0; s < RS_STEPS; s++)
            REQUIRE_OK(aha_trainer_step(straight, &a[s]));
        for (int s = 0; s < RS_CKPT; s++) {
            REQUIRE_OK(aha_trainer_step(first, &b[s]));
            if (s == 0) REQUIRE_OK(aha_trainer_checkpoint(first, ckpt)); /* leaves v0 behind */
        }
        REQUIRE_OK(aha_trainer_checkpoint(first, ckpt));
        aha_trainer_destroy(&first);
        for (int v = 0; v < RS_CKPT; v++) {
            snprintf(vf, sizeof vf, "%s/versions/v%d.bin", ckpt, v);
            CHECK(file_exists(vf) == (v >= RS_CKPT - k), "k %d: version file v%d %s", k, v,
                  v >= RS_CKPT - k ? "kept" : "pruned");
        }
        aha_trainer_t *second = stale_trainer(k);
        REQUIRE_OK(aha_trainer_resume(second, ckpt));
        for (int s = RS_CKPT; s < RS_STEPS; s++)
            REQUIRE_OK(aha_trainer_step(second, &b[s]));
        size_t n1, n2;
        uint8_t *w1 = weights(straight, &n1), *w2 = weights(second, &n2);
        CHECK(n1 == n2 && !memcmp(w1, w2, n1), "k %d: resumed run ends with the straight weights",
              k);
        for (int s = 0; s < RS_STEPS; s++)
            CHECK(a[s].reward_mean == b[s].reward_mean && a[s].grpo.loss == b[s].grpo.loss &&
                      a[s].staleness == b[s].staleness,
                  "k %d step %d: same stats", k, s + 1);
        free(w1);
        free(w2);
        aha_trainer_destroy(&second);

        /* the newest kept version file: truncated, corrupt, missing */
        snprintf(vf, sizeof vf, "%s/versions/v%d.bin", ckpt, RS_CKPT - 1);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s.keep' && truncate -s -5 '%s'", vf, vf, vf);
        resume_refused(k, ckpt, vf, cmd, AHA_ERR_FORMAT, "truncated");
        snprintf(cmd, sizeof cmd,
                 "cp '%s.keep' '%s' && printf '\\377' | dd of='%s' bs=1 seek=100 conv=notrunc "
                 "2>/dev/null",
                 vf, vf, vf);
        resume_refused(k, ckpt, vf, cmd, AHA_ERR_FORMAT, "checksum");
        snprintf(cmd, sizeof cmd, "rm '%s'", vf);
        resume_refused(k, ckpt, vf, cmd, AHA_ERR_IO, "");
        aha_trainer_destroy(&straight);
        CHECK(tu_rm_rf(dir) == 0, "clean up");
    }
}

/* A coordinator in ZCTX keeping KEEP versions, served by one actor thread. */
typedef struct {
    aha_coord_t *coord;
    rt_actor_t act;
    char ep[256];
} served_t;

static void serve_start(served_t *s, void *zctx, const aha_model_t *mb, int keep) {
    memset(s, 0, sizeof *s);
    s->coord = rt_coord_new(zctx, mb, s->ep, sizeof s->ep);
    REQUIRE_OK(aha_coord_set_keep(s->coord, keep));
    rt_actor_init(&s->act, zctx, s->ep, 99);
    rt_actor_start(&s->act);
    REQUIRE_OK(aha_coord_wait_actors(s->coord, 1, 10000));
}

static void serve_stop(served_t *s) {
    aha_coord_stop_actors(s->coord);
    CHECK(rt_actor_join(&s->act) == AHA_OK, "actor returned %d", s->act.rc);
    aha_coord_destroy(&s->coord);
    aha_model_destroy(&s->act.m);
}

/* Counted once across a resume with k = 1: after RS_CKPT steps the groups of the next step are
 * already delivered (held for it) when the checkpoint is written; its counters do not include
 * them (the checkpoint does not cover that step), so the resumed run, whose actor samples them
 * again, ends with RS_STEPS * P actor groups like a straight run (was RS_STEPS * P + P). */
static void test_counters_ahead(void) {
    char dir[] = "/tmp/aha_trainer_ahead_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    void *zctx = zmq_ctx_new();
    aha_trainer_stats_t st;
    served_t sv;
    aha_trainer_t *first = stale_trainer(1);
    serve_start(&sv, zctx, aha_trainer_model(first), 2);
    aha_trainer_set_servers(first, sv.coord, NULL);
    for (int s = 0; s < RS_CKPT; s++)
        REQUIRE_OK(aha_trainer_step(first, &st));
    /* let the actor deliver the next step's groups before the checkpoint */
    aha_coord_stats_t cs;
    REQUIRE_OK(aha_coord_pump_start(sv.coord, 10000));
    for (int i = 0; i < 1000; i++) {
        aha_coord_stats(sv.coord, &cs);
        if (cs.held == P) break;
        usleep(10000);
    }
    REQUIRE_OK(aha_coord_pump_stop(sv.coord));
    aha_coord_stats(sv.coord, &cs);
    CHECK(cs.held == P && cs.delivered == (RS_CKPT + 1) * P && cs.missing == 0,
          "held %llu, delivered %llu, missing %llu (want %d, %d, 0)", (unsigned long long)cs.held,
          (unsigned long long)cs.delivered, (unsigned long long)cs.missing, P, (RS_CKPT + 1) * P);
    REQUIRE_OK(aha_trainer_checkpoint(first, ckpt));
    const char *names[] = {"actor_groups"};
    double saved = -1;
    REQUIRE_OK(aha_run_state_load_counters(ckpt, RS_CKPT, names, &saved, 1));
    CHECK(saved == RS_CKPT * P, "checkpoint after %d steps: %g actor groups (want %d)", RS_CKPT,
          saved, RS_CKPT * P);
    serve_stop(&sv);
    aha_trainer_destroy(&first);

    aha_trainer_t *second = stale_trainer(1);
    REQUIRE_OK(aha_trainer_resume(second, ckpt));
    serve_start(&sv, zctx, aha_trainer_model(second), 2);
    aha_trainer_set_servers(second, sv.coord, NULL);
    for (int s = RS_CKPT; s < RS_STEPS; s++)
        REQUIRE_OK(aha_trainer_step(second, &st));
    char sum[2048];
    REQUIRE_OK(aha_trainer_summary(second, sum, sizeof sum));
    char want[64];
    snprintf(want, sizeof want, "actor_groups %d,", RS_STEPS * P);
    CHECK(strstr(sum, want) && strstr(sum, "actor_groups_missing 0,"),
          "every group counted once over the resume (want %s): %s", want, sum);
    serve_stop(&sv);
    aha_trainer_destroy(&second);
    zmq_ctx_term(zctx);
    CHECK(tu_rm_rf(dir) == 0, "clean up");
}

static const tu_case_t cases[] = {{"same_weights_with_workers", test_same_weights_with_workers},
                                  {"group_without_routing", test_group_without_routing},
                                  {"staleness_schedule", test_staleness_schedule},
                                  {"checkpoint_resume", test_checkpoint_resume},
                                  {"checkpoint_interrupted", test_checkpoint_interrupted},
                                  {"staleness_resume", test_staleness_resume},
                                  {"counters_ahead", test_counters_ahead},
                                  {"bad_arguments", test_bad_arguments}};

TU_MAIN(cases)
