#!/bin/bash
# mpi_train: `mpirun -np 2 aha train` (data-parallel learner, docs/mpi.md) on a tiny run completes,
# only rank 0 writes metrics, and its final weights equal the singleton's within float tolerance
# (the split changes the summation order of the gradient, nothing else), also with
# learner.expert_parallel; a 2-rank --resume from the step-2 checkpoint ends with the same bytes
# as the uninterrupted 2-rank run.
# Usage: mpi_train.sh AHA_BINARY. Exit 77 (skipped) without mpirun.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
mpi_test_begin "$1"
train=(--set rl.steps=4 --set rl.eval_every=0 --set rl.eval_n=16 --set rl.actors=0
       --set rl.verifiers=0 --set rl.checkpoint_every=2)
"$AHA" pretrain --set run_dir="$tmp/one" --set pretrain.steps=20 >"$tmp/pretrain.log" 2>&1
mkdir -p "$tmp/two"
cp -r "$tmp/one/pretrain" "$tmp/two/"
"$AHA" train --set run_dir="$tmp/one" "${train[@]}" >"$tmp/one.log" 2>&1
bash "$here/mpi_run.sh" 2 "$AHA" train --set run_dir="$tmp/two" "${train[@]}" >"$tmp/two.log" 2>&1 || {
    cat "$tmp/two.log"
    echo "FAIL: mpirun -np 2 aha train"
    exit 1
}
grep -q "data-parallel learner: rank 1 of 2" "$tmp/two.log" || {
    cat "$tmp/two.log"
    echo "FAIL: the run was not data parallel"
    exit 1
}
n1=$(grep -c '"loss"' "$tmp/one/rl/metrics.jsonl")
n2=$(grep -c '"loss"' "$tmp/two/rl/metrics.jsonl")
[ "$n1" = 4 ] && [ "$n2" = 4 ] || {
    echo "FAIL: metrics rows with a loss: $n1 (1 rank) vs $n2 (2 ranks), expected 4"
    exit 1
}
/usr/bin/python3 "$here/st_compare.py" "$tmp/one/rl/final/model.safetensors" \
    "$tmp/two/rl/final/model.safetensors" 1e-4 || {
    echo "FAIL: 2-rank final weights differ from the singleton's"
    exit 1
}
# expert parallel (learner.expert_parallel): the same run with the routed experts split over the
# ranks ends within the same tolerance of the singleton
mkdir -p "$tmp/ep" && cp -r "$tmp/one/pretrain" "$tmp/ep/"
bash "$here/mpi_run.sh" 2 "$AHA" train --set run_dir="$tmp/ep" "${train[@]}" \
    --set learner.expert_parallel=true >"$tmp/ep.log" 2>&1 || {
    cat "$tmp/ep.log"
    echo "FAIL: mpirun -np 2 aha train --set learner.expert_parallel=true"
    exit 1
}
grep -q "routed experts split over the ranks" "$tmp/ep.log" || {
    cat "$tmp/ep.log"
    echo "FAIL: the run was not expert parallel"
    exit 1
}
/usr/bin/python3 "$here/st_compare.py" "$tmp/one/rl/final/model.safetensors" \
    "$tmp/ep/rl/final/model.safetensors" 1e-4 || {
    echo "FAIL: 2-rank expert-parallel final weights differ from the singleton's"
    exit 1
}
cp "$tmp/two/rl/final/model.safetensors" "$tmp/two_final.safetensors"
bash "$here/mpi_run.sh" 2 "$AHA" train --set run_dir="$tmp/two" "${train[@]}" --resume \
    >"$tmp/resume.log" 2>&1 || {
    cat "$tmp/resume.log"
    echo "FAIL: mpirun -np 2 aha train --resume"
    exit 1
}
grep -q "resuming from .* at step 2" "$tmp/resume.log" || {
    cat "$tmp/resume.log"
    echo "FAIL: the 2-rank run did not resume at step 2"
    exit 1
}
cmp -s "$tmp/two_final.safetensors" "$tmp/two/rl/final/model.safetensors" || {
    echo "FAIL: 2-rank resume is not bit-exact"
    exit 1
}
echo "ok: 2-rank aha train (experts replicated or split) matches the singleton; 2-rank resume is bit-exact"
