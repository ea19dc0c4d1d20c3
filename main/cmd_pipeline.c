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

/* Starts ARGV as /proc/self/exe with stdout and stderr into LOG; *pid = the child. */
static int start_logged(char **argv, const char *log, pid_t *pid_out) {
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
    *pid_out = pid;
    return AHA_OK;
}

static void print_argv(FILE *f, char **argv) {
    for (int j = 0; argv[j]; j++)
        fprintf(f, "%s%s", j ? " " : "", argv[j]);
    fputc('\n', f);
}

enum { ST_PENDING = 0, ST_RUNNING, ST_DONE };

typedef struct {
    int state;
    pid_t pid;
    double t0;
} stage_run_t;

/* Stage I's child exited with wait status WST: checks the exit code and the outputs, writes
 * stage.json. */
static int finish_stage(const aha_recipe_t *r, int i, int wst, double seconds) {
    const aha_stage_t *st = &r->stages[i];
    const int status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + (WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
    if (status != 0)
        return AHA_FAIL(AHA_ERR_STATE, "stage %s (%s:%d) failed with exit code %d; see %s/log.txt",
                        st->name, r->path, st->line, status, st->dir);
    for (int j = 0; j < st->n_outputs; j++)
        if (access(st->outputs[j], F_OK) != 0)
            return AHA_FAIL(AHA_ERR_STATE, "stage %s finished but its output %s is missing (%s:%d)",
                            st->name, st->outputs[j], r->path, st->line);
    char meta[AHA_RECIPE_STR + 16];
    snprintf(meta, sizeof meta, "%s/stage.json", st->dir);
    FILE *f = fopen(meta, "w");
    if (f) {
        fprintf(f, "{\"stage\": \"%s\", \"command\": \"%s\", \"seconds\": %.1f}\n", st->name,
                st->command, seconds);
        fclose(f);
    }
    printf("[pipeline] %-16s finished in %.1fs\n", st->name, seconds);
    return AHA_OK;
}

int cmd_pipeline(int argc, char **argv) {
    const char *run_dir = NULL, *only = NULL;
    int dry = 0, jobs = 0;
    const cli_opt_t opts[] = {{"--run-dir", .str = &run_dir},
                              {"--only", .str = &only},
                              {"--jobs", .count = &jobs, .min = 1, .max = 64},
                              {"--dry-run", .flag = &dry},
                              {0}};
    cli_common_t cli;
    int rc = cli_parse(argc, argv, opts, &cli);
    if (rc < 0) return cli_fail(rc);
    if (cli.help || !cli.config) {
        fputs("usage: aha pipeline RECIPE [--run-dir DIR] [--set key=value]... [--only STAGE]\n"
              "       [--jobs N] [--dry-run]\n"
              "Runs the recipe's stages in order (recipes/r1.yaml), each an aha command writing\n"
              "under RUN_DIR/<stage> (log.txt, stage.json with its wall time); a stage whose\n"
              "outputs exist is skipped, so a stopped pipeline continues where it was.\n"
              "  --set        an override for every stage (after the recipe's own)\n"
              "  --only       run just this stage (if not done)\n"
              "  --jobs       stages at once, each once the stages it names (@{NAME}) are done\n"
              "               (default: the recipe's jobs, else 1)\n"
              "  --dry-run    print what would run\n",
              cli.help ? stdout : stderr);
        return cli.help ? 0 : 2;
    }
    aha_recipe_t *r = NULL;
    if ((rc = aha_recipe_load(cli.config, run_dir, &r)) < 0) return cli_fail(rc);
    if (only && aha_recipe_find(r, only) < 0) {
        rc = AHA_FAIL(AHA_ERR_ARG, "--only: %s has no stage '%s'", cli.config, only);
        aha_recipe_destroy(&r);
        return cli_fail(rc);
    }
    if (!jobs) jobs = r->jobs;
    const double t0 = now_s();
    int ran = 0, skipped = 0, running = 0;
    stage_run_t *sr = calloc((size_t)r->n_stages, sizeof *sr);
    char ***avs = calloc((size_t)r->n_stages, sizeof *avs);
    if (!sr || !avs) rc = AHA_FAIL(AHA_ERR_NOMEM, "pipeline");
    /* skipped stages (done, or not --only) count as done for their dependents */
    for (int i = 0; rc >= 0 && i < r->n_stages; i++) {
        const aha_stage_t *st = &r->stages[i];
        int ac = 0;
        if ((rc = aha_recipe_argv(r, i, cli.overrides, (int)cli.n_overrides, &avs[i], &ac)) < 0)
            break;
        if (only && strcmp(only, st->name)) {
            sr[i].state = ST_DONE;
        } else if (aha_recipe_stage_done(r, i)) {
            printf("[pipeline] %-16s done (outputs exist): skipped\n", st->name);
            sr[i].state = ST_DONE;
            skipped++;
        } else if (dry) {
            printf("[pipeline] %-16s would run: ", st->name);
            print_argv(stdout, avs[i]);
            sr[i].state = ST_DONE;
        }
    }
    fflush(stdout);
    /* start what can start (recipe order, at most JOBS at once), then wait for one to end */
    for (;;) {
        for (int i = 0; rc >= 0 && i < r->n_stages && running < jobs; i++) {
            if (sr[i].state != ST_PENDING) continue;
            int ready = 1;
            for (int j = 0; j < i && ready; j++)
                ready = !(r->stages[i].deps >> j & 1) || sr[j].state == ST_DONE;
            /* with one job, strictly in recipe order (the stages before it are done) */
            for (int j = 0; j < i && ready && jobs == 1; j++)
                ready = sr[j].state == ST_DONE;
            if (!ready) continue;
            const aha_stage_t *st = &r->stages[i];
            char log[AHA_RECIPE_STR + 16];
            snprintf(log, sizeof log, "%s/log.txt", st->dir);
            printf("[pipeline] %-16s running: ", st->name);
            print_argv(stdout, avs[i]);
            if ((rc = aha_mkdir_p(st->dir)) >= 0) rc = start_logged(avs[i], log, &sr[i].pid);
            if (rc >= 0) sr[i].state = ST_RUNNING, sr[i].t0 = now_s(), running++;
        }
        if (running == 0) break;
        int wst = 0;
        pid_t pid = waitpid(-1, &wst, 0);
        if (pid < 0) continue;
        for (int i = 0; i < r->n_stages; i++) {
            if (sr[i].state != ST_RUNNING || sr[i].pid != pid) continue;
            running--;
            sr[i].state = ST_DONE;
            int frc = finish_stage(r, i, wst, now_s() - sr[i].t0);
            if (frc < 0 && rc >= 0) rc = frc; /* no new stage starts; the running ones finish */
            if (frc >= 0) ran++;
        }
        fflush(stdout);
    }
    for (int i = 0; avs && i < r->n_stages; i++)
        free(avs[i]);
    free(avs);
    free(sr);
    if (rc >= 0)
        printf("[pipeline] %s: %d stages run, %d skipped, %.1fs\n", r->run_dir, ran, skipped,
               now_s() - t0);
    aha_recipe_destroy(&r);
    return rc < 0 ? cli_fail(rc) : 0;
}
