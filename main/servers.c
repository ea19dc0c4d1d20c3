#include "main/servers.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "main/procs.h"
#include "model/tokenizer.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

enum { JOIN_MS = 20000, MAX_BYTES = 64 << 20 };

/* Starts `aha ROLE --connect EP --config CONFIG_PATH --name NAME-i [...]` for i < n. */
static int spawn(const char *role, const char *ep, const char *config_path, int n, pid_t *pids,
                 int *n_procs) {
    for (int i = 0; i < n; i++) {
        char name[32];
        const int verifier = !strcmp(role, "verifier");
        snprintf(name, sizeof name, "%s-%d", verifier ? "rules" : "actor", i);
        char *argv[] = {"aha",      (char *)role, "--connect",
                        (char *)ep, "--config",   (char *)config_path,
                        "--name",   name,         verifier ? "--version" : NULL,
                        "1",        NULL};
        AHA_TRY(aha_spawn_self(argv, &pids[i]));
        (*n_procs)++;
    }
    return AHA_OK;
}

static int start_pool(const aha_run_config_t *rc, const char *bind, const aha_keypair_t *curve,
                      const char *config_path, const aha_sandbox_config_t *sandbox,
                      aha_servers_t *s) {
    const int n = rc->rl.verifiers;
    if (n > AHA_SERVERS_MAX_PROCS)
        return AHA_FAIL(AHA_ERR_CONFIG, "rl.verifiers: at most %d", AHA_SERVERS_MAX_PROCS);
    char ep[256];
    AHA_TRY(aha_vpool_new(s->zctx, bind, MAX_BYTES, rc->model.max_seq_len,
                          rc->rl.verifier_deadline_ms, sandbox, curve, &s->vpool));
    AHA_TRY(aha_vpool_endpoint(s->vpool, ep, sizeof ep));
    AHA_TRY(spawn("verifier", ep, config_path, n, s->verifier_pids, &s->n_verifier_procs));
    /* wait for the hellos of the workers that are still running (one may die while starting) */
    for (int waited = 0;; waited += 200) {
        const int expect = aha_running(s->verifier_pids, s->n_verifier_procs);
        if (aha_vpool_live(s->vpool) >= expect) break;
        if (waited >= JOIN_MS) {
            AHA_WARN("%d of %d verifier processes joined in 20 s; going on without the others",
                     aha_vpool_live(s->vpool), expect);
            break;
        }
        int r = aha_vpool_wait_verifiers(s->vpool, expect, 200);
        if (r != AHA_OK && r != AHA_ERR_TIMEOUT) return r;
    }
    AHA_INFO("%d verifier processes ready on %s%s", aha_vpool_live(s->vpool), ep,
             aha_vpool_live(s->vpool) ? "" : " (none: scoring in the learner)");
    return AHA_OK;
}

static int start_coord(const aha_run_config_t *rc, const char *bind, const aha_keypair_t *curve,
                       const char *config_path, aha_servers_t *s) {
    const int n = rc->rl.actors;
    if (n > AHA_SERVERS_MAX_PROCS)
        return AHA_FAIL(AHA_ERR_CONFIG, "rl.actors: at most %d", AHA_SERVERS_MAX_PROCS);
    const aha_msg_limits_t limits = {AHA_TOK_VOCAB,
                                     rc->model.max_seq_len,
                                     rc->model.n_layers,
                                     rc->model.n_routed_experts > 0 ? rc->model.top_k : 0,
                                     rc->model.n_routed_experts,
                                     rc->rl.group_size};
    char ep[256];
    AHA_TRY(aha_coord_new(s->zctx, bind, MAX_BYTES, &limits, rc->rl.group_size, curve, &s->coord));
    AHA_TRY(aha_coord_endpoint(s->coord, ep, sizeof ep));
    AHA_TRY(spawn("actor", ep, config_path, n, s->actor_pids, &s->n_actor_procs));
    /* wait for the hellos of the actors that are still running (one may die while starting) */
    const double until = aha_now_ms() + JOIN_MS;
    for (;;) {
        const int expect = aha_running(s->actor_pids, s->n_actor_procs);
        if (aha_coord_actors(s->coord) >= expect) break;
        if (aha_now_ms() > until) {
            AHA_WARN("coordinator: %d of %d actors joined in 20 s; going on without the others",
                     aha_coord_actors(s->coord), n);
            break;
        }
        int r = aha_coord_wait_actors(s->coord, expect, 100);
        if (r != AHA_OK && r != AHA_ERR_TIMEOUT) return r;
    }
    AHA_INFO("%d actor processes ready on %s%s", aha_coord_actors(s->coord), ep,
             aha_coord_actors(s->coord) ? "" : " (none: the learner samples)");
    return AHA_OK;
}

/* DIR/ctl/{coordinator,broker}.sock: the only sockets that take control commands (aha ctl), in
 * a directory only this user may enter (docs/protocol.md, Control). */
static int bind_control(const char *dir, aha_servers_t *s) {
    char d[700], path[760];
    snprintf(d, sizeof d, "%s/ctl", dir);
    if (mkdir(d, 0700) != 0 && errno != EEXIST)
        return AHA_FAIL(AHA_ERR_IO, "%s: %s", d, strerror(errno));
    if (chmod(d, 0700) != 0) return AHA_FAIL(AHA_ERR_IO, "chmod %s: %s", d, strerror(errno));
    int rc = AHA_OK;
    if (s->coord) {
        snprintf(path, sizeof path, "%s/coordinator.sock", d);
        unlink(path); /* left by a killed run */
        rc = aha_coord_bind_control(s->coord, path);
    }
    if (rc == AHA_OK && s->vpool) {
        snprintf(path, sizeof path, "%s/broker.sock", d);
        unlink(path);
        rc = aha_vpool_bind_control(s->vpool, path);
    }
    if (rc != AHA_OK) /* e.g. a run directory path too long for a Unix socket */
        AHA_WARN("aha ctl unavailable for this run: %s", aha_last_error());
    return AHA_OK;
}

/* DIR/endpoints.json: where workers started elsewhere connect ({"coordinator": ..., "broker":
 * ...}); a wildcard bind address is replaced by this host's name. */
static int write_endpoints(const char *dir, const aha_servers_t *s) {
    char host[256] = "localhost", coord[300] = "", broker[300] = "", path[700];
    gethostname(host, sizeof host - 1);
    char *eps[2] = {coord, broker};
    if (s->coord) AHA_TRY(aha_coord_endpoint(s->coord, coord, sizeof coord));
    if (s->vpool) AHA_TRY(aha_vpool_endpoint(s->vpool, broker, sizeof broker));
    for (int i = 0; i < 2; i++) {
        char *star = strstr(eps[i], "//0.0.0.0:");
        if (!star) star = strstr(eps[i], "//*:");
        if (star) {
            char port[32];
            snprintf(port, sizeof port, "%s", strrchr(eps[i], ':'));
            snprintf(eps[i], sizeof coord, "tcp://%s%s", host, port);
        }
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    cJSON_AddStringToObject(o, "coordinator", coord);
    cJSON_AddStringToObject(o, "broker", broker);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    const void *parts[] = {text};
    const size_t lens[] = {strlen(text)};
    int rc = aha_write_file_atomic(path, parts, lens, 1);
    free(text);
    if (rc == AHA_OK)
        AHA_INFO("workers connect to %s (coordinator) and %s (broker), see %s",
                 coord[0] ? coord : "-", broker[0] ? broker : "-", path);
    return rc;
}

int aha_servers_start(const aha_run_config_t *rc, const char *config_path, const char *dir,
                      const aha_sandbox_config_t *sandbox, aha_servers_t *s) {
    memset(s, 0, sizeof *s);
    const int pool = rc->rl.verifiers > 0 || rc->net.serve;
    const int coord = rc->rl.actors > 0 || rc->net.serve;
    if (!pool && !coord) return AHA_OK;
    s->zctx = zmq_ctx_new();
    if (!s->zctx) return AHA_FAIL(AHA_ERR_NET, "zmq_ctx_new failed");
    int curve = 0;
    aha_keypair_t server;
    char bind[300];
    AHA_TRY(aha_run_config_listen(rc, s->zctx, bind, sizeof bind, &curve, &server, &s->zap));
    if (pool) AHA_TRY(start_pool(rc, bind, curve ? &server : NULL, config_path, sandbox, s));
    if (coord) AHA_TRY(start_coord(rc, bind, curve ? &server : NULL, config_path, s));
    AHA_TRY(bind_control(dir, s));
    AHA_TRY(write_endpoints(dir, s));
    if (!s->vpool || rc->net.wait_verifiers <= 0) return AHA_OK;
    /* verifiers started elsewhere (from endpoints.json) join before the first step */
    const int want = aha_vpool_live(s->vpool) + rc->net.wait_verifiers;
    AHA_INFO("waiting up to %d s for %d verifier(s) started elsewhere (net.wait_verifiers)",
             rc->net.connect_timeout_s, rc->net.wait_verifiers);
    int r = aha_vpool_wait_verifiers(s->vpool, want, rc->net.connect_timeout_s * 1000);
    if (r == AHA_ERR_TIMEOUT)
        return AHA_FAIL(AHA_ERR_TIMEOUT,
                        "net.wait_verifiers: %d verifier(s) started elsewhere did not join in %d s "
                        "(net.connect_timeout_s)",
                        rc->net.wait_verifiers, rc->net.connect_timeout_s);
    AHA_TRY(r);
    AHA_INFO("%d verifier(s) live", aha_vpool_live(s->vpool));
    return AHA_OK;
}

void aha_servers_stop(aha_servers_t *s) {
    aha_coord_stop_actors(s->coord);
    aha_reap(s->actor_pids, s->n_actor_procs, 2000);
    aha_coord_destroy(&s->coord);
    aha_vpool_stop_verifiers(s->vpool);
    aha_reap(s->verifier_pids, s->n_verifier_procs, 2000);
    aha_vpool_destroy(&s->vpool);
    aha_zap_stop(&s->zap);
    if (s->zctx) zmq_ctx_term(s->zctx);
    s->zctx = NULL;
    s->n_actor_procs = s->n_verifier_procs = 0;
}
