#!/bin/bash
# recipe_mpi: a recipe stage with learner ranks (docs/r1.md). The stage's command from
# `aha pipeline R --dry-run --only STAGE`, run by hand under `mpirun -np 2`, is data parallel and
# leaves a finished stage: the pipeline then skips it, and its final weights equal, within float
# tolerance (the split changes the gradient's summation order), those of the same stage that the
# pipeline ran in one process.
# Usage: recipe_mpi.sh AHA_BINARY. Exit 77 (skipped) without mpirun.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
mpi_test_begin "$1"
cat > "$tmp/r.yaml" <<YAML
run_dir: $tmp/run
set: [model.dim=32, model.moe_hidden=32, eval.n=5, eval.k=2, pretrain.batch_size=16,
      pretrain.steps=20]
stages:
  - name: base
    command: pretrain
    outputs: [pretrain/final/pretrain_key.yaml]
  - name: zero
    command: train
    set: ["rl.init=@{base}/pretrain/final", rl.steps=3, rl.eval_every=0, rl.eval_n=8,
          rl.prompts_per_step=4]
    outputs: [rl/final/state.json]
YAML
# the reference: the whole pipeline in one process
"$AHA" pipeline "$tmp/r.yaml" --run-dir "$tmp/ref" > "$tmp/ref.log" 2>&1
check "reference pipeline runs both stages" "grep -q '2 stages run, 0 skipped' \"$tmp/ref.log\"" ||
    cat "$tmp/ref.log"
# by hand: the base through the pipeline, the RL stage's own command under mpirun
"$AHA" pipeline "$tmp/r.yaml" --only base > "$tmp/base.log" 2>&1
line=$("$AHA" pipeline "$tmp/r.yaml" --dry-run --only zero | sed -n 's/^\[pipeline\] zero *would run: //p')
read -r -a cmd <<< "$line"
check "--dry-run --only zero prints the stage's aha command" \
    "[ \"\${cmd[0]:-}\" = aha ] && [ \"\${cmd[1]:-}\" = train ]" || echo "$line"
bash "$here/mpi_run.sh" 2 "$AHA" "${cmd[@]:1}" > "$tmp/mpi.log" 2>&1
check "the stage runs under mpirun -np 2, data parallel" \
    "grep -q 'data-parallel learner: rank 1 of 2' \"$tmp/mpi.log\"" || tail -n 20 "$tmp/mpi.log"
"$AHA" pipeline "$tmp/r.yaml" > "$tmp/rerun.log" 2>&1
check "the pipeline then skips both stages" \
    "grep -q 'zero .*done (outputs exist): skipped' \"$tmp/rerun.log\" && grep -q '0 stages run, 2 skipped' \"$tmp/rerun.log\"" ||
    cat "$tmp/rerun.log"
check "2-rank stage weights equal the one-process pipeline's" \
    "/usr/bin/python3 \"$here/st_compare.py\" \"$tmp/ref/zero/rl/final/model.safetensors\" \"$tmp/run/zero/rl/final/model.safetensors\" 1e-4"
exit $fail
