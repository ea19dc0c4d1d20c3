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
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

/* How many actors (ACTORS) or verifiers have said hello to their server in S. */
static int joined(const aha_servers_t *s, int actors) {
    return actors ? aha_coord_actors(s->coord) : aha_vpool_live(s->vpool);
}

/* Waits up to MS for EXPECT actors (ACTORS) or verifiers to have said hello. */
static int wait_joined(aha_servers_t *s, int actors, int expect, int ms) {
    return actors ? aha_coord_wait_actors(s->coord, expect, ms)
                  : aha_vpool_wait_verifiers(s->vpool, expect, ms);
}

/* Starts N actor (ACTORS) or verifier processes (spawn) for their server in S at EP and waits for
 * the hellos of those still running (one may die while starting); after JOIN_MS warns and goes on
 * without the others. NONE is the log's note when none joined. */
static int start_workers(aha_servers_t *s, int actors, int n, const char *ep,
                         const char *config_path, const char *none) {
    const char *role = actors ? "actor" : "verifier";
    pid_t *pids = actors ? s->actor_pids : s->verifier_pids;
    int *n_procs = actors ? &s->n_actor_procs : &s->n_verifier_procs;
    AHA_TRY(spawn(role, ep, config_path, n, pids, n_procs));
    const double until = aha_now_ms() + JOIN_MS;
    for (;;) {
        const int expect = aha_running(pids, *n_procs);
        if (joined(s, actors) >= expect) break;
        if (aha_now_ms() > until) {
            AHA_WARN("%d of %d %s processes joined in 20 s; going on without the others",
                     joined(s, actors), expect, role);
            break;
        }
        int r = wait_joined(s, actors, expect, 100);
        if (r != AHA_OK && r != AHA_ERR_TIMEOUT) return r;
    }
    AHA_INFO("%d %s processes ready on %s%s", joined(s, actors), role, ep,
             joined(s, actors) ? "" : none);
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
    AHA_TRY(aha_wire_endpoint(aha_vpool_wire(s->vpool), ep, sizeof ep));
    return start_workers(s, 0, n, ep, config_path, " (none: scoring in the learner)");
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
    AHA_TRY(aha_wire_endpoint(aha_coord_wire(s->coord), ep, sizeof ep));
    return start_workers(s, 1, n, ep, config_path, " (none: the learner samples)");
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
        rc = aha_wire_bind_local(aha_coord_wire(s->coord), path);
    }
    if (rc == AHA_OK && s->vpool) {
        snprintf(path, sizeof path, "%s/broker.sock", d);
        unlink(path);
        rc = aha_wire_bind_local(aha_vpool_wire(s->vpool), path);
    }
    if (rc != AHA_OK) /* e.g. a run directory path too long for a Unix socket */
        AHA_WARN("aha ctl unavailable for this run: %s", aha_last_error());
    return AHA_OK;
}

/* 1 if NAME resolves to an address that is not loopback (reachable from other nodes). 0 if it
 * resolves to loopback only, -1 if it does not resolve. */
static int resolves_remote(const char *name) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res) return -1;
    int remote = 0;
    for (const struct addrinfo *a = res; a && !remote; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)a->ai_addr;
            remote = (ntohl(in->sin_addr.s_addr) >> 24) != 127;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)a->ai_addr;
            remote = !IN6_IS_ADDR_LOOPBACK(&in->sin6_addr) && !IN6_IS_ADDR_V4MAPPED(&in->sin6_addr);
        }
    }
    freeaddrinfo(res);
    return remote;
}

/* The first IPv4 address of an interface that is up and not loopback, as text; -1 if none. */
static int interface_address(char *out, size_t cap) {
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return -1;
    int found = -1;
    for (const struct ifaddrs *i = ifs; i && found < 0; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)i->ifa_addr;
        if (inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap)) found = 0;
    }
    freeifaddrs(ifs);
    return found;
}

/* The host workers are told to connect to when the sockets are bound to a wildcard address:
 * net.advertise if set; else this host's name if it resolves to a non-loopback address; else the
 * first non-loopback interface address; else the name if it resolves at all (loopback: one
 * machine only); else 127.0.0.1. Anything but the first two is logged as a warning. */
static void advertised_host(const aha_run_config_t *rc, char *out, size_t cap) {
    if (rc->net.advertise[0]) {
        snprintf(out, cap, "%s", rc->net.advertise);
        return;
    }
    char name[256] = "";
    if (gethostname(name, sizeof name - 1) != 0) name[0] = 0;
    const int r = name[0] ? resolves_remote(name) : -1;
    if (r == 1) {
        snprintf(out, cap, "%s", name);
        return;
    }
    char ip[64];
    if (interface_address(ip, sizeof ip) == 0) {
        snprintf(out, cap, "%s", ip);
        AHA_WARN("host name '%s' %s; workers are told to connect to %s (an interface address; "
                 "set net.advertise to choose)",
                 name, r == 0 ? "resolves to loopback only" : "does not resolve", ip);
        return;
    }
    snprintf(out, cap, "%s", r == 0 ? name : "127.0.0.1");
    AHA_WARN("host name '%s' %s and no other interface is up; workers are told to connect to %s "
             "(this machine only; set net.advertise)",
             name, r == 0 ? "resolves to loopback only" : "does not resolve", out);
}

/* DIR/endpoints.json: where workers started elsewhere connect ({"coordinator": ..., "broker":
 * ...}); a wildcard bind address is replaced by advertised_host(). */
static int write_endpoints(const aha_run_config_t *rc, const char *dir, aha_servers_t *s) {
    char host[256] = "", coord[300] = "", broker[300] = "", path[700];
    char *eps[2] = {coord, broker};
    if (s->coord) AHA_TRY(aha_wire_endpoint(aha_coord_wire(s->coord), coord, sizeof coord));
    if (s->vpool) AHA_TRY(aha_wire_endpoint(aha_vpool_wire(s->vpool), broker, sizeof broker));
    for (int i = 0; i < 2; i++) {
        char *star = strstr(eps[i], "//0.0.0.0:");
        if (!star) star = strstr(eps[i], "//*:");
        if (star) {
            if (!host[0]) advertised_host(rc, host, sizeof host);
            char port[32];
            snprintf(port, sizeof port, "%s", strrchr(eps[i], ':'));
            snprintf(eps[i], sizeof coord, "tcp://%s%s", host, port);
        }
    }
    snprintf(s->coord_ep, sizeof s->coord_ep, "%s", coord);
    snprintf(s->broker_ep, sizeof s->broker_ep, "%s", broker);
    cJSON *o = cJSON_CreateObject();
    if (!o) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    cJSON_AddStringToObject(o, "coordinator", coord);
    cJSON_AddStringToObject(o, "broker", broker);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return AHA_FAIL(AHA_ERR_NOMEM, "endpoints");
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    int rc_ = aha_write_text_atomic(path, text);
    free(text);
    if (rc_ == AHA_OK)
        AHA_INFO("workers connect to %s (coordinator) and %s (broker), see %s",
                 coord[0] ? coord : "-", broker[0] ? broker : "-", path);
    return rc_;
}

/* net.require_workers N: at least N actors and N verifiers (spawned or started elsewhere) join
 * within net.connect_timeout_s, else AHA_ERR_TIMEOUT naming the endpoints they were told. */
static int require_workers(const aha_run_config_t *rc, aha_servers_t *s) {
    const int n = rc->net.require_workers;
    if (n <= 0) return AHA_OK;
    AHA_INFO("waiting up to %d s for %d actor(s) and %d verifier(s) (net.require_workers)",
             rc->net.connect_timeout_s, n, n);
    const int ms = rc->net.connect_timeout_s * 1000;
    for (int actors = 1; actors >= 0; actors--) {
        if (actors ? !s->coord : !s->vpool) continue;
        const int r = wait_joined(s, actors, n, ms);
        if (r == AHA_ERR_TIMEOUT)
            return AHA_FAIL(AHA_ERR_TIMEOUT,
                            "net.require_workers: %d of %d %s(s) joined in %d s "
                            "(net.connect_timeout_s); they were told to connect to %s",
                            joined(s, actors), n, actors ? "actor" : "verifier",
                            rc->net.connect_timeout_s, actors ? s->coord_ep : s->broker_ep);
        AHA_TRY(r);
    }
    return AHA_OK;
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
    AHA_TRY(write_endpoints(rc, dir, s));
    AHA_TRY(require_workers(rc, s));
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
