#!/usr/bin/env bash
# slurm_launch (integration): deploy/slurm/aha-train.sbatch run on one machine with stand-ins for
# srun and scontrol (3 "nodes": a learner, 2 actors and 1 verifier per worker node). The job must
# generate keys, pretrain, train with the remote workers doing the sampling and scoring over
# CURVE, and leave no worker behind.
set -u
AHA=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
cp "$here/slurm/fake-srun" "$tmp/bin/srun"
printf '#!/bin/sh\nprintf "node0\\nnode1\\nnode2\\n"\n' > "$tmp/bin/scontrol"
chmod +x "$tmp/bin/srun" "$tmp/bin/scontrol"
export PATH="$tmp/bin:$PATH" SLURM_JOB_NODELIST="node[0-2]" AHA OPENBLAS_NUM_THREADS=1
small=(--set run_dir="$tmp/run" --set model.dim=32 --set model.moe_hidden=32 --set pretrain.steps=20
       --set pretrain.batch_size=8 --set eval.n=2 --set eval.k=1 --set rl.steps=30
       --set rl.prompts_per_step=3 --set rl.group_size=4 --set rl.eval_every=0 --set rl.eval_n=2)
cd "$here/.."
timeout 300 bash deploy/slurm/aha-train.sbatch configs/demo.yaml "${small[@]}" > "$tmp/job.log" 2>&1
rc=$?
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
check "job exits 0" "[ $rc -eq 0 ]" || tail -20 "$tmp/job.log"
check "keys generated" "[ -s \"$tmp/run/keys/server.key\" ]"
check "trained checkpoint" "[ -s \"$tmp/run/rl/final/model.safetensors\" ]"
last=$(tail -n 1 "$tmp/run/rl/metrics.jsonl")
remote=$(sed 's/.*"verifier_groups_remote":\([0-9]*\).*/\1/' <<<"$last")
local_=$(sed 's/.*"verifier_groups_local":\([0-9]*\).*/\1/' <<<"$last")
sampled=$(sed 's/.*"actor_groups":\([0-9]*\).*/\1/' <<<"$last")
missing=$(sed 's/.*"actor_groups_missing":\([0-9]*\).*/\1/' <<<"$last")
check "remote actors sampled groups ($sampled by actors + $missing by the learner = 90)" "[ \"$sampled\" -ge 1 ] && [ \$((sampled + missing)) -eq 90 ]"
# groups sampled before the first verifier joined are scored by the learner (same rules)
check "remote verifiers scored groups ($remote remote + $local_ in the learner = 90)" "[ \"$remote\" -ge 1 ] && [ \$((remote + local_)) -eq 90 ]"
check "4 actors and 2 verifiers took part" "[ \$(grep -c 'groups sampled' \"$tmp/job.log\") -eq 4 ] && [ \$(grep -c 'samples scored' \"$tmp/job.log\") -eq 2 ]"
check "no worker left behind" "! pgrep -f \"endpoints-file $tmp/run\" > /dev/null"
exit $fail
