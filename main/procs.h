/* main/procs.h — local worker processes started from this executable (verifiers, actors). */
#ifndef AHA_MAIN_PROCS_H
#define AHA_MAIN_PROCS_H
#include "main/cmd.h"
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Starts this executable (/proc/self/exe) with ARGV (NULL-terminated, argv[0] "aha") as a child
 * process; *pid written on success. */
int aha_spawn_self(char *const argv[], pid_t *pid);

/* Waits up to GRACE_MS for each of PIDS[0..n) to exit, then SIGKILLs (and reaps) the rest.
 * Returns how many had to be killed. */
int aha_reap(const pid_t *pids, int n, int grace_ms);

/* How many of PIDS[0..n) are still running; the ones that exited are reaped and set to -1 (so
 * aha_reap skips them). */
int aha_running(pid_t *pids, int n);

/* Reads endpoint KEY ("coordinator" or "broker") from the endpoints file FILE that `aha train`
 * writes with net.serve, waiting up to WAIT_MS for the file to appear (or *stop to be set).
 * AHA_ERR_TIMEOUT if it does not, AHA_ERR_FORMAT if the key is missing or empty. */
int aha_read_endpoint(const char *file, const char *key, int wait_ms, volatile int *stop, char *out,
                      size_t cap);

/* Set by SIGTERM / SIGINT once aha_catch_stop_signals() ran: workers finish and exit 0. */
extern volatile sig_atomic_t aha_stop_requested;
void aha_catch_stop_signals(void);

/* Shared start of `aha actor` / `aha verifier`: the endpoint from CONNECT, else endpoint KEY of
 * ENDPOINTS_FILE (waiting for it); the run config from cli->config, else the learner's
 * config.yaml beside ENDPOINTS_FILE, plus cli's --set overrides. */
int aha_worker_setup(const cli_common_t *cli, const char *connect, const char *endpoints_file,
                     const char *key, char *endpoint, size_t cap, aha_run_config_t *cfg);

#endif
