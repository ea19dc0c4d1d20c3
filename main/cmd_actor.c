/* aha actor: a rollout worker process (main/coordinator.h): pulls leases from the learner,
 * fetches the weights they require, samples each group and sends it back. */
#include "actor/group_msg.h"
#include "core/blob.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "main/coordinator.h"
#include "main/procs.h"
#include "model/checkpoint.h"
#include "model/weights.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static const char k_usage[] =
    "usage: aha actor (--connect ENDPOINT | --endpoints-file FILE) [CONFIG] [--set key=value]...\n"
    "                 [--name N]\n"
    "FILE is RUN_DIR/rl/endpoints.json of a learner running with net.serve (waits for it).\n"
    "Samples groups for the learner's coordinator at ENDPOINT with the run config's model (shape\n"
    "from rl.init) and rl sampling settings, fetching the weights each lease requires, until the\n"
    "learner says stop or SIGTERM/SIGINT arrives. Started by `aha train` with rl.actors > 0.\n";

typedef struct {
    aha_model_t *m;
    aha_kv_t *kv;
    aha_rollout_t *roll;
    aha_rng_t *rngs;
    const int **prompts;
    int *lens;
    aha_wire_t *w;
    void *zctx;
} actor_t;

static void actor_free(actor_t *a) {
    aha_wire_destroy(&a->w);
    if (a->zctx) zmq_ctx_term(a->zctx);
    aha_rollout_destroy(&a->roll);
    aha_kv_destroy(&a->kv);
    aha_model_destroy(&a->m);
    free(a->rngs);
    free(a->prompts);
    free(a->lens);
}

static int send_simple(aha_wire_t *w, Aha__Envelope *env) {
    return aha_wire_send(w, NULL, env);
}

static int request_lease(aha_wire_t *w, uint64_t version) {
    Aha__Envelope env = AHA__ENVELOPE__INIT;
    Aha__LeaseRequest r = AHA__LEASE_REQUEST__INIT;
    r.max_groups = 1;
    r.policy_version = version;
    env.body_case = AHA__ENVELOPE__BODY_LEASE_REQUEST;
    env.lease_request = &r;
    return send_simple(w, &env);
}

static int run_actor(const aha_run_config_t *rc, const char *endpoint, const char *name) {
    actor_t a;
    memset(&a, 0, sizeof a);
    int rc_ = AHA_OK;
    char init[600], id[128];
    if (rc->rl.init[0])
        snprintf(init, sizeof init, "%s", rc->rl.init);
    else
        snprintf(init, sizeof init, "%s/pretrain/final", rc->run_dir);
    const int G = rc->rl.group_size;
    AHA_TRY_GOTO(rc_, aha_checkpoint_load(init, &a.m), done);
    const int max_len = a.m->cfg.max_seq_len;
    a.rngs = malloc(sizeof(aha_rng_t) * G);
    a.prompts = malloc(sizeof(int *) * G);
    a.lens = malloc(sizeof(int) * G);
    if (!a.rngs || !a.prompts || !a.lens) {
        rc_ = AHA_FAIL(AHA_ERR_NOMEM, "actor buffers");
        goto done;
    }
    AHA_TRY_GOTO(rc_, aha_kv_new(a.m, G, max_len, &a.kv), done);
    AHA_TRY_GOTO(rc_, aha_rollout_new(a.m, G, max_len, rc->rl.r3, &a.roll), done);
    a.zctx = zmq_ctx_new();
    if (!a.zctx) {
        rc_ = AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
        goto done;
    }
    snprintf(id, sizeof id, "actor/%s/%d", name, (int)getpid());
    AHA_TRY_GOTO(rc_, aha_wire_new(a.zctx, ZMQ_DEALER, id, (size_t)64 << 20, &a.w), done);
    AHA_TRY_GOTO(rc_, aha_wire_set_identity(a.w, id), done);
    int curve = 0;
    aha_keypair_t server, client;
    AHA_TRY_GOTO(rc_, aha_run_config_keys(rc, &curve, &server, &client), done);
    if (curve) AHA_TRY_GOTO(rc_, aha_wire_curve_client(a.w, server.public_key, &client), done);
    AHA_TRY_GOTO(rc_, aha_wire_connect(a.w, endpoint), done);
    Aha__Envelope hello_env = AHA__ENVELOPE__INIT;
    Aha__Hello hello = AHA__HELLO__INIT;
    hello.role = "actor";
    hello.name = (char *)name;
    hello.version = "1";
    hello.capacity = 1;
    hello_env.body_case = AHA__ENVELOPE__BODY_HELLO;
    hello_env.hello = &hello;
    AHA_TRY_GOTO(rc_, send_simple(a.w, &hello_env), done);
    int have = 0;
    uint64_t version = 0, groups = 0;
    AHA_TRY_GOTO(rc_, request_lease(a.w, version), done);
    const aha_gen_config_t gen = {rc->rl.max_new_tokens, (float)rc->rl.temperature,
                                  (float)rc->rl.top_p};
    while (!aha_stop_requested) {
        Aha__Envelope *e = NULL;
        int r = aha_wire_recv(a.w, 100, NULL, &e);
        if (r == AHA_ERR_TIMEOUT) continue;
        AHA_TRY_GOTO(rc_, r, done);
        if (e->body_case == AHA__ENVELOPE__BODY_CONTROL && !strcmp(e->control->command, "stop")) {
            aha_wire_free(&e);
            break;
        }
        if (e->body_case != AHA__ENVELOPE__BODY_LEASE) {
            aha_wire_free(&e);
            continue;
        }
        const uint64_t lease_id = e->lease->lease_id, pid = e->lease->prompt_id,
                       need = e->lease->min_policy_version;
        const uint32_t group_size = e->lease->group_size;
        aha_wire_free(&e);
        if (group_size != (uint32_t)G) {
            rc_ = AHA_FAIL(AHA_ERR_CONFIG, "lease for groups of %u; this actor's config says %d",
                           group_size, G);
            goto done;
        }
        if (!have || version < need) {
            uint8_t *blob = NULL;
            size_t len = 0;
            AHA_TRY_GOTO(
                rc_,
                aha_blob_fetch(a.w, need, aha_weights_bytes(a.m), 4, 30000, &version, &blob, &len),
                done);
            rc_ = aha_weights_unpack(a.m, blob, len);
            free(blob);
            if (rc_ != AHA_OK) goto done;
            have = 1;
        }
        aha_reward_problem_t rp;
        int ids[512], n = 0;
        AHA_TRY_GOTO(rc_, aha_train_group_setup(rc, pid, ids, 512, &n, &rp, a.rngs, G), done);
        for (int g = 0; g < G; g++) {
            a.prompts[g] = ids;
            a.lens[g] = n;
        }
        AHA_TRY_GOTO(rc_, aha_generate(a.m, a.kv, a.prompts, a.lens, a.rngs, &gen, a.roll), done);
        aha_group_msg_t *msg = NULL;
        AHA_TRY_GOTO(rc_, aha_group_msg_from_rollout(a.roll, lease_id, pid, version, &rp, id, &msg),
                     done);
        Aha__Envelope out = AHA__ENVELOPE__INIT;
        out.body_case = AHA__ENVELOPE__BODY_GROUP;
        out.group = &msg->group;
        rc_ = send_simple(a.w, &out);
        aha_group_msg_destroy(&msg);
        if (rc_ != AHA_OK) goto done;
        groups++;
        AHA_TRY_GOTO(rc_, request_lease(a.w, version), done);
    }
    AHA_INFO("actor %s: %llu groups sampled, last weights version %llu", name,
             (unsigned long long)groups, (unsigned long long)version);
done:
    actor_free(&a);
    return rc_;
}

int cmd_actor(int argc, char **argv) {
    cli_common_t cli;
    int rc = cli_parse_common(argc, argv, &cli);
    if (rc < 0) return cli_fail(rc);
    if (cli.help) {
        fputs(k_usage, stdout);
        return 0;
    }
    const char *connect = NULL, *name = "actor", *endpoints_file = NULL;
    for (int i = 0; i < cli.n_rest; i += 2) {
        const char *k = cli.rest[i], *v = i + 1 < cli.n_rest ? cli.rest[i + 1] : NULL;
        if (!v) return cli_fail(AHA_FAIL(AHA_ERR_ARG, "%s needs a value (see --help)", k));
        if (!strcmp(k, "--connect"))
            connect = v;
        else if (!strcmp(k, "--endpoints-file"))
            endpoints_file = v;
        else if (!strcmp(k, "--name"))
            name = v;
        else
            return cli_fail(AHA_FAIL(AHA_ERR_ARG, "unknown option '%s' (see --help)", k));
    }
    aha_catch_stop_signals();
    char endpoint[300];
    aha_run_config_t cfg;
    rc = aha_worker_setup(&cli, connect, endpoints_file, "coordinator", endpoint, sizeof endpoint,
                          &cfg);
    if (rc < 0) return cli_fail(rc);
    rc = run_actor(&cfg, endpoint, name);
    return rc < 0 ? cli_fail(rc) : 0;
}
