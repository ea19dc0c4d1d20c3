#!/usr/bin/env bash
# Parallel scoring: GRPO steps of a small model whose accuracy comes from a user verifier command
# that sleeps 50 ms per group (rl.verifier_exec), scored by 1 and by 4 verifier processes. Scoring
# throughput = groups scored / seconds spent scoring (the score_s column of metrics.jsonl: all the
# groups of a wave are in flight at once, learner/broker.h). Prints both and their ratio, measured
# in this run; also checks both runs end with the same weights.
#   bash bench/score_bench.sh [STEPS]   (default 4; 16 groups of 8 per step)
set -euo pipefail
# shellcheck source=deploy/env.sh
. "$(dirname "$0")/../deploy/env.sh"
STEPS=${1:-4}
OUT=${OUT:-runs/score_bench}
SMALL=(--set model.dim=32 --set model.moe_hidden=32 --set eval.n=5 --set eval.k=2)
mkdir -p "$OUT"
"$AHA" pretrain --set run_dir="$OUT/base" --set pretrain.steps=60 --set pretrain.batch_size=16 \
  --set pretrain.warmup=5 "${SMALL[@]}" --cached-ok > "$OUT/pretrain.log" 2>&1 ||
  { tail "$OUT/pretrain.log" >&2; exit 1; }
CMD="sleep 0.05; awk '{ print (\$0 ~ /\"answer\":null/) ? 0 : 1 }'"
printf '%-10s %8s %10s %12s\n' verifiers groups score_s "groups/s"
declare -A rate
for v in 1 4; do
  dir="$OUT/v$v"
  rm -rf "$dir"
  "$AHA" train --set run_dir="$dir" --set rl.init="$OUT/base/pretrain/final" \
    --set rl.steps="$STEPS" --set rl.eval_every=0 --set rl.prompts_per_step=16 \
    --set rl.group_size=8 --set rl.actors=0 --set rl.verifiers="$v" \
    --set rl.verifier_exec="$CMD" "${SMALL[@]}" > "$dir.log" 2>&1 ||
    { echo "failed: see $dir.log" >&2; exit 1; }
  read -r groups secs < <(awk '{
      match($0, /"verifier_groups_remote":[0-9.e+-]+/); g = substr($0, RSTART + 25, RLENGTH - 25)
      match($0, /"score_s":[0-9.e+-]+/); s += substr($0, RSTART + 10, RLENGTH - 10) }
      END { print g, s }' "$dir/rl/metrics.jsonl")
  rate[$v]=$(awk -v g="$groups" -v s="$secs" 'BEGIN { printf "%.2f", g / s }')
  printf '%-10s %8d %10.3f %12s\n' "$v" "$groups" "$secs" "${rate[$v]}"
done
same=same
cmp -s "$OUT/v1/rl/final/model.safetensors" "$OUT/v4/rl/final/model.safetensors" || same=DIFFERENT
echo "scoring throughput 4 verifiers / 1 verifier: $(awk -v a="${rate[4]}" -v b="${rate[1]}" \
  'BEGIN { printf "%.2f", a / b }')x (weights: $same)"
