/* aha pipeline RECIPE: runs the stages of a recipe (recipe/pipeline.h) in order, each as a child
 * `aha` process with its output in RUN_DIR/<stage>/log.txt, skipping the stages whose outputs
 * exist. */
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include "recipe/pipeline.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs ARGV as /proc/self/exe with stdout and stderr into LOG; *status = exit code (128 + signal). */
static int run_logged(char **argv, const char *log, int *status) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return AHA_FAIL(AHA_ERR_IO, "fork failed");
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return AHA_OK;
}

static void print_argv(FILE *f, char **argv) {
    for (int j = 0; argv[j]; j++)
        fprintf(f, "%s%s", j ? " " : "", argv[j]);
    fputc('\n', f);
}

int cmd_pipeline(int argc, char **argv) {
    cli_common_t cli;
    int rc = cli_parse_common(argc, argv, &cli);
    if (rc < 0) return cli_fail(rc);
    if (cli.help || !cli.config) {
        fputs("usage: aha pipeline RECIPE [--run-dir DIR] [--set key=value]... [--only STAGE]\n"
              "       [--dry-run]\n"
              "Runs the recipe's stages in order (recipes/r1.yaml), each an aha command writing\n"
              "under RUN_DIR/<stage> (log.txt, stage.json with its wall time); a stage whose\n"
              "outputs exist is skipped, so a stopped pipeline continues where it was.\n"
              "  --set        an override for every stage (after the recipe's own)\n"
              "  --only       run just this stage (if not done)\n"
              "  --dry-run    print what would run\n",
              cli.help ? stdout : stderr);
        return cli.help ? 0 : 2;
    }
    const char *run_dir = NULL, *only = NULL;
    int dry = 0;
    for (int i = 0; i < cli.n_rest; i++) {
        const char *a = cli.rest[i], *v = i + 1 < cli.n_rest ? cli.rest[i + 1] : NULL;
        if (!strcmp(a, "--dry-run"))
            dry = 1;
        else if ((!strcmp(a, "--run-dir") || !strcmp(a, "--only")) && v)
            *(a[2] == 'r' ? &run_dir : &only) = v, i++;
        else
            return cli_fail(AHA_FAIL(AHA_ERR_ARG, "unknown option '%s' (see --help)", a));
    }
    aha_recipe_t *r = NULL;
    if ((rc = aha_recipe_load(cli.config, run_dir, &r)) < 0) return cli_fail(rc);
    if (only && aha_recipe_find(r, only) < 0) {
        rc = AHA_FAIL(AHA_ERR_ARG, "--only: %s has no stage '%s'", cli.config, only);
        aha_recipe_destroy(&r);
        return cli_fail(rc);
    }
    const double t0 = now_s();
    int ran = 0, skipped = 0;
    for (int i = 0; i < r->n_stages && rc >= 0; i++) {
        const aha_stage_t *st = &r->stages[i];
        if (only && strcmp(only, st->name)) continue;
        char **av = NULL;
        int ac = 0;
        if ((rc = aha_recipe_argv(r, i, cli.overrides, (int)cli.n_overrides, &av, &ac)) < 0) break;
        if (aha_recipe_stage_done(r, i)) {
            printf("[pipeline] %-16s done (outputs exist): skipped\n", st->name);
            skipped++;
        } else if (dry) {
            printf("[pipeline] %-16s would run: ", st->name);
            print_argv(stdout, av);
        } else {
            char log[AHA_RECIPE_STR + 16], meta[AHA_RECIPE_STR + 16];
            snprintf(log, sizeof log, "%s/log.txt", st->dir);
            snprintf(meta, sizeof meta, "%s/stage.json", st->dir);
            printf("[pipeline] %-16s running: ", st->name);
            print_argv(stdout, av);
            double t = now_s();
            int status = 0;
            if ((rc = aha_mkdir_p(st->dir)) >= 0) rc = run_logged(av, log, &status);
            t = now_s() - t;
            if (rc >= 0 && status != 0)
                rc = AHA_FAIL(AHA_ERR_STATE, "stage %s (%s:%d) failed with exit code %d; see %s",
                              st->name, r->path, st->line, status, log);
            for (int j = 0; rc >= 0 && j < st->n_outputs; j++)
                if (access(st->outputs[j], F_OK) != 0)
                    rc = AHA_FAIL(AHA_ERR_STATE,
                                  "stage %s finished but its output %s is missing (%s:%d)",
                                  st->name, st->outputs[j], r->path, st->line);
            if (rc >= 0) {
                FILE *f = fopen(meta, "w");
                if (f) {
                    fprintf(f, "{\"stage\": \"%s\", \"command\": \"%s\", \"seconds\": %.1f}\n",
                            st->name, st->command, t);
                    fclose(f);
                }
                printf("[pipeline] %-16s finished in %.1fs\n", st->name, t);
                ran++;
            }
        }
        fflush(stdout);
        free(av);
    }
    if (rc >= 0)
        printf("[pipeline] %s: %d stages run, %d skipped, %.1fs\n", r->run_dir, ran, skipped,
               now_s() - t0);
    aha_recipe_destroy(&r);
    return rc < 0 ? cli_fail(rc) : 0;
}
