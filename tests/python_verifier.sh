#!/usr/bin/env bash
# python_verifier: a short `aha train` (rl.verifiers=0, net.serve, net.wait_verifiers=1) is scored
# by examples/verifier.py, a verifier written against docs/protocol.md in Python: the run
# completes, every group of every step is scored remotely (verifier_groups_remote, none local),
# the learner logs the Python verifier joining and the verifier its groups; its rewards equal the
# built-in rules' (same reward_mean per step as a run scored in the learner process).
set -u
AHA=${1:?path to aha}
PYDIR=${2:?directory of aha_pb2.py}
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
if ! $PY -c 'import zmq, google.protobuf' 2>/dev/null || [ ! -f "$PYDIR/aha_pb2.py" ]; then
    echo "FAIL: needs python3-zmq, python3-protobuf and $PYDIR/aha_pb2.py (protoc)"
    exit 1
fi
tmp=$(mktemp -d)
pids=
trap 'kill -9 $pids 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
cd "$tmp" || exit 1
TINY=(--set model.dim=32 --set model.moe_hidden=32 --set model.max_seq_len=64
      --set eval.n=2 --set eval.k=1 --set eval.max_new_tokens=8 --set rl.max_new_tokens=16
      --set rl.eval_every=0 --set rl.eval_n=2 --set rl.prompts_per_step=4 --set rl.group_size=4
      --set rl.steps=5 --set rl.checkpoint_every=100)
"$AHA" pretrain --set run_dir=run --set pretrain.steps=200 --set pretrain.batch_size=16 "${TINY[@]}" > pre.log 2>&1
check "tiny pretrain" "[ -s run/pretrain/final/model.safetensors ]" || cat pre.log
cp -r run local_run
"$AHA" train --set run_dir=run --set net.serve=true --set net.wait_verifiers=1 --set rl.verifiers=0 \
    --set net.connect_timeout_s=60 "${TINY[@]}" > train.log 2>&1 &
learner=$!
pids="$learner"
PYTHONPATH="$PYDIR" $PY "$SRC/examples/verifier.py" --endpoints-file run/rl/endpoints.json \
    --connect-timeout-s 60 > py.log 2>&1 &
py=$!
pids="$pids $py"
wait $learner; rc=$?
check "the run scored by the Python verifier completes" "[ $rc -eq 0 ]" || { tail -30 train.log; cat py.log; }
for _ in $(seq 50); do kill -0 $py 2>/dev/null || break; sleep 0.1; done
wait $py; prc=$?
check "the Python verifier was told to stop and exited 0" "[ $prc -eq 0 ]" || cat py.log
check "the learner saw it join" "grep -q 'broker: verifier py@1 joined' train.log" || tail -30 train.log
last=$(tail -n 1 run/rl/metrics.jsonl)
remote=$(sed 's/.*"verifier_groups_remote":\([0-9]*\).*/\1/' <<<"$last")
local_=$(sed 's/.*"verifier_groups_local":\([0-9]*\).*/\1/' <<<"$last")
check "every group was scored remotely ($remote remote, $local_ local)" "[ \"$remote\" -ge 20 ] && [ \"$local_\" -eq 0 ]" || echo "$last"
check "the Python verifier scored them" "grep -q 'verifier.py py@1: $remote groups' py.log" || cat py.log
# the same run scored in the learner process (no verifier processes): the same rewards step by step
"$AHA" train --set run_dir=local_run --set rl.verifiers=0 "${TINY[@]}" > local.log 2>&1
check "in-process run completes" "[ $? -eq 0 ]" || tail -20 local.log
rewards() { grep -o '"reward_[a-z]*":[^,]*' "$1"; }
check "rewards equal the built-in verifier's at every step" "[ \"\$(rewards run/rl/metrics.jsonl)\" = \"\$(rewards local_run/rl/metrics.jsonl)\" ]" || paste <(rewards run/rl/metrics.jsonl) <(rewards local_run/rl/metrics.jsonl)
exit $fail
