/* aha plot RUN_DIR: PNG curves (gnuplot) of RUN_DIR/rl/metrics.jsonl,
 * RUN_DIR/pretrain/metrics.jsonl and RUN_DIR/sft/metrics.jsonl. */
#include "core/err.h"
#include "core/log.h"
#include "main/cmd.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *file; /* PNG name */
    const char *title;
    const char *keys[3];
} plot_spec_t;

static const plot_spec_t k_rl_plots[] = {
    {"reward.png", "reward", {"reward_mean", NULL}},
    {"accuracy.png",
     "accuracy (train samples, held-out eval)",
     {"accuracy", "eval_accuracy", NULL}},
    {"format_rate.png", "format rate", {"format_rate", "eval_format_rate", NULL}},
    {"response_len.png", "mean response length (tokens)", {"response_len_mean", NULL}},
    {"kl.png",
     "KL: to the reference (kl, k3) and behaviour-to-current (ppo_kl)",
     {"kl", "ppo_kl", NULL}},
    {"entropy.png", "policy entropy (nats/token)", {"entropy", NULL}},
    {"clip_frac.png", "clipped fraction", {"clip_frac", NULL}},
    {"language_reflection.png",
     "language consistency and reflection (\"wait\") rate of the samples",
     {"language_consistency", "reflection_rate", NULL}},
};
static const plot_spec_t k_pt_plots[] = {
    {"loss.png", "training loss (response tokens)", {"loss", NULL}},
};

/* Writes "step key1 key2 ..." rows (NaN for missing) of every key used by SPECS to DATA. */
static int jsonl_to_table(const char *jsonl, const plot_spec_t *specs, size_t n_specs,
                          const char **cols, int n_cols, const char *data, int *rows_out) {
    FILE *in = fopen(jsonl, "r");
    if (!in) return AHA_FAIL(AHA_ERR_IO, "%s: cannot open", jsonl);
    FILE *out = fopen(data, "w");
    if (!out) {
        fclose(in);
        return AHA_FAIL(AHA_ERR_IO, "%s: cannot write", data);
    }
    (void)specs;
    (void)n_specs;
    char *line = NULL;
    size_t cap = 0;
    int rows = 0, lineno = 0;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        cJSON *o = cJSON_Parse(line);
        if (!o) {
            AHA_WARN("%s:%d: not JSON, skipped", jsonl, lineno);
            continue;
        }
        cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (cJSON_IsNumber(step)) {
            fprintf(out, "%.17g", step->valuedouble);
            for (int c = 0; c < n_cols; c++) {
                cJSON *v = cJSON_GetObjectItemCaseSensitive(o, cols[c]);
                if (cJSON_IsNumber(v))
                    fprintf(out, "\t%.9g", v->valuedouble);
                else
                    fprintf(out, "\tNaN");
            }
            fputc('\n', out);
            rows++;
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(in);
    int bad = fclose(out) != 0;
    if (bad) return AHA_FAIL(AHA_ERR_IO, "%s: cannot write", data);
    *rows_out = rows;
    return AHA_OK;
}

static int plot_file(const char *dir, const char *jsonl, const plot_spec_t *specs, size_t n_specs) {
    const char *cols[32];
    int n_cols = 0;
    for (size_t s = 0; s < n_specs; s++)
        for (int k = 0; k < 3 && specs[s].keys[k]; k++) {
            int seen = 0;
            for (int c = 0; c < n_cols; c++)
                seen |= !strcmp(cols[c], specs[s].keys[k]);
            if (!seen && n_cols < 32) cols[n_cols++] = specs[s].keys[k];
        }
    char data[700], script[700];
    snprintf(data, sizeof data, "%s/.plot_data.tsv", dir);
    snprintf(script, sizeof script, "%s/.plot.gp", dir);
    int rows = 0;
    AHA_TRY(jsonl_to_table(jsonl, specs, n_specs, cols, n_cols, data, &rows));
    if (rows == 0) return AHA_FAIL(AHA_ERR_FORMAT, "%s: no rows with a step", jsonl);
    FILE *gp = fopen(script, "w");
    if (!gp) return AHA_FAIL(AHA_ERR_IO, "%s: cannot write", script);
    fprintf(gp, "set terminal pngcairo size 900,500 noenhanced\nset datafile missing 'NaN'\n"
                "set grid\nset xlabel 'step'\nset key top left\n");
    for (size_t s = 0; s < n_specs; s++) {
        fprintf(gp, "set output '%s/%s'\nset title '%s'\nplot ", dir, specs[s].file,
                specs[s].title);
        for (int k = 0; k < 3 && specs[s].keys[k]; k++) {
            int col = 0;
            for (int c = 0; c < n_cols; c++)
                if (!strcmp(cols[c], specs[s].keys[k])) col = c + 2;
            /* eval points are sparse: draw them with points and lines through the non-missing ones
             */
            fprintf(gp, "%s'%s' using 1:%d with linespoints lw 2 pt 7 ps 0.5 title '%s'",
                    k ? ", " : "", data, col, specs[s].keys[k]);
        }
        fputc('\n', gp);
    }
    fclose(gp);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    if (!p) return AHA_FAIL(AHA_ERR_IO, "cannot run gnuplot");
    char buf[512];
    while (fgets(buf, sizeof buf, p)) {
        if (!strcasestr(buf, "warning")) AHA_WARN("gnuplot: %s", buf);
    }
    int st = pclose(p);
    remove(script);
    remove(data);
    if (st != 0) return AHA_FAIL(AHA_ERR_IO, "gnuplot failed (exit %d); is gnuplot installed?", st);
    for (size_t s = 0; s < n_specs; s++)
        printf("%s/%s\n", dir, specs[s].file);
    return AHA_OK;
}

int cmd_plot(int argc, char **argv) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf(
            "usage: aha plot RUN_DIR\n"
            "writes PNG curves next to RUN_DIR/rl/metrics.jsonl (reward, accuracy, format rate,\n"
            "response length, KL, entropy, clip fraction, language consistency and reflection)\n"
            "and RUN_DIR/pretrain/metrics.jsonl and RUN_DIR/sft/metrics.jsonl (loss)\n");
        return argc < 1 ? 2 : 0;
    }
    int done = 0;
    int rc = plot_run_dir(argv[0], &done);
    if (rc < 0) return cli_fail(rc);
    if (!done)
        return cli_fail(AHA_FAIL(AHA_ERR_NOTFOUND,
                                 "%s: no rl/, sft/ or pretrain/metrics.jsonl", argv[0]));
    return 0;
}

int plot_run_dir(const char *run, int *done_out) {
    char dir[600], jsonl[700];
    int done = 0;
    struct {
        const char *sub;
        const plot_spec_t *specs;
        size_t n;
    } sets[] = {{"rl", k_rl_plots, sizeof k_rl_plots / sizeof *k_rl_plots},
                {"pretrain", k_pt_plots, sizeof k_pt_plots / sizeof *k_pt_plots},
                {"sft", k_pt_plots, sizeof k_pt_plots / sizeof *k_pt_plots}};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        snprintf(dir, sizeof dir, "%s/%s", run, sets[i].sub);
        snprintf(jsonl, sizeof jsonl, "%s/metrics.jsonl", dir);
        if (access(jsonl, R_OK) != 0) continue;
        AHA_TRY(plot_file(dir, jsonl, sets[i].specs, sets[i].n));
        done++;
    }
    *done_out = done;
    return AHA_OK;
}
