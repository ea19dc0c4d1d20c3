#!/usr/bin/env bash
# r1_recipe (label slow): recipes/r1_short.yaml end to end through `aha pipeline` — every stage
# runs and writes its outputs, a rerun skips them all, and `aha report` renders one row per
# evaluated model and setting with numbers in range.
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export OPENBLAS_NUM_THREADS=1

run="$tmp/r1"
n=$(grep -c '^  - \(name:\|{name:\)' recipes/r1_short.yaml)
start=$(date +%s)
"$AHA" pipeline recipes/r1_short.yaml --run-dir "$run" > "$tmp/p1.log" 2>&1; rc=$?
echo "short recipe: $(( $(date +%s) - start )) s"
check "the short recipe runs end to end ($n stages)" "[ $rc -eq 0 ] && grep -q \"$n stages run, 0 skipped\" \"$tmp/p1.log\"" || { tail -5 "$tmp/p1.log"; for l in "$run"/*/log.txt; do echo "== $l"; tail -3 "$l"; done; }
"$AHA" pipeline recipes/r1_short.yaml --run-dir "$run" > "$tmp/p2.log" 2>&1; rc=$?
check "a rerun skips every stage" "[ $rc -eq 0 ] && grep -q \"0 stages run, $n skipped\" \"$tmp/p2.log\""
# the R1-Zero stage ran with one actor and one verifier process: every group (12 steps x 8
# prompts) came from the actor and was scored remotely
check "R1-Zero stage: groups from the actor process, scored by the verifier process" "grep -q 'actor_groups 96,' \"$run/r1zero/log.txt\" && grep -q 'verifier_groups_remote [1-9][0-9]*, verifier_groups_local 0,' \"$run/r1zero/log.txt\"" || grep counters "$run/r1zero/log.txt"
check "rejection sampling kept samples" "grep -q 'kept [1-9]' \"$run/rs_data/log.txt\"" || cat "$run/rs_data/log.txt"
"$AHA" report "$run" > "$tmp/report.log" 2>&1; rc=$?
check "report renders" "[ $rc -eq 0 ] && [ -s \"$run/report.md\" ]" || cat "$tmp/report.log"
rows=$(grep -c '^| [a-z0-9_]* | [a-z0-9-]* | 20 x 16 |' "$run/report.md")
evals=$(grep -c 'command: eval' recipes/r1_short.yaml)
check "one row per evaluation ($rows of $evals)" "[ \"$rows\" -eq \"$evals\" ]" || cat "$run/report.md"
check "percentages in range" "! grep '^| ' \"$run/report.md\" | grep -q '[0-9]\{4,\}\.[0-9]%'"
for m in base r1zero r1zero_random_reward r1 student_distilled student_grpo; do
  check "row for $m" "grep -q '^| $m | ' \"$run/report.md\""
done
cat "$run/report.md"
exit $fail
