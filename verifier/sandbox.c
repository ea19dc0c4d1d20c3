#include "verifier/sandbox.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

void aha_sandbox_config_default(aha_sandbox_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->deadline_ms = 5000;
    cfg->memory_bytes = (size_t)512 << 20;
    cfg->max_output = 64 << 10;
}

/* In the child: limits, pipes on stdin/stdout, exec. Only async-signal-safe calls. */
static void child(const aha_sandbox_config_t *cfg, int in_fd, int out_fd) {
    setpgid(0, 0);
    struct rlimit cpu = {(rlim_t)(cfg->deadline_ms / 1000 + 1),
                         (rlim_t)(cfg->deadline_ms / 1000 + 2)};
    setrlimit(RLIMIT_CPU, &cpu);
    struct rlimit fsize = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_FSIZE, &fsize);
    if (cfg->memory_bytes) {
        struct rlimit as = {(rlim_t)cfg->memory_bytes, (rlim_t)cfg->memory_bytes};
        setrlimit(RLIMIT_AS, &as);
    }
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    signal(SIGPIPE, SIG_DFL);
    execl("/bin/sh", "sh", "-c", cfg->command, (char *)NULL);
    _exit(127);
}

static int parse(const char *buf, int n, double *out) {
    const char *p = buf;
    for (int i = 0; i < n; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0 || v > 1) return -1;
        while (*end == ' ' || *end == '\t' || *end == '\r')
            end++;
        if (*end != '\n' && *end != '\0') return -1;
        out[i] = v;
        p = *end ? end + 1 : end;
    }
    while (*p == '\n' || *p == ' ' || *p == '\r' || *p == '\t')
        p++;
    return *p ? -1 : 0;
}

int aha_sandbox_run(const aha_sandbox_config_t *cfg, const char *input, size_t len, int n,
                    double *out, aha_sandbox_stats_t *stats) {
    if (!cfg || !cfg->command || !input || !out || n < 0 || cfg->deadline_ms <= 0)
        return AHA_FAIL(AHA_ERR_ARG, "aha_sandbox_run: bad argument");
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0) return AHA_FAIL(AHA_ERR_IO, "sandbox: pipe: %s", strerror(errno));
    if (pipe(from_child) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return AHA_FAIL(AHA_ERR_IO, "sandbox: pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        for (int i = 0; i < 2; i++)
            close(to_child[i]), close(from_child[i]);
        return AHA_FAIL(AHA_ERR_STATE, "sandbox: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        child(cfg, to_child[0], from_child[1]);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    close(to_child[0]);
    close(from_child[1]);
    int wfd = to_child[1], rfd = from_child[0];
    fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    char *buf = malloc(cfg->max_output + 2);
    size_t got = 0, sent = 0;
    int too_much = 0, timed_out = 0, eof = 0;
    const double end = aha_now_ms() + cfg->deadline_ms;
    if (len == 0) close(wfd), wfd = -1;
    while (buf && !eof && !too_much) {
        double left = end - aha_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd fds[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
        int nf = wfd >= 0 ? 2 : 1;
        if (poll(fds, (nfds_t)nf, (int)left + 1) < 0 && errno != EINTR) break;
        if (nf == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(wfd, input + sent, len - sent);
            if (w > 0) sent += (size_t)w;
            if (w < 0 && errno != EAGAIN) sent = len; /* the command closed stdin: fine */
            if (sent >= len) close(wfd), wfd = -1;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(rfd, buf + got, cfg->max_output + 1 - got);
            if (r <= 0)
                eof = 1;
            else if ((got += (size_t)r) > cfg->max_output)
                too_much = 1;
        }
    }
    if (wfd >= 0) close(wfd);
    close(rfd);
    signal(SIGPIPE, old_pipe);
    kill(-pid, SIGKILL); /* the command and anything it left running */
    int status = 0;
    waitpid(pid, &status, 0);
    aha_sandbox_stats_t none = {0, 0, 0, 0, 0};
    if (!stats) stats = &none;
    stats->calls++;
    int ok = 0;
    const char *why = NULL;
    if (!buf)
        why = "out of memory";
    else if (timed_out)
        why = "deadline passed", stats->timeouts++;
    else if (too_much)
        why = "too much output", stats->bad_output++;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        why = "failed (non-zero exit or killed)", stats->failed_exit++;
    else {
        buf[got] = 0;
        if (parse(buf, n, out) == 0)
            ok = 1;
        else
            why = "output is not one number in [0, 1] per sample", stats->bad_output++;
    }
    free(buf);
    if (ok) {
        stats->ok++;
        return AHA_OK;
    }
    for (int i = 0; i < n; i++)
        out[i] = 0;
    uint64_t bad = stats->calls - stats->ok;
    if (aha_log_nth(bad))
        AHA_WARN("verifier command '%.60s' %s; its %d samples score 0 (%llu failed calls)",
                 cfg->command, why, n, (unsigned long long)bad);
    return AHA_OK;
}
