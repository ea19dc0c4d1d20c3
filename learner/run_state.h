/* learner/run_state.h — what a run needs to continue bit-exactly after a stop (shared by `aha
 * pretrain --resume` and `aha train --resume`):
 *   DIR/model.safetensors + config.json   the model, with the routing biases (model/checkpoint.h)
 *   DIR/optimizer.safetensors             AdamW moments and step count (learner/optim.h), or
 *   DIR/optimizer-<R>-of-<N>.bin          with N > 1 learner ranks (ZeRO-1): rank R's shard of
 *                                         the moments, written by that rank; state.json then
 *                                         says "optimizer_shards": N
 *   DIR/state.json                        {"step": S, "next_index": I}: updates done, next item
 *   DIR/versions/v<N>.bin                 with rl.max_staleness k >= 1: the packed weights
 *                                         (model/weights.h) of the versions the next k steps
 *                                         sample from, N = max(0, S - k) .. S - 1
 * Nothing here owns the model or optimizer it is given. */
#ifndef AHA_LEARNER_RUN_STATE_H
#define AHA_LEARNER_RUN_STATE_H
#include "learner/optim.h"
#include "model/model.h"
#include <stddef.h>
#include <stdint.h>

/* A checkpoint directory is replaced as a whole, so a kill at any moment leaves either the previous
 * checkpoint or the new one, never a mix of steps:
 *   aha_run_state_stage(DIR, tmp, cap)  empties and creates DIR.tmp, its path into tmp;
 *   ... every part written into tmp (aha_run_state_save, versions, counters) ...
 *   aha_run_state_publish(DIR)          DIR -> DIR.old, DIR.tmp -> DIR, DIR.old removed
 *                                       (parent directory fsynced after each rename).
 * aha_run_state_recover(DIR), called by aha_run_state_load, finishes what a kill interrupted: if
 * DIR has no state.json but DIR.old has, DIR.old becomes DIR again; a DIR.tmp left over is removed.
 * Errors: AHA_ERR_IO naming the path. */
int aha_run_state_stage(const char *dir, char *tmp, size_t cap);
int aha_run_state_publish(const char *dir);
int aha_run_state_recover(const char *dir);

/* Writes the three parts into DIR (created if needed; each file replaced atomically). */
int aha_run_state_save(const char *dir, const aha_model_t *m, const aha_adamw_t *opt, int step,
                       uint64_t next_index);

/* The sharded form (N > 1 ranks): every rank writes its optimizer shard OPT (aha_adamw_new_shard)
 * as DIR/optimizer-RANK-of-N.bin: "AHAOPT01", then u64 little-endian rank, N, offset, count,
 * total, step count t, then the BLAKE2b-256 of m and of v, then m[count], v[count] (floats as in
 * memory). Saved atomically (temp name, fsync, rename). Rank 0 then writes the model and
 * state.json with aha_run_state_save_sharded (no optimizer.safetensors). */
int aha_run_state_save_shard(const char *dir, const aha_adamw_t *opt, int rank, int n_ranks);
int aha_run_state_save_sharded(const char *dir, const aha_model_t *m, int n_shards, int step,
                               uint64_t next_index);
/* DIR.tmp of a checkpoint directory (what aha_run_state_stage creates), into tmp. */
int aha_run_state_stage_path(const char *dir, char *tmp, size_t cap);

/* Restores DIR into the existing M (parameters and routing biases; the checkpoint's model shape
 * must equal M's) and OPT, and reads step / next_index. OPT may be a shard of any range and the
 * checkpoint's optimizer whole or in any number of shards: the moments of OPT's range are taken
 * from wherever they are (re-sharding on load). AHA_ERR_IO if a part is missing, AHA_ERR_FORMAT
 * (naming the file) if one does not match, is truncated or fails its checksum; on error M and OPT
 * may be partly restored, the out-params are untouched. Called by several ranks at once, only
 * one of them may do the recovery (aha_run_state_recover) first: the others must find it done. */
int aha_run_state_load(const char *dir, aha_model_t *m, aha_adamw_t *opt, int *step,
                       uint64_t *next_index);

/* Only the optimizer part of aha_run_state_load: the moments and step count of OPT's range from
 * DIR (state.json says whole or how many shards). */
int aha_run_state_load_optimizer(const char *dir, aha_adamw_t *opt);

/* Weights version files (bounded staleness). DIR/versions/v<VERSION>.bin holds "AHAVER01", the
 * version and the byte count (u64 little-endian), the BLAKE2b-256 of the data, then the data
 * W[0..len). Saved atomically (temp name, fsync, rename), the directory created if needed. */
int aha_run_state_save_version(const char *dir, uint64_t version, const void *w, size_t len);
/* Reads version VERSION of DIR into W[0..len): AHA_ERR_IO if the file is missing, AHA_ERR_FORMAT
 * (naming the file) if it is truncated, of another size or version, or fails its checksum. */
int aha_run_state_load_version(const char *dir, uint64_t version, void *w, size_t len);
/* DIR/counters.json: the run's cumulative counters (drops, re-issues, ...) after step STEP, so a
 * resumed run goes on counting: {"step": S, "counters": {NAME: value...}}. Load reads them into
 * VALUES (names not in the file left as they are); a missing file leaves all (checkpoints from
 * before counters were kept); AHA_ERR_FORMAT (naming the file) if they are for another step than
 * STEP (state.json's) or a value is not a count. */
int aha_run_state_save_counters(const char *dir, int step, const char *const *names,
                                const double *values, int n);
int aha_run_state_load_counters(const char *dir, int step, const char *const *names, double *values,
                                int n);

/* Keeps the rows of the JSONL metrics file PATH whose "step" is <= STEP (rows without a step are
 * dropped), so a resumed run rewrites what came after its checkpoint. A missing file is fine. */
int aha_run_state_truncate_metrics(const char *path, int step);

#endif
