/* aha verifier: a verifier worker process (verifier/worker.h) scoring groups for a broker. */
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "main/procs.h"
#include "model/tokenizer.h"
#include "verifier/worker.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static const char k_usage[] =
    "usage: aha verifier (--connect ENDPOINT | --endpoints-file FILE) [CONFIG] [--set k=v]...\n"
    "                    [--name N] [--version V]\n"
    "                    [--heartbeat-ms MS]\n"
    "FILE is RUN_DIR/rl/endpoints.json of a learner running with net.serve (waits for it).\n"
    "Scores sampled groups with the rule rewards of CONFIG's rl section (weights, overlong "
    "window,\n"
    "language charset) for the broker at ENDPOINT (e.g. tcp://learner0:5555) until the broker\n"
    "says stop or SIGTERM/SIGINT arrives. Replies carry NAME@VERSION (default rules@1).\n";

int cmd_verifier(int argc, char **argv) {
    cli_worker_t w;
    aha_verifier_config_t vc;
    aha_verifier_config_default(&vc);
    const cli_opt_t opts[] = {
        {"--version", .str = &vc.version},
        {"--heartbeat-ms", .count = &vc.heartbeat_ms, .min = 1, .max = 3600000},
        {0}};
    w.name = vc.name;
    int rc = cli_worker_parse(argc, argv, k_usage, "broker", opts, &w);
    if (rc < 0) return cli_fail(rc);
    if (w.help) return 0;
    vc.name = w.name;
    const aha_run_config_t *cfg = &w.cfg;
    vc.endpoint = w.endpoint;
    rc = aha_run_config_reward(cfg, &vc.reward);
    if (rc < 0) return cli_fail(rc);
    vc.limits.max_len = cfg->model.max_seq_len;
    vc.link = w.link;
    aha_sandbox_config_t sandbox;
    if (aha_run_config_sandbox(cfg, &sandbox)) vc.sandbox = &sandbox;
    void *ctx = zmq_ctx_new();
    if (!ctx) return cli_fail(AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed"));
    aha_verifier_stats_t st;
    rc = aha_verifier_serve(ctx, &vc, &st);
    zmq_ctx_term(ctx);
    AHA_INFO("verifier %s@%s: %llu groups, %llu samples scored; dropped %llu invalid, %llu "
             "malformed messages",
             vc.name, vc.version, (unsigned long long)st.groups, (unsigned long long)st.samples,
             (unsigned long long)st.wire.invalid, (unsigned long long)st.wire.malformed);
    return rc < 0 ? cli_fail(rc) : 0;
}
