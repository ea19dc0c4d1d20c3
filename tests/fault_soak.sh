#!/usr/bin/env bash
# fault_soak (slow): one GRPO run with 3 actors and 2 verifiers in which random workers are
# SIGKILLed throughout and the learner itself is SIGKILLed twice and resumed (--resume) each
# time. It ends with the weights of the undisturbed in-process run, and every group is counted
# exactly once (actor_groups + actor_groups_missing and verifier_groups_remote +
# verifier_groups_local both equal steps x prompts, with counters kept across the resumes).
#   bash tests/fault_soak.sh path/to/aha
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'kill -KILL $(jobs -p) 2>/dev/null; [ -n "${SOAK_KEEP:-}" ] || rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STEPS=${SOAK_STEPS:-150}
P=3
small_base 40
rp=(--set rl.init="$tmp/base/pretrain/final" "${small[@]}" --set rl.steps=$STEPS
    --set rl.prompts_per_step=$P --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2
    --set rl.random_reward=true --set rl.verifier_deadline_ms=500 --set rl.lease_ms=300
    --set rl.checkpoint_every=5)
rows() { cat "$tmp/$1/rl/metrics.jsonl" 2>/dev/null | wc -l; }

"$AHA" train --set run_dir="$tmp/ref" "${rp[@]}" > "$tmp/ref.log" 2>&1 || { tail -5 "$tmp/ref.log"; exit 1; }

workers_killed=0 learner_killed=0 runs=0
soak=(--set run_dir="$tmp/soak" "${rp[@]}" --set rl.actors=3 --set rl.verifiers=2)
resume=()
while :; do
  runs=$((runs + 1))
  "$AHA" train "${soak[@]}" "${resume[@]}" >> "$tmp/soak.log" 2>&1 &
  tp=$!
  # the learner dies at a third and at two thirds of the run, as soon as the metrics row of a
  # checkpoint step appears (rl.checkpoint_every 5): the checkpoint is being written then, or just
  # was. Checkpoints are swapped in whole (learner/run_state.h), so the resume starts from that
  # step or the one before, never from a mix (the trainer case checkpoint_interrupted kills one
  # half-way deterministically).
  kill_at=$(( learner_killed < 2 ? (learner_killed + 1) * STEPS / 3 / 5 * 5 : STEPS + 10 ))
  while kill -0 $tp 2>/dev/null; do
    if [ "$(rows soak)" -ge $((kill_at - 1)) ]; then
      while [ "$(rows soak)" -lt "$kill_at" ] && kill -0 $tp 2>/dev/null; do sleep 0.002; done
    else
      sleep 0.0$((RANDOM % 9 + 1))
    fi
    if [ "$(rows soak)" -ge "$kill_at" ]; then
      kill -KILL $tp && learner_killed=$((learner_killed + 1))
      break
    fi
    kids=($(pgrep -P $tp -f -- '--connect' 2>/dev/null))
    if [ ${#kids[@]} -gt 0 ] && [ $((RANDOM % 2)) -eq 0 ]; then
      kill -KILL "${kids[$((RANDOM % ${#kids[@]}))]}" 2>/dev/null && workers_killed=$((workers_killed + 1))
    fi
  done
  wait $tp; rc=$?
  [ $rc -eq 137 ] || [ $rc -eq 0 ] || break
  [ $rc -eq 0 ] && break
  [ $runs -gt 5 ] && break
  sleep 0.3 # the killed learner's workers see it gone (PR_SET_PDEATHSIG)
  resume=(--resume)
done
echo "soak: $workers_killed workers and $learner_killed learners SIGKILLed over $runs runs"
check "soak run ends (rc $rc) after 2 learner kills + resumes" "[ $rc -eq 0 ] && [ $learner_killed -eq 2 ]" || grep -E 'ERROR|aha:' "$tmp/soak.log" | tail -5
check "...with the weights of the undisturbed run" "cmp -s $tmp/ref/rl/final/model.safetensors $tmp/soak/rl/final/model.safetensors"
n=$((STEPS * P))
a=$(( $(col soak actor_groups | cut -d. -f1) + $(col soak actor_groups_missing | cut -d. -f1) ))
v=$(( $(col soak verifier_groups_remote | cut -d. -f1) + $(col soak verifier_groups_local | cut -d. -f1) ))
check "...every group counted once: sampled $a, scored $v of $n ($workers_killed workers killed; re-issued $(col soak actor_leases_reissued), verifier lost $(col soak verifier_lost))" "[ $a -eq $n ] && [ $v -eq $n ] && [ $workers_killed -ge 3 ]"
exit $fail
