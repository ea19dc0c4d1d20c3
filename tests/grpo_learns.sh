#!/usr/bin/env bash
# grpo_learns (label slow): a short fixed-seed version of the demo. GRPO must clearly improve
# held-out accuracy and format over the pretrained base, and a random-reward control (same seed,
# rewards replaced by coin flips) must not.
set -u
AHA=${1:?path to aha}
RL_STEPS=${RL_STEPS:-120}
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--set run_dir="$tmp/run" --set seed=3)
"$AHA" pretrain "${common[@]}" > "$tmp/pretrain.log" 2>&1 || { cat "$tmp/pretrain.log"; exit 1; }
"$AHA" train "${common[@]}" --set rl.steps="$RL_STEPS" --set rl.eval_every=0 > "$tmp/train.log" 2>&1 \
  || { tail -20 "$tmp/train.log"; exit 1; }
"$AHA" train "${common[@]}" --set run_dir="$tmp/control" --set rl.init="$tmp/run/pretrain/final" \
  --set rl.steps="$RL_STEPS" --set rl.eval_every=0 --set rl.random_reward=true > "$tmp/control.log" 2>&1 \
  || { tail -20 "$tmp/control.log"; exit 1; }
held_out "$tmp/run/pretrain/final" "$tmp/base.json" "${common[@]}"
held_out "$tmp/run/rl/final" "$tmp/trained.json" "${common[@]}"
held_out "$tmp/control/rl/final" "$tmp/control.json" "${common[@]}"
b=$(json_num "$tmp/base.json" 'pass@1'); t=$(json_num "$tmp/trained.json" 'pass@1'); c=$(json_num "$tmp/control.json" 'pass@1')
bf=$(json_num "$tmp/base.json" format_rate); tf=$(json_num "$tmp/trained.json" format_rate)
echo "held-out pass@1: base $b, GRPO $t, random-reward control $c; format: base $bf, GRPO $tf"
awk -v b="$b" -v t="$t" -v c="$c" -v tf="$tf" 'BEGIN {
  bad = 0
  if (t < b + 0.10) { print "FAIL: GRPO improved accuracy by less than 10 points"; bad = 1 }
  if (tf < 0.9)     { print "FAIL: GRPO format rate below 90%"; bad = 1 }
  if (c > b + 0.03) { print "FAIL: the random-reward control improved accuracy"; bad = 1 }
  exit bad }'
