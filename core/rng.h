/* core/rng.h — splittable deterministic RNG (xoshiro256** seeded through splitmix64).
 *
 * A stream is a pure function of (seed, stream ids): aha_rng_derive(&r, seed, ids, n) gives the
 * same sequence on every machine, so a sample's randomness can be keyed by
 * (run seed, prompt id, sample index) and it does not matter which process computes it.
 * State is a plain struct: copy it to checkpoint it. Not thread-safe per instance. */
#ifndef AHA_CORE_RNG_H
#define AHA_CORE_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} aha_rng_t;

/* Stream tags: the first id of every aha_rng_derive() tuple in the project, in one place so no
 * two uses share a stream by accident. The values are part of the run's definition (a fixed seed
 * gives bit-identical runs only while they stay the same): never renumber, only add. */
typedef enum {
    AHA_STREAM_ADD_PROBLEM = 0xADD,         /* addition problem (seed, tag, split, index, k) */
    AHA_STREAM_ADD_CORPUS = 0xC0B5,         /* addition corpus document draws (tag, index) */
    AHA_STREAM_ADD_CORPUS_PROBLEM = 0xC0B6, /* addition corpus document problem */
    AHA_STREAM_CD_PROBLEM = 0xCD01,         /* countdown problem (tag, split, index, k) */
    AHA_STREAM_CD_CORPUS = 0xCD02,          /* countdown corpus document draws (tag, index) */
    AHA_STREAM_CD_CORPUS_PROBLEM = 0xCD03,  /* countdown corpus document problem */
    AHA_STREAM_MODEL_INIT = 0x1417,         /* initial weights of `aha pretrain` (tag) */
    AHA_STREAM_TRAIN_SAMPLE = 0x7EA1,       /* RL rollout sample (tag, prompt id, g) */
    AHA_STREAM_REWARD_COIN = 0xC014,        /* random-reward control (tag, prompt id, g) */
    AHA_STREAM_EVAL_SAMPLE = 0xE7A1,        /* eval sample (tag, problem, k) */
    AHA_STREAM_SFT_SHUFFLE = 0x5F70,        /* SFT row order of an epoch (tag, epoch) */
    AHA_STREAM_CMP_CORPUS = 0xC3B1,         /* compare corpus document draws (tag, index) */
    AHA_STREAM_MIX_TASK = 0x3A1C,           /* mixed task: which task problem i is (tag, index) */
    AHA_STREAM_REJECT_SAMPLE = 0x4E1E,      /* rejection sampling (tag, problem, k) */
} aha_rng_stream_t;

/* Seeds from a single 64-bit value. */
void aha_rng_seed(aha_rng_t *rng, uint64_t seed);
/* Seeds the stream identified by (seed, ids[0..n_ids)). Different id tuples give independent
 * streams; (seed, {}) equals aha_rng_seed(seed). */
void aha_rng_derive(aha_rng_t *rng, uint64_t seed, const uint64_t *ids, size_t n_ids);
/* Child stream split off a parent: consumes one draw of the parent. */
void aha_rng_split(aha_rng_t *parent, aha_rng_t *child);

uint64_t aha_rng_u64(aha_rng_t *rng);
/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
float aha_rng_uniform(aha_rng_t *rng);
/* Uniform in [0, 1) with 53 random bits. */
double aha_rng_uniform_d(aha_rng_t *rng);
/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
uint64_t aha_rng_below(aha_rng_t *rng, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so state stays a plain copy). */
float aha_rng_normal(aha_rng_t *rng);

#endif
