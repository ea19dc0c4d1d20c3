#!/usr/bin/env bash
# liveness: workers never outlive or wait forever for a learner — the actors and verifiers that
# `aha train` spawned are gone within seconds of a SIGKILL of it; a worker aimed at a closed port,
# an unresolvable host or a missing endpoints file gives up after net.connect_timeout_s with an
# error naming the endpoint (exit non-zero); an external verifier whose learner freezes (SIGSTOP)
# gives up after net.heartbeat_timeout_s + net.connect_timeout_s.
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
learner=
kids=
cleanup() {
    [ -n "$learner" ] && kill -CONT "$learner" 2>/dev/null && kill -9 "$learner" 2>/dev/null
    # shellcheck disable=SC2086
    [ -n "$kids" ] && kill -9 $kids 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
cd "$tmp" || exit 1
TINY=(--set model.dim=32 --set model.moe_hidden=32 --set model.max_seq_len=64
      --set eval.n=2 --set eval.k=1 --set eval.max_new_tokens=8 --set rl.max_new_tokens=8
      --set rl.eval_every=0 --set rl.prompts_per_step=2 --set rl.group_size=2)
# wait_for FILE PATTERN SECONDS
wait_for() {
    for _ in $(seq $((10 * $3))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# gone PIDS... within 5 s
gone() {
    for _ in $(seq 150); do
        local alive=0
        # a dead worker may linger as a zombie until whoever inherited it reaps it: not alive
        for p in "$@"; do
            st=$(ps -o stat= -p "$p" 2>/dev/null)
            [ -n "$st" ] && [ "${st#Z}" = "$st" ] && alive=1
        done
        [ $alive -eq 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# 1. a worker with nobody to talk to gives up
t0=$(date +%s)
out=$("$AHA" verifier --connect tcp://127.0.0.1:1 --set net.connect_timeout_s=2 2>&1); rc=$?
t=$(( $(date +%s) - t0 ))
check "verifier at a closed port exits non-zero in ${t}s" "[ $rc -ne 0 ] && [ $t -le 6 ]"
check "...naming the endpoint" "grep -q 'could not reach a learner at tcp://127.0.0.1:1 in 2 s' <<<\"\$out\"" || echo "$out"
out=$("$AHA" verifier --connect tcp://no-such-host.invalid:5555 --set net.connect_timeout_s=2 2>&1); rc=$?
check "verifier at an unresolvable host exits non-zero naming it" "[ $rc -ne 0 ] && grep -q 'learner at tcp://no-such-host.invalid:5555' <<<\"\$out\"" || echo "$out"
t0=$(date +%s)
out=$("$AHA" verifier --endpoints-file nowhere/endpoints.json --set net.connect_timeout_s=1 2>&1); rc=$?
t=$(( $(date +%s) - t0 ))
check "a missing endpoints file is waited on for net.connect_timeout_s only (${t}s)" "[ $rc -ne 0 ] && [ $t -le 4 ] && grep -q 'nowhere/endpoints.json did not appear in 1000 ms' <<<\"\$out\"" || echo "$out"

# 2. spawned workers die with the learner
"$AHA" pretrain --set run_dir=run --set pretrain.steps=2 --set pretrain.batch_size=4 "${TINY[@]}" > pre.log 2>&1
check "tiny pretrain" "[ -s run/pretrain/final/model.safetensors ]" || cat pre.log
"$AHA" train --set run_dir=run --set rl.steps=100000 --set rl.verifiers=2 --set rl.actors=1 \
    "${TINY[@]}" > train.log 2>&1 &
learner=$!
wait_for train.log "actor processes ready" 60
kids=$(ps -o pid= --ppid "$learner" | tr '\n' ' ')
check "the learner spawned 3 workers ($kids)" "[ \$(wc -w <<<\"$kids\") -eq 3 ]" || tail -20 train.log
kill -9 "$learner"
wait "$learner" 2>/dev/null
learner=
# shellcheck disable=SC2086
plist=$(tr -s ' ' ',' <<<"$kids" | sed 's/^,//; s/,$//')
check "they are gone within 15 s of a SIGKILL of the learner" "gone $kids" || ps -o pid,ppid,stat,etime,cmd -p "$plist"

# 3. an external verifier notices a frozen learner
rm -rf run/rl
"$AHA" train --set run_dir=run --set rl.steps=100000 --set net.serve=true "${TINY[@]}" > serve.log 2>&1 &
learner=$!
wait_for run/rl/endpoints.json broker 60
"$AHA" verifier --endpoints-file run/rl/endpoints.json --set net.heartbeat_timeout_s=1 \
    --set net.connect_timeout_s=2 > ext.log 2>&1 &
ext=$!
wait_for serve.log "verifier rules@1 joined" 30
check "the external verifier joined" "kill -0 $ext" || cat ext.log
kill -STOP "$learner"
t0=$(date +%s)
for _ in $(seq 150); do kill -0 $ext 2>/dev/null || break; sleep 0.1; done
wait $ext; rc=$?
t=$(( $(date +%s) - t0 ))
check "it exits non-zero within ${t}s of the learner freezing" "[ $rc -ne 0 ] && [ $t -le 12 ]" || cat ext.log
check "...naming the endpoint" "grep -q 'the learner at tcp://127.0.0.1:[0-9]* has been gone' ext.log" || cat ext.log
kill -CONT "$learner"
kill -9 "$learner"
wait "$learner" 2>/dev/null
learner=
exit $fail
