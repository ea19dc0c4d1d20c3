#!/usr/bin/env bash
# Cost / gain of running the roles as separate processes: GRPO steps of the demo config with
# actors and verifiers in the learner process vs as 2 local processes each, synchronous (k = 0)
# and with bounded staleness rl.max_staleness k = 1 (actors sample the next step while the
# learner trains), from the same base, measured in this run (machines differ; only the ratios
# mean something). learner_busy_frac is the mean over the steps of update time / step time.
# Also checks that every variant ends with the same weights as the in-process run of its k.
#   bash bench/roles_bench.sh [STEPS]   (default 20)
set -euo pipefail
# shellcheck source=deploy/env.sh
. "$(dirname "$0")/../deploy/env.sh"
CFG=configs/demo.yaml
STEPS=${1:-20}
OUT=runs/roles_bench
mkdir -p "$OUT"
"$AHA" pretrain "$CFG" --cached-ok > "$OUT/pretrain.log" 2>&1 || { tail "$OUT/pretrain.log" >&2; exit 1; }
BASE=$(sed -n 's/^run_dir: *//p' "$CFG")/pretrain/final
declare -A secs
printf '%-26s %9s %9s %10s %10s  %s\n' "actors/verifiers/k" "seconds" "ratio" "steps/min" "busy_frac" "weights"
for avk in "0 0 0" "2 0 0" "0 2 0" "2 2 0" "0 0 1" "2 0 1" "2 2 1"; do
  set -- $avk
  dir="$OUT/a$1v$2k$3"
  start=$(date +%s%N)
  "$AHA" train "$CFG" --set run_dir="$dir" --set rl.init="$BASE" --set rl.steps="$STEPS" \
    --set rl.eval_every=0 --set rl.eval_n=20 --set rl.actors="$1" --set rl.verifiers="$2" \
    --set rl.max_staleness="$3" > "$dir.log" 2>&1 || { echo "failed: see $dir.log" >&2; exit 1; }
  s=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  secs[$1$2$3]=$s
  busy=$(grep -o '"learner_busy_frac":[0-9.e+-]*' "$dir/rl/metrics.jsonl" | cut -d: -f2 |
         awk '{ s += $1; n++ } END { printf "%.3f", s / n }')
  same="same"
  cmp -s "$OUT/a0v0k$3/rl/final/model.safetensors" "$dir/rl/final/model.safetensors" || same="DIFFERENT"
  printf '%-26s %9.2f %8.2fx %10.1f %10s  %s (vs a0v0k%s)\n' "$1 / $2 / $3" "$s" \
    "$(awk -v a="$s" -v b="${secs[000]}" 'BEGIN { print a / b }')" \
    "$(awk -v a="$s" -v n="$STEPS" 'BEGIN { print 60 * n / a }')" "$busy" "$same" "$3"
done
echo "steps/min, 2 actors: k=1 / k=0 = $(awk -v a="${secs[200]}" -v b="${secs[201]}" 'BEGIN { printf "%.2f", a / b }')x;" \
  "2 actors + 2 verifiers: $(awk -v a="${secs[220]}" -v b="${secs[221]}" 'BEGIN { printf "%.2f", a / b }')x"
