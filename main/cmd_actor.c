/* aha actor: a rollout worker process (actor/worker.h): pulls leases from the learner's
 * coordinator, fetches the weights they require, samples each group and sends it back. */
#include "actor/worker.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "main/procs.h"
#include "model/checkpoint.h"
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

static int run_actor(const aha_run_config_t *rc, const char *endpoint, const char *name,
                     const aha_link_t *link) {
    char init[600];
    if (rc->rl.init[0])
        snprintf(init, sizeof init, "%s", rc->rl.init);
    else
        snprintf(init, sizeof init, "%s/pretrain/final", rc->run_dir);
    aha_actor_config_t ac;
    aha_actor_config_default(&ac);
    ac.endpoint = endpoint;
    ac.name = name;
    ac.group_size = rc->rl.group_size;
    ac.groups = rc->rl.actor_groups;
    ac.record_experts = rc->rl.r3;
    ac.gen =
        (aha_gen_config_t){rc->rl.max_new_tokens, (float)rc->rl.temperature, (float)rc->rl.top_p};
    AHA_TRY(aha_run_config_train_set(rc, &ac.train));
    ac.link = *link;
    aha_model_t *m = NULL;
    { /* only the shape (config.json): the weights come from the learner, and reading the
       * checkpoint's tensors would add their size to the actor's peak memory */
        char path[4096];
        aha_model_config_t mc;
        if (snprintf(path, sizeof path, "%s/config.json", init) >= (int)sizeof path)
            return AHA_FAIL(AHA_ERR_ARG, "checkpoint path too long: %s", init);
        AHA_TRY(aha_model_config_read_json(path, &mc));
        AHA_TRY(aha_model_new(&mc, &m));
    }
    void *zctx = zmq_ctx_new();
    aha_actor_stats_t st;
    int rc_ =
        zctx ? aha_actor_serve(zctx, &ac, m, &st) : AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
    if (zctx) zmq_ctx_term(zctx);
    aha_model_destroy(&m);
    if (rc_ == AHA_OK)
        AHA_INFO("actor %s: %llu groups sampled in %llu batches, last weights version %llu",
                 name, (unsigned long long)st.groups, (unsigned long long)st.batches,
                 (unsigned long long)st.version);
    return rc_;
}

int cmd_actor(int argc, char **argv) {
    cli_worker_t w;
    w.name = "actor";
    int rc = cli_worker_parse(argc, argv, k_usage, "coordinator", NULL, &w);
    if (rc == AHA_OK && !w.help) rc = run_actor(&w.cfg, w.endpoint, w.name, &w.link);
    return cli_exit(rc);
}
