#!/usr/bin/env bash
# async (integration): bounded staleness rl.max_staleness k is bit-reproducible — for k = 1 and
# k = 2 the final weights of a small GRPO run are identical sampled in the learner, by 1 actor
# (for k = 1 also by 1 actor holding 3 groups at once and decoding them in one batch,
# rl.actor_groups), and by 3 actors + 2 verifiers of which one actor and one verifier are
# SIGKILLed mid-run; k = 0
# is the synchronous mode (explicit 0 = the default), and k changes the numbers (the schedule is
# real: staleness_mean = min(step, k)); a k = 1 or k = 2 run resumed from its step-25 checkpoint
# (in process, and with 2 actors) ends with the straight run's weights and metrics, and a
# truncated weights version file in the checkpoint is refused by name.   bash tests/async.sh path/to/aha
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
small_base 60
# random_reward: every group has a signal, so every step moves the weights
rp=(--set rl.init="$tmp/base/pretrain/final" "${small[@]}" --set rl.steps=40
    --set rl.prompts_per_step=3 --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2
    --set rl.random_reward=true --set rl.verifier_deadline_ms=500 --set rl.lease_ms=300
    --set rl.checkpoint_every=25)
w() { echo "$tmp/$1/rl/final/model.safetensors"; }
# the metrics rows without the timing and server columns (from tokens_per_s on)
rows() { sed 's/"tokens_per_s.*//' "$tmp/$1/rl/metrics.jsonl"; }

"$AHA" train --set run_dir="$tmp/k0" "${rp[@]}" > "$tmp/k0.log" 2>&1
"$AHA" train --set run_dir="$tmp/k0x" "${rp[@]}" --set rl.max_staleness=0 --set rl.actors=2 \
  > "$tmp/k0x.log" 2>&1; rc=$?
check "k=0 with 2 actors = the default synchronous run in process" "[ $rc -eq 0 ] && cmp -s $(w k0) $(w k0x) && [ \"\$(col k0x staleness_mean)\" = 0 ]" || tail -3 "$tmp/k0x.log"

for k in 1 2; do
  "$AHA" train --set run_dir="$tmp/k${k}a0" "${rp[@]}" --set rl.max_staleness=$k > "$tmp/k${k}a0.log" 2>&1; rc=$?
  check "k=$k in process" "[ $rc -eq 0 ] && [ \"\$(col k${k}a0 staleness_mean)\" = $k ]" || tail -3 "$tmp/k${k}a0.log"
  check "k=$k changes the numbers (not the synchronous run)" "! cmp -s $(w k0) $(w k${k}a0)"
  "$AHA" train --set run_dir="$tmp/k${k}a1" "${rp[@]}" --set rl.max_staleness=$k --set rl.actors=1 \
    > "$tmp/k${k}a1.log" 2>&1; rc=$?
  check "k=$k, 1 actor: same weights as in process" "[ $rc -eq 0 ] && cmp -s $(w k${k}a0) $(w k${k}a1) && [ \"\$(col k${k}a1 actor_groups)\" = 120 ]" || grep -E 'WARN|ERROR|aha:' "$tmp/k${k}a1.log" | head -5
  if [ "$k" = 1 ]; then # one actor holding all 3 groups of a step, decoded in one batch
    "$AHA" train --set run_dir="$tmp/k1g3" "${rp[@]}" --set rl.max_staleness=1 --set rl.actors=1 \
      --set rl.actor_groups=3 > "$tmp/k1g3.log" 2>&1; rc=$?
    check "k=1, 1 actor holding 3 groups at once: same weights as in process" "[ $rc -eq 0 ] && cmp -s $(w k1a0) $(w k1g3) && [ \"\$(col k1g3 actor_groups)\" = 120 ]" || grep -E 'WARN|ERROR|aha:' "$tmp/k1g3.log" | head -5
    # ...and it did batch: its 120 groups (more with re-leases) in fewer aha_generate calls
    gb=$(sed -n 's/.*actor actor-0: \([0-9]*\) groups sampled in \([0-9]*\) batches.*/\1 \2/p' "$tmp/k1g3.log")
    check "...the actor decoded several groups per batch (groups, batches: ${gb:-none logged})" "[ -n \"$gb\" ] && [ ${gb#* } -lt ${gb% *} ]"
  fi
  # resume from the step-25 checkpoint: of the in-process run in process, of the 1-actor run
  # with 2 actors; both end as the straight in-process run
  for r in a0:0 a1:2; do
    src=${r%:*} n=${r#*:} dst=k${k}r${r%:*}
    cp -r "$tmp/k${k}$src" "$tmp/$dst" && rm -rf "$tmp/$dst/rl/final"
    "$AHA" train --set run_dir="$tmp/$dst" "${rp[@]}" --set rl.max_staleness=$k --set rl.actors=$n \
      --resume > "$tmp/$dst.log" 2>&1; rc=$?
    check "k=$k, resumed at step 25 with $n actors: same weights and metrics as straight" "[ $rc -eq 0 ] && grep -q 'resuming from .* at step 25' $tmp/$dst.log && cmp -s $(w k${k}a0) $(w $dst) && diff <(rows k${k}a0) <(rows $dst) > /dev/null" || grep -E 'WARN|ERROR|aha:' "$tmp/$dst.log" | head -5
    # the actors sampled every group of the 15 steps: the older versions were served again
    # (counters are cumulative over the run: those of the checkpoint, counters.json, go on)
    base=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["counters"]["actor_groups"]))' "$tmp/$dst/rl/checkpoint/counters.json" 2>/dev/null || echo 0)
    # (groups delivered ahead for step 26 are not in the checkpoint's count: each counted once)
    [ "$n" -gt 0 ] && check "...its actors sampled all 45 groups and the run counts 120 like the straight one ($(col $dst actor_groups), $base at the checkpoint, $(col $dst groups_dropped_stale) dropped stale)" "[ \$(( \$(col $dst actor_groups | cut -d. -f1) - base )) = 45 ] && [ \"\$(col $dst actor_groups)\" = 120 ]"
  done
  cp -r "$tmp/k${k}a0" "$tmp/k${k}bad" && vf="$tmp/k${k}bad/rl/checkpoint/versions/v24.bin" &&
    truncate -s -1 "$vf"
  out=$("$AHA" train --set run_dir="$tmp/k${k}bad" "${rp[@]}" --set rl.max_staleness=$k --resume 2>&1); rc=$?
  check "k=$k, a truncated weights version file is refused by name" "[ $rc -ne 0 ] && grep -q \"$vf: truncated\" <<<\"\$out\"" || tail -2 <<<"$out"
  "$AHA" train --set run_dir="$tmp/k${k}a3" "${rp[@]}" --set rl.max_staleness=$k --set rl.actors=3 \
    --set rl.verifiers=2 > "$tmp/k${k}a3.log" 2>&1 &
  tp=$!
  # kill once the run is a few steps in
  for _ in $(seq 600); do [ "$(cat "$tmp/k${k}a3/rl/metrics.jsonl" 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.05; done
  actors=($(pgrep -P $tp -f 'actor --connect'))
  verifiers=($(pgrep -P $tp -f 'verifier --connect'))
  killed_at=$(wc -l < "$tmp/k${k}a3/rl/metrics.jsonl")
  killed_ok=0; kill -KILL "${actors[0]}" "${verifiers[0]}" && killed_ok=1
  wait $tp; rc=$?
  check "k=$k, 3 actors + 2 verifiers, one of each SIGKILLed mid-run: same weights" "[ $rc -eq 0 ] && cmp -s $(w k${k}a0) $(w k${k}a3)" || grep -E 'WARN|ERROR|aha:' "$tmp/k${k}a3.log" | head -5
  # a dead actor costs a lease period if it held a lease, nothing if its socket was gone first
  check "...the kills landed mid-run (at row $killed_at of 40; lost verifier $(col k${k}a3 verifier_lost), re-issued leases $(col k${k}a3 actor_leases_reissued))" "[ $killed_ok -eq 1 ] && [ $killed_at -lt 40 ] && [ \"\$(col k${k}a3 verifier_lost)\" -ge 1 ]"
done
exit $fail
