#!/usr/bin/env bash
# What an actor does with a second core: its generation is one thread (aha_generate, 1 OpenBLAS
# thread), so a machine's second core takes a second actor process. Runs N copies of
# `model_bench generate` (aha_generate of NGROUPS groups of G samples per call, prompts shared)
# at once and sums their groups/s, for N = 1 and 2, alternated ROUNDS times; prints each round
# and the best aggregate of each N (the machine is shared: compare the two in the same run).
#   bash bench/actors_bench.sh [ROUNDS] [G] [NGROUPS]   (defaults 3, 8, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${1:-3} G=${2:-8} NGROUPS=${3:-1}
cmake --build "$BUILD" --target model_bench > /dev/null
export OPENBLAS_NUM_THREADS=1
run() { # N -> aggregate groups/s of N concurrent processes
    local n=$1 i out=() tmp
    tmp=$(mktemp -d)
    for i in $(seq "$n"); do
        "$BUILD/model_bench" generate default "$G" 40 40 20 "$NGROUPS" > "$tmp/$i" &
    done
    wait
    cat "$tmp"/* | awk '/^shared_groups_per_s/ { s += $2 } END { printf "%.1f", s }'
    rm -rf "$tmp"
}
best1=0 best2=0
for r in $(seq "$ROUNDS"); do
    a=$(run 1) b=$(run 2)
    echo "round $r: 1 actor $a groups/s, 2 actors $b groups/s ($(uptime | sed 's/.*load average: //'))"
    best1=$(awk -v x="$a" -v y="$best1" 'BEGIN { print (x > y ? x : y) }')
    best2=$(awk -v x="$b" -v y="$best2" 'BEGIN { print (x > y ? x : y) }')
done
echo "best: 1 actor $best1 groups/s, 2 actors $best2 groups/s, ratio $(awk -v a="$best2" -v b="$best1" 'BEGIN { printf "%.2f", a / b }')"
