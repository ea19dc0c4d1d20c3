#include "main/procs.h"
#include "core/err.h"
#include "main/run_config.h"
#include "core/log.h"
#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int aha_spawn_self(char *const argv[], pid_t *pid) {
    if (!argv || !argv[0] || !pid) return AHA_FAIL(AHA_ERR_ARG, "aha_spawn_self: bad argument");
    fflush(NULL);
    const pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) return AHA_FAIL(AHA_ERR_STATE, "fork: cannot start '%s %s'", argv[0], argv[1]);
    if (p == 0) {
        /* the worker dies with the learner: SIGTERM when the parent exits (kept across execv);
         * if the parent already died between fork and prctl, do not start at all */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(1);
        /* `aha train` blocks SIGTERM/SIGINT (it looks for them between steps); a worker must
         * get them */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    *pid = p;
    return AHA_OK;
}

int aha_read_endpoint(const char *file, const char *key, int wait_ms, volatile int *stop, char *out,
                      size_t cap) {
    if (!file || !key || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_read_endpoint: NULL argument");
    const struct timespec tick = {0, 100 * 1000 * 1000};
    FILE *f = NULL;
    for (int waited = 0; !(f = fopen(file, "r")); waited += 100) {
        if (waited >= wait_ms || (stop && *stop))
            return AHA_FAIL(AHA_ERR_TIMEOUT,
                            "%s did not appear in %d ms (is the learner running "
                            "with net.serve: true?)",
                            file, wait_ms);
        nanosleep(&tick, NULL);
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    int ok = cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) < cap;
    if (ok) snprintf(out, cap, "%s", v->valuestring);
    cJSON_Delete(o);
    return ok ? AHA_OK : AHA_FAIL(AHA_ERR_FORMAT, "%s: no \"%s\" endpoint", file, key);
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

static int config_beside(const char *file, char *out, size_t cap) {
    const char *slash = strrchr(file, '/');
    int n = slash ? snprintf(out, cap, "%.*s/config.yaml", (int)(slash - file), file)
                  : snprintf(out, cap, "config.yaml");
    if (n < 0 || (size_t)n >= cap) return -1;
    FILE *f = fopen(out, "r");
    if (!f) return -1;
    fclose(f);
    return 0;
}

volatile sig_atomic_t aha_stop_requested = 0;
static void on_stop_signal(int sig) {
    (void)sig;
    aha_stop_requested = 1;
}

void aha_catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int aha_worker_setup(const cli_common_t *cli, const char *connect, const char *endpoints_file,
                     const char *key, char *endpoint, size_t cap, aha_run_config_t *cfg) {
    if (!connect && !endpoints_file)
        return AHA_FAIL(AHA_ERR_ARG, "--connect ENDPOINT or --endpoints-file FILE is required");
    if (connect) {
        if (strlen(connect) >= cap) return AHA_FAIL(AHA_ERR_ARG, "endpoint '%s' too long", connect);
        snprintf(endpoint, cap, "%s", connect);
    } else {
        /* the wait for the file: net.connect_timeout_s of --config / --set (else the default) */
        aha_run_config_t pre;
        int wait_ms = 300000;
        if (aha_run_config_load(cli->config, cli->overrides, cli->n_overrides, &pre) == AHA_OK)
            wait_ms = pre.net.connect_timeout_s * 1000;
        AHA_TRY(aha_read_endpoint(endpoints_file, key, wait_ms, (volatile int *)&aha_stop_requested,
                                  endpoint, cap));
    }
    char beside[1100];
    const char *config = cli->config;
    if (!config && endpoints_file && config_beside(endpoints_file, beside, sizeof beside) == 0)
        config = beside;
    return aha_run_config_load(config, cli->overrides, cli->n_overrides, cfg);
}
