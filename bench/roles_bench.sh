#!/usr/bin/env bash
# Cost of running the roles as separate processes: GRPO steps of the demo config with actors and
# verifiers in the learner process vs as 2 local processes each, from the same base, measured in
# this run (machines differ; only the ratios mean something). Also checks that every variant ends
# with the same weights.   bash bench/roles_bench.sh [STEPS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
AHA=${AHA:-${BUILD:-build}/aha}
CFG=configs/demo.yaml
STEPS=${1:-20}
OUT=runs/roles_bench
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$OUT"
"$AHA" pretrain "$CFG" --cached-ok > "$OUT/pretrain.log" 2>&1 || { tail "$OUT/pretrain.log" >&2; exit 1; }
BASE=$(sed -n 's/^run_dir: *//p' "$CFG")/pretrain/final
base_s=""
printf '%-22s %9s %9s  %s\n' "actors/verifiers" "seconds" "ratio" "weights"
for av in "0 0" "2 0" "0 2" "2 2"; do
  set -- $av
  dir="$OUT/a$1v$2"
  start=$(date +%s%N)
  "$AHA" train "$CFG" --set run_dir="$dir" --set rl.init="$BASE" --set rl.steps="$STEPS" \
    --set rl.eval_every=0 --set rl.eval_n=20 --set rl.actors="$1" --set rl.verifiers="$2" \
    > "$dir.log" 2>&1 || { echo "failed: see $dir.log" >&2; exit 1; }
  s=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  [ -n "$base_s" ] || base_s=$s
  same="same"
  cmp -s "$OUT/a0v0/rl/final/model.safetensors" "$dir/rl/final/model.safetensors" || same="DIFFERENT"
  printf '%-22s %9.2f %8.2fx  %s\n' "$1 / $2" "$s" "$(awk -v a="$s" -v b="$base_s" 'BEGIN { print a / b }')" "$same"
done
