/* verifier/sandbox.h — user verifier code, run so that it cannot hang or crash training
 * (docs/rl.md): a command (run with /bin/sh -c) in its own process group with rlimits (CPU time,
 * address space, file size) and a wall-clock deadline, fed one JSON line per sample on stdin:
 *   {"kind":"addition","expected":7,"numbers":[],"target":0,"response":"<think>...","answer":"7"}
 * ("answer" is the first <answer>...</answer>, or null), and expected to print one number in
 * [0, 1] per line, in order: the accuracy of each sample.
 * Any failure — deadline passed (the whole process group is killed), non-zero exit, death by a
 * signal, more output than the cap, fewer/more/unparsable lines — scores every sample of the
 * call 0, is counted and logged: a broken user verifier gives wrong answers, never an error. */
#ifndef AHA_VERIFIER_SANDBOX_H
#define AHA_VERIFIER_SANDBOX_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *command;
    int deadline_ms;     /* wall clock per call, > 0 */
    size_t memory_bytes; /* RLIMIT_AS of the command's processes (0: unlimited) */
    size_t max_output;   /* bytes of stdout read (more is a failure) */
} aha_sandbox_config_t;

typedef struct {
    uint64_t calls, ok, timeouts, failed_exit, bad_output;
} aha_sandbox_stats_t;

/* Fills *cfg with deadline 5 s, memory 512 MiB, output 64 KiB (command NULL: must be set). */
void aha_sandbox_config_default(aha_sandbox_config_t *cfg);

/* Runs the command on INPUT[0..len) (N JSON lines) and writes N accuracies into out. Returns
 * AHA_OK also when the command failed (then out is all 0 and STATS says why); an error only if
 * the process could not be started (pipe/fork) or for bad arguments. */
int aha_sandbox_run(const aha_sandbox_config_t *cfg, const char *input, size_t len, int n,
                    double *out, aha_sandbox_stats_t *stats);

#endif
