#!/usr/bin/env bash
# remote_ctl (integration): control commands from another host with the CURVE operator key. A run
# with net.keys (1 actor, 1 verifier, real processes on tcp) answers `aha ctl --remote` presenting
# the operator key; the workers' key gets "refused" (counted in ctl_refused, logged with the
# sender), a stranger's key is turned away by ZAP (logged, counted in curve_refused) and gets no
# answer; the local socket still works; without operator.pub the learner admits no operator key;
# --remote on a run without CURVE keys, or with no learner, is an error that says so.
#   bash tests/remote_ctl.sh path/to/aha
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
tp=
trap '[ -n "$tp" ] && kill -KILL $tp 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
small_base 3
"$AHA" keygen "$tmp/keys" > /dev/null && "$AHA" keygen "$tmp/stranger" > /dev/null
check "keygen writes the operator key" "[ -s $tmp/keys/operator.key ] && [ -s $tmp/keys/operator.pub ] && [ \$(stat -c %a $tmp/keys/operator.key) = 600 ]"
rp=(--set rl.init="$tmp/base/pretrain/final" "${small[@]}" --set rl.steps=100000
    --set rl.prompts_per_step=2 --set rl.group_size=2 --set rl.eval_every=0 --set rl.max_new_tokens=8
    --set rl.actors=1 --set rl.verifiers=1)

# start a run and wait for its actor and verifier; $1 = name, rest: more --set
start() {
  local name=$1; shift
  "$AHA" train --set run_dir="$tmp/$name" "${rp[@]}" "$@" > "$tmp/$name.log" 2>&1 &
  tp=$!
  for _ in $(seq 600); do
    grep -qs '"step"' "$tmp/$name/rl/metrics.jsonl" && break; sleep 0.05
  done
}
stop() { kill -TERM "$tp" 2>/dev/null; wait "$tp" 2>/dev/null; tp=; }

start op --set net.keys="$tmp/keys"
out=$("$AHA" ctl --remote "$tmp/op" status 2>&1); rc=$?
check "the operator key controls the run over tcp" "[ $rc -eq 0 ] && grep -q 'actors (1 joined)' <<<\"\$out\" && grep -q 'verifiers (1 live)' <<<\"\$out\"" || echo "$out"
out=$("$AHA" ctl --remote --key "$tmp/keys/client.key" "$tmp/op" status 2>&1); rc=$?
check "the workers' key is refused" "[ $rc -eq 1 ] && grep -q 'refused: control commands are taken only from the run.s operator' <<<\"\$out\"" || echo "$out"
out=$("$AHA" ctl --remote --key "$tmp/stranger/operator.key" --timeout 1.5 "$tmp/op" status 2>&1); rc=$?
check "a stranger's key gets no answer" "[ $rc -ne 0 ] && grep -q 'no answer from tcp://' <<<\"\$out\"" || echo "$out"
out=$("$AHA" ctl "$tmp/op" status 2>&1); rc=$?
check "the local socket still works" "[ $rc -eq 0 ] && grep -q 'actors (1 joined)' <<<\"\$out\"" || echo "$out"
# the refusals reach the metrics (coordinator + broker: 2) before the run is stopped
for _ in $(seq 200); do [ "$(col op ctl_refused | cut -d. -f1)" -ge 2 ] 2>/dev/null && break; sleep 0.05; done
check "refusals counted in ctl_refused ($(col op ctl_refused))" "[ \"\$(col op ctl_refused | cut -d. -f1)\" = 2 ]"
check "...logged with the sender" "grep -q \"refused control 'status' from id=.* sender=ctl/[0-9]* addr=.* key=worker\" $tmp/op.log" || grep refused "$tmp/op.log" | head -3
check "...and the stranger's handshake refused by ZAP, counted in curve_refused ($(col op curve_refused))" "grep -q 'ZAP: refused a connection' $tmp/op.log && [ \"\$(col op curve_refused | cut -d. -f1)\" -ge 1 ]"
stop

# without operator.pub the learner admits no operator key (the keys directory of an older run)
mkdir "$tmp/keys2" && cp "$tmp/keys/server.key" "$tmp/keys/client.key" "$tmp/keys2/"
cp "$tmp/keys/operator.key" "$tmp/op2.key"
start op2 --set net.keys="$tmp/keys2"
out=$("$AHA" ctl --remote --key "$tmp/op2.key" --timeout 1.5 "$tmp/op2" status 2>&1); rc=$?
check "no operator.pub: no remote control" "[ $rc -ne 0 ] && grep -q 'no .*operator.pub' $tmp/op2.log" || echo "$out"
stop

start plain
out=$("$AHA" ctl --remote "$tmp/plain" status 2>&1); rc=$?
check "--remote on a run without CURVE keys says so" "[ $rc -ne 0 ] && grep -q 'the run has no CURVE keys' <<<\"\$out\"" || echo "$out"
stop

out=$("$AHA" ctl --remote "$tmp/base" status 2>&1); rc=$?
check "--remote needs a running learner's endpoints" "[ $rc -ne 0 ] && grep -q 'endpoints.json: no such file' <<<\"\$out\"" || echo "$out"
exit $fail
