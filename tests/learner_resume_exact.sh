#!/bin/bash
# learner_resume_exact: 2 learner ranks (mpirun -np 2), fixed seed. 2N steps uninterrupted vs N
# steps, SIGKILL of rank 1, `--resume`, N more: the same model and optimizer-shard bytes
# (docs/mpi.md, Checkpoints). The checkpoint of the killed run also resumes on 1 and on 3 ranks
# (the optimizer re-sharded on load), equal to the 2-rank run within float tolerance, and a
# singleton's checkpoint (one optimizer.safetensors) resumes on 2 ranks.
# Usage: learner_resume_exact.sh AHA_BINARY. Exit 77 (skipped) without mpirun.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
mpi_test_begin "$1"
N=3
# a held-out eval after every step (rank 0 only) keeps the run alive long enough to be killed
# between steps; it does not change the training numbers
train=(--set rl.steps=$((2 * N)) --set rl.checkpoint_every=$N --set rl.eval_every=1
       --set rl.eval_n=48 --set rl.actors=0 --set rl.verifiers=0)
"$AHA" pretrain --set run_dir="$tmp/a" --set pretrain.steps=20 >"$tmp/pretrain.log" 2>&1 ||
    { cat "$tmp/pretrain.log"; exit 1; }
for r in b one three single two_of_single; do mkdir -p "$tmp/$r" && cp -r "$tmp/a/pretrain" "$tmp/$r/"; done
mpi() { bash "$here/mpi_run.sh" "$@"; }

mpi 2 "$AHA" train --set run_dir="$tmp/a" "${train[@]}" >"$tmp/a.log" 2>&1
check "uninterrupted 2-rank run of $((2 * N)) steps" "[ -f $tmp/a/rl/final/model.safetensors ]" ||
    tail -20 "$tmp/a.log"

# the same run, rank 1 SIGKILLed once step N's checkpoint is in place (row N + 1 written)
mpi 2 "$AHA" train --set run_dir="$tmp/b" "${train[@]}" >"$tmp/b.log" 2>&1 &
launcher=$!
rows() {
    local n
    n=$(grep -c '"loss"' "$tmp/b/rl/metrics.jsonl" 2>/dev/null)
    echo "${n:-0}"
}
rank1=""
while kill -0 $launcher 2>/dev/null; do
    if [ "$(rows)" -ge $((N + 1)) ]; then
        for p in $(pgrep -f -- "run_dir=$tmp/b"); do
            if [ "$(readlink -f /proc/$p/exe 2>/dev/null)" = "$AHA" ] &&
                tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
                rank1=$p
            fi
        done
        [ -n "$rank1" ] && kill -KILL "$rank1"
        break
    fi
    sleep 0.01
done
wait $launcher
rc=$?
check "rank 1 ($rank1) SIGKILLed after step $N's checkpoint: the run fails (rc $rc), no final" \
    "[ -n '$rank1' ] && [ $rc -ne 0 ] && [ ! -e $tmp/b/rl/final ]" || tail -20 "$tmp/b.log"
check "the checkpoint is step $N's" "grep -q '\"step\": $N,' $tmp/b/rl/checkpoint/state.json" &&
    check "with one optimizer shard per rank" \
        "[ -f $tmp/b/rl/checkpoint/optimizer-0-of-2.bin ] && [ -f $tmp/b/rl/checkpoint/optimizer-1-of-2.bin ]"
for r in one three; do mkdir -p "$tmp/$r/rl" && cp -r "$tmp/b/rl/checkpoint" "$tmp/$r/rl/"; done

mpi 2 "$AHA" train --set run_dir="$tmp/b" "${train[@]}" --resume >"$tmp/resume.log" 2>&1
check "2-rank resume at step $N" "grep -q 'resuming from .* at step $N' $tmp/resume.log" ||
    tail -20 "$tmp/resume.log"
same=1
for f in model.safetensors optimizer-0-of-2.bin optimizer-1-of-2.bin; do
    cmp -s "$tmp/a/rl/final/$f" "$tmp/b/rl/final/$f" || { same=0; echo "differs: $f"; }
done
check "N + kill + resume + N steps: the same bytes as 2N uninterrupted steps" "[ $same = 1 ]"

# re-sharding: the 2-rank checkpoint resumed by a singleton and by 3 ranks
"$AHA" train --set run_dir="$tmp/one" "${train[@]}" --resume >"$tmp/one.log" 2>&1
mpi 3 "$AHA" train --set run_dir="$tmp/three" "${train[@]}" --resume >"$tmp/three.log" 2>&1
for r in one three; do
    check "$r: resumed from the 2-rank checkpoint, final weights within 1e-4 of the 2-rank run" \
        "/usr/bin/python3 $here/st_compare.py $tmp/a/rl/final/model.safetensors $tmp/$r/rl/final/model.safetensors 1e-4" ||
        tail -20 "$tmp/$r.log"
done
check "3 ranks wrote 3 optimizer shards" "[ -f $tmp/three/rl/final/optimizer-2-of-3.bin ]"

# and the other way: a singleton's step-N checkpoint (whole optimizer) resumed by 2 ranks
"$AHA" train --set run_dir="$tmp/single" "${train[@]}" >"$tmp/single.log" 2>&1
mkdir -p "$tmp/two_of_single/rl" && cp -r "$tmp/single/rl/checkpoint" "$tmp/two_of_single/rl/"
mpi 2 "$AHA" train --set run_dir="$tmp/two_of_single" "${train[@]}" --resume \
    >"$tmp/two_of_single.log" 2>&1
check "a singleton's checkpoint resumed on 2 ranks: final weights within 1e-4 of the singleton's" \
    "grep -q 'resuming from .* at step $N' $tmp/two_of_single.log && /usr/bin/python3 $here/st_compare.py $tmp/single/rl/final/model.safetensors $tmp/two_of_single/rl/final/model.safetensors 1e-4" ||
    tail -20 "$tmp/two_of_single.log"
exit $fail
