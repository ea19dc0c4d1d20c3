#include "main/procs.h"
#include "core/err.h"
#include "core/log.h"
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int aha_spawn_self(char *const argv[], pid_t *pid) {
    if (!argv || !argv[0] || !pid) return AHA_FAIL(AHA_ERR_ARG, "aha_spawn_self: bad argument");
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return AHA_FAIL(AHA_ERR_STATE, "fork: cannot start '%s %s'", argv[0], argv[1]);
    if (p == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    *pid = p;
    return AHA_OK;
}

int aha_running(pid_t *pids, int n) {
    int alive = 0;
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0) continue;
        int status;
        pid_t r = waitpid(pids[i], &status, WNOHANG);
        if (r == pids[i] || r < 0) {
            AHA_WARN("worker process %d exited early", (int)pids[i]);
            pids[i] = -1;
        } else {
            alive++;
        }
    }
    return alive;
}

int aha_reap(const pid_t *pids, int n, int grace_ms) {
    int killed = 0;
    const struct timespec tick = {0, 20 * 1000 * 1000};
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0) continue;
        int status, done = 0;
        for (int waited = 0; waited <= grace_ms && !done; waited += 20) {
            pid_t r = waitpid(pids[i], &status, WNOHANG);
            done = r == pids[i] || r < 0;
            if (!done) nanosleep(&tick, NULL);
        }
        if (!done) {
            AHA_WARN("worker process %d did not stop; killing it", (int)pids[i]);
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status, 0);
            killed++;
        }
    }
    return killed;
}
