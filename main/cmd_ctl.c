/* aha ctl: talk to a running learner (one started with net.serve or local workers).
 *   aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR status
 *   aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR verifier-use NAME@VERSION
 *   aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR stop
 * status: actors and verifiers of the run; verifier-use: from now on only that verifier scores,
 * the others are retired (swap verifiers mid-run); stop: the learner stops after its current step
 * with a checkpoint (as on SIGTERM; continue with aha train --resume). */
#include "core/curve.h"
#include "core/err.h"
#include "main/cmd.h"
#include "main/procs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static const char k_usage[] =
    "usage: aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR status\n"
    "       aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR verifier-use NAME@VERSION\n"
    "       aha ctl [--remote [--key FILE]] [--timeout S] RUN_DIR stop\n"
    "Reaches the learner through its local socket RUN_DIR/rl/ctl/*.sock (same user, same host;\n"
    "and the run's CURVE keys, if any). --remote: through the learner's tcp endpoints\n"
    "(RUN_DIR/rl/endpoints.json) from any host, presenting the CURVE operator key FILE (default\n"
    "NET_KEYS/operator.key, from `aha keygen`); the learner admits it if NET_KEYS/operator.pub\n"
    "was there when it started. --timeout: seconds to wait for an answer (default 10).\n";

typedef struct {
    int remote;
    const char *key; /* operator key file, NULL: net.keys/operator.key */
    int timeout_ms;
} ctl_opts_t;

/* Sends one Control to endpoint KEY of the run and prints the reply; *ok = its ok field. */
static int ask(const char *run_dir, const ctl_opts_t *o, const char *key, const char *command,
               const char *arg, int *ok) {
    char file[1100], endpoint[300];
    snprintf(file, sizeof file, "%s/rl/endpoints.json", run_dir);
    if (access(file, R_OK) != 0)
        return AHA_FAIL(AHA_ERR_IO,
                        "%s: no such file (is a learner with workers or net.serve "
                        "running in %s?)",
                        file, run_dir);
    cli_common_t none;
    memset(&none, 0, sizeof none);
    aha_run_config_t cfg;
    AHA_TRY(aha_worker_setup(&none, NULL, file, key, endpoint, sizeof endpoint, &cfg));
    int curve = 0;
    aha_keypair_t server, client;
    AHA_TRY(aha_run_config_keys(&cfg, &curve, &server, &client));
    if (o->remote) {
        /* over tcp as the operator: the learner's ZAP handler names this key "operator" */
        if (!curve)
            return AHA_FAIL(AHA_ERR_ARG,
                            "--remote: the run has no CURVE keys (net.keys), so "
                            "control is local only: run aha ctl %s on the learner's host",
                            run_dir);
        char path[1100];
        snprintf(path, sizeof path, "%s/operator.key", cfg.net.keys);
        AHA_TRY(aha_keys_load_file(o->key ? o->key : path, &client));
    } else {
        /* the run's local socket (docs/protocol.md, Control) */
        snprintf(endpoint, sizeof endpoint, "ipc://%.200s/rl/ctl/%s.sock", run_dir, key);
    }
    void *ctx = zmq_ctx_new();
    if (!ctx) return AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
    aha_wire_t *w = NULL;
    char id[64];
    snprintf(id, sizeof id, "ctl/%d", (int)getpid());
    int rc = aha_wire_new(ctx, ZMQ_DEALER, id, 1 << 20, &w);
    if (rc == AHA_OK && curve) rc = aha_wire_curve_client(w, server.public_key, &client);
    if (rc == AHA_OK) rc = aha_wire_connect(w, endpoint);
    if (rc == AHA_OK) {
        Aha__Control c = AHA__CONTROL__INIT;
        char *args[1] = {(char *)arg};
        c.command = (char *)command;
        c.n_args = arg ? 1 : 0;
        c.args = arg ? args : NULL;
        rc = aha_wire_send_body(w, NULL, &c.base);
    }
    while (rc == AHA_OK) {
        Aha__Envelope *e = NULL;
        rc = aha_wire_recv(w, o->timeout_ms, NULL, &e);
        if (rc != AHA_OK) break;
        if (e->body_case == AHA__ENVELOPE__BODY_CONTROL) {
            fputs(e->control->text, stdout);
            if (e->control->text[0] && e->control->text[strlen(e->control->text) - 1] != '\n')
                fputc('\n', stdout);
            *ok = e->control->ok;
            aha_wire_free(&e);
            break;
        }
        aha_wire_free(&e);
    }
    aha_wire_destroy(&w);
    zmq_ctx_term(ctx);
    if (rc == AHA_ERR_TIMEOUT)
        return AHA_FAIL(AHA_ERR_TIMEOUT, "no answer from %s in %d ms (is the run still going?%s)",
                        endpoint, o->timeout_ms,
                        o->remote ? " is the key the run's operator key?" : "");
    return rc;
}

int cmd_ctl(int argc, char **argv) {
    ctl_opts_t o = {0, NULL, 10000};
    double timeout_s = 10;
    const cli_opt_t opts[] = {{"--remote", .flag = &o.remote},
                              {"--key", .str = &o.key},
                              {"--timeout", .number = &timeout_s},
                              {0}};
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(k_usage, stdout);
            return 0;
        }
        const int taken = cli_take_opt(opts, argc, argv, &i);
        if (taken < 0) return cli_fail(taken);
        if (!taken) {
            fputs(k_usage, stderr);
            return 2;
        }
    }
    if (!(timeout_s > 0 && timeout_s <= 3600))
        return cli_fail(
            AHA_FAIL(AHA_ERR_ARG, "--timeout: seconds in (0, 3600], got %g", timeout_s));
    o.timeout_ms = (int)(timeout_s * 1000);
    if (o.key && !o.remote) return cli_fail(AHA_FAIL(AHA_ERR_ARG, "--key goes with --remote"));
    argc -= i;
    argv += i;
    if (argc < 2) {
        fputs(k_usage, stderr);
        return 2;
    }
    const char *run = argv[0], *what = argv[1];
    int ok = 0, rc;
    if (!strcmp(what, "status") && argc == 2) {
        int ok2 = 0;
        rc = ask(run, &o, "coordinator", "status", NULL, &ok);
        if (rc == AHA_OK) rc = ask(run, &o, "broker", "status", NULL, &ok2);
        ok = ok && ok2;
    } else if (!strcmp(what, "stop") && argc == 2) {
        rc = ask(run, &o, "coordinator", "stop", NULL, &ok);
    } else if (!strcmp(what, "verifier-use") && argc == 3) {
        rc = ask(run, &o, "broker", "verifier-use", argv[2], &ok);
    } else {
        fputs(k_usage, stderr);
        return 2;
    }
    if (rc < 0) return cli_fail(rc);
    return ok ? 0 : 1;
}
