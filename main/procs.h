/* main/procs.h — local worker processes started from this executable (verifiers, actors). */
#ifndef AHA_MAIN_PROCS_H
#define AHA_MAIN_PROCS_H
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

#endif
