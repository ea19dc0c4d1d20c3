#!/usr/bin/env bash
# slurm_stop (integration): what deploy/slurm/ relies on, without Slurm (any user).
#  - SIGTERM (scancel, a time limit) to a running `aha train` -- one process, and 2 MPI ranks under
#    mpirun -- stops it after a step with a checkpoint, exit 0; --resume then ends with the bytes
#    of the uninterrupted run.
#  - `aha ctl RUN_DIR stop` does the same through the learner's control socket.
#  - A learner serving workers that never come warns (WORKERS MISSING, metrics
#    learner_sampled_all / learner_scored_all); with net.require_workers it fails, naming the
#    endpoint workers were told, and a step after its only actor died is an error.
#  - endpoints.json names net.advertise when set; under a host name that does not resolve (a UTS
#    namespace, when unshare works here) it names an address that resolves.
set -u
AHA=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
cd "$here/.." || exit 1
base=(--set model.dim=32 --set model.moe_hidden=32 --set pretrain.steps=20 --set pretrain.batch_size=8
      --set eval.n=2 --set eval.k=1 --set rl.prompts_per_step=3 --set rl.group_size=4
      --set rl.eval_every=0 --set rl.eval_n=2 --set rl.actors=0 --set rl.verifiers=0
      --set rl.checkpoint_every=1000)
"$AHA" pretrain configs/demo.yaml "${base[@]}" --set run_dir="$tmp/base" > "$tmp/pretrain.log" 2>&1 ||
    { echo "FAIL: pretrain"; tail "$tmp/pretrain.log"; exit 1; }
rows() { [ -f "$1/rl/metrics.jsonl" ] && wc -l < "$1/rl/metrics.jsonl" || echo 0; }
sha() { sha256sum < "$1/rl/final/model.safetensors" | cut -c1-64; }

# stopped_resumed NAME LABEL WHY RC STEPS [LAUNCH...]: checks that the run $tmp/NAME-run (log
# $tmp/NAME-run.log, exit status RC) was "stopped by WHY" after a step before STEPS with a
# checkpoint, resumes it (under LAUNCH..., if given) and checks that it ends with the weights of
# the uninterrupted run $tmp/NAME-ref.
stopped_resumed() {
    local name=$1 label=$2 why=$3 rc=$4 steps=$5
    shift 5
    local run="$tmp/$name-run" ref="$tmp/$name-ref" at
    at=$(sed -n "s/.*stopped by $why after step \\([0-9]*\\) of.*/\\1/p" "$run.log" | head -n 1)
    check "$label stops the run after step ${at:-?} of $steps with a checkpoint, exit 0" \
        "[ $rc -eq 0 ] && [ -n '$at' ] && [ '$at' -lt $steps ] && [ -f '$run/rl/checkpoint/state.json' ] && [ ! -e '$run/rl/final' ]" ||
        grep -v "^20" "$run.log" | tail -n 8
    "$@" "$AHA" train configs/demo.yaml "${base[@]}" --set rl.steps=$steps --set run_dir="$run" --resume \
        > "$tmp/$name-resume.log" 2>&1
    check "$label: --resume ends with the uninterrupted run's weights" \
        "[ -s '$run/rl/final/model.safetensors' ] && [ \"\$(sha '$run')\" = \"\$(sha '$ref')\" ]" ||
        tail -n 5 "$tmp/$name-resume.log" "$ref.log"
}

# stop_resume NAME LAUNCH...: reference run, then a run stopped by SIGTERM at step >= 5, resumed
stop_resume() {
    local name=$1
    shift
    local steps=200 ref="$tmp/$name-ref" run="$tmp/$name-run"
    mkdir -p "$ref" "$run" && cp -r "$tmp/base/pretrain" "$ref/" && cp -r "$tmp/base/pretrain" "$run/"
    "$@" "$AHA" train configs/demo.yaml "${base[@]}" --set rl.steps=$steps --set run_dir="$ref" \
        > "$tmp/$name-ref.log" 2>&1
    "$@" "$AHA" train configs/demo.yaml "${base[@]}" --set rl.steps=$steps --set run_dir="$run" \
        > "$tmp/$name-run.log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do [ "$(rows "$run")" -ge 6 ] && break; sleep 0.05; done
    # as scancel does: SIGTERM to every learner process (under mpirun: the ranks, its children)
    local ranks
    ranks=$(pgrep -P "$pid" -x aha)
    kill -TERM ${ranks:-$pid}
    wait "$pid"
    stopped_resumed "$name" "$name: SIGTERM" "a signal" $? $steps "$@"
}
stop_resume one env
if command -v mpirun > /dev/null 2>&1; then
    stop_resume mpi2 bash "$here/mpi_run.sh" 2
else
    echo "note: mpirun not found; the 2-rank stop is not checked"
fi

# aha ctl RUN_DIR stop (the local control socket of a learner that serves workers): the same stop
# with a checkpoint after the current step; --resume ends with the uninterrupted run's bytes
ctl_stop() {
    local steps=40 ref="$tmp/ctl-ref" run="$tmp/ctl-run" # room for aha ctl to start under load
    local srv=(--set net.serve=true --set net.host=127.0.0.1 --set rl.lease_ms=200)
    mkdir -p "$ref" "$run" && cp -r "$tmp/base/pretrain" "$ref/" && cp -r "$tmp/base/pretrain" "$run/"
    "$AHA" train configs/demo.yaml "${base[@]}" --set rl.steps=$steps --set run_dir="$ref" \
        > "$tmp/ctl-ref.log" 2>&1
    "$AHA" train configs/demo.yaml "${base[@]}" "${srv[@]}" --set rl.steps=$steps --set run_dir="$run" \
        > "$tmp/ctl-run.log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do [ "$(rows "$run")" -ge 3 ] && break; sleep 0.05; done
    local out
    out=$("$AHA" ctl "$run" stop 2>&1)
    check "aha ctl stop is answered" "grep -q 'stops after its current step with a checkpoint' <<<\"\$out\"" ||
        echo "$out"
    wait "$pid"
    stopped_resumed ctl "aha ctl stop" "aha ctl stop" $? $steps
}
ctl_stop

# no workers: loud warning + metrics; net.require_workers: an error naming the endpoint
"$AHA" keygen "$tmp/keys" > /dev/null
serve=(--set net.serve=true --set net.host=0.0.0.0 --set net.keys="$tmp/keys" --set rl.steps=3
       --set rl.lease_ms=300)
mkdir -p "$tmp/alone" && cp -r "$tmp/base/pretrain" "$tmp/alone/"
"$AHA" train configs/demo.yaml "${base[@]}" "${serve[@]}" --set run_dir="$tmp/alone" \
    --set net.advertise=learner.example > "$tmp/alone.log" 2>&1
rc=$?
check "no workers: the run ends (exit $rc) with WORKERS MISSING warnings" \
    "[ $rc -eq 0 ] && grep -q 'WARN .*WORKERS MISSING: step 1: no actor delivered a group' '$tmp/alone.log' && grep -q 'WORKERS MISSING: of 3 steps the learner sampled every group of 3 itself' '$tmp/alone.log'" ||
    tail -n 5 "$tmp/alone.log"
check "no workers: learner_sampled_all and learner_scored_all are 1 in every step's row" \
    "[ \$(grep -c '\"learner_sampled_all\":1' '$tmp/alone/rl/metrics.jsonl') -eq 3 ] && [ \$(grep -c '\"learner_scored_all\":1' '$tmp/alone/rl/metrics.jsonl') -eq 3 ]"
check "endpoints.json names net.advertise" \
    "grep -q '\"coordinator\":.*\"tcp://learner.example:[0-9]*\"' '$tmp/alone/rl/endpoints.json'" ||
    cat "$tmp/alone/rl/endpoints.json"
mkdir -p "$tmp/req" && cp -r "$tmp/base/pretrain" "$tmp/req/"
"$AHA" train configs/demo.yaml "${base[@]}" "${serve[@]}" --set run_dir="$tmp/req" \
    --set net.require_workers=1 --set net.connect_timeout_s=1 > "$tmp/req.log" 2>&1
rc=$?
check "net.require_workers: fails (exit $rc) naming the endpoint the actors were told" \
    "[ $rc -ne 0 ] && grep -q 'net.require_workers: 0 of 1 actor(s) joined in 1 s (net.connect_timeout_s); they were told to connect to tcp://' '$tmp/req.log'" ||
    tail -n 5 "$tmp/req.log"

# net.require_workers during the run: the only actor dies, the next step the learner would
# sample alone is an error
mkdir -p "$tmp/req2" && cp -r "$tmp/base/pretrain" "$tmp/req2/"
"$AHA" train configs/demo.yaml "${base[@]}" "${serve[@]}" --set run_dir="$tmp/req2" \
    --set rl.steps=200 --set rl.actors=1 --set rl.verifiers=1 --set net.require_workers=1 \
    > "$tmp/req2.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ "$(rows "$tmp/req2")" -ge 4 ] && break; sleep 0.05; done
kill -KILL $(pgrep -P "$pid" -f 'aha actor') 2> /dev/null
wait "$pid"
rc=$?
check "net.require_workers: a step without any actor ends the run (exit $rc)" \
    "[ $rc -ne 0 ] && grep -q 'net.require_workers: step [0-9]*: no actor delivered a group' '$tmp/req2.log' && [ ! -e '$tmp/req2/rl/final' ]" ||
    grep -v "^ " "$tmp/req2.log" | tail -n 8

# a host name that does not resolve: endpoints.json must name something that does
if [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null && unshare -u true 2> /dev/null; then
    mkdir -p "$tmp/nores" && cp -r "$tmp/base/pretrain" "$tmp/nores/"
    unshare -u bash -c 'hostname "aha-unresolvable-$$" && exec "$@"' _ \
        "$AHA" train configs/demo.yaml "${base[@]}" "${serve[@]}" --set rl.steps=1 \
        --set run_dir="$tmp/nores" > "$tmp/nores.log" 2>&1
    host=$(sed -n 's/.*"coordinator":[^"]*"tcp:\/\/\([^:]*\):.*/\1/p' "$tmp/nores/rl/endpoints.json")
    check "unresolvable host name: endpoints.json names $host, which resolves" \
        "[ -n '$host' ] && case '$host' in aha-unresolvable-*) false ;; esac && getent ahosts '$host' > /dev/null" ||
        tail -n 5 "$tmp/nores.log"
else
    echo "note: no UTS namespace here (needs root and unshare); the unresolvable host name is not checked"
fi
exit $fail
