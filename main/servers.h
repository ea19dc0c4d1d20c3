/* main/servers.h — the learner's rank-0 servers of `aha train`, built from the run config: one
 * ZeroMQ context (with the CURVE ZAP handler if net.keys is set), the lease coordinator
 * (learner/coordinator.h) with rl.actors local `aha actor` processes, the verifier pool
 * (learner/verifier_pool.h) with rl.verifiers local `aha verifier` processes, and the endpoints
 * file workers started elsewhere read (net.serve). Everything here is owned by the struct. */
#ifndef AHA_MAIN_SERVERS_H
#define AHA_MAIN_SERVERS_H
#include "learner/coordinator.h"
#include "learner/verifier_pool.h"
#include "main/run_config.h"
#include <sys/types.h>

enum { AHA_SERVERS_MAX_PROCS = 64 };

typedef struct {
    void *zctx;
    aha_zap_t *zap;
    aha_coord_t *coord; /* rl.actors > 0 or net.serve */
    aha_vpool_t *vpool; /* rl.verifiers > 0 or net.serve */
    pid_t actor_pids[AHA_SERVERS_MAX_PROCS];
    int n_actor_procs;
    pid_t verifier_pids[AHA_SERVERS_MAX_PROCS];
    int n_verifier_procs;
    char coord_ep[300], broker_ep[300]; /* as written into endpoints.json ("" if none) */
} aha_servers_t;

/* Starts what RC asks for (nothing without actors, verifiers or net.serve): binds on net.host,
 * starts the local worker processes with `--config CONFIG_PATH` and waits (up to 20 s each) until
 * the running ones joined; writes DIR/endpoints.json if anything listens (a wildcard net.host is
 * replaced by net.advertise or a host name / address that works, see docs/slurm.md); then waits
 * for net.wait_verifiers and net.require_workers (AHA_ERR_TIMEOUT naming the endpoint). SANDBOX (may be NULL;
 * must outlive *s) is the pool's in-process fallback for rl.verifier_exec. *s is zeroed first and
 * valid for aha_servers_stop also after an error. */
int aha_servers_start(const aha_run_config_t *rc, const char *config_path, const char *dir,
                      const aha_sandbox_config_t *sandbox, aha_servers_t *s);
/* Tells the workers to stop, reaps the local processes (SIGKILL after 2 s), frees everything. */
void aha_servers_stop(aha_servers_t *s);

#endif
