#!/usr/bin/env bash
# slurm_cluster (CTest label slurm): deploy/slurm/ on a real one-node Slurm (tests/slurm/cluster.sh,
# as root), under a host name that does not resolve (a UTS namespace, when unshare works). The
# flow of docs/slurm.md: submit aha-train.sbatch (2 learner ranks under srun --mpi=pmix, 1 actor,
# 1 verifier), submit add-actors.sbatch and see its actor take part, submit rules@2 with
# add-verifiers.sbatch and swap to it with `aha ctl verifier-use`, scancel the extra actors (they
# leave cleanly), scancel the main job (the learner writes a checkpoint; the rules@2 job ends
# with it), submit it again with REQUEUE=1 (it resumes), signal its batch script as the time limit
# would (checkpoint, requeue, resume), and check that every group was counted exactly once and
# the final weights are the bytes of an uninterrupted 2-rank run. Also: the hetjob variant passes
# `sbatch --test-only`; srun --mpi=none is refused; a worker with no learner fails naming it.
# Skips (exit 77, with the reason) when Slurm cannot be started: not root, packages missing.
set -u
AHA=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

# a host name that does not resolve (the bare machine of the issue), in a namespace of our own
if [ -z "${AHA_SLURM_UTS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null &&
    unshare -u true 2> /dev/null; then
    export AHA_SLURM_UTS=1
    exec unshare -u bash -c 'hostname "aha-unresolvable-$$" && exec bash "$0" "$@"' "$0" "$@"
fi
node=$(hostname -s)
if getent hosts "$node" > /dev/null; then
    echo "note: host name $node resolves here (no UTS namespace)"
else
    echo "note: host name $node does not resolve"
fi

tmp=$(mktemp -d /tmp/aha-slurm-test.XXXXXX)
chmod 0755 "$tmp" # munged (the munge user) must reach its socket below
jobs_started=()
cleanup() {
    for j in "${jobs_started[@]}"; do scancel "$j" 2> /dev/null; done
    bash "$here/slurm/cluster.sh" stop "$tmp/slurm"
    if [ -n "${AHA_SLURM_KEEP:-}" ]; then echo "kept $tmp (AHA_SLURM_KEEP)"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
t_start=$(date +%s)
bash "$here/slurm/cluster.sh" start "$tmp/slurm"
rc=$?
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || { echo "FAIL: the test Slurm did not start"; exit 1; }
# shellcheck disable=SC1091
. "$tmp/slurm/env"

# the job environment (sbatch exports it): Open MPI as root on one machine (docs/mpi.md)
export AHA OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
STEPS=${AHA_SLURM_STEPS:-150}
P=3
small=(--set run_dir="$tmp/run" --set pretrain.steps=20 --set pretrain.batch_size=16
       --set eval.n=2 --set eval.k=1 --set rl.steps=$STEPS --set rl.prompts_per_step=$P
       --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2 --set rl.checkpoint_every=1000
       --set rl.lease_ms=3000 --set net.connect_timeout_s=60 --set net.require_workers=1)
cd "$repo" || exit 1

check "hetjob variant accepted (sbatch --test-only)" \
    "sbatch --test-only deploy/slurm/aha-train-het.sbatch configs/demo.yaml > '$tmp/het.out' 2>&1" ||
    cat "$tmp/het.out"

# the pretrained base, shared with the reference run (the job reuses it: --cached-ok)
"$AHA" pretrain configs/demo.yaml "${small[@]}" > "$tmp/pretrain.log" 2>&1 ||
    { echo "FAIL: pretrain"; tail "$tmp/pretrain.log"; exit 1; }
mkdir -p "$tmp/ref" && cp -r "$tmp/run/pretrain" "$tmp/ref/"
# the uninterrupted reference: 2 ranks, the learner samples and scores everything itself (same
# groups, same scores: sampling is keyed by prompt and sample, not by who samples), in the
# background while the Slurm run goes on
bash "$here/mpi_run.sh" 2 "$AHA" train configs/demo.yaml "${small[@]}" --set run_dir="$tmp/ref" \
    --set rl.actors=0 --set rl.verifiers=0 --set net.require_workers=0 > "$tmp/ref.log" 2>&1 &
ref_pid=$!

submit() { # submit LOG [sbatch args...]: prints the job id
    local log=$1
    shift
    sbatch --parsable -o "$log" "$@" | cut -d';' -f1
}
rows() { [ -f "$tmp/run/rl/metrics.jsonl" ] && wc -l < "$tmp/run/rl/metrics.jsonl" || echo 0; }
wait_for() { # wait_for SECONDS COND: 0 once COND holds
    local until=$(($(date +%s) + $1))
    while [ "$(date +%s)" -lt "$until" ]; do
        eval "$2" && return 0
        sleep 0.2
    done
    return 1
}
job_gone() { [ -z "$(squeue -h -j "$1" -o %i 2> /dev/null)" ]; }
diag() { tail -n 30 "$tmp/main1.log"; tail -n 5 "$tmp/slurm/log/slurmctld.log"; }

# learner ranks need --mpi=pmix: without it srun would start independent learners
srun --mpi=none -n 2 "$AHA" train configs/demo.yaml "${small[@]}" --set run_dir="$tmp/nompi" > "$tmp/nompi.log" 2>&1
check "srun --mpi=none -n 2 aha train is refused, pointing to --mpi=pmix" \
    "[ \$(grep -c 'use srun --mpi=pmix' '$tmp/nompi.log') -eq 2 ] && [ ! -e '$tmp/nompi/rl/metrics.jsonl' ]" ||
    cat "$tmp/nompi.log"

# a worker that cannot reach its learner: a run directory whose endpoints name a closed port
mkdir -p "$tmp/nowhere/rl"
printf '{"coordinator": "tcp://127.0.0.1:9", "broker": "tcp://127.0.0.1:9"}\n' > "$tmp/nowhere/rl/endpoints.json"
lost=$(submit "$tmp/lost.log" -n 1 deploy/slurm/add-actors.sbatch "$tmp/nowhere" configs/demo.yaml \
    "${small[@]}" --set net.connect_timeout_s=3)
jobs_started+=("$lost")

main1=$(ACTORS=1 VERIFIERS=1 submit "$tmp/main1.log" -N 1 --ntasks-per-node=2 \
    deploy/slurm/aha-train.sbatch configs/demo.yaml "${small[@]}")
jobs_started+=("$main1")
check "main job $main1 submitted" "[ -n '$main1' ]"
check "learner running as 2 MPI ranks under srun, steps in the metrics" \
    "wait_for 120 '[ \$(rows) -ge 3 ]' && grep -q 'rank 1 of 2' '$tmp/main1.log'" || diag
ep=$(sed -n 's/.*"coordinator":[^"]*"tcp:\/\/\([^:]*\):.*/\1/p' "$tmp/run/rl/endpoints.json")
check "endpoints.json names a host that works ($ep, not the unresolvable $node)" \
    "[ -n '$ep' ] && [ '$ep' != '$node' ] && getent ahosts '$ep' > /dev/null"

check "an actor that cannot reach the learner fails within net.connect_timeout_s, naming it" \
    "wait_for 60 'job_gone $lost' && scontrol show job $lost | grep -q 'JobState=FAILED' && grep -q 'could not reach a learner at tcp://127.0.0.1:9 in 3 s' '$tmp/lost.log'" ||
    { cat "$tmp/lost.log"; scontrol show job "$lost"; }

# more actors, as a job of their own
add=$(submit "$tmp/add-actors.log" -n 1 deploy/slurm/add-actors.sbatch "$tmp/run")
jobs_started+=("$add")
check "add-actors job $add joined the run" \
    "wait_for 60 \"grep -q 'actor actor/actor-$add-0/[0-9]* joined' '$tmp/main1.log'\"" || diag
joined_row=$(rows)

# verifier swap: rules@2 as a job, then aha ctl verifier-use
ver=$(VERSION=2 submit "$tmp/add-verifiers.log" -n 1 deploy/slurm/add-verifiers.sbatch "$tmp/run")
jobs_started+=("$ver")
check "rules@2 (job $ver) joined the broker" \
    "wait_for 60 \"grep -q 'verifier rules@2 joined' '$tmp/main1.log'\"" || diag
check "aha ctl verifier-use rules@2" \
    "'$AHA' ctl '$tmp/run' verifier-use rules@2 > '$tmp/ctl.out' 2>&1" || cat "$tmp/ctl.out"
check "the main job's rules@1 was retired and stopped (exit 0)" \
    "wait_for 30 \"grep -q 'verifier rules@1: [0-9]* groups' '$tmp/main1.log'\"" || diag
swap_row=$(rows)

# the extra actor samples for a while, then leaves on scancel
check "steps went on with the extra actor and rules@2" \
    "wait_for 120 '[ \$(rows) -ge $((joined_row + 5)) ] && [ \$(rows) -ge $((swap_row + 3)) ]'" || diag
scancel "$add"
check "scancel: the extra actor sampled groups, handed back its lease and exited 0" \
    "wait_for 60 'job_gone $add' && grep -q 'actor actor-$add-0: [1-9][0-9]* groups sampled' '$tmp/add-actors.log' && grep -q 'told the coordinator' '$tmp/add-actors.log' && ! grep -q 'error: .*exited with exit code' '$tmp/add-actors.log'" ||
    { cat "$tmp/add-actors.log"; diag; }
check "the coordinator saw it leave (at its next collect)" \
    "wait_for 30 \"grep -q 'actor actor/actor-$add-0/[0-9]* left' '$tmp/main1.log'\"" || diag

# scancel of the main job: checkpoint and exit
stop_row=$(rows)
check "run still going before the scancel (row $stop_row of $((STEPS + 1)))" "[ $stop_row -le $STEPS ]"
scancel "$main1"
check "scancel: the learner wrote a checkpoint and stopped" \
    "wait_for 90 'job_gone $main1' && grep -q 'GRPO stopped by a signal after step' '$tmp/main1.log' && [ -f '$tmp/run/rl/checkpoint/state.json' ] && [ ! -e '$tmp/run/rl/final' ]" ||
    diag
stopped_at=$(sed -n 's/.*stopped by a signal after step \([0-9]*\).*/\1/p' "$tmp/main1.log" | head -n 1)
check "the rules@2 job ended with the learner (told to stop), exit 0, having scored groups" \
    "wait_for 60 'job_gone $ver' && grep -q 'verifier rules@2: [1-9][0-9]* groups' '$tmp/add-verifiers.log' && scontrol show job $ver | grep -q 'JobState=COMPLETED'" ||
    { cat "$tmp/add-verifiers.log"; scontrol show job "$ver" | head -5; }

# submitted again (with REQUEUE=1): resumes from the checkpoint
main2=$(ACTORS=1 VERIFIERS=1 REQUEUE=1 submit "$tmp/main2.log" -N 1 --ntasks-per-node=2 \
    deploy/slurm/aha-train.sbatch configs/demo.yaml "${small[@]}")
jobs_started+=("$main2")
check "resubmitted job $main2 resumed at step $stopped_at" \
    "wait_for 120 \"grep -q 'resuming from .* at step $stopped_at' '$tmp/main2.log' && [ \\\$(rows) -ge $((stopped_at + 6)) ]\"" ||
    tail -n 30 "$tmp/main2.log"
# the time limit: --signal=B:TERM@60 sends SIGTERM to the batch script alone, as this does; the
# script stops the learner (checkpoint) and, with REQUEUE=1, requeues the job
scancel --batch --signal=TERM "$main2"
check "SIGTERM to the batch script: checkpoint, then the job requeued itself" \
    "wait_for 90 \"grep -q 'REQUEUE=1: requeueing job $main2' '$tmp/main2.log' && squeue -h -j $main2 -o %T | grep -q PENDING\"" ||
    { tail -n 30 "$tmp/main2.log"; squeue -j "$main2"; }
stopped2=$(sed -n 's/.*stopped by a signal after step \([0-9]*\).*/\1/p' "$tmp/main2.log" | tail -n 1)
# (a requeued job starts again after the credential lifetime: cred_expire=10 in the test Slurm)
check "the requeued job resumed at step $stopped2 and finished" \
    "wait_for 300 'job_gone $main2' && grep -q 'resuming from .* at step $stopped2' '$tmp/main2.log' && [ -s '$tmp/run/rl/final/model.safetensors' ]" ||
    tail -n 30 "$tmp/main2.log"
wait "$ref_pid"
check "reference run finished" "[ -s '$tmp/ref/rl/final/model.safetensors' ]" || tail "$tmp/ref.log"

m="$tmp/run/rl/metrics.jsonl"
check "metrics: one row per step 0..$STEPS, none twice" \
    "[ \"\$(sed -n 's/.*\"step\":\([0-9]*\).*/\1/p' '$m' | sort -n | uniq | wc -l)\" -eq $((STEPS + 1)) ] && [ \$(wc -l < '$m') -eq $((STEPS + 1)) ]"
last=$(tail -n 1 "$m")
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<< "$last"; }
sampled=$(num actor_groups) missing=$(num actor_groups_missing)
remote=$(num verifier_groups_remote) local_=$(num verifier_groups_local)
total=$((STEPS * P))
check "every group counted once: $sampled by actors + $missing by the learner = $total" \
    "[ '$sampled' -ge 1 ] && [ \$((sampled + missing)) -eq $total ]"
check "every group scored once: $remote by verifiers + $local_ by the learner = $total" \
    "[ '$remote' -ge 1 ] && [ \$((remote + local_)) -eq $total ]"
a=$(sha256sum < "$tmp/run/rl/final/model.safetensors" | cut -c1-64)
b=$(sha256sum < "$tmp/ref/rl/final/model.safetensors" | cut -c1-64)
check "final weights = the uninterrupted run's (sha256 ${a:0:16})" "[ '$a' = '$b' ]" ||
    echo "reference sha256 ${b:0:16}"
check "workers took part in every step (no WORKERS MISSING warning)" \
    "! grep -q 'WORKERS MISSING' '$tmp/main1.log' '$tmp/main2.log'" || grep -h 'WORKERS MISSING' "$tmp"/main*.log | head -3
check "no aha process of this run left" "! pgrep -f 'aha.*$tmp/run' > /dev/null" ||
    pgrep -af "aha.*$tmp/run"
echo "slurm_cluster: wall time $(($(date +%s) - t_start)) s (stopped at step $stopped_at of $STEPS)"
exit $fail
