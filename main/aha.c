/* aha — one executable, one subcommand per role. */
#include "core/clock.h"
#include "core/err.h"
#include "core/curve.h"
#include "core/log.h"
#include "main/cmd.h"
#include "main/procs.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis, *summary;
} command_t;

#define COMMAND_ROW(name, function, synopsis, summary) {name, function, synopsis, summary},
static const command_t k_commands[] = {AHA_COMMANDS(COMMAND_ROW)};
#undef COMMAND_ROW
enum { N_COMMANDS = sizeof k_commands / sizeof *k_commands };

static void print_usage(FILE *out) {
    fputs("usage: aha <command> [options]\n\ncommands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-40s  %s\n", k_commands[i].synopsis, k_commands[i].summary);
    fputs("\nCONFIG is a YAML file (default: the embedded configs/demo.yaml).\n"
          "`aha <command> --help` lists a command's options.\n",
          out);
}

int cli_fail(int rc) {
    const char *msg = aha_last_error();
    fprintf(stderr, "aha: %s\n", msg && *msg ? msg : aha_strerror(rc));
    return rc == AHA_ERR_ARG ? 2 : 1;
}

int cli_exit(int rc) {
    return rc < 0 ? cli_fail(rc) : 0;
}

int cli_take_opt(const cli_opt_t *opts, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const cli_opt_t *o = opts;
    while (o && o->name && strcmp(o->name, a))
        o++;
    if (!o || !o->name) return 0;
    if (o->flag) {
        *o->flag = 1;
        return 1;
    }
    if (*i + 1 >= argc) return AHA_FAIL(AHA_ERR_ARG, "%s needs a value", a);
    const char *v = argv[*i + 1];
    char *end = NULL;
    if (o->count) {
        errno = 0;
        const long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < o->min || x > o->max)
            return AHA_FAIL(AHA_ERR_ARG, "%s: expected an integer in [%d, %d], got '%s'", a, o->min,
                            o->max, v);
        *o->count = (int)x;
    } else if (o->number) {
        const double x = strtod(v, &end);
        if (!*v || *end || !isfinite(x))
            return AHA_FAIL(AHA_ERR_ARG, "%s: '%s' is not a number", a, v);
        *o->number = x;
    } else {
        *o->str = v;
    }
    ++*i;
    return 1;
}

int cli_parse(int argc, char **argv, const cli_opt_t *opts, cli_common_t *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            o->help = 1;
            return AHA_OK;
        }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const int taken = cli_take_opt(opts, argc, argv, &i);
        if (taken) {
            if (taken < 0) return taken;
        } else if (!strcmp(a, "--set") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) return AHA_FAIL(AHA_ERR_ARG, "%s needs a value", a);
            if (a[2] == 's') {
                if (o->n_overrides >= sizeof o->overrides / sizeof *o->overrides)
                    return AHA_FAIL(AHA_ERR_ARG, "too many --set options");
                o->overrides[o->n_overrides++] = argv[++i];
            } else {
                o->config = argv[++i];
            }
        } else if (a[0] != '-' && !o->config) {
            o->config = a;
        } else {
            return AHA_FAIL(AHA_ERR_ARG, "unknown option '%s' (see --help)", a);
        }
    }
    return AHA_OK;
}

int cli_begin(int argc, char **argv, const cli_opt_t *opts, cli_common_t *cli, int *status,
              const char *usage, ...) {
    int rc = cli_parse(argc, argv, opts, cli);
    if (rc < 0) {
        *status = cli_fail(rc);
        return 0;
    }
    if (cli->help) {
        va_list ap;
        va_start(ap, usage);
        vprintf(usage, ap);
        va_end(ap);
        *status = 0;
        return 0;
    }
    return 1;
}

int cli_train_command(int argc, char **argv, const char *usage, int cached_ok,
                      int (*run)(const aha_run_config_t *rc, const cli_train_opts_t *opts)) {
    cli_train_opts_t o = {0, 0};
    const cli_opt_t opts[] = {{"--resume", .flag = &o.resume},
                              {cached_ok ? "--cached-ok" : NULL, .flag = &o.cached_ok},
                              {0}};
    cli_common_t cli;
    int status;
    if (!cli_begin(argc, argv, opts, &cli, &status, "%s", usage)) {
        if (cli.help) {
            printf("config keys:\n");
            aha_cfg_print_help(aha_run_config_fields, aha_run_config_n_fields);
        }
        return status;
    }
    aha_run_config_t cfg;
    int rc = aha_run_config_load(cli.config, cli.overrides, cli.n_overrides, &cfg);
    if (rc >= 0) rc = run(&cfg, &o);
    return cli_exit(rc);
}

int cli_worker_parse(int argc, char **argv, const char *usage, const char *key,
                     const cli_opt_t *opts, cli_worker_t *w) {
    const char *connect = NULL, *endpoints_file = NULL;
    cli_opt_t all[8] = {{"--connect", .str = &connect},
                        {"--endpoints-file", .str = &endpoints_file},
                        {"--name", .str = &w->name}};
    for (int j = 0; opts && opts[j].name; j++) {
        if (j >= 4) return AHA_FAIL(AHA_ERR_ARG, "cli_worker_parse: more than 4 options");
        all[3 + j] = opts[j];
    }
    cli_common_t cli;
    AHA_TRY(cli_parse(argc, argv, all, &cli));
    w->help = cli.help;
    if (cli.help) {
        fputs(usage, stdout);
        return AHA_OK;
    }
    aha_catch_stop_signals();
    AHA_TRY(aha_worker_setup(&cli, connect, endpoints_file, key, w->endpoint, sizeof w->endpoint,
                             &w->cfg));
    aha_link_default(&w->link);
    int curve = 0;
    AHA_TRY(aha_run_config_keys(&w->cfg, &curve, &w->curve_keys[0], &w->curve_keys[1]));
    if (curve) {
        w->link.curve_server_public = w->curve_keys[0].public_key;
        w->link.curve_client = &w->curve_keys[1];
    }
    w->link.stop = &aha_stop_requested;
    w->link.peer_timeout_ms = w->cfg.net.connect_timeout_s * 1000;
    w->link.heartbeat_timeout_ms = w->cfg.net.heartbeat_timeout_s * 1000;
    return AHA_OK;
}

int cmd_keygen(int argc, char **argv) {
    if (argc != 1 || argv[0][0] == '-') {
        int help = argc == 1 && strcmp(argv[0], "--help") == 0;
        fputs("usage: aha keygen DIR\nWrites DIR/server.key, DIR/client.key and DIR/operator.key "
              "(CURVE, mode 0600)\nand DIR/operator.pub, each that is not there yet (never "
              "overwrites). Point net.keys at\nDIR on every node. operator.key is for `aha "
              "ctl --remote`; the learner needs only\noperator.pub, so it may be moved off "
              "the shared storage.\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    int rc = aha_keys_generate(argv[0]);
    if (rc < 0) return cli_fail(rc);
    printf("keys in %s: server.key, client.key, operator.key, operator.pub\n", argv[0]);
    return 0;
}

double now_s(void) {
    return aha_now_ms() * 1e-3;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    aha_log_set_role(cmd);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, k_commands[i].name)) return k_commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "aha: unknown command '%s'\n\n", cmd);
    print_usage(stderr);
    return 2;
}
