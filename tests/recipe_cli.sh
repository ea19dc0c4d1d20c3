#!/usr/bin/env bash
# recipe_cli: the R1 recipe commands end to end on a tiny model — `aha sft` (bad JSONL lines named
# by file and line, a run lowers the loss on its data and writes pretraining's checkpoints and
# metrics), `aha gen-coldstart`, `aha reject`, and the language / reflection metrics of `aha train`
# and `aha eval`.
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run="$tmp/run"
tiny=(--set run_dir="$run" --set model.dim=32 --set model.moe_hidden=32 --set eval.n=5
      --set eval.k=2 --set pretrain.batch_size=16 --set pretrain.log_every=5)
"$AHA" pretrain "${tiny[@]}" --set pretrain.steps=30 > "$tmp/pre.log" 2>&1
check "pretrain a tiny base" "[ -s \"$run/pretrain/final/model.safetensors\" ]" || tail "$tmp/pre.log"

# 1. aha sft
good='{"prompt":"<bos><|User|>12+34<|Assistant|>","response":"<think>2+4=06;1+3=04;</think><answer>46</answer><eos>"}'
printf '%s\n%s\n{"prompt":"x"}\n' "$good" "$good" > "$tmp/bad.jsonl"
out=$("$AHA" sft "${tiny[@]}" --set sft.data="$tmp/bad.jsonl" 2>&1); rc=$?
check "bad JSONL line: non-zero exit naming file:line" "[ $rc -ne 0 ] && grep -q 'bad.jsonl:3: needs string keys' <<<\"\$out\"" || echo "$out"
check "nothing written for a bad file" "[ ! -e \"$run/sft\" ]"
out=$("$AHA" sft "${tiny[@]}" 2>&1); rc=$?
check "sft.data is required" "[ $rc -ne 0 ] && grep -q 'sft.data' <<<\"\$out\""
check "sft --help lists the sft keys" "\"$AHA\" sft --help | grep -q 'sft.epochs'"
# pairs written by a script: 1-2 digit sums with their traces
for a in 3 14 25 36 47 58 69 70 81 92 7 18; do
  for b in 5 26 47 68; do
    s=$((a + b))
    printf '{"prompt":"<bos><|User|>%d+%d<|Assistant|>","response":"<answer>%d</answer><eos>"}\n' "$a" "$b" "$s"
  done
done > "$tmp/pairs.jsonl"
"$AHA" sft "${tiny[@]}" --set sft.data="$tmp/pairs.jsonl" --set sft.epochs=6 --set sft.batch_size=8 \
  --set sft.lr=3e-3 --set sft.log_every=2 --set sft.checkpoint_every=20 > "$tmp/sft.log" 2>&1
rc=$?
check "sft exits 0" "[ $rc -eq 0 ]" || tail -20 "$tmp/sft.log"
check "6 epochs of 48 pairs in batches of 8 = 36 steps" "grep -q '36 steps of 8' \"$tmp/sft.log\""
check "sft final checkpoint and eval" "[ -s \"$run/sft/final/model.safetensors\" ] && grep -q 'pass@1' \"$run/sft/final/eval.json\""
check "sft periodic checkpoint" "[ -s \"$run/sft/checkpoint/model.safetensors\" ]"
check "sft metrics: 18 rows" "[ \$(wc -l < \"$run/sft/metrics.jsonl\") -eq 18 ]"
check_loss_drops "sft loss goes down" "$run/sft/metrics.jsonl" 0.7

# 2. aha gen-coldstart: readable pairs that aha sft reads
"$AHA" gen-coldstart "${tiny[@]}" --out "$tmp/cold.jsonl" --n 50 > "$tmp/cold.log" 2>&1
check "gen-coldstart writes 50 pairs" "[ \$(wc -l < \"$tmp/cold.jsonl\") -eq 50 ]" || cat "$tmp/cold.log"
check "cold-start responses end with a carry step, no summary" "[ \$(grep -c '[0-9]+[0-9]\\(+1\\)\\?=[0-9][0-9];</think><answer>' \"$tmp/cold.jsonl\") -eq 50 ]"
out=$("$AHA" gen-coldstart "${tiny[@]}" --n 5 2>&1); rc=$?
check "gen-coldstart needs --out" "[ $rc -ne 0 ] && grep -q -- '--out' <<<\"\$out\""
out=$("$AHA" gen-coldstart "${tiny[@]}" --out "$tmp/x.jsonl" --bogus 1 2>&1); rc=$?
check "gen-coldstart names an unknown option" "[ $rc -ne 0 ] && grep -q -- '--bogus' <<<\"\$out\""

# 3. aha reject from the SFT checkpoint: prints its counts, every kept line is scored right
"$AHA" reject "${tiny[@]}" --set rl.language_charset='digits+ops+[wait]' --checkpoint "$run/sft/final" \
  --out "$tmp/rs.jsonl" --prompts 20 --k 4 --nonreasoning 5 > "$tmp/rs.log" 2>&1
rc=$?
check "reject exits 0 and prints its counts" "[ $rc -eq 0 ] && grep -q 'rejection sampling: 80 samples of 20 prompts' \"$tmp/rs.log\"" || cat "$tmp/rs.log"
check "reject adds the non-reasoning pairs" "[ \$(grep -c 'max(' \"$tmp/rs.jsonl\") -eq 5 ]"

# 4. a short RL run reports language consistency and reflection; eval reports them too
"$AHA" train "${tiny[@]}" --set rl.steps=2 --set rl.prompts_per_step=2 --set rl.group_size=2 \
  --set rl.eval_every=0 --set rl.eval_n=2 --set rl.init="$run/sft/final" > "$tmp/rl.log" 2>&1
rc=$?
check "train exits 0" "[ $rc -eq 0 ]" || tail "$tmp/rl.log"
check "RL metrics: language_consistency and reflection_rate" "grep -q '\"language_consistency\"' \"$run/rl/metrics.jsonl\" && grep -q '\"reflection_rate\"' \"$run/rl/metrics.jsonl\""
"$AHA" eval "${tiny[@]}" --checkpoint "$run/sft/final" --n 3 --k 2 --out "$tmp/ev.json" > "$tmp/ev.log" 2>&1
check "eval reports language consistency and reflection" "grep -q 'language consistency' \"$tmp/ev.log\" && grep -q reflection_rate \"$tmp/ev.json\""

# 5. aha pipeline: stages in order, a rerun skips the finished ones, a failing stage is named
pr="$tmp/pipe"
cat > "$tmp/tiny.yaml" <<YAML
run_dir: $pr
set: [model.dim=32, model.moe_hidden=32, eval.n=5, eval.k=2, pretrain.batch_size=16,
      pretrain.log_every=5, pretrain.steps=20]
stages:
  - name: base
    command: pretrain
    outputs: [pretrain/final/pretrain_key.yaml]
  - name: cold
    command: gen-coldstart
    args: [--out, "@{cold}/data.jsonl", --n, "40"]
    outputs: [data.jsonl]
  - name: tuned
    command: sft
    set: ["sft.init=@{base}/pretrain/final", "sft.data=@{cold}/data.jsonl", sft.epochs=1,
          sft.batch_size=8]
    outputs: [sft/final/config.yaml]
  - name: ev
    command: eval
    args: [--checkpoint, "@{tuned}/sft/final", --model, tuned, --setting, add1-3, --out, "@{ev}/e.json"]
    outputs: [e.json]
YAML
"$AHA" pipeline "$tmp/tiny.yaml" > "$tmp/p1.log" 2>&1; rc=$?
check "pipeline runs every stage" "[ $rc -eq 0 ] && grep -q '4 stages run, 0 skipped' \"$tmp/p1.log\"" || { cat "$tmp/p1.log"; tail "$pr"/*/log.txt; }
check "stages write under RUN_DIR/<stage> with their log and wall time" "[ -s \"$pr/base/pretrain/final/model.safetensors\" ] && [ -s \"$pr/tuned/log.txt\" ] && grep -q seconds \"$pr/tuned/stage.json\""
check "the sft stage trained on the cold-start data" "grep -q '40 pairs from $pr/cold/data.jsonl' \"$pr/tuned/log.txt\""
before=$(stat -c %Y "$pr/base/pretrain/final/model.safetensors")
sleep 1
"$AHA" pipeline "$tmp/tiny.yaml" > "$tmp/p2.log" 2>&1; rc=$?
check "a rerun skips every finished stage" "[ $rc -eq 0 ] && grep -q '0 stages run, 4 skipped' \"$tmp/p2.log\""
check "a skipped stage is left as it was" "[ \$(stat -c %Y \"$pr/base/pretrain/final/model.safetensors\") -eq $before ]"
rm "$pr/ev/e.json"
"$AHA" pipeline "$tmp/tiny.yaml" > "$tmp/p3.log" 2>&1; rc=$?
check "only the stage whose output is gone runs again" "[ $rc -eq 0 ] && grep -q '1 stages run, 3 skipped' \"$tmp/p3.log\" && grep -q 'ev .*running' \"$tmp/p3.log\""
# --jobs 2: base and cold (independent) run at once, tuned waits for both, ev for tuned; same numbers
"$AHA" pipeline "$tmp/tiny.yaml" --run-dir "$tmp/pipe2" --jobs 2 > "$tmp/pj.log" 2>&1; rc=$?
line() { grep -n "\] $1 .*$2" "$tmp/pj.log" | head -1 | cut -d: -f1; }
check "--jobs 2: every stage runs" "[ $rc -eq 0 ] && grep -q '4 stages run, 0 skipped' \"$tmp/pj.log\"" || cat "$tmp/pj.log"
check "--jobs 2: cold starts while base runs" "[ \$(line cold running) -lt \$(line base finished) ]" || cat "$tmp/pj.log"
check "--jobs 2: tuned starts after base and cold finish, ev after tuned" "[ \$(line tuned running) -gt \$(line base finished) ] && [ \$(line tuned running) -gt \$(line cold finished) ] && [ \$(line ev running) -gt \$(line tuned finished) ]" || cat "$tmp/pj.log"
check "--jobs 2: the same evaluation as one stage at a time" "cmp -s <(grep -v seconds \"$pr/ev/e.json\") <(grep -v seconds \"$tmp/pipe2/ev/e.json\")" || diff "$pr/ev/e.json" "$tmp/pipe2/ev/e.json"
out=$("$AHA" pipeline "$tmp/tiny.yaml" --jobs 0 2>&1); rc=$?
check "--jobs 0 is refused" "[ $rc -ne 0 ] && grep -q -- '--jobs' <<<\"\$out\""
sed 's/name: ev/name: ev2/; s/@{ev}/@{ev2}/; s/--n, "40"/--n, "x40"/' "$tmp/tiny.yaml" > "$tmp/bad_stage.yaml"
rm -rf "$pr/cold"
out=$("$AHA" pipeline "$tmp/bad_stage.yaml" 2>&1); rc=$?
check "a failing stage stops the pipeline, named with its log" "[ $rc -ne 0 ] && grep -q 'stage cold (.*bad_stage.yaml:8) failed with exit code' <<<\"\$out\" && grep -q 'cold/log.txt' <<<\"\$out\"" || echo "$out"
printf 'run_dir: x\nstages:\n  - name: a\n    command: pretrain\n    outputz: [y]\n' > "$tmp/bad_key.yaml"
out=$("$AHA" pipeline "$tmp/bad_key.yaml" 2>&1); rc=$?
check "an unknown recipe key names file:line" "[ $rc -ne 0 ] && grep -q \"bad_key.yaml:5: stages\\[0\\]: unknown key 'outputz'\" <<<\"\$out\"" || echo "$out"
printf 'run_dir: x\njobs: 0\nstages:\n  - name: a\n    command: pretrain\n    outputs: [y]\n' > "$tmp/bad_jobs.yaml"
out=$("$AHA" pipeline "$tmp/bad_jobs.yaml" 2>&1); rc=$?
check "a bad jobs value names file:line" "[ $rc -ne 0 ] && grep -q 'bad_jobs.yaml:2: jobs: expected an integer in 1..64' <<<\"\$out\"" || echo "$out"
printf 'run_dir: x\nstages:\n  - name: a\n    command: sft\n    set: ["sft.init=@{b}/x"]\n    outputs: [y]\n' > "$tmp/bad_ref.yaml"
out=$("$AHA" pipeline "$tmp/bad_ref.yaml" 2>&1); rc=$?
check "a reference to an unknown stage names file:line" "[ $rc -ne 0 ] && grep -q 'bad_ref.yaml:5: @{b}: no stage' <<<\"\$out\"" || echo "$out"

# 6. aha report: the table of the labelled evaluations, stage times and curves
"$AHA" report "$pr" > "$tmp/report.out" 2>&1; rc=$?
check "report exits 0 and writes report.md" "[ $rc -eq 0 ] && [ -s \"$pr/report.md\" ]" || cat "$tmp/report.out"
row=$(grep '^| tuned | add1-3 | 5 x 2 |' "$pr/report.md")
check "report has the model's row" "[ -n \"\$row\" ]" || cat "$pr/report.md"
want=$(awk -F: '/"pass@1"/{gsub(/[ \t,]/, "", $2); printf "%.1f%%", 100 * $2}' "$pr/ev/e.json")
check "the row shows the eval's pass@1 ($want)" "grep -q \"| tuned | add1-3 | 5 x 2 | $want |\" \"$pr/report.md\"" || { cat "$pr/report.md"; cat "$pr/ev/e.json"; }
check "report lists stage wall times" "grep -q '^| tuned | sft | ' \"$pr/report.md\""
check "report links the curves of the stages" "grep -q 'base/pretrain/loss.png' \"$pr/report.md\" && [ -s \"$pr/base/pretrain/loss.png\" ] && [ -s \"$pr/tuned/sft/loss.png\" ]"
out=$("$AHA" report "$run" 2>&1); rc=$?
check "report without evaluations says what it needs" "[ $rc -ne 0 ] && grep -q 'no labelled evaluations' <<<\"\$out\""
exit $fail
