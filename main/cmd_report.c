/* aha report RUN_DIR: the paper-style table of a recipe run — one row per (model, setting) from
 * the labelled evaluations RUN_DIR/<stage>/<name>.json (`aha eval --model M --setting S --out`),
 * the wall time of every stage (RUN_DIR/<stage>/stage.json) and the PNG curves of every stage
 * (aha plot) — into RUN_DIR/report.md, also printed. */
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ROWS 512

typedef struct {
    char model[64], setting[64];
    double k, pass1, cons, passk, format, language, len, reflection, temperature, top_p, n;
    double mtime;
} row_t;

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The subdirectory names of DIR, sorted; *n; free each and the array. */
static char **list_dirs(const char *dir, int *n) {
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) || !S_ISDIR(sb.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, sizeof *names * (size_t)cap);
            if (!nn) break;
            names = nn;
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

static int collect(const char *run, const char *stage, row_t *rows, int *n_rows) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", run, stage);
    DIR *d = opendir(dir);
    if (!d) return AHA_OK;
    struct dirent *e;
    while ((e = readdir(d)) && *n_rows < MAX_ROWS) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
        char p[1500];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        cJSON *o = read_json(p);
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
        const cJSON *setting = cJSON_GetObjectItemCaseSensitive(o, "setting");
        if (o && cJSON_IsString(model) && cJSON_IsString(setting) && num(o, "pass@1") >= 0) {
            row_t *r = &rows[(*n_rows)++];
            snprintf(r->model, sizeof r->model, "%s", model->valuestring);
            snprintf(r->setting, sizeof r->setting, "%s", setting->valuestring);
            r->k = num(o, "k");
            r->n = num(o, "n");
            r->pass1 = num(o, "pass@1");
            r->cons = num(o, "cons@k");
            r->passk = num(o, "pass@k");
            r->format = num(o, "format_rate");
            r->language = num(o, "language_consistency");
            r->len = num(o, "response_len_mean");
            r->reflection = num(o, "reflection_rate");
            r->temperature = num(o, "temperature");
            r->top_p = num(o, "top_p");
            struct stat sb;
            r->mtime = stat(p, &sb) == 0 ? (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9 : 0;
        }
        cJSON_Delete(o);
    }
    closedir(d);
    return AHA_OK;
}

static const char *g_order[MAX_ROWS]; /* settings in order of first appearance */
static int g_n_order;

static int setting_rank(const char *s) {
    for (int i = 0; i < g_n_order; i++)
        if (!strcmp(g_order[i], s)) return i;
    return MAX_ROWS;
}

static int by_setting_time(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    int rx = setting_rank(x->setting), ry = setting_rank(y->setting);
    if (rx != ry) return rx < ry ? -1 : 1;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static int by_time(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static void pct(FILE *f, double v) {
    if (v < 0)
        fprintf(f, " — |");
    else
        fprintf(f, " %.1f%% |", 100 * v);
}

static int write_report(const char *run, FILE *f, int plots) {
    int n_dirs = 0;
    char **dirs = list_dirs(run, &n_dirs);
    row_t *rows = calloc(MAX_ROWS, sizeof *rows);
    int n = 0, rc = AHA_OK;
    if (!rows) return AHA_FAIL(AHA_ERR_NOMEM, "report");
    for (int i = 0; i < n_dirs; i++)
        collect(run, dirs[i], rows, &n);
    if (n == 0) {
        rc = AHA_FAIL(AHA_ERR_NOTFOUND,
                      "%s: no labelled evaluations (aha eval --model M --setting S --out "
                      "RUN_DIR/<stage>/<name>.json)",
                      run);
        goto done;
    }
    qsort(rows, (size_t)n, sizeof *rows, by_time);
    g_n_order = 0;
    for (int i = 0; i < n; i++)
        if (setting_rank(rows[i].setting) == MAX_ROWS) g_order[g_n_order++] = rows[i].setting;
    /* g_order points into rows: sort a copy's keys by rank computed before the sort moves them */
    static char order_copy[MAX_ROWS][64];
    for (int i = 0; i < g_n_order; i++) {
        snprintf(order_copy[i], sizeof order_copy[i], "%s", g_order[i]);
        g_order[i] = order_copy[i];
    }
    qsort(rows, (size_t)n, sizeof *rows, by_setting_time);
    fprintf(f, "# Report: %s\n\n", run);
    fprintf(f, "pass@1 is the mean over k samples per problem (temperature %.1f, top-p %.2f); "
               "cons@k is the majority vote of the k answers, pass@k any of them correct; format "
               "is the strict R1 format; language is the share of think text in the target "
               "language; reflection is the share of responses with a \"wait\" self-check.\n\n",
            rows[0].temperature, rows[0].top_p);
    fprintf(f, "| model | setting | problems x k | pass@1 | cons@k | pass@k | format | language | "
               "response tokens | reflection |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        fprintf(f, "| %s | %s | %.0f x %.0f |", r->model, r->setting, r->n, r->k);
        pct(f, r->pass1);
        pct(f, r->cons);
        pct(f, r->passk);
        pct(f, r->format);
        pct(f, r->language);
        fprintf(f, " %.1f |", r->len);
        pct(f, r->reflection);
        fputc('\n', f);
    }
    /* stage wall times, in the order the stages finished */
    int n_st = 0;
    row_t *st = calloc((size_t)(n_dirs ? n_dirs : 1), sizeof *st); /* model = stage, setting = command */
    for (int i = 0; st && i < n_dirs; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s/stage.json", run, dirs[i]);
        cJSON *o = read_json(p);
        struct stat sb;
        if (o && num(o, "seconds") >= 0 && stat(p, &sb) == 0) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "command");
            row_t *r = &st[n_st++];
            snprintf(r->model, sizeof r->model, "%s", dirs[i]);
            snprintf(r->setting, sizeof r->setting, "%s", cJSON_IsString(c) ? c->valuestring : "?");
            r->len = num(o, "seconds");
            r->mtime = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
        }
        cJSON_Delete(o);
    }
    if (n_st) {
        qsort(st, (size_t)n_st, sizeof *st, by_time);
        double total = 0, first = st[0].mtime - st[0].len, last = st[0].mtime;
        fprintf(f, "\n## Stages\n\n| stage | command | wall time |\n|---|---|---|\n");
        for (int i = 0; i < n_st; i++) {
            fprintf(f, "| %s | %s | %.1f s |\n", st[i].model, st[i].setting, st[i].len);
            total += st[i].len;
            if (st[i].mtime - st[i].len < first) first = st[i].mtime - st[i].len;
            if (st[i].mtime > last) last = st[i].mtime;
        }
        fprintf(f, "| all | | %.1f s |\n", total);
        /* stages that ran at once (aha pipeline --jobs) overlap: the span from the first start
         * (a stage's stage.json is written when it ends) to the last end is the elapsed time */
        fprintf(f, "| first start to last end | | %.1f s |\n", last - first);
    }
    free(st);
    if (plots) {
        int header = 0;
        for (int i = 0; i < n_dirs; i++) {
            char stage[1200];
            snprintf(stage, sizeof stage, "%s/%s", run, dirs[i]);
            int done = 0;
            /* gnuplot's PNG list goes to stdout: keep it out of the report */
            fflush(stdout);
            if (plot_run_dir(stage, &done) < 0) {
                AHA_WARN("%s: no curves (%s)", stage, aha_last_error());
                aha_error_clear();
                continue;
            }
            if (!done) continue;
            if (!header) fprintf(f, "\n## Curves\n\n");
            header = 1;
            fprintf(f, "- %s:", dirs[i]);
            const char *subs[] = {"pretrain", "sft", "rl"};
            for (int s = 0; s < 3; s++) {
                char d2[1400];
                snprintf(d2, sizeof d2, "%s/%s", stage, subs[s]);
                DIR *dd = opendir(d2);
                struct dirent *e;
                while (dd && (e = readdir(dd))) {
                    size_t l = strlen(e->d_name);
                    if (l > 4 && !strcmp(e->d_name + l - 4, ".png"))
                        fprintf(f, " [%s/%s](%s/%s/%s)", subs[s], e->d_name, dirs[i], subs[s],
                                e->d_name);
                }
                if (dd) closedir(dd);
            }
            fputc('\n', f);
        }
    }
done:
    for (int i = 0; i < n_dirs; i++)
        free(dirs[i]);
    free(dirs);
    free(rows);
    return rc;
}

int cmd_report(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: aha report RUN_DIR [--no-plots]\n"
               "Writes RUN_DIR/report.md (and prints it): one row per model and setting from the\n"
               "labelled evaluations RUN_DIR/<stage>/*.json (`aha eval --model M --setting S\n"
               "--out F`): pass@1 over k samples, cons@k, pass@k, format rate, language\n"
               "consistency, mean response length, reflection frequency; the wall time of each\n"
               "pipeline stage; and links to the PNG curves of each stage (gnuplot).\n");
        return argc < 1 ? 2 : 0;
    }
    int no_plots = 0;
    const cli_opt_t opts[] = {{"--no-plots", .flag = &no_plots}, {0}};
    for (int i = 1; i < argc; i++) {
        const int taken = cli_take_opt(opts, argc, argv, &i);
        if (taken < 0) return cli_fail(taken);
        if (!taken)
            return cli_fail(AHA_FAIL(AHA_ERR_ARG, "unknown option '%s' (see --help)", argv[i]));
    }
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/report.md", argv[0]);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return cli_fail(AHA_FAIL(AHA_ERR_IO, "%s: cannot write", tmp));
    int rc = write_report(argv[0], f, !no_plots);
    if (fclose(f) != 0 && rc >= 0) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot write", tmp);
    if (rc >= 0 && rename(tmp, path) != 0) rc = AHA_FAIL(AHA_ERR_IO, "%s: cannot rename", tmp);
    if (rc < 0) {
        remove(tmp);
        return cli_fail(rc);
    }
    FILE *in = fopen(path, "r");
    char buf[4096];
    size_t k;
    while (in && (k = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, k, stdout);
    if (in) fclose(in);
    return 0;
}
