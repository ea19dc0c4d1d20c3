#!/usr/bin/env bash
# cli: end-to-end checks of the aha executable — bad configs fail with file:line:key, a short
# pretraining run writes metrics, checkpoints and an eval, and its loss goes down; pretraining and
# GRPO resume bit-exactly; train/eval/plot/templates/losses end to end.
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"

# 1. bad configs: clear message, non-zero exit
printf 'model:\n  dim: 64\n  n_layerz: 2\n' > "$tmp/bad_key.yaml"
out=$("$AHA" pretrain "$tmp/bad_key.yaml" 2>&1); rc=$?
check "unknown key exits non-zero" "[ $rc -ne 0 ]"
check "unknown key names file:line and key" "grep -q 'bad_key.yaml:3' <<<\"\$out\" && grep -q 'model.n_layerz' <<<\"\$out\""
printf 'pretrain:\n  steps: lots\n' > "$tmp/bad_type.yaml"
out=$("$AHA" pretrain "$tmp/bad_type.yaml" 2>&1); rc=$?
check "wrong type names file:line:key" "[ $rc -ne 0 ] && grep -q 'bad_type.yaml:2' <<<\"\$out\" && grep -q 'pretrain.steps' <<<\"\$out\""
out=$("$AHA" pretrain --set model.dim=abc 2>&1); rc=$?
check "bad --set names the key" "[ $rc -ne 0 ] && grep -q 'model.dim' <<<\"\$out\""
out=$("$AHA" pretrain "$tmp/missing.yaml" 2>&1); rc=$?
check "missing file is reported" "[ $rc -ne 0 ] && grep -q 'missing.yaml' <<<\"\$out\""
out=$("$AHA" frobnicate 2>&1); rc=$?
check "unknown command exits 2" "[ $rc -eq 2 ]"
check "help works" "\"$AHA\" pretrain --help | grep -q 'model.dim'"
# 1b. one option table per command (main/cmd.h cli_opt_t): a flag before CONFIG is a flag, values
# are checked against the option's kind and range, usage errors exit 2
out=$("$AHA" pretrain --cached-ok "$tmp/missing.yaml" 2>&1); rc=$?
check "a flag before CONFIG leaves CONFIG positional" "[ $rc -ne 0 ] && grep -q 'missing.yaml: cannot open' <<<\"\$out\""
out=$("$AHA" eval --checkpoint "$tmp/nope" --k 2000 2>&1); rc=$?
check "a count out of range names the option and range" "[ $rc -eq 2 ] && grep -q -- \"--k: expected an integer in \[1, 1024\], got '2000'\" <<<\"\$out\""
out=$("$AHA" eval --checkpoint "$tmp/nope" --temperature nan 2>&1); rc=$?
check "a non-finite number is refused" "[ $rc -eq 2 ] && grep -q -- \"--temperature: 'nan' is not a number\" <<<\"\$out\""
out=$("$AHA" gen-coldstart --out 2>&1); rc=$?
check "an option without its value" "[ $rc -eq 2 ] && grep -q -- '--out needs a value' <<<\"\$out\""
out=$("$AHA" sample --samples "$tmp/s.jsonl" --checkpoint "$tmp/nope" 2>&1); rc=$?
check "an option of another command is unknown" "[ $rc -eq 2 ] && grep -q -- \"unknown option '--samples' (see --help)\" <<<\"\$out\""

# 2. a short pretraining run
run="$tmp/run"
pre=(--set run_dir="$run" --set pretrain.steps=60 --set pretrain.batch_size=16
     --set pretrain.log_every=5 --set pretrain.checkpoint_every=20 --set pretrain.warmup=5
     --set model.dim=32 --set model.moe_hidden=32 --set eval.n=5 --set eval.k=2)
"$AHA" pretrain "${pre[@]}" > "$tmp/log" 2>&1
rc=$?
check "pretrain exits 0" "[ $rc -eq 0 ]" || cat "$tmp/log"
check "metrics rows written" "[ \$(wc -l < \"$run/pretrain/metrics.jsonl\") -ge 12 ]"
check "final checkpoint" "[ -s \"$run/pretrain/final/model.safetensors\" ] && [ -s \"$run/pretrain/final/config.json\" ]"
check "periodic checkpoint" "[ -s \"$run/pretrain/checkpoint/model.safetensors\" ]"
check "eval.json written" "grep -q 'pass@1' \"$run/pretrain/final/eval.json\""
check_loss_drops "loss decreases" "$run/pretrain/metrics.jsonl" 0.8
# 3. cached: same config reuses the checkpoint
"$AHA" pretrain "${pre[@]}" --cached-ok > "$tmp/log2" 2>&1
check "cached pretrain is reused" "grep -q reusing \"$tmp/log2\""
"$AHA" pretrain "${pre[@]}" --set rl.steps=7 --cached-ok > "$tmp/log2b" 2>&1
check "...also when only rl.* changed" "grep -q reusing \"$tmp/log2b\""
cp -r "$run/pretrain" "$tmp/pretrain.keep"
"$AHA" pretrain "${pre[@]}" --set seed=2 --cached-ok > "$tmp/log2c" 2>&1
check "...but not when the seed changed" "! grep -q reusing \"$tmp/log2c\""
rm -rf "$run/pretrain" && mv "$tmp/pretrain.keep" "$run/pretrain"
# 3b. exact resume of pretraining: continue the copied run from its step-40 checkpoint
mkdir -p "$tmp/pre2" && cp -r "$run/pretrain" "$tmp/pre2/" && rm -rf "$tmp/pre2/pretrain/final"
"$AHA" pretrain --set run_dir="$tmp/pre2" --set pretrain.steps=60 --set pretrain.batch_size=16 \
  --set pretrain.log_every=5 --set pretrain.checkpoint_every=20 --set pretrain.warmup=5 \
  --set model.dim=32 --set model.moe_hidden=32 --set eval.n=5 --set eval.k=2 --resume > "$tmp/log3" 2>&1
rc=$?
check "pretrain --resume runs from step 40" "[ $rc -eq 0 ] && grep -q 'resuming from .* at step 40' \"$tmp/log3\"" || tail -5 "$tmp/log3"
check "resumed pretraining is bit-identical" "cmp -s \"$run/pretrain/final/model.safetensors\" \"$tmp/pre2/pretrain/final/model.safetensors\" && cmp -s \"$run/pretrain/final/optimizer.safetensors\" \"$tmp/pre2/pretrain/final/optimizer.safetensors\""
check "resumed pretraining metrics match" "diff <(sed 's/\"tokens_per_s.*//' \"$run/pretrain/metrics.jsonl\") <(sed 's/\"tokens_per_s.*//' \"$tmp/pre2/pretrain/metrics.jsonl\") > /dev/null"
# 4. eval and sample on the checkpoint
check "eval runs" "\"$AHA\" eval --checkpoint \"$run/pretrain/final\" --n 3 --k 2 --out \"$tmp/e.json\" >/dev/null && grep -q 'cons@k' \"$tmp/e.json\""
out=$("$AHA" eval --checkpoint "$tmp/nope" 2>&1); rc=$?
check "eval of a missing checkpoint fails clearly" "[ $rc -ne 0 ] && grep -q nope <<<\"\$out\""
# 5. a short GRPO run on the small checkpoint, then plots
"$AHA" train --set run_dir="$run" --set model.dim=32 --set model.moe_hidden=32 --set rl.steps=4 \
  --set rl.prompts_per_step=4 --set rl.group_size=4 --set rl.eval_every=2 --set rl.eval_n=5 \
  --set rl.epochs=2 --set rl.minibatches=2 > "$tmp/train.log" 2>&1
rc=$?
check "train exits 0" "[ $rc -eq 0 ]" || tail -5 "$tmp/train.log"
has_keys() { # FILE KEY... : every key appears in the file's last row
  local last; last=$(tail -n 1 "$1"); shift
  for k in "$@"; do grep -q "\"$k\":" <<<"$last" || { echo "missing metric $k"; return 1; }; done
}
check "train metrics have the documented keys (docs/rl.md)" "grep -q '\"policy_version\":4' \"$run/rl/metrics.jsonl\" && has_keys \"$run/rl/metrics.jsonl\" step policy_version reward_mean accuracy format_rate response_len_mean kl entropy clip_frac zero_std_frac staleness_mean tokens_per_s learner_busy_frac"
check "trained checkpoint" "[ -s \"$run/rl/final/model.safetensors\" ]"
check "plot writes PNGs" "\"$AHA\" plot \"$run\" > /dev/null && [ -s \"$run/rl/reward.png\" ] && [ -s \"$run/pretrain/loss.png\" ]"
cp "$run/rl/metrics.jsonl" "$tmp/before.jsonl"; cp "$run/rl/config.yaml" "$tmp/before.yaml"
out=$("$AHA" train --set rl.loss=ppo9 --set run_dir="$run" 2>&1); rc=$?
check "unknown loss is a clear error" "[ $rc -ne 0 ] && grep -q ppo9 <<<\"\$out\""
out=$("$AHA" train --set rl.language_charset=digits+emoji --set run_dir="$run" 2>&1); rc=$?
check "bad language charset is a clear error" "[ $rc -ne 0 ] && grep -q 'rl.language_charset.*emoji' <<<\"\$out\""
check "config errors leave the run directory untouched" "cmp -s \"$run/rl/metrics.jsonl\" \"$tmp/before.jsonl\" && cmp -s \"$run/rl/config.yaml\" \"$tmp/before.yaml\""
# 5b. exact resume: 4 steps straight == 2 steps, stop, --resume for 2 more (model, optimizer, metrics)
rs=(--set run_dir="$run" --set model.dim=32 --set model.moe_hidden=32 --set rl.steps=4 --set rl.checkpoint_every=2
    --set rl.prompts_per_step=3 --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2 --set rl.epochs=2
    --set rl.minibatches=2 --set rl.beta=0.01)
"$AHA" train "${rs[@]}" > "$tmp/rs1.log" 2>&1 && cp -r "$run/rl/final" "$tmp/straight" &&
  cp "$run/rl/metrics.jsonl" "$tmp/straight.jsonl" && rm -rf "$run/rl/final" &&
  "$AHA" train "${rs[@]}" --resume > "$tmp/rs2.log" 2>&1
rc=$?
check "resume runs" "[ $rc -eq 0 ] && grep -q 'resuming from' \"$tmp/rs2.log\"" || tail -5 "$tmp/rs2.log"
check "resumed weights are bit-identical" "cmp -s \"$tmp/straight/model.safetensors\" \"$run/rl/final/model.safetensors\""
check "resumed optimizer is bit-identical" "cmp -s \"$tmp/straight/optimizer.safetensors\" \"$run/rl/final/optimizer.safetensors\""
check "resumed metrics continue the run" "[ \$(grep -c '\"reward_mean\"' \"$run/rl/metrics.jsonl\") -eq 4 ] && diff <(sed 's/\"tokens_per_s.*//' \"$tmp/straight.jsonl\") <(sed 's/\"tokens_per_s.*//' \"$run/rl/metrics.jsonl\") > /dev/null"
out=$("$AHA" train --set run_dir="$tmp/nothing" --set rl.init="$run/pretrain/final" --resume 2>&1); rc=$?
check "resume without a checkpoint fails clearly" "[ $rc -ne 0 ] && grep -q state.json <<<\"\$out\""

# 6. the R1-Zero template end to end (long prompts), and DAPO with dynamic sampling + overlong shaping
r1="$tmp/r1zero"
small=(--set run_dir="$r1" --set task.template=r1zero --set model.max_seq_len=512 --set model.dim=32 --set model.moe_hidden=32)
"$AHA" pretrain "${small[@]}" --set pretrain.steps=10 --set pretrain.batch_size=8 --set eval.n=2 --set eval.k=2 > "$tmp/r1.log" 2>&1 &&
"$AHA" train "${small[@]}" --set rl.steps=2 --set rl.prompts_per_step=2 --set rl.group_size=4 --set rl.eval_n=2 \
  --set rl.loss=dapo --set rl.eps_high=0.28 --set rl.dynamic_sampling=true --set rl.max_resample_rounds=2 \
  --set rl.w_overlong=1 >> "$tmp/r1.log" 2>&1
rc=$?
check "r1zero template + dapo with dynamic sampling run" "[ $rc -eq 0 ] && [ -s \"$r1/rl/final/model.safetensors\" ]" || tail -5 "$tmp/r1.log"
check "dynamic sampling reports the groups it kept" "has_keys \"$r1/rl/metrics.jsonl\" groups_used zero_std_frac reward_overlong"
cp "$r1/rl/metrics.jsonl" "$tmp/r1.jsonl"
out=$("$AHA" train --set task.template=chatml --set run_dir="$r1" 2>&1); rc=$?
check "unknown template is a clear error" "[ $rc -ne 0 ] && grep -q task.template <<<\"\$out\""
check "...and leaves the run untouched" "cmp -s \"$r1/rl/metrics.jsonl\" \"$tmp/r1.jsonl\""

# 7. a verifier worker process: starts without a broker (ZeroMQ connects lazily), stops on SIGTERM
"$AHA" verifier --connect tcp://127.0.0.1:9 --set rl.w_language=0.1 > "$tmp/verifier.log" 2>&1 &
vpid=$!
sleep 0.5
kill -TERM $vpid
for _ in $(seq 50); do kill -0 $vpid 2>/dev/null || break; sleep 0.1; done
wait $vpid; rc=$?
check "verifier stops cleanly on SIGTERM" "[ $rc -eq 0 ] && grep -q 'verifier rules@1: 0 groups' \"$tmp/verifier.log\"" || cat "$tmp/verifier.log"
out=$("$AHA" verifier --connect tcp://127.0.0.1:9 --set rl.language_charset=klingon 2>&1); rc=$?
check "verifier rejects a bad reward config" "[ $rc -ne 0 ] && grep -q rl.language_charset <<<\"\$out\""
# 8. verifiers as separate processes: same weights as scoring in process; a verifier killed with
# SIGKILL and another frozen with SIGSTOP cost a deadline each, and the run's weights do not change
vp=(--set rl.init="$run/pretrain/final" --set model.dim=32 --set model.moe_hidden=32 --set rl.steps=200
    --set rl.prompts_per_step=3 --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2
    --set rl.verifier_deadline_ms=500)
"$AHA" train --set run_dir="$tmp/v0" "${vp[@]}" --set rl.verifiers=0 > "$tmp/v0.log" 2>&1
# disrupt NAME KIND [--set ...]: trains $tmp/NAME with vp and the options in the background,
# SIGKILLs the first and SIGSTOPs the third of its KIND (actor, verifier) processes once they are
# ready; rc = the run's exit code, victims = their pids; left counts the victims still alive
disrupt() {
  local name=$1 kind=$2
  shift 2
  "$AHA" train --set run_dir="$tmp/$name" "${vp[@]}" "$@" > "$tmp/$name.log" 2>&1 &
  local tp=$!
  for _ in $(seq 400); do grep -q "$kind processes ready" "$tmp/$name.log" && break; sleep 0.05; done
  victims=($(pgrep -P $tp -f "$kind --connect"))
  kill -KILL "${victims[0]}"; kill -STOP "${victims[2]}"
  wait $tp; rc=$?
}
left() { alive=0; for v in "${victims[@]}"; do kill -0 "$v" 2>/dev/null && alive=$((alive + 1)); done; }
disrupt v3 verifier --set rl.verifiers=3
check "training survives a killed and a frozen verifier" "[ $rc -eq 0 ] && grep -Eq 'verifier_lost\":[1-9]' \"$tmp/v3/rl/metrics.jsonl\"" || grep -E 'WARN|ERROR' "$tmp/v3.log" | head -5
check "...with the weights of in-process scoring" "cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/v3/rl/final/model.safetensors\""
left
check "...and no verifier process left behind ($alive alive)" "[ $alive -eq 0 ]"
# 9. actors as separate processes (with the verifier processes of the default config): same
# weights as sampling in the learner; a killed and a frozen actor lose their leases to the others
"$AHA" train --set run_dir="$tmp/a2" "${vp[@]}" --set rl.actors=2 > "$tmp/a2.log" 2>&1; rc=$?
check "2 actors + 2 verifiers: same weights as one process" "[ $rc -eq 0 ] && cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/a2/rl/final/model.safetensors\" && grep -q 'actor_groups\":600' \"$tmp/a2/rl/metrics.jsonl\"" || grep -E 'WARN|ERROR|aha:' "$tmp/a2.log" | head -5
disrupt a3 actor --set rl.actors=3 --set rl.lease_ms=300
check "training survives a killed and a frozen actor, same weights" "[ $rc -eq 0 ] && grep -Eq 'actor_leases_reissued\":[1-9]' \"$tmp/a3/rl/metrics.jsonl\" && cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/a3/rl/final/model.safetensors\"" || grep -E 'WARN|ERROR|aha:' "$tmp/a3.log" | head -5
left
check "...and no actor process left behind ($alive alive)" "[ $alive -eq 0 ]"
# 10. CURVE: keygen, an encrypted run with an actor and a verifier gives the same weights;
# binding beyond loopback without keys is refused
check "keygen writes two key files" "\"$AHA\" keygen \"$tmp/keys\" > /dev/null && [ -s \"$tmp/keys/server.key\" ] && [ -s \"$tmp/keys/client.key\" ]"
out=$("$AHA" keygen "$tmp/keys" 2>&1); rc=$?
check "keygen never overwrites" "[ $rc -ne 0 ] && grep -q 'never overwritten' <<<\"\$out\""
"$AHA" train --set run_dir="$tmp/c1" "${vp[@]}" --set rl.actors=1 --set rl.verifiers=1 --set net.keys="$tmp/keys" > "$tmp/c1.log" 2>&1; rc=$?
check "CURVE run: same weights" "[ $rc -eq 0 ] && cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/c1/rl/final/model.safetensors\" && grep -q 'actor_groups\":600' \"$tmp/c1/rl/metrics.jsonl\" && grep -q 'verifier_groups_remote\":600' \"$tmp/c1/rl/metrics.jsonl\"" || grep -E 'WARN|ERROR|aha:' "$tmp/c1.log" | head -5
out=$("$AHA" train --set run_dir="$tmp/c2" "${vp[@]}" --set net.host=0.0.0.0 2>&1); rc=$?
check "no keys beyond loopback is a config error" "[ $rc -ne 0 ] && grep -q 'net.keys' <<<\"\$out\""
# 11. workers started elsewhere (as on other Slurm nodes): they wait for RUN_DIR/rl/endpoints.json
# of a learner with net.serve, read its config.yaml beside it, join, and stop with the run
"$AHA" actor --endpoints-file "$tmp/rw/rl/endpoints.json" --name remote-a > "$tmp/rwa.log" 2>&1 &
ra=$!
"$AHA" verifier --endpoints-file "$tmp/rw/rl/endpoints.json" --name remote-v > "$tmp/rwv.log" 2>&1 &
rv=$!
"$AHA" train --set run_dir="$tmp/rw" "${vp[@]}" --set rl.actors=0 --set rl.verifiers=0 --set net.serve=true --set rl.lease_ms=5000 > "$tmp/rw.log" 2>&1; rc=$?
wait $ra; rca=$?; wait $rv; rcv=$?
check "remote actor + verifier: same weights, both exit 0" "[ $rc -eq 0 ] && [ $rca -eq 0 ] && [ $rcv -eq 0 ] && cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/rw/rl/final/model.safetensors\"" || tail -3 "$tmp/rw.log" "$tmp/rwa.log" "$tmp/rwv.log"
check "...and they did the work" "grep -Eq 'actor_groups\":[1-9]' \"$tmp/rw/rl/metrics.jsonl\" && grep -Eq 'verifier_groups_remote\":[1-9]' \"$tmp/rw/rl/metrics.jsonl\""
# 12. a user verifier command (rl.verifier_exec) decides accuracy, sandboxed: the same weights
# whether the learner or verifier processes run it; one that hangs only costs its deadline
judge='while read -r l; do case "$l" in *"\"answer\":null"*) echo 0;; *) echo 1;; esac; done'
ex=("${vp[@]}" --set rl.steps=20 --set rl.actors=0 --set "rl.verifier_exec=$judge")
"$AHA" train --set run_dir="$tmp/ex0" "${ex[@]}" --set rl.verifiers=0 > "$tmp/ex0.log" 2>&1; rc0=$?
"$AHA" train --set run_dir="$tmp/ex2" "${ex[@]}" --set rl.verifiers=2 > "$tmp/ex2.log" 2>&1; rc2=$?
check "verifier_exec: same weights in the learner and in verifier processes" "[ $rc0 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s \"$tmp/ex0/rl/final/model.safetensors\" \"$tmp/ex2/rl/final/model.safetensors\"" || tail -3 "$tmp/ex2.log"
start=$(date +%s)
"$AHA" train --set run_dir="$tmp/hang" "${vp[@]}" --set rl.steps=3 --set rl.actors=0 --set rl.verifiers=2 \
  --set "rl.verifier_exec=sleep 30" --set rl.verifier_exec_deadline_ms=200 > "$tmp/hang.log" 2>&1; rc=$?
took=$(( $(date +%s) - start ))
check "a hanging verifier command costs its deadline, not the run (${took}s)" "[ $rc -eq 0 ] && [ $took -lt 60 ] && grep -q 'deadline passed' \"$tmp/hang.log\""
# 13. swap verifiers while the run goes on: a new version joins, `aha ctl verifier-use` retires
# the old ones (they exit), the run finishes with the new one and the same weights
"$AHA" train --set run_dir="$tmp/sw" "${vp[@]}" --set net.serve=true > "$tmp/sw.log" 2>&1 &
tp=$!
for _ in $(seq 400); do [ -f "$tmp/sw/rl/endpoints.json" ] && break; sleep 0.05; done
"$AHA" verifier --endpoints-file "$tmp/sw/rl/endpoints.json" --name rules-new --version 2 > "$tmp/swv.log" 2>&1 &
nv=$!
for _ in $(seq 200); do "$AHA" ctl "$tmp/sw" status 2>/dev/null | grep -q 'rules-new@2 *live' && break; sleep 0.05; done
status=$("$AHA" ctl "$tmp/sw" status 2>&1)
check "aha ctl status lists actors and verifiers" "grep -q 'actors (2 joined)' <<<\"\$status\" && grep -q 'rules-new@2' <<<\"\$status\""
out=$("$AHA" ctl "$tmp/sw" verifier-use rules-new@2 2>&1); rc=$?
check "verifier-use retires the old verifiers" "[ $rc -eq 0 ] && grep -q 'retired:.*rules-0@1' <<<\"\$out\" && grep -q 'retired:.*rules-1@1' <<<\"\$out\"" || echo "$out"
out=$("$AHA" ctl "$tmp/sw" verifier-use nobody@9 2>&1); rc=$?
check "verifier-use of an unknown verifier is refused" "[ $rc -eq 1 ] && grep -q 'no live verifier' <<<\"\$out\""
wait $tp; rc=$?; wait $nv; rcn=$?
check "the run ends with the new verifier and the same weights" "[ $rc -eq 0 ] && [ $rcn -eq 0 ] && cmp -s \"$tmp/v0/rl/final/model.safetensors\" \"$tmp/sw/rl/final/model.safetensors\" && grep -q 'rules-new@2: [1-9][0-9]* groups' \"$tmp/swv.log\"" || tail -3 "$tmp/sw.log"
exit $fail
