#!/bin/bash
# mpi_bench.sh [STEPS]: learner step throughput of the data-parallel learner, 1 process vs 2 MPI
# ranks (experts replicated, then split: learner.expert_parallel) in one run (docs/mpi.md), on the
# GRPO-sized config. Builds learner_dp_bench.
set -euo pipefail
BUILD=${BUILD:-build}
steps=${1:-5}
cmake --build "$BUILD" --target learner_dp_bench -j 2 >/dev/null
here=$(cd "$(dirname "$0")" && pwd)
export OPENBLAS_NUM_THREADS=1
one=$("$BUILD/learner_dp_bench" "$steps")
two=$(bash "$here/../tests/mpi_run.sh" 2 "$BUILD/learner_dp_bench" "$steps")
ep=$(bash "$here/../tests/mpi_run.sh" 2 "$BUILD/learner_dp_bench" "$steps" ep)
echo "$one"
echo "$two"
echo "$ep"
t1=$(echo "$one" | sed -nE 's/.*step ([0-9.]+) ms.*/\1/p')
t2=$(echo "$two" | sed -nE 's/.*step ([0-9.]+) ms.*/\1/p')
t3=$(echo "$ep" | sed -nE 's/.*step ([0-9.]+) ms.*/\1/p')
awk -v a="$t1" -v b="$t2" -v c="$t3" -v n="$(nproc)" 'BEGIN { printf "speed-up 2 ranks / 1: %.2fx, expert parallel %.2fx (nproc %s)\n", a / b, a / c, n }'
