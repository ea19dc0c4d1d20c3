/* aha ctl: talk to a running learner (one started with net.serve or local workers).
 *   aha ctl RUN_DIR status                        actors and verifiers of the run
 *   aha ctl RUN_DIR verifier-use NAME@VERSION     from now on only that verifier scores; the
 *                                                 others are retired (swap verifiers mid-run) */
#include "core/curve.h"
#include "core/err.h"
#include "main/cmd.h"
#include "main/procs.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static const char k_usage[] =
    "usage: aha ctl RUN_DIR status\n"
    "       aha ctl RUN_DIR verifier-use NAME@VERSION\n"
    "Reaches the learner through its local socket RUN_DIR/rl/ctl/*.sock (same user, same host;\n"
    "and the run's CURVE keys, if any).\n";

/* Sends one Control to endpoint KEY of the run and prints the reply; 1 if it said ok. */
static int ask(const char *run_dir, const char *key, const char *command, const char *arg,
               int *ok) {
    char file[1100], endpoint[300];
    snprintf(file, sizeof file, "%s/rl/endpoints.json", run_dir);
    cli_common_t none;
    memset(&none, 0, sizeof none);
    aha_run_config_t cfg;
    AHA_TRY(aha_worker_setup(&none, NULL, file, key, endpoint, sizeof endpoint, &cfg));
    int curve = 0;
    aha_keypair_t server, client;
    AHA_TRY(aha_run_config_keys(&cfg, &curve, &server, &client));
    void *ctx = zmq_ctx_new();
    if (!ctx) return AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
    aha_wire_t *w = NULL;
    char id[64];
    snprintf(id, sizeof id, "ctl/%d", (int)getpid());
    /* control commands are taken only on the run's local socket (docs/protocol.md, Control) */
    snprintf(endpoint, sizeof endpoint, "ipc://%.200s/rl/ctl/%s.sock", run_dir, key);
    int rc = aha_wire_new(ctx, ZMQ_DEALER, id, 1 << 20, &w);
    if (rc == AHA_OK && curve) rc = aha_wire_curve_client(w, server.public_key, &client);
    if (rc == AHA_OK) rc = aha_wire_connect(w, endpoint);
    if (rc == AHA_OK) {
        Aha__Envelope env = AHA__ENVELOPE__INIT;
        Aha__Control c = AHA__CONTROL__INIT;
        char *args[1] = {(char *)arg};
        c.command = (char *)command;
        c.n_args = arg ? 1 : 0;
        c.args = arg ? args : NULL;
        env.body_case = AHA__ENVELOPE__BODY_CONTROL;
        env.control = &c;
        rc = aha_wire_send(w, NULL, &env);
    }
    while (rc == AHA_OK) {
        Aha__Envelope *e = NULL;
        rc = aha_wire_recv(w, 10000, NULL, &e);
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
        return AHA_FAIL(AHA_ERR_TIMEOUT, "no answer from %s in 10 s (is the run still going?)",
                        endpoint);
    return rc;
}

int cmd_ctl(int argc, char **argv) {
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (argc < 2) {
        fputs(k_usage, stderr);
        return 2;
    }
    const char *run = argv[0], *what = argv[1];
    int ok = 0, rc;
    if (!strcmp(what, "status") && argc == 2) {
        int ok2 = 0;
        rc = ask(run, "coordinator", "status", NULL, &ok);
        if (rc == AHA_OK) rc = ask(run, "broker", "status", NULL, &ok2);
        ok = ok && ok2;
    } else if (!strcmp(what, "verifier-use") && argc == 3) {
        rc = ask(run, "broker", "verifier-use", argv[2], &ok);
    } else {
        fputs(k_usage, stderr);
        return 2;
    }
    if (rc < 0) return cli_fail(rc);
    return ok ? 0 : 1;
}
