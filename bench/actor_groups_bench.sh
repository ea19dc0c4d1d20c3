#!/usr/bin/env bash
# Groups/s of one actor holding N groups (rl.actor_groups N): `model_bench generate` decodes N
# groups of G samples of a 40-token prompt, 40 new tokens, in one aha_generate call (1 OpenBLAS
# thread), for N = 1..MAXN, alternated ROUNDS times (each figure the best of REPS calls); prints
# each round (groups per wall second / per CPU-second of the thread, steadier on a loaded
# machine) with the load average, then the best of each N and its ratio to N = 1 (the machine may
# be shared: compare within one run).
#   bash bench/actor_groups_bench.sh [ROUNDS] [G] [MAXN] [PRESET] [REPS]
#   (defaults 3, 8, 4, default, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${1:-3} G=${2:-8} MAXN=${3:-4} PRESET=${4:-default} REPS=${5:-10}
cmake --build "$BUILD" --target model_bench > /dev/null
export OPENBLAS_NUM_THREADS=1
declare -A wall cpu
max() { awk -v x="$1" -v y="$2" 'BEGIN { print (x > y ? x : y) }'; }
for n in $(seq "$MAXN"); do wall[$n]=0 cpu[$n]=0; done
for r in $(seq "$ROUNDS"); do
    line="round $r (wall / cpu):"
    for n in $(seq "$MAXN"); do
        out=$("$BUILD/model_bench" generate "$PRESET" "$G" 40 40 "$REPS" "$n")
        w=$(awk '/^shared_groups_per_s/ { print $2 }' <<<"$out")
        c=$(awk '/^shared_groups_per_cpu_s/ { print $2 }' <<<"$out")
        line="$line  $n: $w / $c"
        wall[$n]=$(max "$w" "${wall[$n]}") cpu[$n]=$(max "$c" "${cpu[$n]}")
    done
    echo "$line groups/s (load $(uptime | sed 's/.*load average: //'))"
done
for k in wall cpu; do
    declare -n b=$k
    line="best $k ($PRESET, G $G):"
    for n in $(seq "$MAXN"); do
        line="$line  $n: ${b[$n]} ($(awk -v a="${b[$n]}" -v o="${b[1]}" 'BEGIN { printf "%.2fx", a / o }'))"
    done
    echo "$line"
done
