/* recipe/pipeline.h — a multi-stage recipe (recipes/r1.yaml): stages run in order, each an `aha`
 * command writing under RUN_DIR/<stage>, each skipped when its outputs exist, so a recipe resumes
 * stage by stage.
 *
 *   run_dir: runs/r1                 # RUN_DIR (aha pipeline --run-dir overrides it)
 *   config: configs/addition35.yaml  # run config every stage starts from (optional)
 *   set: [corpus.p_lang_mix=0.3]     # --set overrides of every stage (optional)
 *   jobs: 2                          # stages run at once (optional, default 1; see below)
 *   stages:
 *     - name: base                   # [a-z0-9_], unique; the stage writes under RUN_DIR/base
 *       command: pretrain            # an aha command taking [CONFIG] [--set k=v]...
 *       set: [pretrain.steps=400]    # this stage's overrides (after the recipe's)
 *       args: [--cached-ok]          # more command-line arguments (optional)
 *       outputs: [pretrain/final/model.safetensors]   # relative to RUN_DIR/<name>; required
 *
 * In set, args and outputs, "@{NAME}" is RUN_DIR/NAME for this stage or one defined before it,
 * and "@{run}" is RUN_DIR. A stage runs as
 *   aha COMMAND [CONFIG] <recipe set> <stage set> <extra set> --set run_dir=RUN_DIR/NAME <args>
 * A stage depends on the stages it names with @{NAME} (in set or args): with jobs > 1 the
 * pipeline starts, in recipe order, any stage whose dependencies are done while fewer than jobs
 * stages run; with jobs 1 stages run one after the other in recipe order.
 * Errors name the recipe file, the line and the key (AHA_ERR_CONFIG). */
#ifndef AHA_RECIPE_PIPELINE_H
#define AHA_RECIPE_PIPELINE_H
#include <stddef.h>
#include <stdint.h>

#define AHA_RECIPE_MAX_STAGES 64
#define AHA_RECIPE_MAX_ITEMS 64 /* per list */
#define AHA_RECIPE_STR 1024

typedef struct {
    char name[64];
    char command[32];
    int line;
    int n_set, n_args, n_outputs;
    char set[AHA_RECIPE_MAX_ITEMS][AHA_RECIPE_STR];     /* expanded */
    char args[AHA_RECIPE_MAX_ITEMS][AHA_RECIPE_STR];    /* expanded */
    char outputs[AHA_RECIPE_MAX_ITEMS][AHA_RECIPE_STR]; /* expanded, absolute or cwd-relative */
    char dir[AHA_RECIPE_STR];                           /* RUN_DIR/name */
    char run_dir_set[AHA_RECIPE_STR + 16];              /* "run_dir=RUN_DIR/name" */
    uint64_t deps; /* bit j: the stage names stage j (@{NAME} in set or args), runs after it */
} aha_stage_t;

typedef struct {
    char path[AHA_RECIPE_STR];
    char run_dir[AHA_RECIPE_STR];
    char config[AHA_RECIPE_STR]; /* "" = the embedded default */
    int jobs;                    /* stages run at once (recipe key jobs, default 1) */
    int n_set;
    char set[AHA_RECIPE_MAX_ITEMS][AHA_RECIPE_STR];
    int n_stages;
    aha_stage_t *stages; /* [n_stages] */
} aha_recipe_t;

/* Loads PATH; RUN_DIR (may be NULL) replaces the recipe's run_dir. *out written only on success. */
int aha_recipe_load(const char *path, const char *run_dir, aha_recipe_t **out);
void aha_recipe_destroy(aha_recipe_t **r);

/* 1 if every output of stage I exists, else 0. */
int aha_recipe_stage_done(const aha_recipe_t *r, int i);

/* The argument vector of stage I (argv[0] = "aha", NULL-terminated; EXTRA_SET[0..n_extra) are
 * --set overrides of the command line, after the stage's). Pointers into R and EXTRA_SET; the
 * array is malloc'd: free(*argv) only. */
int aha_recipe_argv(const aha_recipe_t *r, int i, const char *const *extra_set, int n_extra,
                    char ***argv, int *argc);

/* Index of the stage NAME, or -1. */
int aha_recipe_find(const aha_recipe_t *r, const char *name);

#endif
